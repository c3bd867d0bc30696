//! The webcam that captures every scene, bona fide or attack: lens blur, auto exposure,
//! partial auto white balance, a Bayer sensor with shot and read noise, bilinear
//! demosaicing, sharpening and JPEG quality. (Not [`crate::camera`], the footage writer.)

use image::{Rgb, Rgb32FImage, RgbImage};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::encode;

/// A webcam: lens blur, auto exposure, partial auto white balance, a Bayer sensor with shot
/// and read noise, bilinear demosaicing, sharpening and JPEG.
pub(super) struct Camera {
    blur: f32,
    target: f32,
    awb: f32,
    shot: f32,
    read: f32,
    sharpen: f32,
    pub(super) quality: u8,
}

impl Camera {
    pub(super) fn sample(rng: &mut ChaCha8Rng, defocus: f32) -> Camera {
        let lens: f32 = rng.gen_range(0.25..0.55);
        Camera {
            blur: (lens * lens + defocus * defocus).sqrt(),
            target: 0.18 * rng.gen_range(0.8..1.25),
            awb: rng.gen_range(0.2..0.5),
            shot: rng.gen_range(0.0004..0.002),
            read: rng.gen_range(0.0015..0.004),
            sharpen: rng.gen_range(0.2..0.6),
            quality: rng.gen_range(80..=90),
        }
    }

    pub(super) fn develop(&self, scene: &Rgb32FImage, rng: &mut ChaCha8Rng) -> RgbImage {
        let (w, h) = scene.dimensions();
        let optics = imageproc::filter::gaussian_blur_f32(scene, self.blur.max(0.05));
        // Centre-weighted metering, and a grey-world white balance applied in part.
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let spread = 2.0 * (0.3 * w as f32).powi(2);
        let (mut sum, mut weight) = ([0f64; 3], 0f64);
        for (x, y, p) in optics.enumerate_pixels() {
            let d2 = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2);
            let wgt = f64::from((-d2 / spread).exp());
            for (s, &c) in sum.iter_mut().zip(&p.0) {
                *s += f64::from(c) * wgt;
            }
            weight += wgt;
        }
        let mean = sum.map(|s| (s / weight.max(1e-9)) as f32 + 1e-6);
        let luma = 0.2126 * mean[0] + 0.7152 * mean[1] + 0.0722 * mean[2];
        // Webcams do not expose fully for very dark or bright scenes.
        let exposure = (self.target / luma).powf(0.8).clamp(0.05, 20.0);
        let gains = mean.map(|m| exposure * (luma / m).powf(self.awb));

        // The sensor: one colour per photosite (RGGB), with shot and read noise.
        let mut raw = vec![0f32; (w * h) as usize];
        for (x, y, p) in optics.enumerate_pixels() {
            let ch = bayer(x, y);
            let v = p.0[ch] * gains[ch];
            let sigma = (self.shot * v.max(0.0) + self.read * self.read).sqrt();
            raw[(y * w + x) as usize] = v + sigma * normal(rng);
        }
        // Bilinear demosaicing: each missing colour from the neighbours that have it.
        let mut rgb = Rgb32FImage::new(w, h);
        for (x, y, p) in rgb.enumerate_pixels_mut() {
            let (mut acc, mut cnt) = ([0f32; 3], [0f32; 3]);
            for dy in -1i64..=1 {
                for dx in -1i64..=1 {
                    let nx = (x as i64 + dx).clamp(0, w as i64 - 1) as u32;
                    let ny = (y as i64 + dy).clamp(0, h as i64 - 1) as u32;
                    let ch = bayer(nx, ny);
                    let own = dx == 0 && dy == 0;
                    if own || ch != bayer(x, y) {
                        acc[ch] += raw[(ny * w + nx) as usize];
                        cnt[ch] += 1.0;
                    }
                }
            }
            let own = bayer(x, y);
            let mut out = [0f32; 3];
            for k in 0..3 {
                out[k] = if k == own {
                    raw[(y * w + x) as usize]
                } else {
                    acc[k] / cnt[k].max(1.0)
                };
            }
            *p = Rgb(out.map(|v| encode(v.clamp(0.0, 1.0))));
        }
        // The ISP's sharpening, on the encoded image.
        let soft = imageproc::filter::gaussian_blur_f32(&rgb, 1.0);
        RgbImage::from_fn(w, h, |x, y| {
            let (p, s) = (rgb.get_pixel(x, y).0, soft.get_pixel(x, y).0);
            Rgb([0, 1, 2].map(|k| {
                let v = p[k] + self.sharpen * (p[k] - s[k]);
                (v * 255.0).round().clamp(0.0, 255.0) as u8
            }))
        })
    }
}

/// The colour of photosite (x, y) in an RGGB mosaic.
fn bayer(x: u32, y: u32) -> usize {
    match (x % 2, y % 2) {
        (0, 0) => 0,
        (1, 1) => 2,
        _ => 1,
    }
}

/// A standard normal deviate (Box–Muller).
fn normal(rng: &mut ChaCha8Rng) -> f32 {
    let u1: f32 = rng.gen_range(1e-7..1.0);
    let u2: f32 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}
