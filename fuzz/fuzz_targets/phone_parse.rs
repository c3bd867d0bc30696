//! Phone input parsers never panic: numbers as callers type them (with any default
//! region), SMS templates, and CAMARA SIM-swap CloudEvents posted to the sink.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_phone::template::Template;
use vouch_phone::{parse_number, Region, E164};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        let _ = vouch_phone::camara::parse_sim_swap_event(data);
        return;
    };
    let region = Region::parse(text.get(..2).unwrap_or("US")).unwrap_or_default();
    if let Ok(n) = parse_number(text, region, &|n| n.len() == 12) {
        let back = E164::from_stored(n.as_str()).expect("a parsed number is stored E.164");
        assert_eq!(back.as_str(), n.as_str());
        let _ = n.masked();
    }
    if let Ok(t) = Template::otp(Some(text)) {
        let code = "0".repeat(t.code_digits());
        assert!(t.render_otp(&code).contains(&code));
    }
    if let Ok(t) = Template::link(Some(text)) {
        let _ = t.render_link("https://vouch.example/l/abc");
    }
    let _ = vouch_phone::camara::parse_sim_swap_event(data);
});
