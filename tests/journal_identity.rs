//! What the stages send to journald when its socket is there: every entry under the
//! identifier `ignition` (although the binary is called ignis), with real priorities, so that
//! `journalctl -t ignition -p warning` returns exactly the warnings; and the SSH-key entry
//! with Ignition's MESSAGE_ID and the user's name, which NestOS's scripts look for. The
//! console still gets readable lines.

mod common;

use common::is_root;

use ignis::sys::journal;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Output};

type Entry = Vec<(String, String)>;

fn get<'a>(e: &'a Entry, k: &str) -> Option<&'a str> {
    e.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str())
}

#[test]
fn stages_log_as_ignition_with_priorities_and_the_ssh_key_message() {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journal-id");
    let _ = std::fs::remove_dir_all(&d);
    let host = d.join("host");
    std::fs::create_dir_all(host.join("proc")).unwrap();
    std::fs::create_dir_all(host.join("run/systemd/journal")).unwrap();
    std::fs::write(host.join("proc/cmdline"), "ignition.firstboot\n").unwrap();
    std::fs::create_dir_all(host.join("proc/sys/kernel/random")).unwrap();
    std::fs::write(host.join("proc/sys/kernel/random/boot_id"), "b-1\n").unwrap();
    let root = d.join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnest:x:1000:1000::/home/nest:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\nnest:x:1000:\n").unwrap();
    let sock = UnixDatagram::bind(host.join("run/systemd/journal/socket")).unwrap();
    sock.set_nonblocking(true).unwrap();
    // One warning (an unknown key) and a user with a key.
    let cfg = r#"{"ignition":{"version":"3.3.0"},"storage":{"filez":[]},
        "passwd":{"users":[{"name":"nest","sshAuthorizedKeys":["ssh-ed25519 AAAA nest@a"]}]}}"#;
    std::fs::write(d.join("config.ign"), cfg).unwrap();
    let run = |stage: &str| -> Output {
        Command::new(env!("CARGO_BIN_EXE_ignis"))
            .args(["-platform", "file", "-stage", stage])
            .arg("-root")
            .arg(&root)
            .arg("-config-cache")
            .arg(d.join("run/ignition.json"))
            .arg("-state-file")
            .arg(d.join("run/state"))
            .arg("-neednet")
            .arg(d.join("run/neednet"))
            .env("IGNIS_HOST_ROOT", &host)
            .env("IGNITION_CONFIG_FILE", d.join("config.ign"))
            .env_remove("JOURNAL_STREAM")
            .output()
            .unwrap()
    };
    let o = run("fetch");
    let console = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{console}");
    let mut entries: Vec<Entry> = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut drain = |entries: &mut Vec<Entry>| {
        while let Ok(n) = sock.recv(&mut buf) {
            entries.push(journal::decode(&buf[..n]).unwrap());
        }
    };
    drain(&mut entries);
    assert!(entries.len() >= 3, "{entries:?}");
    for e in &entries {
        assert_eq!(get(e, "SYSLOG_IDENTIFIER"), Some("ignition"), "{e:?}");
        assert_eq!(get(e, "IGNIS_STAGE"), Some("fetch"), "{e:?}");
    }
    // `-p warning`: priorities 0..=4.
    let warnings: Vec<&str> = entries
        .iter()
        .filter(|e| get(e, "PRIORITY").is_some_and(|p| p.parse::<u8>().unwrap() <= 4))
        .filter_map(|e| get(e, "MESSAGE"))
        .collect();
    assert_eq!(
        warnings,
        [
            "platform file: warning at $.storage.filez, line 1 col 44: unused key filez (did you mean \"files\"?)"
        ]
    );
    assert!(entries.iter().any(|e| get(e, "PRIORITY") == Some("6")));
    // The console line stays readable, with its level.
    assert!(
        console.contains("WARNING  : platform file: warning at $.storage.filez"),
        "{console}"
    );
    assert!(!console.contains("<4>"), "{console}");

    if !is_root() {
        common::skip::skip(
            "stages_log_as_ignition_with_priorities_and_the_ssh_key_message",
            "the files stage: chown needs root",
        );
        return;
    }
    let o = run("files");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut entries = Vec::new();
    drain(&mut entries);
    let ssh: Vec<&Entry> = entries
        .iter()
        .filter(|e| get(e, "MESSAGE_ID") == Some("225067b87bbd4a0cb6ab151f82fa364b"))
        .collect();
    assert_eq!(ssh.len(), 1, "{entries:?}");
    assert_eq!(get(ssh[0], "IGNITION_USER_NAME"), Some("nest"));
    assert_eq!(get(ssh[0], "PRIORITY"), Some("6"));
    assert_eq!(get(ssh[0], "SYSLOG_IDENTIFIER"), Some("ignition"));
    assert_eq!(
        get(ssh[0], "IGNITION_PATH").map(Path::new),
        Some(
            root.join("home/nest/.ssh/authorized_keys.d/ignition")
                .as_path()
        )
    );
    assert_eq!(
        get(ssh[0], "MESSAGE"),
        Some("wrote ssh authorized keys file for user: nest")
    );
}

#[test]
fn without_journald_a_journal_stream_gets_priority_prefixes() {
    // The output is a file whose device:inode is given as $JOURNAL_STREAM, as systemd does for
    // a service whose output goes to the journal; no socket under the host root.
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("journal-stream");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("host/proc")).unwrap();
    std::fs::write(d.join("host/proc/cmdline"), "ignition.firstboot\n").unwrap();
    std::fs::write(
        d.join("config.ign"),
        r#"{"ignition":{"version":"3.3.0"},"storage":{"filez":[]}}"#,
    )
    .unwrap();
    let out = std::fs::File::create(d.join("stream")).unwrap();
    let st = rustix::fs::fstat(&out).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_ignis"))
        .args(["-platform", "file", "-stage", "fetch", "-log-to-stdout"])
        .arg("-root")
        .arg(d.join("root"))
        .arg("-config-cache")
        .arg(d.join("run/ignition.json"))
        .arg("-state-file")
        .arg(d.join("run/state"))
        .arg("-neednet")
        .arg(d.join("run/neednet"))
        .env("IGNIS_HOST_ROOT", d.join("host"))
        .env("IGNITION_CONFIG_FILE", d.join("config.ign"))
        .env("JOURNAL_STREAM", format!("{}:{}", st.st_dev, st.st_ino))
        .stdout(out)
        .output()
        .unwrap();
    assert!(o.status.success());
    let text = std::fs::read_to_string(d.join("stream")).unwrap();
    assert!(
        text.lines()
            .all(|l| l.starts_with("<6>") || l.starts_with("<4>")),
        "{text}"
    );
    assert!(
        text.contains("<4>platform file: warning at $.storage.filez"),
        "{text}"
    );
}
