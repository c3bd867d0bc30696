//! Where a medium lies before the webcam: a pinhole camera with the medium's pose (medium
//! millimetres to camera millimetres to pixels, and back from a pixel to the medium point it
//! sees), and how a sheet bends and curls out of its plane.

use anyhow::{Context, Result};

use super::{Pose, FRAME};
use crate::homography::Homography;

/// A pinhole camera with the medium's pose: medium millimetres to camera millimetres to pixels.
pub(super) struct Posed {
    pub(super) focal: f32,
    rot: [[f32; 3]; 3],
    /// Camera-space position of the anchor (the face centre on the medium).
    anchor_cam: [f32; 3],
    /// The anchor in medium millimetres.
    anchor: (f32, f32),
    bend: Bend,
    /// Pixels to medium millimetres, for the medium laid flat.
    to_medium: Homography,
}

impl Posed {
    /// Poses the medium so that its anchor lands at `centre` (pixels) with a face of
    /// `face_mm` spanning `pose.distance` of the frame's width.
    pub(super) fn new(
        focal: f32,
        pose: Pose,
        centre: (f32, f32),
        anchor: (f32, f32),
        face_mm: f32,
        bend: Bend,
    ) -> Result<Posed> {
        let depth = focal * face_mm / (pose.distance * FRAME.0 as f32);
        let (cx, cy) = principal_point();
        let anchor_cam = [
            (centre.0 - cx) * depth / focal,
            (centre.1 - cy) * depth / focal,
            depth,
        ];
        let rot = rotation(pose.yaw, pose.pitch, pose.roll);
        // The homography of the flat medium, from four points a face apart around the anchor.
        let r = face_mm;
        let medium = [
            (anchor.0 - r, anchor.1 - r),
            (anchor.0 + r, anchor.1 - r),
            (anchor.0 + r, anchor.1 + r),
            (anchor.0 - r, anchor.1 + r),
        ];
        let image = medium.map(|(u, v)| {
            project(
                focal,
                transform(&rot, anchor_cam, [u - anchor.0, v - anchor.1, 0.0]),
            )
        });
        let to_medium = Homography::from_points(image, medium)
            .context("degenerate medium placement (turned edge-on)")?;
        Ok(Posed {
            focal,
            rot,
            anchor_cam,
            anchor,
            bend,
            to_medium,
        })
    }

    /// Camera-space position of medium point (u, v), millimetres.
    pub(super) fn point(&self, u: f32, v: f32) -> [f32; 3] {
        // Positive bend comes towards the camera, which looks along +z.
        let p = [u - self.anchor.0, v - self.anchor.1, -self.bend.z(u, v)];
        transform(&self.rot, self.anchor_cam, p)
    }

    /// The medium point seen at pixel (x, y), or `None` if the ray misses the medium's plane.
    pub(super) fn locate(&self, x: f32, y: f32) -> Option<(f32, f32)> {
        let (u0, v0) = self.to_medium.apply(x, y);
        let (mut u, mut v) = (u0, v0);
        if !self.bend.is_flat() {
            // Fixed-point iteration with the flat medium's inverse as the approximate inverse
            // Jacobian: the bend moves points by a few millimetres, so it converges fast.
            for _ in 0..10 {
                let p = self.point(u, v);
                if p[2] <= 1.0 {
                    return None;
                }
                let (px, py) = project(self.focal, p);
                let (uu, vv) = self.to_medium.apply(px, py);
                let (du, dv) = (u0 - uu, v0 - vv);
                u += du;
                v += dv;
                if du.abs() + dv.abs() < 1e-3 {
                    break;
                }
            }
        }
        let p = self.point(u, v);
        (p[2] > 1.0 && u.is_finite() && v.is_finite()).then_some((u, v))
    }
}

/// `rot · p + t`.
fn transform(rot: &[[f32; 3]; 3], t: [f32; 3], p: [f32; 3]) -> [f32; 3] {
    let mut out = t;
    for (o, row) in out.iter_mut().zip(rot) {
        *o += row[0] * p[0] + row[1] * p[1] + row[2] * p[2];
    }
    out
}

fn principal_point() -> (f32, f32) {
    (FRAME.0 as f32 / 2.0, FRAME.1 as f32 / 2.0)
}

pub(super) fn project(focal: f32, p: [f32; 3]) -> (f32, f32) {
    let (cx, cy) = principal_point();
    (focal * p[0] / p[2] + cx, focal * p[1] / p[2] + cy)
}

/// Rotation of the medium: roll (counter-clockwise on screen) · pitch · yaw, in degrees.
fn rotation(yaw: f32, pitch: f32, roll: f32) -> [[f32; 3]; 3] {
    let (sy, cy) = yaw.to_radians().sin_cos();
    let (sp, cp) = pitch.to_radians().sin_cos();
    let (sr, cr) = roll.to_radians().sin_cos();
    let ry = [[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]];
    let rx = [[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]];
    // Image y grows downwards, so counter-clockwise on screen is this sign.
    let rz = [[cr, sr, 0.0], [-sr, cr, 0.0], [0.0, 0.0, 1.0]];
    matmul(rz, matmul(rx, ry))
}

fn matmul(a: [[f32; 3]; 3], b: [[f32; 3]; 3]) -> [[f32; 3]; 3] {
    let mut m = [[0f32; 3]; 3];
    for (i, row) in m.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// How a sheet departs from its plane: a cylinder bend across it and, for photo paper, one
/// edge curled. Heights in millimetres towards the camera.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Bend {
    /// The bend runs along u (the sheet curves about its vertical axis) when true.
    pub(super) along_u: bool,
    /// Where the bend's axis lies, millimetres along the bending direction.
    pub(super) centre: f32,
    /// Height = k · (distance from the axis)².
    pub(super) k: f32,
    pub(super) curl: Option<Curl>,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Curl {
    /// 0: left (u = 0), 1: right (u = size.0), 2: top (v = 0), 3: bottom (v = size.1).
    pub(super) edge: u8,
    pub(super) size: (f32, f32),
    /// How far in from the edge the curl starts, millimetres.
    pub(super) reach: f32,
    /// How far the edge lifts, millimetres.
    pub(super) lift: f32,
}

impl Bend {
    fn is_flat(&self) -> bool {
        self.k == 0.0 && self.curl.is_none()
    }

    fn z(&self, u: f32, v: f32) -> f32 {
        self.z_and_slope(u, v).0
    }

    /// Height and its derivatives along u and v.
    fn z_and_slope(&self, u: f32, v: f32) -> (f32, f32, f32) {
        let s = if self.along_u { u } else { v } - self.centre;
        let (mut z, mut du, mut dv) = (self.k * s * s, 0.0, 0.0);
        if self.along_u {
            du = 2.0 * self.k * s;
        } else {
            dv = 2.0 * self.k * s;
        }
        if let Some(c) = self.curl {
            let (d, sign_u, sign_v) = match c.edge {
                0 => (u, 1.0, 0.0),
                1 => (c.size.0 - u, -1.0, 0.0),
                2 => (v, 0.0, 1.0),
                _ => (c.size.1 - v, 0.0, -1.0),
            };
            if d < c.reach {
                let t = (c.reach - d) / c.reach;
                z += c.lift * t * t;
                // d(t²)/dd = -2t / reach.
                let dz_dd = -2.0 * c.lift * t / c.reach;
                du += dz_dd * sign_u;
                dv += dz_dd * sign_v;
            }
        }
        (z, du, dv)
    }

    /// Unit normal facing the camera, in the medium's own frame (x along u, y along v, z
    /// away from the camera).
    pub(super) fn normal(&self, u: f32, v: f32) -> [f32; 3] {
        let (_, du, dv) = self.z_and_slope(u, v);
        let n = [du, dv, -1.0];
        let len = (du * du + dv * dv + 1.0).sqrt();
        n.map(|c| c / len)
    }
}

pub(super) fn normalise(v: [f32; 3]) -> [f32; 3] {
    let len = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-6);
    v.map(|c| c / len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bent_sheet_is_located_where_it_is_projected() {
        let pose = Pose {
            distance: 0.3,
            yaw: 20.0,
            pitch: -15.0,
            roll: 8.0,
        };
        let bend = Bend {
            along_u: true,
            centre: 60.0,
            k: 10.0 / 3600.0,
            curl: Some(Curl {
                edge: 1,
                size: (120.0, 150.0),
                reach: 25.0,
                lift: 6.0,
            }),
        };
        let posed =
            Posed::new(550.0, pose, (330.0, 230.0), (60.0, 70.0), 50.0, bend).expect("posed");
        for (u, v) in [(60.0, 70.0), (5.0, 10.0), (115.0, 140.0), (100.0, 30.0)] {
            let (x, y) = project(550.0, posed.point(u, v));
            let (lu, lv) = posed.locate(x, y).expect("on the sheet");
            assert!(
                (lu - u).abs() < 0.05 && (lv - v).abs() < 0.05,
                "({u}, {v}) came back as ({lu}, {lv})"
            );
        }
        let (ax, ay) = project(550.0, posed.point(60.0, 70.0));
        assert!((ax - 330.0).abs() < 1e-2 && (ay - 230.0).abs() < 1e-2);
    }
}
