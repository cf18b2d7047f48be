//! The dracut module's unit files (dracut/30ignition, and the real-root units in systemd/): the
//! project rule that every After=/Before= line says why it is there, the invariants every stage
//! unit must keep (its own stage, Ignition's names and command line, the initrd only, emergency
//! mode on failure, part of the first-boot target), the names NestOS's glue relies on, and that
//! the module is the one source of its units (30ignis is an alias holding none).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn module_dir() -> PathBuf {
    repo().join("dracut/30ignition")
}

fn unit_files(dir: &Path) -> Vec<(String, String)> {
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

fn units() -> Vec<(String, String)> {
    let out = unit_files(&module_dir());
    assert!(
        out.len() >= 15,
        "expected the module's units, found {out:?}"
    );
    out
}

fn unit(name: &str) -> String {
    units()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .1
}

fn module_setup() -> String {
    std::fs::read_to_string(module_dir().join("module-setup.sh")).unwrap()
}

#[test]
fn every_ordering_line_says_why() {
    let mut all = units();
    all.extend(unit_files(&repo().join("systemd")));
    all.extend(unit_files(&repo().join("vmtests/dracut/35vmtest-nestos")));
    for (name, text) in all {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // Resource limits are a choice to explain too.
            if !(line.starts_with("After=")
                || line.starts_with("Before=")
                || line.starts_with("Limit"))
            {
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
    for stage in STAGES {
        let name = format!("ignition-{stage}.service");
        let text = unit(&name);
        for want in [
            "ConditionPathExists=/etc/initrd-release",
            "DefaultDependencies=no",
            "OnFailure=emergency.target",
            "OnFailureJobMode=isolate",
            "Type=oneshot",
            "RemainAfterExit=yes",
            "EnvironmentFile=/run/ignition.env",
            "Before=ignition-complete.target",
        ] {
            assert!(text.lines().any(|l| l == want), "{name}: missing {want:?}");
        }
        let exec = text
            .lines()
            .find(|l| l.starts_with("ExecStart="))
            .unwrap_or_else(|| panic!("{name}: no ExecStart"));
        assert!(
            exec.starts_with(
                "ExecStart=/usr/bin/ignition --root=/sysroot --platform=${PLATFORM_ID} "
            ) && exec.contains(&format!("--stage={stage} "))
                && exec.ends_with(" ${IGNITION_ARGS}"),
            "{name}: {exec:?} does not run its own stage the way Ignition's unit does"
        );
    }
    // The umount stage is the mount unit's ExecStop, with the same extra arguments.
    let mount = unit("ignition-mount.service");
    assert!(mount
        .lines()
        .any(|l| l.starts_with("ExecStop=/usr/bin/ignition ")
            && l.contains("--stage=umount")
            && l.ends_with(" ${IGNITION_ARGS}")));
}

#[test]
fn no_unit_or_script_keeps_an_old_ignis_stage_name() {
    // The stages and targets carry Ignition's names only; ignis-* is left for ignis's own extras
    // (ignis-neednet, ignis-failure).
    let old = [
        "ignis-complete",
        "ignis-subsequent",
        "ignis-diskful",
        "ignis-fetch",
        "ignis-kargs",
        "ignis-disks",
        "ignis-mount",
        "ignis-files",
        "ignis-remount",
        "ignis-generator",
        "/usr/bin/ignis --",
    ];
    for e in std::fs::read_dir(module_dir()).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap();
        for o in old {
            assert!(!text.contains(o), "{:?} still says {o:?}", e.file_name());
        }
    }
}

#[test]
fn the_module_requires_every_stage_from_the_first_boot_target() {
    let setup = module_setup();
    let loop_start = setup
        .find("add-requires ignition-complete.target \"$u\"")
        .expect("module-setup.sh adds the stages to ignition-complete.target");
    let block = &setup[..loop_start];
    let last_for = block.rfind("for u in").unwrap();
    for stage in STAGES {
        assert!(
            block[last_for..].contains(&format!("ignition-{stage}.service")),
            "ignition-{stage}.service is not required by ignition-complete.target"
        );
    }
}

/// What NestOS's dracut modules (35nestos-ignition, 35nestos-network, 40ignition-ostree, ...)
/// order against, add requirements to or drop files into, by name.
#[test]
fn every_name_nestos_relies_on_exists_and_is_installed() {
    let setup = module_setup();
    for name in [
        "ignition-complete.target",
        "ignition-diskful.target",
        "ignition-subsequent.target",
        "ignition-diskful-subsequent.target",
        "ignition-fetch-offline.service",
        "ignition-fetch.service",
        "ignition-kargs.service",
        "ignition-disks.service",
        "ignition-mount.service",
        "ignition-files.service",
        "ignition-remount-sysroot.service",
        "afterburn-network-kargs.service",
        "afterburn-hostname.service",
    ] {
        unit(name);
        assert!(
            setup.contains(name),
            "module-setup.sh does not install {name}"
        );
    }
    assert!(setup.contains("system-generators/ignition-generator"));
    assert!(setup.contains("inst_simple \"$bin\" /usr/bin/ignition"));
    // The module is named "ignition": distro modules say depends() { echo ignition; }.
    assert!(module_dir().ends_with("30ignition"));
}

#[test]
fn no_hard_dependency_on_one_network_stack() {
    let setup = module_setup();
    let deps = setup
        .lines()
        .skip_while(|l| !l.starts_with("depends()"))
        .find(|l| l.trim_start().starts_with("echo "))
        .unwrap();
    let words: Vec<&str> = deps.split_whitespace().collect();
    assert!(words.contains(&"network"), "{deps}");
    for stack in ["systemd-networkd", "network-manager", "network-legacy"] {
        assert!(!words.contains(&stack), "depends() names {stack}: {deps}");
    }
    // networkd's neednet helper only where networkd is the image's handler.
    assert!(setup.contains(
        "if dracut_module_included \"systemd-networkd\" && ! dracut_module_included \"network-manager\"; then"
    ));
}

#[test]
fn the_ignis_module_is_an_alias_holding_no_unit() {
    let dir = repo().join("dracut/30ignis");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["module-setup.sh"],
        "30ignis must hold nothing of its own"
    );
    let setup = std::fs::read_to_string(dir.join("module-setup.sh")).unwrap();
    assert!(setup.contains("echo ignition"));
}

#[test]
fn afterburn_units_are_hooked_like_afterburns_module() {
    let setup = module_setup();
    assert!(setup.contains(
        "for u in afterburn-network-kargs.service afterburn-hostname.service; do\n        $SYSTEMCTL -q --root \"$initdir\" add-requires ignition-complete.target \"$u\""
    ));
    let kargs = unit("afterburn-network-kargs.service");
    for want in [
        "Before=dracut-cmdline.service",
        "Before=ignition-fetch.service",
        "DefaultDependencies=no",
        "Type=oneshot",
        "Environment=AFTERBURN_OPT_PROVIDER=--cmdline",
    ] {
        assert!(kargs.lines().any(|l| l == want), "missing {want:?}");
    }
    let host = unit("afterburn-hostname.service");
    assert!(host.lines().any(|l| l == "Before=ignition-files.service"));
    assert!(host.lines().any(|l| l == "After=initrd-root-fs.target"));
}

/// Runs the network-kargs unit's ExecStart as systemd would (after `$$` -> `$`), with a fake
/// afterburn that prints its arguments, under the given environment.
fn network_kargs_argv(env: &[(&str, &str)]) -> Vec<String> {
    let kargs = unit("afterburn-network-kargs.service");
    let exec = kargs
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart=/bin/sh -c '"))
        .expect("ExecStart=/bin/sh -c '...'")
        .strip_suffix('\'')
        .unwrap()
        .replace("$$", "$");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let fake = dir.join("afterburn");
    std::fs::write(
        &fake,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let script = exec.replace("/usr/bin/afterburn", fake.to_str().unwrap());
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&script)
        .env_clear()
        .env("PATH", "/usr/bin:/bin");
    cmd.env("AFTERBURN_OPT_PROVIDER", "--cmdline");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn network_kargs_takes_the_distros_default_from_the_environment() {
    // NestOS's drop-in: Environment=AFTERBURN_NETWORK_KARGS_DEFAULT='ip=dhcp'.
    assert_eq!(
        network_kargs_argv(&[("AFTERBURN_NETWORK_KARGS_DEFAULT", "ip=dhcp")]),
        [
            "exp",
            "rd-network-kargs",
            "--cmdline",
            "--default-value",
            "ip=dhcp"
        ]
    );
    // Several arguments stay one value.
    assert_eq!(
        network_kargs_argv(&[("AFTERBURN_NETWORK_KARGS_DEFAULT", "ip=dhcp rd.neednet=1")]),
        [
            "exp",
            "rd-network-kargs",
            "--cmdline",
            "--default-value",
            "ip=dhcp rd.neednet=1"
        ]
    );
    // No default set (no distro drop-in): afterburn is not run at all, and the unit succeeds.
    assert_eq!(
        network_kargs_argv(&[]),
        ["afterburn-network-kargs: AFTERBURN_NETWORK_KARGS_DEFAULT is not set (no distro default): nothing to do"]
    );
    assert_eq!(
        network_kargs_argv(&[("AFTERBURN_NETWORK_KARGS_DEFAULT", "")]).len(),
        1
    );
}

#[test]
fn delete_config_is_a_oneshot_running_rmcfg() {
    let text =
        std::fs::read_to_string(repo().join("systemd/ignition-delete-config.service")).unwrap();
    for want in [
        "Type=oneshot",
        "EnvironmentFile=/run/ignition.env",
        "ExecStart=/usr/libexec/ignition-rmcfg --platform=${PLATFORM_ID}",
        "ConditionFirstBoot=true",
        "WantedBy=sysinit.target",
        // Only where ignition-rmcfg can do it: it refuses every platform but vmware.
        "ConditionKernelCommandLine=ignition.platform.id=vmware",
    ] {
        assert!(text.lines().any(|l| l == want), "missing {want:?}");
    }
}

#[test]
fn realroot_units_do_afterburns_jobs_through_ignis() {
    let all: Vec<(String, String)> = unit_files(&repo().join("systemd"))
        .into_iter()
        .filter(|(n, _)| n.starts_with("afterburn"))
        .collect();
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

/// Every `"name"` string literal in the Rust sources (what the code can name as a program).
fn source_text(dir: &Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            source_text(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
}

#[test]
fn installs_only_the_programs_ignis_runs() {
    // The programs module-setup installs for ignis: ignis_require's and the optional ones.
    let setup = module_setup();
    let mut progs: Vec<String> = Vec::new();
    let mut cont = false;
    for line in setup.lines().map(str::trim) {
        let words: Option<&str> = if let Some(rest) = line.strip_prefix("ignis_require ") {
            Some(rest)
        } else if let Some(rest) = line.strip_prefix("inst_multiple -o ") {
            Some(rest)
        } else if cont {
            Some(line)
        } else {
            None
        };
        let Some(words) = words else { continue };
        cont = words.ends_with('\\');
        progs.extend(
            words
                .trim_end_matches('\\')
                .split_whitespace()
                .filter(|w| !w.starts_with('"'))
                .map(String::from),
        );
    }
    assert!(progs.contains(&"mkfs.ext4".to_string()), "{progs:?}");
    let mut src = String::new();
    source_text(&repo().join("src"), &mut src);
    for p in &progs {
        assert!(
            src.contains(&format!("\"{p}\"")),
            "module-setup.sh installs {p}, which ignis never runs"
        );
    }
    // What ignis does natively is not installed as Ignition's tool set was.
    for gone in [
        "sgdisk", "partx", "useradd", "groupadd", "usermod", "chroot", "lsblk",
    ] {
        assert!(
            !progs.iter().any(|p| p == gone),
            "{gone} is installed again"
        );
    }
}
