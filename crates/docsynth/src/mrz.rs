//! Builds ICAO 9303 machine readable zones from fields: check digits (weights 7-3-1) and the
//! line layouts of TD1, TD2, TD3, MRV-A and MRV-B.
//!
//! Written apart from the engine's parser on purpose, so that it can serve as an independent
//! oracle: the engine reads what this module writes.

use anyhow::{bail, ensure, Result};
use chrono::NaiveDate;

/// The MRZ layouts of ICAO 9303.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MrzFormat {
    /// ID card, 3 lines of 30 characters.
    Td1,
    /// ID card, 2 lines of 36 characters.
    Td2,
    /// Passport, 2 lines of 44 characters.
    Td3,
    /// Full-size visa, 2 lines of 44 characters, no composite check digit.
    MrvA,
    /// Small visa, 2 lines of 36 characters, no composite check digit.
    MrvB,
}

impl MrzFormat {
    /// Characters per line.
    pub fn line_len(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            MrzFormat::Td2 | MrzFormat::MrvB => 36,
            MrzFormat::Td3 | MrzFormat::MrvA => 44,
        }
    }

    /// Number of lines.
    pub fn lines(self) -> usize {
        match self {
            MrzFormat::Td1 => 3,
            _ => 2,
        }
    }

    /// The name used in `expected.json` ("TD1", "MRV-A", ...).
    pub fn label(self) -> &'static str {
        match self {
            MrzFormat::Td1 => "TD1",
            MrzFormat::Td2 => "TD2",
            MrzFormat::Td3 => "TD3",
            MrzFormat::MrvA => "MRV-A",
            MrzFormat::MrvB => "MRV-B",
        }
    }

    /// Width of the name field on the line that carries the name.
    pub fn name_len(self) -> usize {
        match self {
            MrzFormat::Td1 => 30,
            _ => self.line_len() - 5,
        }
    }

    /// Width of the free optional-data field (TD3: the personal number; TD1: the one on line 1).
    pub fn optional_len(self) -> usize {
        match self {
            MrzFormat::Td1 => 15,
            MrzFormat::Td2 => 7,
            MrzFormat::Td3 => 14,
            MrzFormat::MrvA => 16,
            MrzFormat::MrvB => 8,
        }
    }
}

/// The fields that an MRZ carries. Text fields hold `A`–`Z`, `0`–`9` and spaces (names) —
/// spaces become `<` fillers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrzFields {
    pub format: MrzFormat,
    /// One or two letters: "P", "PD", "I", "ID", "V"...
    pub document_code: String,
    /// One to three letters ("D", "UTO").
    pub issuing_country: String,
    pub surname: String,
    pub given_names: String,
    /// Up to nine characters.
    pub document_number: String,
    pub nationality: String,
    pub birth: NaiveDate,
    /// 'M', 'F' or '<' (unspecified; shown as X in the visual zone).
    pub sex: char,
    pub expiry: NaiveDate,
    /// TD3 personal number, TD1 line-1 optional data, TD2/MRV optional data.
    pub optional: String,
    /// TD1 line-2 optional data (11 characters); empty elsewhere.
    pub optional2: String,
}

/// ICAO 9303 check digit: weights 7, 3, 1 repeating; digits count as themselves, letters
/// A–Z as 10–35, the filler `<` as 0. Returns `None` for a character outside that set.
pub fn check_digit(field: &str) -> Option<char> {
    let mut sum = 0u32;
    for (i, c) in field.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            '<' => 0,
            _ => return None,
        };
        sum += v * [7, 3, 1][i % 3];
    }
    char::from_digit(sum % 10, 10)
}

fn cd(field: &str) -> char {
    // Every field passed here went through `field()`, which only lets the MRZ alphabet in.
    check_digit(field).unwrap_or('0')
}

/// Pads `value` (spaces become fillers) with `<` to `len`; fails if it is longer or holds a
/// character outside the MRZ alphabet.
fn field(value: &str, len: usize, what: &str) -> Result<String> {
    let s: String = value
        .trim()
        .chars()
        .map(|c| if c == ' ' { '<' } else { c })
        .collect();
    ensure!(
        s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '<'),
        "{what} {value:?} holds characters outside A-Z 0-9"
    );
    ensure!(
        s.len() <= len,
        "{what} {value:?} is longer than {len} characters"
    );
    Ok(format!("{s:<<len$}"))
}

fn date(d: NaiveDate) -> String {
    d.format("%y%m%d").to_string()
}

/// The name field: surname, `<<`, given names; words joined by `<`.
pub fn name_field(surname: &str, given_names: &str, len: usize) -> Result<String> {
    let join = |s: &str| s.split_whitespace().collect::<Vec<_>>().join("<");
    let sur = join(surname);
    let giv = join(given_names);
    ensure!(!sur.is_empty(), "empty surname");
    let name = if giv.is_empty() {
        sur
    } else {
        format!("{sur}<<{giv}")
    };
    field(&name, len, "name")
}

/// Builds the MRZ lines for `f`.
pub fn build(f: &MrzFields) -> Result<Vec<String>> {
    let fmt = f.format;
    ensure!(matches!(f.sex, 'M' | 'F' | '<'), "sex must be M, F or <");
    let code = field(&f.document_code, 2, "document code")?;
    let first = code.chars().next().unwrap_or('<');
    let expected_first = match fmt {
        MrzFormat::Td3 => 'P',
        MrzFormat::MrvA | MrzFormat::MrvB => 'V',
        MrzFormat::Td1 | MrzFormat::Td2 => first, // I, A or C
    };
    ensure!(
        first == expected_first && first != '<',
        "document code {code} does not fit {}",
        fmt.label()
    );
    let issuer = field(&f.issuing_country, 3, "issuing country")?;
    let nat = field(&f.nationality, 3, "nationality")?;
    let number = field(&f.document_number, 9, "document number")?;
    let number_cd = format!("{number}{}", cd(&number));
    let birth = date(f.birth);
    let birth_cd = format!("{birth}{}", cd(&birth));
    let expiry = date(f.expiry);
    let expiry_cd = format!("{expiry}{}", cd(&expiry));
    let sex = f.sex;
    let optional = field(&f.optional, fmt.optional_len(), "optional data")?;
    let name = name_field(&f.surname, &f.given_names, fmt.name_len())?;
    if fmt != MrzFormat::Td1 {
        ensure!(f.optional2.is_empty(), "optional2 is for TD1 only");
    }

    let lines = match fmt {
        MrzFormat::Td3 => {
            // An empty personal number may carry `<` as its check digit (ICAO 9303-4 4.2.2.2).
            let opt_cd = if optional.chars().all(|c| c == '<') {
                '<'
            } else {
                cd(&optional)
            };
            let personal = format!("{optional}{opt_cd}");
            let composite = cd(&format!("{number_cd}{birth_cd}{expiry_cd}{personal}"));
            vec![
                format!("{code}{issuer}{name}"),
                format!("{number_cd}{nat}{birth_cd}{sex}{expiry_cd}{personal}{composite}"),
            ]
        }
        MrzFormat::Td2 => {
            let composite = cd(&format!("{number_cd}{birth_cd}{expiry_cd}{optional}"));
            vec![
                format!("{code}{issuer}{name}"),
                format!("{number_cd}{nat}{birth_cd}{sex}{expiry_cd}{optional}{composite}"),
            ]
        }
        MrzFormat::Td1 => {
            let optional2 = field(&f.optional2, 11, "optional data 2")?;
            let line1 = format!("{code}{issuer}{number_cd}{optional}");
            let composite = cd(&format!("{}{birth_cd}{expiry_cd}{optional2}", &line1[5..]));
            vec![
                line1,
                format!("{birth_cd}{sex}{expiry_cd}{nat}{optional2}{composite}"),
                name,
            ]
        }
        MrzFormat::MrvA | MrzFormat::MrvB => vec![
            format!("{code}{issuer}{name}"),
            format!("{number_cd}{nat}{birth_cd}{sex}{expiry_cd}{optional}"),
        ],
    };
    for line in &lines {
        if line.len() != fmt.line_len() {
            bail!(
                "internal: {} line of {} characters: {line}",
                fmt.label(),
                line.len()
            );
        }
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn eriksson(format: MrzFormat, code: &str, number: &str, optional: &str) -> MrzFields {
        MrzFields {
            format,
            document_code: code.into(),
            issuing_country: "UTO".into(),
            surname: "ERIKSSON".into(),
            given_names: "ANNA MARIA".into(),
            document_number: number.into(),
            nationality: "UTO".into(),
            birth: d(1974, 8, 12),
            sex: 'F',
            expiry: d(2012, 4, 15),
            optional: optional.into(),
            optional2: String::new(),
        }
    }

    fn visa(format: MrzFormat, optional: &str) -> MrzFields {
        MrzFields {
            document_number: "L8988901C".into(),
            nationality: "XXX".into(),
            birth: d(1940, 9, 7),
            expiry: d(1996, 12, 10),
            ..eriksson(format, "V", "", optional)
        }
    }

    /// The ICAO 9303 specimens, as in `shared/eval/mrz/specimens.txt` (kept here too so the
    /// test runs where that folder is absent).
    fn specimens() -> Vec<(MrzFields, Vec<&'static str>)> {
        vec![
            (
                eriksson(MrzFormat::Td3, "P", "L898902C3", "ZE184226B"),
                vec![
                    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
                ],
            ),
            (
                eriksson(MrzFormat::Td2, "I", "D23145890", ""),
                vec![
                    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                    "D231458907UTO7408122F1204159<<<<<<<6",
                ],
            ),
            (
                eriksson(MrzFormat::Td1, "I", "D23145890", ""),
                vec![
                    "I<UTOD231458907<<<<<<<<<<<<<<<",
                    "7408122F1204159UTO<<<<<<<<<<<6",
                    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
                ],
            ),
            (
                visa(MrzFormat::MrvA, "6ZE184226B"),
                vec![
                    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
                    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
                ],
            ),
            (
                visa(MrzFormat::MrvB, ""),
                vec![
                    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
                    "L8988901C4XXX4009078F9612109<<<<<<<<",
                ],
            ),
        ]
    }

    #[test]
    fn builder_reproduces_icao_specimens() {
        for (fields, lines) in specimens() {
            assert_eq!(
                build(&fields).expect("builds"),
                lines,
                "{}",
                fields.format.label()
            );
        }
    }

    #[test]
    fn specimens_file_matches_the_embedded_copy() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/eval/mrz/specimens.txt");
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {} not present", path.display());
            return;
        };
        let file_lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        let ours: Vec<String> = specimens()
            .iter()
            .flat_map(|(f, _)| build(f).expect("builds"))
            .collect();
        assert_eq!(file_lines, ours);
    }

    #[test]
    fn check_digit_examples() {
        assert_eq!(check_digit("L898902C3"), Some('6'));
        assert_eq!(check_digit("740812"), Some('2'));
        assert_eq!(check_digit("<<<<<<<<<"), Some('0'));
        assert_eq!(check_digit("ab"), None);
    }

    #[test]
    fn rejects_fields_that_do_not_fit() {
        let mut f = eriksson(MrzFormat::Td1, "I", "D23145890", "");
        f.surname = "A VERY LONG SURNAME THAT DOES NOT FIT".into();
        assert!(build(&f).is_err());
        let mut f = eriksson(MrzFormat::Td3, "P", "D231458901", "");
        assert!(build(&f).is_err(), "ten-character document number");
        f.document_number = "d2314589".into();
        assert!(build(&f).is_err(), "lowercase");
    }

    #[test]
    fn td3_with_full_personal_number_has_no_filler() {
        let mut f = eriksson(MrzFormat::Td3, "P", "X12345678", "AB1234567890CD");
        f.nationality = "DEU".into();
        f.sex = 'M';
        let lines = build(&f).expect("builds");
        assert!(!lines[1].contains('<'), "{}", lines[1]);
    }
}
