//! Plane projective transforms from four point correspondences.

/// A 3×3 projective transform, row-major, `m[8]` normalised to 1.
#[derive(Clone, Copy, Debug)]
pub struct Homography {
    m: [f64; 9],
}

impl Homography {
    /// The transform that maps each `from[i]` onto `to[i]`; `None` if three points are collinear.
    pub fn from_points(from: [(f32, f32); 4], to: [(f32, f32); 4]) -> Option<Homography> {
        // Unknowns h0..h7 with h8 = 1; two equations per correspondence.
        let mut a = [[0f64; 9]; 8];
        for i in 0..4 {
            let (x, y) = (from[i].0 as f64, from[i].1 as f64);
            let (u, v) = (to[i].0 as f64, to[i].1 as f64);
            a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u, u];
            a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -x * v, -y * v, v];
        }
        // Gaussian elimination with partial pivoting on the augmented 8×9 system.
        for col in 0..8 {
            let pivot = (col..8).max_by(|&r, &s| a[r][col].abs().total_cmp(&a[s][col].abs()))?;
            if a[pivot][col].abs() < 1e-12 {
                return None;
            }
            a.swap(col, pivot);
            let pivot_row = a[col];
            for (r, row) in a.iter_mut().enumerate() {
                if r != col {
                    let f = row[col] / pivot_row[col];
                    for (x, p) in row.iter_mut().zip(pivot_row).skip(col) {
                        *x -= f * p;
                    }
                }
            }
        }
        let mut m = [1f64; 9];
        for (i, row) in a.iter().enumerate() {
            m[i] = row[8] / row[i];
        }
        Some(Homography { m })
    }

    /// Applies the transform to a point.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = (x as f64, y as f64);
        let m = &self.m;
        let w = m[6] * x + m[7] * y + m[8];
        (
            ((m[0] * x + m[1] * y + m[2]) / w) as f32,
            ((m[3] * x + m[4] * y + m[5]) / w) as f32,
        )
    }

    /// The inverse transform (adjugate over determinant).
    pub fn inverse(&self) -> Option<Homography> {
        let m = &self.m;
        let inv = [
            m[4] * m[8] - m[5] * m[7],
            m[2] * m[7] - m[1] * m[8],
            m[1] * m[5] - m[2] * m[4],
            m[5] * m[6] - m[3] * m[8],
            m[0] * m[8] - m[2] * m[6],
            m[2] * m[3] - m[0] * m[5],
            m[3] * m[7] - m[4] * m[6],
            m[1] * m[6] - m[0] * m[7],
            m[0] * m[4] - m[1] * m[3],
        ];
        let det = m[0] * inv[0] + m[1] * inv[3] + m[2] * inv[6];
        if det.abs() < 1e-15 || inv[8].abs() < 1e-15 {
            return None;
        }
        let n = inv[8];
        Some(Homography {
            m: inv.map(|v| v / n),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_corners_and_inverts() {
        let from = [(0.0, 0.0), (125.0, 0.0), (125.0, 88.0), (0.0, 88.0)];
        let to = [
            (310.0, 200.0),
            (1290.0, 260.0),
            (1250.0, 950.0),
            (280.0, 900.0),
        ];
        let h = Homography::from_points(from, to).expect("solvable");
        let inv = h.inverse().expect("invertible");
        for (f, t) in from.iter().zip(to) {
            let (x, y) = h.apply(f.0, f.1);
            assert!((x - t.0).abs() < 1e-3 && (y - t.1).abs() < 1e-3);
            let (u, v) = inv.apply(t.0, t.1);
            assert!((u - f.0).abs() < 1e-3 && (v - f.1).abs() < 1e-3);
        }
    }
}
