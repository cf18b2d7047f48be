//! `ignis butane` and `ignis validate FILE.bu` as the real binary. Built with the `butane`
//! feature: files, stdin, -d, -o, --pretty, --strict and exit codes. Built without it (the
//! initramfs build, which must not grow by a byte): there is no such subcommand, and a Butane
//! file given to `validate` is refused as the JSON it is not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/butane")
}

fn ignis(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ignis"));
    c.args(args)
        .current_dir(corpus())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(feature = "butane")]
fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", err(o)))
}

#[cfg(feature = "butane")]
#[test]
fn translates_files_stdin_and_files_dir() {
    let want: serde_json::Value = serde_json::from_slice(
        &std::fs::read(corpus().join("21-nestos-quickstart-1.6.json")).unwrap(),
    )
    .unwrap();
    let o = ignis(
        &[
            "butane",
            "--pretty",
            "--strict",
            "21-nestos-quickstart-1.6.bu",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(json(&o), want);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("\n  \"ignition\""),
        "--pretty indents"
    );

    let src = std::fs::read(corpus().join("21-nestos-quickstart-1.6.bu")).unwrap();
    let o = ignis(&["butane"], Some(&src));
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(json(&o), want);
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).lines().count(),
        1,
        "compact without --pretty"
    );

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("butane-out.ign");
    let _ = std::fs::remove_file(&out);
    let o = ignis(
        &[
            "butane",
            "-d",
            "06-trees-1.6.d",
            "-o",
            out.to_str().unwrap(),
            "06-trees-1.6.bu",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(o.stdout.is_empty());
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let want: serde_json::Value =
        serde_json::from_slice(&std::fs::read(corpus().join("06-trees-1.6.json")).unwrap())
            .unwrap();
    assert_eq!(got, want);

    // Without -d the local reference is an error at its line and column.
    let o = ignis(&["butane", "05-local-1.3.bu"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains(
            "$.storage.files.0.contents.local, line 10 col 16: local file paths are relative"
        ),
        "{}",
        err(&o)
    );
}

#[cfg(feature = "butane")]
#[test]
fn strict_makes_warnings_fatal() {
    let o = ignis(&["butane", "e01-unused-key-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("warning at $.passwd.users.0.bogus, line 8 col 7: unused key bogus"),
        "{}",
        err(&o)
    );
    let o = ignis(&["butane", "--check", "21-nestos-quickstart-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(o.stdout.is_empty(), "--check prints no config");
    let o = ignis(&["butane", "-c", "e03-two-sources-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(1));
    let o = ignis(&["butane", "--strict", "e01-unused-key-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(o.stdout.is_empty());
    assert!(err(&o).contains("--strict"), "{}", err(&o));
}

#[cfg(feature = "butane")]
#[test]
fn validate_takes_butane() {
    let o = ignis(&["validate", "21-nestos-quickstart-1.6.bu"], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(o.stdout.is_empty());
    let o = ignis(&["validate", "e03-two-sources-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("line 8 col 17: only one of the following"));
    let o = ignis(&["validate", "14-boot-mirror-x86-1.4.bu"], None);
    assert_eq!(o.status.code(), Some(0));
    let o = ignis(&["validate", "--strict", "14-boot-mirror-x86-1.4.bu"], None);
    assert_eq!(o.status.code(), Some(1));
    // Butane on stdin is recognised by its variant line.
    let src = std::fs::read(corpus().join("09-passwd-1.6.bu")).unwrap();
    let o = ignis(&["validate", "-"], Some(&src));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[cfg(not(feature = "butane"))]
#[test]
fn initramfs_build_has_no_butane() {
    let o = ignis(&["butane", "21-nestos-quickstart-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(2), "a usage error: {}", err(&o));
    assert!(o.stdout.is_empty());
    let o = ignis(&["validate", "21-nestos-quickstart-1.6.bu"], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("invalid character 'v'"));
}
