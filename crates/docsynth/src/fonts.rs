//! Finds and loads the fonts at run time: OCR-B (Debian `fonts-ocr-b`) for the MRZ, DejaVu Sans
//! (Debian `fonts-dejavu-core`) for the visual zone.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontArc, PxScale};
use anyhow::{anyhow, Context, Result};

/// Environment variable naming a folder that holds the font files (checked before the system
/// folders; `--font-dir` takes precedence over it).
pub const FONT_DIR_ENV: &str = "VOUCH_DOCSYNTH_FONT_DIR";

const SYSTEM_DIRS: &[&str] = &[
    "/usr/share/fonts/opentype/ocr-b",
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/truetype/ocr-b",
    "/usr/share/fonts/opentype",
    "/usr/share/fonts/truetype",
    "/usr/local/share/fonts",
    "/usr/share/fonts",
];

/// A loaded font with its cap height per pixel of scale, so text can be sized in millimetres
/// of cap height.
#[derive(Clone)]
pub struct Face {
    pub font: FontArc,
    pub path: PathBuf,
    cap_ratio: f32,
}

impl Face {
    fn load(path: PathBuf) -> Result<Face> {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let font = FontArc::try_from_vec(bytes).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let probe = 100.0;
        let glyph = font.glyph_id('H').with_scale(PxScale::from(probe));
        let cap = font
            .outline_glyph(glyph)
            .map(|g| g.px_bounds().height())
            .ok_or_else(|| anyhow!("{}: no outline for 'H'", path.display()))?;
        Ok(Face {
            font,
            path,
            cap_ratio: cap / probe,
        })
    }

    /// The pixel scale at which capitals are `cap_px` pixels tall.
    pub fn scale_for_cap(&self, cap_px: f32) -> PxScale {
        PxScale::from(cap_px / self.cap_ratio)
    }
}

/// The three faces the renderer uses.
#[derive(Clone)]
pub struct Fonts {
    pub ocrb: Face,
    pub sans: Face,
    pub sans_bold: Face,
}

impl Fonts {
    /// Looks in `dir` (if given), then `$VOUCH_DOCSYNTH_FONT_DIR`, then Debian's font folders.
    pub fn locate(dir: Option<&Path>) -> Result<Fonts> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(d) = dir {
            dirs.push(d.to_path_buf());
        }
        if let Some(d) = std::env::var_os(FONT_DIR_ENV) {
            dirs.push(PathBuf::from(d));
        }
        dirs.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
        let find = |names: &[&str], package: &str| -> Result<PathBuf> {
            for d in &dirs {
                for n in names {
                    let p = d.join(n);
                    if p.is_file() {
                        return Ok(p);
                    }
                }
            }
            Err(anyhow!(
                "font {} not found in {}; install Debian's `{package}` (apt-get install {package}, \
                 or scripts/install-deps.sh), or point --font-dir / ${FONT_DIR_ENV} at a folder holding it",
                names[0],
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "),
            ))
        };
        Ok(Fonts {
            ocrb: Face::load(find(
                &["OCRB.otf", "OCRB.ttf", "OCR-B.otf", "OCR-B.ttf"],
                "fonts-ocr-b",
            )?)?,
            sans: Face::load(find(&["DejaVuSans.ttf"], "fonts-dejavu-core")?)?,
            sans_bold: Face::load(find(&["DejaVuSans-Bold.ttf"], "fonts-dejavu-core")?)?,
        })
    }
}
