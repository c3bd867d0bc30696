//! Fuzzes decoding and detection: any bytes must give an image or a clean error, and any
//! decoded image must give faces or a clean error, and MRZ band candidates (the document
//! reader's fast path: locator, cell sampling, classifier) or none, without panics or
//! unbounded memory.
//! Run: `scripts/fuzz.sh [seconds]` (needs the models: scripts/fetch-models.sh).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use vouch_face::{DecodeLimits, EngineConfig, FaceEngine};

fn engine() -> &'static FaceEngine {
    static ENGINE: OnceLock<FaceEngine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let dir = std::env::var("VOUCH_MODELS_DIR").unwrap_or_else(|_| "../models".into());
        let mut cfg = EngineConfig::new(dir);
        cfg.workers = 1;
        // Small limits keep each run fast; the limit logic is what is under test.
        cfg.decode = DecodeLimits {
            max_bytes: 1 << 20,
            max_side: 2048,
            max_pixels: 1 << 22,
        };
        FaceEngine::load(cfg).expect("models")
    })
}

fuzz_target!(|data: &[u8]| {
    let e = engine();
    if let Ok(img) = e.decode(data) {
        let _ = e.detect(&img);
        let gray = vouch_doc::fastmrz::Gray::of(&img);
        if let Some(band) = vouch_doc::fastmrz::locate(&gray).first() {
            let span = vouch_doc::fastmrz::Span::Union;
            for n in vouch_doc::fastmrz::lengths(band) {
                if let (Some((patches, _)), Some(c)) = (
                    vouch_doc::fastmrz::band_patches(&gray, band, n, true, span),
                    vouch_doc::fastmrz::Classifier::embedded(),
                ) {
                    let _ = c.read(&patches, n);
                }
            }
        }
    }
});
