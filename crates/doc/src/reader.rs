//! Reading a photographed document end to end: find the MRZ band among the text lines the
//! detector finds (any scale, any rotation, mild perspective: each line is rectified on its
//! own), read it with the MRZ alphabet, parse and check it; or decode the PDF417 barcode of
//! a driver's licence; cross-check with the visual zone; find the portrait; report each
//! check, from which the policy gives the verdict and its reasons.
//!
//! Size (over 800 lines): one pipeline whose stages share private types (bands, candidate
//! reads, the visual zone); the verdict itself is `vouch_core::policy::document`'s. Its
//! unit tests are at the bottom.

use crate::geometry::RotRect;
use crate::mrz::{self, DocumentType, Mrz};
use crate::ocr::{Alphabet, Ocr, OcrConfig, TextBox};
use crate::{aamva, barcode, fastmrz, DocError};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::sync::Arc;
use std::time::Instant;
use vouch_face::{DecodeLimits, DetectConfig, EngineConfig, Face, FaceEngine, Rgb};

/// The document portrait search: printed portraits are small in a photo of the whole
/// page, so faces are looked for from 40 px (a selfie's search starts at 48).
const PORTRAIT_SEARCH: DetectConfig = DetectConfig {
    min_face: 40.0,
    thresholds: [0.6, 0.7, 0.7],
    scale_factor: 0.709,
    max_side: 960,
};

/// Reader settings.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// OCR settings.
    pub ocr: OcrConfig,
    /// OCR model sets in the pool.
    pub workers: usize,
    /// Decoding limits for uploaded images.
    pub decode: DecodeLimits,
    /// Mean character confidence below which a read goes to review.
    pub min_confidence: f32,
    /// Cross-check the MRZ with the visual zone.
    pub visual_zone: bool,
    /// Try the fast MRZ path (classical locator and character classifier) before the
    /// neural detector and recogniser.
    pub fast_mrz: bool,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            ocr: OcrConfig::default(),
            workers: 1,
            decode: DecodeLimits::default(),
            min_confidence: vouch_core::policy::DOCUMENT_MIN_OCR_CONFIDENCE,
            visual_zone: true,
            fast_mrz: true,
        }
    }
}

/// The verdict on a document: the one outcome type of the decision policy
/// (`vouch_core::policy`), which decides from the reader's checks.
pub use vouch_core::policy::Outcome as Verdict;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Passed.
    Pass,
    /// Failed.
    Fail,
    /// Could not be done (nothing to compare with).
    NotChecked,
}

/// One named check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `readable`, `checkDigits`, `structure`, `expiry`, `issuer`, `barcode`,
    /// `visualZone`.
    pub name: &'static str,
    /// What it found.
    pub outcome: Outcome,
    /// Why, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where the document's portrait is.
#[derive(Debug, Clone, Serialize)]
pub struct Portrait {
    /// `[x, y, width, height]` in pixels of the front image.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    /// Detector confidence.
    pub score: f32,
    /// The face, for the face engine (embedding, comparison).
    #[serde(skip)]
    pub face: Face,
}

/// How the visual zone compared with the machine-read data.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VisualZone {
    /// Text lines read outside the MRZ / barcode.
    pub lines: usize,
    /// The surname was found printed.
    pub surname: Outcome,
    /// The date of birth was found printed (in any usual format).
    pub date_of_birth: Outcome,
}

impl VisualZone {
    /// The printed surname or date of birth was found.
    fn agrees(&self) -> bool {
        self.surname == Outcome::Pass || self.date_of_birth == Outcome::Pass
    }
}

/// The identity fields of a [`DocumentRead`] as they are named on the wire (and in the
/// labels of `../shared/eval/documents/expected.json`): what evaluations compare.
pub const IDENTITY_FIELDS: [&str; 11] = [
    "format",
    "documentCode",
    "issuingCountry",
    "documentNumber",
    "surname",
    "givenNames",
    "nationality",
    "dateOfBirth",
    "sex",
    "expiryDate",
    "personalNumber",
];

/// Everything read from a document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocumentRead {
    /// PASS, FAIL or REVIEW.
    pub result: Verdict,
    /// Machine codes for each problem: `DOCUMENT_EXPIRED`, `CHECK_DIGIT_FAILED`,
    /// `VISUAL_ZONE_MISMATCH`, `LOW_CONFIDENCE`, `UNKNOWN_ISSUER`, `MRZ_INCONSISTENT`,
    /// `BARCODE_INCOMPLETE`,
    /// `UNREADABLE`.
    pub reasons: Vec<&'static str>,
    /// TD1, TD2, TD3, MRV-A, MRV-B or AAMVA; absent when nothing was read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// PASSPORT, ID_CARD, DRIVERS_LICENSE, RESIDENCE_PERMIT, VISA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_type: Option<DocumentType>,
    /// The MRZ document code (P, I, ID, V…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_code: Option<String>,
    /// Issuing state or organisation (ICAO code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuing_country: Option<String>,
    /// Document number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_number: Option<String>,
    /// Surname(s).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// Given name(s), space separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_names: Option<String>,
    /// Nationality (ICAO code).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Date of birth, YYYY-MM-DD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_of_birth: Option<NaiveDate>,
    /// M, F or X.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// Expiry date, YYYY-MM-DD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiry_date: Option<NaiveDate>,
    /// TD3 personal number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<String>,
    /// Optional data (TD1, TD2, visas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional_data: Option<String>,
    /// Age in whole years on the day of reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u32>,
    /// Mean probability of the characters read (1.0 for a decoded barcode).
    pub ocr_confidence: f32,
    /// Each check.
    pub checks: Vec<Check>,
    /// The MRZ as read (after corrections), with the OCR confusions fixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mrz: Option<MrzRead>,
    /// The barcode's AAMVA record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode: Option<aamva::Aamva>,
    /// The visual-zone cross-check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visual_zone: Option<VisualZone>,
    /// The portrait on the document (front image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub portrait: Option<Portrait>,
    /// Milliseconds spent, by stage.
    pub timings: Timings,
}

/// The MRZ as read.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MrzRead {
    /// The lines after normalisation and corrections.
    pub lines: Vec<String>,
    /// Lines exactly as the OCR gave them.
    pub raw: Vec<String>,
    /// Corrections applied (each confirmed by the check digits).
    pub corrections: Vec<mrz::Correction>,
    /// Name letters the OCR dropped, restored from the visual zone ("BIANHI → BIANCHI").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub name_repairs: Vec<String>,
    /// Check digits, each with its outcome.
    pub check_digits: Vec<mrz::DigitCheck>,
    /// The MRZ band's corners in the front image (top-left, top-right, bottom-right,
    /// bottom-left in reading order).
    pub corners: [[f32; 2]; 4],
    /// Which reader settled it: `fast` (the classical locator and character
    /// classifier) or `neural` (text detector and recogniser).
    pub reader: &'static str,
}

/// Milliseconds by stage.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timings {
    /// Decoding the image(s).
    pub decode: f32,
    /// The fast MRZ path (locator and character classifier).
    pub fast_mrz: f32,
    /// Text detection.
    pub detect: f32,
    /// MRZ recognition and parsing (all attempts).
    pub mrz: f32,
    /// Barcode decoding.
    pub barcode: f32,
    /// Visual zone OCR.
    pub visual_zone: f32,
    /// Portrait detection.
    pub portrait: f32,
    /// Everything.
    pub total: f32,
}

/// The document reader: OCR models plus, optionally, the face engine for portraits.
pub struct DocReader {
    ocr: Ocr,
    face: Option<Arc<FaceEngine>>,
    config: ReaderConfig,
}

/// `VOUCH_DOC_DEBUG` set: the reader narrates its attempts on stderr (this prints what
/// it reads, personal data included: for a developer's own test images only).
fn debug() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("VOUCH_DOC_DEBUG").is_some())
}

fn ms(t: Instant) -> f32 {
    t.elapsed().as_secs_f32() * 1000.0
}

/// Pixels of recogniser input (at height 48) spent on the visual zone: about the cost of
/// one and a half MRZ lines.
const VIZ_WIDTH_BUDGET: f32 = 2000.0;

/// A candidate MRZ band: 2 or 3 parallel lines of about the same length.
struct Band {
    lines: Vec<RotRect>,
    score: f32,
}

impl DocReader {
    /// Loads the OCR models (from the face engine's models folder and runtime).
    pub fn load(
        engine: &EngineConfig,
        config: ReaderConfig,
        face: Option<Arc<FaceEngine>>,
    ) -> Result<DocReader, DocError> {
        let mut engine = engine.clone();
        // One request at a time gets both cores: detection dominates and parallelises.
        engine.intra_threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .min(4);
        let ocr = Ocr::load(&engine, config.ocr.clone(), config.workers)?;
        Ok(DocReader { ocr, face, config })
    }

    /// The OCR engine.
    pub fn ocr(&self) -> &Ocr {
        &self.ocr
    }

    /// Decodes an uploaded image with the configured limits.
    pub fn decode(&self, bytes: &[u8]) -> Result<Rgb, DocError> {
        vouch_face::decode(bytes, &self.config.decode).map_err(|e| DocError::Image(e.to_string()))
    }

    /// Reads a document from encoded images (front, and the back for a driver's licence).
    pub fn read_bytes(
        &self,
        front: &[u8],
        back: Option<&[u8]>,
        today: NaiveDate,
    ) -> Result<DocumentRead, DocError> {
        let t0 = Instant::now();
        let front = self.decode(front)?;
        let back = back.map(|b| self.decode(b)).transpose()?;
        let decode = ms(t0);
        let mut out = self.read(&front, back.as_ref(), today)?;
        out.timings.decode = decode;
        out.timings.total += decode;
        Ok(out)
    }

    /// Reads a document from decoded images.
    pub fn read(
        &self,
        front: &Rgb,
        back: Option<&Rgb>,
        today: NaiveDate,
    ) -> Result<DocumentRead, DocError> {
        let t0 = Instant::now();
        let mut timings = Timings::default();

        // The portrait needs only the front image: find it on one core while the OCR
        // works on the other.
        std::thread::scope(|s| {
            let portrait = s.spawn(|| {
                let t = Instant::now();
                (self.portrait(front), ms(t))
            });
            // The fast MRZ path first (a few milliseconds). When it does not settle and a
            // back image came (a driver's licence's), the barcode next: when it reads,
            // there is no MRZ to look for with the slower neural pipeline.
            let mut found = None;
            if self.config.fast_mrz {
                let t = Instant::now();
                found = self.fast_mrz(front, today);
                timings.fast_mrz = ms(t);
            }
            let decode_card = || {
                back.into_iter()
                    .chain(std::iter::once(front))
                    .filter_map(barcode::decode_pdf417)
                    .find_map(|code| aamva::parse(&code.text).ok())
            };
            let mut card = None;
            let mut card_tried = false;
            if back.is_some() && found.as_ref().is_none_or(|f| !f.settled()) {
                let t = Instant::now();
                card = decode_card();
                card_tried = true;
                timings.barcode = ms(t);
            }
            let unsettled =
                |f: &Option<Found>| card.is_none() && f.as_ref().is_none_or(|f| !f.settled());
            // The text lines: for the MRZ when the fast path did not settle it, and for
            // the visual zone.
            let boxes = if unsettled(&found) || self.config.visual_zone {
                let t = Instant::now();
                let boxes = self.ocr.detect(front, None)?;
                timings.detect = ms(t);
                boxes
            } else {
                Vec::new()
            };

            let t = Instant::now();
            if unsettled(&found) {
                if let Some(f2) = self.find_mrz(front, &boxes, today)? {
                    if found.as_ref().is_none_or(|f| f2.rank() > f.rank()) {
                        found = Some(f2);
                    }
                }
            }
            if unsettled(&found) {
                // Small or distant documents: look again, closer, where the MRZ may be.
                for region in regions(&boxes).iter().take(2) {
                    let t2 = Instant::now();
                    let more = self.zoom(front, region)?;
                    timings.detect += ms(t2);
                    if let Some(f2) = self.find_mrz(front, &more, today)? {
                        if found.as_ref().is_none_or(|f| f2.rank() > f.rank()) {
                            found = Some(f2);
                        }
                    }
                    if !unsettled(&found) {
                        break;
                    }
                }
            }
            if unsettled(&found)
                && (front.width.max(front.height) as usize) > self.config.ocr.det_side
            {
                // Nothing that looked like a line band: the whole photo at twice the size.
                let t2 = Instant::now();
                let more = self.ocr.detect(front, Some(self.config.ocr.det_side * 2))?;
                timings.detect += ms(t2);
                if let Some(f2) = self.find_mrz(front, &more, today)? {
                    if found.as_ref().is_none_or(|f| f2.rank() > f.rank()) {
                        found = Some(f2);
                    }
                }
            }
            timings.mrz = ms(t);

            if !card_tried && found.as_ref().is_none_or(|f| !f.mrz.valid()) {
                let t = Instant::now();
                card = decode_card();
                timings.barcode = ms(t);
            }

            // Visual zone and portrait use the front image and can run side by side.
            let mrz_rects: Vec<RotRect> =
                found.as_ref().map(|f| f.rects.clone()).unwrap_or_default();
            // What the visual zone should show: the surname, and a date (10 or 11
            // characters, but digits, dots and spaces are narrow: about 8 capitals wide).
            let surname_len = match (&found, &card) {
                (Some(f), _) if f.mrz.valid() || card.is_none() => f.mrz.surname.len(),
                (_, Some(c)) => c.surname.len(),
                _ => 8,
            };
            let lengths = [surname_len.max(2), 8];
            let t = Instant::now();
            let viz_lines = if self.config.visual_zone && (found.is_some() || card.is_some()) {
                self.visual_zone_text(front, &boxes, &mrz_rects, &lengths, VIZ_WIDTH_BUDGET)
            } else {
                Ok(Vec::new())
            };
            timings.visual_zone = ms(t);
            let (portrait, portrait_ms) = portrait
                .join()
                .unwrap_or_else(|_| (Err(DocError::Inference("portrait panicked".into())), 0.0));
            timings.portrait = portrait_ms;
            let portrait = portrait?;
            let viz_lines = viz_lines?;

            let mut out = match (found, card) {
                (Some(f), _) if f.mrz.valid() => from_mrz(f, today),
                (_, Some(card)) => from_card(card, today),
                (Some(f), None) => from_mrz(f, today),
                (None, None) => unreadable(),
            };
            let mut viz_lines = viz_lines;
            if self.config.visual_zone
                && out.mrz.is_some()
                && !mrz_rects.is_empty()
                && !compare_visual_zone(&viz_lines, &out).agrees()
            {
                let t = Instant::now();
                viz_lines.extend(self.visual_zone_closer(front, &mrz_rects, &lengths)?);
                timings.visual_zone += ms(t);
            }
            if self.config.visual_zone && out.mrz.is_some() {
                restore_dropped_letters(&viz_lines, &mut out);
            }
            if self.config.visual_zone && out.format.is_some() {
                let vz = compare_visual_zone(&viz_lines, &out);
                out.checks.push(Check {
                    name: "visualZone",
                    outcome: match (vz.surname, vz.date_of_birth) {
                        (Outcome::Pass, Outcome::Pass) => Outcome::Pass,
                        (Outcome::NotChecked, _) if vz.lines == 0 => Outcome::NotChecked,
                        (Outcome::Pass, _) | (_, Outcome::Pass) => Outcome::Pass,
                        _ => Outcome::Fail,
                    },
                    detail: Some(format!(
                        "surname {}, date of birth {} in {} printed lines",
                        word(vz.surname),
                        word(vz.date_of_birth),
                        vz.lines
                    )),
                });
                out.visual_zone = Some(vz);
            }
            out.portrait = portrait;
            out.timings = timings;
            out.timings.total = ms(t0);
            verdict(&mut out, self.config.min_confidence);
            Ok(out)
        })
    }

    /// Detects text again inside `region` (a rotated rectangle of the image), sampled so
    /// that its lines are about 40 pixels high; boxes come back in image coordinates.
    fn zoom(&self, img: &Rgb, region: &Region) -> Result<Vec<TextBox>, DocError> {
        let r = &region.rect;
        let mut scale = (40.0 / region.line_h.max(1.0)).clamp(0.5, 4.0);
        let cw = ((r.w * scale).round() as usize).clamp(32, 1600);
        scale = cw as f32 / r.w.max(1.0);
        let ch = ((r.h * scale).round() as usize).clamp(32, 640);
        self.detect_in(img, r, cw, ch)
    }

    /// Runs the detector on the part of `img` under `r`, sampled to `cw` × `ch` pixels,
    /// and maps the boxes back to `img`.
    fn detect_in(
        &self,
        img: &Rgb,
        r: &RotRect,
        cw: usize,
        ch: usize,
    ) -> Result<Vec<TextBox>, DocError> {
        let pix: Vec<u8> = crate::geometry::crop(img, r, cw, ch)
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect();
        let sub =
            Rgb::new(cw as u32, ch as u32, pix).map_err(|e| DocError::Image(e.to_string()))?;
        let boxes = self.ocr.detect(&sub, Some(cw.max(ch)))?;
        let (sx, sy) = (r.w / cw as f32, r.h / ch as f32);
        let (dx, dy) = r.dir();
        let (nx, ny) = r.down();
        let tl = r.corners()[0];
        Ok(boxes
            .into_iter()
            .map(|b| {
                let (u, v) = (b.rect.cx * sx, b.rect.cy * sy);
                TextBox {
                    rect: RotRect {
                        cx: tl.0 + dx * u + nx * v,
                        cy: tl.1 + dy * u + ny * v,
                        w: b.rect.w * sx,
                        h: b.rect.h * sy,
                        angle: crate::geometry::normalise_angle(r.angle + b.rect.angle),
                    },
                    score: b.score,
                }
            })
            .collect())
    }

    /// The fast path: the classical band locator and the character classifier
    /// ([`fastmrz`]); the best reading of up to three candidate bands, each read at its
    /// likely line lengths in both directions, stopping at the first settled one.
    fn fast_mrz(&self, img: &Rgb, today: NaiveDate) -> Option<Found> {
        let classifier = fastmrz::Classifier::embedded()?;
        let gray = fastmrz::Gray::of(img);
        let mut best: Option<Found> = None;
        // Shrunk to about 800 pixels first; small glyphs merge there, so then at twice
        // the resolution.
        let coarse = fastmrz::factor(&gray, fastmrz::WORK_SIDE);
        let fine = fastmrz::factor(&gray, fastmrz::WORK_SIDE * 2);
        let scales = if fine == coarse {
            vec![coarse]
        } else {
            vec![coarse, fine]
        };
        for f in scales {
            for band in fastmrz::locate_at(&gray, f).iter().take(3) {
                for (span, n, reverse) in fastmrz::readings(band) {
                    let Some((patches, rects)) =
                        fastmrz::band_patches(&gray, band, n, reverse, span)
                    else {
                        continue;
                    };
                    let texts = classifier.read(&patches, n);
                    if debug() {
                        eprintln!(
                            "fast: 1/{f} {span:?} {n} reverse={reverse} {:?}",
                            texts.iter().map(|t| &t.text).collect::<Vec<_>>()
                        );
                    }
                    self.try_parse(&texts, &rects, None, today, true, &mut best);
                    if best.as_ref().is_some_and(Found::settled) {
                        return best;
                    }
                }
            }
        }
        best
    }

    /// Finds, reads and parses the best MRZ among the detected lines.
    fn find_mrz(
        &self,
        img: &Rgb,
        boxes: &[TextBox],
        today: NaiveDate,
    ) -> Result<Option<Found>, DocError> {
        let bands = bands(boxes);
        if debug() {
            eprintln!("{} boxes, {} bands", boxes.len(), bands.len());
        }
        let mut best: Option<Found> = None;
        for band in bands.iter().take(3) {
            if let Some(f) = self.read_band(img, band, today)? {
                let done = f.settled();
                if best.as_ref().is_none_or(|b| f.rank() > b.rank()) {
                    best = Some(f);
                }
                if done {
                    break;
                }
            }
        }
        Ok(best)
    }

    /// Reads one band in the likelier orientation, and in the other if that fails.
    fn read_band(
        &self,
        img: &Rgb,
        band: &Band,
        today: NaiveDate,
    ) -> Result<Option<Found>, DocError> {
        let flips = self.ocr.upside_down(img, &band.lines)?;
        // The first MRZ line is mostly filler and fools the classifier; trust the
        // most decided line.
        let p = flips
            .iter()
            .copied()
            .max_by(|a, b| (a - 0.5).abs().total_cmp(&(b - 0.5).abs()))
            .unwrap_or(0.0);
        let first = p > 0.5;
        let mut best: Option<Found> = None;
        for flip in [first, !first] {
            let mut rects: Vec<RotRect> = band
                .lines
                .iter()
                .map(|r| if flip { r.flipped() } else { *r })
                .collect();
            // Top to bottom in the reading frame.
            let (nx, ny) = rects[0].down();
            rects.sort_by(|a, b| (a.cx * nx + a.cy * ny).total_cmp(&(b.cx * nx + b.cy * ny)));
            // MRZ lines share their left margin and their length: give every line the
            // band's full extent (the detector often stops at a run of fillers).
            let rects = span(&rects);
            let texts = self.ocr.recognize(img, &rects, Alphabet::Mrz)?;
            // Read the right way up, an MRZ shows its fillers; upside down they turn into
            // '>' and vanish from the MRZ alphabet.
            let fillers: usize = texts.iter().map(|t| t.text.matches('<').count()).sum();
            let longest = texts.iter().map(|t| t.text.len()).max().unwrap_or(0);
            let upright = fillers >= 4 && longest >= 20;
            if debug() {
                let full = self.ocr.recognize(img, &rects, Alphabet::Full)?;
                eprintln!(
                    "full: {:?}",
                    full.iter().map(|t| &t.text).collect::<Vec<_>>()
                );
                eprintln!(
                    "band flip={flip} p={p:.2} {:?}",
                    texts.iter().map(|t| &t.text).collect::<Vec<_>>()
                );
            }
            self.try_parse(&texts, &rects, None, today, false, &mut best);
            if upright && best.as_ref().is_none_or(|f| !f.settled()) {
                // Still short: stretch the lines to each format's length at the
                // character pitch seen, and read again.
                let pitch = pitch(&rects, &texts);
                let longest = texts.iter().map(|t| t.text.len()).max().unwrap_or(0);
                if let Some(pitch) = pitch {
                    for len in [44usize, 36, 30] {
                        if len + 2 <= longest || longest + 1 >= len && best.is_some() {
                            continue;
                        }
                        let stretched: Vec<RotRect> =
                            rects.iter().map(|r| stretch(r, len, pitch)).collect();
                        let texts = self.ocr.recognize(img, &stretched, Alphabet::Mrz)?;
                        if debug() {
                            eprintln!(
                                "  stretched {len}: {:?}",
                                texts.iter().map(|t| &t.text).collect::<Vec<_>>()
                            );
                        }
                        self.try_parse(&texts, &stretched, Some(len), today, false, &mut best);
                        if best.as_ref().is_some_and(Found::settled) {
                            break;
                        }
                    }
                }
            }
            if best.as_ref().is_some_and(Found::settled) || upright {
                break;
            }
        }
        Ok(best)
    }

    /// Parses the recognised lines of a band (all of them, and for three lines each
    /// pair), keeping the best reading in `best`. With `len`, lines are cut to it first.
    fn try_parse(
        &self,
        texts: &[crate::ocr::Text],
        rects: &[RotRect],
        len: Option<usize>,
        today: NaiveDate,
        fast: bool,
        best: &mut Option<Found>,
    ) {
        let n = texts.len();
        let mut windows: Vec<(usize, usize)> = vec![(0, n)];
        if n == 3 {
            windows.extend([(0, 2), (1, 3)]);
        }
        for (a, b) in windows {
            let lines: Vec<String> = texts[a..b]
                .iter()
                .map(|t| match len {
                    Some(l) => t.text.chars().take(l).collect(),
                    None => t.text.clone(),
                })
                .collect();
            let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
            if let Ok(m) = mrz::parse(&refs, today) {
                let conf = texts[a..b].iter().map(|t| t.confidence).sum::<f32>() / (b - a) as f32;
                let f = Found {
                    fast,
                    mrz: m,
                    raw: lines,
                    rects: rects[a..b].to_vec(),
                    confidence: conf,
                };
                if best.as_ref().is_none_or(|x| f.rank() > x.rank()) {
                    *best = Some(f);
                }
            }
        }
    }

    /// Reads the printed lines outside the MRZ band (short ones, near the MRZ's text
    /// height), for the cross-check.
    fn visual_zone_text(
        &self,
        img: &Rgb,
        boxes: &[TextBox],
        mrz: &[RotRect],
        lengths: &[usize],
        budget: f32,
    ) -> Result<Vec<String>, DocError> {
        let mrz_h = mrz.iter().map(|r| r.h).sum::<f32>() / mrz.len().max(1) as f32;
        let angle = mrz.first().map(|r| r.angle);

        let mut rects: Vec<RotRect> = boxes
            .iter()
            .map(|b| b.rect)
            // Not a piece of the MRZ itself.
            .filter(|r| !mrz.iter().any(|m| m.contains(r.cx, r.cy, 0.5 * m.h)))
            // Values, not labels or paragraphs: short lines printed about as large as the
            // MRZ (or, without an MRZ, any line of readable size).
            .filter(|r| r.w / r.h.max(1.0) < 16.0 && r.h >= 8.0)
            .filter(|r| mrz.is_empty() || (r.h > 0.6 * mrz_h && r.h < 1.8 * mrz_h))
            .map(|r| match angle {
                // Read in the MRZ's orientation (the whole page turns together).
                Some(a) if crate::geometry::normalise_angle(r.angle - a).abs() > 1.57 => {
                    r.flipped()
                }
                _ => r,
            })
            .collect();
        // The recogniser's cost grows with the total width it reads: read the lines
        // whose shape fits the text looked for (a surname or a date, ~0.7 of the height
        // per capital letter) first, within a budget.
        // Values are printed larger than their labels: taller lines first too.
        let ref_h = if mrz.is_empty() {
            rects.iter().map(|r| r.h).fold(1f32, f32::max)
        } else {
            mrz_h
        };
        let fit = |r: &RotRect| {
            let aspect = (r.w / r.h.max(1.0)).max(0.1);
            let shape = lengths
                .iter()
                .map(|&n| (aspect / (0.7 * n as f32 + 1.0)).ln().abs())
                .fold(f32::MAX, f32::min);
            shape - (r.h / ref_h).ln()
        };
        rects.sort_by(|a, b| fit(a).total_cmp(&fit(b)));
        let mut budget = budget;
        rects.retain(|r| {
            let w = 48.0 * r.w / r.h.max(1.0);
            let keep = budget > 0.0;
            budget -= w;
            keep
        });
        // Batches of similar width keep padding small.
        rects.sort_by(|a, b| (a.w / a.h).total_cmp(&(b.w / b.h)));
        let mut out = Vec::new();
        for chunk in rects.chunks(8) {
            for t in self.ocr.recognize(img, chunk, Alphabet::Full)? {
                if debug() {
                    eprintln!("visual zone: {:.2} {}", t.confidence, t.text);
                }
                if t.confidence > 0.5 && !t.text.trim().is_empty() {
                    out.push(t.text);
                }
            }
        }
        Ok(out)
    }

    /// A second look at the visual zone, when the first pass found neither the surname
    /// nor the date of birth: on a small or distant document the whole-photo detection
    /// misses or merges its small printed lines. The page above the MRZ (where TD3, TD2
    /// and visa pages print their data) is detected again at about 20 pixels a line,
    /// then read as in the first pass with twice its budget. Costs one detection of at
    /// most 1024 pixels a side and ~0.2 s of reading, only for documents that would
    /// otherwise go to review.
    fn visual_zone_closer(
        &self,
        img: &Rgb,
        mrz: &[RotRect],
        lengths: &[usize],
    ) -> Result<Vec<String>, DocError> {
        let Some(first) = mrz.iter().max_by(|a, b| a.w.total_cmp(&b.w)) else {
            return Ok(Vec::new());
        };
        let line_h = mrz.iter().map(|r| r.h).sum::<f32>() / mrz.len() as f32;
        let (nx, ny) = first.down();
        // The band's top edge, across the reading direction.
        let top = mrz
            .iter()
            .map(|r| r.cx * nx + r.cy * ny - r.h / 2.0)
            .fold(f32::MAX, f32::min);
        let (w, h) = (first.w * 1.1, first.w * 0.7);
        let across = first.cx * nx + first.cy * ny;
        // Move the widest line's centre up to the middle of the region above the band.
        let shift = (across - top) + h / 2.0;
        let rect = RotRect {
            cx: first.cx - nx * shift,
            cy: first.cy - ny * shift,
            w,
            h,
            angle: first.angle,
        };
        let scale = (20.0 / line_h.max(1.0))
            .min(1024.0 / w.max(h).max(1.0))
            .clamp(0.25, 4.0);
        let (cw, ch) = (
            ((w * scale).round() as usize).max(32),
            ((h * scale).round() as usize).max(32),
        );
        let boxes = self.detect_in(img, &rect, cw, ch)?;
        if debug() {
            eprintln!(
                "visual zone: closer look, {} boxes at {cw}x{ch}",
                boxes.len()
            );
        }
        // The closer look finds every small label too: a larger reading budget.
        self.visual_zone_text(img, &boxes, mrz, lengths, 2.0 * VIZ_WIDTH_BUDGET)
    }

    /// The largest face on the front image. Portraits are large enough to find on a
    /// copy at most 640 pixels a side, four times cheaper than the full photo; the box
    /// and landmarks are mapped back to full resolution.
    fn portrait(&self, img: &Rgb) -> Result<Option<Portrait>, DocError> {
        let Some(engine) = &self.face else {
            return Ok(None);
        };
        const SIDE: f32 = 640.0;
        let scale = (SIDE / img.width.max(img.height) as f32).min(1.0);
        let small;
        let view = if scale < 1.0 {
            let (w, h) = (
                ((img.width as f32 * scale).round() as usize).max(1),
                ((img.height as f32 * scale).round() as usize).max(1),
            );
            let whole = RotRect {
                cx: img.width as f32 / 2.0,
                cy: img.height as f32 / 2.0,
                w: img.width as f32,
                h: img.height as f32,
                angle: 0.0,
            };
            let pix = crate::geometry::crop(img, &whole, w, h)
                .iter()
                .map(|v| v.round().clamp(0.0, 255.0) as u8)
                .collect();
            small =
                Rgb::new(w as u32, h as u32, pix).map_err(|e| DocError::Image(e.to_string()))?;
            &small
        } else {
            img
        };
        let (sx, sy) = (
            img.width as f32 / view.width as f32,
            img.height as f32 / view.height as f32,
        );
        // The detector wants faces upright: a document photographed upside down or
        // sideways is turned until its portrait shows.
        let mut best = None;
        for turn in [Turn::None, Turn::Half, Turn::Cw, Turn::Ccw] {
            let turned;
            let img = if turn == Turn::None {
                view
            } else {
                turned = turn.apply(view);
                &turned
            };
            let faces = engine
                .detect_with(img, &PORTRAIT_SEARCH)
                .map_err(|e| DocError::Inference(e.to_string()))?;
            if let Some(f) = faces
                .into_iter()
                .max_by(|a, b| (a.width() * a.height()).total_cmp(&(b.width() * b.height())))
            {
                best = Some(turn.undo_face(f, view));
                break;
            }
        }
        Ok(best.map(|mut f: Face| {
            f.bbox = [
                f.bbox[0] * sx,
                f.bbox[1] * sy,
                f.bbox[2] * sx,
                f.bbox[3] * sy,
            ];
            for l in &mut f.landmarks {
                l[0] *= sx;
                l[1] *= sy;
            }
            Portrait {
                bbox: [f.bbox[0], f.bbox[1], f.width(), f.height()],
                score: f.score,
                face: f,
            }
        }))
    }
}

/// A quarter turn of a whole image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    None,
    Half,
    Cw,
    Ccw,
}

impl Turn {
    /// The image turned.
    fn apply(self, img: &Rgb) -> Rgb {
        let (w, h) = (img.width as usize, img.height as usize);
        let (dw, dh) = match self {
            Turn::None | Turn::Half => (w, h),
            Turn::Cw | Turn::Ccw => (h, w),
        };
        let mut data = vec![0u8; w * h * 3];
        for y in 0..dh {
            for x in 0..dw {
                let (sx, sy) = self.source(x as f32, y as f32, w as f32, h as f32);
                let s = (sy as usize * w + sx as usize) * 3;
                let d = (y * dw + x) * 3;
                data[d..d + 3].copy_from_slice(&img.data[s..s + 3]);
            }
        }
        Rgb {
            width: dw as u32,
            height: dh as u32,
            data,
        }
    }

    /// Where a pixel of the turned image comes from in the original (`w × h`).
    fn source(self, x: f32, y: f32, w: f32, h: f32) -> (f32, f32) {
        match self {
            Turn::None => (x, y),
            Turn::Half => (w - 1.0 - x, h - 1.0 - y),
            Turn::Cw => (y, h - 1.0 - x),
            Turn::Ccw => (w - 1.0 - y, x),
        }
    }

    /// A face found on the turned image, in the original's coordinates.
    fn undo_face(self, mut f: Face, original: &Rgb) -> Face {
        let (w, h) = (original.width as f32, original.height as f32);
        let corners = [
            self.source(f.bbox[0], f.bbox[1], w, h),
            self.source(f.bbox[2], f.bbox[3], w, h),
        ];
        f.bbox = [
            corners[0].0.min(corners[1].0),
            corners[0].1.min(corners[1].1),
            corners[0].0.max(corners[1].0),
            corners[0].1.max(corners[1].1),
        ];
        for l in &mut f.landmarks {
            let (x, y) = self.source(l[0], l[1], w, h);
            *l = [x, y];
        }
        f
    }
}

/// A parsed MRZ and where it came from.
struct Found {
    /// Read by the fast path.
    fast: bool,
    mrz: Mrz,
    raw: Vec<String>,
    rects: Vec<RotRect>,
    confidence: f32,
}

impl Found {
    fn known_codes(&self) -> bool {
        mrz::is_known_code(&self.mrz.issuing_country) && mrz::is_known_code(&self.mrz.nationality)
    }

    /// Problems no check digit sees (an impossible date, a document code that does not
    /// belong to the format, a letter among digits); unknown country codes excepted.
    fn serious_problems(&self) -> usize {
        self.mrz
            .problems
            .iter()
            .filter(|p| !matches!(p, mrz::Problem::UnknownCountryCode { .. }))
            .count()
    }

    /// Best reading first: every check digit valid, nothing inconsistent, real issuer and
    /// nationality codes, fewest corrections (each repair the parser makes is a chance of
    /// a coincidental match; a line padded with fillers was read short), most valid check
    /// digits, highest confidence.
    fn rank(&self) -> (bool, bool, bool, i32, usize, i32) {
        let valid = self.mrz.checks.iter().filter(|c| c.valid).count();
        (
            self.mrz.valid(),
            self.serious_problems() == 0,
            self.known_codes(),
            -(self.mrz.corrections.len() as i32),
            valid,
            (self.confidence * 1000.0) as i32,
        )
    }

    /// Good enough to stop looking: valid, consistent, at most two confusions settled
    /// and at most two fillers added or removed (a name letter the OCR dropped costs one
    /// filler; more means a line read short, an MRV-A taken for an MRV-B say). An unknown
    /// country code alone does not send the reader on: specimens carry ICAO's Utopia, and
    /// the verdict flags it anyway.
    fn settled(&self) -> bool {
        use mrz::CorrectionKind::Confusion;
        let c = &self.mrz.corrections;
        let confusions = c.iter().filter(|c| c.kind == Confusion).count();
        self.mrz.valid()
            && self.serious_problems() == 0
            && confusions <= 2
            && c.len() - confusions <= 2
    }
}

/// A part of the photo worth a closer look: a band of long lines, or one long line.
struct Region {
    rect: RotRect,
    line_h: f32,
}

/// Regions around the longest lines (and bands of them) of a coarse detection, with room
/// around them for lines the coarse pass cut short or missed.
fn regions(boxes: &[TextBox]) -> Vec<Region> {
    let mut long: Vec<RotRect> = boxes
        .iter()
        .map(|b| b.rect)
        .filter(|r| r.w / r.h.max(1.0) >= 6.0 && r.w >= 40.0)
        .collect();
    long.sort_by(|a, b| b.w.total_cmp(&a.w));
    let mut out: Vec<Region> = Vec::new();
    for band in bands(boxes)
        .into_iter()
        .map(|b| b.lines)
        .chain(long.into_iter().map(|r| vec![r]))
    {
        let spanned = span(&band);
        let Some(first) = spanned.first() else {
            continue;
        };
        let d = first.dir();
        let across: Vec<f32> = spanned.iter().map(|r| extent(r, d).2).collect();
        let lo = across.iter().copied().fold(f32::MAX, f32::min);
        let hi = across.iter().copied().fold(f32::MIN, f32::max);
        let line_h = spanned.iter().map(|r| r.h).sum::<f32>() / spanned.len() as f32;
        let mid = (lo + hi) / 2.0;
        let along = first.cx * d.0 + first.cy * d.1;
        let rect = RotRect {
            cx: d.0 * along - d.1 * mid,
            cy: d.1 * along + d.0 * mid,
            w: first.w * 1.6 + 2.0 * line_h,
            h: (hi - lo) + 4.0 * line_h,
            angle: first.angle,
        };
        // Skip regions mostly inside one already taken.
        if out.iter().any(|o| {
            let dd = ((o.rect.cx - rect.cx).powi(2) + (o.rect.cy - rect.cy).powi(2)).sqrt();
            dd < o.rect.h / 2.0 && o.rect.w >= rect.w
        }) {
            continue;
        }
        out.push(Region { rect, line_h });
    }
    out
}

/// Where a rectangle starts and ends along direction `d`, and where it sits across it.
fn extent(r: &RotRect, d: (f32, f32)) -> (f32, f32, f32) {
    let c = r.cx * d.0 + r.cy * d.1;
    let across = -r.cx * d.1 + r.cy * d.0;
    (c - r.w / 2.0, c + r.w / 2.0, across)
}

/// The lines of a band, each stretched to the band's whole extent along the reading
/// direction of its longest line.
fn span(rects: &[RotRect]) -> Vec<RotRect> {
    // The longest line sets the direction: a short box's angle is unreliable.
    let Some(first) = rects.iter().max_by(|a, b| a.w.total_cmp(&b.w)) else {
        return Vec::new();
    };
    let d = first.dir();
    let (mut lo, mut hi) = (f32::MAX, f32::MIN);
    for r in rects {
        let (a, b, _) = extent(r, d);
        lo = lo.min(a);
        hi = hi.max(b);
    }
    // Detector boxes are generous across the line; MRZ lines are close together, so a
    // crop must not reach into its neighbours.
    let mut gaps: Vec<f32> = rects
        .windows(2)
        .map(|w| (extent(&w[1], d).2 - extent(&w[0], d).2).abs())
        .collect();
    gaps.sort_by(f32::total_cmp);
    let max_h = gaps.first().map_or(f32::MAX, |g| g * 0.95);
    // A little room at both ends: the detector tends to clip the first and last
    // characters, and blank paper reads as nothing.
    let line_h = rects.iter().map(|r| r.h).fold(0f32, f32::max).min(max_h);
    let (lo, hi) = (lo - 0.8 * line_h, hi + 0.8 * line_h);
    rects
        .iter()
        .map(|r| {
            let (_, _, across) = extent(r, d);
            let mid = (lo + hi) / 2.0;
            RotRect {
                cx: d.0 * mid - d.1 * across,
                cy: d.1 * mid + d.0 * across,
                w: hi - lo,
                h: r.h.min(max_h),
                angle: first.angle,
            }
        })
        .collect()
}

/// Median character pitch of the recognised lines (pixels per character).
fn pitch(rects: &[RotRect], texts: &[crate::ocr::Text]) -> Option<f32> {
    let mut p: Vec<f32> = rects
        .iter()
        .zip(texts)
        .filter(|(_, t)| t.text.len() >= 8)
        .map(|(r, t)| r.w / t.text.len() as f32)
        .collect();
    p.sort_by(f32::total_cmp);
    p.get(p.len() / 2).copied()
}

/// A line stretched from its left end to hold `len` characters at `pitch`.
fn stretch(r: &RotRect, len: usize, pitch: f32) -> RotRect {
    let w = (len as f32 + 0.6) * pitch;
    if w <= r.w {
        return *r;
    }
    let (dx, dy) = r.dir();
    let grow = (w - r.w) / 2.0;
    RotRect {
        cx: r.cx + dx * grow,
        cy: r.cy + dy * grow,
        w,
        ..*r
    }
}

/// Groups parallel, evenly spaced lines of similar height that share a margin (at least
/// one of them long) into candidate MRZ bands, best (longest, most lines) first.
fn bands(boxes: &[TextBox]) -> Vec<Band> {
    let cand: Vec<RotRect> = boxes
        .iter()
        .map(|b| b.rect)
        .filter(|r| r.w / r.h.max(1.0) >= 1.5)
        .collect();
    let long = |r: &RotRect| r.w / r.h.max(1.0) >= 8.0 && r.w >= 60.0;
    // The signed distance from a to b across the lines, if b could be a's neighbour
    // in an MRZ.
    let fits = |a: &RotRect, b: &RotRect| -> Option<f32> {
        let da = crate::geometry::normalise_angle(2.0 * (a.angle - b.angle)).abs() / 2.0;
        if da > 0.1 {
            return None;
        }
        let hr = a.h / b.h;
        if !(0.6..=1.67).contains(&hr) {
            return None;
        }
        let d = a.dir();
        let (a0, a1, aa) = extent(a, d);
        let (b0, b1, ba) = extent(b, d);
        let h = (a.h + b.h) / 2.0;
        let across = ba - aa;
        if across.abs() < 0.4 * h || across.abs() > 3.0 * h {
            return None;
        }
        // Same left margin (or right margin, for a page upside down).
        let margin = 1.5 * h;
        if (a0 - b0).abs() > margin && (a1 - b1).abs() > margin {
            return None;
        }
        Some(across)
    };
    let mut out: Vec<Band> = Vec::new();
    for (i, a) in cand.iter().enumerate() {
        if !long(a) {
            continue;
        }
        let mut lines = vec![(0f32, i)];
        // Neighbours on both sides, nearest first, up to three lines in all.
        for side in [1f32, -1.0] {
            let mut cur = *a;
            let mut offset = 0f32;
            while lines.len() < 3 {
                let next = cand
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| !lines.iter().any(|(_, k)| k == j))
                    .filter_map(|(j, b)| fits(&cur, b).filter(|&d| d * side > 0.0).map(|d| (j, d)))
                    .min_by(|x, y| x.1.abs().total_cmp(&y.1.abs()));
                match next {
                    Some((j, d)) => {
                        offset += d;
                        lines.push((offset, j));
                        cur = cand[j];
                    }
                    None => break,
                }
            }
        }
        if lines.len() >= 2 {
            lines.sort_by(|x, y| x.0.total_cmp(&y.0));
            let rects: Vec<RotRect> = lines.iter().map(|(_, j)| cand[*j]).collect();
            let score = rects.iter().map(|r| r.w).fold(0f32, f32::max) * rects.len() as f32;
            out.push(Band {
                lines: rects,
                score,
            });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Band> = Vec::new();
    for b in out {
        let dup = kept.iter().any(|k| {
            b.lines
                .iter()
                .all(|l| k.lines.iter().any(|m| m.cx == l.cx && m.cy == l.cy))
        });
        if !dup {
            kept.push(b);
        }
    }
    kept
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

fn age_on(dob: NaiveDate, today: NaiveDate) -> Option<u32> {
    let mut years = today.year() - dob.year();
    if (today.month(), today.day()) < (dob.month(), dob.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

fn blank() -> DocumentRead {
    DocumentRead {
        result: Verdict::Fail,
        reasons: Vec::new(),
        format: None,
        document_type: None,
        document_code: None,
        issuing_country: None,
        document_number: None,
        surname: None,
        given_names: None,
        nationality: None,
        date_of_birth: None,
        sex: None,
        expiry_date: None,
        personal_number: None,
        optional_data: None,
        age: None,
        ocr_confidence: 0.0,
        checks: Vec::new(),
        mrz: None,
        barcode: None,
        visual_zone: None,
        portrait: None,
        timings: Timings::default(),
    }
}

fn unreadable() -> DocumentRead {
    let mut out = blank();
    out.checks.push(Check {
        name: "readable",
        outcome: Outcome::Fail,
        detail: Some("no machine readable zone or PDF417 barcode could be read".into()),
    });
    out
}

fn expiry_check(expiry: Option<NaiveDate>, today: NaiveDate) -> Check {
    match expiry {
        Some(d) if d >= today => Check {
            name: "expiry",
            outcome: Outcome::Pass,
            detail: None,
        },
        Some(d) => Check {
            name: "expiry",
            outcome: Outcome::Fail,
            detail: Some(format!("expired on {d}")),
        },
        None => Check {
            name: "expiry",
            outcome: Outcome::Fail,
            detail: Some("no valid expiry date".into()),
        },
    }
}

fn from_mrz(f: Found, today: NaiveDate) -> DocumentRead {
    let m = f.mrz;
    let mut out = blank();
    out.format = Some(m.format.as_str().to_string());
    out.document_type = Some(m.document_type);
    out.document_code = some(&m.document_code);
    out.issuing_country = some(&m.issuing_country);
    out.document_number = some(&m.document_number);
    out.surname = some(&m.surname);
    out.given_names = Some(m.given_names.clone());
    out.nationality = some(&m.nationality);
    out.date_of_birth = m.date_of_birth;
    out.sex = some(&m.sex);
    out.expiry_date = m.expiry_date;
    out.personal_number = m.personal_number.clone();
    out.optional_data = m.optional_data.clone();
    out.age = m.date_of_birth.and_then(|d| age_on(d, today));
    out.ocr_confidence = f.confidence;
    let failed: Vec<String> = m
        .checks
        .iter()
        .filter(|c| !c.valid)
        .map(|c| {
            serde_json::to_value(c.field)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    out.checks.push(Check {
        name: "checkDigits",
        outcome: if failed.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail: (!failed.is_empty()).then(|| format!("failed: {}", failed.join(", "))),
    });
    let problems: Vec<String> = m
        .problems
        .iter()
        .filter(|p| !matches!(p, mrz::Problem::UnknownCountryCode { .. }))
        .map(|p| {
            serde_json::to_value(p)
                .ok()
                .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(str::to_string))
                .unwrap_or_default()
        })
        .collect();
    out.checks.push(Check {
        name: "structure",
        outcome: if problems.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail: (!problems.is_empty()).then(|| problems.join(", ")),
    });
    out.checks.push(expiry_check(m.expiry_date, today));
    let known = mrz::is_known_code(&m.issuing_country) && mrz::is_known_code(&m.nationality);
    out.checks.push(Check {
        name: "issuer",
        outcome: if known { Outcome::Pass } else { Outcome::Fail },
        detail: (!known).then(|| {
            format!(
                "unknown issuer or nationality code ({} / {})",
                m.issuing_country, m.nationality
            )
        }),
    });
    let c = f.rects.iter().fold(None::<[f32; 4]>, |acc, r| {
        let b = r.bounds();
        Some(match acc {
            None => b,
            Some(a) => [
                a[0].min(b[0]),
                a[1].min(b[1]),
                a[2].max(b[2]),
                a[3].max(b[3]),
            ],
        })
    });
    let corners = match (f.rects.first(), f.rects.last()) {
        (Some(a), Some(b)) => {
            let (ca, cb) = (a.corners(), b.corners());
            [ca[0], ca[1], cb[2], cb[3]].map(|p| [p.0, p.1])
        }
        _ => {
            let b = c.unwrap_or_default();
            [[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]]]
        }
    };
    out.mrz = Some(MrzRead {
        lines: m.lines.clone(),
        raw: f.raw,
        corrections: m.corrections.clone(),
        name_repairs: Vec::new(),
        check_digits: m.checks.clone(),
        corners,
        reader: if f.fast { "fast" } else { "neural" },
    });
    out
}

fn from_card(card: aamva::Aamva, today: NaiveDate) -> DocumentRead {
    let mut out = blank();
    out.format = Some("AAMVA".into());
    out.document_type = Some(DocumentType::DriversLicense);
    out.issuing_country = some(&card.country);
    out.document_number = some(&card.document_number);
    out.surname = some(&card.surname);
    out.given_names = Some(card.given_names.clone());
    out.date_of_birth = card.date_of_birth;
    out.sex = some(&card.sex);
    out.expiry_date = card.expiry_date;
    out.age = card.date_of_birth.and_then(|d| age_on(d, today));
    out.ocr_confidence = 1.0;
    out.checks.push(Check {
        name: "barcode",
        outcome: if card.problems.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Fail
        },
        detail: (!card.problems.is_empty()).then(|| card.problems.join("; ")),
    });
    out.checks.push(expiry_check(card.expiry_date, today));
    out.barcode = Some(card);
    out
}

fn word(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "found",
        Outcome::Fail => "not found",
        Outcome::NotChecked => "not checked",
    }
}

/// Letters and digits only, uppercase (so "Eriksson," and "ERIKSSON" compare equal).
fn squash(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Whether `needle` occurs in `hay` with at most `k` edits (a letter misread, dropped
/// or doubled): the smallest edit distance of `needle` to any substring of `hay`.
fn fuzzy_contains(hay: &[char], needle: &[char], k: usize) -> bool {
    if needle.is_empty() {
        return false;
    }
    // prev[j]: distance of needle[..i] to the best substring ending at hay[j - 1].
    let mut prev = vec![0usize; hay.len() + 1];
    let mut cur = vec![0usize; hay.len() + 1];
    for (i, &nc) in needle.iter().enumerate() {
        cur[0] = i + 1;
        for j in 1..=hay.len() {
            let sub = prev[j - 1] + usize::from(hay[j - 1] != nc);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev.iter().any(|&d| d <= k)
}

const MONTHS: [&str; 12] = [
    "JANUARY",
    "FEBRUARY",
    "MARCH",
    "APRIL",
    "MAY",
    "JUNE",
    "JULY",
    "AUGUST",
    "SEPTEMBER",
    "OCTOBER",
    "NOVEMBER",
    "DECEMBER",
];

/// The ways a date is printed in visual zones, squashed like [`squash`]: numeric in
/// day-month-year, month-day-year and year-month-day order, and with the month as a word
/// (three letters or in full) and a two- or four-digit year.
fn date_forms(d: NaiveDate) -> Vec<String> {
    let (y, m, day) = (d.year(), d.month(), d.day());
    let full = MONTHS[(m as usize).saturating_sub(1).min(11)];
    let short = &full[..3];
    let yy = y % 100;
    let mut out = vec![
        format!("{day:02}{m:02}{y}"),
        format!("{m:02}{day:02}{y}"),
        format!("{y}{m:02}{day:02}"),
        format!("{day:02}{m:02}{yy:02}"),
    ];
    for mon in [short, full] {
        out.push(format!("{day:02}{mon}{y}"));
        out.push(format!("{day:02}{mon}{yy:02}"));
        out.push(format!("{day}{mon}{y}"));
    }
    out
}

/// Names carry no check digit, and the recogniser sometimes drops one letter of a
/// widely spaced OCR-B name (BIANCHI read BIANHI). Where the visual zone prints a word,
/// plain A–Z, that is the MRZ's name part with exactly one letter more — and no word
/// equal to the part itself — the printed word is taken, and the repair is listed in
/// `mrz.nameRepairs`. Names printed with accents or in another script never match (the
/// MRZ transliterates them), so they are left alone.
fn restore_dropped_letters(lines: &[String], out: &mut DocumentRead) {
    let words: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            l.split(|c: char| !c.is_alphanumeric())
                .filter(|w| w.len() >= 3 && w.chars().all(|c| c.is_ascii_alphabetic()))
                .map(|w| w.to_ascii_uppercase())
                .collect::<Vec<_>>()
        })
        .collect();
    let one_more = |part: &str, word: &str| {
        word.len() == part.len() + 1
            && (0..word.len()).any(|i| word[..i].to_string() + &word[i + 1..] == part)
    };
    let mut repairs = Vec::new();
    let mut fix = |name: &mut Option<String>| {
        let Some(n) = name.as_mut() else { return };
        let parts: Vec<String> = n
            .split(' ')
            .map(|part| {
                if part.len() < 2 || words.iter().any(|w| w == part) {
                    return part.to_string();
                }
                let mut found: Vec<&String> = words.iter().filter(|w| one_more(part, w)).collect();
                found.sort();
                found.dedup();
                match found.as_slice() {
                    [w] => {
                        repairs.push(format!("{part} → {w}"));
                        (*w).clone()
                    }
                    _ => part.to_string(),
                }
            })
            .collect();
        *n = parts.join(" ");
    };
    fix(&mut out.surname);
    fix(&mut out.given_names);
    if let Some(m) = out.mrz.as_mut() {
        m.name_repairs = repairs;
    }
}

/// Drops the second-language half of bilingual words ("AUG/AOÛT" → "AUG"): a `/`
/// followed by letters is skipped up to the next space or digit.
fn first_language(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut skipping = false;
    for c in line.chars() {
        if c == '/' {
            skipping = true;
            continue;
        }
        if skipping && (c.is_whitespace() || c.is_ascii_digit()) {
            skipping = false;
        }
        if !skipping {
            out.push(c);
        }
    }
    out
}

fn compare_visual_zone(lines: &[String], out: &DocumentRead) -> VisualZone {
    let text: String = lines.iter().map(|l| squash(l)).collect();
    let chars: Vec<char> = text.chars().collect();
    let surname = match out.surname.as_deref().map(squash) {
        Some(s) if !lines.is_empty() && s.len() >= 2 => {
            let s: Vec<char> = s.chars().collect();
            // One misread letter is forgiven in names of six letters or more.
            let k = usize::from(s.len() >= 6);
            if fuzzy_contains(&chars, &s, k) {
                Outcome::Pass
            } else {
                Outcome::Fail
            }
        }
        _ => Outcome::NotChecked,
    };
    let date_of_birth = match out.date_of_birth {
        Some(d) if !lines.is_empty() => {
            let plain: String = lines.iter().map(|l| squash(&first_language(l))).collect();
            if date_forms(d)
                .iter()
                .any(|f| text.contains(f.as_str()) || plain.contains(f.as_str()))
            {
                Outcome::Pass
            } else {
                Outcome::Fail
            }
        }
        _ => Outcome::NotChecked,
    };
    VisualZone {
        lines: lines.len(),
        surname,
        date_of_birth,
    }
}

/// Sets the result and reasons: the reader reports which checks failed and its OCR
/// confidence; the policy (`vouch_core::policy::document`) decides.
fn verdict(out: &mut DocumentRead, min_confidence: f32) {
    let failed: Vec<&str> = out
        .checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.name)
        .collect();
    let confidence = out.format.is_some().then_some(out.ocr_confidence);
    (out.result, out.reasons) = vouch_core::policy::document(&failed, confidence, min_confidence);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_with(surname: &str, dob: (i32, u32, u32)) -> DocumentRead {
        let mut out = blank();
        out.format = Some("TD3".into());
        out.surname = Some(surname.into());
        out.date_of_birth = NaiveDate::from_ymd_opt(dob.0, dob.1, dob.2);
        out
    }

    #[test]
    fn the_visual_zone_matches_in_any_usual_date_form() {
        let out = read_with("ERIKSSON", (1974, 8, 12));
        for lines in [
            vec!["Surname/Nom", "ERIKSSON", "12 AUG/AOÛT 74"],
            vec!["Eriksson,", "12.08.1974"],
            vec!["ERIKSON", "08/12/1974"], // one letter misread in a long name
            vec!["ERIKSSON", "12 AUGUST 1974"],
        ] {
            let lines: Vec<String> = lines.into_iter().map(String::from).collect();
            let vz = compare_visual_zone(&lines, &out);
            assert_eq!(
                (vz.surname, vz.date_of_birth),
                (Outcome::Pass, Outcome::Pass),
                "{lines:?}"
            );
        }
    }

    #[test]
    fn a_different_printed_name_or_date_is_a_mismatch() {
        let out = read_with("ERIKSSON", (1974, 8, 12));
        let lines: Vec<String> = ["JOHANSSON", "12 AUG 1975", "PASSPORT"]
            .into_iter()
            .map(String::from)
            .collect();
        let vz = compare_visual_zone(&lines, &out);
        assert_eq!(
            (vz.surname, vz.date_of_birth),
            (Outcome::Fail, Outcome::Fail)
        );
        // Short names must match exactly.
        let out = read_with("LI", (1990, 1, 2));
        let lines = vec!["LU".to_string(), "02.01.1990".to_string()];
        assert_eq!(compare_visual_zone(&lines, &out).surname, Outcome::Fail);
    }

    #[test]
    fn a_dropped_name_letter_is_restored_from_the_visual_zone_only_when_unambiguous() {
        let lines: Vec<String> = ["Surname/Nom", "BIANCHI", "Given names", "ANNA MARIA"]
            .into_iter()
            .map(String::from)
            .collect();
        let mut out = read_with("BIANHI", (1943, 12, 21));
        out.given_names = Some("ANN MARIA".into());
        out.mrz = Some(MrzRead {
            lines: Vec::new(),
            raw: Vec::new(),
            corrections: Vec::new(),
            name_repairs: Vec::new(),
            check_digits: Vec::new(),
            corners: [[0.0; 2]; 4],
            reader: "neural",
        });
        restore_dropped_letters(&lines, &mut out);
        assert_eq!(out.surname.as_deref(), Some("BIANCHI"));
        assert_eq!(out.given_names.as_deref(), Some("ANNA MARIA"));
        assert_eq!(out.mrz.as_ref().map(|m| m.name_repairs.len()), Some(2));
        // The name itself printed: nothing changes. Two candidates: nothing changes.
        // Accented print (transliterated in the MRZ): nothing changes.
        for (name, printed) in [
            ("ANN", vec!["ANN", "ANNA"]),
            ("BIANHI", vec!["BIANCHI", "BIANSHI"]),
            ("MULLER", vec!["MÜLLER"]),
        ] {
            let lines: Vec<String> = printed.into_iter().map(String::from).collect();
            let mut out = read_with(name, (1990, 1, 2));
            restore_dropped_letters(&lines, &mut out);
            assert_eq!(out.surname.as_deref(), Some(name), "{lines:?}");
        }
    }

    #[test]
    fn the_verdict_follows_the_checks() {
        let mut out = read_with("X", (1990, 1, 2));
        out.ocr_confidence = 0.95;
        out.checks = vec![Check {
            name: "visualZone",
            outcome: Outcome::Fail,
            detail: None,
        }];
        verdict(&mut out, 0.6);
        assert_eq!(
            (out.result, out.reasons.clone()),
            (Verdict::Review, vec!["VISUAL_ZONE_MISMATCH"])
        );
        out.checks.push(Check {
            name: "expiry",
            outcome: Outcome::Fail,
            detail: None,
        });
        verdict(&mut out, 0.6);
        assert_eq!(out.result, Verdict::Fail);
        assert!(out.reasons.contains(&"DOCUMENT_EXPIRED"));
        out.checks.clear();
        out.ocr_confidence = 0.3;
        verdict(&mut out, 0.6);
        assert_eq!(
            (out.result, out.reasons.clone()),
            (Verdict::Review, vec!["LOW_CONFIDENCE"])
        );
    }

    #[test]
    fn turns_map_points_back() {
        let img = Rgb::new(4, 2, (0..24).collect()).unwrap_or_else(|_| unreachable!());
        for turn in [Turn::Half, Turn::Cw, Turn::Ccw] {
            let t = turn.apply(&img);
            for y in 0..t.height {
                for x in 0..t.width {
                    let (sx, sy) = turn.source(x as f32, y as f32, 4.0, 2.0);
                    let d = ((y * t.width + x) * 3) as usize;
                    let s = ((sy as u32 * 4 + sx as u32) * 3) as usize;
                    assert_eq!(t.data[d], img.data[s], "{turn:?}");
                }
            }
        }
    }

    #[test]
    fn age_counts_whole_years() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap_or_default();
        assert_eq!(age_on(d(2000, 6, 15), d(2018, 6, 14)), Some(17));
        assert_eq!(age_on(d(2000, 6, 15), d(2018, 6, 15)), Some(18));
        assert_eq!(age_on(d(2030, 1, 1), d(2018, 6, 15)), None);
    }
}
