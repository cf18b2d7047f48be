//! Tests of the config engine as a whole: parse, validate, translate, the cache forms.

use super::*;
use crate::output::pretty;

fn errs(src: &str) -> Vec<String> {
    match parse(src.as_bytes()) {
        Ok(p) => p.report.entries.iter().map(|e| e.to_string()).collect(),
        Err(e) => {
            let mut v: Vec<String> = e.report.entries.iter().map(|e| e.to_string()).collect();
            v.push(e.failure.to_string());
            v
        }
    }
}

#[test]
fn minimal_configs() {
    for v in [
        "3.0.0",
        "3.1.0",
        "3.2.0",
        "3.3.0",
        "3.4.0",
        "3.5.0",
        "3.6.0",
        "3.7.0-experimental",
    ] {
        let p = parse(format!(r#"{{"ignition":{{"version":"{v}"}}}}"#).as_bytes()).unwrap();
        assert!(p.report.is_empty(), "{v}");
    }
}

#[test]
fn version_failures() {
    assert_eq!(parse(b"").unwrap_err().failure, Failure::Empty);
    assert_eq!(parse(b"{}").unwrap_err().failure, Failure::InvalidVersion);
    assert_eq!(
        parse(br#"{"ignition":{"version":"2.2.0"}}"#)
            .unwrap_err()
            .failure,
        Failure::UnknownVersion
    );
    assert_eq!(
        parse(br#"{"ignition":{"version":"3.9.0"}}"#)
            .unwrap_err()
            .failure,
        Failure::UnknownVersion
    );
    assert_eq!(
        parse(br#"{"ignition":{"version":"x"}}"#)
            .unwrap_err()
            .failure,
        Failure::InvalidVersion
    );
    assert_eq!(
        parse(br#"{"ignition":{"version":3}}"#).unwrap_err().failure,
        Failure::Invalid
    );
}

#[test]
fn positions_in_reports() {
    let src = r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"relative"}]}}"#;
    assert_eq!(
        errs(src),
        vec![
            "error at $.storage.files.0.path, line 1 col 61: path not absolute",
            "config is not valid"
        ]
    );
}

#[test]
fn version_gates_drop_newer_fields() {
    let src = r#"{"ignition":{"version":"3.0.0"},"kernelArguments":{"shouldExist":["a"]}}"#;
    let p = parse(src.as_bytes()).unwrap();
    assert!(p.config.kernel_arguments.should_exist.is_empty());
    assert_eq!(p.report.entries[0].message, "unused key kernelArguments");
    let src = r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["a"]}}"#;
    assert_eq!(
        parse(src.as_bytes())
            .unwrap()
            .config
            .kernel_arguments
            .should_exist,
        vec!["a"]
    );
}

#[test]
fn special_bits_masked_before_3_6() {
    let f = |v: &str| {
        parse(format!(r#"{{"ignition":{{"version":"{v}"}},"storage":{{"files":[{{"path":"/a","mode":2541}}]}}}}"#).as_bytes())
            .unwrap()
    };
    let old = f("3.5.0");
    assert_eq!(old.config.storage.files[0].mode, Some(0o755));
    assert_eq!(old.report.entries[0].level, Level::Warning);
    let new = f("3.6.0");
    assert_eq!(new.config.storage.files[0].mode, Some(0o4755));
    assert!(new.report.is_empty());
}

#[test]
fn sourceless_3_0_merge_entries_are_dropped() {
    let p = parse(br#"{"ignition":{"version":"3.0.0","config":{"merge":[{}]}}}"#).unwrap();
    assert!(p.config.ignition.config.merge.is_empty());
    assert!(parse(to_canonical_json(&p.config).as_bytes()).is_ok());
}

#[test]
fn owned_parse_hands_the_buffer_to_the_largest_string() {
    let big = "QUJD".repeat((TAKE_OVER_DOC / 4) + 1);
    let docs = [
        // The data URL takes the buffer; a later entry's error is positioned past it.
        format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\n\"storage\":{{\"files\":[{{\"path\":\"/a\",\"contents\":{{\"source\":\"data:;base64,{big}\"}}}},\n{{\"path\":\"b\"}}]}}}}"),
        // And streamed back out by write_cache_json.
        format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"storage\":{{\"files\":[{{\"path\":\"/a\",\"contents\":{{\"source\":\"data:;base64,{big}\"}}}}]}}}}"),
        // In an unused key: decoded into nothing.
        format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"x\":\"{big}\"}}"),
        // A document spelling the stand-in itself is parsed by copying.
        format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"passwd\":{{\"users\":[{{\"name\":\"\\u0000ignis: the document's largest string, put back after decoding\\u0000\",\"gecos\":\"{big}\"}}]}}}}"),
        // The big string where a number belongs: the same type error.
        format!("{{\"ignition\":{{\"version\":\"3.3.0\"}},\"storage\":{{\"files\":[{{\"path\":\"/a\",\"mode\":\"{big}\"}}]}}}}"),
    ];
    for doc in docs {
        let want = parse(doc.as_bytes());
        let got = parse_owned(doc.clone().into_bytes());
        match (want, got) {
            (Ok(w), Ok(mut g)) => {
                assert_eq!(w.config, g.config);
                let mut streamed = Vec::new();
                write_cache_json(&mut g.config, &mut streamed).unwrap();
                assert_eq!(streamed, to_cache_json(&w.config).into_bytes());
                assert_eq!(w.config, g.config);
                assert_eq!(w.report.to_string(), g.report.to_string());
            }
            (Err(w), Err(g)) => {
                assert_eq!(w.failure, g.failure);
                assert_eq!(w.report.to_string(), g.report.to_string());
                assert!(!w.report.is_empty());
            }
            (w, g) => panic!("{:?} vs {:?}", w.is_ok(), g.is_ok()),
        }
    }
}

#[test]
fn canonical_output_round_trips() {
    let src = r#"{"ignition":{"version":"3.1.0"},"storage":{"files":[{"path":"/a","contents":{"source":"data:,x"},"mode":420}]}}"#;
    let p = parse(src.as_bytes()).unwrap();
    let out = to_canonical_json(&p.config);
    let again = parse(out.as_bytes()).unwrap();
    assert_eq!(again.config, p.config);
    assert_eq!(again.version, Version::V3_6);
}

#[test]
fn canonical_output_is_serde_jsons_pretty_layout() {
    // Strings with JSON punctuation and escapes, empty and nested containers.
    let src = r#"{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"data:,a%2Cb"}]}},
        "passwd":{"users":[{"name":"u","gecos":"a {b} [c], d: \"e\" \\ f","groups":[]}]},
        "storage":{"files":[{"path":"/a","contents":{"source":"data:,x:1,2"},"mode":420,
        "append":[{"source":"data:,y"}]}],"directories":[{"path":"/d"}]},
        "kernelArguments":{"shouldExist":["k=\"{]\""]}}"#;
    let p = parse(src.as_bytes()).unwrap();
    assert!(p.report.is_empty(), "{}", p.report);
    let want = serde_json::to_string_pretty(&p.config).unwrap();
    assert_eq!(to_canonical_json(&p.config), want);
    assert_eq!(pretty("{}"), "{}");
    assert_eq!(
        pretty(r#"{"a":[],"b":{},"c":[1,{"d":"}"}]}"#),
        serde_json::to_string_pretty(
            &serde_json::from_str::<serde_json::Value>(r#"{"a":[],"b":{},"c":[1,{"d":"}"}]}"#)
                .unwrap()
        )
        .unwrap()
    );
}
