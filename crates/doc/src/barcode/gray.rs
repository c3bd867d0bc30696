//! Grey images for the barcode detector: conversion from RGB, halving, smoothing, turning
//! by any angle, and measuring how far the bars are tilted.

use vouch_face::Rgb;

/// A grey image, one byte a pixel, rows top to bottom.
#[derive(Clone)]
pub(crate) struct Gray {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Gray {
    /// Luma from RGB (BT.601 weights in integers).
    pub fn from_rgb(img: &Rgb) -> Gray {
        let data = img
            .data
            .chunks_exact(3)
            .map(|p| {
                let y = 77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2]);
                (y >> 8) as u8
            })
            .collect();
        Gray {
            width: img.width,
            height: img.height,
            data,
        }
    }

    fn at(&self, x: u32, y: u32) -> u8 {
        let x = x.min(self.width - 1) as usize;
        let y = y.min(self.height - 1) as usize;
        self.data[y * self.width as usize + x]
    }

    /// Half size, each pixel the mean of a 2×2 block.
    pub fn half(&self) -> Gray {
        let (w, h) = ((self.width / 2).max(1), (self.height / 2).max(1));
        let mut data = Vec::with_capacity(w as usize * h as usize);
        for y in 0..h {
            for x in 0..w {
                let s = u32::from(self.at(2 * x, 2 * y))
                    + u32::from(self.at(2 * x + 1, 2 * y))
                    + u32::from(self.at(2 * x, 2 * y + 1))
                    + u32::from(self.at(2 * x + 1, 2 * y + 1));
                data.push((s / 4) as u8);
            }
        }
        Gray {
            width: w,
            height: h,
            data,
        }
    }

    /// Each pixel the mean of its 3×3 neighbourhood (edges repeated).
    pub fn smooth(&self) -> Gray {
        let (w, h) = (self.width as usize, self.height as usize);
        // Sums of three along rows, then three of those down columns.
        let mut rows = vec![0u16; w * h];
        for y in 0..h {
            let line = &self.data[y * w..(y + 1) * w];
            for x in 0..w {
                let l = line[x.saturating_sub(1)];
                let r = line[(x + 1).min(w - 1)];
                rows[y * w + x] = u16::from(l) + u16::from(line[x]) + u16::from(r);
            }
        }
        let mut data = vec![0u8; w * h];
        for y in 0..h {
            let (up, down) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for x in 0..w {
                let sum = rows[up * w + x] + rows[y * w + x] + rows[down * w + x];
                data[y * w + x] = (sum / 9) as u8;
            }
        }
        Gray {
            width: self.width,
            height: self.height,
            data,
        }
    }

    /// The image turned clockwise by `degrees` about its centre, on a canvas large enough
    /// to hold all of it; the corners left empty take the image's mean grey.
    pub fn rotated(&self, degrees: f32) -> Gray {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (w, h) = (self.width as f32, self.height as f32);
        let nw = (w * cos.abs() + h * sin.abs()).ceil().max(1.0) as u32;
        let nh = (w * sin.abs() + h * cos.abs()).ceil().max(1.0) as u32;
        let mean = (self.data.iter().map(|&v| u64::from(v)).sum::<u64>()
            / self.data.len().max(1) as u64) as u8;
        let (cx, cy) = (w / 2.0, h / 2.0);
        let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
        let mut data = Vec::with_capacity(nw as usize * nh as usize);
        for y in 0..nh {
            for x in 0..nw {
                // The inverse turn takes each new pixel back to where it came from.
                let (dx, dy) = (x as f32 + 0.5 - ncx, y as f32 + 0.5 - ncy);
                let sx = cos * dx + sin * dy + cx - 0.5;
                let sy = -sin * dx + cos * dy + cy - 0.5;
                data.push(self.bilinear(sx, sy).unwrap_or(mean));
            }
        }
        Gray {
            width: nw,
            height: nh,
            data,
        }
    }

    fn bilinear(&self, x: f32, y: f32) -> Option<u8> {
        if x < 0.0 || y < 0.0 || x > (self.width - 1) as f32 || y > (self.height - 1) as f32 {
            return None;
        }
        let (x0, y0) = (x as u32, y as u32);
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let p = |xx: u32, yy: u32| f32::from(self.at(xx, yy));
        let v = p(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + p(x0 + 1, y0) * fx * (1.0 - fy)
            + p(x0, y0 + 1) * (1.0 - fx) * fy
            + p(x0 + 1, y0 + 1) * fx * fy;
        Some(v.round().clamp(0.0, 255.0) as u8)
    }

    /// How far the image's dominant straight edges are turned from the axes, clockwise
    /// degrees in [-45, 45): the bars and rows of a barcode dominate a licence back.
    /// Measured with structure tensors: in each block of 16×16 pixels the summed products
    /// of gradients give the block's edge direction and how consistent it is (a single
    /// pixel's gradient is biased to the axes on fine, stair-stepped bars, the sum much
    /// less); consistent, strong blocks vote in a histogram of directions. The gradient is
    /// Scharr's, not Sobel's: on bars a few pixels wide Sobel reads a tilt some 8 % too
    /// small. `None` when no direction stands out.
    pub fn skew(&self) -> Option<f32> {
        const BLOCK: u32 = 16;
        const BINS: usize = 90; // one degree each, over a quarter turn
        let g = self;
        if g.width < BLOCK + 2 || g.height < BLOCK + 2 {
            return None;
        }
        let p = |x: u32, y: u32| i64::from(g.data[(y * g.width + x) as usize]);
        let mut hist = [0f64; BINS];
        let mut by = 1;
        while by + BLOCK < g.height {
            let mut bx = 1;
            while bx + BLOCK < g.width {
                let (mut jxx, mut jyy, mut jxy) = (0i64, 0i64, 0i64);
                for y in by..by + BLOCK {
                    for x in bx..bx + BLOCK {
                        let gx = 3 * (p(x + 1, y - 1) + p(x + 1, y + 1)) + 10 * p(x + 1, y)
                            - 3 * (p(x - 1, y - 1) + p(x - 1, y + 1))
                            - 10 * p(x - 1, y);
                        let gy = 3 * (p(x - 1, y + 1) + p(x + 1, y + 1)) + 10 * p(x, y + 1)
                            - 3 * (p(x - 1, y - 1) + p(x + 1, y - 1))
                            - 10 * p(x, y - 1);
                        jxx += gx * gx;
                        jyy += gy * gy;
                        jxy += gx * gy;
                    }
                }
                let (jxx, jyy, jxy) = (jxx as f64, jyy as f64, jxy as f64);
                let energy = jxx + jyy;
                if energy > 0.0 {
                    let spread = ((jxx - jyy).powi(2) + 4.0 * jxy * jxy).sqrt();
                    let coherence = spread / energy;
                    // Direction of the gradients (the edges' normal), folded to a quarter
                    // turn: edges along either axis give the same tilt.
                    let angle = (0.5 * (2.0 * jxy).atan2(jxx - jyy))
                        .to_degrees()
                        .rem_euclid(90.0);
                    hist[(angle as usize).min(BINS - 1)] += coherence * coherence * energy.sqrt();
                }
                bx += BLOCK;
            }
            by += BLOCK;
        }
        let total: f64 = hist.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let smoothed: Vec<f64> = (0..BINS)
            .map(|i| hist[(i + BINS - 1) % BINS] + 2.0 * hist[i] + hist[(i + 1) % BINS])
            .collect();
        let (peak, &top) = smoothed
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        // A real direction holds several times its share of the weight.
        if top < 4.0 * 4.0 * total / BINS as f64 {
            return None;
        }
        // Parabolic refinement between the neighbouring bins.
        let (l, r) = (
            smoothed[(peak + BINS - 1) % BINS],
            smoothed[(peak + 1) % BINS],
        );
        let denom = l - 2.0 * top + r;
        let offset = if denom.abs() > f64::EPSILON {
            (0.5 * (l - r) / denom).clamp(-0.5, 0.5)
        } else {
            0.0
        };
        let angle = (peak as f64 + 0.5 + offset) as f32;
        Some(if angle >= 45.0 { angle - 90.0 } else { angle })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vertical stripes turned by `deg`.
    fn stripes(deg: f32) -> Gray {
        let mut g = Gray {
            width: 300,
            height: 200,
            data: vec![255; 300 * 200],
        };
        for y in 0..200u32 {
            for x in 0..300u32 {
                if (x / 4) % 2 == 0 {
                    g.data[(y * 300 + x) as usize] = 0;
                }
            }
        }
        g.rotated(deg)
    }

    #[test]
    fn skew_of_turned_stripes() {
        for deg in [-12.0f32, -5.0, 0.0, 3.0, 8.0, 20.0] {
            let got = stripes(deg).skew().unwrap();
            assert!((got - deg).abs() < 1.0, "turned {deg}, measured {got}");
        }
    }

    #[test]
    fn flat_image_has_no_skew() {
        let g = Gray {
            width: 50,
            height: 50,
            data: vec![128; 2500],
        };
        assert_eq!(g.skew(), None);
        assert_eq!(g.rotated(10.0).width, 58);
    }
}
