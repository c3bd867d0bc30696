//! Text detection and recognition with PaddleOCR's PP-OCRv4 models through ONNX
//! Runtime (the files come from the `rapidocr-onnxruntime` wheel, see
//! `models/manifest.json`).
//!
//! ```text
//! RGB ─resize (longest side ≤ det_side, ×32)─> DB detector ─> probability map
//!     ─threshold 0.3, dilate─> components ─min-area rect, unclip 1.6─> text lines
//! line ─rotated crop, height 48─> SVTR recogniser ─CTC (optionally a restricted alphabet)─> text
//! line ─48×192 crop─> angle classifier ─> 0° or 180°
//! ```

use crate::geometry::{components, crop, min_area_rect, RotRect};
use crate::DocError;
use vouch_face::ort::session::Session;
use vouch_face::ort::value::Tensor;
use vouch_face::pool::Pool;
use vouch_face::{open_session, EngineConfig, Rgb};

/// OCR settings.
#[derive(Debug, Clone)]
pub struct OcrConfig {
    /// Longest side of the image the detector sees (a multiple of 32 is used).
    pub det_side: usize,
    /// Probability above which a map pixel is text.
    pub det_threshold: f32,
    /// Mean probability a box needs to be kept.
    pub box_threshold: f32,
    /// How far a box is grown around its shrunk kernel (DB's unclip ratio).
    pub unclip_ratio: f32,
    /// Widest crop the recogniser gets (pixels at height 48).
    pub max_rec_width: usize,
}

impl Default for OcrConfig {
    fn default() -> Self {
        OcrConfig {
            det_side: 640,
            det_threshold: 0.3,
            box_threshold: 0.5,
            unclip_ratio: 1.6,
            max_rec_width: 1800,
        }
    }
}

/// A detected text line.
#[derive(Debug, Clone, Copy)]
pub struct TextBox {
    /// Where it is, in source-image pixels.
    pub rect: RotRect,
    /// Mean detector probability inside it.
    pub score: f32,
}

/// Recognised text with the mean probability of its characters.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// The characters.
    pub text: String,
    /// Mean of each emitted character's probability (0 when empty).
    pub confidence: f32,
}

/// Which characters the recogniser may emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alphabet {
    /// Everything the model knows.
    Full,
    /// A–Z, 0–9 and `<`: machine readable zones.
    Mrz,
}

struct Models {
    det: Session,
    rec: Session,
    cls: Session,
}

/// The OCR models, a bounded pool of them.
pub struct Ocr {
    config: OcrConfig,
    pool: Pool<Models>,
    /// Output index → character (index 0 is the CTC blank, shown as '\0').
    chars: Vec<char>,
    /// Output indices of the MRZ alphabet (blank first).
    mrz_indices: Vec<usize>,
    /// For each MRZ character, the output classes that stand for it (itself, its
    /// lower case, look-alikes).
    mrz_groups: Vec<(char, Vec<usize>)>,
}

const DET: &str = "ch_PP-OCRv4_det_infer.onnx";
const REC: &str = "ch_PP-OCRv4_rec_infer.onnx";
const CLS: &str = "ch_ppocr_mobile_v2.0_cls_infer.onnx";
const REC_H: usize = 48;

fn model_err(e: impl std::fmt::Display) -> DocError {
    DocError::Model(e.to_string())
}

fn infer_err(e: impl std::fmt::Display) -> DocError {
    DocError::Inference(e.to_string())
}

impl Ocr {
    /// Loads `workers` sets of the three models.
    pub fn load(engine: &EngineConfig, config: OcrConfig, workers: usize) -> Result<Ocr, DocError> {
        let mut pool = Vec::new();
        let mut chars = Vec::new();
        for i in 0..workers.max(1) {
            let rec = open_session(engine, REC).map_err(model_err)?;
            if i == 0 {
                let list = rec
                    .metadata()
                    .map_err(model_err)?
                    .custom("character")
                    .ok_or_else(|| model_err(format!("{REC} has no 'character' metadata")))?;
                chars.push('\0');
                for line in list.split('\n') {
                    chars.push(line.chars().next().unwrap_or(' '));
                }
                chars.push(' ');
            }
            pool.push(Models {
                det: open_session(engine, DET).map_err(model_err)?,
                rec,
                cls: open_session(engine, CLS).map_err(model_err)?,
            });
        }
        let mut mrz_indices = vec![0];
        for (i, c) in chars.iter().enumerate().skip(1) {
            if c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '<' {
                mrz_indices.push(i);
            }
        }
        let mut mrz_groups: Vec<(char, Vec<usize>)> = Vec::new();
        for &i in mrz_indices.iter().skip(1) {
            let c = chars[i];
            let mut classes = vec![i];
            for (j, &other) in chars.iter().enumerate().skip(1) {
                if j != i && !mrz_char(other) && mrz_lookalike(other) == Some(c) {
                    classes.push(j);
                }
            }
            mrz_groups.push((c, classes));
        }
        if mrz_indices.len() < 38 {
            return Err(model_err(format!(
                "{REC}: the character list lacks part of the MRZ alphabet ({} of 37)",
                mrz_indices.len() - 1
            )));
        }
        Ok(Ocr {
            config,
            pool: Pool::new(pool),
            chars,
            mrz_indices,
            mrz_groups,
        })
    }

    /// The settings.
    pub fn config(&self) -> &OcrConfig {
        &self.config
    }

    fn with_models<T>(
        &self,
        f: impl FnOnce(&mut Models) -> Result<T, DocError>,
    ) -> Result<T, DocError> {
        self.pool
            .with(f)
            .unwrap_or_else(|| Err(DocError::Inference("OCR panicked".into())))
    }

    /// Finds text lines. `side` overrides the configured detector size.
    pub fn detect(&self, img: &Rgb, side: Option<usize>) -> Result<Vec<TextBox>, DocError> {
        let side = side.unwrap_or(self.config.det_side).max(32);
        let (w, h) = (img.width as usize, img.height as usize);
        if w == 0 || h == 0 {
            return Ok(Vec::new());
        }
        let scale = (side as f32 / w.max(h) as f32).min(1.0);
        let dw = (((w as f32 * scale) / 32.0).round() as usize).max(1) * 32;
        let dh = (((h as f32 * scale) / 32.0).round() as usize).max(1) * 32;
        let (sx, sy) = (w as f32 / dw as f32, h as f32 / dh as f32);
        let pixels = vouch_face_resize(img, dw, dh);
        let mut input = vec![0f32; 3 * dw * dh];
        let plane = dw * dh;
        for i in 0..plane {
            // BGR planes, (x/255 − 0.5)/0.5
            for c in 0..3 {
                input[c * plane + i] = pixels[i * 3 + (2 - c)] / 127.5 - 1.0;
            }
        }
        let prob = self.with_models(|m| {
            let t = Tensor::from_array(([1usize, 3, dh, dw], input)).map_err(infer_err)?;
            let out = m.det.run(vouch_face::ort::inputs![t]).map_err(infer_err)?;
            let (_, p) = out[0].try_extract_tensor::<f32>().map_err(infer_err)?;
            if p.len() != plane {
                return Err(infer_err("detector output has an unexpected size"));
            }
            Ok(p.to_vec())
        })?;
        let thr = self.config.det_threshold;
        let bits: Vec<bool> = prob.iter().map(|&p| p > thr).collect();
        // 2×2 dilation, as PaddleOCR does, so broken strokes join.
        let mut mask = bits.clone();
        for y in 0..dh {
            for x in 0..dw {
                if bits[y * dw + x] {
                    if x + 1 < dw {
                        mask[y * dw + x + 1] = true;
                    }
                    if y + 1 < dh {
                        mask[(y + 1) * dw + x] = true;
                        if x + 1 < dw {
                            mask[(y + 1) * dw + x + 1] = true;
                        }
                    }
                }
            }
        }
        let mut boxes = Vec::new();
        for comp in components(&mask, &prob, dw, dh, 6, 1000) {
            let score = comp.sum / comp.count as f32;
            if score < self.config.box_threshold {
                continue;
            }
            let Some(r) = min_area_rect(&comp.outline) else {
                continue;
            };
            if r.h < 2.0 {
                continue;
            }
            // Unclip: DB predicts shrunk kernels; grow by area × ratio / perimeter.
            let d = r.w * r.h * self.config.unclip_ratio / (2.0 * (r.w + r.h));
            let (w2, h2) = (r.w + 2.0 * d, r.h + 2.0 * d);
            // Back to source pixels (the map may be scaled differently on each axis).
            let (dx, dy) = (r.angle.cos(), r.angle.sin());
            let along = ((dx * sx).powi(2) + (dy * sy).powi(2)).sqrt();
            let across = ((dy * sx).powi(2) + (dx * sy).powi(2)).sqrt();
            let angle = (dy * sy).atan2(dx * sx);
            let rect = RotRect {
                cx: r.cx * sx,
                cy: r.cy * sy,
                w: w2 * along,
                h: h2 * across,
                angle,
            };
            if rect.h < 4.0 || rect.w < 4.0 {
                continue;
            }
            boxes.push(TextBox { rect, score });
        }
        Ok(boxes)
    }

    /// Width of the recogniser input for a line.
    fn rec_width(&self, rect: &RotRect) -> usize {
        let ratio = rect.w / rect.h.max(1.0);
        ((REC_H as f32 * ratio).ceil() as usize).clamp(16, self.config.max_rec_width)
    }

    /// Recognises lines (each read along its `angle`), in one batch.
    pub fn recognize(
        &self,
        img: &Rgb,
        rects: &[RotRect],
        alphabet: Alphabet,
    ) -> Result<Vec<Text>, DocError> {
        if rects.is_empty() {
            return Ok(Vec::new());
        }
        let widths: Vec<usize> = rects.iter().map(|r| self.rec_width(r)).collect();
        let width = widths.iter().copied().max().unwrap_or(16);
        let n = rects.len();
        let plane = REC_H * width;
        let mut input = vec![0f32; n * 3 * plane];
        for (k, (r, &w)) in rects.iter().zip(&widths).enumerate() {
            let pix = crop(img, r, w, REC_H);
            let base = k * 3 * plane;
            for y in 0..REC_H {
                for x in 0..w {
                    let p = (y * w + x) * 3;
                    for c in 0..3 {
                        input[base + c * plane + y * width + x] = pix[p + 2 - c] / 127.5 - 1.0;
                    }
                }
            }
        }
        let classes = self.chars.len();
        let allowed: &[usize] = match alphabet {
            Alphabet::Full => &[],
            Alphabet::Mrz => &self.mrz_indices,
        };
        self.with_models(|m| {
            let t = Tensor::from_array(([n, 3usize, REC_H, width], input)).map_err(infer_err)?;
            let out = m.rec.run(vouch_face::ort::inputs![t]).map_err(infer_err)?;
            let (shape, p) = out[0].try_extract_tensor::<f32>().map_err(infer_err)?;
            if shape.len() != 3 || shape[2] as usize != classes || shape[0] as usize != n {
                return Err(infer_err(format!("recogniser output shape {shape:?}")));
            }
            let steps = shape[1] as usize;
            Ok((0..n)
                .map(|k| {
                    // Steps past this line's own width are padding.
                    let own = (steps * widths[k]).div_ceil(width).min(steps);
                    self.ctc(
                        &p[k * steps * classes..(k * steps + own) * classes],
                        allowed,
                    )
                })
                .collect())
        })
    }

    /// Greedy CTC decoding, over all classes or over the MRZ alphabet.
    fn ctc(&self, probs: &[f32], allowed: &[usize]) -> Text {
        if !allowed.is_empty() {
            return self.ctc_mrz(probs);
        }
        let classes = self.chars.len();
        let mut text = String::new();
        let (mut sum, mut count) = (0f32, 0usize);
        let mut prev = 0usize;
        for step in probs.chunks_exact(classes) {
            let (best, p) =
                step.iter()
                    .enumerate()
                    .fold((0, f32::MIN), |a, (i, &v)| if v > a.1 { (i, v) } else { a });
            if best != 0 && best != prev {
                text.push(self.chars[best]);
                sum += p;
                count += 1;
            }
            prev = best;
        }
        Text {
            text,
            confidence: if count == 0 { 0.0 } else { sum / count as f32 },
        }
    }

    /// Greedy CTC decoding over the MRZ alphabet. Each MRZ character collects the
    /// probability of the classes that stand for it ('o' and '〇' for 'O', '«' for '<').
    /// The model often splits a round glyph between 'O' and '0' (or 'I' and '1', 'S' and
    /// '5', 'B' and '8', 'Z' and '2') so that neither beats the blank and the character
    /// vanishes; such pairs are weighed together against the blank, and the likelier
    /// member is emitted (the MRZ parser then settles O/0 by the field's type).
    fn ctc_mrz(&self, probs: &[f32]) -> Text {
        let classes = self.chars.len();
        let mut text = String::new();
        let (mut sum, mut count) = (0f32, 0usize);
        let mut prev: Option<char> = None;
        let mut scores: Vec<(char, f32)> = Vec::with_capacity(self.mrz_groups.len());
        for step in probs.chunks_exact(classes) {
            scores.clear();
            scores.extend(
                self.mrz_groups
                    .iter()
                    .map(|(c, idx)| (*c, idx.iter().map(|&i| step[i]).sum::<f32>())),
            );
            let score = |c: char| scores.iter().find(|s| s.0 == c).map_or(0.0, |s| s.1);
            let (mut best, mut best_p, mut best_pair) = (None, 0f32, 0f32);
            for &(c, p) in &scores {
                let pair = p + confusable(c).map_or(0.0, score);
                if pair > best_pair || (pair == best_pair && p > best_p) {
                    best = Some(c);
                    best_p = p;
                    best_pair = pair;
                }
            }
            let emitted = if best_pair > step[0] { best } else { None };
            if let Some(c) = emitted {
                if Some(c) != prev {
                    text.push(c);
                    sum += best_pair.min(1.0);
                    count += 1;
                }
            }
            prev = emitted;
        }
        Text {
            text,
            confidence: if count == 0 { 0.0 } else { sum / count as f32 },
        }
    }

    /// Probability that each line is upside down (read along its angle).
    pub fn upside_down(&self, img: &Rgb, rects: &[RotRect]) -> Result<Vec<f32>, DocError> {
        if rects.is_empty() {
            return Ok(Vec::new());
        }
        const W: usize = 192;
        let n = rects.len();
        let plane = REC_H * W;
        let mut input = vec![0f32; n * 3 * plane];
        for (k, r) in rects.iter().enumerate() {
            let w = self.rec_width(r).min(W);
            let pix = crop(img, r, w, REC_H);
            let base = k * 3 * plane;
            for y in 0..REC_H {
                for x in 0..w {
                    let p = (y * w + x) * 3;
                    for c in 0..3 {
                        input[base + c * plane + y * W + x] = pix[p + 2 - c] / 127.5 - 1.0;
                    }
                }
            }
        }
        self.with_models(|m| {
            let t = Tensor::from_array(([n, 3usize, REC_H, W], input)).map_err(infer_err)?;
            let out = m.cls.run(vouch_face::ort::inputs![t]).map_err(infer_err)?;
            let (_, p) = out[0].try_extract_tensor::<f32>().map_err(infer_err)?;
            if p.len() != n * 2 {
                return Err(infer_err("angle classifier output has an unexpected size"));
            }
            Ok(p.chunks_exact(2).map(|c| c[1]).collect())
        })
    }
}

/// The partner of an MRZ character in the OCR confusions the parser knows how to settle.
fn confusable(c: char) -> Option<char> {
    Some(match c {
        'O' => '0',
        '0' => 'O',
        'I' => '1',
        '1' => 'I',
        'S' => '5',
        '5' => 'S',
        'B' => '8',
        '8' => 'B',
        'Z' => '2',
        '2' => 'Z',
        _ => return None,
    })
}

fn mrz_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<'
}

/// The MRZ character a recogniser's other reading most likely stands for.
fn mrz_lookalike(c: char) -> Option<char> {
    match c {
        'a'..='z' => Some(c.to_ascii_uppercase()),
        '«' | '‹' | '〈' | '《' | '<' | '＜' | 'く' | '(' | '{' | '[' => Some('<'),
        '〇' | '○' | '◯' | 'Ο' | 'О' | 'ο' | 'о' => Some('O'),
        _ => None,
    }
}

/// Area-averaging resize to exactly `dw × dh`, RGB interleaved floats 0..255.
fn vouch_face_resize(img: &Rgb, dw: usize, dh: usize) -> Vec<f32> {
    let rect = RotRect {
        cx: img.width as f32 / 2.0,
        cy: img.height as f32 / 2.0,
        w: img.width as f32,
        h: img.height as f32,
        angle: 0.0,
    };
    crop(img, &rect, dw, dh)
}
