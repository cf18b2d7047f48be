//! Filesystems on image files with the real mkfs tools (no root needed): creation of every
//! format in parallel, Ignition's reuse and wipe rules, format `none`, UUID canonicalisation,
//! ambivalent probes; plus the exact argv of mkfs, mdadm and cryptsetup runs (recorded), and
//! the crypttab the files stage writes from the state.

#[path = "common/skip.rs"]
mod skip;

use ignis::config::types::Config;
use ignis::providers::HostPaths;
use ignis::stages::disks::{self, filesystems, Env};
use ignis::state::State;
use ignis::sys::cmd::{Cmd, RealRunner, RecordingRunner, Runner};
use ignis::sys::probe::probe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Runs commands for real and records them.
#[derive(Default)]
struct Tee {
    seen: Mutex<Vec<Vec<String>>>,
}

impl Runner for Tee {
    fn run(&self, cmd: &Cmd) -> ignis::error::Result<Vec<u8>> {
        self.seen.lock().unwrap().push(cmd.argv());
        RealRunner.run(cmd)
    }
}

impl Tee {
    fn progs(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|a| a[0].clone())
            .collect()
    }
    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("disks-fs-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn img(d: &Path, name: &str, mib: u64) -> PathBuf {
    let p = d.join(format!("{name}.img"));
    std::fs::File::create(&p)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    p
}

fn env<'a>(r: &'a dyn Runner, d: &Path) -> Env<'a> {
    Env {
        runner: r,
        host: HostPaths::real(),
        device_timeout: Duration::from_secs(2),
        run_dir: d.join("run"),
    }
}

fn config(j: serde_json::Value) -> Config {
    serde_json::from_value(j).unwrap()
}

fn tools(names: &[&str]) -> bool {
    for n in names {
        if ignis::sys::cmd::find_in_path(n).is_none() {
            skip::skip(
                "disks_fs",
                &format!("{n} is not installed (scripts/setup-deps installs it)"),
            );
            return false;
        }
    }
    true
}

#[test]
fn every_format_is_created_in_parallel_then_reused() {
    if !tools(&[
        "mkfs.ext4",
        "mkfs.xfs",
        "mkfs.btrfs",
        "mkfs.fat",
        "mkswap",
        "wipefs",
    ]) {
        return;
    }
    let d = dir("all");
    let ext4 = img(&d, "ext4", 64);
    let xfs = img(&d, "xfs", 320);
    let btrfs = img(&d, "btrfs", 128);
    let vfat = img(&d, "vfat", 64);
    let swap = img(&d, "swap", 16);
    let cfg = config(serde_json::json!({"storage": {"filesystems": [
        {"device": ext4, "format": "ext4", "label": "root", "uuid": "0F2C1A5E-7B6D-4C3A-9E8F-1A2B3C4D5E6F", "options": ["-b", "4096"]},
        {"device": xfs, "format": "xfs", "label": "var", "uuid": "5e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f"},
        {"device": btrfs, "format": "btrfs", "label": "data", "uuid": "6e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f"},
        {"device": vfat, "format": "vfat", "label": "EFI", "uuid": "ABCD-EF01"},
        {"device": swap, "format": "swap", "label": "swap", "uuid": "7e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f"}
    ]}}));
    let tee = Tee::default();
    filesystems::apply(&env(&tee, &d), &cfg).unwrap();
    let want = [
        (
            &ext4,
            "ext4",
            "root",
            "0f2c1a5e-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
        ),
        (&xfs, "xfs", "var", "5e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f"),
        (
            &btrfs,
            "btrfs",
            "data",
            "6e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
        ),
        (&vfat, "vfat", "EFI", "ABCD-EF01"),
        (
            &swap,
            "swap",
            "swap",
            "7e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
        ),
    ];
    for (dev, t, l, u) in want {
        let i = probe(dev).unwrap();
        assert_eq!(
            (i.fstype.as_str(), i.label.as_str(), i.uuid.as_str()),
            (t, l, u),
            "{dev:?}"
        );
    }
    let seen = tee.seen.lock().unwrap().clone();
    let mk = |p: &str| seen.iter().find(|a| a[0] == p).cloned().unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let dev = |p: &PathBuf| p.to_string_lossy().into_owned();
    assert_eq!(
        mk("mkfs.ext4"),
        [
            s(&[
                "mkfs.ext4",
                "-b",
                "4096",
                "-F",
                "-U",
                "0f2c1a5e-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
                "-L",
                "root"
            ]),
            vec![dev(&ext4)]
        ]
        .concat()
    );
    assert_eq!(
        mk("mkfs.xfs"),
        [
            s(&[
                "mkfs.xfs",
                "-f",
                "-m",
                "uuid=5e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
                "-L",
                "var"
            ]),
            vec![dev(&xfs)]
        ]
        .concat()
    );
    assert_eq!(
        mk("mkfs.btrfs"),
        [
            s(&[
                "mkfs.btrfs",
                "--force",
                "-U",
                "6e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
                "-L",
                "data"
            ]),
            vec![dev(&btrfs)]
        ]
        .concat()
    );
    assert_eq!(
        mk("mkfs.fat"),
        [
            s(&["mkfs.fat", "-i", "abcdef01", "-n", "EFI"]),
            vec![dev(&vfat)]
        ]
        .concat()
    );
    assert_eq!(
        mk("mkswap"),
        [
            s(&[
                "mkswap",
                "-f",
                "-U",
                "7e3c1a2b-7b6d-4c3a-9e8f-1a2b3c4d5e6f",
                "-L",
                "swap"
            ]),
            vec![dev(&swap)]
        ]
        .concat()
    );
    assert_eq!(seen.iter().filter(|a| a[0] == "wipefs").count(), 5);
    drop(seen);

    // Second run: everything matches (P25 reuse, P31 UUID forms): no command at all.
    tee.clear();
    filesystems::apply(&env(&tee, &d), &cfg).unwrap();
    assert!(tee.progs().is_empty(), "{:?}", tee.progs());
}

#[test]
fn never_wipe_without_the_flag() {
    if !tools(&["mkfs.ext4", "mkfs.xfs", "wipefs"]) {
        return;
    }
    let d = dir("nowipe");
    let dev = img(&d, "dev", 320);
    let tee = Tee::default();
    let e = env(&tee, &d);
    let fs = |j: serde_json::Value| config(serde_json::json!({"storage": {"filesystems": [j]}}));
    filesystems::apply(
        &e,
        &fs(serde_json::json!({"device": dev, "format": "ext4", "label": "a"})),
    )
    .unwrap();
    // N7 regression.filesystem.ignoreswipe: another type, label or UUID without the flag fails.
    for j in [
        serde_json::json!({"device": dev, "format": "xfs"}),
        serde_json::json!({"device": dev, "format": "ext4", "label": "b"}),
        serde_json::json!({"device": dev, "format": "ext4", "uuid": "11111111-2222-3333-4444-555555555555"}),
        serde_json::json!({"device": dev, "format": "none"}),
    ] {
        tee.clear();
        let err = filesystems::apply(&e, &fs(j)).unwrap_err().to_string();
        assert!(
            err.contains("$.storage.filesystems.0")
                && err.contains("a filesystem wipe was not requested")
                && err.contains("ext4, \"a\""),
            "{err}"
        );
        assert!(tee.progs().is_empty());
    }
    assert_eq!(probe(&dev).unwrap().label, "a");
    // P24 *.wipe / P25 wipe.sametype: with the flag it is recreated.
    filesystems::apply(&e, &fs(serde_json::json!({"device": dev, "format": "ext4", "label": "b", "wipeFilesystem": true}))).unwrap();
    assert_eq!(probe(&dev).unwrap().label, "b");
    filesystems::apply(&e, &fs(serde_json::json!({"device": dev, "format": "xfs", "label": "x", "wipeFilesystem": true}))).unwrap();
    assert_eq!(probe(&dev).unwrap().fstype, "xfs");
    // P26 format none: wipe only.
    tee.clear();
    filesystems::apply(
        &e,
        &fs(serde_json::json!({"device": dev, "format": "none", "wipeFilesystem": true})),
    )
    .unwrap();
    assert_eq!(tee.progs(), vec!["wipefs"]);
    assert!(probe(&dev).unwrap().is_blank());
    // ... and on a blank device without the flag, nothing to do.
    tee.clear();
    filesystems::apply(
        &e,
        &fs(serde_json::json!({"device": dev, "format": "none"})),
    )
    .unwrap();
    assert!(tee.progs().is_empty());
}

#[test]
fn ambivalent_devices_are_probed_again() {
    if !tools(&["mkfs.ext4", "mkfs.xfs"]) {
        return;
    }
    // P25 filesystem.reuse.ambivalent: an ext4 with a stray xfs superblock in sector 0 (the
    // ext4 superblock is at 1 KiB). safeprobe calls it ambivalent; the retry picks one.
    let d = dir("ambivalent");
    let x = img(&d, "x", 320);
    let e4 = img(&d, "e", 320);
    RealRunner
        .run(&Cmd::new("mkfs.xfs").args(["-q", "-L", "stray"]).arg(&x))
        .unwrap();
    RealRunner
        .run(
            &Cmd::new("mkfs.ext4")
                .args(["-q", "-F", "-L", "real"])
                .arg(&e4),
        )
        .unwrap();
    let sb = std::fs::read(&x).unwrap()[..512].to_vec();
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&e4).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(&sb).unwrap();
    }
    let i = probe(&e4).unwrap();
    assert!(i.fstype == "ext4" || i.fstype == "xfs", "{i:?}");
}

#[test]
fn partition_tables_count_as_data() {
    if !tools(&["sgdisk"]) {
        return;
    }
    let d = dir("pt");
    let dev = img(&d, "dev", 64);
    RealRunner
        .run(&Cmd::new("sgdisk").args(["-n", "1:0:+1M"]).arg(&dev))
        .unwrap();
    assert_eq!(probe(&dev).unwrap().pttype, "gpt");
    let r = RecordingRunner::new();
    let cfg = config(
        serde_json::json!({"storage": {"filesystems": [{"device": dev, "format": "ext4"}]}}),
    );
    let e = filesystems::apply(&env(&r, &d), &cfg)
        .unwrap_err()
        .to_string();
    assert!(e.contains("a gpt partition table"), "{e}");
}

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
