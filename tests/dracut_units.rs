//! The dracut module's unit files (dracut/30ignis) and the real-root units (dracut/realroot):
//! the project rule that every After=/Before= line says why it is there, the invariants every
//! stage unit must keep (its own stage, the initrd only, emergency mode on failure, part of the
//! first-boot target), and that the real-root units do Afterburn's jobs through ignis.

use std::path::{Path, PathBuf};

fn module_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dracut/30ignis")
}

fn units() -> Vec<(String, String)> {
    let out = units_in(&module_dir());
    assert!(
        out.len() >= 13,
        "expected the module's units, found {out:?}"
    );
    out
}

fn units_in(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.ends_with(".service") || name.ends_with(".target"))
                .then(|| (name, std::fs::read_to_string(e.path()).unwrap()))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_ordering_line_says_why() {
    let realroot = units_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dracut/realroot"));
    for (name, text) in units().into_iter().chain(realroot) {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.starts_with("After=") || line.starts_with("Before=")) {
                continue;
            }
            // The comment sits right above, or above the Requires=/Wants= it pairs with.
            let mut j = i;
            while j > 0 && {
                let prev = lines[j - 1];
                prev.starts_with("Requires=") || prev.starts_with("Wants=")
            } {
                j -= 1;
            }
            assert!(
                j > 0 && lines[j - 1].starts_with('#'),
                "{name}:{}: {line:?} has no comment saying why",
                i + 1
            );
        }
    }
}

const STAGES: &[&str] = &["fetch-offline", "fetch", "kargs", "disks", "mount", "files"];

#[test]
fn stage_units_keep_the_invariants() {
    let all = units();
    for stage in STAGES {
        let name = format!("ignis-{stage}.service");
        let text = &all
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .1;
        for want in [
            "ConditionPathExists=/etc/initrd-release",
            "DefaultDependencies=no",
            "OnFailure=emergency.target",
            "OnFailureJobMode=isolate",
            "Type=oneshot",
            "RemainAfterExit=yes",
            "EnvironmentFile=/run/ignition.env",
            "Before=ignis-complete.target",
        ] {
            assert!(text.lines().any(|l| l == want), "{name}: missing {want:?}");
        }
        let exec = text
            .lines()
            .find(|l| l.starts_with("ExecStart="))
            .unwrap_or_else(|| panic!("{name}: no ExecStart"));
        assert!(
            exec.starts_with("ExecStart=/usr/bin/ignis --root=/sysroot --platform=${PLATFORM_ID} ")
                && exec.contains(&format!("--stage={stage}"))
                && !exec.contains(&format!("--stage={stage}-")),
            "{name}: {exec:?} does not run its own stage"
        );
    }
    // The umount stage is the mount unit's ExecStop.
    let mount = &all
        .iter()
        .find(|(n, _)| n == "ignis-mount.service")
        .unwrap()
        .1;
    assert!(mount
        .lines()
        .any(|l| l.starts_with("ExecStop=") && l.contains("--stage=umount")));
}

#[test]
fn the_module_requires_every_stage_from_the_first_boot_target() {
    let setup = std::fs::read_to_string(module_dir().join("module-setup.sh")).unwrap();
    let loop_start = setup
        .find("add-requires ignis-complete.target")
        .expect("module-setup.sh adds the stages to ignis-complete.target");
    let block = &setup[..loop_start];
    let last_for = block.rfind("for u in").unwrap();
    for stage in STAGES {
        assert!(
            block[last_for..].contains(&format!("ignis-{stage}.service")),
            "ignis-{stage}.service is not required by ignis-complete.target"
        );
    }
}

#[test]
fn realroot_units_do_afterburns_jobs_through_ignis() {
    let all = units_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("dracut/realroot"));
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "afterburn-checkin.service",
            "afterburn-firstboot-checkin.service",
            "afterburn-sshkeys.target",
            "afterburn-sshkeys@.service",
            "afterburn.service",
        ]
    );
    let get = |n: &str| &all.iter().find(|(x, _)| x == n).unwrap().1;
    for (unit, flag) in [
        ("afterburn.service", "--attributes=/run/metadata/afterburn"),
        ("afterburn-sshkeys@.service", "--ssh-keys=%i"),
        ("afterburn-checkin.service", "--check-in"),
        ("afterburn-firstboot-checkin.service", "--check-in"),
    ] {
        let text = get(unit);
        let exec = text
            .lines()
            .find(|l| l.starts_with("ExecStart="))
            .unwrap_or_else(|| panic!("{unit}: no ExecStart"));
        assert_eq!(
            exec,
            format!("ExecStart=/usr/bin/ignis afterburn multi ${{AFTERBURN_OPT_PROVIDER}} {flag}"),
            "{unit}"
        );
        for want in [
            "Type=oneshot",
            "RemainAfterExit=yes",
            "Environment=AFTERBURN_OPT_PROVIDER=--cmdline",
        ] {
            assert!(text.lines().any(|l| l == want), "{unit}: missing {want:?}");
        }
        // Real-root units: nothing of the initrd.
        assert!(!text.contains("initrd-release"), "{unit}");
    }
    assert!(get("afterburn-sshkeys@.service").contains("RequiredBy=afterburn-sshkeys.target"));
    assert!(get("afterburn.service").contains("RequiredBy=metadata.target"));
    let first = get("afterburn-firstboot-checkin.service");
    assert!(first.contains("ConditionFirstBoot=yes"));
    assert!(first.contains("ConditionKernelCommandLine=|ignition.platform.id=packet"));
    let every = get("afterburn-checkin.service");
    for p in ["azure", "azurestack", "scaleway"] {
        assert!(every.contains(&format!(
            "ConditionKernelCommandLine=|ignition.platform.id={p}\n"
        )));
    }
}
