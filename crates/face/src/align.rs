//! Alignment: a similarity transform (scale, rotation, translation; least squares over
//! the five landmarks) onto the ArcFace 112×112 template, then bilinear warping. When
//! the face is much larger than 112 px, the region is first shrunk by area averaging so
//! that the warp does not alias.

use crate::resize::{resize_region, to_rgb};
use crate::{Face, Rgb};

/// The five-point template of 112×112 face crops used by ArcFace-style models.
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// `dst = [a −b; b a] · src + t`.
#[derive(Debug, Clone, Copy)]
struct Similarity {
    a: f32,
    b: f32,
    tx: f32,
    ty: f32,
}

fn estimate(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Similarity {
    let n = src.len() as f32;
    let ms = src
        .iter()
        .fold([0.0, 0.0], |m, p| [m[0] + p[0] / n, m[1] + p[1] / n]);
    let md = dst
        .iter()
        .fold([0.0, 0.0], |m, p| [m[0] + p[0] / n, m[1] + p[1] / n]);
    let (mut num_a, mut num_b, mut den) = (0f32, 0f32, 0f32);
    for (s, d) in src.iter().zip(dst) {
        let (xs, ys) = (s[0] - ms[0], s[1] - ms[1]);
        let (xd, yd) = (d[0] - md[0], d[1] - md[1]);
        num_a += xs * xd + ys * yd;
        num_b += xs * yd - ys * xd;
        den += xs * xs + ys * ys;
    }
    let den = den.max(1e-6);
    let (a, b) = (num_a / den, num_b / den);
    Similarity {
        a,
        b,
        tx: md[0] - (a * ms[0] - b * ms[1]),
        ty: md[1] - (b * ms[0] + a * ms[1]),
    }
}

fn bilinear(img: &Rgb, x: f32, y: f32) -> [f32; 3] {
    let x0 = x.floor();
    let y0 = y.floor();
    let (fx, fy) = (x - x0, y - y0);
    let (xi, yi) = (x0 as i64, y0 as i64);
    let p00 = img.get(xi, yi);
    let p10 = img.get(xi + 1, yi);
    let p01 = img.get(xi, yi + 1);
    let p11 = img.get(xi + 1, yi + 1);
    let mut out = [0f32; 3];
    for c in 0..3 {
        let top = f32::from(p00[c]) * (1.0 - fx) + f32::from(p10[c]) * fx;
        let bottom = f32::from(p01[c]) * (1.0 - fx) + f32::from(p11[c]) * fx;
        out[c] = top * (1.0 - fy) + bottom * fy;
    }
    out
}

/// Warps the face to a `size × size` crop on the template (scaled from 112), returning
/// interleaved RGB u8.
pub fn align(img: &Rgb, face: &Face, size: u32) -> Rgb {
    let k = size as f32 / 112.0;
    let template = ARCFACE_TEMPLATE.map(|p| [p[0] * k, p[1] * k]);
    let mut src_img = img;
    let mut landmarks = face.landmarks;
    let shrunk;
    let t = estimate(&landmarks, &template);
    let scale = (t.a * t.a + t.b * t.b).sqrt();
    if scale < 0.5 {
        // Shrink a region around the face to about twice the output resolution.
        let fw = face.width().max(face.height()).max(1.0);
        let cx = (face.bbox[0] + face.bbox[2]) / 2.0;
        let cy = (face.bbox[1] + face.bbox[3]) / 2.0;
        let side = fw * 2.0;
        let x0 = (cx - side / 2.0).floor() as i64;
        let y0 = (cy - side / 2.0).floor() as i64;
        let out_side = ((side * scale * 2.0).ceil() as usize).max(size as usize);
        let f = out_side as f32 / side.ceil();
        let buf = resize_region(
            img,
            x0,
            y0,
            side.ceil() as usize,
            side.ceil() as usize,
            out_side,
            out_side,
        );
        shrunk = to_rgb(&buf, out_side as u32, out_side as u32);
        src_img = &shrunk;
        for p in &mut landmarks {
            p[0] = (p[0] - x0 as f32) * f;
            p[1] = (p[1] - y0 as f32) * f;
        }
    }
    let t = estimate(&landmarks, &template);
    let det = (t.a * t.a + t.b * t.b).max(1e-12);
    let mut data = Vec::with_capacity((size * size * 3) as usize);
    for v in 0..size {
        for u in 0..size {
            let (du, dv) = (u as f32 - t.tx, v as f32 - t.ty);
            let x = (t.a * du + t.b * dv) / det;
            let y = (-t.b * du + t.a * dv) / det;
            let p = bilinear(src_img, x, y);
            data.extend(p.map(|c| c.round().clamp(0.0, 255.0) as u8));
        }
    }
    Rgb {
        width: size,
        height: size,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_recovers_a_known_similarity() {
        let (a, b, tx, ty) = (0.8f32, 0.3f32, 5.0f32, -7.0f32);
        let src = [
            [10.0, 20.0],
            [50.0, 22.0],
            [30.0, 40.0],
            [15.0, 60.0],
            [45.0, 61.0],
        ];
        let dst = src.map(|p| [a * p[0] - b * p[1] + tx, b * p[0] + a * p[1] + ty]);
        let t = estimate(&src, &dst);
        assert!((t.a - a).abs() < 1e-4 && (t.b - b).abs() < 1e-4);
        assert!((t.tx - tx).abs() < 1e-3 && (t.ty - ty).abs() < 1e-3);
    }
}
