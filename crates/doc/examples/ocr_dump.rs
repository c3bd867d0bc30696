//! Prints the text lines the OCR finds in images (a debugging aid).
#![allow(clippy::unwrap_used)]
use vouch_doc::ocr::{Alphabet, Ocr, OcrConfig};
use vouch_face::{decode, DecodeLimits, EngineConfig};

fn main() {
    let engine = EngineConfig::new("models");
    let side: usize = std::env::var("SIDE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(960);
    let mw: usize = std::env::var("MAXW")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1600);
    let ocr = Ocr::load(
        &engine,
        OcrConfig {
            det_side: side,
            max_rec_width: mw,
            ..OcrConfig::default()
        },
        1,
    )
    .unwrap();
    for f in std::env::args().skip(1) {
        let img = decode(&std::fs::read(&f).unwrap(), &DecodeLimits::default()).unwrap();
        let t = std::time::Instant::now();
        let boxes = ocr.detect(&img, None).unwrap();
        let td = t.elapsed();
        let long: Vec<_> = boxes
            .iter()
            .filter(|b| b.rect.w / b.rect.h > 10.0)
            .map(|b| b.rect)
            .collect();
        let t = std::time::Instant::now();
        let up = ocr.upside_down(&img, &long).unwrap();
        let tc = t.elapsed();
        let t = std::time::Instant::now();
        let texts = ocr.recognize(&img, &long, Alphabet::Mrz).unwrap();
        let tr = t.elapsed();
        println!(
            "{f}: {} boxes, {} long; det {td:?} cls {tc:?} rec {tr:?}",
            boxes.len(),
            long.len()
        );
        for ((r, t), u) in long.iter().zip(&texts).zip(&up) {
            println!(
                "  [{:.0},{:.0} {:.0}x{:.0} {:.2}] up={u:.2} {:.3} {}",
                r.cx, r.cy, r.w, r.h, r.angle, t.confidence, t.text
            );
        }
    }
}
