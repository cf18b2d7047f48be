//! Unit tests of the partition planner: placement rules and the decision matrix.

use super::*;

const MIB: u64 = 2048; // sectors of 512 bytes

fn guids() -> impl FnMut() -> Uuid {
    let mut n = 0u128;
    move || {
        n += 1;
        Uuid::from_u128(0xAAAA_0000 + n)
    }
}

fn disk(mib: u64) -> Table {
    Table {
        geometry: Geometry::fresh(512, mib * MIB),
        entries: BTreeMap::new(),
    }
}

fn ent(start_mib: u64, size_mib: u64, label: &str) -> Entry {
    Entry {
        start: start_mib * MIB,
        size: size_mib * MIB,
        type_guid: LINUX_FS,
        guid: Uuid::from_u128(0xBBBB_0000 + start_mib as u128),
        label: label.into(),
        attrs: 0,
    }
}

fn part(j: serde_json::Value) -> Partition {
    serde_json::from_value(j).unwrap()
}

fn run(t: &Table, parts: Vec<serde_json::Value>) -> Result<Plan> {
    let parts: Vec<Partition> = parts.into_iter().map(part).collect();
    plan("$.storage.disks.0", t, &parts, false, &mut guids())
}

fn layout(p: &Plan) -> Vec<(u32, u64, u64, String)> {
    p.table
        .entries
        .iter()
        .map(|(n, e)| (*n, e.start, e.size, e.label.clone()))
        .collect()
}

#[test]
fn create_on_blank_disk_with_defaults() {
    let t = disk(100);
    let p = run(
        &t,
        vec![
            serde_json::json!({"number": 1, "label": "boot", "sizeMiB": 10}),
            serde_json::json!({"number": 2, "label": "root", "startMiB": 20, "sizeMiB": 0}),
        ],
    )
    .unwrap();
    // 1 MiB aligned default start; size 0 fills to the end of the largest block, which
    // is the one after 20 MiB here.
    assert_eq!(
        layout(&p),
        vec![
            (1, MIB, 10 * MIB, "boot".into()),
            (
                2,
                20 * MIB,
                t.geometry.last_usable - 20 * MIB + 1,
                "root".into()
            )
        ]
    );
    let e = &p.table.entries[&1];
    assert_eq!(e.type_guid, LINUX_FS);
    assert_eq!(e.guid, Uuid::from_u128(0xAAAA_0001));
    assert!(p.steps.iter().all(|s| s.action == Action::Create));
    assert!(p.changes());
}

#[test]
fn explicit_start_in_a_smaller_block_with_size_zero_fails_like_sgdisk() {
    let mut t = disk(100);
    t.entries.insert(1, ent(1, 10, "a"));
    t.entries.insert(2, ent(40, 10, "b"));
    // Free: 11-40 MiB (29 MiB) and 50-100 MiB (the largest). sgdisk's default end is the
    // end of the largest block, which a start at 30 MiB cannot reach.
    let e = run(
        &t,
        vec![serde_json::json!({"number": 3, "startMiB": 30, "sizeMiB": 0})],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("$.storage.disks.0.partitions.0") && e.contains("no room"),
        "{e}"
    );
    // In the largest block it works and fills it.
    let p = run(&t, vec![serde_json::json!({"number": 3, "startMiB": 70})]).unwrap();
    assert_eq!(p.table.entries[&3].start, 70 * MIB);
    assert_eq!(p.table.entries[&3].end(), t.geometry.last_usable);
}

#[test]
fn number_zero_takes_free_slots_after_explicit_numbers() {
    let mut t = disk(100);
    t.entries.insert(2, ent(1, 10, "two"));
    let p = run(
        &t,
        vec![
            serde_json::json!({"number": 0, "label": "z1", "sizeMiB": 5}),
            serde_json::json!({"number": 1, "label": "one", "sizeMiB": 5}),
            serde_json::json!({"number": 0, "label": "z2", "sizeMiB": 5}),
        ],
    )
    .unwrap();
    let l = layout(&p);
    assert_eq!(l[0], (1, 11 * MIB, 5 * MIB, "one".into()));
    assert_eq!(l[1], (2, MIB, 10 * MIB, "two".into()));
    assert_eq!(l[2], (3, 16 * MIB, 5 * MIB, "z1".into()));
    assert_eq!(l[3], (4, 21 * MIB, 5 * MIB, "z2".into()));
    // Steps come in config order with numbers 0 last.
    let order: Vec<u32> = p.steps.iter().map(|s| s.number).collect();
    assert_eq!(order, vec![1, 3, 4]);
}

#[test]
fn start_zero_goes_to_the_largest_block() {
    let mut t = disk(100);
    t.entries.insert(1, ent(1, 10, "a"));
    t.entries.insert(2, ent(20, 10, "b"));
    let p = run(
        &t,
        vec![serde_json::json!({"number": 3, "startMiB": 0, "sizeMiB": 5})],
    )
    .unwrap();
    assert_eq!(p.table.entries[&3].start, 30 * MIB);
}

#[test]
fn matching_partitions_are_kept_case_insensitively() {
    let mut t = disk(100);
    let mut e = ent(1, 10, "root");
    e.guid = Uuid::parse_str("5cb9a4b6-55cd-4f17-9c5c-2c2c1d1e2f30").unwrap();
    t.entries.insert(1, e);
    let p = run(
        &t,
        vec![serde_json::json!({
            "number": 1, "label": "root", "startMiB": 1, "sizeMiB": 10,
            "guid": "5CB9A4B6-55CD-4F17-9C5C-2C2C1D1E2F30",
            "typeGuid": "0fc63daf-8483-4772-8e79-3d69d8477de4"
        })],
    )
    .unwrap();
    assert_eq!(p.steps[0].action, Action::Keep);
    assert!(!p.changes());
    assert_eq!(p.table, t);
    // Unset start and size match whatever is there.
    let p = run(&t, vec![serde_json::json!({"number": 1, "label": "root"})]).unwrap();
    assert_eq!(p.steps[0].action, Action::Keep);
    // Size 0 on a partition that already fills its block matches too.
    let mut t2 = disk(100);
    let mut full = ent(1, 0, "root");
    full.size = t2.geometry.last_usable - MIB + 1;
    t2.entries.insert(1, full);
    let p = run(&t2, vec![serde_json::json!({"number": 1, "sizeMiB": 0})]).unwrap();
    assert_eq!(p.steps[0].action, Action::Keep);
}

#[test]
fn mismatches_fail_without_wipe_and_recreate_with_it() {
    let mut t = disk(100);
    t.entries.insert(1, ent(1, 10, "root"));
    for (j, what) in [
        (
            serde_json::json!({"number": 1, "label": "var"}),
            "label did not match",
        ),
        (
            serde_json::json!({"number": 1, "startMiB": 2}),
            "starting sector did not match",
        ),
        (
            serde_json::json!({"number": 1, "sizeMiB": 20}),
            "size did not match",
        ),
        (
            serde_json::json!({"number": 1, "typeGuid": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}),
            "type GUID did not match",
        ),
        (
            serde_json::json!({"number": 1, "guid": "11111111-2222-3333-4444-555555555555"}),
            "GUID did not match",
        ),
    ] {
        let e = run(&t, vec![j.clone()]).unwrap_err().to_string();
        assert!(e.contains(what) && e.contains("didn't match"), "{e}");
        let mut j = j;
        j["wipePartitionEntry"] = true.into();
        if what == "starting sector did not match" || what == "size did not match" {
            continue; // these need room; covered below
        }
        let p = run(&t, vec![j]).unwrap();
        assert_eq!(p.steps[0].action, Action::Recreate);
    }
    // Recreate with wipe: unset start goes to the largest block's start after deletion.
    let p = run(
        &t,
        vec![serde_json::json!({"number": 1, "label": "new", "sizeMiB": 20, "wipePartitionEntry": true})],
    )
    .unwrap();
    assert_eq!(layout(&p), vec![(1, MIB, 20 * MIB, "new".into())]);
    assert_eq!(p.steps[0].action, Action::Recreate);
    assert_eq!(p.table.entries[&1].guid, Uuid::from_u128(0xAAAA_0001));
}

#[test]
fn delete_needs_wipe_partition_entry() {
    let mut t = disk(100);
    t.entries.insert(1, ent(1, 10, "a"));
    t.entries.insert(2, ent(11, 10, "b"));
    let e = run(
        &t,
        vec![serde_json::json!({"number": 2, "shouldExist": false})],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("wipePartitionEntry is false"), "{e}");
    let p = run(
        &t,
        vec![serde_json::json!({"number": 2, "shouldExist": false, "wipePartitionEntry": true})],
    )
    .unwrap();
    assert_eq!(layout(&p), vec![(1, MIB, 10 * MIB, "a".into())]);
    assert_eq!(p.steps[0].action, Action::Delete);
    // Absent and unwanted: nothing to do.
    let p = run(
        &t,
        vec![serde_json::json!({"number": 5, "shouldExist": false})],
    )
    .unwrap();
    assert_eq!(p.steps[0].action, Action::Absent);
    assert!(!p.changes());
}

#[test]
fn resize_grows_root_in_place_keeping_identity() {
    // An image of 2 GiB written to a 10 GiB disk: root (4) ends where the image ended.
    let mut t = disk(10 * 1024);
    t.entries.insert(1, ent(1, 127, "BIOS"));
    t.entries.insert(4, {
        let mut e = ent(128, 2048 - 129, "root");
        e.attrs = 1 << 59;
        e
    });
    let cfg = serde_json::json!({"number": 4, "label": "root", "resize": true, "sizeMiB": 0});
    let p = run(&t, vec![cfg]).unwrap();
    assert_eq!(p.steps[0].action, Action::Resize);
    let r = &p.table.entries[&4];
    let old = &t.entries[&4];
    assert_eq!(
        (r.start, r.guid, r.type_guid, &r.label, r.attrs),
        (old.start, old.guid, old.type_guid, &old.label, old.attrs)
    );
    assert_eq!(r.end(), t.geometry.last_usable);
    assert!(p.steps[0].describe(512).contains("(was "));
    // Without resize the size mismatch is an error.
    let e = run(
        &t,
        vec![serde_json::json!({"number": 4, "label": "root", "sizeMiB": 0})],
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("size did not match") && e.contains("set resize"),
        "{e}"
    );
    // Resize does not excuse other mismatches.
    let e = run(
        &t,
        vec![serde_json::json!({"number": 4, "label": "var", "resize": true, "sizeMiB": 0})],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("label did not match"), "{e}");
    // An explicit larger size works too; a smaller one shrinks.
    let p = run(
        &t,
        vec![serde_json::json!({"number": 4, "resize": true, "sizeMiB": 4096})],
    )
    .unwrap();
    assert_eq!(p.table.entries[&4].size, 4096 * MIB);
}

#[test]
fn create_fails_when_it_overlaps() {
    let mut t = disk(100);
    t.entries.insert(1, ent(1, 10, "a"));
    let e = run(
        &t,
        vec![serde_json::json!({"number": 2, "startMiB": 5, "sizeMiB": 10})],
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("cannot place partition 2"), "{e}");
    let e = run(&t, vec![serde_json::json!({"number": 2, "sizeMiB": 1000})])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no room"), "{e}");
}

#[test]
fn four_k_sectors_align_to_one_mib() {
    let t = Table {
        geometry: Geometry::fresh(4096, 100 * 256),
        entries: BTreeMap::new(),
    };
    assert_eq!(t.geometry.first_usable, 6);
    let p = run(
        &t,
        vec![
            serde_json::json!({"number": 1, "sizeMiB": 10}),
            serde_json::json!({"number": 2}),
        ],
    )
    .unwrap();
    assert_eq!(p.table.entries[&1].start, 256);
    assert_eq!(p.table.entries[&1].size, 2560);
    assert_eq!(p.table.entries[&2].start, 11 * 256);
    assert_eq!(p.table.entries[&2].end(), t.geometry.last_usable);
}

#[test]
fn unaligned_free_space_aligns_like_sgdisk() {
    let mut t = disk(100);
    // A partition ending at an odd sector: the next default start moves up to 1 MiB.
    t.entries.insert(
        1,
        Entry {
            start: 34,
            size: 1000,
            ..ent(0, 0, "odd")
        },
    );
    let p = run(&t, vec![serde_json::json!({"number": 2, "sizeMiB": 1})]).unwrap();
    assert_eq!(p.table.entries[&2].start, MIB);
    assert_eq!(p.table.entries[&2].size, MIB);
}

#[test]
fn bad_guid_and_number_are_errors() {
    let t = disk(100);
    let e = run(&t, vec![serde_json::json!({"number": 1, "guid": "nope"})])
        .unwrap_err()
        .to_string();
    assert!(e.contains("guid \"nope\" is not a GUID"), "{e}");
    let e = run(&t, vec![serde_json::json!({"number": 200, "sizeMiB": 1})])
        .unwrap_err()
        .to_string();
    assert!(e.contains("exceeds the table's 128 entries"), "{e}");
}
