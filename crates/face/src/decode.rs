//! Decoding with limits: bytes, dimensions and pixels are checked before any pixel
//! buffer is allocated, so a decompression bomb is refused with a clear error; EXIF
//! orientation is applied so a phone photo is upright.

use crate::{FaceError, Result};
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};
use std::io::Cursor;

/// An RGB image, 8 bits a channel, rows top to bottom, interleaved.
#[derive(Clone)]
pub struct Rgb {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl Rgb {
    /// Wraps a buffer; fails if its length does not match.
    pub fn new(width: u32, height: u32, data: Vec<u8>) -> Result<Rgb> {
        if data.len() != width as usize * height as usize * 3 {
            return Err(FaceError::Image(
                "buffer size does not match the dimensions".into(),
            ));
        }
        Ok(Rgb {
            width,
            height,
            data,
        })
    }

    /// The pixel at (x, y), zero outside the image.
    #[inline]
    pub fn get(&self, x: i64, y: i64) -> [u8; 3] {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return [0, 0, 0];
        }
        let i = (y as usize * self.width as usize + x as usize) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    /// Largest encoded size in bytes.
    pub max_bytes: usize,
    /// Largest width or height.
    pub max_side: u32,
    /// Largest number of pixels.
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    /// 20 MB, 12 000 px a side, 40 megapixels.
    fn default() -> Self {
        DecodeLimits {
            max_bytes: 20 * 1024 * 1024,
            max_side: 12_000,
            max_pixels: 40_000_000,
        }
    }
}

/// Decodes a JPEG, PNG or WebP image to upright RGB.
pub fn decode(bytes: &[u8], limits: &DecodeLimits) -> Result<Rgb> {
    if bytes.is_empty() {
        return Err(FaceError::Image("the image is empty".into()));
    }
    if bytes.len() > limits.max_bytes {
        return Err(FaceError::Image(format!(
            "the image is {} bytes, more than the limit of {}",
            bytes.len(),
            limits.max_bytes
        )));
    }
    let format = image::guess_format(bytes).map_err(|_| {
        FaceError::Image("unrecognised image format (use JPEG, PNG or WebP)".into())
    })?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP
    ) {
        return Err(FaceError::Image(format!(
            "unsupported image format {format:?} (use JPEG, PNG or WebP)"
        )));
    }
    if format == ImageFormat::Jpeg && !has_jpeg_end(bytes) {
        // JPEG decoders fill a cut-off image with grey; a truncated upload is refused.
        return Err(FaceError::Image(
            "the JPEG is truncated (no end-of-image marker): cannot decode the image".into(),
        ));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut lim = image::Limits::default();
    lim.max_image_width = Some(limits.max_side);
    lim.max_image_height = Some(limits.max_side);
    // Room for the decoded image plus the decoder's own buffers.
    lim.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(lim);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| FaceError::Image(format!("cannot read the image: {e}")))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(FaceError::Image("the image has no pixels".into()));
    }
    if w > limits.max_side || h > limits.max_side || u64::from(w) * u64::from(h) > limits.max_pixels
    {
        return Err(FaceError::Image(format!(
            "the image is {w}×{h} pixels, more than the limit ({} a side, {} megapixels)",
            limits.max_side,
            limits.max_pixels / 1_000_000
        )));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| match e {
        image::ImageError::Limits(_) => {
            FaceError::Image("the image exceeds the decoding limits".into())
        }
        other => FaceError::Image(format!("cannot decode the image: {other}")),
    })?;
    img.apply_orientation(orientation);
    let rgb = img.into_rgb8();
    let (width, height) = rgb.dimensions();
    Ok(Rgb {
        width,
        height,
        data: rgb.into_raw(),
    })
}

/// Whether a JPEG stream has its end-of-image marker (some writers add a few bytes of
/// padding or metadata after it, so the tail is searched rather than the last two bytes).
fn has_jpeg_end(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}
