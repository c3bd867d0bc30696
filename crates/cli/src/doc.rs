//! `vouch doc …`: the document engine from the command line — read one document, or
//! measure read rate and field accuracy on a labelled folder.

use anyhow::{bail, Context as _, Result};
use chrono::NaiveDate;
use clap::Subcommand;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use vouch_doc::reader::{DocReader, ReaderConfig};
use vouch_face::{EngineConfig, FaceEngine};

#[derive(Subcommand)]
pub enum DocCmd {
    /// Read a document photo; prints the fields, checks, verdict and portrait box as JSON.
    Read {
        /// The photo (the front, or the data page).
        image: PathBuf,
        /// The back of a driver's licence (PDF417 barcode).
        #[arg(long)]
        back: Option<PathBuf>,
        /// Judge expiry and age as of this day (YYYY-MM-DD; default today).
        #[arg(long)]
        today: Option<NaiveDate>,
        /// Skip the portrait (does not load the face models).
        #[arg(long)]
        no_portrait: bool,
        /// The MRZ or barcode only, as PassportEye reads it: no visual-zone cross-check
        /// and no portrait.
        #[arg(long)]
        mrz_only: bool,
        /// Skip the fast MRZ path (go straight to the neural detector and recogniser).
        #[arg(long)]
        no_fast_mrz: bool,
    },
    /// Read rate and field accuracy on a folder with an `expected.json`.
    Eval {
        /// Folder with the images and `expected.json`.
        dir: PathBuf,
        /// Judge dates as of this day (YYYY-MM-DD; default today).
        #[arg(long)]
        today: Option<NaiveDate>,
        /// Accepted for scripts; the report is always JSON on stdout.
        #[arg(long)]
        json: bool,
        /// Skip the portrait check.
        #[arg(long)]
        no_portrait: bool,
        /// The MRZ or barcode only, as PassportEye reads it: no visual-zone cross-check
        /// and no portrait.
        #[arg(long)]
        mrz_only: bool,
        /// Skip the fast MRZ path (go straight to the neural detector and recogniser).
        #[arg(long)]
        no_fast_mrz: bool,
    },
}

/// The fields compared by `eval`, named as in `expected.json`.
const FIELDS: [&str; 11] = vouch_doc::reader::IDENTITY_FIELDS;

fn models_dir() -> PathBuf {
    crate::models::dir_from_env()
}

/// What a command asks of the reader.
#[derive(Clone, Copy)]
struct Options {
    portrait: bool,
    visual_zone: bool,
    fast_mrz: bool,
}

impl Options {
    fn new(no_portrait: bool, mrz_only: bool, no_fast_mrz: bool) -> Options {
        Options {
            portrait: !no_portrait && !mrz_only,
            visual_zone: !mrz_only,
            fast_mrz: !no_fast_mrz,
        }
    }
}

fn reader(opts: Options) -> Result<DocReader> {
    let started = Instant::now();
    let cfg = EngineConfig::new(models_dir());
    let face = if opts.portrait {
        Some(Arc::new(
            FaceEngine::load(cfg.clone()).context("cannot load the face engine")?,
        ))
    } else {
        None
    };
    let config = ReaderConfig {
        visual_zone: opts.visual_zone,
        fast_mrz: opts.fast_mrz,
        ..ReaderConfig::default()
    };
    let reader = DocReader::load(&cfg, config, face).context("cannot load the document engine")?;
    eprintln!("models loaded in {} ms", started.elapsed().as_millis());
    Ok(reader)
}

fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn today(given: Option<NaiveDate>) -> NaiveDate {
    given.unwrap_or_else(|| chrono::Utc::now().date_naive())
}

pub fn run(cmd: DocCmd) -> Result<()> {
    match cmd {
        DocCmd::Read {
            image,
            back,
            today: day,
            no_portrait,
            mrz_only,
            no_fast_mrz,
        } => {
            let reader = reader(Options::new(no_portrait, mrz_only, no_fast_mrz))?;
            let front = read_file(&image)?;
            let back = back.as_deref().map(read_file).transpose()?;
            let out = reader
                .read_bytes(&front, back.as_deref(), today(day))
                .with_context(|| format!("{}", image.display()))?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(())
        }
        DocCmd::Eval {
            dir,
            today: day,
            json: _,
            no_portrait,
            mrz_only,
            no_fast_mrz,
        } => eval(
            &dir,
            today(day),
            Options::new(no_portrait, mrz_only, no_fast_mrz),
        ),
    }
}

fn as_box(v: &Value) -> Option<Vec<f64>> {
    let b: Vec<f64> = v.as_array()?.iter().filter_map(Value::as_f64).collect();
    (b.len() == 4).then_some(b)
}

fn eval(dir: &Path, today: NaiveDate, opts: Options) -> Result<()> {
    let portrait = opts.portrait;
    let expected_path = dir.join("expected.json");
    let expected: Map<String, Value> = serde_json::from_slice(&read_file(&expected_path)?)
        .with_context(|| format!("{} is not a JSON object", expected_path.display()))?;
    if expected.is_empty() {
        bail!("{} lists no documents", expected_path.display());
    }
    let reader = reader(opts)?;
    let mut names: Vec<&String> = expected.keys().collect();
    names.sort();
    let mut read = 0usize;
    // Read by the fast MRZ path alone.
    let mut read_fast = 0usize;
    let mut fast_missed: Vec<&str> = Vec::new();
    let mut times = Vec::new();
    let mut correct = Map::new();
    let mut totals = Map::new();
    let mut failures = Vec::new();
    let mut by_group: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let (mut portraits, mut portraits_found) = (0usize, 0usize);
    let started = Instant::now();
    for (i, name) in names.iter().enumerate() {
        let exp = &expected[name.as_str()];
        let front = read_file(&dir.join(name.as_str()))?;
        let back = match exp.get("back").and_then(Value::as_str) {
            Some(b) => Some(read_file(&dir.join(b))?),
            None => None,
        };
        let t = Instant::now();
        let got = reader.read_bytes(&front, back.as_deref(), today);
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let got = match got {
            Ok(g) => serde_json::to_value(&g)?,
            Err(e) => {
                eprintln!("{name}: {e}");
                Value::Null
            }
        };
        let format_ok = got.get("format").is_some_and(|f| !f.is_null())
            && got
                .get("checks")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    !cs.iter().any(|c| {
                        matches!(
                            c.get("name").and_then(Value::as_str),
                            Some("checkDigits" | "readable")
                        ) && c.get("outcome").and_then(Value::as_str) == Some("FAIL")
                    })
                });
        let mut all_right = true;
        for f in FIELDS {
            let Some(want) = exp.get(f) else { continue };
            let have = got.get(f).cloned().unwrap_or(Value::Null);
            *totals.entry(f).or_insert(json!(0)) =
                json!(totals.get(f).and_then(Value::as_u64).unwrap_or(0) + 1);
            if &have == want {
                *correct.entry(f).or_insert(json!(0)) =
                    json!(correct.get(f).and_then(Value::as_u64).unwrap_or(0) + 1);
            } else {
                all_right = false;
            }
        }
        if format_ok {
            read += 1;
            if got.pointer("/mrz/reader").and_then(Value::as_str) == Some("fast") {
                read_fast += 1;
            } else if exp.get("mrz").is_some() || got.get("mrz").is_some_and(|m| !m.is_null()) {
                fast_missed.push(name.as_str());
            }
        }
        if !format_ok || !all_right {
            failures
                .push(json!({"file": name, "read": format_ok, "mrz": got.pointer("/mrz/lines")}));
        }
        let group = format!(
            "{}/{}",
            exp.get("format").and_then(Value::as_str).unwrap_or("?"),
            exp.get("difficulty").and_then(Value::as_str).unwrap_or("-")
        );
        let g = by_group.entry(group).or_default();
        g.0 += 1;
        g.1 += usize::from(format_ok);
        if portrait {
            if let Some(want) = exp.get("portrait").and_then(as_box) {
                portraits += 1;
                // The face lies inside the printed photo: its centre within the box.
                if got
                    .pointer("/portrait/box")
                    .and_then(as_box)
                    .is_some_and(|h| {
                        let (cx, cy) = (h[0] + h[2] / 2.0, h[1] + h[3] / 2.0);
                        cx >= want[0]
                            && cx <= want[0] + want[2]
                            && cy >= want[1]
                            && cy <= want[1] + want[3]
                    })
                {
                    portraits_found += 1;
                }
            }
        }
        if (i + 1) % 10 == 0 || i + 1 == names.len() {
            eprintln!(
                "{}/{} documents, {} read, {:.0} s",
                i + 1,
                names.len(),
                read,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let n = names.len();
    let mut fields = Map::new();
    let (mut c_all, mut t_all) = (0u64, 0u64);
    for f in FIELDS {
        let t = totals.get(f).and_then(Value::as_u64).unwrap_or(0);
        if t == 0 {
            continue;
        }
        let c = correct.get(f).and_then(Value::as_u64).unwrap_or(0);
        c_all += c;
        t_all += t;
        fields.insert(
            f.into(),
            json!({"correct": c, "total": t, "accuracy": c as f64 / t as f64}),
        );
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let p50 = sorted[sorted.len() / 2];
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let groups: Map<String, Value> = by_group
        .into_iter()
        .map(|(k, (n, r))| (k, json!({"documents": n, "read": r})))
        .collect();
    let report = json!({
        "tool": "vouch",
        "version": env!("CARGO_PKG_VERSION"),
        "dir": dir,
        "documents": n,
        "read": read,
        "readRate": read as f64 / n as f64,
        "readByFastPath": read_fast,
        "readByNeuralPath": fast_missed,
        "fields": fields,
        "fieldAccuracy": if t_all == 0 { 0.0 } else { c_all as f64 / t_all as f64 },
        "msPerDocument": {"p50": p50, "mean": mean},
        "portraits": {"labelled": portraits, "found": portraits_found},
        "groups": groups,
        "failures": failures,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
