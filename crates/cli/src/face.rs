//! `vouch face …`: the face engine from the command line — compare two photos, analyse
//! one, or evaluate accuracy on labelled pairs.

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use vouch_face::{cosine, EngineConfig, FaceEngine};

#[derive(Subcommand)]
pub enum FaceCmd {
    /// Compare the largest faces of two photos.
    Compare { a: PathBuf, b: PathBuf },
    /// Every face of a photo with box, landmarks, liveness and quality.
    Analyze { image: PathBuf },
    /// Accuracy on labelled pairs: lines `file_a file_b same|diff`.
    Eval {
        #[arg(long)]
        pairs: PathBuf,
        #[arg(long)]
        images: PathBuf,
    },
}

/// Loads the engine from `VOUCH_MODELS_DIR` (default `./models`).
pub fn engine() -> Result<FaceEngine> {
    let dir = std::env::var_os("VOUCH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("models"));
    let started = Instant::now();
    let engine = FaceEngine::load(EngineConfig::new(dir)).context("cannot load the face engine")?;
    eprintln!("models loaded in {} ms", started.elapsed().as_millis());
    Ok(engine)
}

fn load(engine: &FaceEngine, path: &Path) -> Result<vouch_face::Rgb> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    engine
        .decode(&bytes)
        .with_context(|| format!("{}", path.display()))
}

fn analysis_json(engine: &FaceEngine, img: &vouch_face::Rgb) -> Result<Vec<Value>> {
    let faces = engine.analyze(img)?;
    Ok(faces
        .iter()
        .map(|f| serde_json::to_value(f).unwrap_or(Value::Null))
        .collect())
}

pub fn run(cmd: FaceCmd) -> Result<()> {
    let engine = engine()?;
    let threshold = engine.config().match_threshold;
    match cmd {
        FaceCmd::Compare { a, b } => {
            let ia = load(&engine, &a)?;
            let ib = load(&engine, &b)?;
            let (fa, ea) = engine
                .primary_face(&ia)
                .with_context(|| format!("{}", a.display()))?;
            let (fb, eb) = engine
                .primary_face(&ib)
                .with_context(|| format!("{}", b.display()))?;
            let similarity = cosine(&ea, &eb);
            println!(
                "{}",
                json!({
                    "similarity": similarity,
                    "match": similarity >= threshold,
                    "threshold": threshold,
                    "faces": [
                        {"image": a, "bbox": fa.bbox, "score": fa.score, "landmarks": fa.landmarks},
                        {"image": b, "bbox": fb.bbox, "score": fb.score, "landmarks": fb.landmarks},
                    ],
                })
            );
        }
        FaceCmd::Analyze { image } => {
            let img = load(&engine, &image)?;
            let started = Instant::now();
            let faces = analysis_json(&engine, &img)?;
            println!(
                "{}",
                json!({"image": image, "width": img.width, "height": img.height,
                       "ms": started.elapsed().as_secs_f64() * 1000.0, "faces": faces})
            );
        }
        FaceCmd::Eval { pairs, images } => eval(&engine, &pairs, &images, threshold)?,
    }
    Ok(())
}

fn eval(engine: &FaceEngine, pairs: &Path, images: &Path, threshold: f32) -> Result<()> {
    let text = std::fs::read_to_string(pairs)
        .with_context(|| format!("cannot read {}", pairs.display()))?;
    let mut list = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        match parts.as_slice() {
            [] => continue,
            [a, b, label] if *label == "same" || *label == "diff" => {
                list.push((a.to_string(), b.to_string(), *label == "same"))
            }
            _ => bail!(
                "{}:{}: expected `file_a file_b same|diff`",
                pairs.display(),
                n + 1
            ),
        }
    }
    let mut embeddings: HashMap<String, Option<Vec<f32>>> = HashMap::new();
    let mut times = Vec::new();
    for (a, b, _) in &list {
        for name in [a, b] {
            if embeddings.contains_key(name) {
                continue;
            }
            let started = Instant::now();
            let bytes =
                std::fs::read(images.join(name)).with_context(|| format!("cannot read {name}"))?;
            let img = engine.decode(&bytes).with_context(|| name.clone())?;
            let emb = engine.primary_face(&img).ok().map(|(_, e)| e);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if emb.is_none() {
                eprintln!("no face found in {name}");
            }
            embeddings.insert(name.clone(), emb);
        }
    }
    let mut scored = Vec::new();
    for (a, b, same) in &list {
        let s = match (&embeddings[a], &embeddings[b]) {
            (Some(x), Some(y)) => cosine(x, y),
            _ => -1.0,
        };
        scored.push((a.clone(), b.clone(), *same, s));
    }
    let summary = summarise(&scored, threshold);
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let no_face: Vec<&String> = embeddings
        .iter()
        .filter(|(_, e)| e.is_none())
        .map(|(k, _)| k)
        .collect();
    println!(
        "{}",
        json!({
            "pairs": scored.iter().map(|(a, b, same, s)| json!({"a": a, "b": b, "same": same, "similarity": s})).collect::<Vec<_>>(),
            "summary": summary,
            "images": embeddings.len(),
            "noFace": no_face,
            "msPerImage": {"median": median, "mean": mean},
        })
    );
    Ok(())
}

/// Accuracy at the threshold, ROC AUC, and TAR at FAR 1 % and 0.1 %.
pub fn summarise(scored: &[(String, String, bool, f32)], threshold: f32) -> Value {
    let pos: Vec<f32> = scored.iter().filter(|s| s.2).map(|s| s.3).collect();
    let neg: Vec<f32> = scored.iter().filter(|s| !s.2).map(|s| s.3).collect();
    let correct = scored.iter().filter(|s| (s.3 >= threshold) == s.2).count();
    let accuracy = correct as f64 / scored.len().max(1) as f64;
    // AUC: probability a same pair outscores a different pair (ties count half).
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    let auc = wins / (pos.len() * neg.len()).max(1) as f64;
    let mut sorted_neg = neg.clone();
    sorted_neg.sort_by(|a, b| b.total_cmp(a));
    let tar_at = |far: f64| {
        // The threshold that lets at most far·|neg| different pairs through.
        let allowed = (far * neg.len() as f64).floor() as usize;
        let t = sorted_neg
            .get(allowed)
            .copied()
            .unwrap_or(f32::NEG_INFINITY);
        let tar = pos.iter().filter(|&&p| p > t).count() as f64 / pos.len().max(1) as f64;
        json!({"tar": tar, "threshold": t, "falseAcceptsAllowed": allowed})
    };
    json!({
        "threshold": threshold,
        "accuracy": accuracy,
        "auc": auc,
        "pairs": scored.len(),
        "same": pos.len(),
        "different": neg.len(),
        "falseAccepts": neg.iter().filter(|&&n| n >= threshold).count(),
        "falseRejects": pos.iter().filter(|&&p| p < threshold).count(),
        "tarAtFar": {"0.01": tar_at(0.01), "0.001": tar_at(0.001)},
    })
}
