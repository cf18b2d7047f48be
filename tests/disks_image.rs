//! Partitioning on sparse image files (no root needed): every partition scenario of
//! Ignition's blackbox suite (create, append, number 0, start/size 0, match, recreate, delete,
//! resize root, misplaced backup header, damaged headers, mismatch failures). Input layouts
//! are made with sgdisk as Ignition's harness does; results are read back with the gpt crate
//! and with `sgdisk -p`/`-i`/`-v`, and creation cases are compared with what sgdisk itself
//! makes from Ignition's argv.

#[path = "common/skip.rs"]
mod skip;

use ignis::config::types::{Disk, Partition};
use ignis::providers::HostPaths;
use ignis::stages::disks::{partitions, Env};
use ignis::sys::cmd::RecordingRunner;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const MIB: u64 = 2048;

fn have_sgdisk() -> bool {
    if Command::new("sgdisk").arg("--version").output().is_ok() {
        return true;
    }
    // CI installs gdisk through scripts/setup-deps; say why nothing ran otherwise.
    skip::skip("disks_image", "sgdisk (gdisk) is not installed");
    false
}

fn img(name: &str, mib: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("disks-image");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(format!("{name}.img"));
    let _ = std::fs::remove_file(&p);
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(mib * 1024 * 1024).unwrap();
    p
}

fn sgdisk(p: &Path, args: &[&str]) -> String {
    let out = Command::new("sgdisk").args(args).arg(p).output().unwrap();
    assert!(
        out.status.success(),
        "sgdisk {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn grow(p: &Path, mib: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
    f.set_len(mib * 1024 * 1024).unwrap();
}

/// (number, start, end, name) from `sgdisk -p`, plus a check that `sgdisk -v` is happy.
fn sg_layout(p: &Path) -> Vec<(u32, u64, u64, String)> {
    let v = sgdisk(p, &["-v"]);
    assert!(v.contains("No problems found"), "sgdisk -v: {v}");
    let out = sgdisk(p, &["-p"]);
    let mut rows = Vec::new();
    let mut table = false;
    for l in out.lines() {
        if l.starts_with("Number") {
            table = true;
            continue;
        }
        if !table || l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        // Number Start End Size Unit Code Name...
        let name = if f.len() > 6 {
            f[6..].join(" ")
        } else {
            String::new()
        };
        rows.push((
            f[0].parse().unwrap(),
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            name,
        ));
    }
    rows
}

/// `sgdisk -i N`: (type GUID, partition GUID), upper case.
fn sg_guids(p: &Path, n: u32) -> (String, String) {
    let out = sgdisk(p, &["-i", &n.to_string()]);
    let get = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    (get("Partition GUID code: "), get("Partition unique GUID: "))
}

/// The layout as the gpt crate reads it: (number, start, end, name).
fn gpt_layout(p: &Path) -> Vec<(u32, u64, u64, String)> {
    let d = gpt::GptConfig::new().open(p).unwrap();
    assert!(d.primary_header().is_ok() && d.backup_header().is_ok());
    d.partitions()
        .iter()
        .filter(|(_, e)| e.is_used())
        .map(|(n, e)| (*n, e.first_lba, e.last_lba, e.name.clone()))
        .collect()
}

fn parts(j: serde_json::Value) -> Vec<Partition> {
    serde_json::from_value(j).unwrap()
}

fn disk(dev: &Path, wipe: bool, j: serde_json::Value) -> Disk {
    Disk {
        device: dev.to_string_lossy().into_owned(),
        partitions: parts(j),
        wipe_table: wipe.then_some(true),
    }
}

fn apply(dev: &Path, d: &Disk) -> ignis::error::Result<()> {
    let runner = RecordingRunner::new();
    let env = Env {
        runner: &runner,
        host: HostPaths::real(),
        device_timeout: Duration::from_secs(1),
        run_dir: dev.with_extension("run"),
    };
    partitions::apply(&env, "$.storage.disks.0", d, dev).map(|_| ())?;
    assert!(runner.argvs().is_empty(), "image files need no commands");
    Ok(())
}

fn check(p: &Path, want: &[(u32, u64, u64, &str)]) {
    let want: Vec<(u32, u64, u64, String)> = want
        .iter()
        .map(|(n, s, e, l)| (*n, *s, *e, l.to_string()))
        .collect();
    assert_eq!(gpt_layout(p), want, "gpt crate view");
    assert_eq!(sg_layout(p), want, "sgdisk view");
}

/// XORs one byte of an image.
fn flip(p: &Path, off: u64, mask: u8) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(p)
        .unwrap();
    let mut b = [0u8];
    f.seek(SeekFrom::Start(off)).unwrap();
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(off)).unwrap();
    f.write_all(&[b[0] ^ mask]).unwrap();
}

/// The first and last MiB of an image: where every GPT structure lives.
fn ends(p: &Path) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(p).unwrap();
    let len = f.metadata().unwrap().len();
    let mut v = vec![0u8; 2 << 20];
    f.read_exact(&mut v[..1 << 20]).unwrap();
    f.seek(SeekFrom::Start(len - (1 << 20))).unwrap();
    f.read_exact(&mut v[1 << 20..]).unwrap();
    v
}

fn last_usable(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len() / 512 - 34
}

#[path = "disks_image/configs.rs"]
mod configs;
#[path = "disks_image/layouts.rs"]
mod layouts;
#[path = "disks_image/repair.rs"]
mod repair;
