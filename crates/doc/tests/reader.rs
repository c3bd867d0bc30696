//! The document reader on real specimen photos (`../shared/eval/documents`) and on
//! documents the project renders itself (`vouch-docsynth`: OCR-B MRZ, rotation,
//! perspective, blur, JPEG), plus hostile inputs. Models come from `VOUCH_MODELS_DIR` or
//! the repository's `models/` (filled by `scripts/fetch-models.sh`).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use chrono::NaiveDate;
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use vouch_doc::reader::{DocReader, DocumentRead, ReaderConfig, Verdict};
use vouch_face::{EngineConfig, FaceEngine};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shared(path: &str) -> PathBuf {
    repo().join("../shared/eval").join(path)
}

fn read_shared(path: &str) -> Vec<u8> {
    let p = shared(path);
    std::fs::read(&p).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the shared eval data sits beside the repository)",
            p.display()
        )
    })
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn reader() -> Arc<DocReader> {
    static READER: OnceLock<Arc<DocReader>> = OnceLock::new();
    READER
        .get_or_init(|| {
            let dir = std::env::var_os("VOUCH_MODELS_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo().join("models"));
            let cfg = EngineConfig::new(dir);
            let face = Arc::new(FaceEngine::load(cfg.clone()).expect("face models load"));
            let reader = DocReader::load(&cfg, ReaderConfig::default(), Some(face))
                .expect("OCR models load (run scripts/fetch-models.sh)");
            Arc::new(reader)
        })
        .clone()
}

fn field(out: &DocumentRead, name: &str) -> Value {
    serde_json::to_value(out).unwrap()[name].clone()
}

/// Every labelled field of `expected.json` comes back exactly, for every specimen.
#[test]
fn reads_the_icao_specimens_with_every_field_right() {
    let expected: serde_json::Map<String, Value> =
        serde_json::from_slice(&read_shared("documents/expected.json")).unwrap();
    let r = reader();
    for (file, want) in &expected {
        let out = r
            .read_bytes(
                &read_shared(&format!("documents/{file}")),
                None,
                day("2010-01-01"),
            )
            .unwrap();
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&field(&out, k), v, "{file}: {k} ({:?})", out.mrz);
        }
        assert!(out.ocr_confidence > 0.8, "{file}: {}", out.ocr_confidence);
        // Utopia (UTO) is ICAO's fictional specimen state: a real reader must not pass it
        // as a genuine issuer, and that is the only thing wrong with these documents.
        assert_eq!(out.result, Verdict::Review, "{file}: {:?}", out.reasons);
        assert_eq!(out.reasons, vec!["UNKNOWN_ISSUER"], "{file}");
        let p = out.portrait.as_ref().expect("the specimen has a portrait");
        // The portrait sits in the left third of the data page.
        assert!(
            p.bbox[0] < 450.0 && p.bbox[2] > 80.0,
            "{file}: {:?}",
            p.bbox
        );
        let vz = out.visual_zone.as_ref().unwrap();
        assert!(vz.lines > 3, "{file}: {vz:?}");
    }
}

/// The same specimen read in 2026: expired, so FAIL with the reason.
#[test]
fn an_expired_document_fails_with_the_reason() {
    let out = reader()
        .read_bytes(
            &read_shared("documents/passport-td3.jpg"),
            None,
            day("2026-11-22"),
        )
        .unwrap();
    assert_eq!(out.result, Verdict::Fail);
    assert!(
        out.reasons.contains(&"DOCUMENT_EXPIRED"),
        "{:?}",
        out.reasons
    );
    assert_eq!(out.age, Some(52));
}

/// The photo turned upside down and sideways still reads.
#[test]
fn reads_rotated_photos() {
    let img = image::load_from_memory(&read_shared("documents/passport-td3.png")).unwrap();
    for (name, turned) in [
        ("180", img.rotate180()),
        ("90", img.rotate90()),
        ("270", img.rotate270()),
    ] {
        let rgb = turned.to_rgb8();
        let rgb = vouch_face::Rgb::new(rgb.width(), rgb.height(), rgb.into_raw()).unwrap();
        let out = reader().read(&rgb, None, day("2010-01-01")).unwrap();
        assert_eq!(
            out.document_number.as_deref(),
            Some("L898902C3"),
            "rotated {name}"
        );
        assert_eq!(out.reasons, vec!["UNKNOWN_ISSUER"], "rotated {name}");
        assert!(out.mrz.unwrap().check_digits.iter().all(|c| c.valid), "rotated {name}");
    }
}

/// A photo with no document in it is UNREADABLE, not an error.
#[test]
fn a_face_photo_is_unreadable() {
    let out = reader()
        .read_bytes(&read_shared("faces/img1.jpg"), None, day("2026-11-22"))
        .unwrap();
    assert_eq!(out.result, Verdict::Fail);
    assert_eq!(out.reasons, vec!["UNREADABLE"]);
    assert!(out.format.is_none() && out.document_number.is_none());
}

/// Bytes that are not an image are refused with an error, not a verdict.
#[test]
fn garbage_is_an_error() {
    for bytes in [
        &b""[..],
        b"not an image",
        &[0xff, 0xd8, 0xff, 0xe0, 0, 16][..],
    ] {
        assert!(reader().read_bytes(bytes, None, day("2026-11-22")).is_err());
    }
}
