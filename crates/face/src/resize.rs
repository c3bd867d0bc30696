//! Resampling of RGB crops into f32 buffers: area averaging when shrinking (like
//! OpenCV's INTER_AREA, which MTCNN was trained with) and bilinear when enlarging.

use crate::Rgb;

/// Weights of a 1-D resampling: for each output index, (first source index, weights).
fn weights(src: usize, dst: usize) -> Vec<(usize, Vec<f32>)> {
    let scale = src as f64 / dst as f64;
    (0..dst)
        .map(|i| {
            if scale >= 1.0 {
                let start = i as f64 * scale;
                let end = start + scale;
                let first = start.floor() as usize;
                let last = (end.ceil() as usize).min(src);
                let ws: Vec<f32> = (first..last)
                    .map(|j| {
                        let lo = (j as f64).max(start);
                        let hi = ((j + 1) as f64).min(end);
                        ((hi - lo).max(0.0) / scale) as f32
                    })
                    .collect();
                (first, ws)
            } else {
                let pos = ((i as f64 + 0.5) * scale - 0.5).max(0.0);
                let j = (pos.floor() as usize).min(src - 1);
                let frac = (pos - j as f64) as f32;
                if j + 1 < src {
                    (j, vec![1.0 - frac, frac])
                } else {
                    (j, vec![1.0])
                }
            }
        })
        .collect()
}

/// Resamples the region `(x0, y0, w, h)` of `img` (pixels outside read as black) to
/// `dw × dh`, returning interleaved RGB f32 in 0..255.
pub fn resize_region(
    img: &Rgb,
    x0: i64,
    y0: i64,
    w: usize,
    h: usize,
    dw: usize,
    dh: usize,
) -> Vec<f32> {
    let (w, h, dw, dh) = (w.max(1), h.max(1), dw.max(1), dh.max(1));
    let wx = weights(w, dw);
    let wy = weights(h, dh);
    // Horizontal pass over the rows the vertical pass needs.
    let mut tmp = vec![0f32; h * dw * 3];
    let inside_rows = (0..h).filter(|&r| {
        let y = y0 + r as i64;
        y >= 0 && y < i64::from(img.height)
    });
    for r in inside_rows {
        let y = (y0 + r as i64) as usize;
        let row = &img.data[y * img.width as usize * 3..(y + 1) * img.width as usize * 3];
        let out = &mut tmp[r * dw * 3..(r + 1) * dw * 3];
        for (i, (first, ws)) in wx.iter().enumerate() {
            let mut acc = [0f32; 3];
            for (k, wgt) in ws.iter().enumerate() {
                let x = x0 + (first + k) as i64;
                if x >= 0 && x < i64::from(img.width) {
                    let p = x as usize * 3;
                    acc[0] += wgt * f32::from(row[p]);
                    acc[1] += wgt * f32::from(row[p + 1]);
                    acc[2] += wgt * f32::from(row[p + 2]);
                }
            }
            out[i * 3..i * 3 + 3].copy_from_slice(&acc);
        }
    }
    let mut out = vec![0f32; dw * dh * 3];
    for (j, (first, ws)) in wy.iter().enumerate() {
        let dst = &mut out[j * dw * 3..(j + 1) * dw * 3];
        for (k, wgt) in ws.iter().enumerate() {
            let src = &tmp[(first + k) * dw * 3..(first + k + 1) * dw * 3];
            for (d, s) in dst.iter_mut().zip(src) {
                *d += wgt * s;
            }
        }
    }
    out
}

/// Resamples a whole image.
pub fn resize(img: &Rgb, dw: usize, dh: usize) -> Vec<f32> {
    resize_region(img, 0, 0, img.width as usize, img.height as usize, dw, dh)
}

/// Converts an f32 RGB buffer back to an image (for pre-scaling large photos).
pub fn to_rgb(buf: &[f32], w: u32, h: u32) -> Rgb {
    Rgb {
        width: w,
        height: h,
        data: buf
            .iter()
            .map(|v| v.round().clamp(0.0, 255.0) as u8)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_average_of_a_uniform_image_is_uniform() {
        let img = Rgb::new(10, 8, vec![100; 10 * 8 * 3]).unwrap();
        let out = resize(&img, 3, 3);
        assert!(out.iter().all(|v| (v - 100.0).abs() < 1e-3), "{out:?}");
        let up = resize(&img, 25, 17);
        assert!(up.iter().all(|v| (v - 100.0).abs() < 1e-3));
    }

    #[test]
    fn outside_pixels_are_black() {
        let img = Rgb::new(4, 4, vec![200; 48]).unwrap();
        let out = resize_region(&img, -4, 0, 8, 4, 2, 1);
        assert!(out[0] < 1.0 && (out[3] - 200.0).abs() < 1e-3, "{out:?}");
    }
}
