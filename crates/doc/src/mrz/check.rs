//! ICAO 9303 check digits (Part 3 §4.9): the characters' values (`0`–`9` as themselves,
//! `A`–`Z` as 10–35, the filler `<` as 0) weighted 7, 3, 1, 7, 3, 1, … and summed modulo 10.

const WEIGHTS: [u32; 3] = [7, 3, 1];

/// Value of one MRZ character, or `None` for a character outside the MRZ alphabet.
pub(crate) fn value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some(u32::from(c - b'0')),
        b'A'..=b'Z' => Some(u32::from(c - b'A') + 10),
        b'<' => Some(0),
        _ => None,
    }
}

/// Check digit over a run of MRZ characters (a field, or the concatenation a composite
/// check covers).
pub(crate) fn digit(chars: impl IntoIterator<Item = u8>) -> Option<u8> {
    let mut sum = 0u32;
    for (i, c) in chars.into_iter().enumerate() {
        sum = (sum + value(c)? * WEIGHTS[i % 3]) % 10;
    }
    u8::try_from(sum).ok()
}

/// The ICAO 9303 check digit of `field` (weights 7-3-1, `<` = 0, `A` = 10 … `Z` = 35), or
/// `None` if it holds a character outside `A`–`Z`, `0`–`9`, `<` (lower case included).
///
/// ```
/// assert_eq!(vouch_doc::mrz::check_digit("L898902C3"), Some(6));
/// assert_eq!(vouch_doc::mrz::check_digit("740812"), Some(2));
/// assert_eq!(vouch_doc::mrz::check_digit("l898902c3"), None);
/// ```
pub fn check_digit(field: &str) -> Option<u8> {
    digit(field.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cover_the_alphabet() {
        assert_eq!(value(b'<'), Some(0));
        assert_eq!(value(b'9'), Some(9));
        assert_eq!(value(b'A'), Some(10));
        assert_eq!(value(b'Z'), Some(35));
        assert_eq!(value(b'a'), None);
        assert_eq!(value(b' '), None);
    }

    #[test]
    fn empty_field_has_digit_zero() {
        assert_eq!(check_digit(""), Some(0));
        assert_eq!(check_digit("<<<<<<<<<<<<<<"), Some(0));
    }
}
