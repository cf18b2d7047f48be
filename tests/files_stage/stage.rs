//! The stage as a whole: the result file, a failure that leaves the old file, the debug
//! switch, a failure printed once.

use super::*;

#[test]
fn result_file_previous_report_and_an_interrupted_first_boot() {
    let t = T::new("result");
    let c =
        cfg(r#"{"files":[{"path":"/etc/a","contents":{"source":"data:,a"},"overwrite":true}]}"#);
    ok(t.apply(&c));
    let first: serde_json::Value =
        serde_json::from_str(&t.read("/etc/.ignition-result.json")).unwrap();
    assert_eq!(
        first["provisioningBootID"],
        "0b8e0f3c-1f6e-4d39-a8f7-4f2b3f0d9c11"
    );
    assert_eq!(first["userConfigProvided"], true);
    assert!(first.get("previousReport").is_none());
    assert_eq!(t.mode("/etc/.ignition-result.json"), 0o600);
    assert!(!t.p("/etc/.ignition-in-progress.json").exists());
    // A later boot whose files stage was cut off (the marker of boot "b-cut" is still there)
    // runs the stages again: a warning says so and the result file records it, next to the
    // report of the run that did finish.
    std::fs::write(
        t.p("/etc/.ignition-in-progress.json"),
        r#"{"bootID":"b-cut","startDate":"2026-12-06T01:00:00Z"}"#,
    )
    .unwrap();
    let o = t.apply(&c);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(
            "WARNING  : first boot interrupted and restarted: a files stage started in boot b-cut"
        ),
        "{out}"
    );
    assert!(
        out.contains("WARNING  : Ignition already ran on this system"),
        "{out}"
    );
    let second: serde_json::Value =
        serde_json::from_str(&t.read("/etc/.ignition-result.json")).unwrap();
    assert_eq!(second["interruptedRun"]["bootID"], "b-cut");
    assert_eq!(second["previousReport"], first);
    assert!(!t.p("/etc/.ignition-in-progress.json").exists());
}

#[test]
fn overwrite_keeps_the_old_file_when_the_new_contents_fail() {
    if !is_root() {
        common::skip::skip(
            "overwrite_keeps_the_old_file_when_the_new_contents_fail",
            "chown needs root",
        );
        return;
    }
    let t = T::new("overwrite-atomic");
    std::fs::write(t.p("/etc/motd"), "old\n").unwrap();
    std::fs::create_dir_all(t.p("/etc/confdir")).unwrap();
    std::fs::write(t.p("/etc/confdir/keep"), "x").unwrap();
    // A wrong hash: the stage fails, and the old file is still there, unchanged.
    let bad = format!("sha512-{}", "0".repeat(128));
    let o = t.apply(&cfg(&format!(
        r#"{{"files":[{{"path":"/etc/motd","overwrite":true,"contents":{{"source":"data:,new%0A","verification":{{"hash":"{bad}"}}}}}}]}}"#
    )));
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(t.p("/etc/motd")).unwrap(), "old\n");
    // Good contents replace it; a directory in the way goes only once the file is ready.
    let o = t.apply(&cfg(
        r#"{"files":[{"path":"/etc/motd","overwrite":true,"contents":{"source":"data:,new%0A"}},
                     {"path":"/etc/confdir","overwrite":true,"contents":{"source":"data:,f"}}]}"#,
    ));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(t.p("/etc/motd")).unwrap(), "new\n");
    assert_eq!(std::fs::read_to_string(t.p("/etc/confdir")).unwrap(), "f");
    let m = std::fs::metadata(t.p("/etc/motd")).unwrap();
    assert_eq!(
        m.permissions().mode() & 0o7777,
        0o644,
        "treated as a new file"
    );
}

#[test]
fn debug_lines_only_when_asked() {
    // #12 item 4: IGNIS_DEBUG (or ignis.debug / rd.debug on the kernel command line) turns
    // the debug lines on; without it they stay out.
    let t = T::new("debug");
    let c = cfg(r#"{"files":[{"path":"/etc/dbg","contents":{"source":"data:,hi"}}]}"#);
    let f = t.run("fetch", &c);
    assert!(f.status.success(), "{}", text(&f));
    let quiet = t.run("files", &c);
    assert!(quiet.status.success(), "{}", text(&quiet));
    assert!(!text(&quiet).contains("DEBUG"), "{}", text(&quiet));
    std::fs::remove_file(t.p("/etc/dbg")).unwrap();
    let loud = t.run_env("files", &c, &[("IGNIS_DEBUG", "1")]);
    assert!(loud.status.success(), "{}", text(&loud));
    assert!(text(&loud).contains("/etc/dbg: 2 bytes"), "{}", text(&loud));
}

#[test]
fn a_failing_stage_prints_its_error_once() {
    // #12 item 4: the op line names what failed, the stage's failure line gives the error
    // chain; the error itself is printed once, not by both.
    let t = T::new("once");
    std::fs::write(t.p("/etc/afile"), "x").unwrap();
    let o = t.apply(&cfg(
        r#"{"files":[{"path":"/etc/afile/x","contents":{"source":"data:,hi"}}]}"#,
    ));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert_eq!(
        out.matches("/etc/afile exists and is not a directory")
            .count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("[failed]   writing file $.storage.files.0 \"/etc/afile/x\"\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "files failed: writing files, directories and links: $.storage.files.0 \"/etc/afile/x\": \
             /etc/afile exists and is not a directory"
        ),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(t.p("/etc/afile")).unwrap(), "x");
}
