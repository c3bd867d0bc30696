//! Fuzzes the AAMVA parser: any bytes must give a parsed card or a clean error, never a
//! panic. The elements of a card that parses are also written back with `compose` and
//! must parse again to the same values.
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run aamva_parse -- -max_total_time=60`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_doc::aamva::{self, Subfile};

fuzz_target!(|data: &[u8]| {
    let Ok(card) = aamva::parse_bytes(data) else {
        return;
    };
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = aamva::parse(text);
    }
    // Round trip: the card elements read, written as one clean subfile, read the same.
    // Ids starting "DL" are left out: no AAMVA element has one, and on a line of its own
    // one reads as the start of a DL subfile that lost its terminator.
    let elements: Vec<(String, String)> = card
        .fields
        .iter()
        .filter(|(id, v)| {
            id.starts_with('D') && !id.starts_with("DL") && !v.contains(['\n', '\r', '\u{1e}'])
        })
        .map(|(id, v)| (id.clone(), v.clone()))
        .collect();
    if elements.is_empty() || card.issuer_id.len() != 6 {
        return;
    }
    let text = aamva::compose(
        &card.issuer_id,
        card.version.max(1),
        (card.version >= 2).then_some(0),
        &[Subfile {
            kind: card.document_type.clone(),
            elements: elements.clone(),
        }],
    );
    if text.len() > aamva::MAX_INPUT {
        return; // Latin-1 input grows when written as UTF-8
    }
    let again = aamva::parse(&text).expect("composed text parses");
    for (id, v) in &elements {
        assert_eq!(again.fields.get(id), Some(v), "{id} in {text:?}");
    }
});
