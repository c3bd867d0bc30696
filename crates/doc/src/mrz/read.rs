//! Reading a grid of the right shape: OCR confusions repaired by field type and check
//! digits, then the fields, the check digits and the problems.

use chrono::NaiveDate;

use super::check;
use super::codes::is_known_code;
use super::dates::{self, DateRead};
use super::layout::{at, layout, set, text, Cell, Grid, Layout, Span};
use super::{Correction, CorrectionKind, DigitCheck, DocumentType, Field, Format, Mrz, Problem};

/// Most confusable characters tried in one field: 2^8 readings.
const MAX_CONFUSABLE: usize = 8;
/// Most combinations of field readings checked against the composite.
const MAX_COMBINATIONS: usize = 4096;

/// Reads `grid` (lines of `format`'s length, MRZ characters only). `corrections` holds
/// what was already done to the lines (filler repairs); confusion repairs are added.
pub(crate) fn read(
    format: Format,
    mut grid: Grid,
    mut corrections: Vec<Correction>,
    today: NaiveDate,
) -> Mrz {
    let lay = layout(format);
    let parts = Parts::find(lay, &grid);
    fix_by_type(lay, &parts, &mut grid, &mut corrections);
    fix_name_tail(lay.name, &mut grid, &mut corrections);
    fix_mixed(lay, &parts, &mut grid, &mut corrections);
    extract(format, lay, &parts, grid, corrections, today)
}

/// The fields whose cells depend on the content: a TD1/TD2 document number longer than
/// nine characters takes its continuation and check digit from the optional data.
struct Parts {
    number: Vec<Cell>,
    number_check: Cell,
    optional: Vec<Vec<Cell>>,
}

impl Parts {
    fn find(lay: &Layout, grid: &Grid) -> Parts {
        let mut parts = Parts {
            number: lay.number.cells().collect(),
            number_check: lay.number_check.cell(),
            optional: lay.optional.iter().map(|s| s.cells().collect()).collect(),
        };
        let full = parts.number.last().is_some_and(|&c| at(grid, c) != b'<');
        if !(lay.long_numbers && full && at(grid, parts.number_check) == b'<') {
            return parts;
        }
        let Some(first) = parts.optional.first_mut() else {
            return parts;
        };
        let n = first
            .iter()
            .position(|&c| at(grid, c) == b'<')
            .unwrap_or(first.len());
        let mut rest = first.split_off(n);
        if let Some((&check, continuation)) = first.split_last() {
            parts.number.extend_from_slice(continuation);
            parts.number_check = check;
            if !rest.is_empty() {
                rest.remove(0); // the filler that ends the number
            }
            *first = rest;
        } else {
            *first = rest; // n == 0: no continuation, the check digit is simply missing
        }
        parts
    }
}

/// A letter read in a cell that only holds digits, and the digit it stands for.
fn to_digit(c: u8) -> Option<u8> {
    match c {
        b'O' | b'Q' | b'D' => Some(b'0'),
        b'I' => Some(b'1'),
        b'Z' => Some(b'2'),
        b'S' => Some(b'5'),
        b'G' => Some(b'6'),
        b'B' => Some(b'8'),
        _ => None,
    }
}

/// A digit read in a cell that only holds letters, and the letter it stands for.
fn to_letter(c: u8) -> Option<u8> {
    match c {
        b'0' => Some(b'O'),
        b'1' => Some(b'I'),
        b'2' => Some(b'Z'),
        b'5' => Some(b'S'),
        b'8' => Some(b'B'),
        _ => None,
    }
}

/// The other reading of a character OCR confuses in fields holding letters and digits.
fn other_reading(c: u8) -> Option<u8> {
    to_letter(c).or(match c {
        b'O' => Some(b'0'),
        b'I' => Some(b'1'),
        b'Z' => Some(b'2'),
        b'S' => Some(b'5'),
        b'B' => Some(b'8'),
        _ => None,
    })
}

fn confusion(grid: &mut Grid, cell: Cell, to: u8, corrections: &mut Vec<Correction>) {
    corrections.push(Correction {
        line: cell.0 + 1,
        column: cell.1 + 1,
        kind: CorrectionKind::Confusion,
        from: Some(char::from(at(grid, cell))),
        to: Some(char::from(to)),
    });
    set(grid, cell, to);
}

/// Cells that hold only digits (or `<` where ICAO allows it).
fn numeric_cells(lay: &Layout, parts: &Parts) -> Vec<Cell> {
    let mut cells: Vec<Cell> = lay.birth.cells().chain(lay.expiry.cells()).collect();
    cells.extend([
        parts.number_check,
        lay.birth_check.cell(),
        lay.expiry_check.cell(),
    ]);
    if let Some((_, check)) = lay.personal {
        cells.push(check.cell());
    }
    if let Some((_, check)) = lay.composite {
        cells.push(check.cell());
    }
    cells
}

/// Cells that hold only letters (or `<`). The document code's second character is left
/// out: issuers use it freely.
fn alpha_cells(lay: &Layout) -> Vec<Cell> {
    let mut cells = vec![lay.code.cell()];
    cells.extend(
        lay.issuer
            .cells()
            .chain(lay.nationality.cells())
            .chain(lay.name.cells()),
    );
    cells
}

fn fix_by_type(lay: &Layout, parts: &Parts, grid: &mut Grid, corrections: &mut Vec<Correction>) {
    for cell in numeric_cells(lay, parts) {
        if let Some(d) = to_digit(at(grid, cell)) {
            confusion(grid, cell, d, corrections);
        }
    }
    for cell in alpha_cells(lay) {
        if let Some(l) = to_letter(at(grid, cell)) {
            confusion(grid, cell, l, corrections);
        }
    }
}

/// `K`s read for fillers at the end of a name (see the module documentation).
fn fix_name_tail(name: Span, grid: &mut Grid, corrections: &mut Vec<Correction>) {
    let cells: Vec<Cell> = name.cells().collect();
    let tail_start = cells
        .iter()
        .rposition(|&c| !matches!(at(grid, c), b'K' | b'<'))
        .map_or(0, |i| i + 1);
    let tail = cells.get(tail_start..).unwrap_or_default();
    let Some(first_filler) = tail.iter().position(|&c| at(grid, c) == b'<') else {
        return;
    };
    let ks: Vec<Cell> = tail
        .iter()
        .skip(first_filler)
        .copied()
        .filter(|&c| at(grid, c) == b'K')
        .collect();
    if ks.len() >= 3 {
        for cell in ks {
            confusion(grid, cell, b'<', corrections);
        }
    }
}

/// Whether the check digit at `check` matches `cells`. A filler check digit is accepted
/// only where `filler_ok` (the TD3 personal number) and the field is all fillers.
fn digit_ok(
    grid: &Grid,
    cells: impl IntoIterator<Item = Cell>,
    check: Cell,
    filler_ok: bool,
) -> bool {
    let mut all_filler = true;
    let computed = check::digit(cells.into_iter().map(|c| {
        let b = at(grid, c);
        all_filler &= b == b'<';
        b
    }));
    match at(grid, check) {
        d @ b'0'..=b'9' => computed == Some(d - b'0'),
        b'<' => filler_ok && all_filler,
        _ => false,
    }
}

fn composite_ok(grid: &Grid, (spans, check): (&[Span], Span)) -> bool {
    digit_ok(
        grid,
        spans.iter().flat_map(|s| s.cells()),
        check.cell(),
        false,
    )
}

/// A field with its own check digit.
struct Checked {
    cells: Vec<Cell>,
    check: Cell,
    filler_ok: bool,
}

impl Checked {
    fn ok(&self, grid: &Grid) -> bool {
        digit_ok(grid, self.cells.iter().copied(), self.check, self.filler_ok)
    }
}

/// A confusable cell: (cell, as read, other reading).
type Swap = (Cell, u8, u8);

/// The confusable cells of a field; `None` if there are too many to try.
fn swaps(grid: &Grid, cells: &[Cell]) -> Option<Vec<Swap>> {
    let swaps: Vec<Swap> = cells
        .iter()
        .filter_map(|&c| {
            let b = at(grid, c);
            other_reading(b).map(|o| (c, b, o))
        })
        .collect();
    (swaps.len() <= MAX_CONFUSABLE).then_some(swaps)
}

/// Puts the other reading (`on`) or the original back (`!on`) in the cells `mask` selects.
fn flip(grid: &mut Grid, swaps: &[Swap], mask: u32, on: bool) {
    for (i, &(cell, read, other)) in swaps.iter().enumerate() {
        if mask & (1 << i) != 0 {
            set(grid, cell, if on { other } else { read });
        }
    }
}

/// The non-empty selections of `swaps` under which `accept` holds, keeping only those
/// with the fewest swaps: one misread is likelier than two, and a check digit (one
/// value in ten) accepts some reading with several swaps by chance all too often.
fn masks_where(grid: &mut Grid, swaps: &[Swap], accept: impl Fn(&Grid) -> bool) -> Vec<u32> {
    let mut found = Vec::new();
    for mask in 1..(1u32 << swaps.len()) {
        flip(grid, swaps, mask, true);
        if accept(grid) {
            found.push(mask);
        }
        flip(grid, swaps, mask, false);
    }
    let fewest = found.iter().map(|m| m.count_ones()).min().unwrap_or(0);
    found.retain(|m| m.count_ones() == fewest);
    found
}

fn record(grid: &mut Grid, swaps: &[Swap], mask: u32, corrections: &mut Vec<Correction>) {
    for (i, &(cell, _, other)) in swaps.iter().enumerate() {
        if mask & (1 << i) != 0 {
            confusion(grid, cell, other, corrections);
        }
    }
}

fn fix_mixed(lay: &Layout, parts: &Parts, grid: &mut Grid, corrections: &mut Vec<Correction>) {
    let mut fields = vec![Checked {
        cells: parts.number.clone(),
        check: parts.number_check,
        filler_ok: false,
    }];
    if let Some((personal, check)) = lay.personal {
        fields.push(Checked {
            cells: personal.cells().collect(),
            check: check.cell(),
            filler_ok: true,
        });
    }

    // Stage 1: fields with their own check digit. Each offers the readings its digit
    // accepts (or only its reading as printed, when that is valid or nothing else is).
    let options: Vec<(Vec<Swap>, Vec<u32>)> = fields
        .iter()
        .map(|f| {
            if f.ok(grid) {
                return (Vec::new(), vec![0]);
            }
            match swaps(grid, &f.cells) {
                Some(s) => {
                    let masks = masks_where(grid, &s, |g| f.ok(g));
                    if masks.is_empty() {
                        (Vec::new(), vec![0])
                    } else {
                        (s, masks)
                    }
                }
                None => (Vec::new(), vec![0]),
            }
        })
        .collect();
    if options.iter().any(|(_, masks)| masks != &[0]) {
        match lay.composite {
            Some(composite) => {
                let total = options.iter().map(|(_, m)| m.len()).product::<usize>();
                if total <= MAX_COMBINATIONS {
                    let mut hits = 0;
                    let mut chosen = Vec::new();
                    for index in 0..total {
                        let choice = pick(&options, index);
                        for ((s, _), &m) in options.iter().zip(&choice) {
                            flip(grid, s, m, true);
                        }
                        if composite_ok(grid, composite) {
                            hits += 1;
                            chosen = choice.clone();
                        }
                        for ((s, _), &m) in options.iter().zip(&choice) {
                            flip(grid, s, m, false);
                        }
                    }
                    if hits == 1 {
                        for ((s, _), &m) in options.iter().zip(&chosen) {
                            record(grid, s, m, corrections);
                        }
                    }
                }
            }
            None => {
                for (s, masks) in &options {
                    if let [m] = masks[..] {
                        record(grid, s, m, corrections);
                    }
                }
            }
        }
    }

    // Stage 2: optional data has no check digit of its own; only the composite can
    // confirm a reading, and only when every other digit already holds.
    let Some(composite) = lay.composite else {
        return;
    };
    let others_ok = fields.iter().all(|f| f.ok(grid))
        && digit_ok(grid, lay.birth.cells(), lay.birth_check.cell(), false)
        && digit_ok(grid, lay.expiry.cells(), lay.expiry_check.cell(), false);
    if !others_ok || composite_ok(grid, composite) {
        return;
    }
    let cells: Vec<Cell> = parts.optional.concat();
    if let Some(s) = swaps(grid, &cells) {
        if let [m] = masks_where(grid, &s, |g| composite_ok(g, composite))[..] {
            record(grid, &s, m, corrections);
        }
    }
}

/// The `index`-th combination of the fields' options (mixed radix).
fn pick(options: &[(Vec<Swap>, Vec<u32>)], mut index: usize) -> Vec<u32> {
    options
        .iter()
        .map(|(_, masks)| {
            let n = masks.len().max(1);
            let m = masks.get(index % n).copied().unwrap_or(0);
            index /= n;
            m
        })
        .collect()
}

/// The document type for a document code, and whether the code belongs to the format.
fn document_type(code: &str, format: Format) -> (DocumentType, bool) {
    let b = code.as_bytes();
    let first = b.first().copied().unwrap_or(b'<');
    let second = b.get(1).copied().unwrap_or(b'<');
    let by_code = match first {
        b'P' => Some(DocumentType::Passport),
        b'V' => Some(DocumentType::Visa),
        b'A' | b'C' | b'I' if second == b'R' => Some(DocumentType::ResidencePermit),
        b'A' | b'C' | b'I' => Some(DocumentType::IdCard),
        b'R' => Some(DocumentType::ResidencePermit),
        b'D' => Some(DocumentType::DriversLicense),
        _ => None,
    };
    let fits = match format {
        Format::Td3 => first == b'P',
        Format::Td1 | Format::Td2 => matches!(first, b'A' | b'C' | b'I'),
        Format::MrvA | Format::MrvB => first == b'V',
    };
    let fallback = match format {
        Format::Td3 => DocumentType::Passport,
        Format::MrvA | Format::MrvB => DocumentType::Visa,
        Format::Td1 | Format::Td2 => DocumentType::IdCard,
    };
    (by_code.unwrap_or(fallback), fits)
}

/// Surname and given names from a name field.
fn split_name(field: &str) -> (String, String) {
    let words = |s: &str| {
        s.split('<')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    };
    match field.split_once("<<") {
        Some((surname, given)) => (words(surname), words(given)),
        None => (words(field), String::new()),
    }
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn extract(
    format: Format,
    lay: &Layout,
    parts: &Parts,
    grid: Grid,
    corrections: Vec<Correction>,
    today: NaiveDate,
) -> Mrz {
    let mut problems = Vec::new();
    let fillerless = |span: Span| span.text(&grid).trim_end_matches('<').to_string();

    let document_code = fillerless(lay.code);
    let (document_type, fits) = document_type(&document_code, format);
    if !fits {
        problems.push(Problem::UnexpectedDocumentCode {
            code: document_code.clone(),
        });
    }
    let issuing_country = fillerless(lay.issuer);
    let nationality = fillerless(lay.nationality);
    for (field, code) in [
        (Field::IssuingCountry, &issuing_country),
        (Field::Nationality, &nationality),
    ] {
        if !is_known_code(code) {
            problems.push(Problem::UnknownCountryCode {
                field,
                code: code.clone(),
            });
        }
    }

    let mut read_date = |span: Span, field: Field, read: fn(&[u8], NaiveDate) -> DateRead| {
        let raw = span.text(&grid);
        let date = match read(raw.as_bytes(), today) {
            DateRead::Known(d) => Some(d),
            DateRead::Unknown => None,
            DateRead::Invalid => {
                problems.push(Problem::InvalidDate { field });
                None
            }
        };
        (date, raw)
    };
    let (date_of_birth, date_of_birth_raw) = read_date(lay.birth, Field::DateOfBirth, dates::birth);
    let (expiry_date, expiry_date_raw) = read_date(lay.expiry, Field::ExpiryDate, dates::expiry);
    if let (Some(b), Some(e)) = (date_of_birth, expiry_date) {
        if e < b {
            problems.push(Problem::ExpiryBeforeBirth);
        }
    }

    let sex = match at(&grid, lay.sex.cell()) {
        b'<' | b'X' => "X".to_string(),
        b @ (b'M' | b'F') => char::from(b).to_string(),
        other => {
            problems.push(Problem::InvalidSex {
                found: char::from(other),
            });
            char::from(other).to_string()
        }
    };

    for cell in numeric_cells(lay, parts) {
        let b = at(&grid, cell);
        if b.is_ascii_uppercase() {
            problems.push(unexpected(cell, b));
        }
    }
    for cell in alpha_cells(lay) {
        let b = at(&grid, cell);
        if b.is_ascii_digit() {
            problems.push(unexpected(cell, b));
        }
    }

    let (surname, given_names) = split_name(&lay.name.text(&grid));
    let document_number = text(&grid, &parts.number).replace('<', "");
    let personal_number = lay
        .personal
        .and_then(|(p, _)| non_empty(p.text(&grid).trim_matches('<').to_string()));
    let optional_data = non_empty(
        parts
            .optional
            .iter()
            .map(|cells| text(&grid, cells).trim_matches('<').to_string())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
    );

    let number = Checked {
        cells: parts.number.clone(),
        check: parts.number_check,
        filler_ok: false,
    };
    let mut checks = vec![
        DigitCheck {
            field: Field::DocumentNumber,
            valid: number.ok(&grid),
        },
        DigitCheck {
            field: Field::DateOfBirth,
            valid: digit_ok(&grid, lay.birth.cells(), lay.birth_check.cell(), false),
        },
        DigitCheck {
            field: Field::ExpiryDate,
            valid: digit_ok(&grid, lay.expiry.cells(), lay.expiry_check.cell(), false),
        },
    ];
    if let Some((personal, check)) = lay.personal {
        checks.push(DigitCheck {
            field: Field::PersonalNumber,
            valid: digit_ok(&grid, personal.cells(), check.cell(), true),
        });
    }
    if let Some(composite) = lay.composite {
        checks.push(DigitCheck {
            field: Field::Composite,
            valid: composite_ok(&grid, composite),
        });
    }

    Mrz {
        format,
        document_code,
        document_type,
        issuing_country,
        document_number,
        surname,
        given_names,
        nationality,
        date_of_birth,
        date_of_birth_raw,
        sex,
        expiry_date,
        expiry_date_raw,
        personal_number,
        optional_data,
        checks,
        corrections,
        problems,
        lines: grid
            .into_iter()
            .map(|row| row.into_iter().map(char::from).collect())
            .collect(),
    }
}

fn unexpected((line, col): Cell, found: u8) -> Problem {
    Problem::UnexpectedCharacter {
        line: line + 1,
        column: col + 1,
        found: char::from(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_on_the_double_filler() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            split_name("ERIKSSON<<ANNA<MARIA<<<<<<"),
            s("ERIKSSON", "ANNA MARIA")
        );
        assert_eq!(
            split_name("VAN<DER<BERG<<PIET<<<<"),
            s("VAN DER BERG", "PIET")
        );
        assert_eq!(split_name("ERIKSSON<<<ANNA<<<"), s("ERIKSSON", "ANNA"));
        assert_eq!(split_name("ERIKSSON<<<<<<<<<"), s("ERIKSSON", ""));
        assert_eq!(split_name("ERIKSSON"), s("ERIKSSON", ""));
        assert_eq!(split_name("ERIKSSON<ANNA"), s("ERIKSSON ANNA", ""));
        assert_eq!(split_name("<<ANNA<<<"), s("", "ANNA"));
    }

    #[test]
    fn document_types_follow_the_code() {
        use DocumentType::*;
        assert_eq!(document_type("P", Format::Td3), (Passport, true));
        assert_eq!(document_type("PD", Format::Td3), (Passport, true));
        assert_eq!(document_type("I", Format::Td1), (IdCard, true));
        assert_eq!(document_type("ID", Format::Td1), (IdCard, true));
        assert_eq!(document_type("IR", Format::Td1), (ResidencePermit, true));
        assert_eq!(document_type("AR", Format::Td1), (ResidencePermit, true));
        assert_eq!(document_type("C", Format::Td2), (IdCard, true));
        assert_eq!(document_type("V", Format::MrvA), (Visa, true));
        assert_eq!(document_type("I", Format::Td3), (IdCard, false));
        assert_eq!(document_type("", Format::Td3), (Passport, false));
        assert_eq!(document_type("X", Format::Td1), (IdCard, false));
    }
}
