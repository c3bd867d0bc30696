//! What the browser tests show Chromium's fake camera and file picker: footage of an eval
//! face (vouch-docsynth's `camera`: a person who blinks, or a photo held still) as y4m,
//! and a synthetic passport whose portrait is that face.

use std::path::{Path, PathBuf};
use vouch_docsynth::camera::{frames, write_y4m, Eyes, Footage};

/// The eval photo `face` and where the face engine finds its eyes (so that the painted
/// blink lands on them).
fn photo_and_eyes(face: &str) -> (image::RgbImage, Eyes) {
    let bytes = std::fs::read(crate::eval_path("faces").join(face))
        .unwrap_or_else(|e| panic!("eval face {face}: {e}"));
    let engine = &crate::shared_engines().face;
    let decoded = engine
        .decode(&bytes)
        .unwrap_or_else(|e| panic!("{face}: {e}"));
    let found = engine
        .analyze(&decoded)
        .unwrap_or_else(|e| panic!("{face}: {e}"));
    let l = found
        .first()
        .unwrap_or_else(|| panic!("{face}: no face found"))
        .face
        .landmarks;
    let eyes = Eyes {
        left: (l[0][0], l[0][1]),
        right: (l[1][0], l[1][1]),
    };
    let photo = image::load_from_memory(&bytes)
        .unwrap_or_else(|e| panic!("{face}: {e}"))
        .to_rgb8();
    (photo, eyes)
}

/// Footage of the eval face `face` played by `script`, written as y4m into `dir`. The
/// eyes are placed from the face engine's landmarks, so the painted blink lands on them.
pub fn footage(dir: &Path, face: &str, script: &Footage) -> PathBuf {
    let (photo, eyes) = photo_and_eyes(face);
    let path = dir.join(format!("{face}.{}.y4m", script.shots.len()));
    let file = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    write_y4m(
        &frames(&photo, eyes, script),
        script.fps,
        &mut std::io::BufWriter::new(file),
    )
    .unwrap_or_else(|e| panic!("{path:?}: {e}"));
    path
}

/// A synthetic passport photo (valid MRZ, expiry in the future) whose portrait is the
/// eval face `face`, written as JPEG into `dir`. Seed 2 is one the reader reads in full
/// (it finds the surname and birth date in the visual zone of 8 of 11 seeds; the others
/// go to REVIEW, measured in the document engine's evaluation): the browser tests are
/// about the flow, not the reader's accuracy.
pub fn passport(dir: &Path, face: &str) -> PathBuf {
    let faces = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    std::fs::copy(
        crate::eval_path("faces").join(face),
        faces.path().join(face),
    )
    .unwrap_or_else(|e| panic!("eval face {face}: {e}"));
    let spec = vouch_docsynth::DocSpec::new(vouch_docsynth::document::DocKind::Td3)
        .capture(vouch_docsynth::photo::CaptureSpec::clean());
    let doc = vouch_docsynth::render_one(&spec, faces.path(), 2)
        .unwrap_or_else(|e| panic!("passport of {face}: {e}"));
    let path = dir.join(format!("passport-{face}"));
    std::fs::write(&path, doc.jpeg).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    path
}

/// Eight frames of footage of the eval face `face`, as the hosted page samples them
/// (every third frame of the 15 fps script), each a base64 JPEG: the body of a selfie.
pub fn selfie_frames(face: &str, script: &Footage) -> Vec<String> {
    use base64::Engine as _;
    let (photo, eyes) = photo_and_eyes(face);
    frames(&photo, eyes, script)
        .iter()
        .step_by(3)
        .take(8)
        .map(|f| {
            let jpeg = vouch_docsynth::photo::jpeg(f, 90).unwrap_or_else(|e| panic!("{e}"));
            base64::engine::general_purpose::STANDARD.encode(jpeg)
        })
        .collect()
}
