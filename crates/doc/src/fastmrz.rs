//! The fast MRZ path: finds the machine-readable zone without the neural text detector and
//! reads it one character cell at a time with a small classifier trained on OCR-B.
//!
//! An MRZ is an unusual kind of text: 2 or 3 lines of 30, 36 or 44 glyphs in one
//! monospaced font, with no gaps (fillers are printed `<`). So:
//!
//! 1. **Ink blobs.** The photo, in grey and shrunk to about 800 pixels, is thresholded
//!    against its local mean; each 8-connected dark region is a blob (ideally one glyph).
//! 2. **Orientation.** Each blob's nearest blob of similar size mostly lies next to it on
//!    its line: the commonest direction between such neighbours is the text direction
//!    (modulo 180°).
//! 3. **Lines.** From each blob, walk to the next similar blob about one pitch further
//!    along that direction (the direction follows the chain, so perspective and slight
//!    curvature are tolerated). Chains of 18 or more blobs at a regular pitch are MRZ line
//!    candidates; 2 or 3 parallel ones, one above the other at about 1.7 pitches, with
//!    aligned starts and the same length, are a band.
//! 4. **Cells.** Each line is a straight fit through its blobs; for a format's length N
//!    the cell centres are a quadratic in the cell index (perspective changes the pitch
//!    along a line) fitted to the blobs that fall on cells.
//! 5. **Characters.** Each cell is sampled upright from the full-resolution photo into a
//!    16 × 24 patch and classified (an MLP over the 37 MRZ characters; weights trained by
//!    `crates/doc/train`, embedded in the binary). Both reading directions are tried.
//!
//! The reader parses what comes out and uses it only when every check digit holds;
//! otherwise it goes on with the neural pipeline. See `crates/doc/train/README.md`.
//!
//! Size (over 800 lines): one algorithm (locator, cell cutter, classifier) over shared
//! private geometry; split, the stages would have to expose it.

use crate::geometry::RotRect;
use crate::ocr::Text;
use std::sync::OnceLock;
use vouch_face::Rgb;

/// Patch width (along the line), pixels.
pub const PATCH_W: usize = 16;
/// Patch height (across the line), pixels.
pub const PATCH_H: usize = 24;
/// The MRZ alphabet, in the classifier's class order.
pub const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

/// Longest side of the image the blobs are first looked for on.
pub const WORK_SIDE: usize = 800;
/// Fewest blobs in a chain for it to be an MRZ line candidate.
const MIN_CHAIN: usize = 18;
/// Most blobs considered (a busy background is not worth more).
const MAX_BLOBS: usize = 30_000;

/// A dark connected region of the working image.
#[derive(Debug, Clone, Copy)]
struct Blob {
    /// Centroid, working pixels.
    x: f32,
    y: f32,
    /// Longest side of the bounding box, working pixels.
    size: f32,
    /// Second moments of the pixels about the centroid.
    vxx: f32,
    vyy: f32,
    vxy: f32,
}

/// One MRZ line as found: the blobs' centres in full-resolution coordinates, and the
/// height of the glyphs.
#[derive(Debug, Clone)]
pub struct Line {
    /// A point on the fitted line (the blobs' mean).
    c: (f32, f32),
    /// Unit direction of reading (left to right as the chain was walked).
    d: (f32, f32),
    /// Positions of the blobs along `d` from `c`, increasing.
    t: Vec<f32>,
    /// Glyph height (full-resolution pixels).
    h: f32,
}

impl Line {
    /// Median distance between neighbouring blobs.
    fn pitch(&self) -> f32 {
        let mut steps: Vec<f32> = self.t.windows(2).map(|w| w[1] - w[0]).collect();
        steps.sort_by(f32::total_cmp);
        steps.get(steps.len() / 2).copied().unwrap_or(1.0).max(1e-3)
    }

    /// A point at `t` along the line.
    fn at(&self, t: f32) -> (f32, f32) {
        (self.c.0 + self.d.0 * t, self.c.1 + self.d.1 * t)
    }
}

/// Where the cells of a band's lines begin and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// Each line from its own first blob to its own last.
    Own,
    /// The band's lines are column-aligned: every line from the earliest start to the
    /// latest end among them (a line whose first or last glyphs were missed).
    Union,
    /// Every line from the latest start to the earliest end (a line whose chain ran on
    /// into the background).
    Common,
}

/// A candidate MRZ band: its lines top to bottom (in the walking direction's frame).
#[derive(Debug, Clone)]
pub struct Band {
    lines: Vec<Line>,
}

impl Band {
    /// Number of lines.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether the band has no line (never, for a found band).
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Blobs on the longest line (about the number of characters).
    pub fn blobs(&self) -> usize {
        self.lines.iter().map(|l| l.t.len()).max().unwrap_or(0)
    }

    /// Each line's span in its own coordinates, or `None` where the line keeps its own;
    /// `None` overall when the span asked for is each line's own.
    fn spans(&self, span: Span) -> Option<Vec<Option<(f32, f32)>>> {
        let first = self.lines.first()?;
        let d = first.d;
        let along = |p: (f32, f32)| p.0 * d.0 + p.1 * d.1;
        let ends: Vec<(f32, f32)> = self
            .lines
            .iter()
            .map(|l| (along(l.at(l.t[0])), along(l.at(l.t[l.t.len() - 1]))))
            .collect();
        let (s, e) = match span {
            Span::Own => return Some(vec![None; self.lines.len()]),
            Span::Union => ends
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |a, b| {
                    (a.0.min(b.0), a.1.max(b.1))
                }),
            Span::Common => ends
                .iter()
                .fold((f32::NEG_INFINITY, f32::INFINITY), |a, b| {
                    (a.0.max(b.0), a.1.min(b.1))
                }),
        };
        if s >= e {
            return None;
        }
        Some(
            self.lines
                .iter()
                .map(|l| {
                    let c = along(l.c);
                    Some((s - c, e - c))
                })
                .collect(),
        )
    }

    /// Whether the lines' own ends differ by at least half a pitch (so that [`Span::Union`]
    /// and [`Span::Common`] are worth trying).
    pub fn ragged(&self) -> bool {
        let Some(first) = self.lines.first() else {
            return false;
        };
        let d = first.d;
        let along = |p: (f32, f32)| p.0 * d.0 + p.1 * d.1;
        let p = first.pitch();
        let starts: Vec<f32> = self.lines.iter().map(|l| along(l.at(l.t[0]))).collect();
        let ends: Vec<f32> = self
            .lines
            .iter()
            .map(|l| along(l.at(l.t[l.t.len() - 1])))
            .collect();
        let spread = |v: &[f32]| {
            v.iter().copied().fold(f32::NEG_INFINITY, f32::max)
                - v.iter().copied().fold(f32::INFINITY, f32::min)
        };
        spread(&starts) > 0.5 * p || spread(&ends) > 0.5 * p
    }

    /// Reading direction of the band's lines, as walked.
    pub fn direction(&self) -> (f32, f32) {
        self.lines.first().map(|l| l.d).unwrap_or((1.0, 0.0))
    }
}

/// One cell to classify: centre, reading direction, pitch and glyph height.
#[derive(Debug, Clone, Copy)]
struct Cell {
    x: f32,
    y: f32,
    d: (f32, f32),
    pitch: f32,
    h: f32,
}

/// Cells of one line with `n` characters, in reading order; `None` when too few blobs
/// fall on cells for the spacing to be trusted.
fn cells(
    line: &Line,
    n: usize,
    reverse: bool,
    span: Option<(f32, f32)>,
) -> Option<(Vec<Cell>, RotRect)> {
    let anchors = match span {
        None => anchors(&line.t, n, 0, 0)?,
        Some((ts, te)) => {
            // Blobs within the span; cells the line's chain missed at either end.
            let p = line.pitch();
            let t: Vec<f32> = line
                .t
                .iter()
                .copied()
                .filter(|&t| t > ts - 0.4 * p && t < te + 0.4 * p)
                .collect();
            let (first, last) = (*t.first()?, *t.last()?);
            let lead = ((first - ts) / p).round().max(0.0) as usize;
            let trail = ((te - last) / p).round().max(0.0) as usize;
            anchors(&t, n, lead, trail)?
        }
    };
    let model = fit(&anchors, anchors.len() >= 12)?;
    if model[1] <= 0.0 {
        return None;
    }
    let at = |m: &[f32; 3], i: f32| m[0] + m[1] * i + m[2] * i * i;
    let (dx, dy) = line.d;
    let pitch_mid = model[1] + model[2] * (n - 1) as f32;
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let i = k as f32;
        let t = at(&model, i);
        let pitch = (model[1] + 2.0 * model[2] * i).max(1e-3);
        out.push(Cell {
            x: line.c.0 + dx * t,
            y: line.c.1 + dy * t,
            d: (dx, dy),
            pitch,
            h: line.h * pitch / pitch_mid.max(1e-3),
        });
    }
    let (a, b) = (at(&model, 0.0), at(&model, (n - 1) as f32));
    let mid = (a + b) / 2.0;
    let mut rect = RotRect {
        cx: line.c.0 + dx * mid,
        cy: line.c.1 + dy * mid,
        w: b - a + pitch_mid,
        h: line.h * 1.3,
        angle: dy.atan2(dx),
    };
    if reverse {
        out.reverse();
        for c in &mut out {
            c.d = (-c.d.0, -c.d.1);
        }
        rect = rect.flipped();
    }
    Some((out, rect))
}

/// Which cell each blob sits on: `(cell index, position)` for the blobs that can be
/// placed with confidence, for a line of `n` cells whose first and last cells are the
/// first and last blobs.
///
/// Walks the blobs in order, counting each step in local pitches (the median of the
/// steps around it, so perspective's gradual change of pitch is followed): a step of
/// about one pitch is the next cell, about two a missed glyph, and so on. A step far from
/// a whole number of pitches (two glyphs merged into one blob, one broken in two) makes
/// the count after it uncertain, so the walk is made from both ends and each blob takes
/// the index of the walk that reached it before any uncertain step.
fn anchors(t: &[f32], n: usize, lead: usize, trail: usize) -> Option<Vec<(f32, f32)>> {
    if t.len() < 2 || n < 2 || lead + trail + 2 > n {
        return None;
    }
    let last = n - 1 - trail;
    let steps: Vec<f32> = t.windows(2).map(|w| w[1] - w[0]).collect();
    let mut sorted = steps.clone();
    sorted.sort_by(f32::total_cmp);
    let global = sorted[sorted.len() / 2];
    if global <= 0.0 {
        return None;
    }
    // Local pitch at each step: median of the plausible steps within four either side.
    let local: Vec<f32> = (0..steps.len())
        .map(|i| {
            let mut w: Vec<f32> = steps[i.saturating_sub(4)..(i + 5).min(steps.len())]
                .iter()
                .copied()
                .filter(|s| (0.7 * global..=1.4 * global).contains(s))
                .collect();
            if w.is_empty() {
                return global;
            }
            w.sort_by(f32::total_cmp);
            w[w.len() / 2]
        })
        .collect();
    // (cells advanced, clean) for each step.
    let moves: Vec<(usize, bool)> = steps
        .iter()
        .zip(&local)
        .map(|(s, p)| {
            let r = s / p;
            let k = r.round().max(0.0);
            (k as usize, (r - k).abs() < 0.25 && k >= 1.0)
        })
        .collect();
    let total: usize = moves.iter().map(|m| m.0).sum();
    let mut out = Vec::with_capacity(t.len());
    if lead + total + trail + 1 == n && moves.iter().all(|m| m.1) {
        let mut i = lead;
        out.push((i as f32, t[0]));
        for (k, m) in moves.iter().enumerate() {
            i += m.0;
            out.push((i as f32, t[k + 1]));
        }
        return Some(out);
    }
    // From the start, until the first uncertain step.
    let mut i = lead;
    out.push((i as f32, t[0]));
    for (k, m) in moves.iter().enumerate() {
        if !m.1 {
            break;
        }
        i += m.0;
        if i > last {
            return None;
        }
        out.push((i as f32, t[k + 1]));
    }
    let forward = out.len();
    // From the end, back to the last uncertain step (not re-placing blobs placed above).
    let mut j = last;
    let mut back = vec![(j as f32, t[t.len() - 1])];
    for (k, m) in moves.iter().enumerate().rev() {
        if !m.1 || k + 1 < forward {
            break;
        }
        j = j.checked_sub(m.0)?;
        back.push((j as f32, t[k]));
    }
    // Both walks must agree where they meet: an index must increase with position.
    back.reverse();
    if let (Some(a), Some(b)) = (out.last(), back.first()) {
        if b.0 <= a.0 && b.1 > a.1 {
            return None;
        }
    }
    let reached = out.last().map_or(f32::NEG_INFINITY, |a| a.1);
    out.extend(back.into_iter().filter(|b| b.1 > reached));
    (out.len() * 10 >= n * 6).then_some(out)
}

/// Least-squares fit of `t = a + b·i (+ c·i²)` to `(i, t)` points.
fn fit(points: &[(f32, f32)], quadratic: bool) -> Option<[f32; 3]> {
    let n = points.len() as f64;
    if n < 2.0 {
        return None;
    }
    if !quadratic {
        let (si, st) = points.iter().fold((0.0, 0.0), |(a, b), &(i, t)| {
            (a + f64::from(i), b + f64::from(t))
        });
        let (mi, mt) = (si / n, st / n);
        let (mut sit, mut sii) = (0.0, 0.0);
        for &(i, t) in points {
            let di = f64::from(i) - mi;
            sit += di * (f64::from(t) - mt);
            sii += di * di;
        }
        if sii <= 0.0 {
            return None;
        }
        let b = sit / sii;
        return Some([(mt - b * mi) as f32, b as f32, 0.0]);
    }
    // Normal equations for [1, i, i²], solved by Cramer's rule (well conditioned enough
    // for indices below 50 in f64).
    let mut s = [0f64; 5];
    let mut r = [0f64; 3];
    for &(i, t) in points {
        let (i, t) = (f64::from(i), f64::from(t));
        let mut p = 1.0;
        for (k, sk) in s.iter_mut().enumerate() {
            *sk += p;
            if k < 3 {
                r[k] += p * t;
            }
            p *= i;
        }
    }
    let m = [[s[0], s[1], s[2]], [s[1], s[2], s[3]], [s[2], s[3], s[4]]];
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let dm = det(&m);
    if dm.abs() < 1e-9 {
        return None;
    }
    let mut out = [0f32; 3];
    for (k, o) in out.iter_mut().enumerate() {
        let mut mk = m;
        for row in 0..3 {
            mk[row][k] = r[row];
        }
        *o = (det(&mk) / dm) as f32;
    }
    Some(out)
}

/// Grey levels (BT.601 luma) of a full-resolution image, computed where sampled: the
/// locator needs only a shrunken copy and the classifier only the MRZ cells.
pub struct Gray<'a> {
    img: &'a Rgb,
    w: usize,
    h: usize,
}

#[inline]
fn luma(p: &[u8]) -> u32 {
    77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])
}

/// Luma × 256 of summed channels.
#[inline]
fn luma_of(s: &[u32; 3]) -> u32 {
    77 * s[0] + 150 * s[1] + 29 * s[2]
}

impl<'a> Gray<'a> {
    /// A grey view of an RGB image.
    pub fn of(img: &'a Rgb) -> Gray<'a> {
        Gray {
            img,
            w: img.width as usize,
            h: img.height as usize,
        }
    }

    /// Bilinear sample, border replicated.
    #[inline]
    fn at(&self, x: f32, y: f32) -> f32 {
        if self.w == 0 || self.h == 0 || self.img.data.len() < self.w * self.h * 3 {
            return 0.0;
        }
        let x = x.clamp(0.0, (self.w - 1) as f32);
        let y = y.clamp(0.0, (self.h - 1) as f32);
        let (x0, y0) = (x as usize, y as usize);
        let (fx, fy) = (x - x0 as f32, y - y0 as f32);
        let x1 = (x0 + 1).min(self.w - 1);
        let y1 = (y0 + 1).min(self.h - 1);
        let d = &self.img.data;
        let p = |xx: usize, yy: usize| {
            let i = (yy * self.w + xx) * 3;
            luma(&d[i..i + 3]) as f32 / 256.0
        };
        let top = p(x0, y0) + (p(x1, y0) - p(x0, y0)) * fx;
        let bot = p(x0, y1) + (p(x1, y1) - p(x0, y1)) * fx;
        top + (bot - top) * fy
    }

    /// Grey, box-averaged by an integer factor.
    fn shrink(&self, f: usize) -> Work {
        let f = f.max(1);
        let (w, h) = (self.w / f, self.h / f);
        let mut px = vec![0u8; w * h];
        let area = (f * f) as u32 * 256;
        let d = &self.img.data;
        // Per output pixel, the block's sums of red, green and blue; luma once at the end.
        let mut sums = vec![[0u32; 3]; w];
        for y in 0..h {
            sums.iter_mut().for_each(|s| *s = [0; 3]);
            for yy in y * f..y * f + f {
                let row = &d[yy * self.w * 3..(yy * self.w + w * f) * 3];
                for (s, block) in sums.iter_mut().zip(row.chunks_exact(3 * f)) {
                    for p in block.chunks_exact(3) {
                        s[0] += u32::from(p[0]);
                        s[1] += u32::from(p[1]);
                        s[2] += u32::from(p[2]);
                    }
                }
            }
            for (o, s) in px[y * w..(y + 1) * w].iter_mut().zip(&sums) {
                *o = (luma_of(s) / area) as u8;
            }
        }
        Work { w, h, px }
    }
}

/// The shrunken grey image the locator works on.
struct Work {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

/// Dark pixels: darker by `c` than the mean of the `(2r+1)²` window around them (the
/// window clipped at the borders). Box sums by running sums, rows then columns.
fn threshold(g: &Work, r: usize, c: u32) -> Vec<bool> {
    let (w, h) = (g.w, g.h);
    // Horizontal window sums, and how many pixels each column's window holds.
    let mut rows = vec![0u32; w * h];
    for y in 0..h {
        let src = &g.px[y * w..(y + 1) * w];
        let dst = &mut rows[y * w..(y + 1) * w];
        let mut acc: u32 = src[..(r + 1).min(w)].iter().map(|&v| u32::from(v)).sum();
        for x in 0..w {
            dst[x] = acc;
            if x + r + 1 < w {
                acc += u32::from(src[x + r + 1]);
            }
            if x >= r {
                acc -= u32::from(src[x - r]);
            }
        }
    }
    let span = |i: usize, n: usize| ((i + r + 1).min(n) - i.saturating_sub(r)) as u32;
    let wcount: Vec<u32> = (0..w).map(|x| span(x, w)).collect();
    let mut mask = vec![false; w * h];
    let mut cols: Vec<u32> = vec![0; w];
    for y in 0..(r + 1).min(h) {
        for (a, &b) in cols.iter_mut().zip(&rows[y * w..(y + 1) * w]) {
            *a += b;
        }
    }
    for y in 0..h {
        let hn = span(y, h);
        let px = &g.px[y * w..(y + 1) * w];
        for (((m, &p), &sum), &wn) in mask[y * w..(y + 1) * w]
            .iter_mut()
            .zip(px)
            .zip(&cols)
            .zip(&wcount)
        {
            *m = (u32::from(p) + c) * wn * hn < sum;
        }
        if y + r + 1 < h {
            let add = &rows[(y + r + 1) * w..(y + r + 2) * w];
            for (a, &b) in cols.iter_mut().zip(add) {
                *a += b;
            }
        }
        if y >= r {
            let sub = &rows[(y - r) * w..(y - r + 1) * w];
            for (a, &b) in cols.iter_mut().zip(sub) {
                *a -= b;
            }
        }
    }
    mask
}

/// 8-connected dark blobs of plausible glyph size.
fn blobs(mask: &[bool], w: usize, h: usize) -> Vec<Blob> {
    let mut seen = vec![false; mask.len()];
    let mut stack = Vec::new();
    let mut out = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let (mut n, mut sx, mut sy, mut sxx, mut syy, mut sxy) =
            (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
        let (mut x0, mut x1, mut y0, mut y1) = (usize::MAX, 0, usize::MAX, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            n += 1;
            let (xu, yu) = (x as u64, y as u64);
            sx += xu;
            sy += yu;
            sxx += xu * xu;
            syy += yu * yu;
            sxy += xu * yu;
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
            let (ax, bx) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let (ay, by) = (y.saturating_sub(1), (y + 1).min(h - 1));
            for ny in ay..=by {
                for nx in ax..=bx {
                    let j = ny * w + nx;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        let size = (x1 - x0 + 1).max(y1 - y0 + 1);
        if n < 4 || !(3..=60).contains(&size) {
            continue;
        }
        let nf = n as f64;
        let (mx, my) = (sx as f64 / nf, sy as f64 / nf);
        out.push(Blob {
            x: mx as f32,
            y: my as f32,
            size: size as f32,
            vxx: (sxx as f64 / nf - mx * mx) as f32,
            vyy: (syy as f64 / nf - my * my) as f32,
            vxy: (sxy as f64 / nf - mx * my) as f32,
        });
        if out.len() >= MAX_BLOBS {
            break;
        }
    }
    out
}

/// Blobs bucketed on a grid for neighbour queries.
struct Grid {
    cell: f32,
    cols: usize,
    rows: usize,
    buckets: Vec<Vec<u32>>,
}

impl Grid {
    fn new(blobs: &[Blob], w: usize, h: usize, cell: f32) -> Grid {
        let cols = (w as f32 / cell).ceil() as usize + 1;
        let rows = (h as f32 / cell).ceil() as usize + 1;
        let mut buckets = vec![Vec::new(); cols * rows];
        for (i, b) in blobs.iter().enumerate() {
            let (cx, cy) = ((b.x / cell) as usize, (b.y / cell) as usize);
            buckets[cy.min(rows - 1) * cols + cx.min(cols - 1)].push(i as u32);
        }
        Grid {
            cell,
            cols,
            rows,
            buckets,
        }
    }

    /// Indices of blobs within `r` (roughly: whole buckets) of (x, y).
    fn near(&self, x: f32, y: f32, r: f32, out: &mut Vec<u32>) {
        out.clear();
        let lo = |v: f32| ((v - r) / self.cell).floor().max(0.0) as usize;
        let hi = |v: f32, n: usize| (((v + r) / self.cell).floor().max(0.0) as usize).min(n - 1);
        for cy in lo(y)..=hi(y, self.rows) {
            for cx in lo(x)..=hi(x, self.cols) {
                out.extend_from_slice(&self.buckets[cy * self.cols + cx]);
            }
        }
    }
}

fn similar(a: &Blob, b: &Blob) -> bool {
    let r = a.size / b.size;
    (0.4..=2.5).contains(&r)
}

/// The commonest direction (radians in [0, π)) from a blob to its nearest similar blob.
fn orientation(blobs: &[Blob], grid: &Grid) -> Option<f32> {
    const BINS: usize = 180;
    let mut hist = [0f32; BINS];
    let mut near = Vec::new();
    for a in blobs {
        let r = 2.4 * a.size;
        grid.near(a.x, a.y, r, &mut near);
        let mut best: Option<(f32, f32, f32)> = None;
        for &j in &near {
            let b = &blobs[j as usize];
            if !similar(a, b) {
                continue;
            }
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let d2 = dx * dx + dy * dy;
            let lim = 2.4 * a.size.max(b.size);
            if d2 < 0.09 * a.size * a.size || d2 > lim * lim {
                continue;
            }
            if best.is_none_or(|(e, _, _)| d2 < e) {
                best = Some((d2, dx, dy));
            }
        }
        if let Some((_, dx, dy)) = best {
            let mut ang = dy.atan2(dx);
            if ang < 0.0 {
                ang += std::f32::consts::PI;
            }
            let bin = ((ang / std::f32::consts::PI * BINS as f32) as usize).min(BINS - 1);
            hist[bin] += 1.0;
        }
    }
    let smooth = |i: usize| -> f32 {
        (0..5)
            .map(|k| hist[(i + BINS + k - 2) % BINS] * [0.5, 1.0, 1.5, 1.0, 0.5][k])
            .sum()
    };
    let (peak, votes) = (0..BINS)
        .map(|i| (i, smooth(i)))
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    if votes < 20.0 {
        return None;
    }
    Some((peak as f32 + 0.5) / BINS as f32 * std::f32::consts::PI)
}

/// Chains of similar blobs walked along `angle`.
fn chains(blobs: &[Blob], grid: &Grid, angle: f32) -> Vec<Vec<usize>> {
    let (ux, uy) = (angle.cos(), angle.sin());
    let mut order: Vec<usize> = (0..blobs.len()).collect();
    order.sort_by(|&a, &b| {
        (blobs[a].x * ux + blobs[a].y * uy).total_cmp(&(blobs[b].x * ux + blobs[b].y * uy))
    });
    let mut used = vec![false; blobs.len()];
    let mut out = Vec::new();
    let mut near = Vec::new();
    let mut chain: Vec<usize> = Vec::new();
    for &seed in &order {
        if used[seed] {
            continue;
        }
        chain.clear();
        chain.push(seed);
        let (mut dx, mut dy) = (ux, uy);
        let mut size_sum = blobs[seed].size;
        loop {
            let last = &blobs[*chain.last().unwrap_or(&seed)];
            let s = size_sum / chain.len() as f32;
            grid.near(last.x, last.y, 2.6 * s, &mut near);
            let mut best: Option<(f32, usize)> = None;
            for &j in &near {
                let j = j as usize;
                if used[j] || chain.contains(&j) {
                    continue;
                }
                let b = &blobs[j];
                let r = b.size / s;
                if !(0.35..=2.0).contains(&r) {
                    continue;
                }
                let (vx, vy) = (b.x - last.x, b.y - last.y);
                let along = vx * dx + vy * dy;
                let across = (-vx * dy + vy * dx).abs();
                if along < 0.35 * s || along > 2.4 * s || across > 0.35 * s {
                    continue;
                }
                let cost = along + 3.0 * across;
                if best.is_none_or(|(c, _)| cost < c) {
                    best = Some((cost, j));
                }
            }
            let Some((_, j)) = best else { break };
            chain.push(j);
            size_sum += blobs[j].size;
            if chain.len() >= 4 {
                let (a, b) = (&blobs[chain[0]], &blobs[j]);
                let (vx, vy) = (b.x - a.x, b.y - a.y);
                let n = (vx * vx + vy * vy).sqrt();
                if n > 0.0 {
                    (dx, dy) = (vx / n, vy / n);
                }
            }
        }
        if chain.len() >= MIN_CHAIN {
            for &i in &chain {
                used[i] = true;
            }
            out.push(chain.clone());
        } else {
            used[seed] = true;
        }
    }
    out
}

/// Fits a line to a chain (working coordinates scaled by `f` to full resolution);
/// `None` when the pitch is irregular (not monospaced text without gaps).
fn line_of(chain: &[usize], blobs: &[Blob], f: f32) -> Option<Line> {
    let n = chain.len() as f32;
    let (mx, my) = chain
        .iter()
        .fold((0.0, 0.0), |(a, b), &i| (a + blobs[i].x, b + blobs[i].y));
    let (mx, my) = (mx / n, my / n);
    let (mut sxx, mut syy, mut sxy) = (0.0f32, 0.0f32, 0.0f32);
    for &i in chain {
        let (x, y) = (blobs[i].x - mx, blobs[i].y - my);
        sxx += x * x;
        syy += y * y;
        sxy += x * y;
    }
    let theta = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (mut dx, mut dy) = (theta.cos(), theta.sin());
    // Keep the walking direction.
    let (a, b) = (&blobs[chain[0]], &blobs[chain[chain.len() - 1]]);
    if (b.x - a.x) * dx + (b.y - a.y) * dy < 0.0 {
        (dx, dy) = (-dx, -dy);
    }
    let mut t: Vec<f32> = chain
        .iter()
        .map(|&i| ((blobs[i].x - mx) * dx + (blobs[i].y - my) * dy) * f)
        .collect();
    t.sort_by(f32::total_cmp);
    let mut steps: Vec<f32> = t.windows(2).map(|w| w[1] - w[0]).collect();
    steps.sort_by(f32::total_cmp);
    let pitch = steps[steps.len() / 2];
    if pitch <= 0.0 {
        return None;
    }
    let regular = steps
        .iter()
        .filter(|&&s| (0.7 * pitch..=1.35 * pitch).contains(&s))
        .count();
    if (regular as f32) < 0.7 * steps.len() as f32 {
        return None;
    }
    // Glyph height from the spread of ink across the line (uniform over the height:
    // variance h²/12); the upper quartile, as fillers are lower than letters.
    let (nx, ny) = (-dy, dx);
    let mut hs: Vec<f32> = chain
        .iter()
        .map(|&i| {
            let b = &blobs[i];
            let v = nx * nx * b.vxx + ny * ny * b.vyy + 2.0 * nx * ny * b.vxy;
            (12.0 * v.max(0.0)).sqrt() * f
        })
        .collect();
    hs.sort_by(f32::total_cmp);
    let h = hs[hs.len() * 3 / 4].max(pitch * 0.5);
    // The line's position: working → full resolution (a pixel's centre at +0.5).
    let c = ((mx + 0.5) * f - 0.5, (my + 0.5) * f - 0.5);
    Some(Line {
        c,
        d: (dx, dy),
        t,
        h,
    })
}

/// Groups lines into bands: 2 or 3 parallel lines one pitch-and-a-bit apart, with aligned
/// starts and equal lengths. Best (most blobs) first.
fn bands_of(lines: &[Line]) -> Vec<Band> {
    let mut idx: Vec<usize> = (0..lines.len()).collect();
    let pitch = |l: &Line| (l.t[l.t.len() - 1] - l.t[0]) / (l.t.len() - 1).max(1) as f32;
    // Sort by offset across the first line's direction.
    let Some(first) = lines.first() else {
        return Vec::new();
    };
    let (nx, ny) = (-first.d.1, first.d.0);
    idx.sort_by(|&a, &b| {
        (lines[a].c.0 * nx + lines[a].c.1 * ny).total_cmp(&(lines[b].c.0 * nx + lines[b].c.1 * ny))
    });
    // Whether `b` follows `a` as the next MRZ line.
    let next = |a: &Line, b: &Line| -> bool {
        let p = pitch(a).max(pitch(b));
        if a.d.0 * b.d.0 + a.d.1 * b.d.1 < 0.995 {
            return false;
        }
        let (nx, ny) = (-a.d.1, a.d.0);
        let (vx, vy) = (b.c.0 - a.c.0, b.c.1 - a.c.1);
        let gap = (vx * nx + vy * ny).abs();
        if !(1.1 * p..=2.8 * p).contains(&gap) {
            return false;
        }
        // Starts and ends along a's direction.
        let shift = vx * a.d.0 + vy * a.d.1;
        let (a0, a1) = (a.t[0], a.t[a.t.len() - 1]);
        let (b0, b1) = (b.t[0] + shift, b.t[b.t.len() - 1] + shift);
        (a0 - b0).abs() < 3.5 * p && (a1 - b1).abs() < 3.5 * p
    };
    let mut out = Vec::new();
    for (k, &i) in idx.iter().enumerate() {
        let mut band = vec![i];
        for &j in &idx[k + 1..] {
            if band.len() == 3 {
                break;
            }
            if next(&lines[*band.last().unwrap_or(&i)], &lines[j]) {
                band.push(j);
            }
        }
        if band.len() >= 2 {
            out.push(Band {
                lines: band.iter().map(|&j| lines[j].clone()).collect(),
            });
        }
    }
    out.sort_by_key(|b| std::cmp::Reverse(b.lines.iter().map(|l| l.t.len()).sum::<usize>()));
    out
}

/// Finds MRZ band candidates in a photo (best first), on a copy shrunk to about
/// `WORK_SIDE` pixels.
pub fn locate(gray: &Gray<'_>) -> Vec<Band> {
    locate_at(gray, factor(gray, WORK_SIDE))
}

/// The integer shrink factor that brings the longest side to at most `side`.
pub fn factor(gray: &Gray<'_>, side: usize) -> usize {
    gray.w.max(gray.h).div_ceil(side.max(1)).max(1)
}

/// Finds MRZ band candidates on a copy shrunk by `f` (1: full resolution, for small or
/// distant documents whose glyphs merge when shrunk).
pub fn locate_at(gray: &Gray<'_>, f: usize) -> Vec<Band> {
    if gray.w < 32 || gray.h < 32 || gray.img.data.len() != gray.w * gray.h * 3 {
        return Vec::new();
    }
    let f = f.max(1);
    let work = gray.shrink(f);
    let mask = threshold(&work, 10, 10);
    let blobs = blobs(&mask, work.w, work.h);
    if blobs.len() < MIN_CHAIN * 2 {
        return Vec::new();
    }
    let grid = Grid::new(&blobs, work.w, work.h, 24.0);
    let Some(angle) = orientation(&blobs, &grid) else {
        return Vec::new();
    };
    let lines: Vec<Line> = chains(&blobs, &grid, angle)
        .iter()
        .filter_map(|c| line_of(c, &blobs, f as f32))
        .collect();
    bands_of(&lines)
}

/// Samples one cell into a `PATCH_W × PATCH_H` patch: ink high (255), paper low (0),
/// stretched to the patch's own range.
fn patch(gray: &Gray<'_>, c: &Cell, out: &mut [u8]) {
    let (dx, dy) = c.d;
    let (nx, ny) = (-dy, dx);
    let (pw, ph) = (c.pitch, 1.3 * c.h);
    let (sx, sy) = (pw / PATCH_W as f32, ph / PATCH_H as f32);
    // Average a small grid of samples when the patch shrinks the cell.
    let k = (sx.max(sy).ceil() as usize).clamp(1, 3);
    let kf = k as f32;
    let mut v = [0f32; PATCH_W * PATCH_H];
    for py in 0..PATCH_H {
        for px in 0..PATCH_W {
            let mut acc = 0.0;
            for j in 0..k {
                for i in 0..k {
                    let u = (px as f32 + (i as f32 + 0.5) / kf) * sx - pw / 2.0;
                    let w = (py as f32 + (j as f32 + 0.5) / kf) * sy - ph / 2.0;
                    acc += gray.at(c.x + dx * u + nx * w, c.y + dy * u + ny * w);
                }
            }
            v[py * PATCH_W + px] = acc / (kf * kf);
        }
    }
    let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let range = (hi - lo).max(1.0);
    for (o, &g) in out.iter_mut().zip(v.iter()) {
        *o = ((hi - g) / range * 255.0).round().clamp(0.0, 255.0) as u8;
    }
}

/// The patches of one band read as `n` characters a line, in either direction, with
/// the lines' rectangles (reading order, top to bottom).
pub fn band_patches(
    gray: &Gray<'_>,
    band: &Band,
    n: usize,
    reverse: bool,
    span: Span,
) -> Option<(Vec<u8>, Vec<RotRect>)> {
    band_patches_jittered(gray, band, n, reverse, span, &mut || [0.0, 0.0, 1.0, 1.0])
}

/// As [`band_patches`], with each cell moved and scaled by `jitter()`: `[along, across,
/// width, height]`, the shifts as fractions of the pitch and of the glyph height, the
/// scales as factors (for making training patches).
pub fn band_patches_jittered(
    gray: &Gray<'_>,
    band: &Band,
    n: usize,
    reverse: bool,
    span: Span,
    jitter: &mut dyn FnMut() -> [f32; 4],
) -> Option<(Vec<u8>, Vec<RotRect>)> {
    let spans = band.spans(span)?;
    let mut lines: Vec<(&Line, Option<(f32, f32)>)> = band.lines.iter().zip(spans).collect();
    if reverse {
        lines.reverse();
    }
    let mut out = vec![0u8; lines.len() * n * PATCH_W * PATCH_H];
    let mut rects = Vec::with_capacity(lines.len());
    for (li, (line, span)) in lines.iter().enumerate() {
        let (cells, rect) = cells(line, n, reverse, *span)?;
        for (k, c) in cells.iter().enumerate() {
            let at = (li * n + k) * PATCH_W * PATCH_H;
            let [du, dv, sw, sh] = jitter();
            let (du, dv) = (du * c.pitch, dv * c.h);
            let c = Cell {
                x: c.x + c.d.0 * du - c.d.1 * dv,
                y: c.y + c.d.1 * du + c.d.0 * dv,
                pitch: c.pitch * sw,
                h: c.h * sh,
                ..*c
            };
            patch(gray, &c, &mut out[at..at + PATCH_W * PATCH_H]);
        }
        rects.push(rect);
    }
    Some((out, rects))
}

/// The character classifier: a small MLP.
pub struct Classifier {
    layers: Vec<Layer>,
}

struct Layer {
    inputs: usize,
    outputs: usize,
    /// `[outputs][inputs]`, row-major.
    w: Vec<f32>,
    b: Vec<f32>,
}

/// The embedded weights (see `crates/doc/train`).
static WEIGHTS: &[u8] = include_bytes!("../models/mrz_chars.bin");

impl Classifier {
    /// The embedded classifier, loaded once; `None` if the weights do not parse (the
    /// reader then uses the neural pipeline alone).
    pub fn embedded() -> Option<&'static Classifier> {
        static C: OnceLock<Option<Classifier>> = OnceLock::new();
        C.get_or_init(|| Classifier::parse(WEIGHTS)).as_ref()
    }

    /// Parses the weight file written by `crates/doc/train/train_mrz_chars.py`.
    pub fn parse(bytes: &[u8]) -> Option<Classifier> {
        let mut r = bytes.strip_prefix(b"VMRZCHR1")?;
        let u32_at = |r: &mut &[u8]| -> Option<usize> {
            let (a, rest) = r.split_first_chunk::<4>()?;
            *r = rest;
            Some(u32::from_le_bytes(*a) as usize)
        };
        let (ph, pw, classes, n) = (
            u32_at(&mut r)?,
            u32_at(&mut r)?,
            u32_at(&mut r)?,
            u32_at(&mut r)?,
        );
        if ph != PATCH_H || pw != PATCH_W || classes != ALPHABET.len() || !(1..=8).contains(&n) {
            return None;
        }
        let floats = |r: &mut &[u8], k: usize| -> Option<Vec<f32>> {
            let bytes = r.get(..k.checked_mul(4)?)?;
            *r = &r[k * 4..];
            Some(
                bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            )
        };
        let mut layers = Vec::with_capacity(n);
        let mut expect = ph * pw;
        for _ in 0..n {
            let (inputs, outputs) = (u32_at(&mut r)?, u32_at(&mut r)?);
            if inputs != expect || outputs == 0 || outputs > 4096 {
                return None;
            }
            let w = floats(&mut r, inputs * outputs)?;
            let b = floats(&mut r, outputs)?;
            layers.push(Layer {
                inputs,
                outputs,
                w,
                b,
            });
            expect = outputs;
        }
        if expect != classes || r != ALPHABET.as_slice() {
            return None;
        }
        Some(Classifier { layers })
    }

    /// Classifies one patch: (character, probability).
    pub fn classify(&self, patch: &[u8]) -> (char, f32) {
        // The trainer's normalisation: scale to [0, 1], then standardise per patch.
        let mut x: Vec<f32> = patch.iter().map(|&v| f32::from(v) / 255.0).collect();
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var.sqrt() + 1e-3);
        for v in &mut x {
            *v = (*v - mean) * inv;
        }
        let last = self.layers.len() - 1;
        for (k, layer) in self.layers.iter().enumerate() {
            let mut y = layer.b.clone();
            for (o, yo) in y.iter_mut().enumerate() {
                let row = &layer.w[o * layer.inputs..(o + 1) * layer.inputs];
                *yo += dot(row, &x);
                if k < last {
                    *yo = yo.max(0.0);
                }
            }
            debug_assert_eq!(y.len(), layer.outputs);
            x = y;
        }
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = x.iter().map(|v| (v - max).exp()).sum();
        let (best, _) = x
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap_or((0, &0.0));
        (char::from(ALPHABET[best]), 1.0 / sum)
    }

    /// Reads the patches of a band (`lines × n` patches) into texts.
    pub fn read(&self, patches: &[u8], n: usize) -> Vec<Text> {
        if n == 0 {
            return Vec::new();
        }
        patches
            .chunks_exact(n * PATCH_W * PATCH_H)
            .map(|line| {
                let (mut text, mut conf) = (String::with_capacity(n), 0.0);
                for p in line.chunks_exact(PATCH_W * PATCH_H) {
                    let (c, prob) = self.classify(p);
                    text.push(c);
                    conf += prob;
                }
                Text {
                    text,
                    confidence: conf / n as f32,
                }
            })
            .collect()
    }
}

/// Dot product in eight lanes (vectorises without `unsafe`).
#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// The readings to try for a band, likeliest first: `(span, characters a line, reverse)`
/// — each line's own ends, then (for a ragged band) the band's outer and inner ends; at
/// each, the likely line lengths; at each, both directions.
pub fn readings(band: &Band) -> Vec<(Span, usize, bool)> {
    let spans: &[Span] = if band.ragged() {
        &[Span::Own, Span::Union, Span::Common]
    } else {
        &[Span::Own]
    };
    let lengths = lengths(band);
    let mut out = Vec::new();
    for &span in spans {
        for &n in &lengths {
            out.extend([(span, n, false), (span, n, true)]);
        }
    }
    out
}

/// Line lengths to try for a band, likeliest first.
pub fn lengths(band: &Band) -> Vec<usize> {
    if band.len() == 3 {
        return vec![30];
    }
    let blobs = band.blobs();
    let mut l = vec![44usize, 36, 30];
    l.sort_by_key(|&n| n.abs_diff(blobs));
    l.truncate(2);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_quadratic_fit_recovers_a_perspective_pitch() {
        let pts: Vec<(f32, f32)> = (0..40)
            .map(|i| {
                let i = i as f32;
                (i, 5.0 + 12.0 * i + 0.03 * i * i)
            })
            .collect();
        let m = fit(&pts, true).expect("fit");
        assert!(
            (m[0] - 5.0).abs() < 1e-2 && (m[1] - 12.0).abs() < 1e-2 && (m[2] - 0.03).abs() < 1e-3,
            "{m:?}"
        );
        let m = fit(&pts[..2], false).expect("line");
        assert!((m[1] - 12.03).abs() < 1e-3, "{m:?}");
    }

    /// Blob positions along a line of 44 cells whose pitch shrinks from 16 to 12 pixels
    /// (perspective), without the cells in `skip`, with the pairs in `merge` as one blob
    /// half way.
    fn line(skip: &[usize], merge: &[usize]) -> Vec<f32> {
        let pos = |i: f32| 100.0 + 16.0 * i - 0.0465 * i * i;
        let mut t = Vec::new();
        let mut i = 0;
        while i < 44 {
            if merge.contains(&i) {
                t.push(pos(i as f32 + 0.5));
                i += 2;
                continue;
            }
            if !skip.contains(&i) {
                t.push(pos(i as f32));
            }
            i += 1;
        }
        t
    }

    #[test]
    fn blobs_are_placed_on_their_cells_through_perspective_merges_and_gaps() {
        let pos = |i: f32| 100.0 + 16.0 * i - 0.0465 * i * i;
        for (skip, merge) in [
            (vec![], vec![]),
            (vec![20], vec![]),
            (vec![], vec![7]),
            (vec![30], vec![12]),
        ] {
            let a = anchors(&line(&skip, &merge), 44, 0, 0).expect("anchors");
            assert!(a.len() >= 30, "{skip:?} {merge:?}: {}", a.len());
            for (i, t) in &a {
                assert!(
                    (pos(*i) - t).abs() < 0.5,
                    "{skip:?} {merge:?}: cell {i} at {t}"
                );
            }
            let m = fit(&a, true).expect("fit");
            assert!((m[1] - 16.0).abs() < 0.1, "{m:?}");
        }
        // A first or last blob missing cannot be told from a line one cell shorter: the
        // walk places the blobs consistently, and the check digits will say.
        assert!(anchors(&[1.0], 44, 0, 0).is_none());
        // The first two cells missed (known from the band's other line).
        let t = line(&[0, 1], &[]);
        let a = anchors(&t, 44, 2, 0).expect("anchors");
        assert_eq!(a[0].0, 2.0);
        assert!(a.iter().all(|(i, t)| (pos(*i) - t).abs() < 0.5));
    }

    #[test]
    fn the_running_threshold_matches_the_definition() {
        let (w, h) = (37usize, 23usize);
        let px: Vec<u8> = (0..w * h).map(|i| ((i * 7919) % 251) as u8).collect();
        let g = Work { w, h, px };
        let (r, c) = (4usize, 10u32);
        let fast = threshold(&g, r, c);
        for y in 0..h {
            for x in 0..w {
                let (mut sum, mut n) = (0u32, 0u32);
                for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                    for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                        sum += u32::from(g.px[yy * w + xx]);
                        n += 1;
                    }
                }
                let dark = (u32::from(g.px[y * w + x]) + c) * n < sum;
                assert_eq!(fast[y * w + x], dark, "({x}, {y})");
            }
        }
    }

    #[test]
    fn malformed_weights_are_refused() {
        assert!(Classifier::parse(b"").is_none());
        assert!(Classifier::parse(b"VMRZCHR1\x18\0\0\0").is_none());
        let mut bytes = WEIGHTS.to_vec();
        if Classifier::parse(&bytes).is_some() {
            bytes.truncate(bytes.len() - 1);
            assert!(Classifier::parse(&bytes).is_none());
        }
    }
}
