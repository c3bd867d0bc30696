//! MRZ dates (`YYMMDD`) and the century each one is given.
//!
//! - Date of birth: the latest reading not after `today` (`YY` above today's `YY` is last
//!   century). Someone born 100 or more years ago is read as a young child; no two-digit
//!   year can tell them apart, and children are far more common among holders.
//! - Expiry: the reading within 50 years of `today`, after `today − 50 years` and up to
//!   `today + 50 years`. Documents are valid for at most a few decades, and expired ones are
//!   read as recently expired.
//!
//! ICAO 9303 Part 3 §4.8 lets a state fill an unknown date of birth with `<`, wholly
//! (`<<<<<<`) or for the day or the month and day (`7408<<`, `74<<<<`); such a date is
//! `Unknown`, not an error.

use chrono::{Datelike, NaiveDate};

/// What a six-character date field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateRead {
    /// A calendar date.
    Known(NaiveDate),
    /// Wholly or partly unknown, in the form ICAO allows.
    Unknown,
    /// Not a date: a letter, a filler where ICAO allows none, or no such day (`740231`).
    Invalid,
}

/// Years, month and day digits of a complete date; `Err` with the reading otherwise.
fn split(raw: &[u8]) -> Result<(i32, u32, u32), DateRead> {
    let &[y1, y2, m1, m2, d1, d2] = raw else {
        return Err(DateRead::Invalid);
    };
    let digits = [y1, y2, m1, m2, d1, d2];
    if digits.iter().all(u8::is_ascii_digit) {
        let n = |a: u8, b: u8| u32::from(a - b'0') * 10 + u32::from(b - b'0');
        return Ok((
            i32::from(y1 - b'0') * 10 + i32::from(y2 - b'0'),
            n(m1, m2),
            n(d1, d2),
        ));
    }
    // Unknown parts are fillers from some position to the end, at a field boundary.
    let known = digits.iter().take_while(|c| c.is_ascii_digit()).count();
    let rest_filler = digits.iter().skip(known).all(|&c| c == b'<');
    if rest_filler && matches!(known, 0 | 2 | 4) {
        Err(DateRead::Unknown)
    } else {
        Err(DateRead::Invalid)
    }
}

/// `(year, month, day)` of `today`, for comparisons with readings that may not be dates.
fn key(date: NaiveDate) -> (i32, u32, u32) {
    (date.year(), date.month(), date.day())
}

/// Reads a date of birth.
pub(crate) fn birth(raw: &[u8], today: NaiveDate) -> DateRead {
    let (yy, m, d) = match split(raw) {
        Ok(parts) => parts,
        Err(read) => return read,
    };
    let mut year = today.year().div_euclid(100) * 100 + yy;
    if (year, m, d) > key(today) {
        year -= 100;
    }
    NaiveDate::from_ymd_opt(year, m, d).map_or(DateRead::Invalid, DateRead::Known)
}

/// Reads an expiry date.
pub(crate) fn expiry(raw: &[u8], today: NaiveDate) -> DateRead {
    let (yy, m, d) = match split(raw) {
        Ok(parts) => parts,
        Err(read) => return read,
    };
    let (ty, tm, td) = key(today);
    let mut year = ty.div_euclid(100) * 100 + yy;
    if (year, m, d) > (ty + 50, tm, td) {
        year -= 100;
    } else if (year, m, d) <= (ty - 50, tm, td) {
        year += 100;
    }
    NaiveDate::from_ymd_opt(year, m, d).map_or(DateRead::Invalid, DateRead::Known)
}

/// `YYMMDD` of a date (the builder's side).
pub(crate) fn yymmdd(date: NaiveDate) -> String {
    format!(
        "{:02}{:02}{:02}",
        date.year().rem_euclid(100),
        date.month(),
        date.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn birth_is_never_after_today() {
        let today = d(2026, 3, 10);
        assert_eq!(birth(b"260310", today), DateRead::Known(d(2026, 3, 10)));
        assert_eq!(birth(b"260311", today), DateRead::Known(d(1926, 3, 11)));
        assert_eq!(birth(b"740812", today), DateRead::Known(d(1974, 8, 12)));
        assert_eq!(birth(b"000229", today), DateRead::Known(d(2000, 2, 29)));
        assert_eq!(birth(b"740231", today), DateRead::Invalid);
        assert_eq!(birth(b"74<<<<", today), DateRead::Unknown);
        assert_eq!(birth(b"7408<<", today), DateRead::Unknown);
        assert_eq!(birth(b"<<<<<<", today), DateRead::Unknown);
        assert_eq!(birth(b"7<0812", today), DateRead::Invalid);
        assert_eq!(birth(b"74O812", today), DateRead::Invalid);
    }

    #[test]
    fn expiry_is_within_fifty_years() {
        let today = d(2026, 3, 10);
        assert_eq!(expiry(b"760310", today), DateRead::Known(d(2076, 3, 10)));
        assert_eq!(expiry(b"760311", today), DateRead::Known(d(1976, 3, 11)));
        assert_eq!(expiry(b"120415", today), DateRead::Known(d(2012, 4, 15)));
        assert_eq!(expiry(b"961210", today), DateRead::Known(d(1996, 12, 10)));
        assert_eq!(expiry(b"361231", today), DateRead::Known(d(2036, 12, 31)));
        // Near the end of a century the window reaches into the next one.
        let late = d(2095, 6, 1);
        assert_eq!(expiry(b"050101", late), DateRead::Known(d(2105, 1, 1)));
        assert_eq!(birth(b"990101", late), DateRead::Known(d(1999, 1, 1)));
        assert_eq!(birth(b"450101", late), DateRead::Known(d(2045, 1, 1)));
    }
}
