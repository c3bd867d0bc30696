//! Invented people and document numbers, drawn from small built-in lists with a seeded RNG.

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;

/// Sex as printed: M, F or X (X is `<` in an MRZ and 9 in an AAMVA record).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sex {
    M,
    F,
    X,
}

impl Sex {
    /// The letter used in `expected.json` and the visual zone.
    pub fn letter(self) -> char {
        match self {
            Sex::M => 'M',
            Sex::F => 'F',
            Sex::X => 'X',
        }
    }

    /// The MRZ character.
    pub fn mrz(self) -> char {
        match self {
            Sex::X => '<',
            s => s.letter(),
        }
    }

    /// The AAMVA `DBC` code.
    pub fn aamva(self) -> char {
        match self {
            Sex::M => '1',
            Sex::F => '2',
            Sex::X => '9',
        }
    }
}

/// An invented person.
#[derive(Clone, Debug)]
pub struct Person {
    /// Uppercase A–Z words separated by single spaces.
    pub surname: String,
    pub given_names: String,
    pub sex: Sex,
    pub birth: NaiveDate,
    /// ICAO code of the nationality ("D", "UTO", "FRA").
    pub nationality: String,
}

const SURNAMES: &[&str] = &[
    "ERIKSSON",
    "MUELLER",
    "GARCIA",
    "NGUYEN",
    "SMITH",
    "JOHNSON",
    "KOWALSKI",
    "ROSSI",
    "DUBOIS",
    "OKAFOR",
    "TANAKA",
    "KIM",
    "SILVA",
    "PETROV",
    "HANSEN",
    "MURPHY",
    "COHEN",
    "ALI",
    "SINGH",
    "ANDERSSON",
    "LEFEBVRE",
    "BIANCHI",
    "NOVAK",
    "PAPADOPOULOS",
    "OLIVEIRA",
    "WANG",
    "JENSEN",
    "VAN DER BERG",
    "DE LA CRUZ",
    "GARCIA LOPEZ",
    "DA SILVA SANTOS",
    "MAC LEOD",
    "VON ESSEN",
    "SMITH JONES",
    "EL AMRANI",
    "BEN DAVID",
    "ABU BAKR",
    "LE",
    "O",
    "WU",
];

const MALE: &[&str] = &[
    "JOHN", "PETER", "AHMED", "LUCAS", "KENJI", "MIGUEL", "OLIVER", "IVAN", "LARS", "RAJ", "DAVID",
    "JEAN", "PAUL", "MARCO", "TOMASZ", "CHIDI", "WEI", "JAMES", "NOAH", "KARL",
];
const FEMALE: &[&str] = &[
    "ANNA", "MARIA", "SOFIA", "AMIRA", "YUKI", "CHLOE", "EMMA", "OLGA", "INGRID", "PRIYA", "GRACE",
    "LUCIA", "CLAIRE", "ELENA", "ZOFIA", "ADAEZE", "MEI", "SARAH", "MIA", "HANNA",
];
const NEUTRAL: &[&str] = &[
    "ALEX", "SAM", "ROBIN", "KIM", "JORDAN", "ANDREA", "NOA", "SASHA", "RILEY", "CHARLIE",
];

/// Real ISO 3166-1 alpha-3 codes with a name for the visual zone, plus ICAO's "D" (Germany)
/// and the specimen state "UTO".
pub const COUNTRIES: &[(&str, &str)] = &[
    ("UTO", "UTOPIA"),
    ("D", "BUNDESREPUBLIK DEUTSCHLAND"),
    ("FRA", "REPUBLIQUE FRANCAISE"),
    ("NLD", "KONINKRIJK DER NEDERLANDEN"),
    ("GBR", "UNITED KINGDOM"),
    ("USA", "UNITED STATES OF AMERICA"),
    ("CAN", "CANADA"),
    ("ESP", "REINO DE ESPANA"),
    ("ITA", "REPUBBLICA ITALIANA"),
    ("SWE", "SVERIGE"),
    ("NOR", "NORGE"),
    ("POL", "RZECZPOSPOLITA POLSKA"),
    ("BRA", "REPUBLICA FEDERATIVA DO BRASIL"),
    ("MEX", "ESTADOS UNIDOS MEXICANOS"),
    ("JPN", "JAPAN"),
    ("KOR", "REPUBLIC OF KOREA"),
    ("IND", "REPUBLIC OF INDIA"),
    ("NGA", "FEDERAL REPUBLIC OF NIGERIA"),
    ("KEN", "REPUBLIC OF KENYA"),
    ("AUS", "AUSTRALIA"),
    ("NZL", "NEW ZEALAND"),
    ("IRL", "EIRE IRELAND"),
    ("PRT", "REPUBLICA PORTUGUESA"),
    ("CHE", "SCHWEIZ SUISSE SVIZZERA"),
    ("AUT", "REPUBLIK OESTERREICH"),
    ("BEL", "BELGIQUE BELGIE"),
    ("DNK", "DANMARK"),
    ("FIN", "SUOMI FINLAND"),
    ("EST", "EESTI"),
    ("CZE", "CESKA REPUBLIKA"),
    ("GRC", "HELLENIC REPUBLIC"),
    ("TUR", "TURKIYE CUMHURIYETI"),
    ("EGY", "ARAB REPUBLIC OF EGYPT"),
    ("ZAF", "REPUBLIC OF SOUTH AFRICA"),
    ("ARG", "REPUBLICA ARGENTINA"),
    ("CHL", "REPUBLICA DE CHILE"),
    ("PHL", "REPUBLIC OF THE PHILIPPINES"),
    ("VNM", "VIET NAM"),
    ("SGP", "REPUBLIC OF SINGAPORE"),
];

/// The visual-zone name of a country code (the code itself when unknown).
pub fn country_name(code: &str) -> &str {
    COUNTRIES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(code, |(_, n)| n)
}

/// A random ICAO country code; `letters_only` excludes "D" (which carries fillers).
pub fn country<R: Rng>(rng: &mut R, letters_only: bool) -> String {
    loop {
        let (code, _) = COUNTRIES[rng.gen_range(0..COUNTRIES.len())];
        if !letters_only || code.len() == 3 {
            return code.to_string();
        }
    }
}

/// A uniformly random date in `[from, to]`.
pub fn date_between<R: Rng>(rng: &mut R, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let days = (to - from).num_days().max(0);
    from + Duration::days(rng.gen_range(0..=days))
}

/// `d` moved by whole years, 28 February standing in for 29 February.
pub fn add_years(d: NaiveDate, years: i32) -> NaiveDate {
    d.with_year(d.year() + years)
        .or_else(|| NaiveDate::from_ymd_opt(d.year() + years, 2, 28))
        .unwrap_or(d)
}

/// A fixed calendar date (the arguments are constants in this crate).
pub fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// A random person. Birth dates lie in 1940–2007 so that the two-digit MRZ year resolves
/// unambiguously under "birth is in the past".
pub fn person<R: Rng>(rng: &mut R, letters_only_nationality: bool) -> Person {
    let sex = match rng.gen_range(0..20) {
        0..=8 => Sex::M,
        9..=17 => Sex::F,
        _ => Sex::X,
    };
    let pool = match sex {
        Sex::M => MALE,
        Sex::F => FEMALE,
        Sex::X => NEUTRAL,
    };
    let count = match rng.gen_range(0..10) {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let given: Vec<&str> = pool.choose_multiple(rng, count).copied().collect();
    Person {
        surname: SURNAMES.choose(rng).copied().unwrap_or("DOE").to_string(),
        given_names: given.join(" "),
        sex,
        birth: date_between(rng, ymd(1940, 1, 1), ymd(2007, 12, 31)),
        nationality: country(rng, letters_only_nationality),
    }
}

impl Person {
    /// Drops trailing given names until `surname<<given` fits `len` MRZ characters; `None` if
    /// even the surname with one given name does not fit.
    pub fn fit_name(&mut self, len: usize) -> Option<()> {
        loop {
            let n = self.surname.len() + 2 + self.given_names.len();
            if n <= len {
                return Some(());
            }
            let mut words: Vec<&str> = self.given_names.split(' ').collect();
            if words.len() <= 1 {
                return None;
            }
            words.pop();
            self.given_names = words.join(" ");
        }
    }
}

fn alnum<R: Rng>(rng: &mut R, letters: bool) -> char {
    if letters {
        (b'A' + rng.gen_range(0..26)) as char
    } else {
        (b'0' + rng.gen_range(0..10)) as char
    }
}

/// A document number of `len` characters in one of a few national styles.
pub fn document_number<R: Rng>(rng: &mut R, len: usize) -> String {
    let style = rng.gen_range(0..4);
    (0..len)
        .map(|i| match style {
            0 => alnum(rng, i < 2),  // AB1234567
            1 => alnum(rng, i == 0), // L12345678
            2 => alnum(rng, false),  // 123456789
            _ => {
                let letter = rng.gen_bool(0.35); // mixed, like L898902C3
                alnum(rng, letter)
            }
        })
        .collect()
}

/// `len` random digits.
pub fn digits<R: Rng>(rng: &mut R, len: usize) -> String {
    (0..len).map(|_| alnum(rng, false)).collect()
}

/// `len` random letters and digits.
pub fn mixed<R: Rng>(rng: &mut R, len: usize) -> String {
    (0..len)
        .map(|_| {
            let letter = rng.gen_bool(0.4);
            alnum(rng, letter)
        })
        .collect()
}
