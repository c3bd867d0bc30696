#![allow(clippy::unwrap_used)]
//! The driver's-licence barcode path: AAMVA parsing across versions and sloppy real-world
//! layouts, and PDF417 drawn into synthetic card-back photos, decoded and parsed back.
//! The people are invented.
//!
//! Size (over 800 lines): AAMVA barcode specimens and edge cases, sharing one builder.

use chrono::NaiveDate;
use proptest::prelude::*;
use std::time::Instant;
use vouch_doc::aamva::{self, Aamva, AamvaError, Subfile};
use vouch_doc::barcode::{self, BarcodeError};
use vouch_face::Rgb;

/// Version 10 (2020 standard), Virginia, a DL subfile and a jurisdiction subfile.
const V10: &str = "@\n\x1e\rANSI 636000100102DL00410257ZV02980008DLDAQT64235789\nDCSPUBLIC\nDDEN\nDACJOHN\nDDFN\nDADQUINCY\nDDGN\nDCAD\nDCBNONE\nDCDNONE\nDBD06062019\nDBB07041976\nDBA07042027\nDBC1\nDAU069 in\nDAYBRO\nDAG123 MAIN STREET\nDAIRICHMOND\nDAJVA\nDAK232690000  \nDCF2424244747474786102204\nDCGUSA\nDCK123456789\nDDAF\nDDB06062018\nDDD1\rZVZVA01\r";

/// Version 9 (2016), California identity card, two middle names, a truncated one.
const V9_ID: &str = "@\n\x1e\rANSI 636014090002ID00410229ZC02700012IDDAQY1234567\nDCSDOE-SMITH\nDDEN\nDACJANE\nDDFN\nDADMARY,ELIZABETH\nDDGT\nDBD01152021\nDBB12311990\nDBA12312029\nDBC2\nDAU165 cm\nDAYGRN\nDAG1 OCEAN AVE\nDAHAPT 4\nDAISAN FRANCISCO\nDAJCA\nDAK941020000  \nDCF21011A1234567\nDCGUSA\nDDAF\nDDB04012020\rZCZCAAB\nZCB\r";

/// Version 8 (2013), Ontario: Canadian date order, "unavl" middle name.
const V8_CA: &str = "@\n\x1e\rANSI 636012080001DL00310211DLDCAG\nDCBX\nDCDNONE\nDBA20290315\nDCSTREMBLAY\nDACMARIE\nDADunavl\nDBD20240315\nDBB19850315\nDBC2\nDAYBLU\nDAU163 cm\nDAG100 QUEEN ST W\nDAITORONTO\nDAJON\nDAKM5H2N2  \nDAQT1234-56789-50315\nDCFAB1234567\nDCGCAN\nDDEN\nDDFN\nDDGU\r";

/// Version 3 (2005), Texas: given names in DCT.
const V3: &str = "@\n\x1e\rANSI 636015030001DL00310206DLDCAC\nDCBNONE\nDCDNONE\nDBA07042012\nDCSPUBLIC\nDCTJOHN,QUINCY\nDCUJR\nDBD07042006\nDBB07041976\nDBC1\nDAYBRO\nDAU070 IN\nDAG456 ELM ST\nDAIAUSTIN\nDAJTX\nDAK787010000\nDAQ12345678\nDCF00000000000000000000\nDCGUSA\nDCHNONE\r";

/// Version 1 (AAMVA DL/ID-2000), New York: no jurisdiction version, full name in DAA,
/// sex as a letter, dates CCYYMMDD.
const V1: &str = "@\n\x1e\rANSI 6360010101DL00290150DLDAQ123456789\nDAAPUBLIC,JOHN,Q\nDAG789 BROADWAY\nDAINEW YORK\nDAJNY\nDAK10003\nDARD\nDASNONE\nDATNONE\nDBA20080704\nDBB19760704\nDBCM\nDBD20030704\nDAU510\nDAYBR\r";

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

#[test]
fn version_10_us_licence() {
    let a = aamva::parse(V10).unwrap();
    assert_eq!(a.version, 10);
    assert_eq!(a.issuer_id, "636000");
    assert_eq!(a.jurisdiction_version, Some(1));
    assert_eq!(a.document_number, "T64235789");
    assert_eq!(a.surname, "PUBLIC");
    assert_eq!(a.given_names, "JOHN QUINCY");
    assert_eq!(a.date_of_birth, date(1976, 7, 4));
    assert_eq!(a.expiry_date, date(2027, 7, 4));
    assert_eq!(a.issue_date, date(2019, 6, 6));
    assert_eq!(a.sex, "M");
    assert_eq!(a.country, "USA");
    assert_eq!(a.jurisdiction.as_deref(), Some("VA"));
    let addr = a.address.as_ref().unwrap();
    assert_eq!(addr.street, "123 MAIN STREET");
    assert_eq!(addr.city, "RICHMOND");
    assert_eq!(addr.postal_code, "232690000");
    assert_eq!(a.document_type, "DL");
    assert_eq!(a.subfiles, ["DL", "ZV"]);
    assert!(a.truncated_names.is_empty());
    assert_eq!(a.fields["DAU"], "069 in");
    assert_eq!(a.fields["ZVA"], "01");
    assert_eq!(a.fields.len(), 27);
    assert!(a.problems.is_empty(), "{:?}", a.problems);
}

#[test]
fn version_9_identity_card_with_middle_names() {
    let a = aamva::parse(V9_ID).unwrap();
    assert_eq!(a.version, 9);
    assert_eq!(a.jurisdiction_version, Some(0));
    assert_eq!(a.document_type, "ID");
    assert_eq!(a.surname, "DOE-SMITH");
    assert_eq!(a.given_names, "JANE MARY ELIZABETH");
    assert_eq!(a.date_of_birth, date(1990, 12, 31));
    assert_eq!(a.sex, "F");
    assert_eq!(a.truncated_names, ["middleNames"]);
    assert_eq!(a.address.unwrap().street, "1 OCEAN AVE, APT 4");
    assert_eq!(a.fields["ZCA"], "AB");
    assert!(a.problems.is_empty(), "{:?}", a.problems);
}

#[test]
fn version_8_canadian_date_order() {
    let a = aamva::parse(V8_CA).unwrap();
    assert_eq!(a.version, 8);
    assert_eq!(a.country, "CAN");
    assert_eq!(a.jurisdiction.as_deref(), Some("ON"));
    assert_eq!(a.date_of_birth, date(1985, 3, 15));
    assert_eq!(a.expiry_date, date(2029, 3, 15));
    assert_eq!(a.issue_date, date(2024, 3, 15));
    assert_eq!(a.surname, "TREMBLAY");
    assert_eq!(a.given_names, "MARIE", "the unavl placeholder is no name");
    assert_eq!(a.document_number, "T1234-56789-50315");
    assert_eq!(a.address.unwrap().postal_code, "M5H2N2");
    assert!(a.problems.is_empty(), "{:?}", a.problems);
}

#[test]
fn canadian_dates_without_country_element_follow_the_issuer() {
    // 01022003 read CCYYMMDD is no date, read MMDDCCYY it is; 20030102 is a date only as
    // CCYYMMDD. An Ontario IIN without DCG prefers the Canadian order.
    let text = aamva::compose(
        "636012",
        8,
        Some(0),
        &[sub(
            "DL",
            &[
                ("DAQ", "X1"),
                ("DCS", "ROY"),
                ("DAC", "LUC"),
                ("DBB", "20030102"),
                ("DBA", "01022030"),
                ("DBC", "1"),
            ],
        )],
    );
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.country, "CAN");
    assert_eq!(a.date_of_birth, date(2003, 1, 2));
    assert_eq!(a.expiry_date, date(2030, 1, 2));
}

#[test]
fn version_3_given_names_in_dct() {
    let a = aamva::parse(V3).unwrap();
    assert_eq!(a.version, 3);
    assert_eq!(a.surname, "PUBLIC");
    assert_eq!(a.given_names, "JOHN QUINCY");
    assert_eq!(a.date_of_birth, date(1976, 7, 4));
    assert_eq!(a.expiry_date, date(2012, 7, 4));
    assert_eq!(a.fields["DCU"], "JR");
    assert!(a.problems.is_empty(), "{:?}", a.problems);
}

#[test]
fn version_1_full_name_and_letter_sex() {
    let a = aamva::parse(V1).unwrap();
    assert_eq!(a.version, 1);
    assert_eq!(a.jurisdiction_version, None);
    assert_eq!(a.issuer_id, "636001");
    assert_eq!(a.surname, "PUBLIC");
    assert_eq!(a.given_names, "JOHN Q");
    assert_eq!(a.sex, "M");
    assert_eq!(a.date_of_birth, date(1976, 7, 4));
    assert_eq!(a.expiry_date, date(2008, 7, 4));
    assert_eq!(a.country, "USA", "from the IIN: version 1 has no DCG");
    assert!(a.problems.is_empty(), "{:?}", a.problems);
}

#[test]
fn version_1_separate_name_elements_win_over_full_name() {
    let text = aamva::compose(
        "636020",
        1,
        None,
        &[sub(
            "DL",
            &[
                ("DAQ", "991234567"),
                ("DAA", "PUBLIC,JOHN,Q,JR"),
                ("DAB", "PUBLIC"),
                ("DAC", "JONATHAN"),
                ("DAD", "QUINCY"),
                ("DBB", "19760704"),
                ("DBC", "M"),
            ],
        )],
    );
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.surname, "PUBLIC");
    assert_eq!(a.given_names, "JONATHAN QUINCY");
}

#[test]
fn full_name_with_suffix_and_dollar_separators() {
    let text = aamva::compose(
        "636001",
        1,
        None,
        &[sub("DL", &[("DAQ", "1"), ("DAA", "PUBLIC$JOHN$Q$JR")])],
    );
    let a = aamva::parse(&text).unwrap();
    assert_eq!(
        (a.surname.as_str(), a.given_names.as_str()),
        ("PUBLIC", "JOHN Q")
    );
}

#[test]
fn version_0_aamva_file_type() {
    let text = aamva::compose(
        "636010",
        0,
        None,
        &[sub(
            "DL",
            &[
                ("DAQ", "P123456789012"),
                ("DAA", "PUBLIC,JANE"),
                ("DBB", "19800229"),
                ("DBC", "F"),
            ],
        )],
    );
    assert!(text.contains("AAMVA636010"));
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.version, 0);
    assert_eq!(a.date_of_birth, date(1980, 2, 29));
    assert_eq!(a.given_names, "JANE");
}

#[test]
fn wrong_offsets_are_tolerated() {
    // Offsets and lengths off by a few bytes, as some issuers write them.
    let sloppy = V10.replacen("DL00410257ZV02980008", "DL00390260ZV02990008", 1);
    let a = aamva::parse(&sloppy).unwrap();
    assert_eq!(a.document_number, "T64235789");
    assert_eq!(a.date_of_birth, date(1976, 7, 4));
    assert_eq!(a.fields["DDD"], "1");
    assert_eq!(a.fields["ZVA"], "01");
    assert!(
        a.problems.iter().any(|p| p.contains("not at the offset")),
        "{:?}",
        a.problems
    );
}

#[test]
fn crlf_separators() {
    let crlf = V10.replace('\n', "\r\n").replacen("@\r\n", "@\n", 1);
    let a = aamva::parse(&crlf).unwrap();
    assert_eq!(a.surname, "PUBLIC");
    assert_eq!(a.given_names, "JOHN QUINCY");
    assert_eq!(a.fields["DDD"], "1");
    assert_eq!(a.fields.get("ZVA").map(String::as_str), Some("01"));
    assert!(!a.fields.values().any(|v| v.contains('\r')));
}

#[test]
fn missing_compliance_line_and_jurisdiction_version() {
    // No "@\n\x1e\r", and a version 8 header without its jurisdiction version.
    let text = V8_CA
        .replacen("@\n\x1e\r", "", 1)
        .replacen("636012080001", "6360120801", 1);
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.version, 8);
    assert_eq!(a.jurisdiction_version, None);
    assert_eq!(a.surname, "TREMBLAY");
    assert!(a
        .problems
        .iter()
        .any(|p| p.contains("compliance indicator")));
    assert!(a
        .problems
        .iter()
        .any(|p| p.contains("jurisdiction version")));
}

#[test]
fn stray_prefix_and_missing_subfile_type() {
    // A scanner prefix before the header, and data that starts with an element instead of
    // the "DL" type.
    let text = format!("]L2{}", V3.replacen("DLDCAC", "DCAC", 1));
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.document_number, "12345678");
    assert_eq!(a.document_type, "DL");
    assert!(!a.problems.is_empty());
}

#[test]
fn latin1_bytes() {
    let text = aamva::compose(
        "604428",
        8,
        Some(0),
        &[sub(
            "DL",
            &[
                ("DAQ", "L1234-567890-12"),
                ("DCS", "BÉLANGER"),
                ("DAC", "FRANÇOIS"),
                ("DBB", "19700101"),
            ],
        )],
    );
    // The same text with Latin-1 letters, as PDF417 byte compaction carries them.
    let latin1: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    let a = aamva::parse_bytes(&latin1).unwrap();
    assert_eq!(a.surname, "BÉLANGER");
    assert_eq!(a.given_names, "FRANÇOIS");
    assert_eq!(a.country, "CAN", "Quebec's IIN");
    let b = aamva::parse(&text).unwrap();
    assert_eq!(b.given_names, "FRANÇOIS");
}

#[test]
fn placeholders_unreadable_values_and_missing_elements() {
    let text = aamva::compose(
        "636026",
        10,
        Some(0),
        &[sub(
            "DL",
            &[
                ("DCS", "NONE"),
                ("DAC", "JOHN"),
                ("DAD", "NONE"),
                ("DBB", "13451976"),
                ("DBA", "99999999"),
                ("DBC", "7"),
                ("DDE", "T"),
            ],
        )],
    );
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.surname, "");
    assert_eq!(a.given_names, "JOHN");
    assert_eq!(a.date_of_birth, None);
    assert_eq!(a.expiry_date, None);
    assert_eq!(a.issue_date, None);
    assert_eq!(a.sex, "");
    assert_eq!(a.truncated_names, ["surname"]);
    for expected in [
        "missing DAQ",
        "missing surname",
        "dateOfBirth unreadable",
        "expiryDate unreadable",
        "sex unreadable",
    ] {
        assert!(
            a.problems.iter().any(|p| p.contains(expected)),
            "{expected} not in {:?}",
            a.problems
        );
    }
}

#[test]
fn bad_inputs_are_clear_errors() {
    assert_eq!(aamva::parse(""), Err(AamvaError::Empty));
    assert_eq!(aamva::parse(" \n\r "), Err(AamvaError::Empty));
    assert_eq!(
        aamva::parse("P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"),
        Err(AamvaError::NotAamva)
    );
    assert!(matches!(
        aamva::parse("@\n\x1e\rANSI 63601"),
        Err(AamvaError::BadHeader(_))
    ));
    // A header and a jurisdiction subfile but no card data.
    let z_only = aamva::compose("636000", 10, Some(1), &[sub("ZV", &[("ZVA", "01")])]);
    assert_eq!(aamva::parse(&z_only), Err(AamvaError::NoCardData));
    let long = format!("{V10}{}", "X".repeat(aamva::MAX_INPUT));
    assert!(matches!(aamva::parse(&long), Err(AamvaError::TooLong(_))));
    // The message says what is wrong.
    assert!(AamvaError::NotAamva.to_string().contains("ANSI"));
}

#[test]
fn serializes_in_camel_case() {
    let a = aamva::parse(V10).unwrap();
    let json = serde_json::to_value(&a).unwrap();
    assert_eq!(json["documentNumber"], "T64235789");
    assert_eq!(json["dateOfBirth"], "1976-07-04");
    assert_eq!(json["issuerId"], "636000");
    assert_eq!(json["address"]["postalCode"], "232690000");
}

#[test]
fn compose_writes_consistent_offsets() {
    for text in [V10, V9_ID, V8_CA, V3, V1] {
        let a = aamva::parse(text).unwrap();
        assert!(a.problems.is_empty());
    }
    // Re-composing what was read gives the same text back.
    let a = aamva::parse(V10).unwrap();
    let dl: Vec<(&str, &str)> = [
        "DAQ", "DCS", "DDE", "DAC", "DDF", "DAD", "DDG", "DCA", "DCB", "DCD", "DBD", "DBB", "DBA",
        "DBC", "DAU", "DAY", "DAG", "DAI", "DAJ", "DAK", "DCF", "DCG", "DCK", "DDA", "DDB", "DDD",
    ]
    .iter()
    .map(|id| (*id, a.fields[*id].as_str()))
    .collect();
    let again = aamva::compose(
        "636000",
        10,
        Some(1),
        &[sub("DL", &dl), sub("ZV", &[("ZVA", "01")])],
    );
    assert_eq!(again, V10);
}

fn sub(kind: &str, elements: &[(&str, &str)]) -> Subfile {
    Subfile {
        kind: kind.into(),
        elements: elements
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect(),
    }
}

// ---- PDF417 in synthetic photos ----

/// A small deterministic generator for noise, so tests never depend on chance.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as u32
    }

    fn noise(&mut self, amplitude: i32) -> i32 {
        (self.next() % (2 * amplitude as u32 + 1)) as i32 - amplitude
    }
}

fn blank(width: u32, height: u32, value: u8) -> Rgb {
    Rgb {
        width,
        height,
        data: vec![value; width as usize * height as usize * 3],
    }
}

fn paste(dst: &mut Rgb, src: &Rgb, x0: u32, y0: u32) {
    for y in 0..src.height.min(dst.height.saturating_sub(y0)) {
        for x in 0..src.width.min(dst.width.saturating_sub(x0)) {
            let s = ((y * src.width + x) * 3) as usize;
            let d = (((y + y0) * dst.width + x + x0) * 3) as usize;
            dst.data[d..d + 3].copy_from_slice(&src.data[s..s + 3]);
        }
    }
}

/// A card back: a pale tinted card with dark "printed text" blocks, the barcode in its
/// lower part, lying on a darker table; then a soft blur and sensor noise.
fn card_photo(code: &Rgb, width: u32, height: u32, seed: u64) -> Rgb {
    let mut rng = Lcg(seed);
    let mut photo = blank(width, height, 0);
    for (i, p) in photo.data.chunks_exact_mut(3).enumerate() {
        let y = (i as u32 / width) as i32;
        let v = (70 + y * 30 / height as i32) as u8;
        p.copy_from_slice(&[v, v.saturating_sub(8), v.saturating_sub(15)]);
    }
    let card_w = (code.width + code.width / 6).min(width - 20);
    let card_h = (card_w * 54 / 86).min(height - 20);
    let (cx, cy) = (
        (width - card_w) / 3 + rng.next() % 17,
        (height - card_h) / 2 + rng.next() % 13,
    );
    let mut card = blank(card_w, card_h, 0);
    for p in card.data.chunks_exact_mut(3) {
        p.copy_from_slice(&[236, 232, 222]);
    }
    for line in 0..4 {
        let block = blank(card_w / 2 - line * card_w / 12, card_h / 30 + 2, 60);
        paste(
            &mut card,
            &block,
            card_w / 14,
            card_h / 16 + line * card_h / 14,
        );
    }
    paste(
        &mut card,
        code,
        (card_w - code.width.min(card_w)) / 2,
        card_h.saturating_sub(code.height + card_h / 14),
    );
    paste(&mut photo, &card, cx, cy);
    let mut out = blur(&photo);
    for v in out.data.iter_mut() {
        *v = (i32::from(*v) + rng.noise(14)).clamp(0, 255) as u8;
    }
    out
}

/// A 3×3 box blur, the softness of a phone camera.
fn blur(img: &Rgb) -> Rgb {
    let mut out = img.clone();
    let (w, h) = (img.width as i64, img.height as i64);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut sum = 0u32;
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        let (sx, sy) = ((x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1));
                        sum += u32::from(img.data[((sy * w + sx) * 3 + c) as usize]);
                    }
                }
                out.data[((y * w + x) * 3 + c) as usize] = (sum / 9) as u8;
            }
        }
    }
    out
}

/// Turns an image clockwise by 90 degrees.
fn rotate90(img: &Rgb) -> Rgb {
    let (w, h) = (img.width, img.height);
    let mut out = blank(h, w, 0);
    for y in 0..h {
        for x in 0..w {
            let s = ((y * w + x) * 3) as usize;
            let (nx, ny) = (h - 1 - y, x);
            let d = ((ny * h + nx) * 3) as usize;
            out.data[d..d + 3].copy_from_slice(&img.data[s..s + 3]);
        }
    }
    out
}

/// Turns an image clockwise by `deg` degrees about its centre (bilinear), on a canvas of
/// the same size; what comes in from outside is the table's grey.
fn tilt(img: &Rgb, deg: f32) -> Rgb {
    let (sin, cos) = deg.to_radians().sin_cos();
    let (w, h) = (img.width as f32, img.height as f32);
    let mut out = blank(img.width, img.height, 80);
    for y in 0..img.height {
        for x in 0..img.width {
            let (dx, dy) = (x as f32 - w / 2.0, y as f32 - h / 2.0);
            let (sx, sy) = (
                cos * dx + sin * dy + w / 2.0,
                -sin * dx + cos * dy + h / 2.0,
            );
            if sx < 0.0 || sy < 0.0 || sx >= w - 1.0 || sy >= h - 1.0 {
                continue;
            }
            let (x0, y0) = (sx as u32, sy as u32);
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            for c in 0..3 {
                let p = |xx: u32, yy: u32| {
                    f32::from(img.data[((yy * img.width + xx) * 3 + c) as usize])
                };
                let v = p(x0, y0) * (1.0 - fx) * (1.0 - fy)
                    + p(x0 + 1, y0) * fx * (1.0 - fy)
                    + p(x0, y0 + 1) * (1.0 - fx) * fy
                    + p(x0 + 1, y0 + 1) * fx * fy;
                out.data[((y * img.width + x) * 3 + c) as usize] = v as u8;
            }
        }
    }
    out
}

/// The difference of two angles in degrees, the short way round.
fn angle_diff(a: f32, b: f32) -> f32 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}

fn assert_same_card(text: &str, expected: &Aamva) {
    let got = aamva::parse(text).unwrap();
    assert_eq!(&got, expected);
}

#[test]
fn encode_rejects_bad_module_size() {
    assert_eq!(
        barcode::encode_pdf417("x", 0).err(),
        Some(BarcodeError::ModuleSize(0))
    );
    assert!(barcode::encode_pdf417(&"9".repeat(5000), 2).is_err());
}

#[test]
fn pdf417_card_photo_round_trip_in_four_orientations() {
    let expected = aamva::parse(V10).unwrap();
    let code = barcode::encode_pdf417(V10, 3).unwrap();
    assert!(code.width > code.height, "{}x{}", code.width, code.height);
    let mut photo = card_photo(&code, 1600, 1200, 7);
    for turn in [0u16, 90, 180, 270] {
        let started = Instant::now();
        let found = barcode::decode_pdf417(&photo)
            .unwrap_or_else(|| panic!("no barcode found turned by {turn}"));
        println!(
            "decode {}x{} turned {turn}: {:?}, bbox {:?}, angle {}",
            photo.width,
            photo.height,
            started.elapsed(),
            found.bbox,
            found.angle
        );
        assert_eq!(found.text, V10);
        assert_eq!(found.angle, f32::from(turn));
        assert!(found.corners.is_some());
        let [x0, y0, x1, y1] = found.bbox;
        assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= photo.width as f32 && y1 <= photo.height as f32);
        let (bw, bh) = (x1 - x0, y1 - y0);
        let long = code.width as f32 * 0.8;
        if turn % 180 == 0 {
            assert!(bw > long, "bbox {:?}", found.bbox);
        } else {
            assert!(bh > long, "bbox {:?}", found.bbox);
        }
        assert_same_card(&found.text, &expected);
        photo = rotate90(&photo);
    }
}

#[test]
fn pdf417_in_a_tilted_photo() {
    // Hand-held photos are rarely square to the card: the detector alone reads a tilt of
    // two or three degrees; decode_pdf417 straightens larger ones.
    let expected = aamva::parse(V9_ID).unwrap();
    let code = barcode::encode_pdf417(V9_ID, 3).unwrap();
    let photo = card_photo(&code, 1600, 1200, 21);
    for (deg, seed) in [(7.0f32, 1), (-12.0, 2), (185.0, 3)] {
        let tilted = tilt(&photo, deg);
        let started = Instant::now();
        let found = barcode::decode_pdf417(&tilted)
            .unwrap_or_else(|| panic!("no barcode found tilted by {deg} ({seed})"));
        println!(
            "decode 1600x1200 tilted {deg}: {:?}, angle {}",
            started.elapsed(),
            found.angle
        );
        assert_same_card(&found.text, &expected);
        assert!(
            angle_diff(found.angle, deg) < 2.0,
            "tilted {deg}, angle {}",
            found.angle
        );
        let corners = found.corners.unwrap();
        // The top edge runs along the tilt.
        let (dx, dy) = (corners[1].0 - corners[0].0, corners[1].1 - corners[0].1);
        let edge = dy.atan2(dx).to_degrees();
        assert!(
            angle_diff(edge, deg) < 2.0,
            "top edge at {edge}, tilted {deg}"
        );
    }
}

#[test]
fn pdf417_in_a_large_photo_and_small_modules() {
    // A 12-megapixel-class photo: decoded at its size or halved.
    let code = barcode::encode_pdf417(V8_CA, 6).unwrap();
    let photo = card_photo(&code, 3600, 2700, 11);
    let started = Instant::now();
    let found = barcode::decode_pdf417(&photo).unwrap();
    println!("decode 3600x2700: {:?}", started.elapsed());
    assert_eq!(found.text, V8_CA);
    // Two pixels a module in a 1600x1200 photo.
    let code = barcode::encode_pdf417(V3, 2).unwrap();
    let photo = card_photo(&code, 1600, 1200, 13);
    let started = Instant::now();
    let found = barcode::decode_pdf417(&photo).unwrap();
    println!("decode 1600x1200, 2 px modules: {:?}", started.elapsed());
    assert_eq!(found.text, V3);
}

#[test]
fn no_barcode_is_none() {
    let mut rng = Lcg(3);
    let mut photo = blank(1600, 1200, 128);
    for v in photo.data.iter_mut() {
        *v = (128 + rng.noise(60)) as u8;
    }
    let started = Instant::now();
    assert!(barcode::decode_pdf417(&photo).is_none());
    println!("decode 1600x1200, no barcode: {:?}", started.elapsed());
    assert!(barcode::decode_pdf417(&blank(0, 0, 0)).is_none());
    assert!(barcode::decode_pdf417(&blank(1, 1, 255)).is_none());
    let bad = Rgb {
        width: 10,
        height: 10,
        data: vec![0; 7],
    };
    assert!(barcode::decode_pdf417(&bad).is_none());
}

// ---- properties ----

/// Strings made of the pieces AAMVA data is made of, so the parser's deeper paths are
/// reached, not only the "not AAMVA" exit.
fn aamva_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("@".to_string()),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\u{1e}".to_string()),
        Just("ANSI ".to_string()),
        Just("AAMVA".to_string()),
        Just("DL".to_string()),
        Just("ID".to_string()),
        Just("ZV".to_string()),
        "[0-9]{1,12}",
        "D[A-Z]{2}[A-Z0-9 ,]{0,12}",
        "[A-Za-zÉç,$ ]{0,6}",
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// A valid card: name parts, dates, sex, country, version.
#[derive(Debug, Clone)]
struct Card {
    version: u8,
    canadian: bool,
    number: String,
    surname: String,
    first: String,
    middle: Vec<String>,
    birth: NaiveDate,
    expiry: NaiveDate,
    sex: u8,
    id_card: bool,
}

fn card() -> impl Strategy<Value = Card> {
    (
        (
            1u8..=10,
            any::<bool>(),
            "[A-Z0-9]{1,20}",
            "[A-Z][A-Z' -]{0,20}[A-Z]",
        ),
        (
            "[A-Z]{1,15}",
            proptest::collection::vec("[A-Z]{1,10}", 0..3),
        ),
        (
            0i64..60_000,
            0i64..20_000,
            prop_oneof![Just(1u8), Just(2), Just(9)],
        ),
        any::<bool>(),
    )
        .prop_filter(
            "names are never placeholders or suffixes",
            |(head, names, _, _)| {
                const RESERVED: [&str; 12] = [
                    "NONE", "UNAVL", "UNAVAIL", "JR", "SR", "I", "II", "III", "IV", "V", "VI",
                    "VII",
                ];
                let (first, middle) = names;
                std::iter::once(first.as_str())
                    .chain(middle.iter().map(String::as_str))
                    .chain(head.3.split(' '))
                    .all(|w| !RESERVED.contains(&w))
            },
        )
        .prop_map(
            |((version, canadian, number, surname), (first, middle), (b, e, sex), id_card)| {
                let base = NaiveDate::from_ymd_opt(1900, 1, 1).unwrap();
                Card {
                    version,
                    canadian,
                    number,
                    surname,
                    first,
                    middle,
                    birth: base + chrono::Duration::days(b),
                    expiry: base + chrono::Duration::days(40_000 + e),
                    sex,
                    id_card,
                }
            },
        )
}

/// Writes the card as its version would.
fn write(c: &Card) -> String {
    let fmt = if c.canadian { "%Y%m%d" } else { "%m%d%Y" };
    let mut el: Vec<(String, String)> = vec![("DAQ".into(), c.number.clone())];
    let given = std::iter::once(c.first.clone())
        .chain(c.middle.iter().cloned())
        .collect::<Vec<_>>();
    match c.version {
        1 => el.push(("DAA".into(), format!("{},{}", c.surname, given.join(",")))),
        2 | 3 => {
            el.push(("DCS".into(), c.surname.clone()));
            el.push(("DCT".into(), given.join(",")));
        }
        _ => {
            el.push(("DCS".into(), c.surname.clone()));
            el.push(("DAC".into(), c.first.clone()));
            let middle = if c.middle.is_empty() {
                "NONE".to_string()
            } else {
                c.middle.join(",")
            };
            el.push(("DAD".into(), middle));
        }
    }
    el.push(("DBB".into(), c.birth.format(fmt).to_string()));
    el.push(("DBA".into(), c.expiry.format(fmt).to_string()));
    el.push(("DBC".into(), c.sex.to_string()));
    if c.version >= 2 {
        el.push(("DCG".into(), if c.canadian { "CAN" } else { "USA" }.into()));
    }
    let iin = if c.canadian { "636028" } else { "636045" };
    let jv = (c.version >= 2).then_some(3);
    let kind = if c.id_card { "ID" } else { "DL" };
    aamva::compose(
        iin,
        c.version,
        jv,
        &[
            Subfile {
                kind: kind.into(),
                elements: el,
            },
            Subfile {
                kind: "ZW".into(),
                elements: vec![("ZWA".into(), "X".into())],
            },
        ],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_any_string(s in any::<String>()) {
        let _ = aamva::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_aamva_like_text(s in aamva_like()) {
        let _ = aamva::parse(&s);
        let _ = aamva::parse(&format!("@\n\u{1e}\rANSI 636000100102{s}"));
    }

    #[test]
    fn parse_bytes_never_panics(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = aamva::parse_bytes(&b);
        let mut framed = b"@\n\x1e\rANSI 6360141001".to_vec();
        framed.extend_from_slice(&b);
        let _ = aamva::parse_bytes(&framed);
    }

    #[test]
    fn generated_cards_round_trip(c in card()) {
        let text = write(&c);
        let a = aamva::parse(&text).unwrap();
        prop_assert!(a.problems.is_empty(), "{:?} in {:?}", a.problems, text);
        prop_assert_eq!(a.version, c.version);
        prop_assert_eq!(&a.document_number, &c.number);
        prop_assert_eq!(&a.surname, &c.surname.split_whitespace().collect::<Vec<_>>().join(" "));
        let given = std::iter::once(c.first.clone()).chain(c.middle.iter().cloned()).collect::<Vec<_>>();
        prop_assert_eq!(&a.given_names, &given.join(" "));
        prop_assert_eq!(a.date_of_birth, Some(c.birth));
        prop_assert_eq!(a.expiry_date, Some(c.expiry));
        prop_assert_eq!(a.sex.as_str(), ["", "M", "F"].get(usize::from(c.sex)).copied().unwrap_or("X"));
        prop_assert_eq!(a.country.as_str(), if c.canadian { "CAN" } else { "USA" });
        prop_assert_eq!(a.document_type.as_str(), if c.id_card { "ID" } else { "DL" });
        prop_assert_eq!(a.fields.get("ZWA").map(String::as_str), Some("X"));
    }
}

#[test]
fn line_break_after_subfile_type() {
    let text = V3.replacen("DLDCAC", "DL\nDCAC", 1);
    let a = aamva::parse(&text).unwrap();
    assert_eq!(a.document_number, "12345678");
    assert_eq!(a.fields["DCA"], "C");
    assert_eq!(a.fields["DCH"], "NONE");
}

#[test]
fn missing_mandatory_elements_are_problems_not_errors() {
    let text = aamva::compose(
        "636000",
        10,
        Some(0),
        &[sub("DL", &[("DAQ", "T1"), ("DCS", "PUBLIC"), ("ZVA", "1")])],
    );
    let a = aamva::parse(&text).unwrap();
    assert_eq!(
        a.fields["ZVA"], "1",
        "a jurisdiction element inside DL is kept"
    );
    for expected in ["missing DBB", "missing DBA", "missing DBC"] {
        assert!(
            a.problems.iter().any(|p| p.contains(expected)),
            "{expected} not in {:?}",
            a.problems
        );
    }
    assert!(!a.problems.iter().any(|p| p.contains("DBD")));
}

/// `passes` rounds of a 3×3 box blur (about a Gaussian of σ = 0.8·√passes).
fn box_blur(img: &Rgb, passes: usize) -> Rgb {
    let (w, h) = (img.width as usize, img.height as usize);
    let mut cur = img.data.clone();
    for _ in 0..passes {
        let mut next = cur.clone();
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                for c in 0..3 {
                    let mut s = 0u32;
                    for dy in 0..3 {
                        for dx in 0..3 {
                            s += u32::from(cur[((y + dy - 1) * w + x + dx - 1) * 3 + c]);
                        }
                    }
                    next[(y * w + x) * 3 + c] = (s / 9) as u8;
                }
            }
        }
        cur = next;
    }
    Rgb::new(img.width, img.height, cur).unwrap()
}

#[test]
fn pdf417_in_a_blurred_photo() {
    // A hand shake or a focus miss runs the bars into each other; an unsharp-masked copy
    // separates them again. (Without it neither of these reads.)
    for (module, passes) in [(2u32, 1usize), (3, 4)] {
        let code = barcode::encode_pdf417(V10, module).unwrap();
        let photo = card_photo(&code, 1600, 1200, 17);
        let blurred = box_blur(&photo, passes);
        let found = barcode::decode_pdf417(&blurred).unwrap_or_else(|| {
            panic!("no barcode found: {module} px modules, blurred by {passes} passes")
        });
        assert_eq!(found.text, V10);
    }
}
