//! Fuzz target: any bytes through parse + validate + canonical output + re-reading it as the
//! config cache. The engine must never panic, and a config it accepts must round-trip.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = ignis::validate_cmd::check(data, false);
    if let Some(p) = out.parsed {
        let canon = ignis::config::to_canonical_json(&p.config);
        let again = ignis::config::parse_cached(canon.as_bytes()).expect("canonical output must parse");
        assert_eq!(again.config, p.config, "canonical output must round-trip");
    }
});
