//! PDF417 barcodes: finding and decoding the one on the back of a driver's licence in a
//! photo, and drawing one for tests and synthetic documents. Both go through `rxing`, a
//! Rust port of ZXing.
//!
//! ZXing's PDF417 detector looks for the start and stop patterns along rows, in the image
//! as is and turned by 180, 270 and 90 degrees, so a card photographed upside down or
//! sideways needs no extra pass here. It tolerates a tilt of two or three degrees, not
//! more, so a tilted photo is turned straight by the angle its edges show (the bars of
//! the symbol dominate a licence back) and tried again. A large photo is also tried at
//! half size, and each image with two binarizers (local, then global threshold), on a
//! smoothed copy against sensor noise and on a sharpened (unsharp-masked) one against blur.

mod gray;

use gray::Gray;
use rxing::common::{BitMatrix, GlobalHistogramBinarizer, HybridBinarizer};
use rxing::pdf417::{PDF417Reader, PDF417Writer};
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, EncodeHintValue, EncodeHints, Luma8Source,
    Point, RXingResult, RXingResultMetadataType, RXingResultMetadataValue, Reader, Writer,
};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};
use vouch_face::Rgb;

/// A decoded barcode.
#[derive(Debug, Clone, PartialEq)]
pub struct Barcode {
    /// The symbol's text (PDF417 byte and text compaction read as Latin-1, ECI honoured).
    pub text: String,
    /// Bounding box of the symbol in the input image, pixels: left, top, right, bottom.
    /// When the detector found only one of the two guard patterns (start and stop), even
    /// on a smoothed copy, the box covers that side's pattern only.
    pub bbox: [f32; 4],
    /// The symbol's corners in the input image, in reading order: top left, top right,
    /// bottom right, bottom left; `None` when only one guard pattern was found.
    pub corners: Option<[(f32, f32); 4]>,
    /// How far the symbol is turned in the image, clockwise degrees in [0, 360): about 0
    /// for an upright card, 180 for one upside down, 7.5 for a slight tilt.
    pub angle: f32,
}

/// Why a barcode could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BarcodeError {
    /// Module size outside 1..=16 pixels.
    #[error("module size {0} px is outside 1..=16")]
    ModuleSize(u32),
    /// The encoder refused the data (too long for one symbol, or not encodable).
    #[error("PDF417 encoding failed: {0}")]
    Encode(String),
}

/// Larger sides are shrunk to this before decoding, so time stays bounded: a licence
/// barcode that fills a tenth of such a photo still has modules of two pixels or more.
const MAX_SIDE: u32 = 3200;

/// A photo whose longer side is at least this is also tried at half size.
const HALF_FROM: u32 = 1000;

/// No new attempt starts after this much time has gone.
const BUDGET: Duration = Duration::from_secs(4);

/// A tilt smaller than this is left to the detector.
const MIN_TILT: f32 = 1.5;

/// A tilt left after straightening that is worth a second turn.
const MIN_REST: f32 = 0.5;

/// Finds and decodes the PDF417 barcode in a photo; `None` when there is none it can
/// read. Tries the image at its size (shrunk to at most 3200 px a side), then turned
/// straight when its edges show a tilt, then the same at half size when it is large; each
/// with a local and a global binarizer and on a sharpened copy, and the untilted ones also
/// smoothed. Every attempt looks at all four right-angle rotations. Stops starting attempts
/// after four seconds. Never panics: a panic inside the decoder is caught and counts as not found.
pub fn decode_pdf417(img: &Rgb) -> Option<Barcode> {
    let expected = img.width as usize * img.height as usize * 3;
    if img.width == 0 || img.height == 0 || img.data.len() != expected {
        return None;
    }
    let started = Instant::now();
    let mut gray = Gray::from_rgb(img);
    let mut scale = 1.0f32;
    while gray.width.max(gray.height) > MAX_SIDE {
        gray = gray.half();
        scale *= 2.0;
    }
    let half = (gray.width.max(gray.height) >= HALF_FROM).then(|| gray.half());
    let mut sizes = vec![(gray, scale)];
    if let Some(half) = half {
        sizes.push((half, scale * 2.0));
    }
    let in_time = || started.elapsed() < BUDGET;
    for (g, s) in sizes {
        let plain = View::plain(g, s);
        if let Some(found) = search(
            &plain,
            &[Pass::Local, Pass::Global, Pass::Smoothed, Pass::Sharpened],
            &in_time,
        ) {
            return Some(found);
        }
        let Some(mut tilt) = plain.image.skew().filter(|t| t.abs() >= MIN_TILT) else {
            continue;
        };
        // The measured tilt runs a little short on fine bars; one more measurement on the
        // straightened image takes up most of the rest.
        for _ in 0..2 {
            if !in_time() {
                return None;
            }
            let straight = View::straightened(&plain.image, s, tilt);
            if let Some(found) = search(
                &straight,
                &[Pass::Local, Pass::Global, Pass::Sharpened],
                &in_time,
            ) {
                return Some(found);
            }
            match straight.image.skew() {
                Some(rest) if rest.abs() >= MIN_REST => tilt += rest,
                _ => break,
            }
        }
    }
    None
}

/// Tries the passes in order on one view; the first that reads the symbol wins.
fn search(view: &View, passes: &[Pass], in_time: &dyn Fn() -> bool) -> Option<Barcode> {
    let mut smoothed = None;
    for &pass in passes {
        if !in_time() {
            return None;
        }
        let Some(found) = attempt(&view.image, pass, &mut smoothed) else {
            continue;
        };
        if found.getPoints().len() < 8 && pass != Pass::Smoothed && in_time() {
            // Read from one side only (noise or print beside the other guard pattern hid
            // it): a smoothed copy often shows both, for a box around the whole symbol.
            if let Some(whole) = attempt(&view.image, Pass::Smoothed, &mut smoothed)
                .filter(|w| w.getText() == found.getText() && w.getPoints().len() == 8)
            {
                return Some(view.barcode(&whole));
            }
        }
        return Some(view.barcode(&found));
    }
    None
}

/// One way of binarizing an image for the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Local thresholds (ZXing's hybrid binarizer): uneven light.
    Local,
    /// One global threshold from the histogram: low contrast, fine print.
    Global,
    /// Local thresholds on a 3×3 mean of the image: sensor noise.
    Smoothed,
    /// Local thresholds on an unsharp-masked copy: a blurred photo.
    Sharpened,
}

/// An image the detector looks at, and how its pixels map back to the input photo: it is
/// the photo shrunk by `scale`, then turned clockwise by `-tilt` degrees about its centre.
struct View {
    image: Gray,
    scale: f32,
    tilt: f32,
    /// Centre of the shrunk photo before turning, and of the turned image.
    centres: ((f32, f32), (f32, f32)),
}

impl View {
    /// The shrunk photo as it is.
    fn plain(image: Gray, scale: f32) -> View {
        let centre = (image.width as f32 / 2.0, image.height as f32 / 2.0);
        View {
            image,
            scale,
            tilt: 0.0,
            centres: (centre, centre),
        }
    }

    /// The shrunk photo turned straight: by `-tilt`.
    fn straightened(image: &Gray, scale: f32, tilt: f32) -> View {
        let before = (image.width as f32 / 2.0, image.height as f32 / 2.0);
        let image = image.rotated(-tilt);
        let after = (image.width as f32 / 2.0, image.height as f32 / 2.0);
        View {
            image,
            scale,
            tilt,
            centres: (before, after),
        }
    }

    /// A point of this view in input-photo pixels.
    fn to_photo(&self, (x, y): (f32, f32)) -> (f32, f32) {
        let ((cx, cy), (tx, ty)) = self.centres;
        let (sin, cos) = self.tilt.to_radians().sin_cos();
        // Pixel centres, as `Gray::rotated` samples them.
        let (dx, dy) = (x + 0.5 - tx, y + 0.5 - ty);
        // The view was turned by -tilt; turning back is a turn by +tilt.
        let (ux, uy) = (cos * dx - sin * dy + cx, sin * dx + cos * dy + cy);
        ((ux - 0.5) * self.scale, (uy - 0.5) * self.scale)
    }

    /// The detector's result in input-photo terms. Its points are in the coordinates of
    /// the bit matrix it turned counter-clockwise by its orientation; undo that first.
    fn barcode(&self, found: &RXingResult) -> Barcode {
        let turn = match found
            .getRXingResultMetadata()
            .get(&RXingResultMetadataType::ORIENTATION)
        {
            Some(RXingResultMetadataValue::Orientation(r)) => r.rem_euclid(360),
            _ => 0,
        };
        let (w, h) = (self.image.width as f32, self.image.height as f32);
        let unturn = |p: &Point| -> (f32, f32) {
            match turn {
                90 => (w - 1.0 - p.y, p.x),
                180 => (w - 1.0 - p.x, h - 1.0 - p.y),
                270 => (p.y, h - 1.0 - p.x),
                _ => (p.x, p.y),
            }
        };
        let points: Vec<(f32, f32)> = found
            .getPoints()
            .iter()
            .map(|p| self.to_photo(unturn(p)))
            .collect();
        let mut bbox = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
        for &(x, y) in &points {
            bbox = [
                bbox[0].min(x),
                bbox[1].min(y),
                bbox[2].max(x),
                bbox[3].max(y),
            ];
        }
        if points.is_empty() {
            bbox = [0.0; 4];
        }
        // With both guard patterns the first four points are the outer corners: top left,
        // bottom left, top right, bottom right.
        let corners = (points.len() == 8).then(|| [points[0], points[2], points[3], points[1]]);
        Barcode {
            text: found.getText().to_string(),
            bbox,
            corners,
            // The detector turned its matrix counter-clockwise by `turn` to read it, so the
            // symbol lies clockwise by that much in the view, plus the view's own tilt.
            angle: (turn as f32 + self.tilt).rem_euclid(360.0),
        }
    }
}

/// Draws `data` as a PDF417 symbol, black on white, each module `module_px` pixels wide
/// and three times as tall (the AAMVA minimum row height), with a quiet zone of two
/// modules, error correction level 3 (the AAMVA minimum). Characters outside Latin-1 are
/// encoded with an ECI.
pub fn encode_pdf417(data: &str, module_px: u32) -> Result<Rgb, BarcodeError> {
    if !(1..=16).contains(&module_px) {
        return Err(BarcodeError::ModuleSize(module_px));
    }
    let hints = EncodeHints::default()
        .with(EncodeHintValue::Margin("0".into()))
        .with(EncodeHintValue::ErrorCorrection("3".into()))
        .with(EncodeHintValue::Pdf417AutoEci("true".into()));
    // A width of 1 and height of 0 asks for the unscaled matrix: one pixel a module, four
    // a row, never turned to portrait.
    let matrix = catch_unwind(|| {
        PDF417Writer.encode_with_hints(data, &BarcodeFormat::PDF_417, 1, 0, &hints)
    })
    .map_err(|_| BarcodeError::Encode("the encoder panicked".into()))?
    .map_err(|e| BarcodeError::Encode(e.to_string()))?;
    Ok(render(&matrix, module_px))
}

/// Scales the writer's matrix (rows four pixels tall) to `module_px` a module and rows
/// three modules tall, adding the quiet zone.
fn render(matrix: &BitMatrix, module_px: u32) -> Rgb {
    const ROW_PX: u32 = 4; // the writer's row height at scale 1
    const QUIET: u32 = 2;
    let cols = matrix.getWidth();
    let rows = matrix.getHeight() / ROW_PX;
    let width = (cols + 2 * QUIET) * module_px;
    let height = (rows * 3 + 2 * QUIET) * module_px;
    let mut data = vec![255u8; width as usize * height as usize * 3];
    for r in 0..rows {
        for c in 0..cols {
            if !matrix.get(c, r * ROW_PX) {
                continue;
            }
            let x0 = (c + QUIET) * module_px;
            let y0 = (r * 3 + QUIET) * module_px;
            for y in y0..y0 + 3 * module_px {
                let row = y as usize * width as usize;
                for x in x0..x0 + module_px {
                    let i = (row + x as usize) * 3;
                    data[i..i + 3].fill(0);
                }
            }
        }
    }
    Rgb {
        width,
        height,
        data,
    }
}

/// One decoding attempt on one image with one binarizer. The smoothed image is made on
/// first use and kept for the next.
fn attempt(g: &Gray, pass: Pass, smoothed: &mut Option<Gray>) -> Option<RXingResult> {
    let sharp;
    let data = match pass {
        Pass::Smoothed => &smoothed.get_or_insert_with(|| g.smooth()).data,
        Pass::Sharpened => {
            let soft = smoothed.get_or_insert_with(|| g.smooth());
            sharp = g
                .data
                .iter()
                .zip(&soft.data)
                .map(|(&a, &b)| (2 * i32::from(a) - i32::from(b)).clamp(0, 255) as u8)
                .collect::<Vec<u8>>();
            &sharp
        }
        _ => &g.data,
    };
    let source = Luma8Source::new_with_slice(data, g.width, g.height).ok()?;
    let hints = DecodeHints::default();
    // rxing is a port of Java code that indexes freely; a panic on an odd image must not
    // take the request down.
    let result = catch_unwind(AssertUnwindSafe(|| match pass {
        Pass::Global => read(
            BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
            &hints,
        ),
        _ => read(BinaryBitmap::new(HybridBinarizer::new(source)), &hints),
    }));
    result.ok().flatten()
}

fn read<B: Binarizer>(mut bitmap: BinaryBitmap<B>, hints: &DecodeHints) -> Option<RXingResult> {
    PDF417Reader::new()
        .decode_with_hints(&mut bitmap, hints)
        .ok()
        .filter(|r| !r.getText().is_empty())
}
