//! Whole configs: mismatches named by their config entry, a complex mixed layout, random
//! creations against sgdisk.

use super::*;

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
