//! Writes AAMVA barcode text from subfiles, with a header whose offsets and lengths are
//! right: for tests and for synthetic driver's-licence backs.

use super::layout::{CR, LF, RS};
use super::Subfile;

/// Writes a standard-conformant barcode text: header (`ANSI `, or `AAMVA` for version 0),
/// designators with correct offsets and lengths, then each subfile as its type, its
/// elements separated by LF, and CR. `iin` should be six digits and each subfile type two
/// characters (others are cut or padded); the jurisdiction version belongs to versions 2
/// and later (pass `None` for version 1). Line breaks and record separators inside values
/// are dropped, so they cannot break the layout.
pub fn compose(
    iin: &str,
    version: u8,
    jurisdiction_version: Option<u8>,
    subfiles: &[Subfile],
) -> String {
    let bodies: Vec<String> = subfiles.iter().map(body).collect();
    let mut out = String::new();
    out.push('@');
    out.push(char::from(LF));
    out.push(char::from(RS));
    out.push(char::from(CR));
    out.push_str(if version == 0 { "AAMVA" } else { "ANSI " });
    out.push_str(iin);
    out.push_str(&format!("{:02}", version.min(99)));
    if let Some(jv) = jurisdiction_version {
        out.push_str(&format!("{:02}", jv.min(99)));
    }
    out.push_str(&format!("{:02}", bodies.len().min(99)));
    let mut offset = out.len() + 10 * bodies.len();
    for (sub, body) in subfiles.iter().zip(&bodies) {
        out.push_str(&format!(
            "{}{:04}{:04}",
            kind(sub),
            offset.min(9999),
            body.len().min(9999)
        ));
        offset += body.len();
    }
    for body in &bodies {
        out.push_str(body);
    }
    out
}

/// One subfile: type, elements separated by LF, CR at the end.
fn body(sub: &Subfile) -> String {
    let elements: Vec<String> = sub
        .elements
        .iter()
        .map(|(id, value)| {
            let value: String = value
                .chars()
                .filter(|&c| c != '\n' && c != '\r' && c != '\u{1e}')
                .collect();
            format!("{id}{value}")
        })
        .collect();
    format!("{}{}\r", kind(sub), elements.join("\n"))
}

/// The subfile type as two characters, so the layout holds whatever the caller passed.
fn kind(sub: &Subfile) -> String {
    sub.kind.chars().chain("??".chars()).take(2).collect()
}
