//! The kargs stage against a target with BLS entries: arguments applied to every entry, a
//! reboot requested only when something changed, a second run a no-op; and with a distro's
//! `ignition-kargs-helper` found in PATH: called with Ignition's argv, its failure the stage's.

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
    // No helper anywhere in PATH: the native BLS editing runs.
    std::fs::create_dir_all(d.join("empty-bin")).unwrap();
    let stage = |s: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_ignis"))
            .env("PATH", d.join("empty-bin"))
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

#[test]
fn runs_the_helper_found_in_path() {
    use std::os::unix::fs::PermissionsExt;
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kargs-helper");
    let _ = std::fs::remove_dir_all(&d);
    let entries = d.join("root/boot/loader/entries");
    std::fs::create_dir_all(&entries).unwrap();
    std::fs::write(entries.join("a.conf"), "options quiet\n").unwrap();
    std::fs::create_dir_all(d.join("host")).unwrap();
    let sbin = d.join("sbin");
    std::fs::create_dir_all(&sbin).unwrap();
    // The fake helper records its argv, one argument a line; FAIL makes it fail like a helper
    // that could not edit the boot loader.
    let helper = sbin.join("ignition-kargs-helper");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do echo \"$a\"; done > {}\necho edited\n[ -z \"$FAIL\" ] || {{ echo cannot edit >&2; exit 1; }}\n",
            d.join("argv").display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = r#"{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldExist":["console=ttyS0,115200","a b"],"shouldNotExist":["quiet"]}}"#;
    std::fs::write(d.join("config.ign"), cfg).unwrap();
    let stage = |s: &str, fail: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ignis"));
        c.args(["-platform", "file", "-stage", s, "-log-to-stdout"])
            .arg("-root")
            .arg(d.join("root"))
            .arg("-config-cache")
            .arg(d.join("run/ignition.json"))
            .arg("-state-file")
            .arg(d.join("run/state"))
            .arg("-neednet")
            .arg(d.join("run/neednet"))
            // As systemd passes an unset ${IGNITION_ARGS}.
            .arg("")
            .env("PATH", format!("{}:/usr/bin:/bin", sbin.display()))
            .env("IGNIS_HOST_ROOT", d.join("host"))
            .env("IGNITION_CONFIG_FILE", d.join("config.ign"));
        if fail {
            c.env("FAIL", "1");
        }
        c.output().unwrap()
    };
    assert!(stage("fetch", false).status.success());
    let o = stage("kargs", false);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("edited"),
        "the helper's output is logged: {out}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("argv")).unwrap(),
        "--should-exist\nconsole=ttyS0,115200\n--should-exist\na b\n--should-not-exist\nquiet\n"
    );
    // The helper owns the boot loader: ignis neither edits the entries nor flags a reboot.
    assert_eq!(
        std::fs::read_to_string(entries.join("a.conf")).unwrap(),
        "options quiet\n"
    );
    assert!(!d.join("host/run/ignition/kargs-reboot").exists());
    let o = stage("kargs", true);
    assert_eq!(o.status.code(), Some(1));
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(all.contains("cannot edit"), "{all}");
}
