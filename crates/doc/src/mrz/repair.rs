//! Lines one or two characters off their format's length: the ways fillers can make them
//! fit, and the choice among them by the check digits.

use chrono::NaiveDate;

use super::layout::Grid;
use super::{read, Correction, CorrectionKind, Format, Mrz, MrzError};

/// `<` runs (besides the one ending the line) tried per line.
const RUNS_TRIED: usize = 3;

/// One way to bring a line to length.
struct Fit {
    bytes: Vec<u8>,
    corrections: Vec<Correction>,
    /// Fillers only added or removed at the end (or nothing changed): accepted even if
    /// check digits fail; other fits must make every check digit valid.
    at_end: bool,
}

/// Reads `lines` (MRZ characters only, within two characters of `format`'s length) trying
/// the fits of each line in order of preference: the first reading whose check digits all
/// hold, else the one that only touched line ends, else an error.
pub(super) fn parse_repaired(
    format: Format,
    lines: &[String],
    today: NaiveDate,
) -> Result<Mrz, MrzError> {
    let len = format.line_len();
    let fits: Vec<Vec<Fit>> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| fits(i + 1, l.as_bytes(), len))
        .collect();
    let wrong_length = |i: usize| MrzError::WrongLineLength {
        line: i + 1,
        found: lines.get(i).map_or(0, String::len),
        expected: len,
        format,
    };
    if let Some(i) = fits.iter().position(Vec::is_empty) {
        return Err(wrong_length(i));
    }
    let total = fits.iter().map(Vec::len).product::<usize>();
    let mut fallback = None;
    for index in 0..total {
        let mut grid: Grid = Vec::with_capacity(fits.len());
        let mut corrections = Vec::new();
        let mut at_end = true;
        let mut rest = index;
        for options in &fits {
            let Some(fit) = options.get(rest % options.len()) else {
                continue;
            };
            rest /= options.len();
            grid.push(fit.bytes.clone());
            corrections.extend_from_slice(&fit.corrections);
            at_end &= fit.at_end;
        }
        let mrz = read::read(format, grid, corrections, today);
        if mrz.valid() {
            return Ok(mrz);
        }
        if at_end && fallback.is_none() {
            fallback = Some(mrz);
        }
    }
    // Only fits away from line ends were possible, and none made the check digits hold.
    fallback.ok_or_else(|| wrong_length(lines.iter().position(|l| l.len() != len).unwrap_or(0)))
}

/// The `<` runs of `line` as (start, length), excluding a run that ends the line.
fn inner_runs(line: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b'<' {
            let start = i;
            while i < line.len() && line[i] == b'<' {
                i += 1;
            }
            if i < line.len() {
                runs.push((start, i - start));
            }
        } else {
            i += 1;
        }
    }
    // Longest first; among equals, leftmost first (the sort is stable).
    runs.sort_by_key(|&(_, len)| std::cmp::Reverse(len));
    runs
}

fn filler(line: usize, column: usize, kind: CorrectionKind) -> Correction {
    let (from, to) = match kind {
        CorrectionKind::FillerRemoved => (Some('<'), None),
        _ => (None, Some('<')),
    };
    Correction {
        line,
        column,
        kind,
        from,
        to,
    }
}

/// The ways to bring `bytes` (line number `line`) to `len` characters, preferred first.
fn fits(line: usize, bytes: &[u8], len: usize) -> Vec<Fit> {
    use CorrectionKind::{FillerInserted, FillerRemoved};
    let mut out = Vec::new();
    if bytes.len() == len {
        out.push(Fit {
            bytes: bytes.to_vec(),
            corrections: Vec::new(),
            at_end: true,
        });
    } else if bytes.len() > len {
        let k = bytes.len() - len;
        if bytes.iter().rev().take(k).all(|&c| c == b'<') {
            out.push(Fit {
                bytes: bytes[..len].to_vec(),
                corrections: (len..bytes.len())
                    .map(|c| filler(line, c + 1, FillerRemoved))
                    .collect(),
                at_end: true,
            });
        }
        for (start, run) in inner_runs(bytes)
            .into_iter()
            .filter(|&(_, run)| run >= k)
            .take(RUNS_TRIED)
        {
            let cut = start + run - k;
            let mut fixed = bytes[..cut].to_vec();
            fixed.extend_from_slice(&bytes[cut + k..]);
            out.push(Fit {
                bytes: fixed,
                corrections: (cut..cut + k)
                    .map(|c| filler(line, c + 1, FillerRemoved))
                    .collect(),
                at_end: false,
            });
        }
    } else {
        let k = len - bytes.len();
        let mut padded = bytes.to_vec();
        padded.resize(len, b'<');
        out.push(Fit {
            bytes: padded,
            corrections: (bytes.len()..len)
                .map(|c| filler(line, c + 1, FillerInserted))
                .collect(),
            at_end: true,
        });
        for (start, run) in inner_runs(bytes).into_iter().take(RUNS_TRIED) {
            let at = start + run;
            let mut fixed = bytes[..at].to_vec();
            fixed.resize(at + k, b'<');
            fixed.extend_from_slice(&bytes[at..]);
            out.push(Fit {
                bytes: fixed,
                corrections: (at..at + k)
                    .map(|c| filler(line, c + 1, FillerInserted))
                    .collect(),
                at_end: false,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_longest_first_without_the_trailing_one() {
        assert_eq!(inner_runs(b"A<B<<C<<<"), vec![(3, 2), (1, 1)]);
        assert_eq!(inner_runs(b"<<A"), vec![(0, 2)]);
        assert_eq!(inner_runs(b"ABC"), vec![]);
    }

    #[test]
    fn fits_prefer_the_line_end() {
        let f = fits(1, b"AB<<C<<", 6);
        assert_eq!(f[0].bytes, b"AB<<C<");
        assert!(f[0].at_end);
        assert_eq!(f[1].bytes, b"AB<C<<");
        let f = fits(1, b"AB<C", 5);
        assert_eq!(f[0].bytes, b"AB<C<");
        assert_eq!(f[1].bytes, b"AB<<C");
        assert_eq!(f[1].corrections[0].column, 4);
        // Too long with no filler at the end and no run long enough: no fit at all.
        assert!(fits(1, b"ABC<D", 3).is_empty());
    }
}
