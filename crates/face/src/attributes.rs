//! Age, gender and dense landmarks (eye openness, head yaw) from the HSE FaceRec and
//! MediaPipe face-mesh networks. Crops and decoding follow `models/human-notes.md`, which
//! holds the Python reference these functions are tested against.

use crate::resize::resize_region;
use crate::{Face, FaceError, Result, Rgb};
use ort::session::Session;
use ort::value::Tensor;
use serde::Serialize;

/// Age and gender estimate.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeGender {
    /// Estimated age in years (coarse: unmeasured on labelled data, see README).
    pub age: f32,
    /// Probability that the face is male.
    pub male_probability: f32,
}

/// Eye openness and head yaw from the 468-point mesh.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshMeasures {
    /// Eye aspect ratio of the eye on the image's left (the subject's right); open
    /// eyes measure about 0.2–0.4, a blink drops well below the person's own baseline.
    pub eye_left: f32,
    /// Eye aspect ratio of the eye on the image's right (the subject's left).
    pub eye_right: f32,
    /// Head yaw in degrees from the mesh depth; positive when the nose points to the
    /// image's right.
    pub yaw: f32,
    /// The mesh network's confidence that it sees a face.
    pub confidence: f32,
}

const BGR_MEANS: [f32; 3] = [103.939, 116.779, 123.68];
const EYE_IMAGE_LEFT: [usize; 6] = [33, 160, 158, 133, 153, 144];
const EYE_IMAGE_RIGHT: [usize; 6] = [362, 385, 387, 263, 373, 380];

/// The model author's crop: the box truncated, 10 px margin, clipped, stretched to 224.
fn faceres_input(img: &Rgb, face: &Face) -> Vec<f32> {
    let (w, h) = (img.width as i64, img.height as i64);
    let x1 = (face.bbox[0] as i64 - 10).max(0);
    let y1 = (face.bbox[1] as i64 - 10).max(0);
    let x2 = (face.bbox[2] as i64 + 10).min(w);
    let y2 = (face.bbox[3] as i64 + 10).min(h);
    let patch = resize_region(
        img,
        x1,
        y1,
        (x2 - x1).max(1) as usize,
        (y2 - y1).max(1) as usize,
        224,
        224,
    );
    let mut out = Vec::with_capacity(patch.len());
    for p in patch.chunks_exact(3) {
        out.push(p[2] - BGR_MEANS[0]);
        out.push(p[1] - BGR_MEANS[1]);
        out.push(p[0] - BGR_MEANS[2]);
    }
    out
}

/// Age from the 100-bin softmax: 1 + the probability-weighted mean of the top two bins.
fn decode_age(p: &[f32]) -> f32 {
    let mut idx: Vec<usize> = (0..p.len()).collect();
    idx.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
    let (i1, i2) = (idx[0], idx.get(1).copied().unwrap_or(idx[0]));
    let (p1, p2) = (p[i1], p[i2]);
    1.0 + (i1 as f32 * p1 + i2 as f32 * p2) / (p1 + p2).max(1e-12)
}

/// Estimates age and gender of one face.
pub(crate) fn age_gender(session: &mut Session, img: &Rgb, face: &Face) -> Result<AgeGender> {
    let tensor = Tensor::from_array(([1usize, 224, 224, 3], faceres_input(img, face)))?;
    let outputs = session.run(ort::inputs![tensor])?;
    let get = |name: &str| {
        outputs
            .get(name)
            .ok_or_else(|| FaceError::Inference(format!("faceres output {name} missing")))
    };
    let (_, age) = get("age")?.try_extract_tensor::<f32>()?;
    let (_, gender) = get("gender")?.try_extract_tensor::<f32>()?;
    Ok(AgeGender {
        age: decode_age(age),
        male_probability: gender.first().copied().unwrap_or(0.5),
    })
}

/// The mesh crop: a square 1.3× the box's longer side, centred a tenth of the box
/// height below its centre.
fn mesh_crop(face: &Face) -> (i64, i64, usize) {
    let w = face.bbox[2] - face.bbox[0];
    let h = face.bbox[3] - face.bbox[1];
    let side = (1.3 * w.max(h) + 0.5).floor().max(1.0);
    let cx = (face.bbox[0] + face.bbox[2]) / 2.0;
    let cy = (face.bbox[1] + face.bbox[3]) / 2.0 + 0.1 * h;
    (
        (cx - side / 2.0 + 0.5).floor() as i64,
        (cy - side / 2.0 + 0.5).floor() as i64,
        side as usize,
    )
}

fn ear(mesh: &[f32], idx: [usize; 6]) -> f32 {
    let p = |i: usize| (mesh[idx[i] * 3], mesh[idx[i] * 3 + 1]);
    let d = |a: (f32, f32), b: (f32, f32)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    (d(p(1), p(5)) + d(p(2), p(4))) / (2.0 * d(p(0), p(3))).max(1e-6)
}

/// Eye openness and yaw of one face.
pub(crate) fn mesh_measures(session: &mut Session, img: &Rgb, face: &Face) -> Result<MeshMeasures> {
    let (x0, y0, side) = mesh_crop(face);
    let input: Vec<f32> = resize_region(img, x0, y0, side, side, 192, 192)
        .iter()
        .map(|v| v / 255.0)
        .collect();
    let tensor = Tensor::from_array(([1usize, 192, 192, 3], input))?;
    let outputs = session.run(ort::inputs![tensor])?;
    let (_, mesh) = outputs
        .get("mesh")
        .ok_or_else(|| FaceError::Inference("facemesh output mesh missing".into()))?
        .try_extract_tensor::<f32>()?;
    let (_, flag) = outputs
        .get("faceflag")
        .ok_or_else(|| FaceError::Inference("facemesh output faceflag missing".into()))?
        .try_extract_tensor::<f32>()?;
    if mesh.len() < 468 * 3 {
        return Err(FaceError::Inference(
            "facemesh returned too few points".into(),
        ));
    }
    let (x234, z234) = (mesh[234 * 3], mesh[234 * 3 + 2]);
    let (x454, z454) = (mesh[454 * 3], mesh[454 * 3 + 2]);
    Ok(MeshMeasures {
        eye_left: ear(mesh, EYE_IMAGE_LEFT),
        eye_right: ear(mesh, EYE_IMAGE_RIGHT),
        yaw: (z454 - z234).atan2(x454 - x234).to_degrees(),
        confidence: flag.first().copied().unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_is_the_weighted_mean_of_the_top_two_bins_plus_one() {
        let mut p = vec![0.0f32; 100];
        p[31] = 0.11453;
        p[30] = 0.07639;
        p[50] = 0.01;
        assert!((decode_age(&p) - 31.60).abs() < 0.01, "{}", decode_age(&p));
    }

    #[test]
    fn crops_match_the_reference_rectangles() {
        let face = Face {
            bbox: [90.3, 104.3, 272.3, 356.4],
            score: 1.0,
            landmarks: [[0.0; 2]; 5],
        };
        assert_eq!(mesh_crop(&face), (17, 92, 328));
    }
}
