//! Differential test of the files stage against real Ignition 2.14: every case seeds two
//! identical scratch roots, runs Ignition's `-stage fetch` and `-stage files` into one and ignis's
//! into the other (same command line, same environment, a loopback HTTP server for remote
//! contents), then compares both verdicts and the two trees: every path's type, mode, owner,
//! content, link target and hard-link identity, which covers the preset file and the
//! passwd/group/shadow/gshadow databases.
//!
//! Not part of the contract, so not compared: the timestamps and boot id inside
//! `/etc/.ignition-result.json`, shadow's last-change day, shadow-utils' `-` backups and
//! `.pwd.lock` in /etc, ignis's `/etc/.ignition-in-progress.json` (the marker a failed or cut-off
//! files stage leaves on purpose, so the next boot can say the first boot was interrupted;
//! Ignition has none), SELinux xattrs (both agents relabel with the same stub policy), the
//! order of the preset file's lines (Go map order in 2.14, sorted by newer Ignition and ignis)
//! and the state/cache files (kept outside the roots). Failing cases are compared too: what each
//! agent left behind must agree unless the case is in `KNOWN`. Every case also states the
//! verdict Ignition gives, which is checked, so a case cannot quietly test something else.
//!
//! Ignition runs in a mount namespace of its own (`unshare -m`) where a stand-in for systemd's
//! private D-Bus socket answers its version query (2.14 asks when template instances are enabled
//! or disabled, and fails without a running systemd).
//!
//! Differences that are deliberate (ignis follows newer Ignition or fixes an Ignition bug) are
//! listed in `KNOWN` with their reasons and printed; any other difference fails the test, and so
//! does a listed difference that no longer shows up.
//!
//! The same cases are compared with recorded trees of Ignition v2.26.0 in `oracle_226`
//! (`tests/files_diff/oracle_226.rs`, data in `tests/diff/files-2.26/`).
//!
//! This file holds the deliberate differences and the test; `tests/files_diff/` the rest, one
//! file per concern: the cases by kind (`cases_*.rs`), seeding and payload encodings
//! (`seed.rs`), the systemd stand-in, running the agents (`run.rs`), comparing trees
//! (`compare.rs`).
//!
//! Needs root (useradd --root, chown, setfiles) and Ignition 2.14 unpacked by
//! `scripts/setup-deps` (or `IGNITION_BIN`); otherwise it is skipped with the reason printed,
//! except that with `CI` set a missing Ignition binary is a failure.

mod common;

use common::is_root;

/// The same corpus against the recorded trees of Ignition v2.26.0.
#[path = "files_diff/oracle_226.rs"]
mod oracle_226;

#[path = "files_diff/seed.rs"]
mod seed;
use seed::*;
#[path = "files_diff/cases_files.rs"]
mod cases_files;
use cases_files::*;
#[path = "files_diff/cases_nodes.rs"]
mod cases_nodes;
use cases_nodes::*;
#[path = "files_diff/cases_units.rs"]
mod cases_units;
use cases_units::*;
#[path = "files_diff/cases_passwd.rs"]
mod cases_passwd;
use cases_passwd::*;
#[path = "files_diff/cases_ostree.rs"]
mod cases_ostree;
use cases_ostree::*;
#[path = "files_diff/fake_systemd.rs"]
mod fake_systemd;
#[path = "files_diff/run.rs"]
mod run;
use run::*;
#[path = "files_diff/compare.rs"]
mod compare;
use compare::*;

use sha2::Digest;
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const DEFAULT_IGNITION: &str =
    "/opt/ignis-deps/ignition-root/usr/lib/dracut/modules.d/30ignition/ignition";

/// One scenario: a config (with `@SRV@` standing for the loopback server's base URL), what to
/// seed into both roots beyond the base, and the verdict Ignition is expected to give (checked,
/// so that a case cannot silently test something else than it says).
struct Case {
    name: &'static str,
    version: &'static str,
    body: String,
    seed: fn(&Path),
    ok: bool,
}

/// A deliberate difference: the case, what may differ (`verdict` or paths in the target), and why.
struct Known {
    case: &'static str,
    differs: &'static [&'static str],
    reason: &'static str,
}

/// Ignition v2.25.0 stopped passing `--password *` to groupadd for a group without a hash, so
/// gshadow gets groupadd's `!`; ignis follows the newest release, 2.14 writes `*`.
const GSHADOW_BANG: &str = "a group created without passwordHash is `name:!::` in gshadow \
                            (Ignition v2.25.0+, groupadd's default); Ignition 2.14 writes `*`";

const KNOWN: &[Known] = &[
    Known {
        case: "files: owner is a user created by the same config",
        differs: &["/etc/gshadow"],
        reason: GSHADOW_BANG,
    },
    Known {
        case: "groups: add and delete",
        differs: &["/etc/gshadow"],
        reason: GSHADOW_BANG,
    },
    Known {
        case: "users: groups and users together, keys for a new user",
        differs: &["/etc/gshadow"],
        reason: GSHADOW_BANG,
    },
    Known {
        case: "files: a chain of dangling links",
        differs: &[
            "verdict",
            "/etc/.ignition-result.json",
            "/var/c3",
            "/var/c3/f",
        ],
        reason: "Ignition follows one link per path component and then fails to mkdir over the \
                 second, dangling link; ignis follows the chain to its end inside the root, as \
                 the kernel resolves it, and creates the directory there",
    },
    Known {
        case: "files: unknown owner name",
        differs: &["/etc/x"],
        reason:
            "ignis resolves a node's owner before creating it; Ignition 2.14 creates the file, \
                 then fails in chown and leaves it behind (both fail the stage)",
    },
    Known {
        case: "files: unknown group name",
        differs: &["/etc/x"],
        reason:
            "as for an unknown owner: ignis fails before creating the file, Ignition 2.14 after",
    },
    Known {
        case: "files: existing file, contents, no overwrite",
        differs: &["/etc/aaa-first"],
        reason: "ignis refuses a conflict (an existing node, overwrite false) before writing \
                 anything; Ignition 2.14 writes the entries sorted before it, then fails",
    },
    Known {
        case: "links: existing symlink differs, no overwrite",
        differs: &["/etc/aaa"],
        reason: "ignis refuses the conflicting link before writing anything; Ignition 2.14 fails \
                 after writing the entries sorted before it",
    },
    Known {
        case: "seeded root: conflicting link aborts",
        differs: &["/etc/zzz"],
        reason: "ignis refuses the conflicting link before writing anything; Ignition 2.14 fails \
                 after writing the entries sorted before it",
    },
    Known {
        case: "units: template instances and sorted presets",
        differs: &["/etc/systemd/system-preset/20-ignition.preset"],
        reason: "Ignition 2.14 takes the template itself (echo@.service) for an instance with an \
                 empty name and writes `enable echo@.service  b` (two spaces); ignis writes \
                 `enable echo@.service b`; systemd splits instances on whitespace: same meaning",
    },
    Known {
        case: "units: preset file without a final newline",
        differs: &["/etc/systemd/system-preset/20-ignition.preset"],
        reason: "Ignition 2.14 appends right after a last line without a newline, gluing two \
                 presets into one invalid line; ignis starts a new line",
    },
    Known {
        case: "units: enabled template instance disabled with an existing wants link",
        differs: &[
            "/etc/systemd/system/getty.target.wants",
            "/etc/systemd/system/getty.target.wants/getty@tty3.service",
        ],
        reason: "Ignition 2.14 runs `systemctl disable 'getty@.service tty3'` (the preset string \
                 as one argument): systemctl rejects the name, removes nothing and exits 0; ignis \
                 removes the instance's links as `systemctl disable getty@tty3.service` does",
    },
    Known {
        case: "users: ssh keys replace an existing fragment",
        differs: &[
            "/home/core/.ssh/authorized_keys.d",
            "/home/core/.ssh/authorized_keys.d/ignition",
        ],
        reason: "ignis writes the key fragment as a new 0600 file in a 0700 authorized_keys.d, \
                 as on a fresh home; Ignition 2.14 truncates the old file in place and keeps \
                 existing modes (0644 and 0755 here)",
    },
    Known {
        case: "users: keys for an existing user, no /etc/.pwd.lock",
        differs: &["verdict"],
        reason: "Ignition 2.14 always hands /etc/.pwd.lock to setfiles when passwd is set, and \
                 setfiles fails when shadow-utils did not create it (usermod with nothing to \
                 change does not): the boot fails after everything is written; ignis relabels \
                 only paths that exist",
    },
    Known {
        case: "groups: modify an existing group",
        differs: &["verdict", "/etc/group", "/etc/.ignition-result.json"],
        reason: "Ignition 2.14 runs groupadd for a group that exists and fails; newer Ignition \
                 and ignis modify it (groupmod semantics)",
    },
    Known {
        case: "users: existing home directory",
        differs: &[
            "verdict",
            "/etc/.ignition-result.json",
            "/srv/frank/.ssh",
            "/srv/frank/.ssh/authorized_keys.d",
            "/srv/frank/.ssh/authorized_keys.d/ignition",
        ],
        reason: "Ignition 2.14 writes SSH keys with the user's uid, so a pre-existing home the \
                 user cannot write (root-owned here) fails the boot; ignis writes them as root, \
                 confined to the target by openat2, and gives .ssh to the user",
    },
    Known {
        case: "no SELinux config in the target",
        differs: &["verdict"],
        reason: "Debian's Ignition 2.14 always relabels and fails without /etc/selinux/config \
                 (after writing everything); ignis relabels only when the target's SELinux \
                 config enables a policy that is installed",
    },
];

fn case(name: &'static str, version: &'static str, body: &str, seed: fn(&Path), ok: bool) -> Case {
    Case {
        name,
        version,
        body: body.to_string(),
        seed,
        ok,
    }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    v.extend(file_cases());
    v.extend(directory_cases());
    v.extend(link_cases());
    v.extend(unit_cases());
    v.extend(passwd_cases());
    v.extend(mixed_cases());
    v.extend(ostree_cases());
    v
}

#[test]
fn files_stage_matches_ignition() {
    let ignition = PathBuf::from(
        std::env::var("IGNITION_BIN").unwrap_or_else(|_| DEFAULT_IGNITION.to_string()),
    );
    let test = "files_stage_matches_ignition";
    if !ignition.exists() {
        common::skip::skip(
            test,
            &format!("{} not found (run scripts/setup-deps)", ignition.display()),
        );
        return;
    }
    if !is_root() {
        common::skip::skip(test, "needs root (useradd --root, chown, setfiles)");
        return;
    }
    for tool in ["useradd", "setfiles", "systemctl", "unshare", "mount"] {
        if find_tool(tool).is_none() {
            common::skip::skip(
                test,
                &format!("{tool} not installed (Ignition 2.14 runs it)"),
            );
            return;
        }
    }
    let ignis = PathBuf::from(env!("CARGO_BIN_EXE_ignis"));
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("files-diff");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    // Ignition writes SSH keys as the user: every parent of the roots must be traversable.
    for d in [Path::new(env!("CARGO_TARGET_TMPDIR")), &work] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let server = start_server();
    let systemd = work.join("fake-systemd");
    fake_systemd::serve(&systemd);
    let base = server.url("");
    let all = cases();
    assert!(all.len() >= 50, "the corpus shrank to {} cases", all.len());
    for k in KNOWN {
        assert!(
            all.iter().any(|c| c.name == k.case),
            "KNOWN names a case that does not exist: {}",
            k.case
        );
    }
    let mut failures = Vec::new();
    let mut agree = 0;
    let mut deliberate = Vec::new();
    let (mut t_ign, mut t_ignis) = (Duration::ZERO, Duration::ZERO);
    for (i, c) in all.iter().enumerate() {
        let config = format!(
            r#"{{"ignition":{{"version":"{}"}},{}}}"#,
            c.version,
            c.body.replace("@SRV@", &base)
        );
        let dir = work.join(format!("{i:02}"));
        let (da, db) = (dir.join("ignition"), dir.join("ignis"));
        for d in [&dir, &da, &db] {
            fs::create_dir_all(d).unwrap();
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for d in [&da, &db] {
            let root = d.join("root");
            seed_base(&root);
            (c.seed)(&root);
        }
        let (ra, rb) = std::thread::scope(|s| {
            let ha = s.spawn(|| run_agent(&ignition, &da, &config, Some(&systemd)));
            let hb = s.spawn(|| run_agent(&ignis, &db, &config, None));
            (ha.join().unwrap(), hb.join().unwrap())
        });
        t_ign += ra.took;
        t_ignis += rb.took;
        let diffs = compare(
            &ra,
            &rb,
            &snapshot(&da.join("root")),
            &snapshot(&db.join("root")),
        );
        let mut problems = Vec::new();
        if ra.ok != c.ok {
            problems.push(format!(
                "the case expects Ignition to {}, it {}",
                if c.ok { "succeed" } else { "fail" },
                if ra.ok { "succeeded" } else { "failed" }
            ));
        }
        let known = KNOWN.iter().find(|k| k.case == c.name);
        let (listed, unlisted): (Vec<_>, Vec<_>) = diffs
            .iter()
            .partition(|(key, _)| known.is_some_and(|k| k.differs.contains(&key.as_str())));
        problems.extend(unlisted.iter().map(|(_, d)| d.clone()));
        if let Some(k) = known {
            if listed.is_empty() {
                problems.push(format!(
                    "listed as a deliberate difference ({}) but both agree now: drop it from KNOWN",
                    k.reason
                ));
            }
        }
        if problems.is_empty() {
            match known {
                Some(k) => {
                    println!("known {i:2} {}: {}", c.name, k.reason);
                    for (_, d) in &listed {
                        println!("         {d}");
                    }
                    deliberate.push(c.name);
                }
                None => {
                    println!("ok    {i:2} {}", c.name);
                    agree += 1;
                }
            }
            let _ = fs::remove_dir_all(&dir);
        } else {
            fs::write(dir.join("ignition.log"), &ra.log).unwrap();
            fs::write(dir.join("ignis.log"), &rb.log).unwrap();
            println!(
                "FAIL  {i:2} {} (roots and logs kept in {})",
                c.name,
                dir.display()
            );
            for p in &problems {
                println!("         {p}");
            }
            for (_, d) in &listed {
                println!("         (listed) {d}");
            }
            println!("       Ignition's log:\n{}", error_lines(&ra.log));
            println!("       ignis's log:\n{}", error_lines(&rb.log));
            failures.push(c.name);
        }
    }
    println!(
        "\n{} configs: {} agree, {} deliberate differences, {} failed; Ignition {:.2?}, ignis {:.2?}",
        all.len(),
        agree,
        deliberate.len(),
        failures.len(),
        t_ign,
        t_ignis
    );
    if !KNOWN.is_empty() {
        println!("Deliberate differences from Ignition 2.14:");
        for k in KNOWN {
            println!("  - {}: {} [{}]", k.case, k.reason, k.differs.join(", "));
        }
    }
    assert!(
        failures.is_empty(),
        "configs where ignis and Ignition 2.14 differ: {failures:?}"
    );
}
