//! Fuzzes the MRZ parser: any text must give a parsed zone or a clean error, never a panic.
//! A zone that parses has its format's shape, and its corrected lines read the same again.
//! The first two bytes pick `today` (1900–2079), so the century rules run at odd dates too.
//! Run: `scripts/fuzz.sh mrz_parse [seconds]`.
#![no_main]

use chrono::NaiveDate;
use libfuzzer_sys::fuzz_target;
use vouch_doc::mrz;

fuzz_target!(|data: &[u8]| {
    let (day, text) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]), rest),
        _ => (0, data),
    };
    let today = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date")
        + chrono::Duration::days(i64::from(day) % 65_000);
    let text = String::from_utf8_lossy(text);

    let _ = mrz::check_digit(&text);
    let normalised: Vec<String> = text.lines().map(mrz::normalise_line).collect();
    let _ = mrz::detect_format(&normalised);
    let lines: Vec<&str> = text.split(['\n', '|']).collect();
    let _ = mrz::parse(&lines, today);

    if let Ok(zone) = mrz::parse_text(&text, today) {
        assert_eq!(zone.lines.len(), zone.format.line_count());
        assert!(zone.lines.iter().all(|l| l.len() == zone.format.line_len()));
        let refs: Vec<&str> = zone.lines.iter().map(String::as_str).collect();
        let again = mrz::parse(&refs, today).expect("corrected lines parse");
        assert_eq!(again.lines, zone.lines);
        assert_eq!(again.checks, zone.checks);
        // Building from what was read must not panic either.
        if let (Some(birth), Some(expiry)) = (zone.date_of_birth, zone.expiry_date) {
            let _ = mrz::build(&mrz::MrzFields {
                format: zone.format,
                document_code: zone.document_code.clone(),
                issuing_country: zone.issuing_country.clone(),
                document_number: zone.document_number.clone(),
                surname: zone.surname.clone(),
                given_names: zone.given_names.clone(),
                nationality: zone.nationality.clone(),
                date_of_birth: birth,
                sex: zone.sex.clone(),
                expiry_date: expiry,
                personal_number: zone.personal_number.clone().unwrap_or_default(),
                optional_data: zone.optional_data.clone().unwrap_or_default(),
            });
        }
    }
});
