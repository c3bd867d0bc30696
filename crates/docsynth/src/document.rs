//! What a document says: the kinds rendered, the invented holder and numbers drawn for one
//! document, and its labels as written to `expected.json`.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Map, Value};

use crate::aamva::{Licence, STATES};
use crate::identity::{
    self, add_years, country, date_between, digits, document_number, mixed, ymd, Person, Sex,
};
use crate::mrz::{self, MrzFields, MrzFormat};

/// The kinds of document rendered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DocKind {
    /// Passport data page, TD3 MRZ.
    #[default]
    Td3,
    /// Passport whose second MRZ line has no filler: nine-character number, three-letter
    /// nationality, M/F, and a fourteen-character personal number.
    Td3NoFiller,
    /// ID card, TD1 (85.6 × 54 mm), three-line MRZ along the bottom edge.
    Td1,
    /// ID card, TD2 (105 × 74 mm).
    Td2,
    /// Full-size visa (120 × 80 mm).
    MrvA,
    /// Small visa (105 × 74 mm).
    MrvB,
    /// US driver's licence: a front with the portrait and a back with an AAMVA PDF417.
    DriversLicence,
}

impl DocKind {
    /// Every kind, in a stable order.
    pub const ALL: [DocKind; 7] = [
        DocKind::Td3,
        DocKind::Td3NoFiller,
        DocKind::Td1,
        DocKind::Td2,
        DocKind::MrvA,
        DocKind::MrvB,
        DocKind::DriversLicence,
    ];

    /// Short name used in file names and on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            DocKind::Td3 => "td3",
            DocKind::Td3NoFiller => "td3-nofiller",
            DocKind::Td1 => "td1",
            DocKind::Td2 => "td2",
            DocKind::MrvA => "mrva",
            DocKind::MrvB => "mrvb",
            DocKind::DriversLicence => "dl",
        }
    }

    /// The MRZ layout, `None` for the driver's licence.
    pub fn mrz_format(self) -> Option<MrzFormat> {
        match self {
            DocKind::Td3 | DocKind::Td3NoFiller => Some(MrzFormat::Td3),
            DocKind::Td1 => Some(MrzFormat::Td1),
            DocKind::Td2 => Some(MrzFormat::Td2),
            DocKind::MrvA => Some(MrzFormat::MrvA),
            DocKind::MrvB => Some(MrzFormat::MrvB),
            DocKind::DriversLicence => None,
        }
    }

    /// Physical size (width, height) in millimetres and corner radius.
    pub fn size_mm(self) -> (f32, f32, f32) {
        match self {
            DocKind::Td3 | DocKind::Td3NoFiller => (125.0, 88.0, 1.0),
            DocKind::Td1 | DocKind::DriversLicence => (85.6, 54.0, 3.18),
            DocKind::Td2 => (105.0, 74.0, 3.18),
            DocKind::MrvA => (120.0, 80.0, 1.5),
            DocKind::MrvB => (105.0, 74.0, 1.5),
        }
    }

    /// `documentType` in `expected.json`.
    pub fn document_type(self) -> &'static str {
        match self {
            DocKind::Td3 | DocKind::Td3NoFiller => "PASSPORT",
            DocKind::Td1 | DocKind::Td2 => "ID_CARD",
            DocKind::MrvA | DocKind::MrvB => "VISA",
            DocKind::DriversLicence => "DRIVERS_LICENSE",
        }
    }
}

impl fmt::Display for DocKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

impl FromStr for DocKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocKind::ALL
            .into_iter()
            .find(|k| k.slug().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "unknown kind {s:?}; one of {}",
                    DocKind::ALL.map(|k| k.slug()).join(", ")
                )
            })
    }
}

/// How the visual zone prints dates.
#[derive(Clone, Copy, Debug)]
pub enum DateStyle {
    /// 12 AUG 1974
    Month,
    /// 12.08.1974
    Dotted,
    /// 08/12/1974 (US)
    Us,
}

impl DateStyle {
    pub fn format(self, d: NaiveDate) -> String {
        match self {
            DateStyle::Month => d.format("%d %b %Y").to_string().to_uppercase(),
            DateStyle::Dotted => d.format("%d.%m.%Y").to_string(),
            DateStyle::Us => d.format("%m/%d/%Y").to_string(),
        }
    }
}

/// One drawn document.
#[derive(Clone, Debug)]
pub struct Document {
    pub kind: DocKind,
    pub person: Person,
    pub issue: NaiveDate,
    pub expiry: NaiveDate,
    pub number: String,
    pub issuing_country: String,
    pub date_style: DateStyle,
    /// MRZ fields and lines (MRZ kinds).
    pub mrz: Option<(MrzFields, Vec<String>)>,
    /// The licence (driver's licence).
    pub licence: Option<Licence>,
}

const STREETS: &[&str] = &[
    "MAIN",
    "OAK",
    "MAPLE",
    "CEDAR",
    "ELM",
    "LAKE",
    "HILL",
    "PARK",
    "WASHINGTON",
    "SUNSET",
];
const STREET_KINDS: &[&str] = &["ST", "AVE", "RD", "BLVD", "DR", "LN"];
const CITIES: &[&str] = &[
    "SPRINGFIELD",
    "RIVERSIDE",
    "FAIRVIEW",
    "GREENVILLE",
    "FRANKLIN",
    "CLINTON",
    "SALEM",
    "MADISON",
];

impl Document {
    /// Draws a document of `kind`.
    pub fn sample<R: Rng>(kind: DocKind, rng: &mut R) -> anyhow::Result<Document> {
        match kind.mrz_format() {
            Some(format) => Self::sample_mrz(kind, format, rng),
            None => Ok(Self::sample_licence(rng)),
        }
    }

    fn sample_mrz<R: Rng>(
        kind: DocKind,
        format: MrzFormat,
        rng: &mut R,
    ) -> anyhow::Result<Document> {
        let no_filler = kind == DocKind::Td3NoFiller;
        let mut person = loop {
            let mut p = identity::person(rng, no_filler);
            if p.fit_name(format.name_len()).is_some() {
                break p;
            }
        };
        if no_filler && person.sex == Sex::X {
            person.sex = if rng.gen_bool(0.5) { Sex::M } else { Sex::F };
        }
        let visa = matches!(kind, DocKind::MrvA | DocKind::MrvB);
        let issuing_country = if visa || rng.gen_bool(0.15) {
            country(rng, false)
        } else {
            person.nationality.clone()
        };
        let code = match kind {
            DocKind::Td3 | DocKind::Td3NoFiller => *["P", "P", "P", "P", "P", "P", "PD", "PO"]
                .choose(rng)
                .unwrap_or(&"P"),
            DocKind::Td1 => *["I", "I", "ID", "ID", "IR"].choose(rng).unwrap_or(&"I"),
            DocKind::Td2 => *["I", "I", "ID", "IR"].choose(rng).unwrap_or(&"I"),
            _ => "V",
        };
        let number_len = if no_filler || rng.gen_bool(0.85) {
            9
        } else {
            8
        };
        let number = document_number(rng, number_len);
        let issue = date_between(rng, ymd(2015, 1, 1), ymd(2025, 12, 31))
            .max(person.birth + Duration::days(30));
        let expiry = if visa {
            issue + Duration::days(rng.gen_range(30..5 * 365))
        } else {
            add_years(issue, *[5, 10, 10].choose(rng).unwrap_or(&10)) - Duration::days(1)
        };
        let optional = match kind {
            DocKind::Td3NoFiller => mixed(rng, 14),
            DocKind::Td3 if rng.gen_bool(0.4) => {
                let n = rng.gen_range(9..=13);
                mixed(rng, n)
            }
            DocKind::Td1 if rng.gen_bool(0.3) => {
                let n = rng.gen_range(6..=15);
                digits(rng, n)
            }
            DocKind::Td2 if rng.gen_bool(0.2) => digits(rng, 7),
            DocKind::MrvA if rng.gen_bool(0.3) => {
                let n = rng.gen_range(6..=16);
                mixed(rng, n)
            }
            DocKind::MrvB if rng.gen_bool(0.2) => digits(rng, 8),
            _ => String::new(),
        };
        let optional2 = if kind == DocKind::Td1 && rng.gen_bool(0.2) {
            digits(rng, 11)
        } else {
            String::new()
        };
        let fields = MrzFields {
            format,
            document_code: code.to_string(),
            issuing_country: issuing_country.clone(),
            surname: person.surname.clone(),
            given_names: person.given_names.clone(),
            document_number: number.clone(),
            nationality: person.nationality.clone(),
            birth: person.birth,
            sex: person.sex.mrz(),
            expiry,
            optional,
            optional2,
        };
        let lines = mrz::build(&fields)?;
        if no_filler {
            anyhow::ensure!(!lines[1].contains('<'), "internal: filler in {}", lines[1]);
        }
        Ok(Document {
            kind,
            person,
            issue,
            expiry,
            number,
            issuing_country,
            date_style: if rng.gen_bool(0.5) {
                DateStyle::Month
            } else {
                DateStyle::Dotted
            },
            mrz: Some((fields, lines)),
            licence: None,
        })
    }

    fn sample_licence<R: Rng>(rng: &mut R) -> Document {
        let mut person = identity::person(rng, false);
        person.nationality = "USA".into();
        let mut names = person.given_names.split(' ');
        let first_name = names.next().unwrap_or("JOHN").to_string();
        let middle_names = names.collect::<Vec<_>>().join(" ");
        let state = rng.gen_range(0..STATES.len());
        let number = match rng.gen_range(0..4) {
            0 => format!(
                "{}{}",
                (b'A' + rng.gen_range(0..26)) as char,
                digits(rng, 7)
            ),
            1 => digits(rng, 9),
            2 => digits(rng, 8),
            _ => format!(
                "{}{}",
                (b'A' + rng.gen_range(0..26)) as char,
                digits(rng, 12)
            ),
        };
        let issue = date_between(rng, ymd(2018, 1, 1), ymd(2025, 12, 31))
            .max(person.birth + Duration::days(16 * 366));
        // US licences run out on a birthday.
        let years = rng.gen_range(4..=8);
        let expiry = NaiveDate::from_ymd_opt(
            issue.year() + years,
            person.birth.month(),
            person.birth.day(),
        )
        .unwrap_or_else(|| add_years(issue, years));
        let street = format!(
            "{} {} {}",
            rng.gen_range(1..9999),
            STREETS.choose(rng).unwrap_or(&"MAIN"),
            STREET_KINDS.choose(rng).unwrap_or(&"ST")
        );
        let licence = Licence {
            state,
            version: if rng.gen_bool(0.5) { 9 } else { 10 },
            jurisdiction_version: rng.gen_range(0..3),
            number: number.clone(),
            surname: person.surname.clone(),
            first_name,
            middle_names,
            sex: person.sex,
            birth: person.birth,
            issue,
            expiry,
            street,
            city: CITIES.choose(rng).unwrap_or(&"SALEM").to_string(),
            postal_code: format!("{}0000", digits(rng, 5)),
            height_in: rng.gen_range(58..=78),
            eyes: ["BRO", "BLU", "GRN", "HAZ", "GRY"]
                .choose(rng)
                .copied()
                .unwrap_or("BRO"),
            discriminator: {
                let n = rng.gen_range(10..=20);
                mixed(rng, n)
            },
        };
        Document {
            kind: DocKind::DriversLicence,
            person,
            issue,
            expiry,
            number,
            issuing_country: "USA".into(),
            date_style: DateStyle::Us,
            mrz: None,
            licence: Some(licence),
        }
    }

    /// The labels: same field names and date format as `shared/eval/documents/expected.json`,
    /// plus `documentType` and `mrz` / AAMVA extras. Names as the MRZ or record carries them.
    pub fn expected(&self) -> Value {
        let ymd = |d: NaiveDate| d.format("%Y-%m-%d").to_string();
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("documentType", json!(self.kind.document_type()));
        put("issuingCountry", json!(self.issuing_country));
        put("documentNumber", json!(self.number));
        put("surname", json!(self.person.surname));
        put("dateOfBirth", json!(ymd(self.person.birth)));
        put("sex", json!(self.person.sex.letter().to_string()));
        put("expiryDate", json!(ymd(self.expiry)));
        if let Some((f, lines)) = &self.mrz {
            put("format", json!(f.format.label()));
            put("documentCode", json!(f.document_code));
            put("givenNames", json!(self.person.given_names));
            put("nationality", json!(self.person.nationality));
            if !f.optional.is_empty() {
                let key = if f.format == MrzFormat::Td3 {
                    "personalNumber"
                } else {
                    "optionalData"
                };
                put(key, json!(f.optional));
            }
            if !f.optional2.is_empty() {
                put("optionalData2", json!(f.optional2));
            }
            put("mrz", json!(lines));
        }
        if let Some(l) = &self.licence {
            put("format", json!("AAMVA"));
            put("givenNames", json!(l.given_names()));
            put("jurisdiction", json!(l.state_code()));
            put("iin", json!(l.iin()));
            put("aamvaVersion", json!(l.version));
            put("issueDate", json!(ymd(l.issue)));
            put("barcode", json!(l.record()));
        }
        Value::Object(m)
    }
}
