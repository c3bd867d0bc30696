//! Phone numbers: E.164 (`+14155550100`) or national (`(415) 555-0100` in the default
//! region), parsed and validated by `phonenumber`, a maintained Rust port of Google's
//! libphonenumber with its metadata.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest input accepted before parsing (formatting characters included).
pub const MAX_INPUT_LEN: usize = 32;

/// A validated phone number in E.164 form, with its region and line type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct E164 {
    e164: String,
    region: Option<String>,
    line_type: LineType,
}

/// What kind of line a number is, as its numbering plan says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineType {
    /// A mobile number.
    Mobile,
    /// A fixed line.
    FixedLine,
    /// The plan cannot tell (the US and Canada).
    FixedLineOrMobile,
    /// Voice over IP.
    Voip,
    /// Anything else (toll free, premium, pager, unknown, test numbers).
    Other,
}

impl LineType {
    /// The wire name (`mobile`, `landline`, …) used by the identity manager.
    pub fn as_str(self) -> &'static str {
        match self {
            LineType::Mobile => "mobile",
            LineType::FixedLine => "landline",
            LineType::FixedLineOrMobile => "fixed_or_mobile",
            LineType::Voip => "voip",
            LineType::Other => "other",
        }
    }
}

impl E164 {
    /// The number with its leading `+`.
    pub fn as_str(&self) -> &str {
        &self.e164
    }

    /// The digits without `+`, as the phone API echoes numbers (`12015550100`).
    pub fn digits(&self) -> &str {
        self.e164.trim_start_matches('+')
    }

    /// ISO 3166-1 alpha-2 region, when the number belongs to one.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The line type.
    pub fn line_type(&self) -> LineType {
        self.line_type
    }

    /// A number already known to be E.164 (read back from storage). Checks the shape
    /// only: `+` and 5 to 15 digits.
    pub fn from_stored(e164: &str) -> Result<E164, NumberError> {
        let digits = e164.strip_prefix('+').ok_or(NumberError::Unparseable)?;
        if !(5..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NumberError::Unparseable);
        }
        let parsed = phonenumber::parse(None, e164).ok();
        Ok(E164 {
            e164: e164.to_string(),
            region: parsed
                .as_ref()
                .and_then(|p| p.country().id())
                .map(|id| format!("{id:?}")),
            line_type: parsed.as_ref().map(line_type_of).unwrap_or(LineType::Other),
        })
    }

    /// The last `n` digits, for messages that must not show the whole number.
    pub fn masked(&self) -> String {
        let d = self.digits();
        let keep = d.len().min(4);
        format!("•••{}", &d[d.len() - keep..])
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

/// Why a number was refused; the message is safe to return to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// Empty input.
    #[error("phoneNumber is empty")]
    Empty,
    /// Too long to be a phone number.
    #[error("phoneNumber is longer than {MAX_INPUT_LEN} characters")]
    TooLong,
    /// Characters other than digits, spaces, `+`, `-`, `.`, `(`, `)`.
    #[error("phoneNumber may contain only digits, spaces, '+', '-', '.', '(' and ')'")]
    BadCharacters,
    /// Not recognisable as a number.
    #[error("phoneNumber is not a phone number")]
    Unparseable,
    /// A number, but not a valid one for its region.
    #[error("phoneNumber {0} is not a valid number for its region")]
    Invalid(String),
}

/// The region national numbers are read in (`US` unless configured).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    /// The United States, the phone API's home region.
    pub const US: Region = Region(phonenumber::country::Id::US);

    /// Parses an ISO 3166-1 alpha-2 code.
    pub fn parse(code: &str) -> Option<Region> {
        code.trim().to_ascii_uppercase().parse().ok().map(Region)
    }
}

impl Default for Region {
    fn default() -> Self {
        Region::US
    }
}

fn line_type_of(p: &phonenumber::PhoneNumber) -> LineType {
    use phonenumber::Type as T;
    match p.number_type(&phonenumber::metadata::DATABASE) {
        T::Mobile => LineType::Mobile,
        T::FixedLine => LineType::FixedLine,
        T::FixedLineOrMobile => LineType::FixedLineOrMobile,
        T::Voip => LineType::Voip,
        _ => LineType::Other,
    }
}

fn e164_of(p: &phonenumber::PhoneNumber) -> String {
    p.format().mode(phonenumber::Mode::E164).to_string()
}

/// Parses a number as a caller typed it. National numbers are read in `region`;
/// digits that are not a valid national number but are one with a `+` in front
/// (`447968900002`) are read as international. A number the numbering plan rejects is
/// refused unless `is_test_number` accepts its E.164 form (sandbox numbers such as
/// `+12001001695` are deliberately outside the plan).
pub fn parse_number(
    input: &str,
    region: Region,
    is_test_number: &dyn Fn(&str) -> bool,
) -> Result<E164, NumberError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(NumberError::Empty);
    }
    if input.len() > MAX_INPUT_LEN {
        return Err(NumberError::TooLong);
    }
    if !input
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '-' | '.' | '(' | ')'))
    {
        return Err(NumberError::BadCharacters);
    }
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 5 || digits.len() > 15 {
        return Err(NumberError::Unparseable);
    }
    let mut candidates = Vec::with_capacity(2);
    if let Ok(p) = phonenumber::parse(Some(region.0), input) {
        candidates.push(p);
    }
    if !input.starts_with('+') {
        if let Ok(p) = phonenumber::parse(None, format!("+{digits}")) {
            candidates.push(p);
        }
    }
    if let Some(p) = candidates.iter().find(|p| p.is_valid()) {
        return Ok(E164 {
            e164: e164_of(p),
            region: p.country().id().map(|id| format!("{id:?}")),
            line_type: line_type_of(p),
        });
    }
    for p in &candidates {
        let e164 = e164_of(p);
        if is_test_number(&e164) {
            return Ok(E164 {
                e164,
                region: p.country().id().map(|id| format!("{id:?}")),
                line_type: LineType::Mobile,
            });
        }
    }
    match candidates.first() {
        Some(p) => Err(NumberError::Invalid(e164_of(p))),
        None => Err(NumberError::Unparseable),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn reads_e164_and_national_forms() {
        let a = parse_number("+1 (201) 555-0100", Region::US, &none).expect("e164");
        let b = parse_number("2015550100", Region::US, &none).expect("national");
        assert_eq!(a.as_str(), "+12015550100");
        assert_eq!(a, b);
        assert_eq!(a.region(), Some("US"));
        assert_eq!(a.digits(), "12015550100");
    }

    #[test]
    fn reads_international_digits_without_plus() {
        let n = parse_number("447968900002", Region::US, &none).expect("uk");
        assert_eq!(n.as_str(), "+447968900002");
        assert_eq!(n.region(), Some("GB"));
        assert_eq!(n.line_type(), LineType::Mobile);
    }

    #[test]
    fn refuses_numbers_outside_the_plan_unless_test_numbers() {
        let err = parse_number("2001001695", Region::US, &none).expect_err("invalid");
        assert!(
            matches!(err, NumberError::Invalid(ref n) if n == "+12001001695"),
            "{err:?}"
        );
        let ok = parse_number("2001001695", Region::US, &|n| n == "+12001001695")
            .expect("sandbox number");
        assert_eq!(ok.as_str(), "+12001001695");
    }

    #[test]
    fn refuses_garbage_with_reasons() {
        assert_eq!(parse_number("", Region::US, &none), Err(NumberError::Empty));
        assert_eq!(
            parse_number("12ab", Region::US, &none),
            Err(NumberError::BadCharacters)
        );
        assert_eq!(
            parse_number("123", Region::US, &none),
            Err(NumberError::Unparseable)
        );
        assert_eq!(
            parse_number(&"1".repeat(40), Region::US, &none),
            Err(NumberError::TooLong)
        );
    }

    #[test]
    fn stored_numbers_round_trip() {
        let n = parse_number("+447968900002", Region::US, &none).expect("uk");
        let back = E164::from_stored(n.as_str()).expect("stored");
        assert_eq!(back.as_str(), n.as_str());
        assert!(E164::from_stored("12015550100").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_number(&s, Region::US, &none);
        }
    }
}
