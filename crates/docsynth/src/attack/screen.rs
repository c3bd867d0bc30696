//! Screen replays: the photo on a phone or a laptop screen, with the body and bezel, the
//! panel's pixels as a viewer app drew them, the RGB sub-pixel stripes that turn into moiré,
//! the panel's tone curve and the reflections on the glass.

use image::{Rgb, RgbImage};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::scene::Medium;
use super::{bilinear, smoothstep, AttackType, Photo, Pose, Rgbf, FRAME};

/// A rounded rectangle at `origin` of `size` millimetres.
#[derive(Clone, Copy, Debug)]
pub(super) struct RoundRect {
    origin: (f32, f32),
    size: (f32, f32),
    radius: f32,
}

impl RoundRect {
    pub(super) fn size(&self) -> (f32, f32) {
        self.size
    }

    /// Signed distance to the outline, millimetres; negative inside.
    fn distance(&self, u: f32, v: f32) -> f32 {
        let r = self.radius.min(self.size.0 / 2.0).min(self.size.1 / 2.0);
        let qx = (u - self.origin.0 - self.size.0 / 2.0).abs() - (self.size.0 / 2.0 - r);
        let qy = (v - self.origin.1 - self.size.1 / 2.0).abs() - (self.size.1 / 2.0 - r);
        let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt();
        outside + qx.max(qy).min(0.0) - r
    }
}

/// A soft-edged reflection of a lamp or window on a glossy surface: an ellipse, brighter on
/// one side, with a faint tail.
#[derive(Clone, Copy, Debug)]
struct Glare {
    centre: (f32, f32),
    radii: (f32, f32),
    /// sin, cos of the ellipse's angle.
    angle: (f32, f32),
    strength: f32,
    tint: Rgbf,
}

impl Glare {
    fn sample(rng: &mut ChaCha8Rng, area: RoundRect, size: (f32, f32), strength: f32) -> Glare {
        let tint = if rng.gen_bool(0.5) {
            [1.0, 0.96, 0.88]
        } else {
            [0.95, 0.98, 1.0]
        };
        Glare {
            centre: (
                area.origin.0 + rng.gen_range(0.0..1.0) * area.size.0,
                area.origin.1 + rng.gen_range(0.0..1.0) * area.size.1,
            ),
            radii: (
                rng.gen_range(size.0..size.1) * area.size.0,
                rng.gen_range(size.0..size.1) * area.size.0 * rng.gen_range(0.3..1.0),
            ),
            angle: rng.gen_range(0.0..std::f32::consts::PI).sin_cos(),
            strength,
            tint,
        }
    }

    fn at(&self, u: f32, v: f32) -> f32 {
        let (du, dv) = (u - self.centre.0, v - self.centre.1);
        let (s, c) = self.angle;
        let p = (du * c + dv * s) / self.radii.0;
        let q = (-du * s + dv * c) / self.radii.1.max(1e-3);
        let rho = (p * p + q * q).sqrt();
        if rho >= 1.6 {
            return 0.0;
        }
        let core = 1.0 - smoothstep(0.15, 1.0, rho);
        let tail = 0.2 * (1.0 - smoothstep(0.8, 1.6, rho));
        self.strength * (core + tail) * (1.0 + 0.6 * p).clamp(0.3, 1.6)
    }
}

/// A phone or laptop showing the photo: the body, the panel's pixels (a frame buffer at the
/// panel's resolution, as the viewer app drew it), the RGB stripe mask, the panel's tone
/// curve and the reflections on the glass.
pub(super) struct Screen {
    pub(super) body: RoundRect,
    panel: RoundRect,
    /// Millimetres per panel pixel.
    pitch: f32,
    frame_buffer: RgbImage,
    /// Emitted linear light for each 8-bit value, per channel.
    tone: [[f32; 256]; 3],
    /// Dark gaps between sub-pixels, as a share of a pixel's width, and between rows.
    gaps: (f32, f32),
    stripes: bool,
    bezel: Rgbf,
    /// Light the glass reflects everywhere (the room), lifting the blacks.
    haze: f32,
    glare: Glare,
    /// Whether the glare also lies on the bezel (a phone's glass covers its whole front).
    glare_on_bezel: bool,
    /// Front camera of a phone: centre and radius.
    lens: Option<((f32, f32), f32)>,
    pub(super) anchor: (f32, f32),
    pub(super) face_mm: f32,
}

impl Screen {
    /// Draws a phone or a laptop (`kind`) showing the photo, to be seen at `pose` in a room
    /// lit at `room_level`.
    pub(super) fn sample(
        photo: &Photo,
        kind: AttackType,
        pose: Pose,
        room_level: f32,
        stripes: bool,
        rng: &mut ChaCha8Rng,
    ) -> Screen {
        let phone = kind == AttackType::ScreenPhone;
        let (cols, rows, panel_w, side, top, bottom) = if phone {
            let cols = [720u32, 1080, 1170, 1440][rng.gen_range(0..4)];
            let aspect = [2.17f32, 2.0, 16.0 / 9.0][rng.gen_range(0..3)];
            (
                cols,
                (cols as f32 * aspect) as u32,
                rng.gen_range(62.0..71.0f32),
                rng.gen_range(1.5..4.0f32),
                rng.gen_range(2.0..10.0f32),
                rng.gen_range(2.0..10.0f32),
            )
        } else {
            let (cols, rows) = [
                (1366u32, 768u32),
                (1920, 1080),
                (1920, 1200),
                (2560, 1440),
                (2560, 1600),
            ][rng.gen_range(0..5)];
            let width = if rng.gen_bool(0.7) {
                rng.gen_range(285.0..350.0f32)
            } else {
                rng.gen_range(510.0..600.0f32)
            };
            (
                cols,
                rows,
                width,
                rng.gen_range(5.0..20.0f32),
                rng.gen_range(8.0..20.0f32),
                rng.gen_range(10.0..25.0f32),
            )
        };
        let pitch = panel_w / cols as f32;
        let panel_h = rows as f32 * pitch;
        let body_radius = if phone {
            rng.gen_range(6.0..10.0)
        } else {
            rng.gen_range(1.0..4.0)
        };
        let body = RoundRect {
            origin: (0.0, 0.0),
            size: (panel_w + 2.0 * side, panel_h + top + bottom),
            radius: body_radius,
        };
        let panel = RoundRect {
            origin: (side, top),
            size: (panel_w, panel_h),
            radius: if phone {
                (body_radius - side).max(0.5)
            } else {
                0.0
            },
        };
        let (frame_buffer, face_px, face_scale) = if phone {
            phone_frame_buffer(photo, cols, rows, rng)
        } else {
            laptop_frame_buffer(photo, cols, rows, pose.distance, rng)
        };
        let anchor = (side + face_px.0 * pitch, top + face_px.1 * pitch);
        let face_mm = photo.face_w * face_scale * pitch;

        // The panel's tone: black level, gamma and a cool white point. Laptop panels lose
        // contrast when seen from the side (blacks lift) and wash out from above or below.
        let off_axis = (pose.yaw.abs().max(pose.pitch.abs()) / 25.0).powi(2);
        let (mut black, mut gamma, cast): (f32, f32, Rgbf) = if phone {
            (
                rng.gen_range(0.0..0.01),
                rng.gen_range(2.0..2.5),
                [
                    rng.gen_range(0.88..0.95),
                    rng.gen_range(0.96..1.0),
                    rng.gen_range(1.04..1.12),
                ],
            )
        } else {
            (
                rng.gen_range(0.003..0.015),
                rng.gen_range(1.9..2.4),
                [
                    rng.gen_range(0.90..0.98),
                    rng.gen_range(0.97..1.0),
                    rng.gen_range(1.0..1.1),
                ],
            )
        };
        if !phone {
            black += 0.03 * off_axis;
            gamma *= 1.0 - 0.15 * (pose.pitch.abs() / 25.0);
        }
        let brightness = rng.gen_range(0.8..1.0f32);
        let mut tone = [[0f32; 256]; 3];
        for (c, table) in tone.iter_mut().enumerate() {
            for (v, t) in table.iter_mut().enumerate() {
                let d = (v as f32 / 255.0).powf(gamma);
                *t = brightness * cast[c] * (black + (1.0 - black) * d);
            }
        }
        let bezel = if phone || rng.gen_bool(0.6) {
            [0.02, 0.02, 0.022].map(|c| c * room_level)
        } else {
            [0.35, 0.35, 0.37].map(|c| c * room_level)
        };
        let glare = if phone {
            let strength = rng.gen_range(0.1..0.45);
            Glare::sample(rng, body, (0.35, 0.9), strength)
        } else {
            // Laptop panels are matte: a broader, weaker sheen.
            let strength = rng.gen_range(0.06..0.3);
            Glare::sample(rng, panel, (0.2, 0.6), strength)
        };
        let lens = phone.then(|| ((body.size.0 / 2.0, top / 2.0), (top / 4.0).clamp(0.8, 1.8)));
        Screen {
            body,
            panel,
            pitch,
            frame_buffer,
            tone,
            gaps: (rng.gen_range(0.03..0.12), rng.gen_range(0.05..0.2)),
            stripes,
            bezel,
            haze: room_level * rng.gen_range(0.03..0.08),
            glare,
            glare_on_bezel: phone,
            lens,
            anchor,
            face_mm,
        }
    }

    /// The light of the panel around panel-pixel coordinates (a, b), averaged over
    /// [a − ha, a + ha] × [b − hb, b + hb]: each channel is lit only on its own third of a
    /// pixel, less the gaps, so that the average over whole pixels is the frame buffer's
    /// value. The colour is that of the pixel at (a, b).
    fn emission(&self, a: f32, b: f32, ha: f32, hb: f32) -> Rgbf {
        let (w, h) = self.frame_buffer.dimensions();
        let i = (a.floor().max(0.0) as u32).min(w - 1);
        let j = (b.floor().max(0.0) as u32).min(h - 1);
        let px = self.frame_buffer.get_pixel(i, j).0;
        let mut out = [0f32; 3];
        let row = if self.stripes {
            let lit = 1.0 - self.gaps.1;
            lit_fraction(b - hb, b + hb, self.gaps.1 / 2.0, lit) / lit
        } else {
            1.0
        };
        for (c, o) in out.iter_mut().enumerate() {
            let mask = if self.stripes {
                let lit = 1.0 / 3.0 - self.gaps.0;
                let start = c as f32 / 3.0 + self.gaps.0 / 2.0;
                lit_fraction(a - ha, a + ha, start, lit) / lit * row
            } else {
                1.0
            };
            *o = self.tone[c][px[c] as usize] * mask;
        }
        out
    }
}

impl Medium for Screen {
    fn extent(&self) -> [f32; 4] {
        [0.0, 0.0, self.body.size.0, self.body.size.1]
    }

    fn radiance(&self, u: f32, v: f32, hu: f32, hv: f32) -> Option<Rgbf> {
        if self.body.distance(u, v) > 0.0 {
            return None;
        }
        let mut out = if self.panel.distance(u, v) < 0.0 {
            let a = (u - self.panel.origin.0) / self.pitch;
            let b = (v - self.panel.origin.1) / self.pitch;
            self.emission(a, b, hu / self.pitch, hv / self.pitch)
        } else {
            // The body's rim catches more light than its flat face.
            let rim = if self.body.distance(u, v) > -0.8 {
                4.0
            } else {
                1.0
            };
            let lens = self
                .lens
                .is_some_and(|((lu, lv), r)| (u - lu).powi(2) + (v - lv).powi(2) < r * r);
            if lens {
                [0.0; 3]
            } else {
                self.bezel.map(|c| c * rim)
            }
        };
        let on_glass = self.glare_on_bezel || self.panel.distance(u, v) < 0.0;
        let g = if on_glass { self.glare.at(u, v) } else { 0.0 };
        for (k, o) in out.iter_mut().enumerate() {
            *o += self.haze + g * self.glare.tint[k];
        }
        Some(out)
    }
}

/// The average over [a, b] of a periodic indicator (period 1) that is on over
/// [start, start + width) of each period: the exact integral, so that a camera pixel's
/// footprint sees the share of each sub-pixel it really covers.
fn lit_fraction(a: f32, b: f32, start: f32, width: f32) -> f32 {
    let cumulative = |x: f32| {
        let f = x.floor();
        f * width + (x - f - start).clamp(0.0, width)
    };
    if b - a < 1e-4 {
        let f = a - a.floor();
        return if f >= start && f < start + width {
            1.0
        } else {
            0.0
        };
    }
    (cumulative(b) - cumulative(a)) / (b - a)
}

/// A phone's photo viewer: the photo fitted to the width, pinched in a little on the face,
/// black around, a status bar on top. Returns the frame buffer, the face centre in panel
/// pixels and the photo's scale.
fn phone_frame_buffer(
    photo: &Photo,
    cols: u32,
    rows: u32,
    rng: &mut ChaCha8Rng,
) -> (RgbImage, (f32, f32), f32) {
    let (sw, sh) = photo.srgb.dimensions();
    let fit = (cols as f32 / sw as f32).min(rows as f32 / sh as f32);
    let scale = fit * rng.gen_range(1.0..1.8);
    let face = (cols as f32 / 2.0, rows as f32 * rng.gen_range(0.4..0.55));
    let origin = (face.0 - photo.face.0 * scale, face.1 - photo.face.1 * scale);
    let mut fb = RgbImage::new(cols, rows);
    draw_photo(&mut fb, photo, origin, scale, (0, rows));
    // Status bar: the clock on the left, signal and battery on the right.
    let bar = (rows as f32 * 0.03) as u32;
    let glyph = (bar / 2).max(1);
    let white = Rgb([235, 235, 235]);
    for (x0, w) in [(0.06, 0.09), (0.78, 0.05), (0.85, 0.07)] {
        let x0 = (x0 * cols as f32) as u32;
        let w = (w * cols as f32) as u32;
        fill(&mut fb, x0, bar / 4, w, glyph, white);
    }
    (fb, face, scale)
}

/// A laptop's screen: the photo full screen (fitted, black around) or in a viewer window on
/// a desktop, at a zoom that sets the panel's pitch relative to the face.
fn laptop_frame_buffer(
    photo: &Photo,
    cols: u32,
    rows: u32,
    distance: f32,
    rng: &mut ChaCha8Rng,
) -> (RgbImage, (f32, f32), f32) {
    let (sw, sh) = photo.srgb.dimensions();
    let (cf, rf) = (cols as f32, rows as f32);
    if rng.gen_bool(0.4) {
        let scale = (cf / sw as f32).min(rf / sh as f32);
        let origin = (
            (cf - sw as f32 * scale) / 2.0,
            (rf - sh as f32 * scale) / 2.0,
        );
        let mut fb = RgbImage::new(cols, rows);
        draw_photo(&mut fb, photo, origin, scale, (0, rows));
        let face = (
            origin.0 + photo.face.0 * scale,
            origin.1 + photo.face.1 * scale,
        );
        return (fb, face, scale);
    }
    // Camera pixels per panel pixel at the face: 0.45 shows the stripes as fine moiré, 1.4
    // as a visible pixel grid.
    let ratio = rng.gen_range(0.45..1.4f32);
    let face_px = distance * FRAME.0 as f32 / ratio;
    let scale = face_px / photo.face_w;
    // Where the face sits on the screen: anywhere, or close enough to an edge that the
    // webcam sees the bezel (half a frame spans 320 / ratio panel pixels).
    let reach = FRAME.0 as f32 / 2.0 / ratio;
    let mut face = (cf * rng.gen_range(0.3..0.7), rf * rng.gen_range(0.3..0.7));
    if rng.gen_bool(0.5) {
        let near = reach * rng.gen_range(0.5..0.9);
        match rng.gen_range(0..3) {
            0 => face.0 = near.min(cf / 2.0),
            1 => face.0 = (cf - near).max(cf / 2.0),
            _ => face.1 = near.min(rf / 2.0),
        }
    }
    let origin = (face.0 - photo.face.0 * scale, face.1 - photo.face.1 * scale);
    // Desktop: a two-colour gradient wallpaper and a taskbar.
    let (c0, c1) = (
        [
            rng.gen_range(20..120u8),
            rng.gen_range(40..140),
            rng.gen_range(80..200),
        ],
        [
            rng.gen_range(10..80u8),
            rng.gen_range(10..80),
            rng.gen_range(30..120),
        ],
    );
    let mut fb = RgbImage::from_fn(cols, rows, |x, y| {
        let t = (x as f32 / cf + y as f32 / rf) / 2.0;
        Rgb([0, 1, 2].map(|k| (c0[k] as f32 + (c1[k] as f32 - c0[k] as f32) * t) as u8))
    });
    let taskbar = (rf * 0.035) as u32;
    fill(&mut fb, 0, rows - taskbar, cols, taskbar, Rgb([28, 30, 36]));
    // The viewer window: a margin around the photo and a title bar.
    let dark = rng.gen_bool(0.6);
    let (bg, title) = if dark {
        (Rgb([32, 32, 34]), Rgb([52, 52, 56]))
    } else {
        (Rgb([240, 240, 240]), Rgb([222, 224, 228]))
    };
    let margin = (rf * 0.02) as i64;
    let title_h = (rf * 0.03) as i64;
    let (iw, ih) = (sw as f32 * scale, sh as f32 * scale);
    let wx0 = (origin.0 as i64 - margin).max(0);
    let wy0 = (origin.1 as i64 - margin - title_h).max(0);
    let wx1 = ((origin.0 + iw) as i64 + margin).min(cols as i64);
    let wy1 = ((origin.1 + ih) as i64 + margin).min(rows as i64 - taskbar as i64);
    if wx1 > wx0 && wy1 > wy0 {
        let (wx0, wy0) = (wx0 as u32, wy0 as u32);
        let (ww, wh) = (wx1 as u32 - wx0, wy1 as u32 - wy0);
        fill(&mut fb, wx0, wy0, ww, wh, bg);
        fill(&mut fb, wx0, wy0, ww, title_h as u32, title);
    }
    let content_top = (wy0 + title_h).clamp(0, rows as i64) as u32;
    let content_bottom = wy1.clamp(0, rows as i64) as u32;
    draw_photo(&mut fb, photo, origin, scale, (content_top, content_bottom));
    (fb, face, scale)
}

/// Draws the photo scaled by `scale` at `origin` (panel pixels), as a viewer's bilinear
/// scaler does, on rows `rows.0..rows.1`.
fn draw_photo(fb: &mut RgbImage, photo: &Photo, origin: (f32, f32), scale: f32, rows: (u32, u32)) {
    let (sw, sh) = (photo.srgb.width() as f32, photo.srgb.height() as f32);
    let x0 = origin.0.max(0.0) as u32;
    let x1 = ((origin.0 + sw * scale).ceil().max(0.0) as u32).min(fb.width());
    let y0 = (origin.1.max(0.0) as u32).max(rows.0);
    let y1 = ((origin.1 + sh * scale).ceil().max(0.0) as u32)
        .min(fb.height())
        .min(rows.1);
    for y in y0..y1 {
        for x in x0..x1 {
            let sx = (x as f32 + 0.5 - origin.0) / scale;
            let sy = (y as f32 + 0.5 - origin.1) / scale;
            if sx < 0.0 || sy < 0.0 || sx >= sw || sy >= sh {
                continue;
            }
            let c = bilinear(&photo.srgb, sx - 0.5, sy - 0.5);
            fb.put_pixel(x, y, Rgb(c.map(|v| v.round().clamp(0.0, 255.0) as u8)));
        }
    }
}

fn fill(img: &mut RgbImage, x0: u32, y0: u32, w: u32, h: u32, c: Rgb<u8>) {
    for y in y0..(y0.saturating_add(h)).min(img.height()) {
        for x in x0..(x0.saturating_add(w)).min(img.width()) {
            img.put_pixel(x, y, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use image::Rgb32FImage;
    use rand::SeedableRng;

    use super::super::geometry::{Bend, Posed};
    use super::super::scene::render_medium;
    use super::super::tests::{decoded, face_luma, photo};
    use super::super::{render, render_with, Presentation};
    use super::*;

    /// Mean squared high-pass (pixel minus its 3×3 mean) of the luma over the middle of the
    /// face.
    fn high_pass_energy(img: &RgbImage, face: [f32; 4]) -> f32 {
        let luma = |x: u32, y: u32| {
            let p = img.get_pixel(x, y).0.map(f32::from);
            0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
        };
        let pts = face_luma(img, face);
        let mut sum = 0.0;
        for &(x, y, l) in &pts {
            let mut mean = 0.0;
            for dy in 0..3 {
                for dx in 0..3 {
                    mean += luma(x + dx - 1, y + dy - 1);
                }
            }
            sum += (l - mean / 9.0).powi(2);
        }
        sum / pts.len().max(1) as f32
    }

    #[test]
    fn screens_add_a_fine_periodic_pattern_from_their_sub_pixels() {
        // The same scenes with the RGB stripe mask switched off are the control: whatever
        // fine pattern remains comes from the camera's noise and the JPEG.
        let p = photo();
        for kind in [AttackType::ScreenPhone, AttackType::ScreenLaptop] {
            let (mut striped, mut flat, mut bona) = (0.0, 0.0, 0.0);
            for seed in 0..6 {
                let what = Presentation::Attack(kind);
                let s = render_with(&p, what, seed, true).expect("render");
                let f = render_with(&p, what, seed, false).expect("render");
                let b = render(&p, Presentation::BonaFide, seed).expect("render");
                striped += high_pass_energy(&decoded(&s), s.face);
                flat += high_pass_energy(&decoded(&f), f.face);
                bona += high_pass_energy(&decoded(&b), b.face);
            }
            assert!(
                striped > 1.5 * flat && striped > 1.5 * bona,
                "{kind}: high-pass energy {striped:.1} with stripes, {flat:.1} without, \
                 {bona:.1} bona fide"
            );
        }
    }

    #[test]
    fn a_panel_seen_close_shows_its_pitch_as_the_period_of_each_colour() {
        // A uniform grey panel seen square-on at exactly 4 camera pixels per panel pixel:
        // each colour is lit on a third of every panel pixel, so along a row the green
        // channel repeats every 4 pixels and is out of phase 2 pixels on.
        let p = photo();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let pose = Pose {
            distance: 0.4,
            yaw: 0.0,
            pitch: 0.0,
            roll: 0.0,
        };
        let mut screen = Screen::sample(&p, AttackType::ScreenLaptop, pose, 0.05, true, &mut rng);
        screen.glare.strength = 0.0;
        for px in screen.frame_buffer.pixels_mut() {
            *px = Rgb([128, 128, 128]);
        }
        let face_mm = screen.pitch * pose.distance * FRAME.0 as f32 / 4.0;
        let posed = Posed::new(
            500.0,
            pose,
            (320.0, 240.0),
            screen.anchor,
            face_mm,
            Bend::default(),
        )
        .expect("posed");
        let img = render_medium(&Rgb32FImage::new(FRAME.0, FRAME.1), &posed, &screen, None);
        let green: Vec<f32> = (200..440).map(|x| img.get_pixel(x, 241).0[1]).collect();
        let mean = green.iter().sum::<f32>() / green.len() as f32;
        let ac = |lag: usize| -> f32 {
            (0..green.len() - lag)
                .map(|i| (green[i] - mean) * (green[i + lag] - mean))
                .sum::<f32>()
                / (green.len() - lag) as f32
        };
        assert!(
            ac(0) > (0.3 * mean).powi(2),
            "green barely varies: {} around {mean}",
            ac(0)
        );
        assert!(
            ac(4) > 0.8 * ac(0),
            "no period of 4: {} vs {}",
            ac(4),
            ac(0)
        );
        assert!(ac(2) < 0.0, "not out of phase at 2: {}", ac(2));
    }

    #[test]
    fn sub_pixel_coverage_is_integrated_exactly() {
        // Whole periods see the lit share; a box inside a lit stripe sees all of it.
        assert!((lit_fraction(0.0, 5.0, 0.1, 0.25) - 0.25).abs() < 1e-5);
        assert!((lit_fraction(0.3, 7.3, 0.1, 0.25) - 0.25).abs() < 1e-5);
        assert!((lit_fraction(0.15, 0.3, 0.1, 0.25) - 1.0).abs() < 1e-5);
        assert_eq!(lit_fraction(0.5, 0.5, 0.1, 0.25), 0.0);
        assert!((lit_fraction(0.0, 0.2, 0.1, 0.25) - 0.5).abs() < 1e-5);
    }
}
