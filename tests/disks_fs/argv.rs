//! The exact argv of mdadm and cryptsetup runs (recorded), LUKS state and crypttab, and the
//! entries' failures.

use super::*;

#[test]
fn raid_argv_is_ignitions() {
    let d = dir("raid");
    let a = img(&d, "a", 1);
    let b = img(&d, "b", 1);
    let c = img(&d, "c", 1);
    let cfg = config(serde_json::json!({"storage": {"raid": [
        {"name": "ignis-test-md", "level": "raid1", "devices": [a, b, c], "spares": 1, "options": ["--metadata=1.2"]}
    ]}}));
    let r = RecordingRunner::new();
    let mut e = env(&r, &d);
    e.device_timeout = Duration::ZERO;
    // The recorded mdadm makes no array, so waiting for /dev/md/ignis-test-md times out.
    let err = ignis::stages::disks::raid::apply(&e, &cfg.storage.raid)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/dev/md/ignis-test-md ($.storage.raid.0)"),
        "{err}"
    );
    let argv = &r.argvs()[0];
    let s = |p: &PathBuf| p.canonicalize().unwrap().to_string_lossy().into_owned();
    let want: Vec<String> = [
        "mdadm",
        "--create",
        "ignis-test-md",
        "--force",
        "--run",
        "--homehost",
        "any",
        "--level",
        "raid1",
        "--raid-devices",
        "2",
        "--spare-devices",
        "1",
        "--metadata=1.2",
    ]
    .iter()
    .map(|x| x.to_string())
    .chain([s(&a), s(&b), s(&c)])
    .collect();
    assert_eq!(argv, &want);
    assert_eq!(
        ignis::stages::disks::raid::array_path("data"),
        "/dev/md/data"
    );
    assert_eq!(
        ignis::stages::disks::raid::array_path("/dev/md127"),
        "/dev/md127"
    );
}

#[test]
fn luks_argv_state_and_crypttab() {
    let d = dir("luks");
    let dev = img(&d, "dev", 16);
    let node = dev.canonicalize().unwrap();
    let n = node.to_string_lossy().into_owned();
    let cfg = config(serde_json::json!({
        "ignition": {"version": "3.4.0"},
        "storage": {"luks": [
            {"name": "data", "device": dev, "label": "DATA", "uuid": "11111111-2222-3333-4444-555555555555",
             "keyFile": {"source": "data:,secret"}, "options": ["--cipher", "aes-xts-plain64"],
             "openOptions": ["--perf-no_read_workqueue"], "discard": true},
            {"name": "bound", "device": dev, "wipeVolume": true, "clevis": {"tpm2": true}}
        ]}
    }));
    let r = RecordingRunner::new();
    r.reply(
        &["cryptsetup", "luksUUID"],
        Ok(b"11111111-2222-3333-4444-555555555555\n"),
    );
    r.reply(
        &["cryptsetup", "luksUUID"],
        Ok(b"99999999-2222-3333-4444-555555555555\n"),
    );
    let mut st = State::default();
    disks::luks::apply(&env(&r, &d), &cfg, &mut st).unwrap();
    let kf = |name: &str| {
        d.join("run/luks-keyfiles")
            .join(name)
            .to_string_lossy()
            .into_owned()
    };
    let a = r.argvs();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        a[0],
        s(&[
            "cryptsetup",
            "luksFormat",
            "--type",
            "luks2",
            "--key-file",
            &kf("data"),
            "--label",
            "DATA",
            "--uuid",
            "11111111-2222-3333-4444-555555555555",
            "--cipher",
            "aes-xts-plain64",
            &n
        ])
    );
    assert_eq!(
        a[1],
        s(&[
            "cryptsetup",
            "luksOpen",
            &n,
            "data",
            "--key-file",
            &kf("data"),
            "--persistent",
            "--allow-discards",
            "--perf-no_read_workqueue"
        ])
    );
    assert_eq!(a[2], s(&["cryptsetup", "luksUUID", &n]));
    // The Clevis volume: wipe, format, open, bind, prove, drop the random key.
    assert_eq!(a[3], s(&["wipefs", "-a", &n]));
    assert_eq!(a[4][..2], s(&["cryptsetup", "luksFormat"]));
    assert_eq!(a[6][..5], s(&["clevis", "luks", "bind", "-f", "-k"]));
    assert_eq!(a[6][7..], s(&[&n, "sss", r#"{"pins":{"tpm2":{}},"t":1}"#]));
    assert_eq!(a[7], s(&["cryptsetup", "luksClose", "bound"]));
    assert_eq!(
        a[8],
        s(&["clevis", "luks", "unlock", "-d", &n, "-n", "bound"])
    );
    assert_eq!(a[9], s(&["cryptsetup", "luksRemoveKey", &n, &kf("bound")]));
    // Key files do not outlive the stage.
    assert!(!Path::new(&kf("data")).exists());
    assert_eq!(st.luks.len(), 2);
    assert_eq!(
        st.luks[0].key_file.as_deref(),
        Some("data:;base64,c2VjcmV0")
    );
    assert_eq!(st.luks[0].options, vec!["discard"]);
    assert_eq!(st.luks[1].key_file, None);

    // The files stage's part: keyfile and crypttab lines, other lines kept.
    let root_dir = d.join("root");
    std::fs::create_dir_all(root_dir.join("etc")).unwrap();
    std::fs::write(
        root_dir.join("etc/crypttab"),
        "# comment\nother UUID=x none luks\ndata UUID=old none luks\n",
    )
    .unwrap();
    let root = ignis::sys::root::Root::open(&root_dir).unwrap();
    ignis::stages::files::crypttab::persist(&root, &st).unwrap();
    assert_eq!(
        std::fs::read_to_string(root_dir.join("etc/crypttab")).unwrap(),
        "# comment\nother UUID=x none luks\n\
         data UUID=11111111-2222-3333-4444-555555555555 /etc/luks/data luks,discard\n\
         bound UUID=99999999-2222-3333-4444-555555555555 none luks\n"
    );
    assert_eq!(
        std::fs::read(root_dir.join("etc/luks/data")).unwrap(),
        b"secret"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root_dir.join("etc/luks/data"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "keyfiles are 0600, as Ignition writes them"
    );
}

#[test]
fn clevis_missing_is_a_clear_error() {
    let d = dir("noclevis");
    let dev = img(&d, "dev", 16);
    let cfg = config(serde_json::json!({"storage": {"luks": [
        {"name": "x", "device": dev, "clevis": {"tang": [{"url": "http://127.0.0.1:1", "thumbprint": "abc"}]}}
    ]}}));
    let r = RecordingRunner::new();
    r.without("clevis");
    let e = disks::luks::apply(&env(&r, &d), &cfg, &mut State::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("$.storage.luks.0") && e.contains("needs the clevis tool"),
        "{e}"
    );
    assert!(r.argvs().is_empty());
}

#[test]
fn luks_reuse_rules() {
    let d = dir("luksreuse");
    let dev = img(&d, "dev", 16);
    // An ext4 where a LUKS volume should be, without wipeVolume: refused (N7).
    if tools(&["mkfs.ext4"]) {
        RealRunner
            .run(&Cmd::new("mkfs.ext4").args(["-q", "-F"]).arg(&dev))
            .unwrap();
        let cfg = config(serde_json::json!({"storage": {"luks": [{"name": "x", "device": dev}]}}));
        let r = RecordingRunner::new();
        let e = disks::luks::apply(&env(&r, &d), &cfg, &mut State::default())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("holds an existing ext4 filesystem and wipeVolume is false"),
            "{e}"
        );
        assert!(r.argvs().is_empty());
    }
}

#[test]
fn missing_devices_and_bad_options_fail_with_the_entry() {
    let d = dir("n6");
    let r = RecordingRunner::new();
    let mut e = env(&r, &d);
    e.device_timeout = Duration::ZERO;
    // N6 filesystems.nodevice
    let cfg = config(serde_json::json!({"storage": {"filesystems": [
        {"device": "/dev/disk/by-label/ignis-no-such-device", "format": "ext4"}]}}));
    let err = filesystems::apply(&e, &cfg).unwrap_err().to_string();
    assert!(
        err.contains("timed out")
            && err.contains("/dev/disk/by-label/ignis-no-such-device ($.storage.filesystems.0)"),
        "{err}"
    );
    // N6 filesystem.erase.block.device.invalidoptions: mkfs refuses, the error names the
    // entry and carries the tool's complaint.
    if tools(&["mkfs.ext4", "wipefs"]) {
        let dev = img(&d, "dev", 16);
        let cfg = config(serde_json::json!({"storage": {"filesystems": [
            {"device": dev, "format": "ext4", "options": ["--no-such-option"]}]}}));
        let tee = Tee::default();
        let err = filesystems::apply(&env(&tee, &d), &cfg)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("$.storage.filesystems.0")
                && err.contains("mkfs.ext4 --no-such-option -F"),
            "{err}"
        );
    }
}

#[test]
fn mount_paths_may_not_use_symlinks() {
    // N6 filesystem.pathusessymlinks: refused before anything is mounted.
    let d = dir("symlink");
    let dev = img(&d, "dev", 1);
    let root_dir = d.join("root");
    std::fs::create_dir_all(root_dir.join("real")).unwrap();
    std::os::unix::fs::symlink("/real", root_dir.join("var")).unwrap();
    std::fs::write(root_dir.join("file"), b"").unwrap();
    let root = ignis::sys::root::Root::open(&root_dir).unwrap();
    let r = RecordingRunner::new();
    for (path, want) in [
        ("/var/lib", "uses a symlink (/var)"),
        ("/file/x", "/file exists and is not a directory"),
    ] {
        let cfg = config(serde_json::json!({"storage": {"filesystems": [
            {"device": dev, "format": "ext4", "path": path}]}}));
        let mut st = State::default();
        let err = ignis::stages::mount::mount(&env(&r, &d), &root, &cfg, &mut st)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("$.storage.filesystems.0") && err.contains(want),
            "{err}"
        );
        assert!(st.notated_directories.is_empty());
    }
    assert!(r.argvs().is_empty());
    assert!(!root_dir.join("real/lib").exists());
}
