//! The root tier: the real disks, mount and umount stages (the binary, as the initramfs runs
//! it) on loop devices: partitioning with the kernel told through BLKPG, mkfs, reuse and wipe
//! rules, refusing busy partitions, growing root on a grown disk, 4 KiB sectors, and
//! idempotent mount/umount. Skipped, with the reason printed, when not root or without loop
//! devices.

#[path = "common/skip.rs"]
mod skip;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn skip_reason() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not running as root".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no /dev/loop-control (loop devices unavailable)".into());
    }
    for t in [
        "losetup",
        "mkfs.ext4",
        "mkfs.xfs",
        "mkfs.btrfs",
        "mkswap",
        "wipefs",
        "sgdisk",
        "mount",
        "umount",
    ] {
        if ignis::sys::cmd::find_in_path(t).is_none() {
            return Some(format!("{t} is not installed"));
        }
    }
    None
}

macro_rules! need_root {
    () => {
        if let Some(why) = skip_reason() {
            skip::skip("disks_root", &why);
            return;
        }
    };
}

/// A loop device over an image file, detached on drop.
struct Loop {
    dev: String,
}

impl Loop {
    fn attach(img: &Path, sector: Option<u32>) -> Option<Loop> {
        let mut c = Command::new("losetup");
        c.args(["-f", "--show", "-P"]);
        if let Some(s) = sector {
            c.args(["--sector-size", &s.to_string()]);
        }
        let out = c.arg(img).output().ok()?;
        if !out.status.success() {
            eprintln!(
                "skipping: losetup failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return None;
        }
        Some(Loop {
            dev: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        })
    }

    fn part(&self, n: u32) -> String {
        format!("{}p{n}", self.dev)
    }

    fn name(&self) -> String {
        self.dev.trim_start_matches("/dev/").to_string()
    }

    /// (start, size) in 512-byte units from sysfs.
    fn sysfs(&self, n: u32) -> (u64, u64) {
        let base = format!("/sys/class/block/{}/{}p{n}", self.name(), self.name());
        let r = |f: &str| {
            std::fs::read_to_string(format!("{base}/{f}"))
                .unwrap_or_else(|e| panic!("{base}/{f}: {e}"))
                .trim()
                .parse::<u64>()
                .unwrap()
        };
        (r("start"), r("size"))
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["-d", &self.dev]).status();
    }
}

struct T {
    dir: PathBuf,
}

impl T {
    fn new(name: &str) -> T {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("disks-root-{name}"));
        // A previous failed run may have left mounts behind.
        if let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") {
            let mut ts: Vec<String> = ignis::sys::mount::parse_mountinfo(&mi)
                .into_iter()
                .map(|m| m.target)
                .filter(|t| t.starts_with(&*dir.to_string_lossy()))
                .collect();
            ts.sort_by_key(|t| std::cmp::Reverse(t.len()));
            for t in ts {
                let _ = Command::new("umount").arg(&t).status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root")).unwrap();
        T { dir }
    }

    fn img(&self, mib: u64) -> PathBuf {
        let p = self.dir.join("disk.img");
        std::fs::File::create(&p)
            .unwrap()
            .set_len(mib << 20)
            .unwrap();
        p
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn stage(&self, stage: &str, cfg: &serde_json::Value) -> Output {
        std::fs::write(self.dir.join("config.json"), cfg.to_string()).unwrap();
        Command::new(env!("CARGO_BIN_EXE_ignis"))
            .args([
                "-platform",
                "file",
                "-stage",
                stage,
                "-log-to-stdout",
                "-root",
            ])
            .arg(self.root())
            .arg("-config-cache")
            .arg(self.dir.join("config.json"))
            .arg("-state-file")
            .arg(self.dir.join("state"))
            .arg("-neednet")
            .arg(self.dir.join("neednet"))
            .env("IGNIS_DEVICE_TIMEOUT", "10")
            .output()
            .unwrap()
    }

    fn ok(&self, stage: &str, cfg: &serde_json::Value) -> String {
        let o = self.stage(stage, cfg);
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{stage} failed:\n{text}");
        text
    }

    fn fails(&self, stage: &str, cfg: &serde_json::Value) -> String {
        let o = self.stage(stage, cfg);
        let text =
            String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{stage} should have failed:\n{text}");
        text
    }
}

fn mounts_under(dir: &Path) -> Vec<(String, String, String)> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let d = dir.canonicalize().unwrap().to_string_lossy().into_owned();
    ignis::sys::mount::parse_mountinfo(&mi)
        .into_iter()
        .filter(|m| m.target.starts_with(&d))
        .map(|m| (m.target[d.len()..].to_string(), m.fstype, m.source))
        .collect()
}

fn mount_opts(target: &Path) -> String {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let t = target
        .canonicalize()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    mi.lines()
        .find(|l| l.split(' ').nth(4) == Some(t.as_str()))
        .and_then(|l| l.split(' ').nth(5))
        .unwrap_or("")
        .to_string()
}

#[test]
fn partition_format_mount_reuse_umount() {
    need_root!();
    let t = T::new("full");
    let img = t.img(600);
    let Some(lo) = Loop::attach(&img, None) else {
        return;
    };
    let cfg = serde_json::json!({
        "ignition": {"version": "3.4.0"},
        "storage": {
            "disks": [{"device": lo.dev, "wipeTable": true, "partitions": [
                {"number": 1, "label": "boot", "sizeMiB": 64},
                {"number": 2, "label": "var", "sizeMiB": 320},
                {"number": 3, "label": "data", "sizeMiB": 128},
                {"number": 0, "label": "swap", "sizeMiB": 0}
            ]}],
            "filesystems": [
                {"device": lo.part(3), "format": "btrfs", "label": "data", "path": "/var/lib/data"},
                {"device": lo.part(1), "format": "ext4", "label": "boot", "path": "/boot"},
                {"device": lo.part(2), "format": "xfs", "label": "var", "path": "/var", "mountOptions": ["noatime"]},
                {"device": lo.part(4), "format": "swap", "label": "swap"}
            ]
        }
    });
    let log = t.ok("disks", &cfg);
    assert!(log.contains("partition 4 \"swap\": create"), "{log}");
    assert_eq!(lo.sysfs(1), (2048, 64 * 2048));
    assert_eq!(lo.sysfs(2), (65 * 2048, 320 * 2048));
    assert_eq!(lo.sysfs(3), (385 * 2048, 128 * 2048));
    assert_eq!(lo.sysfs(4).0, 513 * 2048);
    for (n, ty) in [(1, "ext4"), (2, "xfs"), (3, "btrfs"), (4, "swap")] {
        assert_eq!(
            ignis::sys::probe::probe(Path::new(&lo.part(n)))
                .unwrap()
                .fstype,
            ty
        );
    }
    let sg = Command::new("sgdisk")
        .args(["-v", &lo.dev])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&sg.stdout).contains("No problems found"));

    // mount: shallowest first, options honoured, mountpoints recorded; twice is fine.
    let log = t.ok("mount", &cfg);
    let m = mounts_under(&t.root());
    let targets: Vec<&str> = m.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(targets, vec!["/boot", "/var", "/var/lib/data"], "{log}");
    assert!(mount_opts(&t.root().join("var")).contains("noatime"));
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.dir.join("state")).unwrap()).unwrap();
    let dirs: Vec<&str> = st["notatedDirectories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(dirs, vec!["/boot", "/var", "/var/lib", "/var/lib/data"]);
    let log = t.ok("mount", &cfg);
    assert!(log.contains("already mounted"), "{log}");
    assert_eq!(mounts_under(&t.root()).len(), 3);

    // umount: deepest first; twice is fine.
    t.ok("umount", &cfg);
    assert!(mounts_under(&t.root()).is_empty());
    let log = t.ok("umount", &cfg);
    assert!(log.contains("nothing mounted"), "{log}");

    // N6 filesystem.mount.invalidoptions: mount refuses, the stage fails naming the entry.
    let mut bad = cfg.clone();
    bad["storage"]["filesystems"][1]["mountOptions"] = serde_json::json!(["no-such-option"]);
    let log = t.fails("mount", &bad);
    assert!(
        log.contains("$.storage.filesystems.1") && log.contains("mount -o no-such-option"),
        "{log}"
    );
    t.ok("umount", &bad);
    assert!(mounts_under(&t.root()).is_empty());

    // Second boot of the same config: the table is recreated identically and every
    // filesystem matches, so nothing is formatted.
    let log = t.ok("disks", &cfg);
    assert_eq!(log.matches("keeping it").count(), 4, "{log}");
    assert!(!log.contains("mkfs"), "{log}");

    // N7: a different format without wipeFilesystem fails and leaves the data alone.
    let mut bad = cfg.clone();
    bad["storage"]["filesystems"][1]["format"] = "xfs".into();
    let log = t.fails("disks", &bad);
    assert!(
        log.contains("$.storage.filesystems.1") && log.contains("wipe was not requested"),
        "{log}"
    );
    assert_eq!(
        ignis::sys::probe::probe(Path::new(&lo.part(1)))
            .unwrap()
            .fstype,
        "ext4"
    );

    // A mounted partition is never changed.
    let mnt = t.dir.join("busy");
    std::fs::create_dir_all(&mnt).unwrap();
    assert!(Command::new("mount")
        .arg(lo.part(2))
        .arg(&mnt)
        .status()
        .unwrap()
        .success());
    let del = serde_json::json!({"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": lo.dev,
        "partitions": [{"number": 2, "shouldExist": false, "wipePartitionEntry": true}]}]}});
    let log = t.fails("disks", &del);
    assert!(
        log.contains("refusing to change partition 2") && log.contains("mounted"),
        "{log}"
    );
    let wipe = serde_json::json!({"ignition": {"version": "3.4.0"}, "storage": {"disks": [{"device": lo.dev, "wipeTable": true}]}});
    let log = t.fails("disks", &wipe);
    assert!(log.contains("refusing"), "{log}");
    assert!(Command::new("umount").arg(&mnt).status().unwrap().success());
    // Unmounted, the deletion goes through and the kernel forgets the partition.
    t.ok("disks", &del);
    assert!(!Path::new(&format!("/sys/class/block/{}/{}p2", lo.name(), lo.name())).exists());
    assert!(Path::new(&lo.part(3)).exists());
}

#[test]
fn grown_disk_root_is_resized_and_the_kernel_follows() {
    need_root!();
    let t = T::new("resize");
    let img = t.img(64);
    let s = Command::new("sgdisk")
        .args([
            "-n", "1:0:+10M", "-c", "1:boot", "-n", "4:0:0", "-c", "4:root",
        ])
        .arg(&img)
        .output()
        .unwrap();
    assert!(s.status.success());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&img)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let Some(lo) = Loop::attach(&img, None) else {
        return;
    };
    // Root starts at 11 MiB and ends where the 64 MiB image ended. (The kernel ignores this
    // table for now: the protective MBR's size no longer matches the disk.)
    let (start, old) = (11 * 2048, 64 * 2048 - 34 - 11 * 2048 + 1);
    let cfg = serde_json::json!({"ignition": {"version": "3.4.0"}, "storage": {
        "disks": [{"device": lo.dev, "partitions": [{"number": 4, "label": "root", "resize": true, "sizeMiB": 0}]}],
        "filesystems": [{"device": lo.part(4), "format": "ext4", "label": "root"}]
    }});
    let log = t.ok("disks", &cfg);
    assert!(log.contains("resize"), "{log}");
    let (s2, new) = lo.sysfs(4);
    assert_eq!(s2, start);
    assert_eq!(new, 256 * 2048 - 34 - start + 1);
    assert!(new > old);
    let sg = Command::new("sgdisk")
        .args(["-v", &lo.dev])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&sg.stdout).contains("No problems found"));
    assert_eq!(
        ignis::sys::probe::probe(Path::new(&lo.part(4)))
            .unwrap()
            .label,
        "root"
    );
}

#[test]
fn four_k_sector_disk() {
    need_root!();
    let t = T::new("4k");
    let img = t.img(64);
    let Some(lo) = Loop::attach(&img, Some(4096)) else {
        return;
    };
    let cfg = serde_json::json!({"ignition": {"version": "3.4.0"}, "storage": {
        "disks": [{"device": lo.dev, "partitions": [
            {"number": 1, "label": "a", "sizeMiB": 8}, {"number": 2, "label": "b"}]}],
        "filesystems": [{"device": lo.part(1), "format": "ext4", "label": "a"}]
    }});
    t.ok("disks", &cfg);
    // 4096-byte sectors: partition 1 starts at sector 256 (1 MiB), i.e. 2048 in sysfs units.
    assert_eq!(lo.sysfs(1), (2048, 8 * 2048));
    let (s2, z2) = lo.sysfs(2);
    assert_eq!(s2, 9 * 2048);
    // Last usable 4K sector: total - 1 (backup header) - 4 (entries) - 1.
    assert_eq!((s2 + z2) / 8, 64 * 256 - 5);
    assert_eq!(
        ignis::sys::probe::probe(Path::new(&lo.part(1)))
            .unwrap()
            .label,
        "a"
    );
}
