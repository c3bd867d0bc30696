//! 1:N search: an exact index over all templates of a gallery, scanned in parallel with
//! loops the compiler vectorises; optionally int8-quantised (4× less memory).

/// Embedding width.
pub const DIM: usize = 192;

/// A search hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// Position of the template in the index.
    pub slot: usize,
    /// Cosine similarity.
    pub score: f32,
}

/// How templates are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// f32: exact scores.
    F32,
    /// int8 with a per-template scale: ~1e-2 score error, a quarter of the memory.
    Int8,
}

/// An exact index of L2-normalised templates.
pub struct ExactIndex {
    precision: Precision,
    f32s: Vec<f32>,
    i8s: Vec<i8>,
    scales: Vec<f32>,
    len: usize,
}

#[inline]
fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent accumulators let the compiler use vector registers.
    let mut acc = [0f32; 8];
    for (x, y) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum()
}

#[inline]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    for (x, y) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        for i in 0..16 {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum()
}

fn quantise(v: &[f32]) -> (Vec<i8>, f32) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-12);
    let scale = max / 127.0;
    (
        v.iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
        scale,
    )
}

impl ExactIndex {
    /// An empty index.
    pub fn new(precision: Precision) -> Self {
        ExactIndex {
            precision,
            f32s: Vec::new(),
            i8s: Vec::new(),
            scales: Vec::new(),
            len: 0,
        }
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes used by the templates.
    pub fn memory_bytes(&self) -> usize {
        self.f32s.len() * 4 + self.i8s.len() + self.scales.len() * 4
    }

    /// Adds a template; returns its slot. Panics never: wrong widths are refused.
    pub fn add(&mut self, template: &[f32]) -> Option<usize> {
        if template.len() != DIM {
            return None;
        }
        match self.precision {
            Precision::F32 => self.f32s.extend_from_slice(template),
            Precision::Int8 => {
                let (q, s) = quantise(template);
                self.i8s.extend(q);
                self.scales.push(s);
            }
        }
        self.len += 1;
        Some(self.len - 1)
    }

    fn score_range(
        &self,
        probe: &[f32],
        probe_q: &(Vec<i8>, f32),
        start: usize,
        end: usize,
        k: usize,
    ) -> Vec<Hit> {
        let mut top: Vec<Hit> = Vec::with_capacity(k + 1);
        let mut floor = f32::NEG_INFINITY;
        for slot in start..end {
            let score = match self.precision {
                Precision::F32 => dot_f32(probe, &self.f32s[slot * DIM..(slot + 1) * DIM]),
                Precision::Int8 => {
                    dot_i8(&probe_q.0, &self.i8s[slot * DIM..(slot + 1) * DIM]) as f32
                        * probe_q.1
                        * self.scales[slot]
                }
            };
            if top.len() < k || score > floor {
                let pos = top.partition_point(|h| h.score >= score);
                top.insert(pos, Hit { slot, score });
                top.truncate(k);
                if top.len() == k {
                    floor = top[k - 1].score;
                }
            }
        }
        top
    }

    /// The `k` best matches of an L2-normalised probe, scanning with `threads` threads.
    pub fn search(&self, probe: &[f32], k: usize, threads: usize) -> Vec<Hit> {
        if probe.len() != DIM || k == 0 || self.len == 0 {
            return Vec::new();
        }
        let probe_q = match self.precision {
            Precision::Int8 => quantise(probe),
            Precision::F32 => (Vec::new(), 0.0),
        };
        let threads = threads.clamp(1, 64).min(self.len.div_ceil(4096).max(1));
        let chunk = self.len.div_ceil(threads);
        let mut all: Vec<Hit> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (start, end) = (t * chunk, ((t + 1) * chunk).min(self.len));
                    let pq = &probe_q;
                    s.spawn(move || self.score_range(probe, pq, start, end, k))
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        all.sort_by(|a, b| b.score.total_cmp(&a.score));
        all.truncate(k);
        all
    }
}

#[cfg(feature = "approx-index")]
/// An approximate index (HNSW graph, inner-product distance on L2-normalised templates)
/// for galleries too large to scan; its recall against [`ExactIndex`] is measured in
/// the benches.
pub struct ApproxIndex {
    graph: hnsw_rs::hnsw::Hnsw<'static, f32, hnsw_rs::anndists::dist::DistDot>,
    len: usize,
    ef_search: usize,
}

#[cfg(feature = "approx-index")]
impl ApproxIndex {
    /// An empty index sized for about `expected` templates. `m` links per node (16 is a
    /// good default), `ef_construction` candidates while linking (100–200).
    pub fn new(expected: usize, m: usize, ef_construction: usize) -> Self {
        ApproxIndex {
            graph: hnsw_rs::hnsw::Hnsw::new(
                m.clamp(4, 64),
                expected.max(1024),
                16,
                ef_construction.max(m),
                hnsw_rs::anndists::dist::DistDot {},
            ),
            len: 0,
            ef_search: 128,
        }
    }

    /// Candidates explored per search: higher is slower and more exact.
    pub fn set_ef_search(&mut self, ef: usize) {
        self.ef_search = ef.max(1);
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds templates in parallel; slots continue from the current length. Templates of
    /// the wrong width are skipped.
    pub fn add_batch(&mut self, templates: &[Vec<f32>]) {
        let items: Vec<(&[f32], usize)> = templates
            .iter()
            .filter(|t| t.len() == DIM)
            .enumerate()
            .map(|(i, t)| (t.as_slice(), self.len + i))
            .collect();
        let n = items.len();
        self.graph.parallel_insert_slice(&items);
        self.len += n;
    }

    /// The `k` (approximately) best matches of a probe.
    pub fn search(&self, probe: &[f32], k: usize) -> Vec<Hit> {
        if probe.len() != DIM || k == 0 || self.len == 0 {
            return Vec::new();
        }
        self.graph
            .search(probe, k, self.ef_search.max(k))
            .into_iter()
            .map(|n| Hit {
                slot: n.d_id,
                score: 1.0 - n.distance,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(seed: u64) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut v: Vec<f32> = (0..DIM)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32) - 0.5
            })
            .collect();
        let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
        v.iter_mut().for_each(|a| *a /= n);
        v
    }

    #[test]
    fn exact_search_finds_the_template_itself_in_both_precisions() {
        for p in [Precision::F32, Precision::Int8] {
            let mut idx = ExactIndex::new(p);
            for i in 0..10_000 {
                idx.add(&unit(i)).unwrap();
            }
            for probe in [3u64, 4567, 9999] {
                let hits = idx.search(&unit(probe), 5, 2);
                assert_eq!(hits[0].slot, probe as usize, "{p:?}");
                assert!(
                    (hits[0].score - 1.0).abs() < 0.02,
                    "{p:?} {}",
                    hits[0].score
                );
                assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
            }
            assert!(idx.add(&[0.0; 3]).is_none());
            assert!(idx.search(&[0.0; 3], 5, 2).is_empty());
        }
    }

    #[cfg(feature = "approx-index")]
    #[test]
    fn approximate_search_agrees_with_exact_search() {
        // Like a real gallery: people (random directions), each with a few noisy templates.
        let noisy = |centre: &[f32], seed: u64| {
            let noise = unit(seed);
            let mut v: Vec<f32> = centre
                .iter()
                .zip(&noise)
                .map(|(c, n)| c + 0.6 * n)
                .collect();
            let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
            v.iter_mut().for_each(|a| *a /= n);
            v
        };
        let people: Vec<Vec<f32>> = (0..1_000).map(|p| unit(1_000_000 + p)).collect();
        let templates: Vec<Vec<f32>> = (0..5_000)
            .map(|i| noisy(&people[i % 1_000], i as u64))
            .collect();
        let mut exact = ExactIndex::new(Precision::F32);
        for t in &templates {
            exact.add(t).unwrap();
        }
        let mut approx = ApproxIndex::new(templates.len(), 16, 100);
        approx.add_batch(&templates);
        assert_eq!(approx.len(), 5_000);
        let mut found = 0;
        for probe in (0..100).map(|i| noisy(&people[(i * 7) as usize], 50_000 + i)) {
            let truth = exact.search(&probe, 1, 1)[0];
            let got = approx.search(&probe, 10);
            if got.iter().any(|h| h.slot == truth.slot) {
                found += 1;
            }
        }
        assert!(found >= 95, "recall@10 of the true nearest: {found}/100");
        // A stored template finds itself.
        assert_eq!(approx.search(&templates[42], 1)[0].slot, 42);
    }
}
