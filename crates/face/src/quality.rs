//! Image quality of a face and head pose estimated from its five landmarks.

use crate::{Face, Rgb};
use serde::Serialize;

/// Head pose in degrees, estimated from the five landmarks (coarse: good for "is the
/// face frontal" and for turn challenges, not for metrology).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Pose {
    /// Left-right rotation; positive when the face turns towards the image's right.
    pub yaw: f32,
    /// Up-down rotation; positive when the face looks up.
    pub pitch: f32,
    /// In-plane rotation; positive clockwise in the image.
    pub roll: f32,
}

/// Quality measures of a face.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Sharpness: variance of the Laplacian of the aligned face (higher is sharper;
    /// under about 50 is blurred).
    pub sharpness: f32,
    /// Mean luminance of the aligned face, 0–1.
    pub brightness: f32,
    /// Face box width in pixels.
    pub face_size: f32,
    /// Head pose.
    pub pose: Pose,
}

/// Pose from landmarks: roll from the eye line; yaw from where the nose sits between
/// the eyes; pitch from where it sits between the eyes and the mouth.
pub fn pose(face: &Face) -> Pose {
    let [le, re, nose, lm, rm] = face.landmarks;
    let eye_mid = [(le[0] + re[0]) / 2.0, (le[1] + re[1]) / 2.0];
    let mouth_mid = [(lm[0] + rm[0]) / 2.0, (lm[1] + rm[1]) / 2.0];
    let dx = re[0] - le[0];
    let dy = re[1] - le[1];
    let roll = dy.atan2(dx).to_degrees();
    let eye_dist = (dx * dx + dy * dy).sqrt().max(1.0);
    // Undo roll before measuring offsets.
    let (c, s) = (roll.to_radians().cos(), roll.to_radians().sin());
    let rot = |p: [f32; 2]| {
        let (x, y) = (p[0] - eye_mid[0], p[1] - eye_mid[1]);
        [c * x + s * y, -s * x + c * y]
    };
    let n = rot(nose);
    let m = rot(mouth_mid);
    let yaw = (2.0 * n[0] / eye_dist).clamp(-1.0, 1.0).asin().to_degrees();
    let ratio = if m[1].abs() > 1.0 { n[1] / m[1] } else { 0.5 };
    // Frontal faces put the nose tip a little over half-way down; deviation maps to pitch.
    let pitch = ((0.55 - ratio) * 150.0).clamp(-60.0, 60.0);
    Pose { yaw, pitch, roll }
}

/// Quality of an aligned face crop.
pub fn quality(aligned: &Rgb, face: &Face) -> Quality {
    let w = aligned.width as usize;
    let h = aligned.height as usize;
    let luma: Vec<f32> = aligned
        .data
        .chunks_exact(3)
        .map(|p| 0.299 * f32::from(p[0]) + 0.587 * f32::from(p[1]) + 0.114 * f32::from(p[2]))
        .collect();
    let brightness = luma.iter().sum::<f32>() / luma.len().max(1) as f32 / 255.0;
    let mut lap = Vec::with_capacity(w * h);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let i = y * w + x;
            lap.push(luma[i - 1] + luma[i + 1] + luma[i - w] + luma[i + w] - 4.0 * luma[i]);
        }
    }
    let n = lap.len().max(1) as f32;
    let mean = lap.iter().sum::<f32>() / n;
    let sharpness = lap.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    Quality {
        sharpness,
        brightness,
        face_size: face.width(),
        pose: pose(face),
    }
}
