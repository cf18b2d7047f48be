//! Partitioning on sparse image files (no root needed): every partition scenario of
//! Ignition's blackbox suite (create, append, number 0, start/size 0, match, recreate, delete,
//! resize root, misplaced backup header, damaged headers, mismatch failures). Input layouts
//! are made with sgdisk as Ignition's harness does; results are read back with the gpt crate
//! and with `sgdisk -p`/`-i`/`-v`, and creation cases are compared with what sgdisk itself
//! makes from Ignition's argv.

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
    eprintln!("skipping: sgdisk (gdisk) is not installed");
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

#[test]
fn create_with_labels_types_and_guids() {
    if !have_sgdisk() {
        return;
    }
    let p = img("create", 100);
    let d = disk(
        &p,
        false,
        serde_json::json!([
            {"number": 1, "label": "EFI-SYSTEM", "sizeMiB": 10,
             "typeGuid": "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
             "guid": "11111111-2222-3333-4444-555555555555"},
            {"number": 2, "label": "boot", "startMiB": 20, "sizeMiB": 20},
            {"number": 3, "label": "root"}
        ]),
    );
    apply(&p, &d).unwrap();
    check(
        &p,
        &[
            (1, MIB, 11 * MIB - 1, "EFI-SYSTEM"),
            (2, 20 * MIB, 40 * MIB - 1, "boot"),
            (3, 40 * MIB, last_usable(&p), "root"),
        ],
    );
    let (t, g) = sg_guids(&p, 1);
    assert_eq!(t, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
    assert_eq!(g, "11111111-2222-3333-4444-555555555555");
    assert_eq!(sg_guids(&p, 2).0, "0FC63DAF-8483-4772-8E79-3D69D8477DE4");
}

/// Ignition's commit argv for creation-only configs, run through real sgdisk on a copy, must
/// give the same layout as ignis (checks the start 0 / size 0 / number 0 rules).
#[test]
fn creation_matches_sgdisk_given_ignitions_argv() {
    if !have_sgdisk() {
        return;
    }
    let cases: Vec<(&str, Vec<&str>, serde_json::Value)> = vec![
        (
            "startsize0",
            vec!["-n", "1:0:+20480", "-c", "1:a", "-n", "2:0:0", "-c", "2:b"],
            serde_json::json!([{"number": 1, "label": "a", "sizeMiB": 10},
                               {"number": 2, "label": "b", "startMiB": 0, "sizeMiB": 0}]),
        ),
        (
            "numbersize0",
            vec!["-n", "0:0:+20480", "-c", "1:a", "-n", "0:0:0", "-c", "2:b"],
            serde_json::json!([{"number": 0, "label": "a", "sizeMiB": 10},
                               {"number": 0, "label": "b", "sizeMiB": 0}]),
        ),
        (
            "withstartmib",
            vec!["-n", "3:61440:+20480", "-n", "1:0:+10240"],
            serde_json::json!([{"number": 3, "startMiB": 30, "sizeMiB": 10},
                               {"number": 1, "sizeMiB": 5}]),
        ),
    ];
    for (name, argv, cfg) in cases {
        let ours = img(&format!("diff-{name}"), 64);
        let theirs = img(&format!("diff-{name}-sgdisk"), 64);
        apply(&ours, &disk(&ours, false, cfg)).unwrap();
        sgdisk(&theirs, &argv);
        assert_eq!(sg_layout(&ours), sg_layout(&theirs), "{name}");
    }
}

#[test]
fn append_and_number_zero() {
    if !have_sgdisk() {
        return;
    }
    let p = img("append", 100);
    sgdisk(&p, &["-n", "1:0:+10M", "-c", "1:one"]);
    let d = disk(
        &p,
        false,
        serde_json::json!([
            {"number": 1, "label": "one"},
            {"number": 0, "label": "zero", "sizeMiB": 5},
            {"number": 2, "label": "two", "sizeMiB": 5}
        ]),
    );
    apply(&p, &d).unwrap();
    check(
        &p,
        &[
            (1, MIB, 11 * MIB - 1, "one"),
            (2, 11 * MIB, 16 * MIB - 1, "two"),
            (3, 16 * MIB, 21 * MIB - 1, "zero"),
        ],
    );
}

#[test]
fn wipe_table_replaces_everything() {
    if !have_sgdisk() {
        return;
    }
    let p = img("wipetable", 100);
    sgdisk(&p, &["-n", "1:0:+10M", "-n", "2:0:+10M", "-n", "3:0:+10M"]);
    let d = disk(
        &p,
        true,
        serde_json::json!([{"number": 2, "label": "only", "startMiB": 50}]),
    );
    apply(&p, &d).unwrap();
    check(&p, &[(2, 50 * MIB, last_usable(&p), "only")]);
    // wipeTable alone leaves no table at all.
    let d = disk(&p, true, serde_json::json!([]));
    apply(&p, &d).unwrap();
    let out = Command::new("sgdisk").arg("-p").arg(&p).output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("GPT: not present") || text.contains("Creating new GPT"),
        "{text}"
    );
}

#[test]
fn match_all_is_a_no_op_and_leaves_the_image_untouched() {
    if !have_sgdisk() {
        return;
    }
    let p = img("match-all", 100);
    sgdisk(
        &p,
        &[
            "-n",
            "1:0:+10M",
            "-c",
            "1:a",
            "-u",
            "1:11111111-2222-3333-4444-555555555555",
            "-n",
            "2:0:0",
            "-c",
            "2:b",
        ],
    );
    let before = ends(&p);
    let d = disk(
        &p,
        false,
        serde_json::json!([
            {"number": 1, "label": "a", "startMiB": 1, "sizeMiB": 10,
             "guid": "11111111-2222-3333-4444-555555555555",
             "typeGuid": "0FC63DAF-8483-4772-8E79-3D69D8477DE4"},
            {"number": 2, "label": "b", "sizeMiB": 0},
            {"number": 3, "shouldExist": false}
        ]),
    );
    apply(&p, &d).unwrap();
    assert!(ends(&p) == before, "a matching config must not write");
    // A disk entry without partitions is not touched either.
    apply(&p, &disk(&p, false, serde_json::json!([]))).unwrap();
    assert!(ends(&p) == before);
}

#[test]
fn recreate_with_wipe_partition_entry() {
    if !have_sgdisk() {
        return;
    }
    let p = img("recreate", 100);
    sgdisk(
        &p,
        &[
            "-n", "1:0:+10M", "-c", "1:old", "-n", "2:0:+10M", "-c", "2:keep",
        ],
    );
    let (_, old_guid) = sg_guids(&p, 1);
    let d = disk(
        &p,
        false,
        serde_json::json!([
            {"number": 1, "label": "new", "sizeMiB": 5, "startMiB": 1, "wipePartitionEntry": true},
            {"number": 2, "label": "keep"},
            {"number": 3, "label": "added", "sizeMiB": 5}
        ]),
    );
    apply(&p, &d).unwrap();
    check(
        &p,
        &[
            (1, MIB, 6 * MIB - 1, "new"),
            (2, 11 * MIB, 21 * MIB - 1, "keep"),
            (3, 21 * MIB, 26 * MIB - 1, "added"),
        ],
    );
    assert_ne!(
        sg_guids(&p, 1).1,
        old_guid,
        "a recreated partition gets a new GUID"
    );
}

#[test]
fn recreate_delete_add() {
    if !have_sgdisk() {
        return;
    }
    let p = img("recreate-delete-add", 100);
    sgdisk(
        &p,
        &[
            "-n", "1:0:+10M", "-c", "1:a", "-n", "2:0:+10M", "-c", "2:b", "-n", "3:0:+10M", "-c",
            "3:c",
        ],
    );
    let d = disk(
        &p,
        false,
        serde_json::json!([
            {"number": 1, "shouldExist": false, "wipePartitionEntry": true},
            {"number": 2, "label": "bb", "sizeMiB": 20, "wipePartitionEntry": true},
            {"number": 4, "label": "d", "sizeMiB": 5}
        ]),
    );
    apply(&p, &d).unwrap();
    // 2 is deleted first, so its new 20 MiB goes to the largest free block (after 3).
    check(
        &p,
        &[
            (2, 31 * MIB, 51 * MIB - 1, "bb"),
            (3, 21 * MIB, 31 * MIB - 1, "c"),
            (4, 51 * MIB, 56 * MIB - 1, "d"),
        ],
    );
}

#[test]
fn delete_with_and_without_wipe_partition_entry() {
    if !have_sgdisk() {
        return;
    }
    let p = img("delete", 100);
    sgdisk(
        &p,
        &["-n", "1:0:+10M", "-c", "1:a", "-n", "2:0:+10M", "-c", "2:b"],
    );
    let before = ends(&p);
    let e = apply(
        &p,
        &disk(
            &p,
            false,
            serde_json::json!([{"number": 2, "shouldExist": false}]),
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("wipePartitionEntry is false"), "{e}");
    assert!(ends(&p) == before, "a failed plan must not write");
    apply(
        &p,
        &disk(
            &p,
            false,
            serde_json::json!([{"number": 2, "shouldExist": false, "wipePartitionEntry": true}]),
        ),
    )
    .unwrap();
    check(&p, &[(1, MIB, 11 * MIB - 1, "a")]);
    apply(
        &p,
        &disk(
            &p,
            false,
            serde_json::json!([{"number": 1, "shouldExist": false, "wipePartitionEntry": true}]),
        ),
    )
    .unwrap();
    check(&p, &[]);
}

#[test]
fn resize_root_on_a_grown_image_moves_the_backup_header() {
    if !have_sgdisk() {
        return;
    }
    // The first-boot case: a 64 MiB image dd'ed to a 256 MiB disk.
    let p = img("resizeroot", 64);
    sgdisk(
        &p,
        &[
            "-n",
            "1:0:+1M",
            "-c",
            "1:BIOS-BOOT",
            "-t",
            "1:21686148-6453-6E49-744E-656564454649",
            "-n",
            "2:0:+10M",
            "-c",
            "2:boot",
            "-n",
            "4:0:0",
            "-c",
            "4:root",
        ],
    );
    let root_start = 12 * MIB;
    let old_end = 64 * MIB - 34;
    let (_, root_guid) = sg_guids(&p, 4);
    grow(&p, 256);
    // The primary header still points at the old backup location.
    let g = gpt::GptConfig::new().open(&p).unwrap();
    assert_eq!(g.primary_header().unwrap().backup_lba, 64 * MIB - 1);
    assert!(g.backup_header().is_err());
    drop(g);
    let d = disk(
        &p,
        false,
        serde_json::json!([{"number": 4, "label": "root", "resize": true, "sizeMiB": 0}]),
    );
    apply(&p, &d).unwrap();
    check(
        &p,
        &[
            (1, MIB, 2 * MIB - 1, "BIOS-BOOT"),
            (2, 2 * MIB, 12 * MIB - 1, "boot"),
            (4, root_start, last_usable(&p), "root"),
        ],
    );
    assert!(last_usable(&p) > old_end);
    assert_eq!(
        sg_guids(&p, 4).1,
        root_guid,
        "resize keeps the partition GUID"
    );
    assert_eq!(sg_guids(&p, 1).0, "21686148-6453-6E49-744E-656564454649");
    let g = gpt::GptConfig::new().open(&p).unwrap();
    assert_eq!(g.primary_header().unwrap().backup_lba, 256 * MIB - 1);
}

#[test]
fn resize_root_with_zeros_and_fill_disk_match() {
    if !have_sgdisk() {
        return;
    }
    // P19 resizeroot.withzeros: startMiB/sizeMiB 0 with resize on a grown disk.
    let p = img("resizeroot-zeros", 64);
    sgdisk(
        &p,
        &[
            "-n", "1:0:+10M", "-c", "1:boot", "-n", "2:0:0", "-c", "2:root",
        ],
    );
    grow(&p, 128);
    let d = disk(
        &p,
        false,
        serde_json::json!([{"number": 2, "label": "root", "resize": true, "sizeMiB": 0}]),
    );
    apply(&p, &d).unwrap();
    check(
        &p,
        &[
            (1, MIB, 11 * MIB - 1, "boot"),
            (2, 11 * MIB, last_usable(&p), "root"),
        ],
    );
    // P22 match.rootfillsdisk: now it fills the disk, size 0 without resize matches.
    let before = ends(&p);
    apply(
        &p,
        &disk(
            &p,
            false,
            serde_json::json!([{"number": 2, "label": "root", "sizeMiB": 0}]),
        ),
    )
    .unwrap();
    assert!(ends(&p) == before);
}

#[test]
fn misplaced_backup_header_is_moved_even_without_partition_changes() {
    if !have_sgdisk() {
        return;
    }
    let p = img("misplaced", 32);
    sgdisk(&p, &["-n", "1:0:+10M", "-c", "1:a"]);
    grow(&p, 64);
    apply(
        &p,
        &disk(&p, false, serde_json::json!([{"number": 1, "label": "a"}])),
    )
    .unwrap();
    check(&p, &[(1, MIB, 11 * MIB - 1, "a")]);
    let g = gpt::GptConfig::new().open(&p).unwrap();
    assert_eq!(g.header().last_usable, 64 * MIB - 34);
}

#[test]
fn damaged_primary_header_is_rebuilt_from_the_backup() {
    if !have_sgdisk() {
        return;
    }
    let p = img("damaged-primary", 64);
    sgdisk(
        &p,
        &["-n", "1:0:+10M", "-c", "1:a", "-n", "2:0:+10M", "-c", "2:b"],
    );
    // Corrupt the primary header's CRC region and its first entry.
    flip(&p, 512 + 24, 0xff);
    flip(&p, 1024 + 40, 0xff);
    apply(&p, &disk(&p, false, serde_json::json!([{"number": 2, "label": "b"}, {"number": 3, "label": "c", "sizeMiB": 5}])))
        .unwrap();
    check(
        &p,
        &[
            (1, MIB, 11 * MIB - 1, "a"),
            (2, 11 * MIB, 21 * MIB - 1, "b"),
            (3, 21 * MIB, 26 * MIB - 1, "c"),
        ],
    );
}

#[test]
fn damaged_entry_array_falls_back_to_the_backup() {
    if !have_sgdisk() {
        return;
    }
    let p = img("damaged-entries", 64);
    sgdisk(&p, &["-n", "1:0:+10M", "-c", "1:a"]);
    flip(&p, 1024 + 32, 0x01); // first entry's start LBA: the array CRC no longer matches
    apply(
        &p,
        &disk(
            &p,
            false,
            serde_json::json!([{"number": 1, "label": "a", "startMiB": 1}]),
        ),
    )
    .unwrap();
    check(&p, &[(1, MIB, 11 * MIB - 1, "a")]);
}

#[test]
fn bad_tables_need_wipe_table() {
    if !have_sgdisk() {
        return;
    }
    // P23 partition.wipebadtable: both GPT headers corrupt.
    let p = img("badtable", 64);
    sgdisk(&p, &["-n", "1:0:+10M"]);
    let n = std::fs::metadata(&p).unwrap().len();
    flip(&p, 512 + 24, 0xff);
    flip(&p, n - 512 + 24, 0xff);
    let e = apply(
        &p,
        &disk(&p, false, serde_json::json!([{"number": 1, "label": "x"}])),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("both damaged") && e.contains("wipeTable"), "{e}");
    apply(
        &p,
        &disk(&p, true, serde_json::json!([{"number": 1, "label": "x"}])),
    )
    .unwrap();
    check(&p, &[(1, MIB, last_usable(&p), "x")]);
    // An MBR table is not converted silently either.
    let m = img("mbr", 64);
    let out = Command::new("sfdisk")
        .arg(&m)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"label: dos\n,10M,83\n")?;
            c.wait()
        });
    if out.map(|s| s.success()).unwrap_or(false) {
        let e = apply(&m, &disk(&m, false, serde_json::json!([{"number": 1}])))
            .unwrap_err()
            .to_string();
        assert!(e.contains("MBR (dos)"), "{e}");
    }
}

#[test]
fn mismatch_failures_name_the_config_entry() {
    if !have_sgdisk() {
        return;
    }
    let p = img("mismatch", 100);
    sgdisk(
        &p,
        &["-n", "1:0:+10M", "-c", "1:a", "-n", "2:0:+10M", "-c", "2:b"],
    );
    let before = ends(&p);
    for (cfg, want) in [
        // N8 match.fail
        (
            serde_json::json!([{"number": 1, "label": "x"}]),
            "label did not match",
        ),
        // N8 partialmatch.fail: the first matches, the second does not
        (
            serde_json::json!([{"number": 1, "label": "a"}, {"number": 2, "sizeMiB": 20}]),
            "partitions.1: partition 2 didn't match: size did not match",
        ),
        // N8 partialmatch.fail.nonexistent
        (
            serde_json::json!([{"number": 3, "sizeMiB": 5}, {"number": 1, "startMiB": 2, "sizeMiB": 5}]),
            "starting sector did not match",
        ),
        // N8 resizePartition.mismatch.config: resize cannot change the label
        (
            serde_json::json!([{"number": 2, "label": "z", "resize": true, "sizeMiB": 20}]),
            "label did not match",
        ),
        // N8 match.failstofill: size 0 is "to the end of the largest block", which a
        // partition kept at its start cannot reach (sgdisk --pretend fails the same way)
        (
            serde_json::json!([{"number": 1, "sizeMiB": 0}]),
            "cannot place partition 1",
        ),
        // N8 match.failstostart: start 0 is "start of the largest block"
        (
            serde_json::json!([{"number": 1, "startMiB": 0}]),
            "starting sector did not match",
        ),
    ] {
        let e = apply(&p, &disk(&p, false, cfg)).unwrap_err().to_string();
        assert!(
            e.contains(want) && e.contains("$.storage.disks.0"),
            "{want}: {e}"
        );
        assert!(ends(&p) == before);
    }
}

#[test]
fn complex_mixed_config() {
    if !have_sgdisk() {
        return;
    }
    // P23 partitions.complex: keep, delete, resize, create in one go.
    let p = img("complex", 200);
    sgdisk(
        &p,
        &[
            "-n",
            "1:0:+10M",
            "-c",
            "1:keep",
            "-n",
            "2:0:+10M",
            "-c",
            "2:gone",
            "-n",
            "3:0:+10M",
            "-c",
            "3:grow",
            "-n",
            "5:0:+10M",
            "-c",
            "5:wipe-me",
        ],
    );
    let d = disk(
        &p,
        false,
        serde_json::json!([
            {"number": 1, "label": "keep", "sizeMiB": 10},
            {"number": 2, "shouldExist": false, "wipePartitionEntry": true},
            {"number": 3, "label": "grow", "resize": true, "sizeMiB": 15},
            {"number": 5, "label": "fresh", "sizeMiB": 30, "wipePartitionEntry": true},
            {"number": 0, "label": "tail"}
        ]),
    );
    apply(&p, &d).unwrap();
    check(
        &p,
        &[
            (1, MIB, 11 * MIB - 1, "keep"),
            (2, 66 * MIB, last_usable(&p), "tail"),
            (3, 21 * MIB, 36 * MIB - 1, "grow"),
            (5, 36 * MIB, 66 * MIB - 1, "fresh"),
        ],
    );
}

/// Random creation-only configs on blank disks: ignis and sgdisk given Ignition's argv
/// (numbers 0 last, `--new=N:START:+SIZE`, 0 for unset) must agree on success and layout.
#[test]
fn random_creations_match_sgdisk() {
    if !have_sgdisk() {
        return;
    }
    let mut seed: u64 = 0x5eed_1234_abcd;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let (mut agreed_ok, mut agreed_err) = (0, 0);
    for case in 0..24 {
        let count = 1 + rnd(5);
        let mut used = Vec::new();
        let mut specs = Vec::new();
        for _ in 0..count {
            let number = if rnd(3) == 0 {
                0
            } else {
                let mut n = 1 + rnd(8);
                while used.contains(&n) {
                    n = 1 + rnd(8);
                }
                used.push(n);
                n
            };
            let start = match rnd(4) {
                0 => None,
                1 => Some(0),
                _ => Some(1 + rnd(60)),
            };
            let size = match rnd(4) {
                0 => None,
                1 => Some(0),
                _ => Some(1 + rnd(20)),
            };
            specs.push((number, start, size));
        }
        let mut j = Vec::new();
        for (n, s, z) in &specs {
            let mut o = serde_json::json!({"number": n});
            if let Some(s) = s {
                o["startMiB"] = (*s).into();
            }
            if let Some(z) = z {
                o["sizeMiB"] = (*z).into();
            }
            j.push(o);
        }
        let mut sorted = specs.clone();
        sorted.sort_by_key(|(n, _, _)| *n == 0);
        let mut argv: Vec<String> = Vec::new();
        for (n, s, z) in &sorted {
            let start = s
                .map(|v| (v * MIB).to_string())
                .unwrap_or_else(|| "0".into());
            let size = match z {
                Some(v) if *v > 0 => format!("+{}", v * MIB),
                _ => "0".into(),
            };
            argv.push(format!("--new={n}:{start}:{size}"));
        }
        let ours = img(&format!("rand-{case}"), 64);
        let theirs = img(&format!("rand-{case}-sgdisk"), 64);
        let a = apply(
            &ours,
            &disk(&ours, false, serde_json::Value::Array(j.clone())),
        );
        let b = Command::new("sgdisk")
            .args(&argv)
            .arg(&theirs)
            .output()
            .unwrap();
        match (a, b.status.success()) {
            (Ok(()), true) => {
                assert_eq!(
                    sg_layout(&ours),
                    sg_layout(&theirs),
                    "case {case}: {j:?} / {argv:?}"
                );
                agreed_ok += 1;
            }
            (Err(_), false) => agreed_err += 1,
            (a, _) => panic!(
                "case {case}: ignis {a:?}, sgdisk {} ({}) for {j:?} / {argv:?}",
                b.status,
                String::from_utf8_lossy(&b.stderr)
            ),
        }
        let _ = std::fs::remove_file(&ours);
        let _ = std::fs::remove_file(&theirs);
    }
    eprintln!("agreed: {agreed_ok} layouts, {agreed_err} failures");
    assert!(
        agreed_ok >= 8 && agreed_err >= 2,
        "ok {agreed_ok}, err {agreed_err}"
    );
}
