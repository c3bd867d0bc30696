//! Synthetic identity-document photos with known labels, for vouch's tests and its accuracy
//! evaluation: passports (TD3), ID cards (TD1, TD2), visas (MRV-A, MRV-B) with OCR-B MRZs, and
//! US driver's licences with AAMVA PDF417 backs, each photographed as by a handheld phone.
//!
//! The MRZ lines come from this crate's own builder ([`mrz`]), written apart from the engine's
//! parser so that it is an independent oracle. Rendering is deterministic for a seed.
//!
//! `anyhow` is used in this library's API, unlike vouch's other library crates: it is a test
//! and evaluation tool whose callers only report its errors.

pub mod aamva;
pub mod attack;
pub mod camera;
pub mod document;
pub mod fonts;
pub mod homography;
pub mod identity;
pub mod layout;
pub mod mrz;
pub mod page;
pub mod photo;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};

pub use document::DocKind;
pub use fonts::Fonts;
pub use photo::CaptureSpec;

use document::Document;
use page::{BoxMm, Page};
use photo::Capture;

/// What to render: a kind of document and, optionally, fixed capture settings.
#[derive(Clone, Debug, Default)]
pub struct DocSpec {
    pub kind: DocKind,
    /// Fixed capture settings; `None` fields are drawn from the seed.
    pub capture: CaptureSpec,
}

impl DocSpec {
    /// A document of `kind` with every capture setting drawn from the seed.
    pub fn new(kind: DocKind) -> DocSpec {
        DocSpec {
            kind,
            capture: CaptureSpec::default(),
        }
    }

    /// Fixes the rotation (degrees, counter-clockwise).
    pub fn rotation(mut self, degrees: f32) -> DocSpec {
        self.capture.rotation_deg = Some(degrees);
        self
    }

    /// Replaces the capture settings.
    pub fn capture(mut self, capture: CaptureSpec) -> DocSpec {
        self.capture = capture;
        self
    }
}

/// One rendered document.
pub struct Rendered {
    /// The photo, decoded from `jpeg` (what a reader of the file sees).
    pub image: RgbImage,
    /// The back's photo (driver's licences).
    pub back: Option<RgbImage>,
    /// Labels, as one entry of `expected.json` (without `back`, which names a file).
    pub expected: Value,
    /// The photo as written to disk.
    pub jpeg: Vec<u8>,
    pub back_jpeg: Option<Vec<u8>>,
}

/// Renders documents with one set of fonts and face photos.
pub struct Renderer {
    fonts: Fonts,
    /// Each face photo with its decoded, shrunk copy, loaded on first use.
    faces: Vec<(PathBuf, OnceLock<RgbImage>)>,
}

/// What one render writes: the photo, the back's photo, and the labels.
struct Files {
    jpeg: Vec<u8>,
    back_jpeg: Option<Vec<u8>>,
    expected: Value,
}

/// Portraits are printed a few centimetres tall; a face photo is kept at most this many
/// pixels on its longer side.
const FACE_MAX_PX: u32 = 900;

/// The order of kinds in a set: every 20 documents hold 6 TD3, 2 TD3 without fillers, 4 TD1,
/// 3 TD2, 1 MRV-A, 1 MRV-B and 3 driver's licences.
const CYCLE: [DocKind; 20] = {
    use DocKind::*;
    [
        Td3,
        Td1,
        DriversLicence,
        Td2,
        Td3,
        MrvA,
        Td1,
        Td3NoFiller,
        Td3,
        Td2,
        DriversLicence,
        Td1,
        Td3,
        MrvB,
        Td3,
        Td1,
        DriversLicence,
        Td2,
        Td3,
        Td3NoFiller,
    ]
};

/// The kind of the `i`-th document of a set.
pub fn kind_at(i: usize) -> DocKind {
    CYCLE[i % CYCLE.len()]
}

/// The seed of the `i`-th document of a set (splitmix64 of the set's seed and `i`).
pub fn seed_at(seed: u64, i: usize) -> u64 {
    let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The face photos of `dir`: those named in its `pairs.txt` (the single-person photos of
/// vouch's face set) when there is one, else every JPEG/PNG, sorted by name.
pub fn list_faces(dir: &Path) -> Result<Vec<PathBuf>> {
    let is_image = |p: &Path| {
        p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
    };
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "reading face photos from {} (pass --faces DIR)",
            dir.display()
        )
    })?;
    let mut all: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_image(p))
        .collect();
    all.sort();
    if let Ok(pairs) = std::fs::read_to_string(dir.join("pairs.txt")) {
        let named: HashSet<&str> = pairs.split_whitespace().collect();
        let chosen: Vec<PathBuf> = all
            .iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| named.contains(n))
            })
            .cloned()
            .collect();
        if !chosen.is_empty() {
            return Ok(chosen);
        }
    }
    if all.is_empty() {
        bail!("no face photos (JPEG/PNG) in {}", dir.display());
    }
    Ok(all)
}

/// A stream of the per-document RNG: each stage draws from its own stream, so fixing a
/// capture setting leaves the person and the page unchanged.
fn stream(seed: u64, n: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(n);
    rng
}

/// The page resolution for a capture: about 1.2 page pixels per output pixel.
fn page_ppm(cap: &Capture, w_mm: f32) -> f32 {
    (1.2 * cap.doc_width_px() / w_mm).clamp(5.0, 16.0)
}

/// Bounds `[x, y, w, h]` in output pixels of a page box after the transform.
fn box_in_image(shot: &photo::Shot, r: BoxMm) -> Value {
    let pts = r.corners().map(|(x, y)| shot.page_to_image.apply(x, y));
    let (fw, fh) = (shot.image.width() as f32, shot.image.height() as f32);
    let x0 = pts
        .iter()
        .map(|p| p.0)
        .fold(f32::MAX, f32::min)
        .clamp(0.0, fw);
    let y0 = pts
        .iter()
        .map(|p| p.1)
        .fold(f32::MAX, f32::min)
        .clamp(0.0, fh);
    let x1 = pts
        .iter()
        .map(|p| p.0)
        .fold(f32::MIN, f32::max)
        .clamp(0.0, fw);
    let y1 = pts
        .iter()
        .map(|p| p.1)
        .fold(f32::MIN, f32::max)
        .clamp(0.0, fh);
    json!([
        x0.floor() as u32,
        y0.floor() as u32,
        (x1 - x0).ceil() as u32,
        (y1 - y0).ceil() as u32
    ])
}

fn corners_in_image(shot: &photo::Shot, page: &Page) -> Value {
    let r = BoxMm::new(0.0, 0.0, page.w_mm, page.h_mm);
    let pts = r.corners().map(|(x, y)| shot.page_to_image.apply(x, y));
    json!(pts.map(|(x, y)| [
        (x as f64 * 10.0).round() / 10.0,
        (y as f64 * 10.0).round() / 10.0
    ]))
}

impl Renderer {
    /// A renderer with `fonts` and the face photos of `faces_dir` (see [`list_faces`]).
    pub fn new(fonts: Fonts, faces_dir: &Path) -> Result<Renderer> {
        let faces = list_faces(faces_dir)?
            .into_iter()
            .map(|p| (p, OnceLock::new()))
            .collect();
        Ok(Renderer { fonts, faces })
    }

    /// Renders one document; the same spec and seed give the same bytes.
    pub fn render(&self, spec: &DocSpec, seed: u64) -> Result<Rendered> {
        let f = self.render_files(spec, seed)?;
        let back = match &f.back_jpeg {
            Some(b) => Some(image::load_from_memory(b)?.to_rgb8()),
            None => None,
        };
        Ok(Rendered {
            image: image::load_from_memory(&f.jpeg)?.to_rgb8(),
            back,
            expected: f.expected,
            jpeg: f.jpeg,
            back_jpeg: f.back_jpeg,
        })
    }

    /// The `i`-th face photo, decoded and shrunk on first use.
    fn face(&self, i: usize) -> Result<&RgbImage> {
        let (path, cell) = &self.faces[i];
        if let Some(img) = cell.get() {
            return Ok(img);
        }
        let img = image::open(path).with_context(|| format!("reading {}", path.display()))?;
        let img = if img.width().max(img.height()) > FACE_MAX_PX {
            img.resize(
                FACE_MAX_PX,
                FACE_MAX_PX,
                image::imageops::FilterType::Triangle,
            )
        } else {
            img
        };
        // Another thread may have got there first; both decoded the same file the same way.
        Ok(cell.get_or_init(|| img.to_rgb8()))
    }

    fn render_files(&self, spec: &DocSpec, seed: u64) -> Result<Files> {
        let doc = Document::sample(spec.kind, &mut stream(seed, 1))?;
        let face_index = stream(seed, 2).gen_range(0..self.faces.len());
        let face = self.face(face_index)?;
        let face_name = self.faces[face_index]
            .0
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("");
        let (w_mm, _, _) = spec.kind.size_mm();

        let mut cap = Capture::sample(&mut stream(seed, 3), &spec.capture, false);
        let ppm = page_ppm(&cap, w_mm);
        let (page, portrait) = layout::front(&doc, &self.fonts, face, ppm, &mut stream(seed, 4));
        let shot = photo::shoot(&mut stream(seed, 5), &page, &mut cap)?;
        let jpeg = photo::jpeg(&shot.image, cap.jpeg_quality)?;

        let mut expected = doc.expected();
        let obj = expected.as_object_mut().context("expected is an object")?;
        obj.insert("portrait".into(), box_in_image(&shot, portrait));
        obj.insert("corners".into(), corners_in_image(&shot, &page));
        obj.insert("difficulty".into(), json!(cap.difficulty()));
        obj.insert("params".into(), cap.to_json());
        obj.insert("face".into(), json!(face_name));

        let mut back_jpeg = None;
        if let Some(licence) = &doc.licence {
            let grid = aamva::pdf417(&licence.record())?;
            let mut back_cap = Capture::sample(&mut stream(seed, 6), &spec.capture, true);
            let ppm = page_ppm(&back_cap, w_mm);
            let back_page =
                layout::licence_back(&doc, &self.fonts, &grid, ppm, &mut stream(seed, 7));
            let back_shot = photo::shoot(&mut stream(seed, 8), &back_page, &mut back_cap)?;
            obj.insert("backDifficulty".into(), json!(back_cap.difficulty()));
            obj.insert("backParams".into(), back_cap.to_json());
            obj.insert(
                "backCorners".into(),
                corners_in_image(&back_shot, &back_page),
            );
            back_jpeg = Some(photo::jpeg(&back_shot.image, back_cap.jpeg_quality)?);
        }
        Ok(Files {
            jpeg,
            back_jpeg,
            expected,
        })
    }

    /// Renders `count` documents (kinds in a fixed cycle, see [`kind_at`]) into `out` with
    /// `expected.json`, using every core; prints progress to stderr.
    pub fn render_set(&self, out: &Path, count: usize, seed: u64) -> Result<()> {
        self.render_set_of(out, count, seed, None)
    }

    /// As [`Renderer::render_set`], all of one kind when `only` is given.
    pub fn render_set_of(
        &self,
        out: &Path,
        count: usize,
        seed: u64,
        only: Option<DocKind>,
    ) -> Result<()> {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        let start = Instant::now();
        let next = AtomicUsize::new(0);
        let done = AtomicUsize::new(0);
        let entries: Mutex<Vec<(usize, String, Value)>> = Mutex::new(Vec::with_capacity(count));
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(count.max(1));
        let work = || -> Result<()> {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok(());
                }
                let kind = only.unwrap_or_else(|| kind_at(i));
                let r = self
                    .render_files(&DocSpec::new(kind), seed_at(seed, i))
                    .with_context(|| format!("document {i} ({kind})"))?;
                let name = if kind == DocKind::DriversLicence {
                    format!("{:04}-{}-front.jpg", i + 1, kind.slug())
                } else {
                    format!("{:04}-{}.jpg", i + 1, kind.slug())
                };
                std::fs::write(out.join(&name), &r.jpeg)?;
                let mut expected = r.expected;
                if let (Some(bytes), Some(obj)) = (&r.back_jpeg, expected.as_object_mut()) {
                    let back = format!("{:04}-{}-back.jpg", i + 1, kind.slug());
                    std::fs::write(out.join(&back), bytes)?;
                    obj.insert("back".into(), json!(back));
                }
                entries
                    .lock()
                    .map_err(|_| anyhow::anyhow!("worker panicked"))?
                    .push((i, name, expected));
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(10) || n == count {
                    eprintln!(
                        "rendered {n}/{count} ({:.1} s)",
                        start.elapsed().as_secs_f32()
                    );
                }
            }
        };
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers).map(|_| s.spawn(work)).collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().map_err(|_| anyhow::anyhow!("worker panicked"))?)
        })?;
        let mut entries = entries
            .into_inner()
            .map_err(|_| anyhow::anyhow!("worker panicked"))?;
        entries.sort_by_key(|e| e.0);
        // One line per document, keyed by file name, in render order.
        let mut text = String::from("{\n");
        for (n, (_, name, value)) in entries.iter().enumerate() {
            let sep = if n + 1 == entries.len() { "" } else { "," };
            text.push_str(&format!(
                "  {}: {}{sep}\n",
                serde_json::to_string(name)?,
                serde_json::to_string(value)?
            ));
        }
        text.push_str("}\n");
        std::fs::write(out.join("expected.json"), text)?;
        let secs = start.elapsed().as_secs_f32();
        let per_kind = entries.iter().fold(Map::new(), |mut m, (_, _, v)| {
            let k = v
                .get("format")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_string();
            let c = m.get(&k).and_then(Value::as_u64).unwrap_or(0);
            m.insert(k, json!(c + 1));
            m
        });
        eprintln!(
            "rendered {count} documents into {} in {secs:.1} s ({:.0} ms each, {workers} threads); {}",
            out.display(),
            secs * 1000.0 / count.max(1) as f32,
            Value::Object(per_kind)
        );
        Ok(())
    }
}

/// Renders one document with the fonts found by [`Fonts::locate`] (no override).
pub fn render_one(spec: &DocSpec, faces: &Path, seed: u64) -> Result<Rendered> {
    Renderer::new(Fonts::locate(None)?, faces)?.render(spec, seed)
}

/// Renders a set of `count` documents into `out` with `expected.json`.
pub fn render_set(out: &Path, count: usize, seed: u64, faces: &Path) -> Result<()> {
    Renderer::new(Fonts::locate(None)?, faces)?.render_set(out, count, seed)
}

/// The default face folder: `../shared/eval/faces` beside the repository.
pub fn default_faces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/faces")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mrz::check_digit;

    /// A folder with one drawn "face" (an oval on a plain ground), so the tests need no photos.
    fn faces() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let img = RgbImage::from_fn(300, 400, |x, y| {
            let (dx, dy) = ((x as f32 - 150.0) / 90.0, (y as f32 - 170.0) / 120.0);
            if dx * dx + dy * dy < 1.0 {
                image::Rgb([220, 180, 150])
            } else {
                image::Rgb([90, 120, 160])
            }
        });
        img.save(dir.path().join("face.png")).expect("save face");
        dir
    }

    fn renderer(faces: &Path) -> Renderer {
        let fonts = Fonts::locate(None)
            .expect("fonts: run scripts/install-deps.sh (fonts-ocr-b, fonts-dejavu-core)");
        Renderer::new(fonts, faces).expect("renderer")
    }

    fn small(kind: DocKind) -> DocSpec {
        DocSpec::new(kind).capture(CaptureSpec {
            frame: Some((800, 600)),
            ..CaptureSpec::default()
        })
    }

    fn s<'a>(v: &'a Value, k: &str) -> &'a str {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{k} missing in {v}"))
    }

    fn yymmdd(iso: &str) -> String {
        format!("{}{}{}", &iso[2..4], &iso[5..7], &iso[8..10])
    }

    fn words(field: &str) -> String {
        field
            .split('<')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Reads the MRZ lines back with a parser written for this test, and checks that they say
    /// what the labels say and that every check digit holds.
    fn check_mrz_against_labels(e: &Value) {
        let lines: Vec<&str> = e["mrz"]
            .as_array()
            .expect("mrz")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let digit = |field: &str, c: char| {
            assert_eq!(
                check_digit(field),
                Some(c),
                "check digit of {field} in {lines:?}"
            )
        };
        let (l1, l2) = (lines[0], lines[1]);
        let (number, nat, birth, sex, expiry, name);
        match s(e, "format") {
            "TD1" => {
                let l3 = lines[2];
                number = &l1[5..14];
                digit(number, l1.as_bytes()[14] as char);
                birth = &l2[0..6];
                digit(birth, l2.as_bytes()[6] as char);
                sex = &l2[7..8];
                expiry = &l2[8..14];
                digit(expiry, l2.as_bytes()[14] as char);
                nat = &l2[15..18];
                let composite = format!("{}{}{}{}", &l1[5..30], &l2[0..7], &l2[8..15], &l2[18..29]);
                digit(&composite, l2.as_bytes()[29] as char);
                name = l3;
            }
            format => {
                number = &l2[0..9];
                digit(number, l2.as_bytes()[9] as char);
                nat = &l2[10..13];
                birth = &l2[13..19];
                digit(birth, l2.as_bytes()[19] as char);
                sex = &l2[20..21];
                expiry = &l2[21..27];
                digit(expiry, l2.as_bytes()[27] as char);
                name = &l1[5..];
                let last = l2.len() - 1;
                match format {
                    "TD3" => {
                        let personal = &l2[28..42];
                        if personal.trim_matches('<').is_empty() {
                            assert!(e.get("personalNumber").is_none());
                        } else {
                            digit(personal, l2.as_bytes()[42] as char);
                            assert_eq!(s(e, "personalNumber"), personal.trim_end_matches('<'));
                        }
                        digit(
                            &format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..43]),
                            l2.as_bytes()[last] as char,
                        );
                    }
                    "TD2" => digit(
                        &format!("{}{}{}", &l2[0..10], &l2[13..20], &l2[21..35]),
                        l2.as_bytes()[last] as char,
                    ),
                    _ => assert_eq!(l1.as_bytes()[0], b'V'),
                }
            }
        }
        assert_eq!(s(e, "documentNumber"), number.trim_end_matches('<'));
        assert_eq!(s(e, "nationality"), nat.trim_end_matches('<'));
        assert_eq!(s(e, "issuingCountry"), l1[2..5].trim_end_matches('<'));
        assert_eq!(s(e, "documentCode"), l1[0..2].trim_end_matches('<'));
        assert_eq!(yymmdd(s(e, "dateOfBirth")), birth);
        assert_eq!(yymmdd(s(e, "expiryDate")), expiry);
        assert_eq!(s(e, "sex"), if sex == "<" { "X" } else { sex });
        let (sur, giv) = name.split_once("<<").unwrap_or((name, ""));
        assert_eq!(s(e, "surname"), words(sur));
        assert_eq!(s(e, "givenNames"), words(giv));
    }

    #[test]
    fn labels_are_self_consistent_for_every_kind() {
        let dir = faces();
        let r = renderer(dir.path());
        for (i, kind) in DocKind::ALL.into_iter().enumerate() {
            let out = r.render(&small(kind), 100 + i as u64).expect("renders");
            let e = &out.expected;
            assert_eq!(
                (out.image.width(), out.image.height()),
                (800, 600),
                "{kind}"
            );
            assert_eq!(s(e, "documentType"), kind.document_type());
            assert!(["easy", "medium", "hard"].contains(&s(e, "difficulty")));
            for k in ["dateOfBirth", "expiryDate"] {
                assert!(
                    chrono::NaiveDate::parse_from_str(s(e, k), "%Y-%m-%d").is_ok(),
                    "{k} in {e}"
                );
            }
            let p: Vec<u64> = e["portrait"]
                .as_array()
                .expect("portrait")
                .iter()
                .filter_map(Value::as_u64)
                .collect();
            assert!(
                p[2] > 10 && p[3] > 10 && p[0] + p[2] <= 800 && p[1] + p[3] <= 600,
                "portrait {p:?}"
            );
            if kind == DocKind::DriversLicence {
                let record = s(e, "barcode");
                let mmddccyy = |iso: &str| format!("{}{}{}", &iso[5..7], &iso[8..10], &iso[0..4]);
                assert!(record.starts_with("@\n\x1e\rANSI "));
                assert!(record.contains(&format!("\nDCS{}\n", s(e, "surname"))));
                assert!(record.contains(&format!("\nDBB{}\n", mmddccyy(s(e, "dateOfBirth")))));
                assert!(record.contains(&format!("\nDBA{}\n", mmddccyy(s(e, "expiryDate")))));
                assert!(record.starts_with(&format!("@\n\x1e\rANSI {}", s(e, "iin"))));
                assert!(record.contains(&format!("DAQ{}\n", s(e, "documentNumber"))));
                assert_eq!(s(e, "format"), "AAMVA");
                assert!(out.back.is_some());
            } else {
                assert_eq!(
                    s(e, "format"),
                    kind.mrz_format().map(|f| f.label()).unwrap_or_default()
                );
                check_mrz_against_labels(e);
                assert!(out.back.is_none());
            }
            if kind == DocKind::Td3NoFiller {
                assert!(!e["mrz"][1].as_str().unwrap_or("<").contains('<'));
            }
        }
    }

    #[test]
    fn rendering_is_deterministic_for_a_seed() {
        let dir = faces();
        let r = renderer(dir.path());
        let spec = small(DocKind::Td1).rotation(180.0);
        let a = r.render(&spec, 7).expect("renders");
        let b = r.render(&spec, 7).expect("renders");
        let c = r.render(&spec, 8).expect("renders");
        assert_eq!(a.jpeg, b.jpeg);
        assert_eq!(a.expected, b.expected);
        assert_ne!(a.jpeg, c.jpeg);
        // Turned 180°: the page's top-left corner lies right of and below its bottom-right.
        let corners = &a.expected["corners"];
        let (tl, br) = (&corners[0], &corners[2]);
        assert!(
            tl[0].as_f64() > br[0].as_f64() && tl[1].as_f64() > br[1].as_f64(),
            "{corners}"
        );
        assert_eq!(a.expected["params"]["rotation"], json!(180.0));
    }

    #[test]
    fn fixing_the_capture_keeps_the_person() {
        let dir = faces();
        let r = renderer(dir.path());
        let a = r.render(&small(DocKind::Td3), 3).expect("renders");
        let b = r
            .render(&small(DocKind::Td3).rotation(90.0), 3)
            .expect("renders");
        assert_eq!(a.expected["mrz"], b.expected["mrz"]);
    }

    #[test]
    fn licence_back_barcode_decodes_from_a_clean_photo() {
        let dir = faces();
        let r = renderer(dir.path());
        let out = r
            .render(
                &DocSpec::new(DocKind::DriversLicence).capture(CaptureSpec::clean()),
                11,
            )
            .expect("renders");
        let back = out.back.expect("back");
        let luma: Vec<u8> = back
            .pixels()
            .map(|p| ((p[0] as u32 * 3 + p[1] as u32 * 6 + p[2] as u32) / 10) as u8)
            .collect();
        let res = rxing::helpers::detect_in_luma(
            luma,
            back.width(),
            back.height(),
            Some(rxing::BarcodeFormat::PDF_417),
        )
        .expect("PDF417 found in the back photo");
        assert_eq!(res.getText(), s(&out.expected, "barcode"));
    }

    #[test]
    fn a_set_writes_photos_and_expected_json() {
        let dir = faces();
        let out = tempfile::tempdir().expect("tempdir");
        renderer(dir.path())
            .render_set(out.path(), 3, 5)
            .expect("renders");
        let text =
            std::fs::read_to_string(out.path().join("expected.json")).expect("expected.json");
        let e: Map<String, Value> = serde_json::from_str(&text).expect("json");
        assert_eq!(e.len(), 3);
        for (name, v) in &e {
            assert!(out.path().join(name).is_file(), "{name}");
            if let Some(back) = v.get("back").and_then(Value::as_str) {
                assert!(out.path().join(back).is_file(), "{back}");
            }
        }
        assert!(
            e.contains_key("0003-dl-front.jpg")
                && e["0003-dl-front.jpg"]["back"] == json!("0003-dl-back.jpg")
        );
    }
}
