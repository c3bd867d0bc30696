//! AAMVA DL/ID card design standard: the data in the PDF417 barcode on the back of US and
//! Canadian driver's licences and identity cards, read into typed fields.
//!
//! The barcode text is a header (compliance indicator `@`, separators LF RS CR, file type
//! `ANSI ` — `AAMVA` before the 2000 standard —, six-digit issuer identification number,
//! AAMVA version, jurisdiction version from version 2 on, number of subfiles, and one
//! designator of type, offset and length per subfile), then the subfiles: `DL` or `ID`
//! with the card's data elements (three-letter id and value, LF between elements, CR at
//! the end), and jurisdiction subfiles `Z?`. Issuers are often sloppy, so [`parse`]
//! tolerates wrong offsets, CR LF separators, missing header parts and stray bytes, and
//! says what it tolerated in [`Aamva::problems`].
//!
//! Names follow the version that wrote them: family name `DCS` (version 2 on), `DAB` or
//! the comma-separated full name `DAA` (version 1); given names `DAC` and `DAD` (version 4
//! on) or `DCT` (versions 2 and 3). Dates are `MMDDCCYY` on US cards and `CCYYMMDD` on
//! Canadian ones; see [`Aamva::date_of_birth`] for how the order is chosen.

mod compose;
mod layout;

pub use compose::compose;

use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// The longest input [`parse`] reads. A PDF417 symbol holds at most about 1.8 KB of
/// text; anything far beyond is not a licence barcode.
pub const MAX_INPUT: usize = 16 * 1024;

/// Why a text could not be read as AAMVA data at all. Smaller defects are reported in
/// [`Aamva::problems`] instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AamvaError {
    /// Nothing to read.
    #[error("the barcode text is empty")]
    Empty,
    /// Longer than [`MAX_INPUT`].
    #[error("the barcode text is {0} bytes, more than an AAMVA barcode holds")]
    TooLong(usize),
    /// No file type ("ANSI " or "AAMVA") near the start.
    #[error("not AAMVA data: no \"ANSI \" or \"AAMVA\" file type at the start")]
    NotAamva,
    /// The header is there but its numbers are not.
    #[error("AAMVA header unreadable: {0}")]
    BadHeader(String),
    /// Neither a DL nor an ID subfile with data elements.
    #[error("no DL or ID subfile with data elements")]
    NoCardData,
}

/// `Result` with [`AamvaError`].
pub type Result<T> = std::result::Result<T, AamvaError>;

/// A subfile: its two-letter type and its elements, in order. [`compose`] writes these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subfile {
    /// "DL", "ID", or a jurisdiction subfile "Z" + letter.
    pub kind: String,
    /// Three-letter element id and value, e.g. `("DAQ", "D1234567")`.
    pub elements: Vec<(String, String)>,
}

/// The cardholder's address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    /// Street (`DAG`, and `DAH` joined with a comma when present).
    pub street: String,
    /// City (`DAI`).
    pub city: String,
    /// State or province code (`DAJ`).
    pub jurisdiction: String,
    /// Postal code (`DAK`) as printed in the barcode, trailing blanks removed; US codes
    /// are often nine digits with trailing zeros.
    pub postal_code: String,
}

/// What a driver's licence or ID card barcode says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Aamva {
    /// AAMVA version from the header: 0 before the 2000 standard, 1 for AAMVA DL/ID-2000,
    /// 10 for the 2020 standard.
    pub version: u8,
    /// Issuer identification number: six digits naming the issuing jurisdiction.
    pub issuer_id: String,
    /// The issuer's own version of its layout (version 2 and later).
    pub jurisdiction_version: Option<u8>,
    /// Customer id number (`DAQ`), the licence number.
    pub document_number: String,
    /// Family name: `DCS`, else `DAB`, else the part of `DAA` before the first comma.
    pub surname: String,
    /// Given names with one space between them: `DAC` then the middle names of `DAD`;
    /// else `DCT`; else the rest of `DAA`.
    pub given_names: String,
    /// Date of birth (`DBB`). US cards write `MMDDCCYY`, Canadian ones `CCYYMMDD`; the
    /// country (`DCG`, else the issuer's country from the IIN, else USA) picks the order
    /// tried first, and the other is tried when the first gives no date. The two cannot
    /// both give a date: a year from 1850 to 2199 in front is never also a month.
    pub date_of_birth: Option<NaiveDate>,
    /// Expiry date (`DBA`), read like the date of birth.
    pub expiry_date: Option<NaiveDate>,
    /// Issue date (`DBD`), read like the date of birth.
    pub issue_date: Option<NaiveDate>,
    /// "M", "F" or "X" (`DBC`: 1, 2 and 9, or the letters older versions write); empty
    /// when absent or unreadable.
    pub sex: String,
    /// ISO 3166 alpha-3 country: `DCG`, else from the IIN ("USA", "CAN", "MEX").
    pub country: String,
    /// State or province code of the address (`DAJ`).
    pub jurisdiction: Option<String>,
    /// The address, when any of its parts is present.
    pub address: Option<Address>,
    /// Type of the subfile the card data came from: "DL" or "ID".
    pub document_type: String,
    /// Every subfile type found, in order ("DL", "ZV", …).
    pub subfiles: Vec<String>,
    /// Names the card marks as truncated (`DDE`, `DDF`, `DDG` = "T"): "surname",
    /// "firstName", "middleNames".
    pub truncated_names: Vec<String>,
    /// Every element read, by id, value as in the barcode (first occurrence wins).
    pub fields: BTreeMap<String, String>,
    /// What was missing, unreadable or off-standard, e.g. "missing DAQ (document number)",
    /// "dateOfBirth unreadable (DBB)". Never holds the card's values, so it can be logged.
    pub problems: Vec<String>,
}

/// Parses the text of a driver's licence barcode. Never panics; see [`parse_bytes`].
pub fn parse(data: &str) -> Result<Aamva> {
    parse_bytes(data.as_bytes())
}

/// Parses barcode bytes: values that are not UTF-8 are read as Latin-1, PDF417's default.
/// Fails only when the data is not AAMVA at all or holds no card data; every smaller
/// defect is listed in [`Aamva::problems`].
pub fn parse_bytes(data: &[u8]) -> Result<Aamva> {
    if data.len() > MAX_INPUT {
        return Err(AamvaError::TooLong(data.len()));
    }
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err(AamvaError::Empty);
    }
    let header = layout::header(data)?;
    let mut problems = header.problems.clone();
    let subfiles = layout::subfiles(data, &header, &mut problems);

    let mut fields = BTreeMap::new();
    let mut document_type = None;
    for sub in &subfiles {
        let card = sub.kind == "DL" || sub.kind == "ID";
        if card && !sub.elements.is_empty() && document_type.is_none() {
            document_type = Some(sub.kind.clone());
        }
        for (id, value) in &sub.elements {
            if fields.contains_key(id) {
                problems.push(format!("{id} appears more than once; kept the first"));
            } else {
                fields.insert(id.clone(), value.clone());
            }
        }
    }
    let document_type = document_type.ok_or(AamvaError::NoCardData)?;
    Ok(Card { fields, problems }.read(&header, document_type, &subfiles))
}

/// Reads typed fields out of the raw elements, noting problems as it goes.
struct Card {
    fields: BTreeMap<String, String>,
    problems: Vec<String>,
}

/// Values issuers write where a name is absent.
const PLACEHOLDERS: [&str; 4] = ["NONE", "UNAVL", "UNAVAIL", "UNAVAILABLE"];

impl Card {
    fn read(
        mut self,
        header: &layout::Header,
        document_type: String,
        subfiles: &[Subfile],
    ) -> Aamva {
        let document_number = self.text("DAQ").unwrap_or_default();
        if document_number.is_empty() {
            self.problems.push("missing DAQ (document number)".into());
        }
        let (surname, given_names) = self.names();
        if surname.is_empty() {
            self.problems.push("missing surname".into());
        }
        let country = self.country(&header.iin);
        let canadian = country == "CAN";
        let date_of_birth = self.date("DBB", "dateOfBirth", canadian);
        let expiry_date = self.date("DBA", "expiryDate", canadian);
        let issue_date = self.date("DBD", "issueDate", canadian);
        let sex = self.sex();
        let jurisdiction = self.text("DAJ");
        let address = self.address();
        let truncated_names = [
            ("DDE", "surname"),
            ("DDF", "firstName"),
            ("DDG", "middleNames"),
        ]
        .iter()
        .filter(|(id, _)| self.text(id).is_some_and(|v| v.eq_ignore_ascii_case("T")))
        .map(|(_, name)| (*name).to_string())
        .collect();
        Aamva {
            version: header.version,
            issuer_id: header.iin.clone(),
            jurisdiction_version: header.jurisdiction_version,
            document_number,
            surname,
            given_names,
            date_of_birth,
            expiry_date,
            issue_date,
            sex,
            country,
            jurisdiction,
            address,
            document_type,
            subfiles: subfiles.iter().map(|s| s.kind.clone()).collect(),
            truncated_names,
            fields: self.fields,
            problems: self.problems,
        }
    }

    /// The element's value with surrounding blanks removed; `None` when absent or blank.
    fn text(&self, id: &str) -> Option<String> {
        let v = self.fields.get(id)?.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    /// A name element, `None` when absent or a placeholder such as "NONE".
    fn name(&self, id: &str) -> Option<String> {
        self.text(id)
            .map(|v| tidy_name(&v))
            .filter(|v| !v.is_empty())
    }

    fn names(&mut self) -> (String, String) {
        let full = self.text("DAA").map(|v| split_full_name(&v));
        if let Some((_, _, false)) = &full {
            if self.text("DCS").is_none() && self.text("DAB").is_none() {
                self.problems.push(
                    "DAA full name has no commas; not split into surname and given names".into(),
                );
            }
        }
        let surname = self
            .name("DCS")
            .or_else(|| self.name("DAB"))
            .or_else(|| full.as_ref().map(|f| f.0.clone()))
            .unwrap_or_default();
        let given = match (self.name("DAC"), self.name("DAD")) {
            (Some(first), Some(middle)) => format!("{first} {middle}"),
            (Some(first), None) => first,
            (None, middle) => self
                .name("DCT")
                .or_else(|| full.as_ref().map(|f| f.1.clone()).filter(|g| !g.is_empty()))
                .or(middle)
                .unwrap_or_default(),
        };
        (surname, given)
    }

    fn country(&mut self, iin: &str) -> String {
        match self.text("DCG").map(|c| c.to_ascii_uppercase()).as_deref() {
            // Some issuers write the two-letter codes.
            Some("USA" | "US") => "USA".into(),
            Some("CAN" | "CA") => "CAN".into(),
            Some("MEX" | "MX") => "MEX".into(),
            Some(other) if other.len() == 3 && other.bytes().all(|b| b.is_ascii_uppercase()) => {
                other.to_string()
            }
            Some(_) => {
                self.problems.push("country unreadable (DCG)".into());
                issuer_country(iin).to_string()
            }
            None => issuer_country(iin).to_string(),
        }
    }

    fn date(&mut self, id: &str, what: &str, canadian: bool) -> Option<NaiveDate> {
        let Some(raw) = self.text(id) else {
            if id != "DBD" {
                // Issue date is optional in AAMVA 2000; birth and expiry never are.
                self.problems.push(format!("missing {id} ({what})"));
            }
            return None;
        };
        let d = read_date(&raw, canadian);
        if d.is_none() {
            // The value stays out of the message: problems get logged, fields hold it.
            self.problems.push(format!("{what} unreadable ({id})"));
        }
        d
    }

    fn sex(&mut self) -> String {
        let Some(raw) = self.text("DBC") else {
            self.problems.push("missing DBC (sex)".into());
            return String::new();
        };
        match raw.to_ascii_uppercase().as_str() {
            "1" | "M" => "M".into(),
            "2" | "F" => "F".into(),
            "9" | "X" => "X".into(),
            _ => {
                self.problems.push("sex unreadable (DBC)".into());
                String::new()
            }
        }
    }

    fn address(&self) -> Option<Address> {
        let street = match (self.text("DAG"), self.text("DAH")) {
            (Some(a), Some(b)) => format!("{a}, {b}"),
            (a, b) => a.or(b).unwrap_or_default(),
        };
        let city = self.text("DAI").unwrap_or_default();
        let jurisdiction = self.text("DAJ").unwrap_or_default();
        let postal_code = self.text("DAK").unwrap_or_default();
        let any = [&street, &city, &jurisdiction, &postal_code]
            .iter()
            .any(|s| !s.is_empty());
        any.then_some(Address {
            street,
            city,
            jurisdiction,
            postal_code,
        })
    }
}

/// A name without placeholders, commas between middle names turned into spaces, blanks
/// collapsed.
fn tidy_name(raw: &str) -> String {
    raw.split([',', ' ', '$'])
        .filter(|w| !w.is_empty())
        .filter(|w| !PLACEHOLDERS.iter().any(|p| w.eq_ignore_ascii_case(p)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Splits the AAMVA 2000 full name "FAMILY,FIRST,MIDDLE,SUFFIX" (some issuers use `$`):
/// family name, given names, and whether it had separators at all.
fn split_full_name(raw: &str) -> (String, String, bool) {
    let parts: Vec<&str> = raw.split([',', '$']).map(str::trim).collect();
    if parts.len() < 2 {
        return (tidy_name(raw), String::new(), false);
    }
    let mut given: Vec<&str> = parts[1..].to_vec();
    if given.len() >= 3 && is_suffix(given[given.len() - 1]) {
        given.pop();
    }
    (tidy_name(parts[0]), tidy_name(&given.join(" ")), true)
}

/// Name suffixes the standard lists (`DCU`); they are not given names.
fn is_suffix(word: &str) -> bool {
    const SUFFIXES: [&str; 19] = [
        "JR", "SR", "1ST", "2ND", "3RD", "4TH", "5TH", "6TH", "7TH", "8TH", "9TH", "I", "II",
        "III", "IV", "V", "VI", "VII", "VIII",
    ];
    let w = word.trim_end_matches('.');
    SUFFIXES.iter().any(|s| w.eq_ignore_ascii_case(s))
}

/// An eight-digit AAMVA date, in the country's order first, then the other.
fn read_date(raw: &str, canadian: bool) -> Option<NaiveDate> {
    let d: Vec<u32> = raw
        .bytes()
        .map(|b| u32::from(b.wrapping_sub(b'0')))
        .collect();
    if d.len() != 8 || d.iter().any(|&x| x > 9) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| d[r].iter().fold(0u32, |n, &x| n * 10 + x);
    let us = || plausible(num(4..8), num(0..2), num(2..4));
    let ca = || plausible(num(0..4), num(4..6), num(6..8));
    if canadian {
        ca().or_else(us)
    } else {
        us().or_else(ca)
    }
}

/// A real calendar date with a year from 1850 to 2199: no one alive was born earlier and
/// no card expires later, and the range keeps the two date orders apart.
fn plausible(year: u32, month: u32, day: u32) -> Option<NaiveDate> {
    if !(1850..=2199).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// The country of an issuer identification number: Canadian provinces and territories,
/// the two Mexican states in the AAMVA list, and the US (states, territories, the State
/// Department) for the rest.
fn issuer_country(iin: &str) -> &'static str {
    const CANADA: [&str; 14] = [
        "604426", // Prince Edward Island
        "604428", // Quebec
        "604429", // Yukon
        "604432", // Alberta
        "604433", // Nunavut
        "604434", // Northwest Territories
        "636012", // Ontario
        "636013", // Nova Scotia
        "636016", // Newfoundland and Labrador
        "636017", // New Brunswick
        "636028", // British Columbia
        "636044", // Saskatchewan
        "636048", // Manitoba
        "990876", // Alberta (pre-ISO number)
    ];
    const MEXICO: [&str; 2] = ["636056", "636057"]; // Coahuila, Hidalgo
    if CANADA.contains(&iin) {
        "CAN"
    } else if MEXICO.contains(&iin) {
        "MEX"
    } else {
        "USA"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_both_orders() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd);
        assert_eq!(read_date("07041976", false), d(1976, 7, 4));
        assert_eq!(read_date("19760704", false), d(1976, 7, 4));
        assert_eq!(read_date("19760704", true), d(1976, 7, 4));
        assert_eq!(read_date("07041976", true), d(1976, 7, 4));
        assert_eq!(read_date("00000000", false), None);
        assert_eq!(read_date("0704197", false), None);
        assert_eq!(read_date("0704197é", false), None);
        assert_eq!(read_date("02302000", false), None);
    }

    #[test]
    fn full_names() {
        assert_eq!(
            split_full_name("PUBLIC,JOHN,QUINCY,JR"),
            ("PUBLIC".into(), "JOHN QUINCY".into(), true)
        );
        assert_eq!(
            split_full_name("PUBLIC$JOHN$Q"),
            ("PUBLIC".into(), "JOHN Q".into(), true)
        );
        assert!(!split_full_name("JOHN PUBLIC").2);
        assert_eq!(tidy_name("NONE"), "");
        assert_eq!(tidy_name("ANNE,MARIE"), "ANNE MARIE");
    }
}
