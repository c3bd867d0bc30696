//! Face engine benchmarks: the full pipeline on a 480×640 camera photo, embedding and
//! liveness alone, and 1:N search over 100k and 1M templates. Results go to `bench/`.
//! Run: `VOUCH_MODELS_DIR=models cargo bench -p vouch-face`.

#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::time::{Duration, Instant};
#[cfg(feature = "approx-index")]
use vouch_face::index::ApproxIndex;
use vouch_face::index::{ExactIndex, Precision, DIM};
use vouch_face::{align, EngineConfig, FaceEngine};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn random_unit(seed: &mut u64) -> Vec<f32> {
    let mut v: Vec<f32> = (0..DIM)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

fn engine_benches(c: &mut Criterion) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = std::env::var_os("VOUCH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("models"));
    let before = rss_mb();
    let started = Instant::now();
    let mut cfg = EngineConfig::new(dir);
    cfg.workers = 1;
    cfg.intra_threads = 1;
    let engine = FaceEngine::load(cfg).unwrap();
    eprintln!(
        "models loaded in {:.0} ms; resident memory {:.0} MB (before {:.0} MB)",
        started.elapsed().as_secs_f64() * 1000.0,
        rss_mb(),
        before
    );
    let photo = std::fs::read(repo.join("../shared/eval/liveness/image_T1.jpg")).unwrap();
    let img = engine.decode(&photo).unwrap();
    assert_eq!((img.width, img.height), (480, 640));
    let face = engine.detect(&img).unwrap().remove(0);
    let crop = align(&img, &face, 112);

    let mut g = c.benchmark_group("face");
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("pipeline_decode_detect_align_embed_480x640", |b| {
        b.iter(|| {
            let img = engine.decode(&photo).unwrap();
            engine.primary_face(&img).unwrap()
        })
    });
    g.bench_function("decode_480x640_jpeg", |b| {
        b.iter(|| engine.decode(&photo).unwrap())
    });
    g.bench_function("detect_480x640", |b| {
        b.iter(|| engine.detect(&img).unwrap())
    });
    g.bench_function("embed_aligned", |b| {
        b.iter(|| engine.embed_aligned(std::slice::from_ref(&crop)).unwrap())
    });
    g.bench_function("liveness", |b| {
        b.iter(|| engine.liveness(&img, &face).unwrap())
    });
    g.finish();
    eprintln!(
        "resident memory after the engine benches: {:.0} MB",
        rss_mb()
    );
}

fn index_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("index");
    g.sample_size(20);
    let mut seed = 7u64;
    let probe = random_unit(&mut seed);
    for (n, precision) in [
        (100_000, Precision::F32),
        (1_000_000, Precision::F32),
        (1_000_000, Precision::Int8),
    ] {
        let mut idx = ExactIndex::new(precision);
        for _ in 0..n {
            idx.add(&random_unit(&mut seed)).unwrap();
        }
        eprintln!(
            "{n} templates {precision:?}: {:.0} MB",
            idx.memory_bytes() as f64 / 1e6
        );
        g.bench_function(format!("exact_{n}_{precision:?}_2threads"), |b| {
            b.iter(|| idx.search(&probe, 10, 2))
        });
    }
    g.finish();
}

#[cfg(feature = "approx-index")]
fn noisy(centre: &[f32], seed: &mut u64) -> Vec<f32> {
    let noise = random_unit(seed);
    let mut v: Vec<f32> = centre
        .iter()
        .zip(&noise)
        .map(|(c, n)| c + 0.6 * n)
        .collect();
    let n = v.iter().map(|a| a * a).sum::<f32>().sqrt();
    v.iter_mut().for_each(|a| *a /= n);
    v
}

/// HNSW over a gallery shaped like a real one (people × noisy templates), with recall@10
/// of the exact best match. Size from VOUCH_BENCH_APPROX_N (default 1,000,000). Needs
/// `--features vouch-face/approx-index`.
#[cfg(not(feature = "approx-index"))]
fn approx_benches(_: &mut Criterion) {
    eprintln!("index/hnsw skipped: build with --features vouch-face/approx-index");
}

/// HNSW over a gallery shaped like a real one (people × noisy templates), with recall@10
/// of the exact best match. Size from VOUCH_BENCH_APPROX_N (default 1,000,000).
#[cfg(feature = "approx-index")]
fn approx_benches(c: &mut Criterion) {
    let n: usize = std::env::var("VOUCH_BENCH_APPROX_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut seed = 11u64;
    let people: Vec<Vec<f32>> = (0..n / 5).map(|_| random_unit(&mut seed)).collect();
    let templates: Vec<Vec<f32>> = (0..n)
        .map(|i| noisy(&people[i % people.len()], &mut seed))
        .collect();
    let mut exact = ExactIndex::new(Precision::F32);
    for t in &templates {
        exact.add(t).unwrap();
    }
    let started = Instant::now();
    let mut approx = ApproxIndex::new(n, 16, 100);
    for chunk in templates.chunks(100_000) {
        approx.add_batch(chunk);
        eprintln!(
            "hnsw: {} of {n} inserted after {:.0} s",
            approx.len(),
            started.elapsed().as_secs_f64()
        );
    }
    let probes: Vec<Vec<f32>> = (0..200)
        .map(|i| noisy(&people[(i * 37) % people.len()], &mut seed))
        .collect();
    for ef in [64, 128] {
        approx.set_ef_search(ef);
        let hits = probes
            .iter()
            .filter(|p| {
                let truth = exact.search(p, 1, 2)[0].slot;
                approx.search(p, 10).iter().any(|h| h.slot == truth)
            })
            .count();
        eprintln!(
            "hnsw {n} templates, ef_search {ef}: recall@10 of the exact best match {:.3}",
            hits as f64 / probes.len() as f64
        );
    }
    approx.set_ef_search(64);
    let mut g = c.benchmark_group("index");
    g.sample_size(50);
    let mut i = 0;
    g.bench_function(format!("hnsw_{n}_ef64"), |b| {
        b.iter(|| {
            i = (i + 1) % probes.len();
            approx.search(&probes[i], 10)
        })
    });
    g.finish();
}

criterion_group!(benches, engine_benches, index_benches, approx_benches);
criterion_main!(benches);
