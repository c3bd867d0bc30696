//! End-to-end liveness on frame sequences: for each face photo, `vouch-footage` renders a
//! live capture (the person blinks, the hand-held camera sways) and two attacks (the same
//! photo held to the camera: it sways, never blinks; and the photo replayed as every
//! frame), and, with `--attacks DIR`, each image of a `vouch-attacks` set (a print or a
//! screen replay) filmed the same way. Every sequence goes through the server's own
//! analysis (`analyse_selfie`) and the session policy (`policy::liveness`) at the key's
//! default thresholds, and the decisions are counted: BPCER over the live sequences,
//! APCER by attack type (a REVIEW is neither a pass nor a fail: it is counted apart).
//!
//! usage: cargo run --release -p vouch-server --example eval_sequences --
//!        --models DIR --images DIR [--list FILE] [--limit N] [--attacks DIR]
//!
//! JSON on stdout (per sequence and a summary), progress on stderr.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use vouch_core::check::Thresholds;
use vouch_core::policy::{self, Outcome};
use vouch_docsynth::camera::{frames, Eyes, Footage};
use vouch_server::analysis::{analyse_selfie, CaptureError};

/// Frames the hosted page sends: 8, one every 200 ms of 15 fps footage.
const FRAMES: usize = 8;
const STEP: usize = 3;

struct Args {
    models: PathBuf,
    images: PathBuf,
    list: Option<PathBuf>,
    limit: usize,
    attacks: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        models: PathBuf::from("models"),
        images: PathBuf::new(),
        list: None,
        limit: usize::MAX,
        attacks: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--models" => a.models = value()?.into(),
            "--images" => a.images = value()?.into(),
            "--list" => a.list = Some(value()?.into()),
            "--limit" => a.limit = value()?.parse().map_err(|e| format!("--limit: {e}"))?,
            "--attacks" => a.attacks = Some(value()?.into()),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if a.images.as_os_str().is_empty() {
        return Err("--images DIR is required".into());
    }
    Ok(a)
}

fn sources(a: &Args) -> Result<Vec<PathBuf>, String> {
    let mut out = match &a.list {
        Some(list) => std::fs::read_to_string(list)
            .map_err(|e| format!("{}: {e}", list.display()))?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| a.images.join(l.trim()))
            .collect(),
        None => vouch_docsynth::list_faces(&a.images).map_err(|e| e.to_string())?,
    };
    out.truncate(a.limit);
    Ok(out)
}

fn jpeg(img: &image::RgbImage) -> Result<Vec<u8>, String> {
    vouch_docsynth::photo::jpeg(img, 90).map_err(|e| e.to_string())
}

/// Eyes this far apart in the frame: a face at arm's length from a 640×480 webcam
/// (`vouch-footage` frames the eyes a fifth of the width apart, never enlarging).
const EYES_APART: f32 = 128.0;

/// A small photo (LFW's are 250×250) enlarged so that its face fills the frame as a
/// webcam's would, with the eye positions moved along.
fn enlarged(photo: image::RgbImage, eyes: Eyes) -> (image::RgbImage, Eyes) {
    let apart =
        ((eyes.right.0 - eyes.left.0).powi(2) + (eyes.right.1 - eyes.left.1).powi(2)).sqrt();
    let k = EYES_APART / apart.max(1.0);
    if k <= 1.0 {
        return (photo, eyes);
    }
    let (w, h) = photo.dimensions();
    let big = image::imageops::resize(
        &photo,
        (w as f32 * k).round() as u32,
        (h as f32 * k).round() as u32,
        image::imageops::FilterType::CatmullRom,
    );
    let eyes = Eyes {
        left: (eyes.left.0 * k, eyes.left.1 * k),
        right: (eyes.right.0 * k, eyes.right.1 * k),
    };
    (big, eyes)
}

/// A decoded photo (EXIF orientation applied) as `vouch-footage` films it: enlarged to
/// arm's length, with the eyes of its subject; `None` when it has no face.
fn framed(
    engine: &vouch_face::FaceEngine,
    img: vouch_face::Rgb,
) -> Result<Option<(image::RgbImage, Eyes)>, String> {
    let Some(face) = engine
        .faces(&img)
        .map_err(|e| e.to_string())?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let l = face.landmarks;
    let eyes = Eyes {
        left: (l[0][0], l[0][1]),
        right: (l[1][0], l[1][1]),
    };
    let photo = image::RgbImage::from_raw(img.width, img.height, img.data)
        .ok_or("decoded image has the wrong size")?;
    Ok(Some(enlarged(photo, eyes)))
}

/// The sequence of `script` filmed from `photo`, sampled as the page samples it.
fn film(photo: &image::RgbImage, eyes: Eyes, script: &Footage) -> Result<Vec<Vec<u8>>, String> {
    frames(photo, eyes, script)
        .iter()
        .step_by(STEP)
        .take(FRAMES)
        .map(jpeg)
        .collect()
}

/// The policy's verdict on a sequence; a capture the server refuses (no face, several
/// faces, too dark…) is a failure of the sequence with that code.
fn judge(engine: &vouch_face::FaceEngine, seq: &[Vec<u8>]) -> (String, Value) {
    match analyse_selfie(engine, seq) {
        Ok(a) => {
            let r = policy::liveness(&a.liveness, &Thresholds::default());
            (
                r.result.as_str().to_string(),
                json!({"score": r.liveness_score, "blink": r.blink, "turn": r.turn, "consistent": r.consistent}),
            )
        }
        Err(CaptureError::Image { code, .. }) => (format!("REFUSED:{code}"), Value::Null),
        Err(CaptureError::Engine(e)) => (format!("ERROR:{e}"), Value::Null),
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("eval_sequences: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let a = args()?;
    let engines =
        vouch_server::analysis::Engines::load(&a.models).map_err(|e| format!("models: {e}"))?;
    let engine = &engines.face;
    let mut rows: Vec<Value> = Vec::new();
    let mut tally: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut count = |kind: &str, verdict: &str| {
        let v = verdict.split(':').next().unwrap_or(verdict).to_string();
        *tally
            .entry(kind.to_string())
            .or_default()
            .entry(v)
            .or_default() += 1;
    };
    let photos = sources(&a)?;
    let mut jobs: Vec<(String, String, Vec<Vec<u8>>)> = Vec::new();
    for (i, path) in photos.iter().enumerate() {
        eprint!("\reval_sequences: rendering {}/{} ", i + 1, photos.len());
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let img = engine.decode(&bytes).map_err(|e| e.to_string())?;
        let Some((photo, eyes)) = framed(engine, img)? else {
            eprintln!("\n{}: no face, skipped", path.display());
            continue;
        };
        let name = path.display().to_string();
        jobs.push((
            name.clone(),
            "bona_fide".into(),
            film(&photo, eyes, &Footage::blinking())?,
        ));
        jobs.push((
            name.clone(),
            "still_photo".into(),
            film(&photo, eyes, &Footage::still_photo())?,
        ));
        let one = jpeg(&frames(&photo, eyes, &Footage::still_photo())[0])?;
        jobs.push((name, "replayed_frame".into(), vec![one; FRAMES]));
    }
    if let Some(dir) = &a.attacks {
        // A vouch-attacks set: each attack image filmed as a held medium (sway, no blink:
        // the photo in the print or on the screen cannot blink).
        let labels = dir.join("labels.csv");
        let text =
            std::fs::read_to_string(&labels).map_err(|e| format!("{}: {e}", labels.display()))?;
        for line in text.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let (Some(p), Some(label)) = (cells.first(), cells.get(1)) else {
                continue;
            };
            let Some(kind) = label.strip_prefix("attack:") else {
                continue;
            };
            let bytes = std::fs::read(dir.join(p)).map_err(|e| format!("{p}: {e}"))?;
            let img = engine.decode(&bytes).map_err(|e| e.to_string())?;
            let Some((photo, eyes)) = framed(engine, img)? else {
                count(kind, "REFUSED:no_face");
                continue;
            };
            jobs.push((
                p.to_string(),
                kind.to_string(),
                film(&photo, eyes, &Footage::still_photo())?,
            ));
        }
    }
    eprintln!();
    let total = jobs.len();
    for (i, (source, kind, seq)) in jobs.into_iter().enumerate() {
        eprint!("\reval_sequences: judging {}/{total} ", i + 1);
        let (verdict, detail) = judge(engine, &seq);
        count(&kind, &verdict);
        rows.push(json!({"source": source, "kind": kind, "verdict": verdict, "detail": detail}));
    }
    eprintln!();
    let rate = |kind: &str, what: &str| -> Value {
        let Some(t) = tally.get(kind) else {
            return Value::Null;
        };
        let n: usize = t.values().sum();
        json!(t.get(what).copied().unwrap_or(0) as f64 / n.max(1) as f64)
    };
    let mut summary = serde_json::Map::new();
    summary.insert(
        "bpcer".into(),
        json!({
            "failed": rate("bona_fide", "FAIL"),
            "review": rate("bona_fide", "REVIEW"),
            "refused": rate("bona_fide", "REFUSED"),
        }),
    );
    let mut apcer = serde_json::Map::new();
    for kind in tally.keys().filter(|k| *k != "bona_fide") {
        apcer.insert(
            kind.clone(),
            json!({"passed": rate(kind, Outcome::Pass.as_str()), "review": rate(kind, "REVIEW")}),
        );
    }
    summary.insert("apcer".into(), Value::Object(apcer));
    summary.insert("counts".into(), json!(tally));
    println!("{}", json!({"sequences": rows, "summary": summary}));
    Ok(())
}
