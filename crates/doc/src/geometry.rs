//! Plane geometry for text boxes: connected components of a probability map, the
//! minimum-area rotated rectangle around them, and sampling a rotated rectangle out of an
//! image into an upright crop.

use vouch_face::Rgb;

/// A rotated rectangle. `w` runs along `angle` (radians, the direction of reading once
/// orientation is settled), `h` across it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotRect {
    /// Centre x.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Length along the reading direction.
    pub w: f32,
    /// Height across it.
    pub h: f32,
    /// Reading direction, radians (0 = left to right, y down).
    pub angle: f32,
}

impl RotRect {
    /// Unit vector along the reading direction.
    pub fn dir(&self) -> (f32, f32) {
        (self.angle.cos(), self.angle.sin())
    }

    /// Unit vector "down" the text (perpendicular to reading, into the next line).
    pub fn down(&self) -> (f32, f32) {
        let (dx, dy) = self.dir();
        (-dy, dx)
    }

    /// Corners: top-left, top-right, bottom-right, bottom-left in reading order.
    pub fn corners(&self) -> [(f32, f32); 4] {
        let (dx, dy) = self.dir();
        let (nx, ny) = self.down();
        let (hw, hh) = (self.w / 2.0, self.h / 2.0);
        let p = |a: f32, b: f32| (self.cx + dx * a + nx * b, self.cy + dy * a + ny * b);
        [p(-hw, -hh), p(hw, -hh), p(hw, hh), p(-hw, hh)]
    }

    /// Whether a point lies inside, or within `margin` of, the rectangle.
    pub fn contains(&self, x: f32, y: f32, margin: f32) -> bool {
        let (dx, dy) = self.dir();
        let (vx, vy) = (x - self.cx, y - self.cy);
        let u = vx * dx + vy * dy;
        let v = -vx * dy + vy * dx;
        u.abs() <= self.w / 2.0 + margin && v.abs() <= self.h / 2.0 + margin
    }

    /// The same rectangle read the other way round (rotated by 180°).
    pub fn flipped(&self) -> RotRect {
        RotRect {
            angle: normalise_angle(self.angle + std::f32::consts::PI),
            ..*self
        }
    }

    /// Axis-aligned bounds `[x0, y0, x1, y1]`.
    pub fn bounds(&self) -> [f32; 4] {
        let c = self.corners();
        let xs = c.iter().map(|p| p.0);
        let ys = c.iter().map(|p| p.1);
        [
            xs.clone().fold(f32::INFINITY, f32::min),
            ys.clone().fold(f32::INFINITY, f32::min),
            xs.fold(f32::NEG_INFINITY, f32::max),
            ys.fold(f32::NEG_INFINITY, f32::max),
        ]
    }
}

/// An angle brought into (-π, π].
pub fn normalise_angle(a: f32) -> f32 {
    use std::f32::consts::PI;
    let mut a = a % (2.0 * PI);
    if a <= -PI {
        a += 2.0 * PI;
    } else if a > PI {
        a -= 2.0 * PI;
    }
    a
}

fn cross(o: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, no repeated point.
pub fn convex_hull(points: &[(f32, f32)]) -> Vec<(f32, f32)> {
    let mut pts: Vec<(f32, f32)> = points.to_vec();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut hull: Vec<(f32, f32)> = Vec::with_capacity(pts.len() * 2);
    for &p in pts.iter().chain(pts.iter().rev().skip(1)) {
        while hull.len() >= 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
            hull.pop();
        }
        hull.push(p);
    }
    hull.pop();
    hull
}

/// The minimum-area rectangle around a point set (rotating an edge of the convex hull
/// to each side). `w` is the longer side; its direction is brought into (-π/2, π/2].
pub fn min_area_rect(points: &[(f32, f32)]) -> Option<RotRect> {
    let hull = convex_hull(points);
    if hull.is_empty() {
        return None;
    }
    if hull.len() < 3 {
        let (a, b) = (hull[0], hull[hull.len() - 1]);
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        return Some(oriented(
            (a.0 + b.0) / 2.0,
            (a.1 + b.1) / 2.0,
            (dx * dx + dy * dy).sqrt(),
            0.0,
            dy.atan2(dx),
        ));
    }
    let mut best: Option<(f32, RotRect)> = None;
    for i in 0..hull.len() {
        let a = hull[i];
        let b = hull[(i + 1) % hull.len()];
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        if len < 1e-6 {
            continue;
        }
        let (ux, uy) = ((b.0 - a.0) / len, (b.1 - a.1) / len);
        let (mut lo_u, mut hi_u, mut lo_v, mut hi_v) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in &hull {
            let u = p.0 * ux + p.1 * uy;
            let v = -p.0 * uy + p.1 * ux;
            lo_u = lo_u.min(u);
            hi_u = hi_u.max(u);
            lo_v = lo_v.min(v);
            hi_v = hi_v.max(v);
        }
        let area = (hi_u - lo_u) * (hi_v - lo_v);
        if best.as_ref().is_none_or(|(a, _)| area < *a) {
            let (mu, mv) = ((lo_u + hi_u) / 2.0, (lo_v + hi_v) / 2.0);
            let cx = mu * ux - mv * uy;
            let cy = mu * uy + mv * ux;
            let r = oriented(cx, cy, hi_u - lo_u, hi_v - lo_v, uy.atan2(ux));
            best = Some((area, r));
        }
    }
    best.map(|(_, r)| r)
}

/// A rectangle with the longer side as `w` and the angle in (-π/2, π/2].
fn oriented(cx: f32, cy: f32, a: f32, b: f32, angle: f32) -> RotRect {
    use std::f32::consts::{FRAC_PI_2, PI};
    let (w, h, mut angle) = if a >= b {
        (a, b, angle)
    } else {
        (b, a, angle + FRAC_PI_2)
    };
    angle = normalise_angle(angle);
    if angle > FRAC_PI_2 {
        angle -= PI;
    } else if angle <= -FRAC_PI_2 {
        angle += PI;
    }
    RotRect {
        cx,
        cy,
        w,
        h,
        angle,
    }
}

/// A connected region of a binary map, with the statistics box scoring needs.
pub struct Component {
    /// Pixels in the region.
    pub count: usize,
    /// Sum of the probability map over it.
    pub sum: f32,
    /// Outline points (each row's extreme pixel corners), in map coordinates.
    pub outline: Vec<(f32, f32)>,
}

/// 8-connected components of `mask` (row-major `w × h`), with the sum of `prob` over
/// each. Components smaller than `min_pixels` are dropped; at most `max` are kept.
pub fn components(
    mask: &[bool],
    prob: &[f32],
    w: usize,
    h: usize,
    min_pixels: usize,
    max: usize,
) -> Vec<Component> {
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    let mut stack: Vec<usize> = Vec::new();
    // Per row of the current component: (min x, max x), keyed by y.
    let mut rows: Vec<(usize, usize, usize)> = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        rows.clear();
        let (mut count, mut sum) = (0usize, 0f32);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            count += 1;
            sum += prob[i];
            rows.push((y, x, x));
            let (x0, x1) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let (y0, y1) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for ny in y0..=y1 {
                for nx in x0..=x1 {
                    let j = ny * w + nx;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if count < min_pixels {
            continue;
        }
        rows.sort_unstable();
        let mut outline = Vec::new();
        let mut k = 0;
        while k < rows.len() {
            let y = rows[k].0;
            let (mut lo, mut hi) = (rows[k].1, rows[k].2);
            while k < rows.len() && rows[k].0 == y {
                lo = lo.min(rows[k].1);
                hi = hi.max(rows[k].2);
                k += 1;
            }
            let (yf, lof, hif) = (y as f32, lo as f32, hi as f32 + 1.0);
            outline.extend([(lof, yf), (lof, yf + 1.0), (hif, yf), (hif, yf + 1.0)]);
        }
        out.push(Component {
            count,
            sum,
            outline,
        });
        if out.len() >= max {
            break;
        }
    }
    out
}

/// Bilinear sample of an RGB image at (x, y), replicating the border.
#[inline]
pub fn sample(img: &Rgb, x: f32, y: f32) -> [f32; 3] {
    let (wm, hm) = (img.width as f32 - 1.0, img.height as f32 - 1.0);
    let x = x.clamp(0.0, wm.max(0.0));
    let y = y.clamp(0.0, hm.max(0.0));
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as usize, y0 as usize);
    let x1 = (x0 + 1).min(img.width as usize - 1);
    let y1 = (y0 + 1).min(img.height as usize - 1);
    let w = img.width as usize;
    let px = |xx: usize, yy: usize, c: usize| f32::from(img.data[(yy * w + xx) * 3 + c]);
    let mut out = [0f32; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = px(x0, y0, c) * (1.0 - fx) + px(x1, y0, c) * fx;
        let bot = px(x0, y1, c) * (1.0 - fx) + px(x1, y1, c) * fx;
        *o = top * (1.0 - fy) + bot * fy;
    }
    out
}

/// Samples `rect` out of `img` into an upright `out_w × out_h` RGB crop (the rectangle's
/// top-left corner at the crop's top-left). When the rectangle is much larger than the
/// crop, each output pixel averages a small grid of samples so thin strokes survive.
pub fn crop(img: &Rgb, rect: &RotRect, out_w: usize, out_h: usize) -> Vec<f32> {
    let mut out = vec![0f32; out_w * out_h * 3];
    if img.width == 0 || img.height == 0 || out_w == 0 || out_h == 0 {
        return out;
    }
    let (dx, dy) = rect.dir();
    let (nx, ny) = rect.down();
    let [tl, ..] = rect.corners();
    let sx = rect.w / out_w as f32;
    let sy = rect.h / out_h as f32;
    let n = (sx.max(sy).ceil() as usize).clamp(1, 3);
    let inv = 1.0 / (n * n) as f32;
    for oy in 0..out_h {
        for ox in 0..out_w {
            let mut acc = [0f32; 3];
            for j in 0..n {
                for i in 0..n {
                    let u = (ox as f32 + (i as f32 + 0.5) / n as f32) * sx;
                    let v = (oy as f32 + (j as f32 + 0.5) / n as f32) * sy;
                    // Pixel i covers [i, i + 1); `sample` puts its value at i.
                    let s = sample(
                        img,
                        tl.0 + dx * u + nx * v - 0.5,
                        tl.1 + dy * u + ny * v - 0.5,
                    );
                    acc[0] += s[0];
                    acc[1] += s[1];
                    acc[2] += s[2];
                }
            }
            let o = (oy * out_w + ox) * 3;
            out[o] = acc[0] * inv;
            out[o + 1] = acc[1] * inv;
            out[o + 2] = acc[2] * inv;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_area_rect_of_a_rotated_box() {
        let r = RotRect {
            cx: 50.0,
            cy: 40.0,
            w: 80.0,
            h: 10.0,
            angle: 0.3,
        };
        let got = min_area_rect(&r.corners()).unwrap();
        assert!(
            (got.w - 80.0).abs() < 0.01 && (got.h - 10.0).abs() < 0.01,
            "{got:?}"
        );
        assert!((got.angle - 0.3).abs() < 1e-4, "{got:?}");
        assert!((got.cx - 50.0).abs() < 0.01 && (got.cy - 40.0).abs() < 0.01);
    }

    #[test]
    fn angle_is_kept_in_the_right_half_plane() {
        let r = RotRect {
            cx: 0.0,
            cy: 0.0,
            w: 30.0,
            h: 4.0,
            angle: 2.9,
        };
        let got = min_area_rect(&r.corners()).unwrap();
        assert!(
            got.angle > -std::f32::consts::FRAC_PI_2 && got.angle <= std::f32::consts::FRAC_PI_2
        );
        assert!((got.angle - (2.9 - std::f32::consts::PI)).abs() < 1e-4);
    }

    #[test]
    fn components_are_separated() {
        let (w, h) = (10, 5);
        let mut mask = vec![false; w * h];
        for x in 0..4 {
            mask[w + x] = true;
        }
        for x in 6..10 {
            mask[3 * w + x] = true;
        }
        let prob = vec![1.0; w * h];
        let c = components(&mask, &prob, w, h, 1, 10);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].count, 4);
    }

    #[test]
    fn crop_of_a_flipped_rect_is_mirrored_both_ways() {
        let mut data = Vec::new();
        for y in 0..4u8 {
            for x in 0..4u8 {
                data.extend([x * 60, y * 60, 0]);
            }
        }
        let img = Rgb::new(4, 4, data).unwrap();
        let r = RotRect {
            cx: 2.0,
            cy: 2.0,
            w: 4.0,
            h: 4.0,
            angle: 0.0,
        };
        let a = crop(&img, &r, 4, 4);
        let b = crop(&img, &r.flipped(), 4, 4);
        assert!((a[0] - 0.0).abs() < 1e-3 && (b[0] - 180.0).abs() < 1e-3);
    }
}
