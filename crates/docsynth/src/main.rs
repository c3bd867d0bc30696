//! `vouch-docsynth OUT_DIR [--count N] [--seed S] [--faces DIR]`: renders synthetic document
//! photos with `expected.json` into OUT_DIR.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use vouch_docsynth::{default_faces_dir, DocKind, Fonts, Renderer};

/// Renders synthetic identity-document photos (passports, ID cards, visas, US driver's
/// licences) with known labels into OUT_DIR, with OUT_DIR/expected.json.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Folder to write the photos and expected.json into (keep it out of git).
    out_dir: PathBuf,
    /// Number of documents (a driver's licence counts once and writes two photos).
    #[arg(long, default_value_t = 120)]
    count: usize,
    /// Seed; the same seed renders the same set.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Folder of face photos for the portraits [default: ../shared/eval/faces beside the repo].
    #[arg(long)]
    faces: Option<PathBuf>,
    /// Folder holding OCRB.otf and DejaVuSans(-Bold).ttf [default: $VOUCH_DOCSYNTH_FONT_DIR,
    /// then Debian's font folders].
    #[arg(long)]
    font_dir: Option<PathBuf>,
    /// Render only this kind: td3, td3-nofiller, td1, td2, mrva, mrvb, dl.
    #[arg(long)]
    kind: Option<DocKind>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let fonts = Fonts::locate(args.font_dir.as_deref())?;
    let faces = args.faces.unwrap_or_else(default_faces_dir);
    eprintln!(
        "fonts: {}, {}; faces: {}",
        fonts.ocrb.path.display(),
        fonts.sans.path.display(),
        faces.display()
    );
    Renderer::new(fonts, &faces)?.render_set_of(&args.out_dir, args.count, args.seed, args.kind)
}
