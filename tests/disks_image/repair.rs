//! Grown images and damaged tables: backup headers moved, primary headers and entry arrays
//! rebuilt, tables only wipeTable may replace.

use super::*;

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
