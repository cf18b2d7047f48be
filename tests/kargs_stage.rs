//! The kargs stage against a target with BLS entries: arguments applied to every entry, a
//! reboot requested only when something changed, a second run a no-op.

use std::path::Path;
use std::process::Command;

#[test]
fn edits_bls_entries_and_requests_a_reboot_once() {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kargs-stage");
    let _ = std::fs::remove_dir_all(&d);
    let entries = d.join("root/boot/loader/entries");
    std::fs::create_dir_all(&entries).unwrap();
    std::fs::create_dir_all(d.join("host/proc")).unwrap();
    std::fs::write(d.join("host/proc/cmdline"), "ignition.firstboot\n").unwrap();
    std::fs::write(
        entries.join("nestos-1.conf"),
        "title NestOS\noptions root=UUID=1 rw quiet\n",
    )
    .unwrap();
    std::fs::write(
        entries.join("nestos-2.conf"),
        "title NestOS old\noptions root=UUID=1 rw\n",
    )
    .unwrap();
    let cfg = r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["console=tty0 console=ttyS0,115200"],"shouldNotExist":["quiet"]}}"#;
    std::fs::write(d.join("config.ign"), cfg).unwrap();
    let stage = |s: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_ignis"))
            .args(["-platform", "file", "-stage", s, "-log-to-stdout"])
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
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{s}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    stage("fetch");
    stage("kargs");
    let e1 = std::fs::read_to_string(entries.join("nestos-1.conf")).unwrap();
    assert_eq!(
        e1,
        "title NestOS\noptions root=UUID=1 rw console=tty0 console=ttyS0,115200\n"
    );
    let e2 = std::fs::read_to_string(entries.join("nestos-2.conf")).unwrap();
    assert_eq!(
        e2,
        "title NestOS old\noptions root=UUID=1 rw console=tty0 console=ttyS0,115200\n"
    );
    let flag = d.join("host/run/ignition/kargs-reboot");
    assert!(flag.exists(), "reboot requested");
    std::fs::remove_file(&flag).unwrap();
    let out = stage("kargs");
    assert!(out.contains("already have"), "{out}");
    assert!(!flag.exists(), "no reboot when nothing changed");
}
