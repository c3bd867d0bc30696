//! The byte layout of an AAMVA barcode: header, subfile designators, subfiles and their
//! data elements. Tolerant of what real cards do: wrong offsets and lengths, CR LF between
//! elements, a missing compliance indicator or jurisdiction version, stray bytes before
//! the header.
//!
//! Everything here works on bytes and only ever splits at ASCII bytes, so a value taken
//! from valid UTF-8 input stays valid UTF-8.

use super::{AamvaError, Subfile};

/// Data element separator.
pub(crate) const LF: u8 = 0x0A;
/// Record separator, the third byte of the header.
pub(crate) const RS: u8 = 0x1E;
/// Segment terminator: ends the header's first line and each subfile.
pub(crate) const CR: u8 = 0x0D;

/// How far into the data the file type may start: real barcodes carry a few stray bytes
/// (a scanner prefix, a doubled separator) before it.
const HEADER_SEARCH: usize = 64;

/// The header fields that precede the subfile designators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    /// Where the compliance indicator `@` is (or would be): offsets count from here.
    pub origin: usize,
    /// "ANSI " or "AAMVA".
    pub file_type: String,
    /// Issuer identification number, six digits.
    pub iin: String,
    /// AAMVA version.
    pub version: u8,
    /// Jurisdiction version (version 2 and later).
    pub jurisdiction_version: Option<u8>,
    /// Number of subfiles the header announces.
    pub entries: Option<u8>,
    /// Subfile designators, in header order.
    pub designators: Vec<Designator>,
    /// Index just past the last byte the header used.
    pub end: usize,
    /// Deviations from the standard noticed while reading.
    pub problems: Vec<String>,
}

/// One subfile designator: its type and where the header says it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Designator {
    /// "DL", "ID", "ZV", …
    pub kind: String,
    /// Offset of the subfile from the compliance indicator, in bytes.
    pub offset: usize,
    /// Length of the subfile in bytes.
    pub length: usize,
}

/// Reads the header: compliance indicator, file type, IIN, versions, entry count and the
/// designators.
pub(crate) fn header(data: &[u8]) -> Result<Header, AamvaError> {
    let window = &data[..data.len().min(HEADER_SEARCH)];
    let file_type_at = find(window, b"ANSI")
        .into_iter()
        .chain(find(window, b"AAMVA"))
        .min()
        .ok_or(AamvaError::NotAamva)?;
    let mut problems = Vec::new();

    // The standard's first line is "@" LF RS CR; offsets in the designators count from "@".
    let origin = match window[..file_type_at].iter().rposition(|&b| b == b'@') {
        Some(at) => {
            if &window[at..file_type_at] != b"@\n\x1e\r" {
                problems.push("header separators differ from the standard \"@\\n\\x1e\\r\"".into());
            }
            at
        }
        None => {
            problems.push("compliance indicator \"@\" missing".into());
            file_type_at.saturating_sub(4)
        }
    };

    let (file_type, mut at) = if data[file_type_at..].starts_with(b"AAMVA") {
        ("AAMVA".to_string(), file_type_at + 5)
    } else {
        // "ANSI " with its space; some issuers drop the space.
        let after = file_type_at + 4;
        if data.get(after) == Some(&b' ') {
            ("ANSI ".to_string(), after + 1)
        } else {
            problems.push("file type \"ANSI\" has no trailing space".into());
            ("ANSI ".to_string(), after)
        }
    };

    let digits_end = data[at..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(data.len(), |n| at + n);
    let digits = &data[at..digits_end];
    if digits.len() < 8 {
        return Err(AamvaError::BadHeader(format!(
            "expected a 6-digit IIN and a 2-digit version after the file type, found {} digits",
            digits.len()
        )));
    }
    let iin = ascii(&digits[..6]);
    let version = two_digits(&digits[6..8]).unwrap_or(0);
    // Version 1 has no jurisdiction version: IIN, version, entries (10 digits). Later
    // versions add it (12 digits). Other lengths are sloppy; read what is plausible.
    let (jurisdiction_version, entries, used) = match (version, digits.len()) {
        (_, 12) => (two_digits(&digits[8..10]), two_digits(&digits[10..12]), 12),
        (_, 10) if version <= 1 => (None, two_digits(&digits[8..10]), 10),
        (_, 10) => {
            problems.push("header has no jurisdiction version".into());
            (None, two_digits(&digits[8..10]), 10)
        }
        (_, n) => {
            problems.push(format!(
                "header has {n} digits after the file type, not 10 or 12"
            ));
            let jv = if version >= 2 && n >= 10 {
                two_digits(&digits[8..10])
            } else {
                None
            };
            (jv, None, n.min(12))
        }
    };
    at += used;

    // Designators follow the digits directly: two characters, four digits offset, four
    // digits length. The first subfile begins right after, with its type and an element
    // id, which never reads as a designator.
    let mut designators = Vec::new();
    let wanted = usize::from(entries.unwrap_or(u8::MAX));
    while designators.len() < wanted {
        let Some(d) = data.get(at..at + 10) else {
            break;
        };
        if !(d[0].is_ascii_uppercase()
            && (d[1].is_ascii_uppercase() || d[1].is_ascii_digit())
            && d[2..].iter().all(u8::is_ascii_digit))
        {
            break;
        }
        designators.push(Designator {
            kind: ascii(&d[..2]),
            offset: usize::from(four_digits(&d[2..6])),
            length: usize::from(four_digits(&d[6..10])),
        });
        at += 10;
    }
    if let Some(n) = entries {
        if usize::from(n) != designators.len() {
            problems.push(format!(
                "header announces {n} subfiles but has {} designators",
                designators.len()
            ));
        }
    }

    Ok(Header {
        origin,
        file_type,
        iin,
        version,
        jurisdiction_version,
        entries,
        designators,
        end: at,
        problems,
    })
}

/// Finds the subfiles: by the designators' offsets where they agree with the data, else by
/// scanning for the subfile type followed by an element id of that subfile.
pub(crate) fn subfiles(data: &[u8], header: &Header, problems: &mut Vec<String>) -> Vec<Subfile> {
    let mut found: Vec<Subfile> = Vec::new();
    // Only card and jurisdiction subfiles carry elements this parser knows how to find.
    let mut kinds: Vec<String> = header
        .designators
        .iter()
        .map(|d| d.kind.clone())
        .filter(|k| k == "DL" || k == "ID" || k.starts_with('Z'))
        .collect();
    if !kinds.iter().any(|k| k == "DL" || k == "ID") {
        // No (readable) designator for the card data: look for both.
        kinds.push("DL".into());
        kinds.push("ID".into());
    }
    kinds.dedup();

    for kind in kinds.clone() {
        if found.iter().any(|s| s.kind == kind) {
            continue;
        }
        let designator = header.designators.iter().find(|d| d.kind == kind);
        let by_offset = designator.and_then(|d| {
            let start = header.origin.checked_add(d.offset)?;
            let body = data.get(start..)?;
            (body.starts_with(kind.as_bytes()) && starts_element(&body[2..], &kind))
                .then_some(start)
        });
        let start = match by_offset {
            Some(start) => Some(start),
            None => {
                let scanned = scan_for(data, header.end, &kind);
                if scanned.is_some() && designator.is_some() {
                    problems.push(format!(
                        "{kind} subfile is not at the offset the header gives"
                    ));
                }
                scanned
            }
        };
        let Some(start) = start else {
            if designator.is_some() {
                problems.push(format!(
                    "{kind} subfile announced in the header but not found"
                ));
            }
            continue;
        };
        // The designator's length bounds the subfile where it is consistent (it ends on a
        // segment terminator, not on the CR of a CR LF); otherwise the terminator, or the
        // next thing that is not an element of this subfile, ends it.
        let by_length = designator
            .filter(|_| by_offset.is_some())
            .and_then(|d| start.checked_add(d.length))
            .filter(|&end| {
                end > start + 2 && data.get(end - 1) == Some(&CR) && data.get(end) != Some(&LF)
            });
        if by_offset.is_some() && by_length.is_none() {
            problems.push(format!(
                "{kind} subfile length in the header does not fit the data"
            ));
        }
        let limit = by_length.unwrap_or(data.len());
        let elements = elements(&data[start + 2..limit], &kind, &kinds, problems);
        found.push(Subfile { kind, elements });
    }

    if !found.iter().any(|s| s.kind == "DL" || s.kind == "ID") {
        // Some issuers omit the subfile type: the elements follow the designators.
        let rest = data.get(header.end..).unwrap_or_default();
        let skip = rest.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if starts_element(&rest[skip..], "DL") {
            problems.push(
                "card subfile has no \"DL\"/\"ID\" type; read the data after the header".into(),
            );
            let kind = header
                .designators
                .iter()
                .map(|d| d.kind.as_str())
                .find(|k| *k == "DL" || *k == "ID")
                .unwrap_or("DL")
                .to_string();
            let elements = elements(&rest[skip..], &kind, &kinds, problems);
            found.insert(0, Subfile { kind, elements });
        }
    }
    found
}

/// Reads the elements of one subfile body (after its two-letter type). Elements are
/// separated by LF (or CR LF); a lone CR ends the subfile, and so does the start of
/// another subfile or anything that is not an element (trailing bytes). Elements of other
/// kinds inside a card subfile (some issuers put `Z` elements there) are read too.
fn elements(
    body: &[u8],
    kind: &str,
    kinds: &[String],
    problems: &mut Vec<String>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = body;
    // The first line follows the subfile type, so it is an element whatever it looks like.
    let mut first = true;
    loop {
        let end = rest
            .iter()
            .position(|&b| b == LF || b == CR)
            .unwrap_or(rest.len());
        let token = &rest[..end];
        if token.iter().all(u8::is_ascii_whitespace) {
            // an empty line
        } else if !first && starts_subfile(token, kind, kinds) {
            break; // the next subfile, without a terminator before it
        } else if token.len() >= 3 && token[..3].iter().all(u8::is_ascii_uppercase) {
            out.push((ascii(&token[..3]), text(&token[3..])));
            first = false;
        } else {
            break;
        }
        let Some(&sep) = rest.get(end) else {
            break;
        };
        let next = end + 1;
        if sep == CR && rest.get(next) != Some(&LF) {
            break; // segment terminator
        }
        let next = if sep == CR { next + 1 } else { next };
        rest = &rest[next.min(rest.len())..];
    }
    if out.is_empty() {
        problems.push(format!("{kind} subfile has no data elements"));
    }
    out
}

/// Whether a line inside subfile `kind` is really the start of another subfile: one of the
/// known subfile types (or a jurisdiction type `Z?`) followed by an element id of it.
fn starts_subfile(token: &[u8], kind: &str, kinds: &[String]) -> bool {
    let Some(head) = token.get(..2) else {
        return false;
    };
    if head == kind.as_bytes() {
        return false;
    }
    let known = kinds.iter().any(|k| k.as_bytes() == head)
        || head == b"DL"
        || head == b"ID"
        || (head[0] == b'Z' && head[1].is_ascii_uppercase());
    let other = ascii(head);
    known && token.len() >= 5 && is_element_id(&token[2..5], &other)
}

/// Where a subfile of this type starts, scanning from `from`: its type, at the start of a
/// line or right after the designators, followed by one of its element ids.
fn scan_for(data: &[u8], from: usize, kind: &str) -> Option<usize> {
    let k = kind.as_bytes();
    let from = from.min(data.len());
    (from..data.len().saturating_sub(1)).find(|&p| {
        let line_start = p == from || matches!(data[p - 1], LF | CR | RS | b'0'..=b'9');
        line_start && data[p..p + 2] == *k && starts_element(&data[p + 2..], kind)
    })
}

/// Whether the bytes start with an element id of a subfile of this type, after at most
/// two line-break bytes (some issuers break the line after the subfile type).
fn starts_element(bytes: &[u8], kind: &str) -> bool {
    let skip = bytes
        .iter()
        .take(2)
        .take_while(|&&b| b == LF || b == CR)
        .count();
    bytes.len() >= skip + 3 && is_element_id(&bytes[skip..skip + 3], kind)
}

/// Card elements (DL, ID) are `D` and two capitals; jurisdiction subfiles (`Z?`) use
/// `Z`, their letter and one more capital.
fn is_element_id(id: &[u8], kind: &str) -> bool {
    let capitals = id.iter().all(u8::is_ascii_uppercase);
    match kind.as_bytes() {
        [b'Z', _] => capitals && id[0] == b'Z',
        _ => capitals && id[0] == b'D',
    }
}

/// The value's text: UTF-8 where it is, otherwise Latin-1 (PDF417's default text
/// encoding), with stray control bytes dropped.
fn text(bytes: &[u8]) -> String {
    let s = match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    s.chars().filter(|c| !c.is_control()).collect()
}

fn ascii(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fn two_digits(d: &[u8]) -> Option<u8> {
    match d {
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => Some((a - b'0') * 10 + (b - b'0')),
        _ => None,
    }
}

/// Four ASCII digits (checked by the caller) as a number.
fn four_digits(d: &[u8]) -> u16 {
    d.iter().fold(0u16, |n, &b| {
        n.wrapping_mul(10)
            .wrapping_add(u16::from(b.wrapping_sub(b'0')))
    })
}

/// The first index where `needle` starts in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_v10() {
        let data = b"@\n\x1e\rANSI 636000100102DL00410278ZV03190008DLDAQT1\n";
        let h = header(data).unwrap();
        assert_eq!(h.iin, "636000");
        assert_eq!(h.version, 10);
        assert_eq!(h.jurisdiction_version, Some(1));
        assert_eq!(h.entries, Some(2));
        assert_eq!(h.designators.len(), 2);
        assert_eq!(h.designators[1].kind, "ZV");
        assert_eq!(h.designators[1].offset, 319);
        assert!(h.problems.is_empty(), "{:?}", h.problems);
    }

    #[test]
    fn elements_stop_at_segment_terminator() {
        let mut p = Vec::new();
        let kinds = ["DL".to_string(), "ZV".to_string()];
        let e = elements(b"DAQ1\nDCSX\rZVZVA01\r", "DL", &kinds, &mut p);
        assert_eq!(e.len(), 2);
        let e = elements(b"DAQ1\r\nDCSX\r\nZVZVA01\r\n", "DL", &kinds, &mut p);
        assert_eq!(e.len(), 2);
        // A jurisdiction element inside the card subfile is read, not taken for an end.
        let e = elements(b"DAQ1\nZAA7\nDCSX\r", "DL", &kinds, &mut p);
        assert_eq!(e.len(), 3);
    }

    #[test]
    fn latin1_values() {
        assert_eq!(text(b"FRAN\xC7OIS"), "FRANÇOIS");
        assert_eq!(text("FRANÇOIS".as_bytes()), "FRANÇOIS");
    }
}
