//! Frame consistency across a capture sequence: the same person in every frame, and the
//! small natural differences of a live camera (a replayed still repeats frames exactly).

use crate::{cosine, FaceAnalysis, Rgb};
use serde::Serialize;

/// The similarity at or above which two frames of one capture show the same person. Looser
/// than the engine's match threshold (0.54, set for FMR 1e-4 across a gallery): here the
/// question is only whether somebody else stepped in mid-capture, and frames with the eyes
/// shut (a blink) or the head turned score lower against the first frame than two open-eyed
/// photos would. On LFW, 0.5 lets 2.5 in 10,000 different people through
/// (docs/accuracy.md); a swap must also survive the passive and active checks.
pub const SAME_PERSON_IN_SEQUENCE: f32 = 0.5;

/// What a sequence of frames says about itself.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consistency {
    /// Frames analysed.
    pub frames: usize,
    /// Lowest cosine similarity between any frame's face and the first frame's.
    pub min_similarity: f32,
    /// Whether every frame shows the same person (similarity at or above the threshold).
    pub same_person: bool,
    /// Pairs of consecutive frames that are identical or nearly so (mean absolute pixel
    /// difference of the face region under 0.5 of 255).
    pub repeated_frames: usize,
    /// Mean landmark movement between consecutive frames, in face widths.
    pub landmark_motion: f32,
    /// Same person, at most a quarter of the consecutive pairs repeated, some motion.
    pub consistent: bool,
}

/// One frame: the image and the analysis of its primary face.
pub struct Frame<'a> {
    /// The decoded frame.
    pub image: &'a Rgb,
    /// Its primary face.
    pub face: &'a FaceAnalysis,
}

fn face_pixels_differ(a: &Frame<'_>, b: &Frame<'_>) -> f32 {
    // Compare the face boxes sampled on a 32×32 grid: cheap and resolution-independent.
    let sample = |f: &Frame<'_>, gx: usize, gy: usize| {
        let bb = f.face.face.bbox;
        let x = bb[0] + (bb[2] - bb[0]) * (gx as f32 + 0.5) / 32.0;
        let y = bb[1] + (bb[3] - bb[1]) * (gy as f32 + 0.5) / 32.0;
        f.image.get(x as i64, y as i64)
    };
    let mut total = 0f32;
    for gy in 0..32 {
        for gx in 0..32 {
            let (p, q) = (sample(a, gx, gy), sample(b, gx, gy));
            for c in 0..3 {
                total += (f32::from(p[c]) - f32::from(q[c])).abs();
            }
        }
    }
    total / (32.0 * 32.0 * 3.0)
}

/// Judges a sequence; `threshold` is the match threshold for "same person".
pub fn consistency(frames: &[Frame<'_>], threshold: f32) -> Consistency {
    let n = frames.len();
    let first = frames.first().map(|f| &f.face.embedding);
    let min_similarity = frames
        .iter()
        .skip(1)
        .filter_map(|f| first.map(|e| cosine(e, &f.face.embedding)))
        .fold(1.0f32, f32::min);
    let mut repeated = 0;
    let mut motion = 0f32;
    for w in frames.windows(2) {
        if face_pixels_differ(&w[0], &w[1]) < 0.5 {
            repeated += 1;
        }
        let width = w[0].face.face.width().max(1.0);
        let moved: f32 = w[0]
            .face
            .face
            .landmarks
            .iter()
            .zip(&w[1].face.face.landmarks)
            .map(|(p, q)| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt())
            .sum::<f32>()
            / 5.0;
        motion += moved / width;
    }
    let landmark_motion = if n > 1 { motion / (n - 1) as f32 } else { 0.0 };
    let same_person = min_similarity >= threshold;
    Consistency {
        frames: n,
        min_similarity,
        same_person,
        repeated_frames: repeated,
        landmark_motion,
        // A real camera repeats a frame now and then (the page samples faster than a dim
        // webcam delivers, or the browser is busy); a replayed still repeats every frame.
        consistent: n >= 2 && same_person && repeated * 4 < n && landmark_motion > 0.002,
    }
}
