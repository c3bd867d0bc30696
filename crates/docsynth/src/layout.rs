//! Page layouts: where each kind of document prints its portrait, visual zone and MRZ or
//! barcode. Sizes follow ICAO 9303 (MRZ pitch, line spacing, bottom band) and the AAMVA card.

use image::RgbImage;
use rand::Rng;

use crate::document::{DocKind, Document};
use crate::fonts::Fonts;
use crate::identity::country_name;
use crate::page::{lerp, BoxMm, Color, MrzPrint, Page, MRZ_PITCH_MM};

const INK: Color = [22, 22, 30];
const RED: Color = [170, 25, 30];

/// A look for one document: background, accent and label colours.
struct Palette {
    base: Color,
    tint: Color,
    lines: Color,
    accent: Color,
    label: Color,
}

fn palette<R: Rng>(rng: &mut R) -> Palette {
    let accents: [Color; 6] = [
        [120, 20, 40],
        [20, 40, 110],
        [20, 85, 60],
        [15, 90, 110],
        [90, 40, 110],
        [110, 70, 20],
    ];
    let accent = accents[rng.gen_range(0..accents.len())];
    let light = |c: Color, t: f32| lerp(c, [255, 255, 255], t);
    Palette {
        base: light(accent, rng.gen_range(0.88..0.95)),
        tint: light(
            [
                rng.gen_range(120..255),
                rng.gen_range(120..255),
                rng.gen_range(120..255),
            ],
            0.85,
        ),
        lines: light(accent, 0.45),
        accent,
        label: lerp(accent, [60, 60, 70], 0.5),
    }
}

struct Sizes {
    label: f32,
    value: f32,
    gap: f32,
}

/// Fonts, colours and sizes of one document's visual zone.
struct Pen<'a> {
    fonts: &'a Fonts,
    pal: &'a Palette,
    s: &'a Sizes,
}

impl Pen<'_> {
    /// Label over value, the visual-zone unit of most documents.
    fn field(&self, page: &mut Page, x: f32, label_base: f32, label: &str, value: &str) {
        let (f, s) = (self.fonts, self.s);
        page.text(&f.sans, x, label_base, s.label, self.pal.label, label);
        page.text(&f.sans_bold, x, label_base + s.gap, s.value, INK, value);
    }
}

fn right(page: &mut Page, fonts: &Fonts, right_x: f32, base: f32, cap: f32, c: Color, text: &str) {
    let w = page.text_width(&fonts.sans, cap, text);
    page.text(&fonts.sans, right_x - w, base, cap, c, text);
}

/// A scribbled signature inside `r`.
fn signature<R: Rng>(page: &mut Page, rng: &mut R, r: BoxMm) {
    let k1 = rng.gen_range(2.0..5.0f32);
    let k2 = rng.gen_range(5.0..11.0f32);
    let ph = rng.gen_range(0.0..6.0f32);
    let steps = 400;
    for i in 0..steps {
        let t = i as f32 / steps as f32;
        let x = r.x + t * r.w;
        let y = r.y
            + r.h
                * (0.5
                    + 0.3 * (t * k1 * std::f32::consts::TAU + ph).sin()
                    + 0.15 * (t * k2 * std::f32::consts::TAU).cos());
        page.fill_rect(BoxMm::new(x, y, 0.35, 0.35), [20, 30, 90], 0.9);
    }
}

/// Lightens the band under the MRZ, which documents keep free of dense print.
fn mrz_band(page: &mut Page, top: f32) {
    let (w, h) = (page.w_mm, page.h_mm);
    page.fill_rect(BoxMm::new(0.0, top, w, h - top), [250, 250, 248], 0.55);
}

fn centred_mrz_left(width_mm: f32, chars: usize) -> f32 {
    (width_mm - chars as f32 * MRZ_PITCH_MM) / 2.0
}

/// Draws the front of `doc` at `ppm` pixels per mm; returns the page and the portrait box.
pub fn front<R: Rng>(
    doc: &Document,
    fonts: &Fonts,
    face: &RgbImage,
    ppm: f32,
    rng: &mut R,
) -> (Page, BoxMm) {
    let (w, h, corner) = doc.kind.size_mm();
    let mut page = Page::new(w, h, ppm, corner);
    let pal = palette(rng);
    let rosette = (w * rng.gen_range(0.55..0.85), h * rng.gen_range(0.3..0.6));
    page.security_background(rng, pal.base, pal.tint, pal.lines, rosette);
    let grey = rng.gen_bool(0.3);
    let print = MrzPrint::sample(rng);
    let date = |d| doc.date_style.format(d);
    let p = &doc.person;
    let sex = p.sex.letter().to_string();
    let country = country_name(&doc.issuing_country).to_string();
    let nationality = country_name(&p.nationality).to_string();
    let portrait;
    match doc.kind {
        DocKind::Td3 | DocKind::Td3NoFiller => {
            let s = Sizes {
                label: 1.15,
                value: 2.0,
                gap: 3.5,
            };
            let pen = Pen {
                fonts,
                pal: &pal,
                s: &s,
            };
            page.text(&fonts.sans_bold, 6.0, 7.0, 2.8, pal.accent, "PASSPORT");
            page.text(&fonts.sans, 34.0, 7.0, 2.0, pal.accent, "PASSEPORT");
            right(&mut page, fonts, w - 5.0, 7.0, 2.1, pal.accent, &country);
            page.fill_rect(BoxMm::new(5.0, 9.2, w - 10.0, 0.3), pal.accent, 0.8);
            portrait = BoxMm::new(6.0, 14.0, 32.0, 41.0);
            page.portrait(face, portrait, grey);
            let code = doc
                .mrz
                .as_ref()
                .map_or("P".to_string(), |(f, _)| f.document_code.clone());
            let x = 44.0;
            pen.field(&mut page, x, 14.0, "Type/Type", &code);
            pen.field(&mut page, 62.0, 14.0, "Code/Code", &doc.issuing_country);
            pen.field(
                &mut page,
                84.0,
                14.0,
                "Passport No./No. du passeport",
                &doc.number,
            );
            pen.field(&mut page, x, 21.5, "Surname/Nom", &p.surname);
            pen.field(&mut page, x, 29.0, "Given names/Prénoms", &p.given_names);
            pen.field(&mut page, x, 36.5, "Nationality/Nationalité", &nationality);
            pen.field(
                &mut page,
                x,
                44.0,
                "Date of birth/Date de naissance",
                &date(p.birth),
            );
            pen.field(&mut page, 92.0, 44.0, "Sex/Sexe", &sex);
            pen.field(
                &mut page,
                x,
                51.5,
                "Date of issue/Date de délivrance",
                &date(doc.issue),
            );
            pen.field(
                &mut page,
                92.0,
                51.5,
                "Authority/Autorité",
                &doc.issuing_country,
            );
            pen.field(
                &mut page,
                x,
                59.0,
                "Date of expiry/Date d'expiration",
                &date(doc.expiry),
            );
            if let Some((f, _)) = &doc.mrz {
                if !f.optional.is_empty() {
                    pen.field(
                        &mut page,
                        92.0,
                        59.0,
                        "Personal No./No. personnel",
                        &f.optional,
                    );
                }
            }
            page.text(
                &fonts.sans,
                6.0,
                59.5,
                1.0,
                pal.label,
                "Holder's signature/Signature du titulaire",
            );
            signature(&mut page, rng, BoxMm::new(7.0, 61.0, 28.0, 6.0));
            mrz_band(&mut page, 72.0);
            if let Some((_, lines)) = &doc.mrz {
                page.mrz(&fonts.ocrb, print, lines, 6.0, 83.0, INK);
            }
        }
        DocKind::Td1 => {
            let s = Sizes {
                label: 0.85,
                value: 1.55,
                gap: 2.7,
            };
            let pen = Pen {
                fonts,
                pal: &pal,
                s: &s,
            };
            page.text(&fonts.sans_bold, 4.0, 5.2, 1.9, pal.accent, "IDENTITY CARD");
            right(&mut page, fonts, w - 4.0, 5.2, 1.3, pal.accent, &country);
            portrait = BoxMm::new(4.0, 8.5, 20.0, 26.0);
            page.portrait(face, portrait, grey);
            let x = 27.0;
            pen.field(&mut page, x, 9.8, "Surname", &p.surname);
            pen.field(&mut page, x, 15.6, "Given names", &p.given_names);
            pen.field(&mut page, x, 21.4, "Sex", &sex);
            pen.field(&mut page, 37.0, 21.4, "Nationality", &p.nationality);
            pen.field(&mut page, 56.0, 21.4, "Date of birth", &date(p.birth));
            pen.field(&mut page, x, 27.2, "Document No.", &doc.number);
            pen.field(&mut page, 56.0, 27.2, "Date of expiry", &date(doc.expiry));
            signature(&mut page, rng, BoxMm::new(56.0, 31.5, 20.0, 4.0));
            mrz_band(&mut page, 37.5);
            if let Some((_, lines)) = &doc.mrz {
                page.mrz(
                    &fonts.ocrb,
                    print,
                    lines,
                    centred_mrz_left(w, 30),
                    50.6,
                    INK,
                );
            }
        }
        DocKind::Td2 => {
            let s = Sizes {
                label: 1.0,
                value: 1.8,
                gap: 3.1,
            };
            let pen = Pen {
                fonts,
                pal: &pal,
                s: &s,
            };
            page.text(&fonts.sans_bold, 5.0, 6.5, 2.3, pal.accent, "IDENTITY CARD");
            right(&mut page, fonts, w - 5.0, 6.5, 1.6, pal.accent, &country);
            portrait = BoxMm::new(5.0, 11.0, 26.0, 34.0);
            page.portrait(face, portrait, grey);
            let x = 35.0;
            pen.field(&mut page, x, 12.5, "Surname/Nom", &p.surname);
            pen.field(&mut page, x, 19.5, "Given names/Prénoms", &p.given_names);
            pen.field(&mut page, x, 26.5, "Nationality", &nationality);
            pen.field(&mut page, x, 33.5, "Date of birth", &date(p.birth));
            pen.field(&mut page, 78.0, 33.5, "Sex", &sex);
            pen.field(&mut page, x, 40.5, "Document No.", &doc.number);
            pen.field(&mut page, x, 47.5, "Date of expiry", &date(doc.expiry));
            pen.field(&mut page, 72.0, 47.5, "Date of issue", &date(doc.issue));
            signature(&mut page, rng, BoxMm::new(6.0, 48.0, 24.0, 5.0));
            mrz_band(&mut page, 58.0);
            if let Some((_, lines)) = &doc.mrz {
                page.mrz(
                    &fonts.ocrb,
                    print,
                    lines,
                    centred_mrz_left(w, 36),
                    69.0,
                    INK,
                );
            }
        }
        DocKind::MrvA | DocKind::MrvB => {
            let big = doc.kind == DocKind::MrvA;
            let s = if big {
                Sizes {
                    label: 1.1,
                    value: 1.9,
                    gap: 3.3,
                }
            } else {
                Sizes {
                    label: 1.0,
                    value: 1.7,
                    gap: 3.0,
                }
            };
            let pen = Pen {
                fonts,
                pal: &pal,
                s: &s,
            };
            page.text(&fonts.sans_bold, 5.0, 8.0, 3.6, pal.accent, "VISA");
            page.text(&fonts.sans, 24.0, 8.0, 1.6, pal.accent, &country);
            portrait = if big {
                BoxMm::new(5.0, 13.0, 28.0, 36.0)
            } else {
                BoxMm::new(5.0, 12.0, 24.0, 31.0)
            };
            page.portrait(face, portrait, grey);
            let x = if big { 38.0 } else { 33.0 };
            let x2 = if big { 80.0 } else { 70.0 };
            let mut y = 13.5;
            let step = if big { 7.0 } else { 6.4 };
            let mut row = |page: &mut Page, a: (&str, &str), b: Option<(&str, &str)>| {
                pen.field(page, x, y, a.0, a.1);
                if let Some(b) = b {
                    pen.field(page, x2, y, b.0, b.1);
                }
                y += step;
            };
            let entries = ["1", "2", "MULT"][(doc.number.len() + p.surname.len()) % 3];
            row(
                &mut page,
                ("Valid from", &date(doc.issue)),
                Some(("Until", &date(doc.expiry))),
            );
            row(
                &mut page,
                ("Visa No.", &doc.number),
                Some(("Entries", entries)),
            );
            row(&mut page, ("Surname", &p.surname), None);
            row(&mut page, ("Given names", &p.given_names), None);
            row(
                &mut page,
                ("Nationality", &p.nationality),
                Some(("Sex", &sex)),
            );
            row(&mut page, ("Date of birth", &date(p.birth)), None);
            let band = if big { 64.0 } else { 58.0 };
            mrz_band(&mut page, band);
            if let Some((f, lines)) = &doc.mrz {
                let base = if big { 75.0 } else { 69.0 };
                page.mrz(
                    &fonts.ocrb,
                    print,
                    lines,
                    centred_mrz_left(w, f.format.line_len()),
                    base,
                    INK,
                );
            }
        }
        DocKind::DriversLicence => {
            let s = Sizes {
                label: 0.8,
                value: 1.5,
                gap: 0.0,
            };
            let l = doc.licence.as_ref();
            page.fill_rect(BoxMm::new(0.0, 0.0, w, 9.0), pal.accent, 0.9);
            let state = l.map_or("", |l| l.state_name());
            page.text(&fonts.sans_bold, 4.0, 6.2, 2.6, [255, 255, 255], state);
            right(
                &mut page,
                fonts,
                w - 4.0,
                4.2,
                1.2,
                [255, 255, 255],
                "DRIVER LICENSE",
            );
            right(&mut page, fonts, w - 4.0, 7.2, 1.0, [255, 255, 255], "USA");
            portrait = BoxMm::new(3.5, 12.0, 23.0, 30.0);
            page.portrait(face, portrait, grey);
            let x = 29.0;
            let kv = |page: &mut Page, x: f32, y: f32, k: &str, v: &str, c: Color| {
                let end = page.text(&fonts.sans, x, y, s.label, pal.label, k);
                page.text(&fonts.sans_bold, end + 1.0, y, s.value, c, v);
            };
            kv(&mut page, x, 13.5, "DL", &doc.number, RED);
            kv(&mut page, x, 17.8, "EXP", &date(doc.expiry), RED);
            kv(&mut page, x, 22.3, "LN", &p.surname, INK);
            kv(&mut page, x, 26.3, "FN", &p.given_names, INK);
            if let Some(l) = l {
                page.text(&fonts.sans, x, 30.0, 1.3, INK, &l.street);
                page.text(
                    &fonts.sans,
                    x,
                    32.8,
                    1.3,
                    INK,
                    &format!("{}, {} {}", l.city, l.state_code(), &l.postal_code[..5]),
                );
            }
            kv(&mut page, x, 37.3, "DOB", &date(p.birth), RED);
            kv(&mut page, x, 41.5, "SEX", &sex, INK);
            if let Some(l) = l {
                kv(
                    &mut page,
                    42.0,
                    41.5,
                    "HGT",
                    &format!("{}'-{:02}\"", l.height_in / 12, l.height_in % 12),
                    INK,
                );
                kv(&mut page, 60.0, 41.5, "EYES", l.eyes, INK);
                kv(&mut page, x, 45.5, "CLASS", "C", INK);
                kv(&mut page, 50.0, 45.5, "ISS", &date(l.issue), INK);
            }
            signature(&mut page, rng, BoxMm::new(4.0, 44.0, 22.0, 5.0));
        }
    }
    (page, portrait)
}

/// Draws the back of a driver's licence: the AAMVA record as a PDF417 symbol.
pub fn licence_back<R: Rng>(
    doc: &Document,
    fonts: &Fonts,
    barcode: &[Vec<bool>],
    ppm: f32,
    rng: &mut R,
) -> Page {
    let (w, h, corner) = doc.kind.size_mm();
    let mut page = Page::new(w, h, ppm, corner);
    let pal = palette(rng);
    page.security_background(
        rng,
        lerp(pal.base, [255, 255, 255], 0.4),
        pal.tint,
        lerp(pal.lines, [255, 255, 255], 0.4),
        (w * 0.7, h * 0.3),
    );
    let (cols, rows) = (
        barcode.first().map_or(1, |r| r.len()) as f32,
        barcode.len() as f32,
    );
    // Rows three modules tall, as AAMVA asks; as wide as fits in 76 × 34 mm.
    let module = (76.0 / cols).min(34.0 / (rows * 3.0));
    let (bw, bh) = (cols * module, rows * module * 3.0);
    let (x0, y0) = ((w - bw) / 2.0, 6.0 + (34.0 - bh) / 2.0);
    page.fill_rect(
        BoxMm::new(x0 - 2.5, y0 - 2.0, bw + 5.0, bh + 4.0),
        [255, 255, 255],
        1.0,
    );
    for (r, row) in barcode.iter().enumerate() {
        let mut c = 0;
        while c < row.len() {
            if row[c] {
                let start = c;
                while c < row.len() && row[c] {
                    c += 1;
                }
                let rect = BoxMm::new(
                    x0 + start as f32 * module,
                    y0 + r as f32 * module * 3.0,
                    (c - start) as f32 * module,
                    module * 3.0,
                );
                page.fill_rect(rect, [0, 0, 0], 1.0);
            } else {
                c += 1;
            }
        }
    }
    let state = doc.licence.as_ref().map_or("", |l| l.state_name());
    page.text(
        &fonts.sans,
        4.0,
        h - 8.0,
        1.0,
        INK,
        &format!("This license is issued by the State of {state}"),
    );
    page.text(
        &fonts.sans,
        4.0,
        h - 5.5,
        1.0,
        INK,
        "and remains its property. If found, return to any office.",
    );
    page.text(
        &fonts.sans_bold,
        4.0,
        h - 2.8,
        1.1,
        INK,
        &format!("DL {}", doc.number),
    );
    page
}
