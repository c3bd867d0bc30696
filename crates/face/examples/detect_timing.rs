//! Prints where detection time goes on one photo: `cargo run --release -p vouch-face --example detect_timing -- PHOTO`.
#![allow(clippy::unwrap_used)]
use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let dir = std::env::var("VOUCH_MODELS_DIR").unwrap_or_else(|_| "models".into());
    let mut cfg = vouch_face::EngineConfig::new(dir);
    cfg.workers = 1;
    cfg.intra_threads = std::env::var("THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let e = vouch_face::FaceEngine::load(cfg).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let img = e.decode(&bytes).unwrap();
    for _ in 0..3 {
        e.detect(&img).unwrap();
    }
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        e.detect(&img).unwrap();
    }
    println!(
        "detect: {:.2} ms",
        t.elapsed().as_secs_f64() * 1000.0 / n as f64
    );
}
