//! `vouch-footage FACE OUT_DIR --eyes LX,LY,RX,RY [--still]`: webcam footage of a face
//! photo as the hosted page's fake camera plays it (`OUT_DIR/footage.y4m`) and as the page
//! sends it (`OUT_DIR/frame-NN.jpg`, 640×480 JPEG), for benchmarks and manual tests. The
//! eye centres come from `vouch face analyze FACE` (the first two landmarks).

use anyhow::{bail, Context, Result};
use clap::Parser;
use std::path::PathBuf;
use vouch_docsynth::camera::{frames, write_y4m, Eyes, Footage};

#[derive(Parser)]
#[command(version)]
struct Args {
    /// The face photo.
    face: PathBuf,
    /// Folder to write footage.y4m and the frames into.
    out_dir: PathBuf,
    /// Eye centres in the photo: left x, left y, right x, right y.
    #[arg(long, value_delimiter = ',', required = true)]
    eyes: Vec<f32>,
    /// A still photo held to the camera (no blink) instead of a blinking person.
    #[arg(long)]
    still: bool,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let [lx, ly, rx, ry] = args.eyes[..] else {
        bail!("--eyes needs four numbers");
    };
    let src = image::open(&args.face)
        .with_context(|| format!("reading {}", args.face.display()))?
        .to_rgb8();
    let footage = if args.still {
        Footage::still_photo()
    } else {
        Footage::blinking()
    };
    let all = frames(
        &src,
        Eyes {
            left: (lx, ly),
            right: (rx, ry),
        },
        &footage,
    );
    std::fs::create_dir_all(&args.out_dir)?;
    let y4m = args.out_dir.join("footage.y4m");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&y4m)?);
    write_y4m(&all, footage.fps, &mut out)?;
    for (i, f) in all.iter().enumerate() {
        let path = args.out_dir.join(format!("frame-{i:02}.jpg"));
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 90).encode_image(f)?;
        std::fs::write(&path, bytes.into_inner())?;
    }
    eprintln!(
        "{} frames ({}x{}, {} fps) in {}",
        all.len(),
        footage.size.0,
        footage.size.1,
        footage.fps,
        args.out_dir.display()
    );
    Ok(())
}
