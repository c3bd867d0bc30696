//! Training data for the fast MRZ path's character classifier: runs the fast locator on
//! labelled synthetic photos (`vouch-docsynth` folders) and writes the character cells
//! of every band it finds, with the true characters as labels.
//!
//! ```sh
//! cargo run --release -p vouch-doc --example mrz_patches -- OUT_DIR SRC_DIR... [--copies 3]
//! ```
//!
//! Writes `OUT_DIR/patches.u8` (24 × 16 bytes a patch, ink high) and `OUT_DIR/labels.txt`
//! (one character a patch). Each cell is written once as located and `copies - 1` more
//! times moved and scaled a little, as the locator's own errors would. The orientation
//! comes from the labels (the document's corners), not from the classifier.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use vouch_doc::fastmrz::{self, Gray, PATCH_H, PATCH_W};
use vouch_face::Rgb;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut copies = 3usize;
    if let Some(i) = args.iter().position(|a| a == "--copies") {
        copies = args.get(i + 1).ok_or("--copies needs a number")?.parse()?;
        args.drain(i..i + 2);
    }
    if args.len() < 2 {
        return Err("usage: mrz_patches OUT_DIR SRC_DIR... [--copies K]".into());
    }
    let out = PathBuf::from(&args[0]);
    std::fs::create_dir_all(&out)?;
    let mut patches = std::io::BufWriter::new(std::fs::File::create(out.join("patches.u8"))?);
    let mut labels = String::new();
    // Which document each band's patches came from: name, lines, characters a line.
    let mut index = String::new();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        // xorshift64*: reproducible without a dependency.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        (rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32 / (1u64 << 24) as f32
    };
    let (mut docs, mut used) = (0usize, 0usize);
    for src in &args[1..] {
        let src = Path::new(src);
        let expected: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(&std::fs::read(src.join("expected.json"))?)?;
        let mut names: Vec<&String> = expected.keys().collect();
        names.sort();
        for name in names {
            let e = &expected[name];
            let Some(lines) = e.get("mrz").and_then(|m| m.as_array()) else {
                continue;
            };
            let lines: Vec<&str> = lines.iter().filter_map(|l| l.as_str()).collect();
            let corners: Vec<f32> = e
                .get("corners")
                .and_then(|c| c.as_array())
                .map(|c| {
                    c.iter()
                        .filter_map(|p| p.as_array())
                        .flat_map(|p| p.iter().filter_map(|v| v.as_f64()).map(|v| v as f32))
                        .collect()
                })
                .unwrap_or_default();
            if corners.len() != 8 || lines.is_empty() {
                continue;
            }
            docs += 1;
            let img = image::open(src.join(name))?.to_rgb8();
            let (w, h) = img.dimensions();
            let rgb = Rgb::new(w, h, img.into_raw())?;
            let gray = Gray::of(&rgb);
            let n = lines[0].len();
            let reading = (corners[2] - corners[0], corners[3] - corners[1]);
            let Some(band) = fastmrz::locate(&gray)
                .into_iter()
                .find(|b| b.len() == lines.len())
            else {
                continue;
            };
            let d = band.direction();
            let reverse = d.0 * reading.0 + d.1 * reading.1 < 0.0;
            let text: String = lines.concat();
            for copy in 0..copies {
                let got = if copy == 0 {
                    fastmrz::band_patches(&gray, &band, n, reverse, fastmrz::Span::Own)
                } else {
                    fastmrz::band_patches_jittered(
                        &gray,
                        &band,
                        n,
                        reverse,
                        fastmrz::Span::Own,
                        &mut || {
                            [
                                (uniform() - 0.5) * 0.24,
                                (uniform() - 0.5) * 0.16,
                                1.0 + (uniform() - 0.5) * 0.14,
                                1.0 + (uniform() - 0.5) * 0.16,
                            ]
                        },
                    )
                };
                let Some((p, _)) = got else { break };
                if copy == 0 {
                    used += 1;
                }
                debug_assert_eq!(p.len(), text.len() * PATCH_W * PATCH_H);
                patches.write_all(&p)?;
                labels.push_str(&text);
                index.push_str(&format!(
                    "{} {} {n}\n",
                    src.join(name).display(),
                    lines.len()
                ));
            }
        }
    }
    patches.flush()?;
    std::fs::write(out.join("labels.txt"), &labels)?;
    std::fs::write(out.join("index.txt"), &index)?;
    eprintln!(
        "{used} of {docs} MRZ documents gave a band; {} patches in {}",
        labels.len(),
        out.display()
    );
    Ok(())
}
