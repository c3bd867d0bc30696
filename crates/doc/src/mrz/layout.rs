//! Where each field sits in each format (ICAO 9303 Parts 4 to 7), as zero-based spans over
//! the lines, and the fixed-size character grid the parser works on.

use super::Format;

/// A (line, column) position, both zero-based.
pub(crate) type Cell = (usize, usize);

/// The MRZ as bytes, one row per line; every row has the format's length and holds only
/// `A`–`Z`, `0`–`9` and `<` once the lines are accepted.
pub(crate) type Grid = Vec<Vec<u8>>;

/// The character at `cell`; a filler where the grid has no such cell (never the case for a
/// grid built for the layout, but reading stays total).
pub(crate) fn at(grid: &Grid, (line, col): Cell) -> u8 {
    grid.get(line)
        .and_then(|row| row.get(col))
        .copied()
        .unwrap_or(b'<')
}

/// Writes `c` at `cell`, if the grid has it.
pub(crate) fn set(grid: &mut Grid, (line, col): Cell, c: u8) {
    if let Some(slot) = grid.get_mut(line).and_then(|row| row.get_mut(col)) {
        *slot = c;
    }
}

/// Text of a list of cells.
pub(crate) fn text(grid: &Grid, cells: &[Cell]) -> String {
    cells
        .iter()
        .map(|&cell| char::from(at(grid, cell)))
        .collect()
}

/// A run of `len` characters on one line, starting at column `start`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub line: usize,
    pub start: usize,
    pub len: usize,
}

impl Span {
    const fn new(line: usize, start: usize, len: usize) -> Self {
        Span { line, start, len }
    }

    /// A one-character span (check digits, sex).
    const fn one(line: usize, start: usize) -> Self {
        Span {
            line,
            start,
            len: 1,
        }
    }

    /// The cells, left to right.
    pub fn cells(self) -> impl Iterator<Item = Cell> {
        (self.start..self.start + self.len).map(move |col| (self.line, col))
    }

    /// The first cell (the only one of a check digit).
    pub fn cell(self) -> Cell {
        (self.line, self.start)
    }

    /// The characters of the span.
    pub fn text(self, grid: &Grid) -> String {
        self.cells()
            .map(|cell| char::from(at(grid, cell)))
            .collect()
    }
}

/// The fields of one format.
#[derive(Debug)]
pub(crate) struct Layout {
    pub lines: usize,
    pub line_len: usize,
    pub code: Span,
    pub issuer: Span,
    pub name: Span,
    pub number: Span,
    pub number_check: Span,
    pub nationality: Span,
    pub birth: Span,
    pub birth_check: Span,
    pub sex: Span,
    pub expiry: Span,
    pub expiry_check: Span,
    /// TD3 only: the personal number and its check digit.
    pub personal: Option<(Span, Span)>,
    /// Optional data fields without a check digit of their own (TD1 has two).
    pub optional: &'static [Span],
    /// The spans the composite check digit covers, in order, and the digit.
    pub composite: Option<(&'static [Span], Span)>,
    /// Whether a document number longer than 9 characters may continue in the (first)
    /// optional data field (Parts 5 and 6; passports and visas have no such rule).
    pub long_numbers: bool,
}

static TD1: Layout = Layout {
    lines: 3,
    line_len: 30,
    code: Span::new(0, 0, 2),
    issuer: Span::new(0, 2, 3),
    number: Span::new(0, 5, 9),
    number_check: Span::one(0, 14),
    birth: Span::new(1, 0, 6),
    birth_check: Span::one(1, 6),
    sex: Span::one(1, 7),
    expiry: Span::new(1, 8, 6),
    expiry_check: Span::one(1, 14),
    nationality: Span::new(1, 15, 3),
    name: Span::new(2, 0, 30),
    personal: None,
    optional: &[Span::new(0, 15, 15), Span::new(1, 18, 11)],
    composite: Some((
        &[
            Span::new(0, 5, 25),
            Span::new(1, 0, 7),
            Span::new(1, 8, 7),
            Span::new(1, 18, 11),
        ],
        Span::one(1, 29),
    )),
    long_numbers: true,
};

/// The second line shared by TD2, TD3 and both visas up to the expiry check digit.
macro_rules! two_line_layout {
    ($len:expr, $personal:expr, $optional:expr, $composite:expr, $long:expr) => {
        Layout {
            lines: 2,
            line_len: $len,
            code: Span::new(0, 0, 2),
            issuer: Span::new(0, 2, 3),
            name: Span::new(0, 5, $len - 5),
            number: Span::new(1, 0, 9),
            number_check: Span::one(1, 9),
            nationality: Span::new(1, 10, 3),
            birth: Span::new(1, 13, 6),
            birth_check: Span::one(1, 19),
            sex: Span::one(1, 20),
            expiry: Span::new(1, 21, 6),
            expiry_check: Span::one(1, 27),
            personal: $personal,
            optional: $optional,
            composite: $composite,
            long_numbers: $long,
        }
    };
}

static TD2: Layout = two_line_layout!(
    36,
    None,
    &[Span::new(1, 28, 7)],
    Some((
        &[
            Span::new(1, 0, 10),
            Span::new(1, 13, 7),
            Span::new(1, 21, 14)
        ],
        Span::one(1, 35)
    )),
    true
);

static TD3: Layout = two_line_layout!(
    44,
    Some((Span::new(1, 28, 14), Span::one(1, 42))),
    &[],
    Some((
        &[
            Span::new(1, 0, 10),
            Span::new(1, 13, 7),
            Span::new(1, 21, 22)
        ],
        Span::one(1, 43)
    )),
    false
);

static MRV_A: Layout = two_line_layout!(44, None, &[Span::new(1, 28, 16)], None, false);

static MRV_B: Layout = two_line_layout!(36, None, &[Span::new(1, 28, 8)], None, false);

/// The layout of `format`.
pub(crate) fn layout(format: Format) -> &'static Layout {
    match format {
        Format::Td1 => &TD1,
        Format::Td2 => &TD2,
        Format::Td3 => &TD3,
        Format::MrvA => &MRV_A,
        Format::MrvB => &MRV_B,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every cell of every line belongs to exactly one field: the layouts tile the lines.
    #[test]
    fn layouts_tile_their_lines() {
        for format in [
            Format::Td1,
            Format::Td2,
            Format::Td3,
            Format::MrvA,
            Format::MrvB,
        ] {
            let l = layout(format);
            let mut spans = vec![
                l.code,
                l.issuer,
                l.name,
                l.number,
                l.number_check,
                l.nationality,
                l.birth,
                l.birth_check,
                l.sex,
                l.expiry,
                l.expiry_check,
            ];
            if let Some((p, c)) = l.personal {
                spans.extend([p, c]);
            }
            spans.extend(l.optional.iter().copied());
            if let Some((_, c)) = l.composite {
                spans.push(c);
            }
            let mut seen = vec![vec![0u8; l.line_len]; l.lines];
            for s in spans {
                for (line, col) in s.cells() {
                    seen[line][col] += 1;
                }
            }
            assert!(
                seen.iter().flatten().all(|&n| n == 1),
                "{format:?}: {seen:?}"
            );
        }
    }
}
