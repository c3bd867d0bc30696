//! Writing an MRZ from field values, for synthetic documents and tests.

use chrono::NaiveDate;

use super::check;
use super::dates::yymmdd;
use super::layout::{at, layout, set, Cell, Grid, Span};
use super::Format;

/// Field values for [`build`]. Text is cleaned the way ICAO 9303 Part 3 asks: upper case,
/// Latin letters with diacritics transliterated (`Ä` → `AE`, `É` → `E`, `ß` → `SS`, …),
/// spaces and hyphens in names and data becoming `<`, other characters dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrzFields {
    /// The format to write.
    pub format: Format,
    /// `"P"`, `"ID"`, `"IR"`, `"V"`, … (two characters at most). Empty: `P` for TD3, `I` for
    /// TD1/TD2, `V` for visas. It should fit the format (`P` for TD3, `V` for visas), or
    /// the result reads as another format.
    pub document_code: String,
    /// Issuing state or organisation (`"D"`, `"NLD"`, `"UTO"`).
    pub issuing_country: String,
    /// Letters and digits. In TD1 and TD2 a number over 9 characters continues in the
    /// optional data (up to 22 characters in TD1, 14 in TD2); TD3 and visas keep the
    /// first 9.
    pub document_number: String,
    /// Primary identifier.
    pub surname: String,
    /// Secondary identifiers, space separated; may be empty.
    pub given_names: String,
    /// Nationality code.
    pub nationality: String,
    /// Date of birth.
    pub date_of_birth: NaiveDate,
    /// `"M"`, `"F"`; anything else is written as `<` (unspecified, read back as `"X"`).
    pub sex: String,
    /// Date of expiry.
    pub expiry_date: NaiveDate,
    /// TD3 only (14 characters at most); ignored by the other formats.
    pub personal_number: String,
    /// Optional data (TD1/TD2/visas; ignored by TD3). In TD1, text before the first space
    /// goes to line 1's optional field, the rest to line 2's. Truncated to fit.
    pub optional_data: String,
}

/// The MRZ lines for `fields`, with every check digit computed. The name is truncated
/// character by character if it does not fit its field.
pub fn build(fields: &MrzFields) -> Vec<String> {
    let format = fields.format;
    let lay = layout(format);
    let mut grid: Grid = vec![vec![b'<'; lay.line_len]; lay.lines];

    let code = alnum(&fields.document_code);
    let code = if code.is_empty() {
        match format {
            Format::Td3 => b"P".to_vec(),
            Format::Td1 | Format::Td2 => b"I".to_vec(),
            Format::MrvA | Format::MrvB => b"V".to_vec(),
        }
    } else {
        code
    };
    put(&mut grid, lay.code.cells(), &code);
    put(
        &mut grid,
        lay.issuer.cells(),
        &letters(&fields.issuing_country),
    );
    put(
        &mut grid,
        lay.name.cells(),
        &name_field(&fields.surname, &fields.given_names),
    );
    put(
        &mut grid,
        lay.nationality.cells(),
        &letters(&fields.nationality),
    );

    let mut optional: Vec<Vec<Cell>> = lay.optional.iter().map(|s| s.cells().collect()).collect();
    let number = alnum(&fields.document_number);
    let (head, tail) = number.split_at(number.len().min(9));
    put(&mut grid, lay.number.cells(), head);
    match optional.first_mut() {
        Some(first) if lay.long_numbers && !tail.is_empty() => {
            // ICAO 9303 Parts 5 and 6: `<` in the check digit position, the rest of the
            // number at the start of the optional data, its check digit, then `<`.
            let tail = &tail[..tail.len().min(first.len().saturating_sub(2))];
            let whole: Vec<u8> = head.iter().chain(tail).copied().collect();
            let mut continuation = tail.to_vec();
            continuation.push(digit_char(check::digit(whole)));
            continuation.push(b'<');
            put(&mut grid, first.iter().copied(), &continuation);
            first.drain(..continuation.len().min(first.len()));
            set(&mut grid, lay.number_check.cell(), b'<');
        }
        _ => write_check(&mut grid, lay.number.cells(), lay.number_check),
    }

    put(
        &mut grid,
        lay.birth.cells(),
        yymmdd(fields.date_of_birth).as_bytes(),
    );
    write_check(&mut grid, lay.birth.cells(), lay.birth_check);
    let sex = match fields.sex.trim() {
        "M" | "m" => b'M',
        "F" | "f" => b'F',
        _ => b'<',
    };
    set(&mut grid, lay.sex.cell(), sex);
    put(
        &mut grid,
        lay.expiry.cells(),
        yymmdd(fields.expiry_date).as_bytes(),
    );
    write_check(&mut grid, lay.expiry.cells(), lay.expiry_check);

    if let Some((personal, check)) = lay.personal {
        put(&mut grid, personal.cells(), &data(&fields.personal_number));
        if personal.cells().all(|c| at(&grid, c) == b'<') {
            set(&mut grid, check.cell(), b'<');
        } else {
            write_check(&mut grid, personal.cells(), check);
        }
    }
    match (format, optional.as_slice()) {
        (Format::Td1, [first, second]) => {
            let (one, two) = fields
                .optional_data
                .split_once(' ')
                .unwrap_or((&fields.optional_data, ""));
            put(&mut grid, first.iter().copied(), &data(one));
            put(&mut grid, second.iter().copied(), &data(two));
        }
        (_, [only, ..]) => put(
            &mut grid,
            only.iter().copied(),
            &data(&fields.optional_data),
        ),
        _ => {}
    }
    if let Some((spans, check)) = lay.composite {
        write_check(&mut grid, spans.iter().flat_map(|s| s.cells()), check);
    }
    grid.into_iter()
        .map(|row| row.into_iter().map(char::from).collect())
        .collect()
}

fn put(grid: &mut Grid, cells: impl Iterator<Item = Cell>, bytes: &[u8]) {
    for (cell, &b) in cells.zip(bytes) {
        set(grid, cell, b);
    }
}

fn digit_char(d: Option<u8>) -> u8 {
    b'0' + d.unwrap_or(0)
}

fn write_check(grid: &mut Grid, cells: impl Iterator<Item = Cell>, check: Span) {
    let d = check::digit(cells.map(|c| at(grid, c)).collect::<Vec<_>>());
    set(grid, check.cell(), digit_char(d));
}

/// Letters and digits, upper-cased; everything else dropped.
fn alnum(s: &str) -> Vec<u8> {
    s.bytes()
        .map(|b| b.to_ascii_uppercase())
        .filter(u8::is_ascii_alphanumeric)
        .collect()
}

/// Letters only, upper-cased (country codes).
fn letters(s: &str) -> Vec<u8> {
    s.bytes()
        .map(|b| b.to_ascii_uppercase())
        .filter(u8::is_ascii_uppercase)
        .collect()
}

/// Optional data: letters and digits, with spaces, hyphens and `<` as fillers.
fn data(s: &str) -> Vec<u8> {
    s.chars()
        .filter_map(|c| match c.to_ascii_uppercase() {
            c @ ('A'..='Z' | '0'..='9') => u8::try_from(c).ok(),
            ' ' | '-' | '<' => Some(b'<'),
            _ => None,
        })
        .collect()
}

/// `SURNAME<<GIVEN<NAMES`, cleaned; without given names just the surname.
fn name_field(surname: &str, given_names: &str) -> Vec<u8> {
    let mut field = name_words(surname);
    let given = name_words(given_names);
    if !given.is_empty() {
        field.extend_from_slice(b"<<");
        field.extend_from_slice(&given);
    }
    field
}

/// The words of a name, transliterated, joined by single fillers.
fn name_words(name: &str) -> Vec<u8> {
    let mut words: Vec<Vec<u8>> = vec![Vec::new()];
    for c in name.chars().flat_map(char::to_uppercase) {
        if let Some(letters) = latin(c) {
            if let Some(word) = words.last_mut() {
                word.extend_from_slice(letters.as_bytes());
            }
        } else if c.is_whitespace() || matches!(c, '-' | '<' | ',') {
            words.push(Vec::new());
        }
        // Apostrophes, dots and anything else unrepresentable are dropped.
    }
    words.retain(|w| !w.is_empty());
    words.join(&b'<')
}

/// An upper-case letter as MRZ letters (ICAO 9303 Part 3 §6 for the Latin ones).
fn latin(c: char) -> Option<&'static str> {
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    if c.is_ascii_uppercase() {
        let i = usize::from(u8::try_from(c).ok()? - b'A');
        return ALPHABET.get(i..=i);
    }
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ā' | 'Ă' | 'Ą' => "A",
        'Ä' | 'Æ' => "AE",
        'Å' => "AA",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'Ð' | 'Ď' | 'Đ' => "D",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'Ĥ' | 'Ħ' => "H",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'Ĳ' => "IJ",
        'Ĵ' => "J",
        'Ķ' => "K",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'Ö' | 'Ø' | 'Œ' => "OE",
        'Ŕ' | 'Ŗ' | 'Ř' => "R",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => "S",
        'Ţ' | 'Ť' | 'Ŧ' => "T",
        'Þ' => "TH",
        'Ù' | 'Ú' | 'Û' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'Ü' => "UE",
        'Ŵ' => "W",
        'Ý' | 'Ÿ' | 'Ŷ' => "Y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_transliterated() {
        assert_eq!(
            name_field("Müller-Lüdenscheidt", "Jörg Ærø"),
            b"MUELLER<LUEDENSCHEIDT<<JOERG<AEROE"
        );
        assert_eq!(name_field("O'Brien", ""), b"OBRIEN");
        assert_eq!(name_field("Straße", "José  Ñuño"), b"STRASSE<<JOSE<NUNO");
    }

    #[test]
    fn optional_data_keeps_letters_digits_and_fillers() {
        assert_eq!(data("ab-12 c<"), b"AB<12<C<");
    }
}
