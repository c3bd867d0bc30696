//! Times each stage of the face engine on one image: `cargo run --release -p vouch-face
//! --example stage_times -- IMAGE [RUNS]` (models from VOUCH_MODELS_DIR or ./models).
use std::time::Instant;
use vouch_face::{EngineConfig, FaceEngine};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: stage_times IMAGE [RUNS]")?;
    let runs: usize = args.next().map_or(Ok(10), |r| r.parse())?;
    let dir = std::env::var("VOUCH_MODELS_DIR").unwrap_or_else(|_| "models".into());
    let mut cfg = EngineConfig::new(dir);
    cfg.workers = 1;
    let engine = FaceEngine::load(cfg)?;
    let bytes = std::fs::read(&path)?;
    let mut t = [0f64; 7];
    for run in 0..=runs {
        let s = Instant::now();
        let img = engine.decode(&bytes)?;
        let a = s.elapsed().as_secs_f64();
        let faces = engine.detect(&img)?;
        let b = s.elapsed().as_secs_f64();
        let (_, _) = engine.analyze_largest(&img, vouch_face::Measure::default())?;
        let c = s.elapsed().as_secs_f64();
        let face = &faces[0];
        engine.embed(&img, face)?;
        let d = s.elapsed().as_secs_f64();
        engine.liveness(&img, face)?;
        let e = s.elapsed().as_secs_f64();
        engine.age_gender(&img, face)?;
        let f = s.elapsed().as_secs_f64();
        engine.mesh(&img, face)?;
        let g = s.elapsed().as_secs_f64();
        if run > 0 {
            for (acc, v) in t
                .iter_mut()
                .zip([a, b - a, c - b, d - c, e - d, f - e, g - f])
            {
                *acc += v * 1000.0 / runs as f64;
            }
        }
    }
    println!(
        "{path}: decode {:.1} ms, detect {:.1}, analyze_largest(embedding only) {:.1}, embed {:.1}, liveness {:.1}, age {:.1}, mesh {:.1}",
        t[0], t[1], t[2], t[3], t[4], t[5], t[6]
    );
    Ok(())
}
