//! A document page as a raster measured in millimetres, and the drawing primitives the layouts
//! use: anti-aliased rectangles, text placed by baseline and cap height, fixed-pitch MRZ text,
//! a portrait box, and a guilloche-like security background.

use ab_glyph::{point, Font, ScaleFont};
use image::{imageops, Rgb, RgbImage};
use rand::Rng;

use crate::fonts::Face;

/// ICAO 9303 MRZ character pitch (10 characters per inch).
pub const MRZ_PITCH_MM: f32 = 2.54;

/// How an MRZ is printed: line pitch (baseline to baseline) and cap height. Documents vary
/// within ICAO's tolerances, so each page draws its own.
#[derive(Clone, Copy, Debug)]
pub struct MrzPrint {
    pub line_mm: f32,
    pub cap_mm: f32,
}

impl MrzPrint {
    /// A line pitch of 4.23–5.0 mm and an OCR-B cap height of 2.3–2.6 mm.
    pub fn sample<R: Rng>(rng: &mut R) -> MrzPrint {
        MrzPrint {
            line_mm: rng.gen_range(4.23..5.0),
            cap_mm: rng.gen_range(2.3..2.6),
        }
    }
}

/// An RGB colour.
pub type Color = [u8; 3];

/// A page being drawn: `ppm` pixels per millimetre, rounded corners of `corner_mm`.
pub struct Page {
    pub img: RgbImage,
    pub ppm: f32,
    pub w_mm: f32,
    pub h_mm: f32,
    pub corner_mm: f32,
}

/// A rectangle in millimetres: x, y, width, height.
#[derive(Clone, Copy, Debug)]
pub struct BoxMm {
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
}

impl BoxMm {
    pub fn new(x: f32, y: f32, w: f32, h: f32) -> BoxMm {
        BoxMm { x, y, w, h }
    }

    /// Corners clockwise from the top left.
    pub fn corners(&self) -> [(f32, f32); 4] {
        [
            (self.x, self.y),
            (self.x + self.w, self.y),
            (self.x + self.w, self.y + self.h),
            (self.x, self.y + self.h),
        ]
    }
}

fn mix(a: u8, b: u8, t: f32) -> u8 {
    (a as f32 + (b as f32 - a as f32) * t)
        .round()
        .clamp(0.0, 255.0) as u8
}

/// Linear interpolation between two colours.
pub fn lerp(a: Color, b: Color, t: f32) -> Color {
    [mix(a[0], b[0], t), mix(a[1], b[1], t), mix(a[2], b[2], t)]
}

impl Page {
    /// A page of `w_mm` × `h_mm` at `ppm` pixels per millimetre, filled white.
    pub fn new(w_mm: f32, h_mm: f32, ppm: f32, corner_mm: f32) -> Page {
        let w = (w_mm * ppm).round().max(1.0) as u32;
        let h = (h_mm * ppm).round().max(1.0) as u32;
        Page {
            img: RgbImage::from_pixel(w, h, Rgb([255, 255, 255])),
            ppm,
            w_mm,
            h_mm,
            corner_mm,
        }
    }

    fn blend(&mut self, x: i32, y: i32, c: Color, a: f32) {
        if a <= 0.0
            || x < 0
            || y < 0
            || x as u32 >= self.img.width()
            || y as u32 >= self.img.height()
        {
            return;
        }
        let p = self.img.get_pixel_mut(x as u32, y as u32);
        let a = a.min(1.0);
        for (v, &target) in p.0.iter_mut().zip(&c) {
            *v = mix(*v, target, a);
        }
    }

    /// Fills a rectangle (mm) with colour `c` at opacity `alpha`, edges anti-aliased.
    pub fn fill_rect(&mut self, r: BoxMm, c: Color, alpha: f32) {
        let (x0, y0) = (r.x * self.ppm, r.y * self.ppm);
        let (x1, y1) = ((r.x + r.w) * self.ppm, (r.y + r.h) * self.ppm);
        for py in (y0.floor() as i32).max(0)..(y1.ceil() as i32).min(self.img.height() as i32) {
            let cy = (y1.min(py as f32 + 1.0) - y0.max(py as f32)).clamp(0.0, 1.0);
            for px in (x0.floor() as i32).max(0)..(x1.ceil() as i32).min(self.img.width() as i32) {
                let cx = (x1.min(px as f32 + 1.0) - x0.max(px as f32)).clamp(0.0, 1.0);
                self.blend(px, py, c, cx * cy * alpha);
            }
        }
    }

    /// Width in mm of `text` at cap height `cap_mm`.
    pub fn text_width(&self, face: &Face, cap_mm: f32, text: &str) -> f32 {
        let scale = face.scale_for_cap(cap_mm * self.ppm);
        let sf = face.font.as_scaled(scale);
        let mut w = 0.0;
        let mut prev = None;
        for ch in text.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                w += sf.kern(p, id);
            }
            w += sf.h_advance(id);
            prev = Some(id);
        }
        w / self.ppm
    }

    /// Draws `text` with its baseline at `baseline_mm`, starting at `x_mm`; returns the end x.
    pub fn text(
        &mut self,
        face: &Face,
        x_mm: f32,
        baseline_mm: f32,
        cap_mm: f32,
        c: Color,
        text: &str,
    ) -> f32 {
        let scale = face.scale_for_cap(cap_mm * self.ppm);
        let sf = face.font.as_scaled(scale);
        let mut caret = x_mm * self.ppm;
        let base = baseline_mm * self.ppm;
        let mut prev = None;
        for ch in text.chars() {
            let id = sf.glyph_id(ch);
            if let Some(p) = prev {
                caret += sf.kern(p, id);
            }
            self.glyph(
                face,
                id.with_scale_and_position(scale, point(caret, base)),
                c,
            );
            caret += sf.h_advance(id);
            prev = Some(id);
        }
        caret / self.ppm
    }

    fn glyph(&mut self, face: &Face, glyph: ab_glyph::Glyph, c: Color) {
        if let Some(og) = face.font.outline_glyph(glyph) {
            let b = og.px_bounds();
            let (ox, oy) = (b.min.x.floor() as i32, b.min.y.floor() as i32);
            // px_bounds are whole pixels already; draw() offsets are relative to them.
            og.draw(|gx, gy, cov| self.blend(ox + gx as i32, oy + gy as i32, c, cov));
        }
    }

    /// Draws MRZ lines in OCR-B at the ICAO character pitch: first character cell at
    /// `left_mm`, the last line's baseline at `last_baseline_mm`.
    pub fn mrz(
        &mut self,
        ocrb: &Face,
        print: MrzPrint,
        lines: &[String],
        left_mm: f32,
        last_baseline_mm: f32,
        c: Color,
    ) {
        let scale = ocrb.scale_for_cap(print.cap_mm * self.ppm);
        let sf = ocrb.font.as_scaled(scale);
        let n = lines.len();
        for (i, line) in lines.iter().enumerate() {
            let base = (last_baseline_mm - (n - 1 - i) as f32 * print.line_mm) * self.ppm;
            for (j, ch) in line.chars().enumerate() {
                let id = sf.glyph_id(ch);
                let cell = (left_mm + j as f32 * MRZ_PITCH_MM) * self.ppm;
                let x = cell + (MRZ_PITCH_MM * self.ppm - sf.h_advance(id)) / 2.0;
                self.glyph(ocrb, id.with_scale_and_position(scale, point(x, base)), c);
            }
        }
    }

    /// Draws `src` into `r`, cropped to the box's aspect around the upper middle (where a
    /// head usually is), then printed: a little less contrast, optionally in grey.
    pub fn portrait(&mut self, src: &RgbImage, r: BoxMm, grey: bool) {
        let (tw, th) = (
            (r.w * self.ppm).round() as u32,
            (r.h * self.ppm).round() as u32,
        );
        if tw == 0 || th == 0 || src.width() == 0 || src.height() == 0 {
            return;
        }
        let aspect = r.w / r.h;
        let (sw, sh) = (src.width() as f32, src.height() as f32);
        let (cw, ch) = if sw / sh > aspect {
            (sh * aspect, sh)
        } else {
            (sw, sw / aspect)
        };
        let cx = ((sw - cw) / 2.0).max(0.0);
        let cy = ((sh - ch) * 0.3).max(0.0);
        let crop = imageops::crop_imm(src, cx as u32, cy as u32, cw as u32, ch as u32).to_image();
        let small = imageops::resize(&crop, tw, th, imageops::FilterType::Triangle);
        let (x0, y0) = (
            (r.x * self.ppm).round() as i64,
            (r.y * self.ppm).round() as i64,
        );
        for (x, y, p) in small.enumerate_pixels() {
            let (px, py) = (x0 + x as i64, y0 + y as i64);
            if px < 0 || py < 0 || px >= self.img.width() as i64 || py >= self.img.height() as i64 {
                continue;
            }
            let mut c = p.0;
            if grey {
                let l = (0.299 * c[0] as f32 + 0.587 * c[1] as f32 + 0.114 * c[2] as f32) as u8;
                c = [l, l, l];
            }
            let printed = c.map(|v| (12.0 + v as f32 * 0.9) as u8);
            self.img.put_pixel(px as u32, py as u32, Rgb(printed));
        }
    }

    /// Fills the page with a light two-colour gradient, fine wavy guilloche lines, a rosette
    /// around (`rx`, `ry`) mm and a little paper noise.
    pub fn security_background<R: Rng>(
        &mut self,
        rng: &mut R,
        base: Color,
        tint: Color,
        line: Color,
        rosette: (f32, f32),
    ) {
        let tau = std::f32::consts::TAU;
        let p1 = rng.gen_range(1.2..2.4f32);
        let a1 = rng.gen_range(0.6..2.0f32);
        let w1 = rng.gen_range(8.0..22.0f32);
        let p2 = rng.gen_range(1.5..3.0f32);
        let a2 = rng.gen_range(0.6..2.5f32);
        let w2 = rng.gen_range(10.0..30.0f32);
        let ph = rng.gen_range(0.0..tau);
        let petals = rng.gen_range(6..14) as f32;
        let p3 = rng.gen_range(0.9..1.6f32);
        let r_max = rng.gen_range(14.0..24.0f32);
        let strength = rng.gen_range(0.25..0.5f32);
        let half_line = 0.07f32;
        let ppm = self.ppm;
        let (w_mm, h_mm) = (self.w_mm, self.h_mm);
        let mut noise = rng.gen::<u32>() | 1;
        // The first family's bend depends on x only and the second's on y only: tabulate them.
        let mm = |i: u32| (i as f32 + 0.5) / ppm;
        let bend1: Vec<f32> = (0..self.img.width())
            .map(|x| a1 * (tau * mm(x) / w1 + ph).sin())
            .collect();
        let bend2: Vec<f32> = (0..self.img.height())
            .map(|y| a2 * (tau * mm(y) / w2 - ph).sin())
            .collect();
        let line_width = half_line.max(0.6 / ppm);
        let line_at = |phase: f32, period: f32| -> f32 {
            let d = (phase - phase.round()).abs() * period;
            (1.0 - d / line_width).clamp(0.0, 1.0)
        };
        for (x, y, p) in self.img.enumerate_pixels_mut() {
            let (xm, ym) = (mm(x), mm(y));
            let t = (xm / w_mm * 0.7 + ym / h_mm * 0.3).clamp(0.0, 1.0);
            let mut c = lerp(base, tint, t);
            let l1 = line_at((ym + bend1[x as usize]) / p1, p1);
            let l2 = line_at((xm + bend2[y as usize]) / p2, p2) * 0.7;
            let (dx, dy) = (xm - rosette.0, ym - rosette.1);
            let l3 = if dx.abs() < r_max && dy.abs() < r_max {
                let r = (dx * dx + dy * dy).sqrt();
                if r < r_max {
                    let theta = dy.atan2(dx);
                    line_at((r + 1.2 * (petals * theta + ph).sin()) / p3, p3) * (1.0 - r / r_max)
                } else {
                    0.0
                }
            } else {
                0.0
            };
            let a = l1.max(l2).max(l3) * strength;
            c = lerp(c, line, a);
            // xorshift: cheap deterministic paper grain.
            noise ^= noise << 13;
            noise ^= noise >> 17;
            noise ^= noise << 5;
            let g = (noise % 7) as i16 - 3;
            p.0 = c.map(|v| (v as i16 + g).clamp(0, 255) as u8);
        }
    }
}
