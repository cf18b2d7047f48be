//! Creating, appending, wiping, recreating and deleting partitions, against sgdisk's
//! results for Ignition's argv.

use super::*;

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
