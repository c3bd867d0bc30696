//! `vouch-attacks --images DIR --out OUT_DIR [--list FILE] [--limit N] [--seed N]
//! [--types screen_phone,screen_laptop,print_matte,print_glossy] [--per-type K]`: renders
//! presentation attacks (and the bona fide capture) of face photos as a 640×480 webcam sees
//! them, with `OUT_DIR/labels.csv`, for measuring passive liveness per attack type.
//!
//! Progress and errors go to stderr; the last line on stdout is a JSON summary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use clap::Parser;
use serde_json::json;
use vouch_docsynth::attack::{list_sources, render_set, AttackType, Framing, SetSpec};

/// Renders presentation attacks of face photos as a webcam captures them:
/// `OUT_DIR/bona_fide/N.jpg`, `OUT_DIR/TYPE/N_K.jpg` and `OUT_DIR/labels.csv`
/// (path,label,source,type,distance,yaw,pitch,roll).
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Folder of bona fide face photos (JPEG/PNG, searched recursively).
    #[arg(long)]
    images: PathBuf,
    /// Folder to write the images and labels.csv into (keep it out of git).
    #[arg(long)]
    out: PathBuf,
    /// Use the photos listed in FILE (paths relative to --images, one a line) instead of
    /// every photo in the folder.
    #[arg(long)]
    list: Option<PathBuf>,
    /// Keep only the first N photos.
    #[arg(long)]
    limit: Option<usize>,
    /// Seed; the same seed and photos give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Attack types, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "screen_phone,screen_laptop,print_matte,print_glossy"
    )]
    types: Vec<AttackType>,
    /// Images per attack type and photo.
    #[arg(long, default_value_t = 1)]
    per_type: usize,
    /// Where the face is in the photos: centre x, centre y and width, as shares of the
    /// photo's width and height [default: 0.5,0.47,0.4, LFW's crops].
    #[arg(long, value_delimiter = ',')]
    face_box: Option<Vec<f32>>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let framing = match args.face_box.as_deref() {
        None => Framing::default(),
        Some(&[x, y, w]) if w > 0.0 && w.is_finite() && x.is_finite() && y.is_finite() => Framing {
            centre: (x, y),
            width: w,
        },
        Some(_) => bail!("--face-box needs three numbers: centre x, centre y, width (above 0)"),
    };
    let mut sources = list_sources(&args.images, args.list.as_deref())?;
    if let Some(n) = args.limit {
        sources.truncate(n);
    }
    if sources.is_empty() {
        bail!("--limit 0 leaves no photos to render");
    }
    let spec = SetSpec {
        types: args.types,
        per_type: args.per_type,
        seed: args.seed,
        framing,
    };
    let start = Instant::now();
    let counts = render_set(&sources, &args.out, &spec, &|done, total| {
        eprintln!(
            "vouch-attacks: {done}/{total} images ({:.0} s)",
            start.elapsed().as_secs_f32()
        );
    })?;
    let total: usize = counts.values().sum();
    println!(
        "{}",
        json!({
            "out": args.out.display().to_string(),
            "sources": sources.len(),
            "images": total,
            "seed": args.seed,
            "counts": counts,
        })
    );
    Ok(())
}
