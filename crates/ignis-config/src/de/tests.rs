//! Tests of the decoder: Go's key matching, version gates, type errors and their paths.

use super::*;
use crate::json;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
struct Inner {
    mode: Option<i64>,
    path: String,
    overwrite: Option<bool>,
}

#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(default, rename_all = "camelCase")]
struct Outer {
    files: Vec<Inner>,
    name: Option<String>,
}

fn dec(src: &str) -> (Result<Outer, DeError>, Vec<Finding>) {
    let n = json::parse(src.as_bytes()).unwrap();
    let ctx = Ctx::new(Version::V3_3);
    let r = decode::<Outer>(&n, &ctx);
    (r, ctx.findings.into_inner())
}

#[test]
fn decodes_and_defaults() {
    let (r, f) =
        dec(r#"{"files":[{"path":"/a","mode":420},{"path":"/b","mode":null}],"name":null}"#);
    let o = r.unwrap();
    assert!(f.is_empty());
    assert_eq!(o.files[0].mode, Some(420));
    assert_eq!(o.files[1].mode, None);
    assert_eq!(o.name, None);
    let (r, _) = dec(r#"{"files":null}"#);
    assert!(r.unwrap().files.is_empty());
}

#[test]
fn case_insensitive_keys_apply_and_warn() {
    let (r, f) = dec(r#"{"Files":[{"PATH":"/a"}]}"#);
    assert_eq!(r.unwrap().files[0].path, "/a");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].path.to_string(), "$.Files");
    assert_eq!(
        f[0].message,
        "unused key Files (applied as \"files\"; key names are case-sensitive)"
    );
    assert_eq!(f[1].path.to_string(), "$.files.0.PATH");
}

#[test]
fn unknown_keys_warn_with_suggestion() {
    let (r, f) = dec(r#"{"filez":[], "zzzzzzzz": 1}"#);
    assert!(r.is_ok());
    assert_eq!(f[0].message, "unused key filez (did you mean \"files\"?)");
    assert_eq!(f[1].message, "unused key zzzzzzzz");
}

#[test]
fn duplicate_keys_last_wins() {
    let (r, _) = dec(r#"{"name":"a","name":"b"}"#);
    assert_eq!(r.unwrap().name.as_deref(), Some("b"));
}

#[test]
fn type_errors_carry_path_and_go_text() {
    let (r, _) = dec(r#"{"files":[{"path":"/a"},{"mode":420.0}]}"#);
    let e = r.unwrap_err();
    assert_eq!(e.path.unwrap().to_string(), "$.files.1.mode");
    assert_eq!(
        e.msg,
        "json: cannot unmarshal number 420.0 into Go struct field Inner.files.mode of type int"
    );
    let (r, _) = dec(r#"{"files":{}}"#);
    assert_eq!(r.unwrap_err().path.unwrap().to_string(), "$.files");
    let (r, _) = dec(r#"[]"#);
    assert!(r.unwrap_err().path.unwrap().0.is_empty());
}

#[test]
fn suggestions() {
    assert_eq!(
        suggest("storagee", &["storage", "systemd"]),
        Some("storage")
    );
    assert_eq!(suggest("xyz", &["storage", "systemd"]), None);
}
