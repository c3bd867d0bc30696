//! The scenes before the webcam, in linear light: the bona fide photo framed like a selfie,
//! or an attack medium (a screen, a print) posed, held and rendered over an out-of-focus room,
//! each camera pixel integrating the medium over its footprint.

use anyhow::Result;
use image::imageops::{self, FilterType};
use image::{Rgb, Rgb32FImage};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geometry::{project, Bend, Posed};
use super::hand::Hand;
use super::print::Print;
use super::screen::Screen;
use super::{
    bilinear, face_box, smoothstep, AttackType, Photo, Pose, Rgbf, Scene, FILL_FACTOR, FRAME,
    SUBSAMPLES,
};

// ---------------------------------------------------------------------------------------------
// Bona fide

/// The person before the webcam: the photo scaled and turned like a selfie. Where the frame
/// reaches past the photo, the photo is mirrored and blurred, as an out-of-focus room would
/// look; a flat photo is never warped in perspective, which would make it a print.
pub(super) fn bona_fide_scene(photo: &Photo, rng: &mut ChaCha8Rng) -> Scene {
    let (fw, fh) = (FRAME.0 as f32, FRAME.1 as f32);
    let distance = rng.gen_range(0.30..0.45);
    let roll: f32 = rng.gen_range(-6.0..6.0);
    let centre = (
        fw / 2.0 + rng.gen_range(-40.0..40.0),
        fh * 0.47 + rng.gen_range(-25.0..25.0),
    );
    let mut scale = distance * fw / photo.face_w;
    // Shrink first when the photo is much larger than the frame needs: bilinear sampling
    // only filters down to about half size.
    let mut src = &photo.linear;
    let shrunk;
    let mut face = photo.face;
    if scale < 0.8 {
        let k = scale / 0.9;
        let nw = ((src.width() as f32 * k).round() as u32).max(1);
        let nh = ((src.height() as f32 * k).round() as u32).max(1);
        shrunk = imageops::resize(src, nw, nh, FilterType::Triangle);
        let (kx, ky) = (
            nw as f32 / src.width() as f32,
            nh as f32 / src.height() as f32,
        );
        face = (face.0 * kx, face.1 * ky);
        scale /= kx;
        src = &shrunk;
    }
    let (sw, sh) = (src.width() as f32, src.height() as f32);
    let (s, c) = roll.to_radians().sin_cos();
    let mut sharp = Rgb32FImage::new(FRAME.0, FRAME.1);
    let mut outside = vec![0f32; (FRAME.0 * FRAME.1) as usize];
    for (x, y, p) in sharp.enumerate_pixels_mut() {
        let (dx, dy) = (x as f32 + 0.5 - centre.0, y as f32 + 0.5 - centre.1);
        // Undo the counter-clockwise roll, then the scale.
        let (rx, ry) = (dx * c - dy * s, dx * s + dy * c);
        let (sx, sy) = (face.0 + rx / scale, face.1 + ry / scale);
        let beyond = (-sx).max(sx - sw).max(-sy).max(sy - sh).max(0.0);
        outside[(y * FRAME.0 + x) as usize] = beyond * scale;
        *p = Rgb(bilinear(src, reflect(sx, sw) - 0.5, reflect(sy, sh) - 0.5));
    }
    let blurred = soft_blur(&sharp, 8.0);
    for (i, (p, b)) in sharp.pixels_mut().zip(blurred.pixels()).enumerate() {
        let t = smoothstep(0.0, 30.0, outside[i]);
        for k in 0..3 {
            p.0[k] += (b.0[k] - p.0[k]) * t;
        }
    }
    Scene {
        radiance: sharp,
        pose: Pose {
            distance,
            yaw: 0.0,
            pitch: 0.0,
            roll,
        },
        face: face_box(centre, distance),
        defocus: 0.0,
    }
}

/// `x` folded into `[0, n]` by mirroring at both ends.
fn reflect(x: f32, n: f32) -> f32 {
    let m = x.rem_euclid(2.0 * n);
    if m > n {
        2.0 * n - m
    } else {
        m
    }
}

// ---------------------------------------------------------------------------------------------
// Attacks: a medium before the camera

/// A thing held before the camera, in its own millimetre coordinates.
pub(super) trait Medium {
    /// Radiance at (u, v), averaged over a box of half-size (hu, hv) millimetres around it;
    /// `None` where the medium is not, so that the room shows.
    fn radiance(&self, u: f32, v: f32, hu: f32, hv: f32) -> Option<Rgbf>;

    /// The medium's bounds, `[u0, v0, u1, v1]` millimetres.
    fn extent(&self) -> [f32; 4];
}

/// Renders the medium, and the hand holding it, over the room. Each pixel averages
/// `SUBSAMPLES`² points of its footprint, each integrating its own share of it; the points
/// cover the middle `FILL_FACTOR` of the pixel, as its photodiode does.
pub(super) fn render_medium(
    room: &Rgb32FImage,
    posed: &Posed,
    medium: &dyn Medium,
    hand: Option<&Hand>,
) -> Rgb32FImage {
    let n = SUBSAMPLES;
    let step = FILL_FACTOR / n as f32;
    let mut out = room.clone();
    let mut extent = medium.extent();
    if let Some(h) = hand {
        let e = h.extent();
        extent = [
            extent[0].min(e[0]),
            extent[1].min(e[1]),
            extent[2].max(e[2]),
            extent[3].max(e[3]),
        ];
    }
    let [x0, y0, x1, y1] = image_bounds(posed, extent);
    // The medium point at every pixel centre, one row and column beyond the bounds: within
    // a pixel the map is affine to well under a micrometre, so the sub-samples and the
    // footprint come from these and their neighbours.
    let gw = (x1 - x0 + 1) as usize;
    let centres: Vec<Option<(f32, f32)>> = (y0..=y1)
        .flat_map(|y| (x0..=x1).map(move |x| (x, y)))
        .map(|(x, y)| posed.locate(x as f32 + 0.5, y as f32 + 0.5))
        .collect();
    for y in y0..y1 {
        for x in x0..x1 {
            let at =
                |dx: u32, dy: u32| centres[(y - y0 + dy) as usize * gw + (x - x0 + dx) as usize];
            let (c, r, d) = match (at(0, 0), at(1, 0), at(0, 1)) {
                (Some(c), Some(r), Some(d)) => (c, r, d),
                // The medium's plane turns away here: nothing of it to see.
                _ => continue,
            };
            // The Jacobian of the pixel-to-medium map, and each sub-sample's footprint.
            let (ux, vx) = (r.0 - c.0, r.1 - c.1);
            let (uy, vy) = (d.0 - c.0, d.1 - c.1);
            let hu = (ux.abs() + uy.abs()) * step / 2.0;
            let hv = (vx.abs() + vy.abs()) * step / 2.0;
            let background = out.get_pixel(x, y).0;
            let mut sum = [0f32; 3];
            for j in 0..n {
                for i in 0..n {
                    let ox = (i as f32 + 0.5 - n as f32 / 2.0) * step;
                    let oy = (j as f32 + 0.5 - n as f32 / 2.0) * step;
                    let (u, v) = (c.0 + ux * ox + uy * oy, c.1 + vx * ox + vy * oy);
                    let colour = hand
                        .and_then(|h| h.front(u, v))
                        .or_else(|| {
                            let shade = hand.map_or(1.0, |h| h.shadow(u, v));
                            medium.radiance(u, v, hu, hv).map(|c| c.map(|v| v * shade))
                        })
                        .or_else(|| hand.and_then(|h| h.behind(u, v)))
                        .unwrap_or(background);
                    for k in 0..3 {
                        sum[k] += colour[k];
                    }
                }
            }
            out.put_pixel(x, y, Rgb(sum.map(|s| s / (n * n) as f32)));
        }
    }
    out
}

/// The pixels that may see `extent` (medium millimetres): the bounds of a grid of its points,
/// projected, with a margin for the bend between them; the whole frame if any point lies
/// behind the camera.
fn image_bounds(posed: &Posed, extent: [f32; 4]) -> [u32; 4] {
    let (w, h) = FRAME;
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    let steps = 16;
    for j in 0..=steps {
        for i in 0..=steps {
            let u = extent[0] + (extent[2] - extent[0]) * i as f32 / steps as f32;
            let v = extent[1] + (extent[3] - extent[1]) * j as f32 / steps as f32;
            let p = posed.point(u, v);
            if p[2] <= 1.0 {
                return [0, 0, w, h];
            }
            let (x, y) = project(posed.focal, p);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
        }
    }
    let margin = 8.0;
    let clampx = |v: f32| v.clamp(0.0, w as f32) as u32;
    let clampy = |v: f32| v.clamp(0.0, h as f32) as u32;
    [
        clampx(x0 - margin),
        clampy(y0 - margin),
        clampx(x1 + margin + 1.0),
        clampy(y1 + margin + 1.0),
    ]
}

/// Draws a camera-side pose: distance, yaw, pitch (±25°, most near the middle) and roll (±10°).
fn sample_pose(rng: &mut ChaCha8Rng) -> Pose {
    // The mean of two uniforms: attackers mostly face the camera, sometimes turn a lot.
    let mut tri = |r: f32| (rng.gen_range(-r..r) + rng.gen_range(-r..r)) / 2.0 * 1.25;
    let yaw = tri(25.0).clamp(-25.0, 25.0);
    let pitch = tri(25.0).clamp(-25.0, 25.0);
    Pose {
        distance: rng.gen_range(0.15..0.45),
        yaw,
        pitch,
        roll: rng.gen_range(-10.0..10.0),
    }
}

/// An attack before the camera: the medium drawn for `kind`, posed, held (by hand unless it
/// is a laptop) in a room, rendered in linear light.
pub(super) fn attack_scene(
    photo: &Photo,
    kind: AttackType,
    stripes: bool,
    rng: &mut ChaCha8Rng,
) -> Result<Scene> {
    let pose = sample_pose(rng);
    let (fw, fh) = (FRAME.0 as f32, FRAME.1 as f32);
    // Webcams see 58–72° across.
    let focal = fw / 2.0 / (rng.gen_range(58.0f32..72.0) / 2.0).to_radians().tan();
    let half = pose.distance * fw / 2.0;
    let centre = (
        fw / 2.0 + rng.gen_range(-1.0..1.0) * (fw / 2.0 - half - 20.0).clamp(0.0, 60.0),
        fh * 0.47 + rng.gen_range(-35.0..35.0),
    );
    let face = face_box(centre, pose.distance);
    // Screens glow in a dim room; prints need a lit one. Screen white is 1.
    let room_level = if kind.is_screen() {
        rng.gen_range(0.03..0.12)
    } else {
        rng.gen_range(0.25..0.6)
    };
    let room = room(rng, room_level);
    let (radiance, defocus) = match kind {
        AttackType::ScreenPhone | AttackType::ScreenLaptop => {
            let screen = Screen::sample(photo, kind, pose, room_level, stripes, rng);
            let posed = Posed::new(
                focal,
                pose,
                centre,
                screen.anchor,
                screen.face_mm,
                Bend::default(),
            )?;
            let hand = (kind == AttackType::ScreenPhone)
                .then(|| Hand::sample(rng, screen.body.size(), room_level + 0.05, true));
            let defocus = if kind == AttackType::ScreenPhone {
                rng.gen_range(0.1..0.6)
            } else {
                rng.gen_range(0.0..0.5)
            };
            (
                render_medium(&room, &posed, &screen, hand.as_ref()),
                defocus,
            )
        }
        AttackType::PrintMatte | AttackType::PrintGlossy => {
            // Prints are held 15–45 cm away; that fixes the face's printed size.
            let mm_per_px = rng.gen_range(150.0f32..450.0) / focal;
            let face_mm = pose.distance * fw * mm_per_px;
            let print =
                Print::sample(photo, kind, face_mm, mm_per_px, room_level, rng).filtered(mm_per_px);
            let posed = Posed::new(focal, pose, centre, print.anchor, face_mm, print.bend)?;
            let light = room_level * print.light.level;
            let hand = Hand::sample(rng, print.size, light, false);
            (
                render_medium(&room, &posed, &print, Some(&hand)),
                rng.gen_range(0.1..0.5),
            )
        }
    };
    Ok(Scene {
        radiance,
        pose,
        face,
        defocus,
    })
}

// ---------------------------------------------------------------------------------------------
// The room

/// A room behind the medium, out of focus: a wall lit unevenly, a few pieces of furniture
/// and, in a lit room, sometimes a window. `level` is the light on the wall.
fn room(rng: &mut ChaCha8Rng, level: f32) -> Rgb32FImage {
    const WALLS: [Rgbf; 6] = [
        [0.55, 0.50, 0.42],
        [0.60, 0.60, 0.58],
        [0.35, 0.40, 0.45],
        [0.45, 0.50, 0.38],
        [0.50, 0.38, 0.30],
        [0.62, 0.57, 0.50],
    ];
    const THINGS: [Rgbf; 5] = [
        [0.08, 0.06, 0.05],
        [0.30, 0.20, 0.12],
        [0.70, 0.70, 0.68],
        [0.15, 0.18, 0.25],
        [0.40, 0.15, 0.12],
    ];
    let (w, h) = FRAME;
    let wall = WALLS[rng.gen_range(0..WALLS.len())];
    // Lamps are warm, daylight is not.
    let tint: Rgbf = if rng.gen_bool(0.6) {
        [1.0, 0.9, 0.75]
    } else {
        [0.95, 0.98, 1.0]
    };
    let (gx, gy) = (rng.gen_range(-0.8..0.8f32), rng.gen_range(-0.5..0.5f32));
    let vignette = rng.gen_range(0.1..0.4f32);
    let blotches = smooth_field(rng, w, h, 5, 4, 0.25);
    let tilt = rng.gen_range(-0.08..0.08f32);
    let things: Vec<([f32; 4], Rgbf)> = (0..rng.gen_range(1..=3))
        .map(|_| {
            let x0 = rng.gen_range(-0.3..0.9f32) * w as f32;
            let y0 = rng.gen_range(-0.3..0.9f32) * h as f32;
            let bw = rng.gen_range(0.1..0.6f32) * w as f32;
            let bh = rng.gen_range(0.05..0.8f32) * h as f32;
            (
                [x0, y0, x0 + bw, y0 + bh],
                THINGS[rng.gen_range(0..THINGS.len())],
            )
        })
        .collect();
    // A window glows several times brighter than the wall.
    let window = (level > 0.2 && rng.gen_bool(0.3)).then(|| {
        let left = rng.gen_bool(0.5);
        let x0 = if left { -40.0 } else { w as f32 * 0.8 };
        (
            [x0, rng.gen_range(-50.0..100.0), x0 + 170.0, 400.0],
            rng.gen_range(2.0..4.0f32),
        )
    });
    let (st, ct) = tilt.sin_cos();
    let img = Rgb32FImage::from_fn(w, h, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let (nx, ny) = (xf / w as f32 - 0.5, yf / h as f32 - 0.5);
        let light = (1.0 + gx * nx + gy * ny - vignette * (nx * nx + ny * ny) * 2.0).max(0.15)
            * level
            * blotches[(y * w + x) as usize];
        // Furniture and the window are straight in the room; the camera is turned slightly.
        let (rx, ry) = (xf * ct - yf * st, xf * st + yf * ct);
        let inside = |r: &[f32; 4]| rx >= r[0] && rx < r[2] && ry >= r[1] && ry < r[3];
        let mut albedo = wall;
        for (r, c) in &things {
            if inside(r) {
                albedo = *c;
            }
        }
        if let Some((r, glow)) = &window {
            if inside(r) {
                return Rgb([glow * level; 3]);
            }
        }
        Rgb([0, 1, 2].map(|k| albedo[k] * tint[k] * light))
    });
    soft_blur(&img, rng.gen_range(2.5..5.0))
}

/// A wide Gaussian blur done at a quarter of the resolution and scaled back up: the
/// out-of-focus room and the bona fide surround have no detail a full-size blur would keep.
fn soft_blur(img: &Rgb32FImage, sigma: f32) -> Rgb32FImage {
    let (w, h) = img.dimensions();
    let (sw, sh) = (w.div_ceil(4), h.div_ceil(4));
    let small = Rgb32FImage::from_fn(sw, sh, |x, y| {
        let (mut sum, mut n) = ([0f32; 3], 0.0);
        for yy in y * 4..(y * 4 + 4).min(h) {
            for xx in x * 4..(x * 4 + 4).min(w) {
                for (s, c) in sum.iter_mut().zip(img.get_pixel(xx, yy).0) {
                    *s += c;
                }
                n += 1.0;
            }
        }
        Rgb(sum.map(|s| s / n))
    });
    let small = imageproc::filter::gaussian_blur_f32(&small, (sigma / 4.0).max(0.1));
    Rgb32FImage::from_fn(w, h, |x, y| {
        Rgb(bilinear(
            &small,
            (x as f32 + 0.5) / 4.0 - 0.5,
            (y as f32 + 0.5) / 4.0 - 0.5,
        ))
    })
}

/// A smooth random field of `w`×`h` values around 1 (±`amount`): a `cols`×`rows` grid of
/// random values, interpolated with smoothstep weights.
pub(super) fn smooth_field(
    rng: &mut ChaCha8Rng,
    w: u32,
    h: u32,
    cols: u32,
    rows: u32,
    amount: f32,
) -> Vec<f32> {
    let (cols, rows) = (cols.max(2) as usize, rows.max(2) as usize);
    let grid: Vec<f32> = (0..cols * rows)
        .map(|_| 1.0 + rng.gen_range(-amount..amount))
        .collect();
    let axis = |n: u32, cells: usize| -> Vec<(usize, f32)> {
        (0..n)
            .map(|i| {
                let g = (i as f32 + 0.5) / n as f32 * (cells - 1) as f32;
                let i0 = (g as usize).min(cells - 2);
                let t = (g - i0 as f32).clamp(0.0, 1.0);
                (i0, t * t * (3.0 - 2.0 * t))
            })
            .collect()
    };
    let (xs, ys) = (axis(w, cols), axis(h, rows));
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for &(j, ty) in &ys {
        for &(i, tx) in &xs {
            let at = |i: usize, j: usize| grid[j * cols + i];
            let top = at(i, j) + (at(i + 1, j) - at(i, j)) * tx;
            let bot = at(i, j + 1) + (at(i + 1, j + 1) - at(i, j + 1)) * tx;
            out.push(top + (bot - top) * ty);
        }
    }
    out
}
