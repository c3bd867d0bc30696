//! Photographs a rendered page as a handheld phone would: the page lies on a table, seen at a
//! random scale, rotation and perspective, under uneven light, with blur, sensor noise and
//! JPEG compression.

use image::{Rgb, RgbImage};
use rand::Rng;
use serde_json::{json, Value};

use crate::homography::Homography;
use crate::page::{lerp, Color, Page};

/// Capture settings that a caller may fix; `None` fields are drawn at random.
#[derive(Clone, Debug, Default)]
pub struct CaptureSpec {
    /// Rotation of the document in the frame, degrees, counter-clockwise.
    pub rotation_deg: Option<f32>,
    /// Document width as a share of the frame width (before perspective).
    pub scale: Option<f32>,
    /// Corner jitter as a share of the document's size (0 = a flat, square-on view).
    pub perspective: Option<f32>,
    /// Gaussian blur sigma in output pixels.
    pub blur: Option<f32>,
    /// Sensor noise standard deviation, in 8-bit levels.
    pub noise: Option<f32>,
    pub jpeg_quality: Option<u8>,
    /// Output size in pixels.
    pub frame: Option<(u32, u32)>,
    /// Whether a specular highlight crosses the document.
    pub glare: Option<bool>,
    /// Additive brightness change in 8-bit levels.
    pub brightness: Option<f32>,
    pub contrast: Option<f32>,
    /// Whether the light falls unevenly (a gradient and vignetting).
    pub uneven_light: Option<bool>,
}

impl CaptureSpec {
    /// A clean, square-on capture: no rotation, perspective, blur, noise, glare or light change;
    /// JPEG quality 95; even light; the document at 80 % of a 1600×1200 frame.
    pub fn clean() -> CaptureSpec {
        CaptureSpec {
            rotation_deg: Some(0.0),
            scale: Some(0.8),
            perspective: Some(0.0),
            blur: Some(0.0),
            noise: Some(0.0),
            jpeg_quality: Some(95),
            frame: Some((1600, 1200)),
            glare: Some(false),
            brightness: Some(0.0),
            contrast: Some(1.0),
            uneven_light: Some(false),
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Table {
    Wood,
    Plain,
    Fabric,
    Speckle,
}

/// The drawn capture parameters.
#[derive(Clone, Debug)]
pub struct Capture {
    pub frame: (u32, u32),
    pub rotation_deg: f32,
    pub scale: f32,
    pub perspective: f32,
    jitter: [(f32, f32); 4],
    place: (f32, f32),
    pub blur: f32,
    pub noise: f32,
    pub jpeg_quality: u8,
    pub brightness: f32,
    pub contrast: f32,
    light: (f32, f32, f32),
    glare: Option<(f32, f32, f32, f32)>,
    shadow: f32,
    table: Table,
    table_colors: (Color, Color),
    table_freq: f32,
}

impl Capture {
    /// Draws every parameter, then applies the fixed ones from `spec`. `close` biases towards
    /// the larger, straighter shots people take of a barcode.
    pub fn sample<R: Rng>(rng: &mut R, spec: &CaptureSpec, close: bool) -> Capture {
        let frame = match rng.gen_range(0..8) {
            0 => (1200, 1600),
            1 => (1280, 960),
            _ => (1600, 1200),
        };
        let rotation_deg = if close || rng.gen_bool(0.8) {
            rng.gen_range(-15.0..15.0)
        } else {
            rng.gen_range(-180.0..180.0)
        };
        let scale = if close {
            rng.gen_range(0.6..0.9)
        } else {
            rng.gen_range(0.35..0.9)
        };
        let perspective = rng.gen_range(0.0..0.08);
        let mut jitter = [(0.0, 0.0); 4];
        for j in &mut jitter {
            *j = (rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0));
        }
        let place = (rng.gen_range(0.1..0.9), rng.gen_range(0.1..0.9));
        let blur = if rng.gen_bool(0.4) {
            0.0
        } else {
            rng.gen_range(0.2..1.5)
        };
        let noise = rng.gen_range(1.0..8.0);
        let jpeg_quality = rng.gen_range(40..=95);
        let brightness = rng.gen_range(-30.0..30.0);
        let contrast = rng.gen_range(0.75..1.15);
        let light = (
            rng.gen_range(-0.25..0.25),
            rng.gen_range(-0.25..0.25),
            rng.gen_range(0.0..0.35),
        );
        let glare = rng.gen_bool(0.15).then(|| {
            (
                rng.gen_range(0.15..0.85),
                rng.gen_range(0.15..0.85),
                rng.gen_range(0.08..0.25),
                rng.gen_range(0.3..0.7),
            )
        });
        let shadow = rng.gen_range(0.15..0.45);
        let table = match rng.gen_range(0..4) {
            0 => Table::Wood,
            1 => Table::Plain,
            2 => Table::Fabric,
            _ => Table::Speckle,
        };
        let palettes: [(Color, Color); 6] = [
            ([92, 58, 33], [150, 102, 62]),
            ([40, 40, 44], [70, 70, 76]),
            ([200, 198, 190], [235, 233, 228]),
            ([30, 52, 90], [60, 85, 130]),
            ([45, 80, 55], [80, 115, 85]),
            ([150, 140, 120], [190, 180, 160]),
        ];
        let table_colors = if matches!(table, Table::Wood) {
            palettes[0]
        } else {
            palettes[rng.gen_range(1..palettes.len())]
        };
        let table_freq = rng.gen_range(0.5..2.0);
        Capture {
            frame: spec.frame.unwrap_or(frame),
            rotation_deg: spec.rotation_deg.unwrap_or(rotation_deg),
            scale: spec.scale.unwrap_or(scale),
            perspective: spec.perspective.unwrap_or(perspective),
            jitter,
            place,
            blur: spec.blur.unwrap_or(blur),
            noise: spec.noise.unwrap_or(noise),
            jpeg_quality: spec.jpeg_quality.unwrap_or(jpeg_quality),
            brightness: spec.brightness.unwrap_or(brightness),
            contrast: spec.contrast.unwrap_or(contrast),
            light: if spec.uneven_light == Some(false) {
                (0.0, 0.0, 0.0)
            } else {
                light
            },
            glare: match spec.glare {
                Some(false) => None,
                Some(true) => glare.or(Some((0.5, 0.4, 0.15, 0.5))),
                None => glare,
            },
            shadow,
            table,
            table_colors,
            table_freq,
        }
    }

    /// Document width in output pixels, for choosing the page's resolution.
    pub fn doc_width_px(&self) -> f32 {
        self.scale * self.frame.0 as f32
    }

    /// easy / medium / hard, from how many parameters make reading harder.
    pub fn difficulty(&self) -> &'static str {
        let score = [
            self.rotation_deg.abs() > 15.0,
            self.scale < 0.5,
            self.perspective > 0.05,
            self.blur > 0.8,
            self.blur > 1.2,
            self.noise > 6.0,
            self.jpeg_quality < 60,
            self.glare.is_some(),
        ]
        .iter()
        .filter(|&&b| b)
        .count();
        match score {
            0 | 1 => "easy",
            2 | 3 => "medium",
            _ => "hard",
        }
    }

    /// The parameters as recorded in `expected.json`.
    pub fn to_json(&self) -> Value {
        let r2 = |v: f32| (v as f64 * 100.0).round() / 100.0;
        json!({
            "frame": [self.frame.0, self.frame.1],
            "rotation": r2(self.rotation_deg),
            "scale": r2(self.scale),
            "perspective": r2(self.perspective),
            "blur": r2(self.blur),
            "noise": r2(self.noise),
            "jpegQuality": self.jpeg_quality,
            "brightness": r2(self.brightness),
            "contrast": r2(self.contrast),
            "glare": self.glare.is_some(),
            "table": format!("{:?}", self.table).to_lowercase(),
        })
    }
}

/// The photo and the transform from page millimetres to its pixels.
pub struct Shot {
    pub image: RgbImage,
    pub page_to_image: Homography,
}

/// Where the document's corners land in the frame (clockwise from the page's top left),
/// shrinking the scale if the turned document would not fit.
fn place_corners(cap: &mut Capture, w_mm: f32, h_mm: f32) -> [(f32, f32); 4] {
    let (fw, fh) = (cap.frame.0 as f32, cap.frame.1 as f32);
    let build = |scale: f32| {
        let dw = scale * fw;
        let dh = dw * h_mm / w_mm;
        let (s, c) = cap.rotation_deg.to_radians().sin_cos();
        let base = [(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)];
        let mut pts = [(0f32, 0f32); 4];
        for (i, (bx, by)) in base.iter().enumerate() {
            let x = (bx + cap.jitter[i].0 * cap.perspective) * dw;
            let y = (by + cap.jitter[i].1 * cap.perspective) * dh;
            // Counter-clockwise on screen: y grows downwards.
            pts[i] = (x * c + y * s, -x * s + y * c);
        }
        pts
    };
    let bounds = |pts: &[(f32, f32); 4]| {
        let xs = pts.iter().map(|p| p.0);
        let ys = pts.iter().map(|p| p.1);
        (
            xs.clone().fold(f32::MAX, f32::min),
            ys.clone().fold(f32::MAX, f32::min),
            xs.fold(f32::MIN, f32::max),
            ys.fold(f32::MIN, f32::max),
        )
    };
    let mut pts = build(cap.scale);
    let (x0, y0, x1, y1) = bounds(&pts);
    let fit = ((fw * 0.96) / (x1 - x0)).min((fh * 0.96) / (y1 - y0));
    if fit < 1.0 {
        cap.scale *= fit;
        pts = build(cap.scale);
    }
    let (x0, y0, x1, y1) = bounds(&pts);
    let ox = (fw - (x1 - x0)) * cap.place.0 - x0;
    let oy = (fh - (y1 - y0)) * cap.place.1 - y0;
    pts.map(|(x, y)| (x + ox, y + oy))
}

/// Smooth random field: values on a coarse grid, interpolated.
struct ValueNoise {
    cols: usize,
    cell: f32,
    vals: Vec<f32>,
}

impl ValueNoise {
    fn new<R: Rng>(rng: &mut R, w: u32, h: u32, cell: f32) -> ValueNoise {
        let cols = (w as f32 / cell) as usize + 2;
        let rows = (h as f32 / cell) as usize + 2;
        ValueNoise {
            cols,
            cell,
            vals: (0..cols * rows).map(|_| rng.gen::<f32>()).collect(),
        }
    }

    /// The field at (x, y) pixels; wraps around outside the grid.
    fn at(&self, x: f32, y: f32) -> f32 {
        let (gx, gy) = (x / self.cell, y / self.cell);
        let (fx0, fy0) = (gx.floor(), gy.floor());
        let s = |t: f32| t * t * (3.0 - 2.0 * t);
        let (fx, fy) = (s(gx - fx0), s(gy - fy0));
        let rows = self.vals.len() / self.cols;
        let (ix, iy) = (
            (fx0 as i64).rem_euclid(self.cols as i64) as usize,
            (fy0 as i64).rem_euclid(rows as i64) as usize,
        );
        let v = |i: usize, j: usize| self.vals[(j % rows) * self.cols + i % self.cols];
        let top = v(ix, iy) + (v(ix + 1, iy) - v(ix, iy)) * fx;
        let bot = v(ix, iy + 1) + (v(ix + 1, iy + 1) - v(ix, iy + 1)) * fx;
        top + (bot - top) * fy
    }
}

/// Cheap deterministic noise source for per-pixel grain (xorshift32).
pub(crate) struct Grain(pub(crate) u32);

impl Grain {
    /// Uniform in [0, 1).
    pub(crate) fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        (self.0 >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// Zero mean, unit variance, bell-shaped enough for sensor noise (sum of three uniforms).
    fn normal(&mut self) -> f32 {
        (self.next() + self.next() + self.next() - 1.5) * 2.0
    }
}

/// The table under the document, drawn at half resolution (it is out of focus detail) and
/// scaled up.
fn table<R: Rng>(rng: &mut R, cap: &Capture) -> RgbImage {
    let (w, h) = cap.frame;
    let blotch = ValueNoise::new(rng, w, h, 160.0);
    let fine = ValueNoise::new(rng, w, h, 9.0);
    let angle = rng.gen_range(-0.4..0.4f32);
    let (sa, ca) = angle.sin_cos();
    let (dark, light) = cap.table_colors;
    let f = cap.table_freq;
    let mut grain = Grain(rng.gen::<u32>() | 1);
    let mut img = RgbImage::new(w.div_ceil(2), h.div_ceil(2));
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (xf, yf) = (2.0 * x as f32, 2.0 * y as f32);
        let b = blotch.at(xf, yf);
        let t = match cap.table {
            Table::Wood => {
                // Grain: stripes across, bent by noise that varies slowly along the grain.
                let along = xf * ca + yf * sa;
                let across = -xf * sa + yf * ca;
                let warp = blotch.at(along * 0.2, across);
                let ring = ((across + 60.0 * warp) * 0.06 * f).sin();
                let fibre = fine.at(along * 0.08, across * 1.5);
                0.45 + 0.22 * ring + 0.3 * (fibre - 0.5) + 0.2 * (b - 0.5)
            }
            Table::Plain => 0.35 + 0.4 * b + 0.1 * grain.next(),
            Table::Fabric => {
                0.4 + 0.2 * b
                    + 0.2 * ((xf * 0.35 * f).sin() * (yf * 0.35 * f).sin())
                    + 0.15 * grain.next()
            }
            Table::Speckle => {
                let s = grain.next();
                0.3 + 0.3 * b
                    + if s > 0.97 {
                        0.4
                    } else if s < 0.03 {
                        -0.3
                    } else {
                        0.1 * fine.at(xf, yf)
                    }
            }
        };
        *p = Rgb(lerp(dark, light, t.clamp(0.0, 1.0)));
    }
    image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle)
}

/// Signed distance (mm) from a point to the page outline with rounded corners; negative inside.
fn page_distance(page: &Page, u: f32, v: f32) -> f32 {
    let r = page.corner_mm;
    let qx = (u - page.w_mm / 2.0).abs() - (page.w_mm / 2.0 - r);
    let qy = (v - page.h_mm / 2.0).abs() - (page.h_mm / 2.0 - r);
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
    outside + qx.max(qy).min(0.0) - r
}

fn sample_bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    let (w, h) = (img.width() as i32, img.height() as i32);
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x as i32, y as i32);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx: i32, yy: i32| img.get_pixel(xx as u32, yy as u32).0;
    let (a, b, c, d) = (p(x0, y0), p(x1, y0), p(x0, y1), p(x1, y1));
    let mut out = [0f32; 3];
    for k in 0..3 {
        let top = a[k] as f32 + (b[k] as f32 - a[k] as f32) * fx;
        let bot = c[k] as f32 + (d[k] as f32 - c[k] as f32) * fx;
        out[k] = top + (bot - top) * fy;
    }
    out
}

/// Photographs `page`. `cap.scale` may shrink so the document fits the frame.
pub fn shoot<R: Rng>(rng: &mut R, page: &Page, cap: &mut Capture) -> anyhow::Result<Shot> {
    let corners = place_corners(cap, page.w_mm, page.h_mm);
    let page_corners = [
        (0.0, 0.0),
        (page.w_mm, 0.0),
        (page.w_mm, page.h_mm),
        (0.0, page.h_mm),
    ];
    let h = Homography::from_points(page_corners, corners)
        .ok_or_else(|| anyhow::anyhow!("degenerate document placement"))?;
    let inv = h
        .inverse()
        .ok_or_else(|| anyhow::anyhow!("degenerate document placement"))?;
    let mut img = table(rng, cap);
    let (fw, fh) = (cap.frame.0 as f32, cap.frame.1 as f32);

    // Millimetres of page per output pixel, for anti-aliasing the page edge.
    let mm_per_px = page.w_mm / (cap.scale * fw);
    let shadow_off = (rng.gen_range(0.5..2.0f32), rng.gen_range(0.8..2.5f32));
    let shadow_soft = 3.0;
    let pad = (shadow_soft + 3.0) / mm_per_px;
    let x_min = corners.iter().map(|p| p.0).fold(f32::MAX, f32::min) - pad;
    let x_max = corners.iter().map(|p| p.0).fold(f32::MIN, f32::max) + pad;
    let y_min = corners.iter().map(|p| p.1).fold(f32::MAX, f32::min) - pad;
    let y_max = corners.iter().map(|p| p.1).fold(f32::MIN, f32::max) + pad;
    let (xa, xb) = (x_min.max(0.0) as u32, (x_max.min(fw - 1.0)).max(0.0) as u32);
    let (ya, yb) = (y_min.max(0.0) as u32, (y_max.min(fh - 1.0)).max(0.0) as u32);
    for y in ya..=yb {
        for x in xa..=xb {
            let (u, v) = inv.apply(x as f32 + 0.5, y as f32 + 0.5);
            let sd = page_distance(page, u, v);
            let shadow_sd = page_distance(page, u - shadow_off.0, v - shadow_off.1);
            let mut px = img.get_pixel(x, y).0.map(|c| c as f32);
            if shadow_sd < shadow_soft {
                let t = (shadow_sd / shadow_soft).clamp(0.0, 1.0);
                let dark = cap.shadow * (1.0 - t * t * (3.0 - 2.0 * t));
                px = px.map(|c| c * (1.0 - dark));
            }
            let alpha = (0.5 - sd / mm_per_px).clamp(0.0, 1.0);
            if alpha > 0.0 {
                let s = sample_bilinear(&page.img, u * page.ppm - 0.5, v * page.ppm - 0.5);
                for k in 0..3 {
                    px[k] += (s[k] - px[k]) * alpha;
                }
            }
            img.put_pixel(x, y, Rgb(px.map(|c| c.round().clamp(0.0, 255.0) as u8)));
        }
    }

    // Optics first, then light and the sensor in one pass. The light field is smooth, so
    // lighting after the blur looks the same as before it.
    if cap.blur > 0.05 {
        img = imageproc::filter::gaussian_blur_f32(&img, cap.blur);
    }
    // Light: a tilted gradient and vignetting, brightness/contrast, glare; then sensor noise.
    let (gx, gy, vig) = cap.light;
    let glare = cap.glare.map(|(gu, gv, radius, strength)| {
        let (cx, cy) = h.apply(gu * page.w_mm, gv * page.h_mm);
        (cx, cy, radius * cap.scale * fw, strength)
    });
    let diag2 = (fw * fw + fh * fh) / 4.0;
    let mut grain = Grain(rng.gen::<u32>() | 1);
    let n = cap.noise;
    for (x, y, p) in img.enumerate_pixels_mut() {
        let (xf, yf) = (x as f32 / fw - 0.5, y as f32 / fh - 0.5);
        let (dx, dy) = (x as f32 - fw / 2.0, y as f32 - fh / 2.0);
        let gain = (1.0 + gx * xf + gy * yf - vig * (dx * dx + dy * dy) / diag2).max(0.2);
        let mut g = 0.0;
        if let Some((cx, cy, r, s)) = glare {
            let d2 = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)) / (r * r);
            if d2 < 12.0 {
                g = s * (-d2).exp();
            }
        }
        let luma = if n > 0.0 { grain.normal() * n } else { 0.0 };
        for c in p.0.iter_mut() {
            let mut v = ((*c as f32 * gain) - 128.0) * cap.contrast + 128.0 + cap.brightness;
            v += (255.0 - v) * g;
            if n > 0.0 {
                v += luma + (grain.next() - 0.5) * n * 0.7;
            }
            *c = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    Ok(Shot {
        image: img,
        page_to_image: h,
    })
}

/// JPEG bytes of `img` at `quality`.
pub fn jpeg(img: &RgbImage, quality: u8) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality).encode_image(img)?;
    Ok(out)
}
