//! The hand that holds a phone or a print before the webcam: the thumb in front of the
//! medium, casting a soft shadow on it, and the palm behind it.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::geometry::normalise;
use super::{smoothstep, Rgbf};

/// The hand holding a medium by one edge: the thumb in front (a capsule in the medium's plane
/// with a nail at its tip, casting a soft shadow), the palm behind (seen only beyond the
/// edge), lit like the medium.
pub(super) struct Hand {
    tip: (f32, f32),
    /// Where the thumb joins the palm.
    base: (f32, f32),
    radius: f32,
    /// The rest of the hand, from just beyond the edge out of the frame, narrowing from
    /// the palm to the wrist: its two ends and its radius at each.
    palm: ((f32, f32), (f32, f32), (f32, f32)),
    skin: Rgbf,
}

impl Hand {
    /// A hand holding a medium of `size` by its left, right or bottom edge (a phone by a
    /// side), lit by `light`.
    pub(super) fn sample(rng: &mut ChaCha8Rng, size: (f32, f32), light: f32, phone: bool) -> Hand {
        const SKIN: [Rgbf; 5] = [
            [0.55, 0.38, 0.30],
            [0.45, 0.28, 0.20],
            [0.25, 0.15, 0.10],
            [0.65, 0.48, 0.40],
            [0.13, 0.08, 0.06],
        ];
        let skin = SKIN[rng.gen_range(0..SKIN.len())].map(|c| c * light);
        let radius = rng.gen_range(8.0..10.5f32);
        let edge = if phone {
            rng.gen_range(0..2)
        } else {
            rng.gen_range(0..3)
        };
        let along = if phone {
            rng.gen_range(0.45..0.8f32)
        } else {
            rng.gen_range(0.25..0.75f32)
        };
        let (point, inward) = match edge {
            0 => ((0.0, along * size.1), (1.0f32, 0.0f32)),
            1 => ((size.0, along * size.1), (-1.0, 0.0)),
            _ => ((along * size.0, size.1), (0.0, -1.0)),
        };
        // The thumb leans a little, mostly upwards.
        let (s, c) = rng.gen_range(-0.5..0.2f32).sin_cos();
        let lean = if edge == 1 { -1.0 } else { 1.0 };
        let dir = (
            inward.0 * c - inward.1 * s * lean,
            inward.0 * s * lean + inward.1 * c,
        );
        let over = if phone {
            rng.gen_range(3.0..8.0)
        } else {
            rng.gen_range(8.0..18.0)
        };
        // The hand leaves the frame outwards and downwards, towards the arm.
        let out = normalise([-inward.0, -inward.1 + 0.6, 0.0]);
        let near = (
            point.0 + out[0] * radius * 2.6,
            point.1 + out[1] * radius * 2.6,
        );
        let far = (
            point.0 + out[0] * radius * 30.0,
            point.1 + out[1] * radius * 30.0,
        );
        Hand {
            tip: (point.0 + dir.0 * over, point.1 + dir.1 * over),
            base: (
                point.0 - dir.0 * radius * 1.5,
                point.1 - dir.1 * radius * 1.5,
            ),
            radius,
            palm: (near, far, (radius * 3.3, radius * 2.4)),
            skin,
        }
    }

    /// The bounds of the thumb and palm, millimetres.
    pub(super) fn extent(&self) -> [f32; 4] {
        let ((a, b), r) = ((self.palm.0, self.palm.1), self.palm.2 .0);
        [
            (self.tip.0 - self.radius).min(a.0.min(b.0) - r),
            (self.tip.1 - self.radius).min(a.1.min(b.1) - r),
            (self.tip.0 + self.radius).max(a.0.max(b.0) + r),
            (self.tip.1 + self.radius).max(a.1.max(b.1) + r),
        ]
    }

    /// Distance from the thumb's axis in radii, and the distance along it from the tip, mm.
    fn thumb(&self, u: f32, v: f32) -> (f32, f32) {
        capsule(self.tip, self.base, (self.radius, self.radius), u, v)
    }

    /// The thumb, in front of the medium.
    pub(super) fn front(&self, u: f32, v: f32) -> Option<Rgbf> {
        let (d, along) = self.thumb(u, v);
        if d >= 1.0 {
            return None;
        }
        // Rounded: bright along the middle, dark at the sides, a little darker to the base.
        let shade = (0.4 + 0.6 * (1.0 - d * d).sqrt()) * (1.0 - 0.15 * along / (3.0 * self.radius));
        let nail = along < self.radius * 1.3 && d < 0.55;
        let tint = if nail { [1.3, 1.12, 1.08] } else { [1.0; 3] };
        Some([0, 1, 2].map(|k| self.skin[k] * shade * tint[k]))
    }

    /// The thumb's soft shadow on the medium: a factor on its light.
    pub(super) fn shadow(&self, u: f32, v: f32) -> f32 {
        let (d, _) = self.thumb(u, v);
        0.55 + 0.45 * smoothstep(1.0, 1.5, d)
    }

    /// The palm, behind the medium: it shows only beyond the medium's edge.
    pub(super) fn behind(&self, u: f32, v: f32) -> Option<Rgbf> {
        let (d, _) = capsule(self.palm.0, self.palm.1, self.palm.2, u, v);
        if d >= 1.0 {
            return None;
        }
        // Flatter than the thumb, turned from the light, partly in the medium's shadow.
        let shade = 0.4 + 0.3 * (1.0 - d * d).sqrt().sqrt();
        Some(self.skin.map(|c| c * shade))
    }
}

/// Distance of (u, v) from the segment a–b in units of the radius there (`radii.0` at `a`
/// narrowing to `radii.1` at `b`), and how far along the segment from `a` its nearest point
/// lies (millimetres).
fn capsule(a: (f32, f32), b: (f32, f32), radii: (f32, f32), u: f32, v: f32) -> (f32, f32) {
    let (ax, ay) = (b.0 - a.0, b.1 - a.1);
    let len2 = (ax * ax + ay * ay).max(1e-6);
    let t = (((u - a.0) * ax + (v - a.1) * ay) / len2).clamp(0.0, 1.0);
    let (dx, dy) = (u - a.0 - t * ax, v - a.1 - t * ay);
    let r = (radii.0 + (radii.1 - radii.0) * t).max(1e-6);
    ((dx * dx + dy * dy).sqrt() / r, t * len2.sqrt())
}
