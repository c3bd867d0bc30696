//! Document engine benchmarks: MRZ parsing alone, and reading a 1600×1200 phone photo of
//! a passport (and of an ID card) end to end: decode, text detection, MRZ band, OCR,
//! parse, visual-zone cross-check and portrait. The photos are rendered by
//! `vouch-docsynth` (OCR-B MRZ, tilted, slight perspective, blur, noise, JPEG 85).
//! Run: `cargo bench -p vouch-doc --bench doc` (results: `bench/README.md`).

#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use vouch_doc::reader::{DocReader, ReaderConfig};
use vouch_docsynth::{render_one, CaptureSpec, DocKind, DocSpec};
use vouch_face::{EngineConfig, FaceEngine};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn mrz_benches(c: &mut Criterion) {
    let td3 = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
    ];
    let td1 = [
        "I<UTOD231458907<<<<<<<<<<<<<<<",
        "7408122F1204159UTO<<<<<<<<<<<6",
        "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    ];
    // As OCR gives it: O for 0 in a date, 0 for O in a country code, a filler short.
    let misread = [
        "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<",
        "L898902C36UT07408122F12O4159ZE184226B<<<<<10",
    ];
    c.bench_function("mrz/parse_td3", |b| {
        b.iter(|| vouch_doc::mrz::parse(&td3, today()).unwrap())
    });
    c.bench_function("mrz/parse_td1", |b| {
        b.iter(|| vouch_doc::mrz::parse(&td1, today()).unwrap())
    });
    c.bench_function("mrz/parse_td3_with_repairs", |b| {
        b.iter(|| vouch_doc::mrz::parse(&misread, today()).unwrap())
    });
}

fn phone_capture() -> CaptureSpec {
    CaptureSpec {
        rotation_deg: Some(6.0),
        scale: Some(0.6),
        perspective: Some(0.03),
        blur: Some(0.5),
        noise: Some(3.0),
        jpeg_quality: Some(85),
        frame: Some((1600, 1200)),
        glare: Some(false),
        brightness: Some(0.0),
        contrast: Some(1.0),
        uneven_light: Some(true),
    }
}

fn read_benches(c: &mut Criterion) {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let models = std::env::var_os("VOUCH_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("models"));
    let faces = repo.join("../shared/eval/faces");
    let cfg = EngineConfig::new(models);
    let face = Arc::new(FaceEngine::load(cfg.clone()).unwrap());
    let reader = DocReader::load(&cfg, ReaderConfig::default(), Some(face)).unwrap();
    // The MRZ alone, as PassportEye reads it: no visual zone, no portrait; with the fast
    // path and without it.
    let mrz_only = |fast_mrz| {
        let config = ReaderConfig {
            visual_zone: false,
            fast_mrz,
            ..ReaderConfig::default()
        };
        DocReader::load(&cfg, config, None).unwrap()
    };
    let (fast, neural) = (mrz_only(true), mrz_only(false));
    let mut group = c.benchmark_group("mrz_only");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(10));
    for (name, kind) in [
        ("passport_1600x1200", DocKind::Td3),
        ("id_card_1600x1200", DocKind::Td1),
    ] {
        let doc = render_one(&DocSpec::new(kind).capture(phone_capture()), &faces, 7).unwrap();
        for (path, r) in [("fast", &fast), ("neural", &neural)] {
            let first = r.read_bytes(&doc.jpeg, None, today()).unwrap();
            assert_eq!(
                first.mrz.as_ref().map(|m| m.reader),
                Some(path),
                "{name}: the {path} path must settle the benchmark photo"
            );
            group.bench_function(format!("{name}/{path}"), |b| {
                b.iter(|| r.read_bytes(&doc.jpeg, None, today()).unwrap())
            });
        }
    }
    group.finish();

    let mut group = c.benchmark_group("read");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(20));
    for (name, kind) in [
        ("passport_1600x1200", DocKind::Td3),
        ("id_card_1600x1200", DocKind::Td1),
    ] {
        let doc = render_one(&DocSpec::new(kind).capture(phone_capture()), &faces, 7).unwrap();
        let first = reader.read_bytes(&doc.jpeg, None, today()).unwrap();
        assert!(
            first
                .mrz
                .as_ref()
                .is_some_and(|m| m.check_digits.iter().all(|c| c.valid)),
            "{name}: the benchmark photo must read ({:?})",
            first.mrz
        );
        eprintln!("{name}: timings of one read {:?}", first.timings);
        group.bench_function(name, |b| {
            b.iter(|| reader.read_bytes(&doc.jpeg, None, today()).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, mrz_benches, read_benches);
criterion_main!(benches);
