//! Print attacks: the photo printed on matte paper as a CMYK halftone or on glossy photo
//! paper in continuous tone, with the paper's grain and mottle, bent and lit unevenly, and,
//! on glossy paper, a specular band.

use image::{ImageBuffer, Rgb};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geometry::{normalise, Bend, Curl};
use super::scene::{smooth_field, Medium};
use super::{bilinear, AttackType, Photo, Rgbf, FILL_FACTOR, SUBSAMPLES};
use crate::photo::Grain;

/// The longest side of a print's rendered surface, in texels (about 15 MB at 16 bits).
const PRINT_MAX_TEXELS: u32 = 1600;

/// A print's surface: linear reflectance, 0–65535.
type Surface = ImageBuffer<Rgb<u16>, Vec<u16>>;

/// How a print is lit: ambient plus one directional light, falling off across the sheet.
#[derive(Clone, Copy, Debug)]
pub(super) struct Light {
    /// Light on the sheet relative to the room's.
    pub(super) level: f32,
    ambient: f32,
    /// Direction towards the light in the medium's frame (z negative: in front).
    dir: [f32; 3],
    /// Falloff across the sheet, per sheet width and height.
    gradient: (f32, f32),
    tint: Rgbf,
}

/// A specular band across glossy paper: the reflection of a window or a tube light.
#[derive(Clone, Copy, Debug)]
struct Band {
    /// sin, cos of the band's direction.
    angle: (f32, f32),
    offset: f32,
    width: f32,
    strength: f32,
    /// Where along the band it is brightest.
    phase: f32,
}

/// A print held up by hand: paper with its reflectance rendered at high resolution (the
/// halftone dots of a matte print, the continuous tone of a glossy one), bent, lit unevenly.
pub(super) struct Print {
    pub(super) size: (f32, f32),
    /// Reflectance of the paper, at `texel` millimetres per texel across and down.
    surface: Surface,
    texel: (f32, f32),
    /// Light reflected by the surface before it reaches the ink: why no print is black.
    flare: f32,
    pub(super) light: Light,
    room_level: f32,
    pub(super) bend: Bend,
    band: Option<Band>,
    pub(super) anchor: (f32, f32),
}

impl Print {
    /// Draws a print of the photo whose face is `face_mm` wide, for a camera that sees
    /// `mm_per_px` millimetres per pixel, in a room lit at `room_level`.
    pub(super) fn sample(
        photo: &Photo,
        kind: AttackType,
        face_mm: f32,
        mm_per_px: f32,
        room_level: f32,
        rng: &mut ChaCha8Rng,
    ) -> Print {
        let matte = kind == AttackType::PrintMatte;
        let (sw, sh) = photo.srgb.dimensions();
        let photo_w = face_mm * sw as f32 / photo.face_w;
        let photo_h = photo_w * sh as f32 / sw as f32;
        // Matte prints are cut from a sheet by hand (uneven margins); photo paper has an even
        // white border.
        let margins = if matte {
            [0; 4].map(|_| rng.gen_range(4.0..40.0f32))
        } else {
            [rng.gen_range(3.0..6.0f32); 4]
        };
        let size = (
            photo_w + margins[0] + margins[1],
            photo_h + margins[2] + margins[3],
        );
        let area = [margins[0], margins[2], photo_w, photo_h];
        let longer = size.0.max(size.1);
        let paper: Rgbf = if matte {
            [0.88, 0.86, 0.79].map(|c| c * rng.gen_range(0.95..1.05))
        } else {
            [0.90, 0.89, 0.86].map(|c| c * rng.gen_range(0.97..1.03))
        };
        let texel;
        let surface = if matte {
            // The halftone period as the camera sees it: 0.5–1.8 camera pixels per dot, as
            // fine as 4 texels a period allows within the texture's size.
            let mut period = mm_per_px * rng.gen_range(0.5..1.8);
            let mut per_period = 4.0;
            if longer / period * per_period > PRINT_MAX_TEXELS as f32 {
                per_period = (PRINT_MAX_TEXELS as f32 * period / longer).max(3.0);
                period = period.max(3.0 * longer / PRINT_MAX_TEXELS as f32);
            }
            texel = period / per_period;
            let screen = Halftone::sample(rng, period);
            print_surface(photo, size, area, texel, rng, |c, u, v| {
                screen.reflectance(c, u, v, texel, paper)
            })
        } else {
            texel = (longer / PRINT_MAX_TEXELS as f32).max(mm_per_px / SUBSAMPLES as f32);
            let saturation = rng.gen_range(0.6..0.8f32);
            let dmin = rng.gen_range(0.03..0.06f32);
            let shift: Rgbf = [0; 3].map(|_| rng.gen_range(0.95..1.03));
            print_surface(photo, size, area, texel, rng, |c, _, _| {
                glossy_reflectance(c, paper, saturation, dmin, shift)
            })
        };
        let texel = (
            size.0 / surface.width() as f32,
            size.1 / surface.height() as f32,
        );

        let k_sag = if matte {
            rng.gen_range(2.0..12.0f32)
        } else {
            rng.gen_range(1.0..5.0f32)
        } * if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
        let along_u = rng.gen_bool(0.7);
        let span = if along_u { size.0 } else { size.1 };
        let centre = span * rng.gen_range(0.35..0.65);
        let reach = span.max(1.0) / 2.0;
        let curl = (!matte).then(|| Curl {
            edge: rng.gen_range(0..4),
            size,
            reach: size.0.min(size.1) * rng.gen_range(0.1..0.25),
            lift: rng.gen_range(2.0..8.0),
        });
        let bend = Bend {
            along_u,
            centre,
            k: k_sag / (reach * reach),
            curl,
        };
        let light = Light {
            level: rng.gen_range(0.9..1.6),
            ambient: rng.gen_range(0.45..0.7),
            dir: normalise([
                rng.gen_range(-0.8..0.8),
                rng.gen_range(-1.0..0.3),
                -rng.gen_range(0.5..1.0),
            ]),
            gradient: (rng.gen_range(-0.5..0.5), rng.gen_range(-0.4..0.4)),
            tint: if rng.gen_bool(0.6) {
                [1.0, 0.93, 0.82]
            } else {
                [0.97, 0.99, 1.0]
            },
        };
        let band = (!matte).then(|| {
            let angle = rng.gen_range(0.0..std::f32::consts::PI);
            Band {
                angle: angle.sin_cos(),
                offset: rng.gen_range(-0.4..0.4) * photo_w,
                width: rng.gen_range(0.1..0.3) * photo_w,
                strength: rng.gen_range(0.2..0.8),
                phase: rng.gen_range(0.0..std::f32::consts::TAU),
            }
        });
        Print {
            size,
            surface,
            texel,
            flare: if matte {
                rng.gen_range(0.03..0.07)
            } else {
                rng.gen_range(0.005..0.015)
            },
            light,
            room_level,
            bend,
            band,
            anchor: (
                area[0] + photo.face.0 / sw as f32 * photo_w,
                area[1] + photo.face.1 / sh as f32 * photo_h,
            ),
        }
    }

    /// The surface averaged down, by whole blocks of texels, to no finer than the spacing of
    /// the camera's sub-samples, as the photodiodes would average it: the sub-samples then
    /// see no detail that falls between them.
    pub(super) fn filtered(mut self, mm_per_px: f32) -> Print {
        let target = mm_per_px * FILL_FACTOR / SUBSAMPLES as f32;
        let k = (target / self.texel.0.max(self.texel.1)).floor() as u32;
        if k >= 2 {
            self.surface = box_shrink(&self.surface, k);
            self.texel = (self.texel.0 * k as f32, self.texel.1 * k as f32);
        }
        self
    }

    /// Light falling on the sheet at (u, v).
    fn irradiance(&self, u: f32, v: f32) -> Rgbf {
        let l = &self.light;
        let n = self.bend.normal(u, v);
        let lambert = (n[0] * l.dir[0] + n[1] * l.dir[1] + n[2] * l.dir[2]).max(0.0);
        let falloff =
            1.0 + l.gradient.0 * (u / self.size.0 - 0.5) + l.gradient.1 * (v / self.size.1 - 0.5);
        let e = self.room_level
            * l.level
            * (l.ambient + (1.0 - l.ambient) * lambert)
            * falloff.max(0.2);
        l.tint.map(|t| t * e)
    }
}

impl Medium for Print {
    fn extent(&self) -> [f32; 4] {
        [0.0, 0.0, self.size.0, self.size.1]
    }

    fn radiance(&self, u: f32, v: f32, _hu: f32, _hv: f32) -> Option<Rgbf> {
        if u < 0.0 || v < 0.0 || u >= self.size.0 || v >= self.size.1 {
            return None;
        }
        let r = bilinear(
            &self.surface,
            u / self.texel.0 - 0.5,
            v / self.texel.1 - 0.5,
        )
        .map(|c| c / 65535.0);
        let e = self.irradiance(u, v);
        let mut spec = self.flare;
        if let Some(b) = &self.band {
            let (s, c) = b.angle;
            let q = ((u - self.anchor.0) * c + (v - self.anchor.1) * s - b.offset) / b.width;
            let along = (-(u - self.anchor.0) * s + (v - self.anchor.1) * c) / self.size.0;
            // Soft across, uneven along, like a window's or a tube light's reflection.
            let fade = 0.5 + 0.5 * (along * 4.0 + b.phase).sin();
            spec += b.strength * (-q * q).exp() * fade;
        }
        Some([0, 1, 2].map(|k| e[k] * (r[k] + spec)))
    }
}

/// A CMYK halftone: four dot screens at the classic angles, with the printer's slight
/// misregistration.
struct Halftone {
    period: f32,
    /// Per ink (C, M, Y, K): sin and cos of the screen angle and the registration offset
    /// in periods.
    screens: [((f32, f32), (f32, f32)); 4],
    /// Threshold of the spot function for a coverage of i/64.
    thresholds: [f32; 65],
}

/// Transmittance of each ink for red, green and blue light.
const INKS: [Rgbf; 4] = [
    [0.10, 0.65, 0.92],
    [0.85, 0.12, 0.55],
    [0.95, 0.88, 0.10],
    [0.08, 0.08, 0.09],
];

impl Halftone {
    fn sample(rng: &mut ChaCha8Rng, period: f32) -> Halftone {
        let angles = [15.0f32, 75.0, 0.0, 45.0];
        let screens = angles.map(|a| {
            (
                (a + rng.gen_range(-1.0..1.0f32)).to_radians().sin_cos(),
                (rng.gen_range(0.0..0.3), rng.gen_range(0.0..0.3)),
            )
        });
        // The spot function's value at each coverage, from its distribution over a cell.
        let n = 64;
        let mut values: Vec<f32> = (0..n * n)
            .map(|i| spot((i % n) as f32 / n as f32, (i / n) as f32 / n as f32).0)
            .collect();
        values.sort_by(|a, b| b.total_cmp(a));
        let mut thresholds = [0f32; 65];
        for (i, t) in thresholds.iter_mut().enumerate() {
            let k = (i * values.len() / 64).min(values.len() - 1);
            *t = values[k];
        }
        thresholds[0] = 1.01;
        thresholds[64] = -1.01;
        Halftone {
            period,
            screens,
            thresholds,
        }
    }

    fn threshold(&self, coverage: f32) -> f32 {
        let x = coverage.clamp(0.0, 1.0) * 64.0;
        let i = (x as usize).min(63);
        let f = x - i as f32;
        self.thresholds[i] + (self.thresholds[i + 1] - self.thresholds[i]) * f
    }

    /// Paper reflectance at (u, v) mm for the wanted linear colour `c`: the inks' coverages
    /// solved per channel (cyan for red, magenta for green, yellow for blue, black for the
    /// shadows), each screened into dots; overlapping inks multiply.
    fn reflectance(&self, c: Rgbf, u: f32, v: f32, texel: f32, paper: Rgbf) -> Rgbf {
        // Ink on paper reaches about 5 % reflectance at best.
        let dmin = 0.05;
        let target = c.map(|x| dmin + (1.0 - dmin) * x.clamp(0.0, 1.0));
        let darkness = 1.0 - target.iter().fold(0f32, |a, &b| a.max(b));
        let k = ((darkness - 0.55) / 0.45).clamp(0.0, 1.0) * 0.9;
        let k_left = 1.0 - k * (1.0 - INKS[3][0]);
        let mut coverage = [0f32; 4];
        for ch in 0..3 {
            coverage[ch] = ((1.0 - target[ch] / k_left) / (1.0 - INKS[ch][ch])).clamp(0.0, 1.0);
        }
        coverage[3] = k;
        let mut r = paper;
        let aa = texel / self.period;
        for (ink, &a) in coverage.iter().enumerate() {
            if a <= 0.002 {
                continue;
            }
            let ((s, cs), (ox, oy)) = self.screens[ink];
            let x = (u * cs + v * s) / self.period + ox;
            let y = (-u * s + v * cs) / self.period + oy;
            let (f, grad) = spot(x, y);
            let t = self.threshold(a);
            // Anti-aliased edge: one texel wide.
            let cov = if a >= 0.998 {
                1.0
            } else {
                ((f - t) / (grad * aa).max(1e-3) + 0.5).clamp(0.0, 1.0)
            };
            for (ch, rv) in r.iter_mut().enumerate() {
                *rv *= 1.0 - cov * (1.0 - INKS[ink][ch]);
            }
        }
        r
    }
}

/// The round-dot spot function (cos 2πx + cos 2πy) / 2 and its gradient's length, in
/// periods: dots grow from the cell centres and meet in a checkerboard at half coverage.
fn spot(x: f32, y: f32) -> (f32, f32) {
    let (sx, cx) = sin_cos_turns(x);
    let (sy, cy) = sin_cos_turns(y);
    let grad = std::f32::consts::PI * (sx * sx + sy * sy).sqrt();
    ((cx + cy) / 2.0, grad)
}

/// sin and cos of 2πx, by Bhaskara's approximation (error under 0.2 %): the halftone
/// evaluates four screens per texel over millions of texels.
fn sin_cos_turns(x: f32) -> (f32, f32) {
    let sin = |x: f32| {
        let x = x - x.floor();
        let (t, sign) = if x < 0.5 {
            (2.0 * x, 1.0)
        } else {
            (2.0 * x - 1.0, -1.0)
        };
        let p = t * (1.0 - t);
        sign * 16.0 * p / (5.0 - 4.0 * p)
    };
    (sin(x), sin(x + 0.25))
}

/// Photo paper: continuous tone, colours pulled towards grey, blacks lifted, a slight cast.
fn glossy_reflectance(c: Rgbf, paper: Rgbf, saturation: f32, dmin: f32, shift: Rgbf) -> Rgbf {
    let luma = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    [0, 1, 2].map(|k| {
        let x = (luma + (c[k] - luma) * saturation).clamp(0.0, 1.0);
        paper[k] * (dmin + (1.0 - dmin) * x * shift[k]).min(1.0)
    })
}

/// Renders a print's surface: the photo in `area` ([x, y, w, h] mm) of a sheet of `size`,
/// through `ink` (linear colour and position to reflectance), white paper around, with the
/// paper's grain and mottle.
fn print_surface(
    photo: &Photo,
    size: (f32, f32),
    area: [f32; 4],
    texel: f32,
    rng: &mut ChaCha8Rng,
    ink: impl Fn(Rgbf, f32, f32) -> Rgbf,
) -> Surface {
    let w = ((size.0 / texel).ceil() as u32).clamp(1, PRINT_MAX_TEXELS);
    let h = ((size.1 / texel).ceil() as u32).clamp(1, PRINT_MAX_TEXELS);
    let (tx, ty) = (size.0 / w as f32, size.1 / h as f32);
    let (sw, sh) = (photo.linear.width() as f32, photo.linear.height() as f32);
    // Mottle: cells of about 3 mm.
    let cols = ((size.0 / 3.0) as u32).clamp(2, 256);
    let rows = ((size.1 / 3.0) as u32).clamp(2, 256);
    let mottle = smooth_field(rng, w, h, cols, rows, 0.02);
    let blank = ink([1.0; 3], -1e6, -1e6);
    let mut grain = Grain(rng.gen::<u32>() | 1);
    ImageBuffer::from_fn(w, h, |x, y| {
        let (u, v) = ((x as f32 + 0.5) * tx, (y as f32 + 0.5) * ty);
        let (pu, pv) = ((u - area[0]) / area[2], (v - area[1]) / area[3]);
        let r = if (0.0..1.0).contains(&pu) && (0.0..1.0).contains(&pv) {
            let c = bilinear(&photo.linear, pu * sw - 0.5, pv * sh - 0.5);
            ink(c, u, v)
        } else {
            blank
        };
        // Paper fibre: a percent or two of per-texel grain.
        let fibre = 1.0 + 0.03 * (grain.next() - 0.5);
        let m = mottle[(y * w + x) as usize] * fibre;
        Rgb(r.map(|c| (c * m * 65535.0).round().clamp(0.0, 65535.0) as u16))
    })
}

/// The mean of each `k`×`k` block (a partial block at the right or bottom edge is dropped).
fn box_shrink(img: &Surface, k: u32) -> Surface {
    let (w, h) = ((img.width() / k).max(1), (img.height() / k).max(1));
    let (kx, ky) = (k.min(img.width()), k.min(img.height()));
    ImageBuffer::from_fn(w, h, |x, y| {
        let mut sum = [0u64; 3];
        for yy in y * ky..(y + 1) * ky {
            for xx in x * kx..(x + 1) * kx {
                for (s, &c) in sum.iter_mut().zip(&img.get_pixel(xx, yy).0) {
                    *s += u64::from(c);
                }
            }
        }
        let n = u64::from(kx * ky);
        Rgb(sum.map(|s| (s / n) as u16))
    })
}

#[cfg(test)]
mod tests {
    use image::RgbImage;
    use rand::SeedableRng;

    use super::super::tests::{decoded, face_luma, photo};
    use super::super::{render, Framing, Presentation};
    use super::*;

    fn percentile(mut v: Vec<f32>, p: f32) -> f32 {
        v.sort_by(f32::total_cmp);
        v[((v.len() - 1) as f32 * p) as usize]
    }

    #[test]
    fn prints_lift_the_blacks_and_flatten_the_contrast() {
        let p = photo();
        for kind in [AttackType::PrintMatte, AttackType::PrintGlossy] {
            let (mut dark_print, mut dark_bona, mut range_print, mut range_bona) =
                (0.0, 0.0, 0.0, 0.0);
            for seed in 0..6 {
                let a = render(&p, Presentation::Attack(kind), seed).expect("render");
                let b = render(&p, Presentation::BonaFide, seed).expect("render");
                let la: Vec<f32> = face_luma(&decoded(&a), a.face)
                    .iter()
                    .map(|t| t.2)
                    .collect();
                let lb: Vec<f32> = face_luma(&decoded(&b), b.face)
                    .iter()
                    .map(|t| t.2)
                    .collect();
                let (a2, a98) = (percentile(la.clone(), 0.02), percentile(la, 0.98));
                let (b2, b98) = (percentile(lb.clone(), 0.02), percentile(lb, 0.98));
                dark_print += a2 / a98.max(1.0);
                dark_bona += b2 / b98.max(1.0);
                range_print += a98 - a2;
                range_bona += b98 - b2;
            }
            assert!(
                dark_print > dark_bona * 1.5 + 0.1,
                "{kind}: darkest/brightest {dark_print:.2} printed, {dark_bona:.2} bona fide"
            );
            assert!(
                range_print < range_bona,
                "{kind}: range {range_print:.0} printed, {range_bona:.0} bona fide"
            );
        }
    }

    #[test]
    fn a_matte_print_is_screened_into_dots_and_a_glossy_one_is_not() {
        // A flat mid-grey photo: a halftone makes it a mix of near-paper and inked texels;
        // continuous tone keeps every texel close to the mean.
        let grey = Photo::new(
            &RgbImage::from_pixel(60, 60, Rgb([128, 128, 128])),
            Framing::default(),
        )
        .expect("photo");
        for (kind, screened) in [
            (AttackType::PrintMatte, true),
            (AttackType::PrintGlossy, false),
        ] {
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            // The surface as printed, before the camera's filtering.
            let print = Print::sample(&grey, kind, 40.0, 0.3, 0.3, &mut rng);
            let s = &print.surface;
            let (w, h) = s.dimensions();
            let vals: Vec<f32> = (h / 3..2 * h / 3)
                .flat_map(|y| (w / 3..2 * w / 3).map(move |x| (x, y)))
                .map(|(x, y)| f32::from(s.get_pixel(x, y).0[1]) / 65535.0)
                .collect();
            let mean = vals.iter().sum::<f32>() / vals.len() as f32;
            let sd =
                (vals.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / vals.len() as f32).sqrt();
            if screened {
                assert!(sd > 0.1, "matte: sd {sd:.3} around {mean:.3}");
            } else {
                assert!(sd < 0.03, "glossy: sd {sd:.3} around {mean:.3}");
            }
        }
    }
}
