//! Filesystems with the real mkfs tools: every format in parallel then reused, the wipe and
//! reuse rules, ambivalent probes, partition tables counted as data.

use super::*;

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
