//! ICAO 9303 machine readable zones: the five formats (TD1 3×30, TD2 2×36, TD3 2×44, MRV-A
//! 2×44, MRV-B 2×36), their fields, every check digit, and repairs of OCR output that the
//! check digits confirm. [`build`] writes zones for synthetic documents.
//!
//! # Why our own parser
//! Of the crates.io parsers, `mrtd` 0.5 reads only TD3 passports and TD1 identity cards (no
//! TD2, no visas) and repairs nothing. `mrz` 0.9 is thorough (all formats, OCR repair),
//! but it is a pre-1.0 crate of some 14,000 lines with breaking releases, and its repair
//! and date policies are not the ones this engine needs (filler-length repair reported
//! cell by cell, century windows relative to a caller's `today`, wire types in our
//! spelling): wrapping it would take about as much code as these ~2,000 lines, which we own.
//!
//! # Rules chosen
//! - **Document type** from the document code (Parts 4 to 7): `P…` passport, `V…` visa;
//!   `A`, `C`, `I` followed by `R` (`IR`, `AR`, `CR`: the EU uniform residence-permit cards,
//!   the UK biometric residence permit, Germany's eAT) and any code starting with `R` a
//!   residence permit; other `A…`, `C…`, `I…` an identity card; `D…` (ISO 18013 driving
//!   licences) a driver's licence; anything else falls back on the format (TD3 passport,
//!   MRV visa, TD1/TD2 identity card) and is reported as [`Problem::UnexpectedDocumentCode`].
//! - **Centuries**: birth is the latest date not after `today`; expiry is the date within
//!   fifty years of `today` (see `dates`).
//! - **Lookalikes** ([`normalise_line`]): spaces dropped, letters upper-cased, full-width
//!   forms made ASCII; `«` and `≪` become `<<`; `‹ 〈 ⟨ ﹤ ( [ {` become `<`. These never
//!   occur in an MRZ, so mapping them loses nothing. `K` (a common misreading of `<`) is
//!   never mapped there: only in a name field's filler tail, see below.
//! - **OCR confusions** (in [`parse`]), by the type of the field a cell belongs to:
//!   - numeric cells (dates, check digits): `O Q D → 0`, `I → 1`, `Z → 2`, `S → 5`,
//!     `G → 6`, `B → 8`. A letter cannot stand there, and the check digit over the
//!     corrected field still decides its validity, so a wrong guess cannot pass as valid.
//!   - alphabetic cells (first character of the document code, issuer, nationality,
//!     names): `0 → O`, `1 → I`, `2 → Z`, `5 → S`, `8 → B`.
//!   - a name field's filler tail: when three or more `K`s follow the first `<` after the
//!     last other letter, those `K`s are fillers (`MARIA<<KKK<K` → `MARIA<<<<<<<`). One or
//!     two `K`s there stay: they may be initials.
//!   - mixed cells (document number, personal number, optional data): each confusable
//!     character (`0/O`, `1/I`, `2/Z`, `5/S`, `8/B`) is tried both ways, at most 8 per
//!     field (255 other readings). Among the readings that make the field's own check
//!     digit valid, those with the fewest changes are kept (a single misread is far likelier
//!     than several, and one check digit accepts one reading in ten by chance); then, where
//!     the format has one, the composite must hold too, and exactly one combination may
//!     remain, or nothing is changed. Optional data without a check digit of its own is
//!     corrected the same way by the composite alone, and only once every other check
//!     digit holds. (For the document number and the TD3 personal number the composite's
//!     weights line up with the field's own, so for a single misread it adds nothing; it
//!     vetoes a fix while another field is wrong.)
//! - **Line lengths**: a line one or two characters off is fixed by adding or removing
//!   fillers at its end; failing that (or if the check digits then fail) by lengthening or
//!   shortening one of its three longest `<` runs, kept only if every check digit then
//!   holds. Each repair is listed in [`Mrz::corrections`].
//! - **Long document numbers** (TD1, TD2: Parts 5 and 6): when the check digit position
//!   holds `<`, the number continues in the optional data, up to the character before the
//!   next `<`, which is the check digit over the whole number.

mod build;
mod check;
mod codes;
mod dates;
mod layout;
mod read;
mod repair;

use chrono::NaiveDate;
use serde::Serialize;

pub use build::{build, MrzFields};
pub use check::check_digit;
pub use codes::is_known_code;

/// An ICAO 9303 MRZ format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Format {
    /// ID-card size: 3 lines of 30 (Part 5).
    #[serde(rename = "TD1")]
    Td1,
    /// 2 lines of 36 (Part 6).
    #[serde(rename = "TD2")]
    Td2,
    /// Passport: 2 lines of 44 (Part 4).
    #[serde(rename = "TD3")]
    Td3,
    /// Full-size visa: 2 lines of 44 (Part 7).
    #[serde(rename = "MRV-A")]
    MrvA,
    /// Small visa: 2 lines of 36 (Part 7).
    #[serde(rename = "MRV-B")]
    MrvB,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::Td1,
        Format::Td2,
        Format::Td3,
        Format::MrvA,
        Format::MrvB,
    ];

    /// The name ICAO uses (`"TD1"`, …, `"MRV-A"`), as serialised.
    pub fn as_str(&self) -> &'static str {
        match self {
            Format::Td1 => "TD1",
            Format::Td2 => "TD2",
            Format::Td3 => "TD3",
            Format::MrvA => "MRV-A",
            Format::MrvB => "MRV-B",
        }
    }

    /// Number of lines (3 for TD1, else 2).
    pub fn line_count(&self) -> usize {
        layout::layout(*self).lines
    }

    /// Characters per line.
    pub fn line_len(&self) -> usize {
        layout::layout(*self).line_len
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of document the document code says it is (rule in the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DocumentType {
    /// `P…`.
    Passport,
    /// `A…`, `C…`, `I…` (other than residence permits).
    IdCard,
    /// `D…`.
    DriversLicense,
    /// `AR`, `CR`, `IR`, `R…`.
    ResidencePermit,
    /// `V…`.
    Visa,
}

/// A field of the MRZ, as named on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Field {
    /// Document code (positions 1–2).
    DocumentCode,
    /// Issuing state or organisation.
    IssuingCountry,
    /// Document number (with its TD1/TD2 continuation).
    DocumentNumber,
    /// Name of the holder.
    Name,
    /// Nationality.
    Nationality,
    /// Date of birth.
    DateOfBirth,
    /// Sex.
    Sex,
    /// Date of expiry.
    ExpiryDate,
    /// TD3 personal number.
    PersonalNumber,
    /// Optional data.
    OptionalData,
    /// The composite check digit over several fields.
    Composite,
}

/// One check digit and whether it matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DigitCheck {
    /// `documentNumber`, `dateOfBirth`, `expiryDate`, `personalNumber` or `composite`.
    pub field: Field,
    /// Whether the printed digit equals the one computed.
    pub valid: bool,
}

/// What kind of repair a [`Correction`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CorrectionKind {
    /// An OCR confusion (`O` read for `0`, …) replaced by the field's type or check digits.
    Confusion,
    /// A filler added to bring a line to its length.
    FillerInserted,
    /// A filler removed to bring a line to its length.
    FillerRemoved,
}

/// One character the parser changed. Positions are one-based. For a removed filler the
/// column is in the line as read; otherwise it is in the corrected line ([`Mrz::lines`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Correction {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub column: usize,
    /// What was done.
    pub kind: CorrectionKind,
    /// The character read (`None` for an inserted filler).
    pub from: Option<char>,
    /// The character put in its place (`None` for a removed filler).
    pub to: Option<char>,
}

/// Something doubtful about a parsed MRZ that no check digit covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Problem {
    /// A date field is not a date (`740231`, a letter, a filler ICAO does not allow there).
    InvalidDate {
        /// `dateOfBirth` or `expiryDate`.
        field: Field,
    },
    /// The expiry date is before the date of birth.
    ExpiryBeforeBirth,
    /// An issuer or nationality code in no table ([`is_known_code`]); the ICAO specimen
    /// state `UTO` is reported so.
    UnknownCountryCode {
        /// `issuingCountry` or `nationality`.
        field: Field,
        /// The code, without fillers.
        code: String,
    },
    /// The sex is not `M`, `F`, `X` or `<`.
    InvalidSex {
        /// The character read.
        found: char,
    },
    /// The document code does not belong to the format (TD3 wants `P`, TD1 and TD2 `A`,
    /// `C` or `I`).
    UnexpectedDocumentCode {
        /// The code, without fillers.
        code: String,
    },
    /// A digit where only letters belong or a letter where only digits belong, which no
    /// correction explained.
    UnexpectedCharacter {
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// The character.
        found: char,
    },
}

/// A parsed machine readable zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Mrz {
    /// The format.
    pub format: Format,
    /// Document code without fillers: `"P"`, `"I"`, `"ID"`, `"V"`, …
    pub document_code: String,
    /// What the document code says the document is.
    pub document_type: DocumentType,
    /// Issuing state or organisation without fillers (`"D"` for Germany).
    pub issuing_country: String,
    /// Document number without fillers, with a TD1/TD2 continuation appended.
    pub document_number: String,
    /// Primary identifier; a `<` inside it becomes a space.
    pub surname: String,
    /// Secondary identifiers separated by spaces; empty when the name has no `<<`.
    pub given_names: String,
    /// Nationality without fillers.
    pub nationality: String,
    /// Date of birth, `None` if wholly or partly unknown or not a date (see
    /// `date_of_birth_raw` and `problems`).
    pub date_of_birth: Option<NaiveDate>,
    /// The date of birth as printed (`YYMMDD`, possibly with `<`).
    pub date_of_birth_raw: String,
    /// `"M"`, `"F"` or `"X"` (`<` reads as `X`); any other character as read.
    pub sex: String,
    /// Date of expiry, `None` if not a date.
    pub expiry_date: Option<NaiveDate>,
    /// The expiry date as printed.
    pub expiry_date_raw: String,
    /// TD3 personal number without surrounding fillers; `None` if empty or not TD3.
    pub personal_number: Option<String>,
    /// Optional data without surrounding fillers (TD1: line 1's and line 2's joined by a
    /// space); `None` if empty or TD3.
    pub optional_data: Option<String>,
    /// One entry per check digit of the format, in the order printed.
    pub checks: Vec<DigitCheck>,
    /// What the parser changed.
    pub corrections: Vec<Correction>,
    /// Doubts no check digit covers.
    pub problems: Vec<Problem>,
    /// The lines after normalisation and corrections.
    pub lines: Vec<String>,
}

impl Mrz {
    /// Whether every check digit is valid.
    pub fn valid(&self) -> bool {
        self.checks.iter().all(|c| c.valid)
    }

    /// Whether the check digit for `field` is valid; `None` if the format has none.
    pub fn check(&self, field: Field) -> Option<bool> {
        self.checks
            .iter()
            .find(|c| c.field == field)
            .map(|c| c.valid)
    }

    /// Whether the document has expired by `today` (`None` if the expiry is unknown).
    pub fn expired(&self, today: NaiveDate) -> Option<bool> {
        self.expiry_date.map(|e| e < today)
    }
}

/// Why text could not be read as an MRZ at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MrzError {
    /// Nothing but blank lines.
    #[error("no MRZ text: every line is blank")]
    Empty,
    /// Not 2 or 3 lines.
    #[error("an MRZ has 2 lines (TD2, TD3, MRV-A, MRV-B) or 3 (TD1); found {found}")]
    WrongLineCount {
        /// Non-blank lines found.
        found: usize,
    },
    /// A line whose length is more than two characters off, or cannot be repaired.
    #[error("line {line} has {found} characters; a {format} line has {expected}")]
    WrongLineLength {
        /// Line, from 1.
        line: usize,
        /// Characters after normalisation.
        found: usize,
        /// The format's line length.
        expected: usize,
        /// The format the line count and lengths pointed to.
        format: Format,
    },
    /// Two lines whose lengths fit no format.
    #[error("no ICAO 9303 format has lines of {lengths:?} characters")]
    UnknownFormat {
        /// Characters per line after normalisation.
        lengths: Vec<usize>,
    },
    /// A character outside `A`–`Z`, `0`–`9`, `<` after normalisation.
    #[error("line {line}, column {column}: {found:?} is not an MRZ character (A-Z, 0-9, <)")]
    InvalidCharacter {
        /// Line, from 1.
        line: usize,
        /// Column, from 1, counted in characters after normalisation.
        column: usize,
        /// The character.
        found: char,
    },
}

/// How far (in characters) a line may be from its format's length and still be repaired.
const LENGTH_SLACK: usize = 2;

/// Parses the lines of an MRZ (blank lines ignored), normalising each with
/// [`normalise_line`] and repairing what the module documentation describes. `today`
/// anchors the centuries of the dates. Never panics; check digits that fail are reported in
/// [`Mrz::checks`], not as errors.
pub fn parse(lines: &[&str], today: NaiveDate) -> Result<Mrz, MrzError> {
    parse_normalised(lines.iter().map(|l| normalise_line(l)).collect(), today)
}

/// [`parse`] for text holding the MRZ lines separated by line breaks; blank lines are
/// ignored.
pub fn parse_text(text: &str, today: NaiveDate) -> Result<Mrz, MrzError> {
    parse_normalised(text.lines().map(normalise_line).collect(), today)
}

fn parse_normalised(mut lines: Vec<String>, today: NaiveDate) -> Result<Mrz, MrzError> {
    lines.retain(|l| !l.is_empty());
    match lines.len() {
        0 => return Err(MrzError::Empty),
        2 | 3 => {}
        found => return Err(MrzError::WrongLineCount { found }),
    }
    for (i, line) in lines.iter().enumerate() {
        if let Some((col, found)) = line
            .chars()
            .enumerate()
            .find(|&(_, c)| !matches!(c, 'A'..='Z' | '0'..='9' | '<'))
        {
            return Err(MrzError::InvalidCharacter {
                line: i + 1,
                column: col + 1,
                found,
            });
        }
    }
    let format = classify(&lines)?;
    repair::parse_repaired(format, &lines, today)
}

/// The format whose line count and length the lines are nearest, or the error saying why
/// none fits. Lines are ASCII here, so `len` counts characters.
fn classify(lines: &[String]) -> Result<Format, MrzError> {
    let lengths: Vec<usize> = lines.iter().map(|l| l.chars().count()).collect();
    let family = match lengths.len() {
        3 => Format::Td1,
        2 => {
            let distance = |n: usize| lengths.iter().map(|&l| l.abs_diff(n)).sum::<usize>();
            let (short, long) = (distance(36), distance(44));
            if short == long {
                return Err(MrzError::UnknownFormat { lengths });
            }
            let visa = lines.first().is_some_and(|l| l.starts_with('V'));
            match (short < long, visa) {
                (true, false) => Format::Td2,
                (true, true) => Format::MrvB,
                (false, false) => Format::Td3,
                (false, true) => Format::MrvA,
            }
        }
        found => return Err(MrzError::WrongLineCount { found }),
    };
    let expected = family.line_len();
    match lengths
        .iter()
        .position(|l| l.abs_diff(expected) > LENGTH_SLACK)
    {
        Some(i) => Err(MrzError::WrongLineLength {
            line: i + 1,
            found: lengths[i],
            expected,
            format: family,
        }),
        None => Ok(family),
    }
}

/// The format of normalised MRZ lines (see [`normalise_line`]) by their count, lengths
/// (within two characters) and, for two-line zones, a leading `V` for visas; `None` if they
/// fit none.
pub fn detect_format(lines: &[String]) -> Option<Format> {
    classify(lines).ok()
}

/// Normalises one line of OCR output: whitespace and zero-width characters dropped,
/// `a`–`z` upper-cased, full-width forms (`Ａ`, `＜`, …) made ASCII, `«` and `≪` turned into
/// `<<`, and `‹ 〈 ⟨ ﹤ ( [ {` into `<`. Nothing else changes: `0`/`O` and the like depend on
/// the field and are left to [`parse`], and `K` is never taken for `<` here.
pub fn normalise_line(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        // Full-width ASCII variants (U+FF01–U+FF5E) sit 0xFEE0 above ASCII.
        let c = match u32::from(c) {
            0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            _ => c,
        };
        match c {
            c if c.is_whitespace() => {}
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' => {}
            'a'..='z' => out.push(c.to_ascii_uppercase()),
            '«' | '≪' => out.push_str("<<"),
            '‹' | '〈' | '⟨' | '﹤' | '(' | '[' | '{' => out.push('<'),
            c => out.push(c),
        }
    }
    out
}
