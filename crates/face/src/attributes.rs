//! Age and gender (face-api.js's AgeGenderNet) and dense landmarks (eye openness, head
//! yaw: MediaPipe Face Mesh). Crops and decoding follow the Python references these
//! functions are tested against: `models/scripts/agegender_ref.py` and
//! `models/human-notes.md`.

use crate::resize::resize_region;
use crate::{Face, FaceError, Result, Rgb};
use ort::session::Session;
use ort::value::Tensor;
use serde::Serialize;

/// Age and gender estimate.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AgeGender {
    /// Estimated age in years (AgeGenderNet's regression; measured on UTKFace:
    /// docs/accuracy.md).
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

const EYE_IMAGE_LEFT: [usize; 6] = [33, 160, 158, 133, 153, 144];
const EYE_IMAGE_RIGHT: [usize; 6] = [362, 385, 387, 263, 373, 380];

/// AgeGenderNet's input side.
const AGE_INPUT: usize = 112;

/// The crop face-api.js feeds AgeGenderNet: the detector's box grown by a tenth of its
/// width and height on each side (rounded outwards, clipped to the image), cut out, padded
/// with black to a centred square, resampled to 112×112; RGB 0–255 (the graph normalises).
fn agegender_input(img: &Rgb, face: &Face) -> Vec<f32> {
    let (w, h) = (face.width(), face.height());
    let x1 = ((face.bbox[0] - 0.1 * w).floor() as i64).clamp(0, i64::from(img.width));
    let y1 = ((face.bbox[1] - 0.1 * h).floor() as i64).clamp(0, i64::from(img.height));
    let x2 = ((face.bbox[2] + 0.1 * w).ceil() as i64).clamp(x1, i64::from(img.width));
    let y2 = ((face.bbox[3] + 0.1 * h).ceil() as i64).clamp(y1, i64::from(img.height));
    let (cw, ch) = ((x2 - x1).max(1) as usize, (y2 - y1).max(1) as usize);
    // Cut first, then pad: the padding is black even where the photo goes on.
    let mut data = Vec::with_capacity(cw * ch * 3);
    for y in y1..y1 + ch as i64 {
        for x in x1..x1 + cw as i64 {
            data.extend_from_slice(&img.get(x, y));
        }
    }
    let crop = Rgb {
        width: cw as u32,
        height: ch as u32,
        data,
    };
    let side = cw.max(ch);
    let (bx, by) = ((side - cw) / 2, (side - ch) / 2);
    resize_region(
        &crop,
        -(bx as i64),
        -(by as i64),
        side,
        side,
        AGE_INPUT,
        AGE_INPUT,
    )
}

/// Estimates age and gender of one face.
pub(crate) fn age_gender(session: &mut Session, img: &Rgb, face: &Face) -> Result<AgeGender> {
    let input = agegender_input(img, face);
    let tensor = Tensor::from_array(([1usize, AGE_INPUT, AGE_INPUT, 3], input))?;
    let outputs = session.run(ort::inputs![tensor])?;
    let get = |name: &str| {
        outputs
            .get(name)
            .ok_or_else(|| FaceError::Inference(format!("age model output {name} missing")))
    };
    let (_, age) = get("age")?.try_extract_tensor::<f32>()?;
    let (_, gender) = get("gender")?.try_extract_tensor::<f32>()?;
    Ok(AgeGender {
        age: age.first().copied().unwrap_or(0.0).max(0.0),
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
    fn the_age_crop_is_padded_black_to_a_centred_square() {
        // A 100×60 white image, a box over all of it: the crop is the whole image (the
        // grown box is clipped), padded top and bottom with 20 black rows each.
        let img = Rgb::new(100, 60, vec![255; 100 * 60 * 3]).unwrap_or_else(|_| unreachable!());
        let face = Face {
            bbox: [0.0, 0.0, 100.0, 60.0],
            score: 1.0,
            landmarks: [[0.0; 2]; 5],
        };
        let v = agegender_input(&img, &face);
        assert_eq!(v.len(), 112 * 112 * 3);
        let at = |x: usize, y: usize| v[(y * 112 + x) * 3];
        assert_eq!(at(56, 5), 0.0, "black padding above");
        assert_eq!(at(56, 106), 0.0, "black padding below");
        assert!((at(56, 56) - 255.0).abs() < 1e-3, "the image in the middle");
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
