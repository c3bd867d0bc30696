//! Passive liveness from one frame: MiniFASNetV2 (a crop 2.7× the face box) and
//! MiniFASNetV1SE (4.0×), fused as their authors fuse them (the mean of the two softmax
//! outputs; class 1 is a real face), then calibrated onto the 0–1 scale of a key's
//! liveness threshold.
//!
//! The crops follow upstream's `generate_patches.py`: the detector's box scaled about its
//! centre (shrinking the scale where the image is too small), shifted back inside the
//! image, resized to 80×80 and fed as BGR in 0–255. The box comes from MTCNN here rather
//! than upstream's RetinaFace; the calibration below was measured with MTCNN's boxes.

use crate::resize::resize_region;
use crate::{Face, FaceError, Result, Rgb};
use ort::session::Session;
use ort::value::Tensor;

/// Side of the models' square input.
const INPUT: usize = 80;
/// MiniFASNetV2's crop scale.
pub const SCALE_V2: f32 = 2.7;
/// MiniFASNetV1SE's crop scale.
pub const SCALE_V1SE: f32 = 4.0;

/// The two networks.
pub(crate) struct MiniFas {
    pub(crate) v2: Session,
    pub(crate) v1se: Session,
}

/// Upstream's crop rectangle `(x1, y1, x2, y2)`, inclusive, for a face box `[x1, y1, x2,
/// y2]` in an image of `w × h`: the box scaled by `scale` about its centre (less where
/// the image cannot hold it), moved back inside the image.
pub fn crop_box(w: u32, h: u32, bbox: [f32; 4], scale: f32) -> (i64, i64, i64, i64) {
    let (src_w, src_h) = (w as f32, h as f32);
    let box_w = (bbox[2] - bbox[0]).max(1.0);
    let box_h = (bbox[3] - bbox[1]).max(1.0);
    let scale = scale
        .min((src_h - 1.0) / box_h)
        .min((src_w - 1.0) / box_w)
        .max(0.0);
    let (new_w, new_h) = (box_w * scale, box_h * scale);
    let (cx, cy) = (bbox[0] + box_w / 2.0, bbox[1] + box_h / 2.0);
    let (mut x1, mut y1) = (cx - new_w / 2.0, cy - new_h / 2.0);
    let (mut x2, mut y2) = (cx + new_w / 2.0, cy + new_h / 2.0);
    if x1 < 0.0 {
        x2 -= x1;
        x1 = 0.0;
    }
    if y1 < 0.0 {
        y2 -= y1;
        y1 = 0.0;
    }
    if x2 > src_w - 1.0 {
        x1 -= x2 - src_w + 1.0;
        x2 = src_w - 1.0;
    }
    if y2 > src_h - 1.0 {
        y1 -= y2 - src_h + 1.0;
        y2 = src_h - 1.0;
    }
    (x1 as i64, y1 as i64, x2 as i64, y2 as i64)
}

/// The 80×80 BGR planar (CHW) input for one model.
fn input(img: &Rgb, face: &Face, scale: f32) -> Vec<f32> {
    let (x1, y1, x2, y2) = crop_box(img.width, img.height, face.bbox, scale);
    let (w, h) = ((x2 - x1 + 1).max(1) as usize, (y2 - y1 + 1).max(1) as usize);
    let rgb = resize_region(img, x1, y1, w, h, INPUT, INPUT);
    let plane = INPUT * INPUT;
    let mut out = vec![0f32; 3 * plane];
    for (i, p) in rgb.chunks_exact(3).enumerate() {
        out[i] = p[2];
        out[plane + i] = p[1];
        out[2 * plane + i] = p[0];
    }
    out
}

fn softmax_real(logits: &[f32]) -> Result<f32> {
    if logits.len() != 3 {
        return Err(FaceError::Inference(format!(
            "MiniFASNet returned {} values, 3 expected",
            logits.len()
        )));
    }
    let max = logits.iter().copied().fold(f32::MIN, f32::max);
    let exp: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    Ok(exp[1] / exp.iter().sum::<f32>())
}

fn run(session: &mut Session, data: Vec<f32>) -> Result<f32> {
    let tensor = Tensor::from_array(([1usize, 3, INPUT, INPUT], data))?;
    let outputs = session.run(ort::inputs![tensor])?;
    let (_, logits) = outputs[0].try_extract_tensor::<f32>()?;
    softmax_real(logits)
}

impl MiniFas {
    /// The fused probability that the face is real, 0–1, as upstream computes it.
    pub(crate) fn raw(&mut self, img: &Rgb, face: &Face) -> Result<f32> {
        let a = run(&mut self.v2, input(img, face, SCALE_V2))?;
        let b = run(&mut self.v1se, input(img, face, SCALE_V1SE))?;
        Ok((a + b) / 2.0)
    }
}

/// Maps upstream's fused probability onto vouch's liveness scale: a logistic curve in the
/// logit of the raw score, `1 / (1 + exp(-(A · logit(raw) + B)))`, fitted so that the key's
/// default threshold (0.85) falls on the operating point measured on the calibration
/// subjects of NUAA (docs/accuracy.md). Monotonic: it moves the threshold, it does not
/// reorder faces.
pub fn calibrate(raw: f32) -> f32 {
    let p = f64::from(raw).clamp(1e-6, 1.0 - 1e-6);
    let logit = (p / (1.0 - p)).ln();
    let z = CALIBRATION_A * logit + CALIBRATION_B;
    (1.0 / (1.0 + (-z).exp())) as f32
}

/// Slope of [`calibrate`] in the raw score's logit.
pub const CALIBRATION_A: f64 = 2.7094;
/// Offset of [`calibrate`].
pub const CALIBRATION_B: f64 = 5.4906;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_box_is_upstreams_scaled_box_moved_inside_the_image() {
        // A 100×120 box centred at (320, 240) in 640×480: 2.7× is 270×324 about the centre.
        let b = crop_box(640, 480, [270.0, 180.0, 370.0, 300.0], 2.7);
        assert_eq!(b, (185, 78, 455, 402));
        // Near the left edge: shifted right, same size.
        let b = crop_box(640, 480, [0.0, 180.0, 100.0, 300.0], 2.7);
        assert_eq!((b.0, b.2 - b.0), (0, 270));
        // Too big for the image: the scale shrinks to what fits.
        let b = crop_box(640, 480, [170.0, 40.0, 470.0, 440.0], 4.0);
        assert!(b.0 >= 0 && b.1 >= 0 && b.2 <= 639 && b.3 <= 479, "{b:?}");
    }

    #[test]
    fn the_input_is_bgr_planar() {
        let img = Rgb::new(4, 4, [10u8, 20, 30].repeat(16)).unwrap_or_else(|_| unreachable!());
        let face = Face {
            bbox: [1.0, 1.0, 3.0, 3.0],
            score: 1.0,
            landmarks: [[0.0; 2]; 5],
        };
        let v = input(&img, &face, 1.0);
        assert_eq!(v.len(), 3 * 80 * 80);
        assert!((v[0] - 30.0).abs() < 1e-3);
        assert!((v[80 * 80] - 20.0).abs() < 1e-3);
        assert!((v[2 * 80 * 80] - 10.0).abs() < 1e-3);
    }

    #[test]
    fn softmax_takes_class_one_and_refuses_other_shapes() {
        let p = softmax_real(&[0.0, 2.0, 0.0]).unwrap_or(0.0);
        assert!((p - 0.7870).abs() < 1e-3, "{p}");
        assert!(softmax_real(&[1.0, 2.0]).is_err());
    }

    #[test]
    fn calibration_is_monotonic_and_bounded() {
        let mut last = 0.0;
        for i in 1..100 {
            let c = calibrate(i as f32 / 100.0);
            // Strictly rising where it decides (f32 saturates at 1 for raw scores of 0.9+).
            assert!(c >= last && c <= 1.0, "{i}: {c}");
            assert!(i > 50 || c > last, "{i}: {c}");
            last = c;
        }
        assert!(calibrate(0.0) >= 0.0 && calibrate(1.0) <= 1.0);
        // The operating point chosen on NUAA's calibration subjects is the key's default.
        assert!((calibrate(0.2) - 0.85).abs() < 1e-3, "{}", calibrate(0.2));
    }
}
