//! `vouch face …`: the face engine from the command line — compare two photos, analyse
//! one, and measure accuracy on labelled data: face match on pairs (and every
//! cross-identity pair of their images), passive liveness (APCER, BPCER, EER) and age
//! (MAE, the minimum-age rule's errors). Models load once; images are processed on all
//! cores; JSON goes to stdout, progress and errors to stderr.
//!
//! Size (over 800 lines): four evaluation commands sharing CSV reading, the worker pool and
//! the error-rate maths.

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
use vouch_core::check::Thresholds;
use vouch_core::policy::{self, Outcome};
use vouch_face::{cosine, EngineConfig, FaceEngine, Rgb};

#[derive(Subcommand)]
pub enum FaceCmd {
    /// Compare the largest faces of two photos.
    Compare { a: PathBuf, b: PathBuf },
    /// Every face of a photo with box, landmarks, liveness and quality, and how many
    /// other people the server would see beside its subject.
    Analyze { image: PathBuf },
    /// Face match accuracy on labelled pairs: lines `file_a file_b same|diff [fold]`
    /// (paths relative to --images, sub-folders allowed). Each image is embedded once.
    Eval {
        #[arg(long)]
        pairs: PathBuf,
        #[arg(long)]
        images: PathBuf,
        /// Also compare every pair of the images (identity = the image's folder): FMR
        /// over every cross-identity pair and FNMR over every same-identity pair.
        #[arg(long)]
        all_pairs: bool,
        /// Leave the per-pair list out of the output.
        #[arg(long)]
        summary_only: bool,
    },
    /// Passive liveness on labelled images: CSV with header and columns `path,label`
    /// (label `bona_fide`, `attack` or `attack:TYPE`, also `attack_TYPE`; other columns
    /// are ignored).
    EvalLiveness {
        #[arg(long)]
        labels: PathBuf,
        #[arg(long)]
        images: PathBuf,
        /// Decision threshold [default: the key default, 0.85].
        #[arg(long)]
        threshold: Option<f32>,
    },
    /// Age estimation on labelled images: CSV with header and columns `path,age`.
    EvalAge {
        #[arg(long)]
        labels: PathBuf,
        #[arg(long)]
        images: PathBuf,
        /// The key's minimum age the KYC age check is judged at.
        #[arg(long, default_value_t = 18)]
        min_age: u32,
    },
}

/// Loads the engine from `VOUCH_MODELS_DIR` (default: [`crate::models::default_dir`]).
pub fn engine() -> Result<FaceEngine> {
    let dir = crate::models::dir_from_env();
    let started = Instant::now();
    let engine = FaceEngine::load(EngineConfig::new(dir)).context("cannot load the face engine")?;
    eprintln!("models loaded in {} ms", started.elapsed().as_millis());
    Ok(engine)
}

fn load(engine: &FaceEngine, path: &Path) -> Result<Rgb> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    engine
        .decode(&bytes)
        .with_context(|| format!("{}", path.display()))
}

pub fn run(cmd: FaceCmd) -> Result<()> {
    // Read the labels before loading the models: a wrong file fails at once.
    match cmd {
        FaceCmd::Compare { a, b } => {
            let engine = engine()?;
            let threshold = engine.config().match_threshold;
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
            let engine = engine()?;
            let img = load(&engine, &image)?;
            let started = Instant::now();
            let faces = engine.analyze(&img)?;
            let boxes: Vec<vouch_face::Face> = faces.iter().map(|f| f.face.clone()).collect();
            let others = vouch_face::subject::other_people(&boxes);
            let faces: Vec<Value> = faces
                .iter()
                .map(|f| serde_json::to_value(f).unwrap_or(Value::Null))
                .collect();
            println!(
                "{}",
                json!({"image": image, "width": img.width, "height": img.height,
                       "ms": started.elapsed().as_secs_f64() * 1000.0, "faces": faces,
                       "otherPeople": others})
            );
        }
        FaceCmd::Eval {
            pairs,
            images,
            all_pairs,
            summary_only,
        } => {
            let list = read_pairs(&pairs)?;
            let engine = engine()?;
            eval_pairs(&engine, &list, &images, all_pairs, summary_only)?
        }
        FaceCmd::EvalLiveness {
            labels,
            images,
            threshold,
        } => {
            let rows = read_csv(&labels, &["path", "label"])?;
            for (n, r) in rows.iter().enumerate() {
                if parse_pad_label(&r[1]).is_none() {
                    bail!(
                        "{}:{}: label {:?} is not bona_fide, attack or attack:TYPE",
                        labels.display(),
                        n + 2,
                        r[1]
                    );
                }
            }
            let engine = engine()?;
            let threshold = threshold.unwrap_or(engine.config().liveness_threshold);
            eval_liveness(&engine, &rows, &images, threshold)?
        }
        FaceCmd::EvalAge {
            labels,
            images,
            min_age,
        } => {
            let rows = read_csv(&labels, &["path", "age"])?;
            let mut ages = Vec::with_capacity(rows.len());
            for (n, r) in rows.iter().enumerate() {
                let age: f32 = r[1]
                    .trim()
                    .parse()
                    .ok()
                    .filter(|a: &f32| (0.0..=150.0).contains(a))
                    .with_context(|| {
                        format!(
                            "{}:{}: age {:?} is not a number of years",
                            labels.display(),
                            n + 2,
                            r[1]
                        )
                    })?;
                ages.push(age);
            }
            let engine = engine()?;
            eval_age(&engine, &rows, &ages, &images, min_age)?
        }
    }
    Ok(())
}

/// Reads a CSV with a header; returns, for each row, the values of `columns` in order.
/// Columns are found by name; others are ignored. Values must not contain commas.
fn read_csv(path: &Path, columns: &[&str]) -> Result<Vec<Vec<String>>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .with_context(|| format!("{}: empty file", path.display()))?
        .split(',')
        .map(str::trim)
        .collect();
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            header.iter().position(|h| h == c).with_context(|| {
                format!(
                    "{}: no column {c:?} in the header (columns: {})",
                    path.display(),
                    header.join(",")
                )
            })
        })
        .collect::<Result<_>>()?;
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        let row = idx
            .iter()
            .map(|&i| cells.get(i).map(|c| c.trim().to_string()))
            .collect::<Option<Vec<String>>>()
            .with_context(|| format!("{}:{}: too few columns", path.display(), n + 2))?;
        rows.push(row);
    }
    if rows.is_empty() {
        bail!("{}: no rows under the header", path.display());
    }
    Ok(rows)
}

/// Runs `f` over `items` on one thread per core (the engine's pool has a model set per
/// core), with a progress line on stderr; results in input order.
fn par_map<T: Sync, R: Send>(label: &str, items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let started = Instant::now();
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let last_shown = Mutex::new(Instant::now());
    std::thread::scope(|s| {
        for _ in 0..cores.min(items.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Ok(mut shown) = last_shown.lock() {
                    if shown.elapsed().as_millis() >= 500 || d == items.len() {
                        *shown = Instant::now();
                        crate::identity::progress(label, d, items.len(), started);
                    }
                }
            });
        }
    });
    if !items.is_empty() {
        eprintln!();
    }
    slots
        .into_iter()
        .map(|s| s.into_inner().ok().flatten())
        .collect::<Option<Vec<R>>>()
        .unwrap_or_default()
}

type Pair = (String, String, bool, Option<u32>);

fn read_pairs(pairs: &Path) -> Result<Vec<Pair>> {
    let text = std::fs::read_to_string(pairs)
        .with_context(|| format!("cannot read {}", pairs.display()))?;
    let mut list = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let label = |l: &str| match l {
            "same" => Some(true),
            "diff" => Some(false),
            _ => None,
        };
        match parts.as_slice() {
            [] => continue,
            [a, b, l] if label(l).is_some() => {
                list.push((a.to_string(), b.to_string(), label(l) == Some(true), None))
            }
            [a, b, l, fold] if label(l).is_some() && fold.parse::<u32>().is_ok() => list.push((
                a.to_string(),
                b.to_string(),
                label(l) == Some(true),
                fold.parse().ok(),
            )),
            _ => bail!(
                "{}:{}: expected `file_a file_b same|diff [fold]`",
                pairs.display(),
                n + 1
            ),
        }
    }
    if list.is_empty() {
        bail!("{}: no pairs", pairs.display());
    }
    Ok(list)
}

/// The identity of an image in a folder-per-person layout (LFW): its folder.
fn identity_of(name: &str) -> &str {
    Path::new(name)
        .parent()
        .and_then(|p| p.to_str())
        .filter(|p| !p.is_empty())
        .unwrap_or(name)
}

fn eval_pairs(
    engine: &FaceEngine,
    list: &[Pair],
    images: &Path,
    all_pairs: bool,
    summary_only: bool,
) -> Result<()> {
    let threshold = engine.config().match_threshold;
    let mut names: Vec<&str> = list
        .iter()
        .flat_map(|(a, b, _, _)| [a.as_str(), b.as_str()])
        .collect();
    names.sort_unstable();
    names.dedup();
    let embedded = par_map(
        "embedding",
        &names,
        |name| -> Result<(Option<Vec<f32>>, f64)> {
            let started = Instant::now();
            let img = load(engine, &images.join(name))?;
            let emb = engine.primary_face(&img).ok().map(|(_, e)| e);
            Ok((emb, started.elapsed().as_secs_f64() * 1000.0))
        },
    );
    let mut embeddings: HashMap<&str, Option<Vec<f32>>> = HashMap::new();
    let mut times = Vec::new();
    for (name, r) in names.iter().zip(embedded) {
        let (emb, ms) = r?;
        if emb.is_none() {
            eprintln!("no face found in {name}");
        }
        times.push(ms);
        embeddings.insert(name, emb);
    }
    let score = |a: &str, b: &str| match (&embeddings[a], &embeddings[b]) {
        (Some(x), Some(y)) => cosine(x, y),
        // No face: a non-match, counted against the genuine pairs (FNMR) as it should.
        _ => -1.0,
    };
    let scored: Vec<(String, String, bool, f32)> = list
        .iter()
        .map(|(a, b, same, _)| (a.clone(), b.clone(), *same, score(a, b)))
        .collect();
    let mut summary = summarise(&scored, threshold);
    if list.iter().all(|p| p.3.is_some()) {
        summary["folds"] = folds(list, &scored);
    }
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    let no_face: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| embeddings[n].is_none())
        .collect();
    let mut out = json!({
        "summary": summary,
        "images": names.len(),
        "noFace": no_face,
        "msPerImage": {"median": median, "mean": mean},
    });
    if all_pairs {
        out["allPairs"] = every_pair(&names, &embeddings, threshold);
    }
    if !summary_only {
        out["pairs"] = scored
            .iter()
            .map(|(a, b, same, s)| json!({"a": a, "b": b, "same": same, "similarity": s}))
            .collect();
    }
    println!("{out}");
    Ok(())
}

/// Accuracy by fold, each fold judged at the threshold that is most accurate on the
/// other folds (LFW's protocol, with the folds the pairs file gives).
fn folds(list: &[Pair], scored: &[(String, String, bool, f32)]) -> Value {
    let mut ids: Vec<u32> = list.iter().filter_map(|p| p.3).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut accs = Vec::new();
    let mut per = Vec::new();
    for &k in &ids {
        let train: Vec<(bool, f32)> = list
            .iter()
            .zip(scored)
            .filter(|(p, _)| p.3 != Some(k))
            .map(|(_, s)| (s.2, s.3))
            .collect();
        let test: Vec<(bool, f32)> = list
            .iter()
            .zip(scored)
            .filter(|(p, _)| p.3 == Some(k))
            .map(|(_, s)| (s.2, s.3))
            .collect();
        let acc_at = |set: &[(bool, f32)], t: f32| {
            set.iter().filter(|(same, s)| (*s >= t) == *same).count() as f64
                / set.len().max(1) as f64
        };
        let mut candidates: Vec<f32> = train.iter().map(|s| s.1).collect();
        candidates.sort_by(f32::total_cmp);
        let best = candidates
            .iter()
            .copied()
            .max_by(|a, b| acc_at(&train, *a).total_cmp(&acc_at(&train, *b)))
            .unwrap_or(0.5);
        let acc = acc_at(&test, best);
        accs.push(acc);
        per.push(json!({"fold": k, "pairs": test.len(), "threshold": best, "accuracy": acc}));
    }
    let n = accs.len().max(1) as f64;
    let mean = accs.iter().sum::<f64>() / n;
    let sd = (accs.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
    json!({"accuracy": mean, "sd": sd, "byFold": per})
}

/// FMR and FNMR over every pair of the embedded images (identity = folder): the
/// impostor scores are sorted to find the thresholds at FMR 1e-3, 1e-4 and 1e-5.
fn every_pair(
    names: &[&str],
    embeddings: &HashMap<&str, Option<Vec<f32>>>,
    threshold: f32,
) -> Value {
    let with: Vec<(&str, &Vec<f32>)> = names
        .iter()
        .filter_map(|n| embeddings[n].as_ref().map(|e| (identity_of(n), e)))
        .collect();
    let mut genuine: Vec<f32> = Vec::new();
    let mut impostor: Vec<f32> = Vec::with_capacity(with.len() * with.len() / 2);
    for (i, (id_a, a)) in with.iter().enumerate() {
        for (id_b, b) in &with[i + 1..] {
            let s = cosine(a, b);
            if id_a == id_b {
                genuine.push(s);
            } else {
                impostor.push(s);
            }
        }
    }
    // Images without a face cannot match anyone: their genuine pairs are misses.
    let mut missing_genuine = 0usize;
    let mut per_id: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for n in names {
        let e = per_id.entry(identity_of(n)).or_default();
        if embeddings[n].is_some() {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    for (found, lost) in per_id.values() {
        missing_genuine += lost * found + lost * lost.saturating_sub(1) / 2;
    }
    impostor.sort_by(|a, b| b.total_cmp(a));
    let g_total = genuine.len() + missing_genuine;
    let fnmr_at = |t: f32| {
        (genuine.iter().filter(|&&g| g < t).count() + missing_genuine) as f64
            / g_total.max(1) as f64
    };
    let fmr_at =
        |t: f32| impostor.partition_point(|&s| s >= t) as f64 / impostor.len().max(1) as f64;
    let at_fmr = |fmr: f64| {
        let allowed = (fmr * impostor.len() as f64).floor() as usize;
        // The lowest threshold that lets at most `allowed` impostors through: just above
        // the (allowed+1)-th highest impostor score.
        let t = impostor
            .get(allowed)
            .map_or(f32::NEG_INFINITY, |s| f32::from_bits(s.to_bits() + 1));
        json!({"threshold": t, "fnmr": fnmr_at(t), "falseMatches": impostor.partition_point(|&s| s >= t)})
    };
    json!({
        "threshold": threshold,
        "genuinePairs": g_total,
        "impostorPairs": impostor.len(),
        "fmr": fmr_at(threshold),
        "fnmr": fnmr_at(threshold),
        "falseMatches": impostor.partition_point(|&s| s >= threshold),
        "highestImpostor": impostor.first(),
        "atFmr": {"1e-3": at_fmr(1e-3), "1e-4": at_fmr(1e-4), "1e-5": at_fmr(1e-5)},
    })
}

/// Accuracy at the threshold, ROC AUC, and TAR at FAR 1 % and 0.1 %.
pub fn summarise(scored: &[(String, String, bool, f32)], threshold: f32) -> Value {
    let pos: Vec<f32> = scored.iter().filter(|s| s.2).map(|s| s.3).collect();
    let mut neg: Vec<f32> = scored.iter().filter(|s| !s.2).map(|s| s.3).collect();
    let correct = scored.iter().filter(|s| (s.3 >= threshold) == s.2).count();
    let accuracy = correct as f64 / scored.len().max(1) as f64;
    neg.sort_by(f32::total_cmp);
    // AUC: probability a same pair outscores a different pair (ties count half).
    let wins: f64 = pos
        .iter()
        .map(|p| {
            let below = neg.partition_point(|n| n < p);
            let ties = neg.partition_point(|n| n <= p) - below;
            below as f64 + ties as f64 * 0.5
        })
        .sum();
    let auc = wins / (pos.len() * neg.len()).max(1) as f64;
    neg.reverse();
    let tar_at = |far: f64| {
        // The threshold that lets at most far·|neg| different pairs through.
        let allowed = (far * neg.len() as f64).floor() as usize;
        let t = neg.get(allowed).copied().unwrap_or(f32::NEG_INFINITY);
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

/// `bona_fide` → bona fide; `attack`, `attack:TYPE` (or `attack_TYPE`, as NUAA's labels
/// spell it) → an attack of that type.
fn parse_pad_label(label: &str) -> Option<(bool, Option<&str>)> {
    match label {
        "bona_fide" => Some((true, None)),
        "attack" => Some((false, None)),
        _ => label
            .strip_prefix("attack:")
            .or_else(|| label.strip_prefix("attack_"))
            .filter(|t| !t.is_empty())
            .map(|t| (false, Some(t))),
    }
}

/// The passive score of the largest face of one image; `None` when there is no face.
fn passive_score(engine: &FaceEngine, path: &Path) -> Result<Option<(f32, f32)>> {
    let img = load(engine, path)?;
    let Some(face) = engine.faces(&img)?.into_iter().next() else {
        return Ok(None);
    };
    let raw = engine.liveness_raw(&img, &face)?;
    Ok(Some((vouch_face::liveness::calibrate(raw), raw)))
}

fn eval_liveness(
    engine: &FaceEngine,
    rows: &[Vec<String>],
    images: &Path,
    threshold: f32,
) -> Result<()> {
    let scores = par_map("liveness", rows, |r| {
        passive_score(engine, &images.join(&r[0]))
    });
    let mut out = Vec::with_capacity(rows.len());
    let mut bona = Vec::new();
    let mut attacks: Vec<f32> = Vec::new();
    let mut by_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let (mut bona_n, mut bona_fail, mut attack_n, mut attack_pass) =
        (0usize, 0usize, 0usize, 0usize);
    for (r, s) in rows.iter().zip(scores) {
        let s = s.with_context(|| r[0].clone())?;
        let (is_bona, kind) = parse_pad_label(&r[1]).unwrap_or((false, None));
        let decision = match s {
            None => "no_face",
            Some((score, _)) if score >= threshold => "live",
            Some(_) => "attack",
        };
        if is_bona {
            bona_n += 1;
            if decision != "live" {
                bona_fail += 1;
            }
            if let Some((score, _)) = s {
                bona.push(score);
            }
        } else {
            attack_n += 1;
            // A face not found is a failed attack: the capture is refused.
            let passed = decision == "live";
            if passed {
                attack_pass += 1;
            }
            let e = by_type
                .entry(kind.unwrap_or("attack").to_string())
                .or_default();
            e.0 += 1;
            if passed {
                e.1 += 1;
            }
            if let Some((score, _)) = s {
                attacks.push(score);
            }
        }
        out.push(json!({
            "path": r[0], "label": r[1],
            "score": s.map(|v| v.0), "raw": s.map(|v| v.1),
            "decision": decision,
        }));
    }
    let ratio = |a: usize, b: usize| {
        if b == 0 {
            Value::Null
        } else {
            json!(a as f64 / b as f64)
        }
    };
    let apcer_by_type: serde_json::Map<String, Value> = by_type
        .iter()
        .map(|(k, (n, pass))| {
            (
                k.clone(),
                json!({"apcer": *pass as f64 / *n as f64, "attacks": n}),
            )
        })
        .collect();
    let (eer, eer_threshold) = eer(&bona, &attacks);
    println!(
        "{}",
        json!({
            "images": out,
            "summary": {
                "threshold": threshold,
                "apcer": ratio(attack_pass, attack_n),
                "bpcer": ratio(bona_fail, bona_n),
                "apcerByType": apcer_by_type,
                "eer": eer,
                "eerThreshold": eer_threshold,
                "bonaFide": bona_n,
                "attacks": attack_n,
                "noFace": out.iter().filter(|v| v["decision"] == "no_face").count(),
            }
        })
    );
    Ok(())
}

/// The equal error rate of scores (higher = more live), and the threshold where it is
/// reached (the point where APCER and BPCER are closest, their mean).
fn eer(bona: &[f32], attacks: &[f32]) -> (Value, Value) {
    if bona.is_empty() || attacks.is_empty() {
        return (Value::Null, Value::Null);
    }
    let mut ts: Vec<f32> = bona.iter().chain(attacks).copied().collect();
    ts.sort_by(f32::total_cmp);
    ts.dedup();
    let mut best = (f64::INFINITY, 0.0, 0.0f32);
    for t in ts {
        let apcer = attacks.iter().filter(|&&a| a >= t).count() as f64 / attacks.len() as f64;
        let bpcer = bona.iter().filter(|&&b| b < t).count() as f64 / bona.len() as f64;
        let gap = (apcer - bpcer).abs();
        if gap < best.0 {
            best = (gap, (apcer + bpcer) / 2.0, t);
        }
    }
    (json!(best.1), json!(best.2))
}

/// The age band of a true age, for the per-band error.
fn band(age: f32) -> &'static str {
    match age {
        a if a <= 12.0 => "0-12",
        a if a < 18.0 => "13-17",
        a if a <= 25.0 => "18-25",
        a if a <= 40.0 => "26-40",
        a if a <= 60.0 => "41-60",
        _ => "61+",
    }
}

fn eval_age(
    engine: &FaceEngine,
    rows: &[Vec<String>],
    ages: &[f32],
    images: &Path,
    min_age: u32,
) -> Result<()> {
    let estimates = par_map("age", rows, |r| -> Result<Option<f32>> {
        let img = load(engine, &images.join(&r[0]))?;
        match engine.faces(&img)?.first() {
            Some(face) => Ok(Some(engine.age_gender(&img, face)?.age)),
            None => Ok(None),
        }
    });
    let t = Thresholds {
        min_age,
        ..Thresholds::default()
    };
    let mut out = Vec::with_capacity(rows.len());
    let mut errors: Vec<f32> = Vec::new();
    let mut bands: BTreeMap<&str, Vec<f32>> = BTreeMap::new();
    let (mut minors, mut minors_approved, mut adults, mut adults_rejected, mut adults_review) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    for ((r, &age), e) in rows.iter().zip(ages).zip(estimates) {
        let e = e.with_context(|| r[0].clone())?;
        // No face: the check cannot pass (the capture is refused).
        let outcome = e.map(|est| policy::age(est, &t).0);
        let decision = outcome.map_or("no_face", Outcome::as_str);
        if let Some(est) = e {
            errors.push((est - age).abs());
            bands.entry(band(age)).or_default().push(est - age);
        }
        if age < min_age as f32 {
            minors += 1;
            if outcome == Some(Outcome::Pass) {
                minors_approved += 1;
            }
        } else {
            adults += 1;
            match outcome {
                Some(Outcome::Pass) => {}
                Some(Outcome::Review) => adults_review += 1,
                _ => adults_rejected += 1,
            }
        }
        out.push(json!({
            "path": r[0], "age": age,
            "estimate": e,
            "decision": decision,
        }));
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    let mae_by_band: serde_json::Map<String, Value> = bands
        .iter()
        .map(|(k, d)| {
            let abs: Vec<f32> = d.iter().map(|x| x.abs()).collect();
            (
                k.to_string(),
                json!({"mae": mean(&abs), "bias": mean(d), "images": d.len()}),
            )
        })
        .collect();
    println!(
        "{}",
        json!({
            "images": out,
            "summary": {
                "mae": mean(&errors),
                "maeByBand": mae_by_band,
                "minAge": min_age,
                "underAge": minors,
                "underAgeApproved": minors_approved,
                "underAgeApprovedRate": if minors > 0 { json!(minors_approved as f64 / minors as f64) } else { Value::Null },
                "adults": adults,
                "adultsRejected": adults_rejected,
                "adultsReview": adults_review,
                "noFace": out.iter().filter(|v| v["decision"] == "no_face").count(),
            }
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_labels_parse_with_types() {
        assert_eq!(parse_pad_label("bona_fide"), Some((true, None)));
        assert_eq!(parse_pad_label("attack"), Some((false, None)));
        assert_eq!(
            parse_pad_label("attack:print"),
            Some((false, Some("print")))
        );
        assert_eq!(
            parse_pad_label("attack_print"),
            Some((false, Some("print")))
        );
        assert_eq!(parse_pad_label("attack:"), None);
        assert_eq!(parse_pad_label("live"), None);
    }

    #[test]
    fn eer_is_where_both_error_rates_meet() {
        let bona = [0.9, 0.8, 0.7, 0.2];
        let attacks = [0.1, 0.3, 0.75, 0.05];
        let (e, _) = eer(&bona, &attacks);
        assert_eq!(e, json!(0.25));
    }

    #[test]
    fn identity_is_the_folder() {
        assert_eq!(
            identity_of("Abel_Pacheco/Abel_Pacheco_0001.jpg"),
            "Abel_Pacheco"
        );
        assert_eq!(identity_of("img1.jpg"), "img1.jpg");
    }

    #[test]
    fn every_pair_counts_impostors_and_genuine_and_missing_faces() {
        let names = ["a/1.jpg", "a/2.jpg", "a/3.jpg", "b/1.jpg"];
        let mut e: HashMap<&str, Option<Vec<f32>>> = HashMap::new();
        e.insert("a/1.jpg", Some(vec![1.0, 0.0]));
        e.insert("a/2.jpg", Some(vec![0.8, 0.6]));
        e.insert("a/3.jpg", None);
        e.insert("b/1.jpg", Some(vec![0.0, 1.0]));
        let v = every_pair(&names, &e, 0.5);
        assert_eq!(v["impostorPairs"], 2);
        // a1–a2 found, a3 with a1 and a2 missing.
        assert_eq!(v["genuinePairs"], 3);
        assert_eq!(v["falseMatches"], 1); // a2–b1 scores 0.6
        assert!((v["fnmr"].as_f64().unwrap_or(0.0) - 2.0 / 3.0).abs() < 1e-9);
    }
}
