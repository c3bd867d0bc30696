//! Writes the benchmark's phone photos (see crates/doc/benches/doc.rs) to a folder.
#![allow(clippy::unwrap_used)]
use vouch_docsynth::{render_one, CaptureSpec, DocKind, DocSpec};

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap());
    let faces =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/faces");
    let cap = CaptureSpec {
        rotation_deg: Some(6.0),
        scale: Some(0.6),
        perspective: Some(0.03),
        blur: Some(0.5),
        noise: Some(3.0),
        jpeg_quality: Some(85),
        frame: Some((1600, 1200)),
        glare: Some(false),
        brightness: Some(0.0),
        contrast: Some(1.0),
        uneven_light: Some(true),
    };
    for (name, kind) in [("passport", DocKind::Td3), ("id_card", DocKind::Td1)] {
        let doc = render_one(&DocSpec::new(kind).capture(cap.clone()), &faces, 7).unwrap();
        std::fs::write(out.join(format!("{name}.jpg")), &doc.jpeg).unwrap();
    }
}
