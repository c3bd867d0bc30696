//! Face detection with MTCNN (P-Net proposals over an image pyramid, R-Net refinement,
//! O-Net boxes and five landmarks). The networks were trained on transposed images
//! (column-major), so every input goes in as [N, width, height, 3] and P-Net's maps come
//! back transposed.

use crate::resize::{resize, resize_region};
use crate::{FaceError, Result, Rgb};
use ort::session::Session;
use ort::value::Tensor;
use serde::Serialize;

/// A detected face, in the coordinates of the image it was found in.
#[derive(Debug, Clone, Serialize)]
pub struct Face {
    /// Box `[x1, y1, x2, y2]`.
    pub bbox: [f32; 4],
    /// Detector confidence, 0–1.
    pub score: f32,
    /// Left eye, right eye, nose, left mouth corner, right mouth corner (as seen in the
    /// image: "left" is the one with the smaller x).
    pub landmarks: [[f32; 2]; 5],
}

impl Face {
    /// Box width.
    pub fn width(&self) -> f32 {
        self.bbox[2] - self.bbox[0]
    }

    /// Box height.
    pub fn height(&self) -> f32 {
        self.bbox[3] - self.bbox[1]
    }
}

/// Detector settings.
#[derive(Debug, Clone, Copy)]
pub struct DetectConfig {
    /// Smallest face to find, in pixels of the original image.
    pub min_face: f32,
    /// Score thresholds of the three stages.
    pub thresholds: [f32; 3],
    /// Pyramid scale step.
    pub scale_factor: f32,
    /// Photos larger than this (longest side) are shrunk before detection; boxes and
    /// landmarks are mapped back to full resolution.
    pub max_side: u32,
}

impl Default for DetectConfig {
    /// The one configuration every capture is searched with (selfies, enrolment, verify,
    /// presence, the CLI): faces from 48 px wide. The person verifying must be at least
    /// 80 px wide, and anyone smaller than 48 px is far in the background; the pyramid
    /// starting at 48 px is a third cheaper than at 40.
    fn default() -> Self {
        DetectConfig {
            min_face: 48.0,
            thresholds: [0.6, 0.7, 0.7],
            scale_factor: 0.709,
            max_side: 960,
        }
    }
}

/// The three MTCNN networks.
pub struct Mtcnn {
    pub(crate) pnet: Session,
    pub(crate) rnet: Session,
    pub(crate) onet: Session,
}

#[derive(Clone, Copy, Debug)]
struct Cand {
    b: [f32; 4],
    score: f32,
    reg: [f32; 4],
}

fn iou(a: &[f32; 4], b: &[f32; 4], min_mode: bool) -> f32 {
    let area = |r: &[f32; 4]| (r[2] - r[0] + 1.0) * (r[3] - r[1] + 1.0);
    let w = (a[2].min(b[2]) - a[0].max(b[0]) + 1.0).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1]) + 1.0).max(0.0);
    let inter = w * h;
    if min_mode {
        inter / area(a).min(area(b))
    } else {
        inter / (area(a) + area(b) - inter)
    }
}

/// Non-maximum suppression; returns the indices kept, best first.
fn nms(boxes: &[[f32; 4]], scores: &[f32], threshold: f32, min_mode: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut keep = Vec::new();
    let mut dead = vec![false; boxes.len()];
    for (pos, &i) in order.iter().enumerate() {
        if dead[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[pos + 1..] {
            if !dead[j] && iou(&boxes[i], &boxes[j], min_mode) > threshold {
                dead[j] = true;
            }
        }
    }
    keep
}

fn square(b: [f32; 4]) -> [f32; 4] {
    let w = b[2] - b[0];
    let h = b[3] - b[1];
    let l = w.max(h);
    let x1 = b[0] + w * 0.5 - l * 0.5;
    let y1 = b[1] + h * 0.5 - l * 0.5;
    [x1, y1, x1 + l, y1 + l]
}

fn refine(b: [f32; 4], reg: [f32; 4]) -> [f32; 4] {
    let w = b[2] - b[0] + 1.0;
    let h = b[3] - b[1] + 1.0;
    [
        b[0] + reg[0] * w,
        b[1] + reg[1] * h,
        b[2] + reg[2] * w,
        b[3] + reg[3] * h,
    ]
}

fn fix(b: [f32; 4]) -> [f32; 4] {
    b.map(f32::trunc)
}

/// Crops boxes (zero-padded outside the image), resizes each to `size`, normalises and
/// lays them out transposed: [N, size(x), size(y), 3].
fn crops(img: &Rgb, boxes: &[[f32; 4]], size: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(boxes.len() * size * size * 3);
    for b in boxes {
        let x1 = b[0] as i64 - 1;
        let y1 = b[1] as i64 - 1;
        let w = (b[2] - b[0] + 1.0).max(1.0) as usize;
        let h = (b[3] - b[1] + 1.0).max(1.0) as usize;
        let patch = resize_region(img, x1, y1, w, h, size, size);
        for x in 0..size {
            for y in 0..size {
                let p = (y * size + x) * 3;
                for c in 0..3 {
                    out.push((patch[p + c] - 127.5) * 0.0078125);
                }
            }
        }
    }
    out
}

fn output<'a>(
    outputs: &'a ort::session::SessionOutputs<'_>,
    name: &str,
) -> Result<(Vec<i64>, &'a [f32])> {
    let value = outputs
        .get(name)
        .ok_or_else(|| FaceError::Inference(format!("model output {name} missing")))?;
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    Ok((shape.iter().copied().collect(), data))
}

impl Mtcnn {
    /// Finds faces in `img`, best score first.
    pub fn detect(&mut self, img: &Rgb, cfg: &DetectConfig) -> Result<Vec<Face>> {
        // Work on a reduced copy of large photos; the pyramid never needs more.
        let longest = img.width.max(img.height);
        let (work, back) = if longest > cfg.max_side {
            let s = cfg.max_side as f32 / longest as f32;
            let w = ((img.width as f32 * s).round() as u32).max(1);
            let h = ((img.height as f32 * s).round() as u32).max(1);
            let small = crate::resize::to_rgb(&resize(img, w as usize, h as usize), w, h);
            (small, img.width as f32 / w as f32)
        } else {
            (img.clone(), 1.0)
        };
        let min_face = (cfg.min_face / back).max(12.0);
        let mut faces = self.detect_inner(&work, min_face, cfg)?;
        self.refine_landmarks(&work, &mut faces)?;
        if back != 1.0 {
            for f in &mut faces {
                f.bbox = f.bbox.map(|v| v * back);
                for p in &mut f.landmarks {
                    p[0] *= back;
                    p[1] *= back;
                }
            }
        }
        Ok(faces)
    }

    fn detect_inner(&mut self, img: &Rgb, min_face: f32, cfg: &DetectConfig) -> Result<Vec<Face>> {
        let (w, h) = (img.width as f32, img.height as f32);
        let m = 12.0 / min_face;
        let mut min_layer = w.min(h) * m;
        let mut scales = Vec::new();
        let mut s = m;
        while min_layer >= 12.0 {
            scales.push(s);
            s *= cfg.scale_factor;
            min_layer *= cfg.scale_factor;
        }
        // Stage 1: proposals at every scale. Each pyramid level is shrunk from the one
        // before (not from the photo), which costs a fraction of the work.
        let mut cands: Vec<Cand> = Vec::new();
        let mut previous: Option<Rgb> = None;
        for &scale in &scales {
            let ws = (w * scale).ceil() as usize;
            let hs = (h * scale).ceil() as usize;
            if ws < 12 || hs < 12 {
                continue;
            }
            let scaled = resize(previous.as_ref().unwrap_or(img), ws, hs);
            previous = Some(crate::resize::to_rgb(&scaled, ws as u32, hs as u32));
            let mut input = vec![0f32; ws * hs * 3];
            for y in 0..hs {
                for x in 0..ws {
                    let s = (y * ws + x) * 3;
                    let d = (x * hs + y) * 3;
                    for c in 0..3 {
                        input[d + c] = (scaled[s + c] - 127.5) * 0.0078125;
                    }
                }
            }
            let tensor = Tensor::from_array(([1usize, ws, hs, 3], input))?;
            let outputs = self.pnet.run(ort::inputs![tensor])?;
            let (rshape, reg) = output(&outputs, "conv2d_4")?;
            let (_, prob) = output(&outputs, "softmax")?;
            let (ow, oh) = (rshape[1] as usize, rshape[2] as usize);
            let mut level = Vec::new();
            for c in 0..ow {
                for r in 0..oh {
                    let i = c * oh + r;
                    let score = prob[i * 2 + 1];
                    if score >= cfg.thresholds[0] {
                        let (cf, rf) = (c as f32, r as f32);
                        level.push(Cand {
                            b: [
                                ((2.0 * cf + 1.0) / scale).trunc(),
                                ((2.0 * rf + 1.0) / scale).trunc(),
                                ((2.0 * cf + 12.0) / scale).trunc(),
                                ((2.0 * rf + 12.0) / scale).trunc(),
                            ],
                            score,
                            reg: [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]],
                        });
                    }
                }
            }
            let boxes: Vec<[f32; 4]> = level.iter().map(|c| c.b).collect();
            let scores: Vec<f32> = level.iter().map(|c| c.score).collect();
            for i in nms(&boxes, &scores, 0.5, false) {
                cands.push(level[i]);
            }
        }
        if cands.is_empty() {
            return Ok(Vec::new());
        }
        let boxes: Vec<[f32; 4]> = cands.iter().map(|c| c.b).collect();
        let scores: Vec<f32> = cands.iter().map(|c| c.score).collect();
        let mut stage1: Vec<([f32; 4], f32)> = nms(&boxes, &scores, 0.7, false)
            .into_iter()
            .map(|i| {
                let c = cands[i];
                let rw = c.b[2] - c.b[0];
                let rh = c.b[3] - c.b[1];
                let b = [
                    c.b[0] + c.reg[0] * rw,
                    c.b[1] + c.reg[1] * rh,
                    c.b[2] + c.reg[2] * rw,
                    c.b[3] + c.reg[3] * rh,
                ];
                (fix(square(b)), c.score)
            })
            .collect();
        // Bound the work of the later stages on pathological images.
        stage1.truncate(2000);

        // Stage 2: refine.
        let boxes: Vec<[f32; 4]> = stage1.iter().map(|c| c.0).collect();
        let input = crops(img, &boxes, 24);
        let tensor = Tensor::from_array(([boxes.len(), 24, 24, 3], input))?;
        let outputs = self.rnet.run(ort::inputs![tensor])?;
        let (_, reg) = output(&outputs, "dense_2")?;
        let (_, prob) = output(&outputs, "softmax_1")?;
        let mut kept: Vec<([f32; 4], f32, [f32; 4])> = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let score = prob[i * 2 + 1];
            if score > cfg.thresholds[1] {
                kept.push((
                    *b,
                    score,
                    [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]],
                ));
            }
        }
        if kept.is_empty() {
            return Ok(Vec::new());
        }
        let kb: Vec<[f32; 4]> = kept.iter().map(|k| k.0).collect();
        let ks: Vec<f32> = kept.iter().map(|k| k.1).collect();
        let stage2: Vec<[f32; 4]> = nms(&kb, &ks, 0.7, false)
            .into_iter()
            .map(|i| fix(square(refine(kept[i].0, kept[i].2))))
            .collect();

        // Stage 3: output boxes and landmarks.
        let input = crops(img, &stage2, 48);
        let tensor = Tensor::from_array(([stage2.len(), 48, 48, 3], input))?;
        let outputs = self.onet.run(ort::inputs![tensor])?;
        let (_, reg) = output(&outputs, "dense_5")?;
        let (_, pts) = output(&outputs, "dense_6")?;
        let (_, prob) = output(&outputs, "softmax_2")?;
        let mut faces = Vec::new();
        for (i, b) in stage2.iter().enumerate() {
            let score = prob[i * 2 + 1];
            if score <= cfg.thresholds[2] {
                continue;
            }
            let bw = b[2] - b[0] + 1.0;
            let bh = b[3] - b[1] + 1.0;
            let mut landmarks = [[0f32; 2]; 5];
            for (k, lm) in landmarks.iter_mut().enumerate() {
                lm[0] = bw * pts[i * 10 + k] + b[0] - 1.0;
                lm[1] = bh * pts[i * 10 + 5 + k] + b[1] - 1.0;
            }
            let r = [reg[i * 4], reg[i * 4 + 1], reg[i * 4 + 2], reg[i * 4 + 3]];
            let fb = refine(*b, r);
            faces.push(Face {
                bbox: [fb[0].max(0.0), fb[1].max(0.0), fb[2].min(w), fb[3].min(h)],
                score,
                landmarks,
            });
        }
        let fb: Vec<[f32; 4]> = faces.iter().map(|f| f.bbox).collect();
        let fs: Vec<f32> = faces.iter().map(|f| f.score).collect();
        let keep = nms(&fb, &fs, 0.7, true);
        let mut out: Vec<Face> = keep.into_iter().map(|i| faces[i].clone()).collect();
        out.retain(|f| f.width() >= min_face * 0.5 && f.height() >= min_face * 0.5);
        Ok(out)
    }

    /// Runs O-Net once more on the square around each final box and takes the landmarks
    /// from that pass. The first pass sees the stage-2 box, which can sit a tenth of a face
    /// off; landmarks read from a centred box move less with the pyramid and align better
    /// (LFW, every pair: FNMR at FMR 1e-3 3.1% → 2.7%, at the default threshold 6.3% →
    /// 6.0%; docs/accuracy.md).
    fn refine_landmarks(&mut self, img: &Rgb, faces: &mut [Face]) -> Result<()> {
        if faces.is_empty() {
            return Ok(());
        }
        let boxes: Vec<[f32; 4]> = faces.iter().map(|f| fix(square(f.bbox))).collect();
        let input = crops(img, &boxes, 48);
        let tensor = Tensor::from_array(([boxes.len(), 48, 48, 3], input))?;
        let outputs = self.onet.run(ort::inputs![tensor])?;
        let (_, pts) = output(&outputs, "dense_6")?;
        for (i, (f, b)) in faces.iter_mut().zip(&boxes).enumerate() {
            let bw = b[2] - b[0] + 1.0;
            let bh = b[3] - b[1] + 1.0;
            for (k, lm) in f.landmarks.iter_mut().enumerate() {
                lm[0] = bw * pts[i * 10 + k] + b[0] - 1.0;
                lm[1] = bh * pts[i * 10 + 5 + k] + b[1] - 1.0;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 11.0, 11.0],
            [50.0, 50.0, 60.0, 60.0],
        ];
        let keep = nms(&boxes, &[0.5, 0.9, 0.7], 0.5, false);
        assert_eq!(keep, vec![1, 2]);
    }

    #[test]
    fn square_keeps_the_centre() {
        let s = square([0.0, 0.0, 10.0, 20.0]);
        assert_eq!(s, [-5.0, 0.0, 15.0, 20.0]);
    }
}
