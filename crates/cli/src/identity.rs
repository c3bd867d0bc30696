//! `vouch identity …`: biometric identity from the command line — enrol many photos at
//! once, and (for benchmarks only) seed synthetic templates.

use anyhow::{bail, Context as _, Result};
use clap::Subcommand;
use serde_json::json;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use vouch_core::ids::OrgId;
use vouch_core::model::{Actor, AuditRecord};
use vouch_store::Store;

#[derive(Subcommand)]
pub enum IdentityCmd {
    /// Enrol faces listed in a CSV file of `email,image_path` lines (paths relative to
    /// the file; a header line is skipped). Prints a JSON summary; failures go to stderr.
    EnrollBatch {
        #[arg(long)]
        org: String,
        /// The CSV file.
        csv: PathBuf,
        /// Images analysed at once [default: the number of cores].
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Benchmarks only: add COUNT random unit templates to one synthetic person of ORG,
    /// so that 1:N search can be timed at scale. Never on an organisation with users.
    SeedSynthetic {
        #[arg(long)]
        org: String,
        #[arg(long)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

/// The most lines a batch may have.
const MAX_BATCH: usize = 1_000_000;

fn read_csv(csv: &Path) -> Result<Vec<(String, PathBuf)>> {
    let text =
        std::fs::read_to_string(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let base = csv.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (i == 0 && line.to_ascii_lowercase().starts_with("email")) {
            continue;
        }
        let Some((email, path)) = line.split_once(',') else {
            bail!("{}:{}: expected email,image_path", csv.display(), i + 1);
        };
        let (email, path) = (email.trim(), path.trim());
        if !email.contains('@') || email.len() > 254 {
            bail!(
                "{}:{}: {email:?} is not an e-mail address",
                csv.display(),
                i + 1
            );
        }
        out.push((email.to_string(), base.join(path)));
        if out.len() > MAX_BATCH {
            bail!("at most {MAX_BATCH} lines in a batch");
        }
    }
    Ok(out)
}

/// A progress line on stderr, rewritten in place:
/// `LABEL: [####----] 1234/10000 (12%) 85.2/s, ETA 1m 43s`.
pub(crate) fn progress(label: &str, done: usize, total: usize, started: Instant) {
    let width = 30;
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    let secs = started.elapsed().as_secs_f64().max(1e-3);
    let rate = done as f64 / secs;
    let eta = if rate > 0.0 {
        (total - done) as f64 / rate
    } else {
        0.0
    };
    eprint!(
        "\r{label}: [{}{}] {done}/{total} ({}%) {rate:.1}/s, ETA {}m {:02}s ",
        "#".repeat(filled),
        "-".repeat(width - filled),
        (done * 100).checked_div(total).unwrap_or(100),
        (eta as u64) / 60,
        (eta as u64) % 60
    );
    let _ = std::io::stderr().flush();
}

pub async fn run(cmd: IdentityCmd, store: &Store) -> Result<()> {
    match cmd {
        IdentityCmd::EnrollBatch { org, csv, workers } => {
            let org = OrgId::from_string(org);
            store.org(&org).await.context("unknown organisation")?;
            let lines = read_csv(&csv)?;
            let engine = Arc::new(crate::face::engine()?);
            let workers = workers
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
                .clamp(1, 64);
            let total = lines.len();
            let started = Instant::now();
            // Faces are found and embedded on worker threads; enrolments are written here,
            // in order of completion.
            let (tx, mut rx) = tokio::sync::mpsc::channel::<(usize, Result<Vec<f32>, String>)>(256);
            let next = Arc::new(AtomicUsize::new(0));
            let lines = Arc::new(lines);
            let mut handles = Vec::new();
            for _ in 0..workers {
                let (engine, next, lines, tx) =
                    (engine.clone(), next.clone(), lines.clone(), tx.clone());
                handles.push(std::thread::spawn(move || loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((_, path)) = lines.get(i) else { break };
                    let result = embed(&engine, path);
                    if tx.blocking_send((i, result)).is_err() {
                        break;
                    }
                }));
            }
            drop(tx);
            let failures = Mutex::new(Vec::new());
            let (mut done, mut enrolled, mut people) = (0usize, 0usize, 0usize);
            let mut last_shown = Instant::now();
            while let Some((i, result)) = rx.recv().await {
                let (email, path) = &lines[i];
                match result {
                    Ok(embedding) => {
                        let audit = AuditRecord::new(Some(&org), Actor::Cli, "user.enrolled");
                        let (_, created) = store
                            .enroll_template(&org, None, email, &embedding, audit)
                            .await?;
                        enrolled += 1;
                        people += usize::from(created);
                    }
                    Err(e) => {
                        eprintln!("\r{}: {e}", path.display());
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(json!({"email": email, "image": path, "error": e}));
                    }
                }
                done += 1;
                // At most four updates a second (a log file is not flooded).
                if done == total || last_shown.elapsed().as_millis() >= 250 {
                    progress("enrolling", done, total, started);
                    last_shown = Instant::now();
                }
            }
            eprintln!();
            for h in handles {
                let _ = h.join();
            }
            let failed = failures.into_inner().unwrap_or_default();
            let secs = started.elapsed().as_secs_f64();
            crate::print(json!({
                "enrolled": enrolled,
                "newPeople": people,
                "failed": failed.len(),
                "failures": failed,
                "seconds": (secs * 10.0).round() / 10.0,
                "perSecond": ((enrolled as f64 / secs.max(1e-3)) * 10.0).round() / 10.0,
            }));
            Ok(())
        }
        IdentityCmd::SeedSynthetic { org, count, seed } => {
            let org = OrgId::from_string(org);
            store.org(&org).await.context("unknown organisation")?;
            if count == 0 || count > 5_000_000 {
                bail!("count must be 1 to 5,000,000");
            }
            let started = Instant::now();
            let person = store.seed_synthetic_templates(&org, count, seed).await?;
            eprintln!(
                "seeded {count} synthetic templates in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            crate::print(json!({"seeded": count, "personId": person}));
            Ok(())
        }
    }
}

/// The embedding of the one face of a photo, or why it cannot be enrolled.
fn embed(engine: &vouch_face::FaceEngine, path: &Path) -> Result<Vec<f32>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let img = engine.decode(&bytes).map_err(|e| e.to_string())?;
    let (faces, largest) = engine
        .analyze_largest(&img, vouch_face::Measure::default())
        .map_err(|e| e.to_string())?;
    let Some(face) = largest else {
        return Err("no face found".into());
    };
    let width = face.face.width();
    if vouch_face::subject::other_people(&faces) > 0 {
        return Err("several faces".into());
    }
    if width < vouch_server::analysis::MIN_FACE_PX {
        return Err(format!("face too small ({width:.0} px)"));
    }
    Ok(face.embedding)
}
