//! Differential test of the native passwd planner+writer against shadow-utils: each scenario seeds
//! two identical temporary roots, runs the real `groupadd/groupmod/groupdel/useradd/usermod/userdel
//! --root` in one with exactly the argv Ignition builds, and `ignis::passwd` in the other, then
//! compares the verdicts, the six account databases and the trees (type, mode, owner, content).
//!
//! Needs root (for --root, chown and a proc mount so useradd can copy nested skeleton
//! directories) and shadow-utils (`apt-get install -y passwd`, present on Debian); otherwise it is
//! skipped with the reason printed. /usr/lib/passwd and /usr/lib/group are served to shadow-utils
//! by a tiny NSS module built from tests/passwd/nss_altfiles_test.c (nss-altfiles is not packaged
//! in Debian). shadow-utils' `-` backup files and lock file are not part of the contract.

mod common;

use common::is_root;

use ignis::config::types::{PasswdGroup, PasswdUser};
use ignis::passwd::{self, target::Target};
use ignis::sys::root::Root;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const EPOCH: i64 = 1_700_000_000;

const LOGIN_DEFS: &str = "\
MAIL_DIR        /var/mail
UMASK           022
PASS_MAX_DAYS   99999
PASS_MIN_DAYS   0
PASS_WARN_AGE   7
UID_MIN         1000
UID_MAX         60000
SUB_UID_MIN     100000
SUB_UID_MAX     600100000
SUB_UID_COUNT   65536
GID_MIN         1000
GID_MAX         60000
SUB_GID_MIN     100000
SUB_GID_MAX     600100000
SUB_GID_COUNT   65536
USERGROUPS_ENAB yes
ENCRYPT_METHOD  SHA512
";

/// One scenario: what to seed, the `passwd` section, and how to vary the base root.
struct Scenario {
    name: &'static str,
    passwd: Value,
    /// Edits applied to the seed (identically to both roots) before running.
    seed: fn(&Path),
    /// Whether shadow-utils and ignis are expected to succeed (checked against both).
    ok: bool,
}

fn no_seed(_: &Path) {}

fn write(root: &Path, path: &str, body: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, body).unwrap();
}

fn chmod(root: &Path, path: &str, mode: u32) {
    let p = root.join(path.trim_start_matches('/'));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(root: &Path, path: &str, uid: u32, gid: u32) {
    let p = root.join(path.trim_start_matches('/'));
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

fn append(root: &Path, path: &str, body: &str) {
    let p = root.join(path.trim_start_matches('/'));
    let mut s = fs::read_to_string(&p).unwrap_or_default();
    s.push_str(body);
    fs::write(p, s).unwrap();
}

/// The base root: a small Debian-like /etc, a skeleton with nested directories, a symlink and a
/// hard link, an existing user "old" with a home, and nss-altfiles databases.
fn seed_base(root: &Path, nss_lib: &Path) {
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         mail:x:8:8:mail:/var/mail:/usr/sbin/nologin\nold:x:1000:1000:Old User:/home/old:/bin/sh\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    write(
        root,
        "/etc/shadow",
        "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nmail:*:19000:0:99999:7:::\n\
         old:$6$oldsalt$oldhash:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
    );
    write(
        root,
        "/etc/group",
        "root:x:0:\ndaemon:x:1:\nmail:x:8:\nwheel:x:10:root,old\nusers:x:100:\nold:x:1000:\n\
         nogroup:x:65534:\n",
    );
    write(
        root,
        "/etc/gshadow",
        "root:*::\ndaemon:*::\nmail:*::\nwheel:*:old:root,old\nusers:*::\nold:!::\nnogroup:*::\n",
    );
    chmod(root, "/etc/shadow", 0o640);
    chmod(root, "/etc/gshadow", 0o640);
    chown(root, "/etc/shadow", 0, 42);
    write(root, "/etc/subuid", "old:100000:65536\n");
    write(root, "/etc/subgid", "old:100000:65536\n");
    write(root, "/etc/login.defs", LOGIN_DEFS);
    write(root, "/etc/default/useradd", "SHELL=/bin/sh\n");
    write(root, "/etc/skel/.bashrc", "# bashrc\n");
    write(root, "/etc/skel/.profile", "# profile\n");
    write(root, "/etc/skel/.config/app/settings", "x=1\n");
    chmod(root, "/etc/skel/.config/app", 0o700);
    chmod(root, "/etc/skel/.config/app/settings", 0o600);
    std::os::unix::fs::symlink(".bashrc", root.join("etc/skel/.bash_alias")).unwrap();
    fs::hard_link(
        root.join("etc/skel/.profile"),
        root.join("etc/skel/.profile.hardlink"),
    )
    .unwrap();
    write(root, "/home/old/notes.txt", "old notes\n");
    write(root, "/home/old/sub/data", "data\n");
    for p in [
        "/home/old",
        "/home/old/notes.txt",
        "/home/old/sub",
        "/home/old/sub/data",
    ] {
        chown(root, p, 1000, 1000);
    }
    fs::create_dir_all(root.join("var/mail")).unwrap();
    fs::create_dir_all(root.join("proc")).unwrap();
    write(
        root,
        "/usr/lib/passwd",
        "altuser:x:1001:1001:Alt:/var/altuser:/sbin/nologin\naltsys:x:999:999::/:/sbin/nologin\n",
    );
    write(
        root,
        "/usr/lib/group",
        "altuser:x:1001:\naltsys:x:999:\ndocker:x:1002:\n",
    );
    write(
        root,
        "/etc/nsswitch.conf",
        "passwd: files altfiles\ngroup: files altfiles\nshadow: files\ngshadow: files\n",
    );
    for dir in [
        "usr/lib",
        "usr/lib/x86_64-linux-gnu",
        "usr/lib/aarch64-linux-gnu",
    ] {
        fs::create_dir_all(root.join(dir)).unwrap();
        fs::copy(nss_lib, root.join(dir).join("libnss_altfiles.so.2")).unwrap();
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "plain user",
            passwd: json!({"users": [{"name": "core"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "system user",
            passwd: json!({"users": [{"name": "svc", "system": true}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "explicit uid",
            passwd: json!({"users": [{"name": "u1", "uid": 2500}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "explicit uid and primary group by gid",
            passwd: json!({"users": [{"name": "u2", "uid": 3000, "primaryGroup": "100"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "primary group by name",
            passwd: json!({"users": [{"name": "u3", "primaryGroup": "wheel"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "supplementary groups",
            passwd: json!({"users": [{"name": "u4", "groups": ["wheel", "users"]}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "noUserGroup",
            passwd: json!({"users": [{"name": "u5", "noUserGroup": true}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "noCreateHome",
            passwd: json!({"users": [{"name": "u6", "noCreateHome": true}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "homeDir with missing parents",
            passwd: json!({"users": [{"name": "u7", "homeDir": "/var/home/deep/u7"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "shell gecos and noLogInit",
            passwd: json!({"users": [{"name": "u8", "shell": "/bin/bash", "gecos": "User Eight,Room 1", "noLogInit": true}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "passwordHash set",
            passwd: json!({"users": [{"name": "u9", "passwordHash": "$6$salt$hashhashhash"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "passwordHash empty",
            passwd: json!({"users": [{"name": "u10", "passwordHash": ""}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "modify existing user",
            passwd: json!({"users": [{"name": "old", "shell": "/bin/bash", "gecos": "Renamed", "groups": ["users"], "passwordHash": "$6$n$new"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "move home and change uid",
            passwd: json!({"users": [{"name": "old", "homeDir": "/home/old2", "uid": 1500}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "change primary group re-owns home",
            passwd: json!({"users": [{"name": "old", "primaryGroup": "users"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "delete user",
            passwd: json!({"users": [{"name": "old", "shouldExist": false}]}),
            seed: |r| {
                write(r, "/var/mail/old", "");
                chown(r, "/var/mail/old", 1000, 8);
            },
            ok: true,
        },
        Scenario {
            name: "delete user whose group is another's primary",
            passwd: json!({"users": [{"name": "old", "shouldExist": false}, {"name": "gone", "shouldExist": false}]}),
            seed: |r| append(r, "/etc/passwd", "buddy:x:1003:1000::/home/buddy:/bin/sh\n"),
            ok: true,
        },
        Scenario {
            name: "group add",
            passwd: json!({"groups": [{"name": "g1"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "system group",
            passwd: json!({"groups": [{"name": "sg", "system": true}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "group with gid and password",
            passwd: json!({"groups": [{"name": "g2", "gid": 4242, "passwordHash": "$6$g$grouphash"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "group modify gid moves primary members",
            passwd: json!({"groups": [{"name": "old", "gid": 2000}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "group modify password",
            passwd: json!({"groups": [{"name": "users", "passwordHash": "$6$p$pw"}, {"name": "wheel"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "group delete",
            passwd: json!({"groups": [{"name": "wheel", "shouldExist": false}, {"name": "absent", "shouldExist": false}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "users and groups together",
            passwd: json!({
                "groups": [{"name": "devs"}, {"name": "ops", "gid": 5000}, {"name": "svcgrp", "system": true}],
                "users": [
                    {"name": "alice", "primaryGroup": "devs", "groups": ["ops", "wheel"]},
                    {"name": "bob", "groups": ["devs"], "passwordHash": "$6$b$bob"},
                    {"name": "daemonx", "system": true, "primaryGroup": "svcgrp", "noCreateHome": true, "shell": "/sbin/nologin"},
                    {"name": "carol"}
                ]
            }),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "altfiles ids are skipped",
            passwd: json!({
                "groups": [{"name": "newg"}, {"name": "newsys", "system": true}],
                "users": [{"name": "n1"}, {"name": "n2", "system": true}, {"name": "n3", "primaryGroup": "docker"}]
            }),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "altfiles-only user cannot be modified",
            passwd: json!({"users": [{"name": "altuser", "shell": "/bin/sh"}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "altfiles-only user without changes",
            passwd: json!({"users": [{"name": "altuser", "shell": "/sbin/nologin"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "altfiles group as supplementary is unknown to useradd",
            passwd: json!({"users": [{"name": "n4", "groups": ["docker"]}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "altfiles group as supplementary is ignored by usermod",
            passwd: json!({"users": [{"name": "old", "groups": ["docker", "users"]}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "login.defs: other ranges, HOME_MODE, no user groups",
            passwd: json!({"users": [{"name": "d1"}, {"name": "d2", "system": true}]}),
            seed: |r| {
                append(
                r,
                "/etc/login.defs",
                "UID_MIN 5000\nGID_MIN 5000\nSYS_UID_MIN 200\nSYS_UID_MAX 300\nHOME_MODE 0700\nUSERGROUPS_ENAB no\n",
            )
            },
            ok: true,
        },
        Scenario {
            name: "login.defs: UMASK 077, small subid count, user group gid differs",
            passwd: json!({"users": [{"name": "e1"}, {"name": "e2"}]}),
            seed: |r| {
                append(
                    r,
                    "/etc/login.defs",
                    "UMASK 077\nSUB_UID_COUNT 1000\nSUB_GID_COUNT 0\n",
                );
                append(r, "/etc/group", "taken:x:1004:\n");
                write(r, "/etc/subuid", "zed:300000:10\nold:100000:65536\n");
            },
            ok: true,
        },
        Scenario {
            name: "no shadow or gshadow or subid files",
            passwd: json!({
                "groups": [{"name": "pg", "passwordHash": "GH"}],
                "users": [{"name": "p1", "passwordHash": "H1", "groups": ["pg"]}, {"name": "old", "passwordHash": "H2"}]
            }),
            seed: |r| {
                for f in ["shadow", "gshadow", "subuid", "subgid"] {
                    fs::remove_file(r.join("etc").join(f)).unwrap();
                }
            },
            ok: true,
        },
        Scenario {
            name: "useradd defaults file",
            passwd: json!({"users": [{"name": "f1", "noUserGroup": true}, {"name": "f2", "system": true}]}),
            seed: |r| {
                write(
                    r,
                    "/etc/default/useradd",
                    "GROUP=wheel\nHOME=/srv/homes\nSHELL=/bin/zsh\nINACTIVE=30\nEXPIRE=2030-01-01\nSKEL=/etc/skel2\nCREATE_MAIL_SPOOL=yes\n",
                );
                write(r, "/etc/skel2/.zshrc", "# zsh\n");
            },
            ok: true,
        },
        Scenario {
            name: "existing home is kept and not populated",
            passwd: json!({"users": [{"name": "h1", "homeDir": "/home/old"}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "several users: ids and subid ranges advance",
            passwd: json!({"users": [{"name": "s1"}, {"name": "s2", "uid": 1200}, {"name": "s3"}, {"name": "s4", "uid": 70000}]}),
            seed: no_seed,
            ok: true,
        },
        Scenario {
            name: "duplicate uid",
            passwd: json!({"users": [{"name": "dup", "uid": 1000}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "unknown primary group",
            passwd: json!({"users": [{"name": "np", "primaryGroup": "nosuch"}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "delete primary group of a user",
            passwd: json!({"groups": [{"name": "old", "shouldExist": false}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "group gid taken",
            passwd: json!({"groups": [{"name": "gt", "gid": 10}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "user group name taken",
            passwd: json!({"users": [{"name": "users"}]}),
            seed: no_seed,
            ok: false,
        },
        Scenario {
            name: "invalid user name",
            passwd: json!({"users": [{"name": "-bad"}]}),
            seed: no_seed,
            ok: false,
        },
    ]
}

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// NSS "files then altfiles" lookup of a name, as Ignition's getpwnam/getgrnam in the chroot.
fn nss_has(root: &Path, files: [&str; 2], name: &str) -> bool {
    files.iter().any(|f| {
        fs::read_to_string(root.join(f))
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(name))
    })
}

/// Runs the Ignition sequence with shadow-utils; Err on the first failing command.
fn run_shadow(root: &Path, groups: &[PasswdGroup], users: &[PasswdUser]) -> Result<(), String> {
    let r = root.to_string_lossy().into_owned();
    let run = |prog: &str, args: Vec<String>| -> Result<(), String> {
        let out = Command::new(find_tool(prog).ok_or(format!("{prog} missing"))?)
            .args(&args)
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{prog} {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let s = |v: &str| v.to_string();
    for g in groups {
        let exists = nss_has(root, ["etc/group", "usr/lib/group"], &g.name);
        if g.should_exist == Some(false) {
            if exists {
                run("groupdel", vec![s("--root"), r.clone(), g.name.clone()])?;
            }
            continue;
        }
        let mut args = vec![s("--root"), r.clone()];
        if let Some(gid) = g.gid {
            args.extend([s("--gid"), gid.to_string()]);
        }
        let hash = g.password_hash.as_deref().filter(|h| !h.is_empty());
        if exists {
            if let Some(h) = hash {
                args.extend([s("--password"), s(h)]);
            }
            args.push(g.name.clone());
            run("groupmod", args)?;
        } else {
            // Ignition since v2.25.0 passes --password only when a hash is set, so groupadd
            // writes its default `!` to gshadow (2.14 passed `*`).
            if let Some(h) = hash {
                args.extend([s("--password"), s(h)]);
            }
            if g.system == Some(true) {
                args.push(s("--system"));
            }
            args.push(g.name.clone());
            run("groupadd", args)?;
        }
    }
    for u in users {
        let exists = nss_has(root, ["etc/passwd", "usr/lib/passwd"], &u.name);
        if u.should_exist == Some(false) {
            if exists {
                run(
                    "userdel",
                    vec![s("--remove"), s("--root"), r.clone(), u.name.clone()],
                )?;
            }
            continue;
        }
        let set = |v: &Option<String>| v.as_deref().filter(|x| !x.is_empty()).map(s);
        let mut args = vec![s("--root"), r.clone()];
        if exists {
            if let Some(h) = set(&u.home_dir) {
                args.extend([s("--home"), h, s("--move-home")]);
            }
        } else {
            if let Some(h) = set(&u.home_dir) {
                args.extend([s("--home-dir"), h]);
            }
            args.push(if u.no_create_home == Some(true) {
                s("--no-create-home")
            } else {
                s("--create-home")
            });
            if u.no_user_group == Some(true) {
                args.push(s("--no-user-group"));
            }
            if u.system == Some(true) {
                args.push(s("--system"));
            }
            if u.no_log_init == Some(true) {
                args.push(s("--no-log-init"));
            }
        }
        let pw = u
            .password_hash
            .as_deref()
            .map(|h| if h.is_empty() { "*" } else { h });
        match pw {
            Some(p) => args.extend([s("--password"), s(p)]),
            None if !exists => args.extend([s("--password"), s("*")]),
            None => {}
        }
        if let Some(uid) = u.uid {
            args.extend([s("--uid"), uid.to_string()]);
        }
        if let Some(c) = set(&u.gecos) {
            args.extend([s("--comment"), c]);
        }
        if let Some(g) = set(&u.primary_group) {
            args.extend([s("--gid"), g]);
        }
        if !u.groups.is_empty() {
            args.extend([s("--groups"), u.groups.join(",")]);
        }
        if let Some(sh) = set(&u.shell) {
            args.extend([s("--shell"), sh]);
        }
        args.push(u.name.clone());
        run(if exists { "usermod" } else { "useradd" }, args)?;
        if let Some(p) = pw {
            run(
                "usermod",
                vec![
                    s("--root"),
                    r.clone(),
                    s("--password"),
                    s(p),
                    u.name.clone(),
                ],
            )?;
        }
    }
    Ok(())
}

fn run_ignis(root: &Path, groups: &[PasswdGroup], users: &[PasswdUser]) -> Result<(), String> {
    let r = Root::open(root).map_err(|e| e.to_string())?;
    let t = Target::new(&r);
    let inputs = passwd::apply::read_inputs(&t, EPOCH / 86_400).map_err(|e| e.to_string())?;
    let plan = passwd::plan(&inputs, groups, users).map_err(|e| e.to_string())?;
    for op in &plan.ops {
        assert!(
            !op.contains("$6$"),
            "a password hash leaked into the op log: {op}"
        );
    }
    passwd::apply::apply(&t, &plan).map_err(|e| e.to_string())
}

/// A tree snapshot: path -> (type, mode, uid, gid, content or link target).
fn snapshot(root: &Path) -> BTreeMap<String, (char, u32, u32, u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (char, u32, u32, u32, Vec<u8>)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let name = e.file_name().to_string_lossy().into_owned();
            if rel == "proc"
                || (rel.starts_with("etc/")
                    && !rel[4..].contains('/')
                    && (name.ends_with('-') || name == ".pwd.lock"))
            {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let ft = m.file_type();
            let (kind, body) = if ft.is_symlink() {
                (
                    'l',
                    fs::read_link(&p)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if ft.is_dir() {
                ('d', Vec::new())
            } else if ft.is_file() {
                ('f', fs::read(&p).unwrap())
            } else {
                ('o', Vec::new())
            };
            out.insert(rel, (kind, m.mode() & 0o7777, m.uid(), m.gid(), body));
            if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

struct ProcMount(PathBuf);

impl ProcMount {
    fn new(root: &Path) -> Option<Self> {
        let target = root.join("proc");
        let ok = Command::new("mount")
            .args(["-t", "proc", "proc"])
            .arg(&target)
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(ProcMount(target))
    }
}

impl Drop for ProcMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn describe_diff(
    a: &BTreeMap<String, (char, u32, u32, u32, Vec<u8>)>,
    b: &BTreeMap<String, (char, u32, u32, u32, Vec<u8>)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push(format!(
                "{k}: shadow ({} {:o} {}:{} {:?}) ignis ({} {:o} {}:{} {:?})",
                x.0,
                x.1,
                x.2,
                x.3,
                String::from_utf8_lossy(&x.4),
                y.0,
                y.1,
                y.2,
                y.3,
                String::from_utf8_lossy(&y.4)
            )),
            (Some(_), None) => out.push(format!("{k}: only after shadow-utils")),
            (None, Some(_)) => out.push(format!("{k}: only after ignis")),
            (None, None) => {}
        }
    }
    out
}

#[test]
fn passwd_matches_shadow_utils() {
    if !is_root() {
        common::skip::skip(
            "passwd_matches_shadow_utils",
            "the passwd differential test needs root (chown, --root, proc mount)",
        );
        return;
    }
    if find_tool("useradd").is_none() {
        common::skip::skip(
            "passwd_matches_shadow_utils",
            "shadow-utils not installed (apt-get install -y passwd)",
        );
        return;
    }
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("passwd-diff");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).unwrap();
    let nss_lib = work.join("libnss_altfiles.so.2");
    let cc = Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&nss_lib)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/passwd/nss_altfiles_test.c"))
        .status();
    if !cc.is_ok_and(|s| s.success()) {
        common::skip::skip(
            "passwd_matches_shadow_utils",
            "cannot build the altfiles NSS test module with cc",
        );
        return;
    }
    let mut failures = Vec::new();
    let (mut shadow_time, mut ignis_time) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    let all = scenarios();
    for (i, sc) in all.iter().enumerate() {
        let groups: Vec<PasswdGroup> =
            serde_json::from_value(sc.passwd.get("groups").cloned().unwrap_or(json!([]))).unwrap();
        let users: Vec<PasswdUser> =
            serde_json::from_value(sc.passwd.get("users").cloned().unwrap_or(json!([]))).unwrap();
        let dir = work.join(format!("{i:02}"));
        let (a, b) = (dir.join("shadow"), dir.join("ignis"));
        for r in [&a, &b] {
            fs::create_dir_all(r).unwrap();
            seed_base(r, &nss_lib);
            (sc.seed)(r);
        }
        let Some(mount) = ProcMount::new(&a) else {
            common::skip::skip(
                "passwd_matches_shadow_utils",
                "cannot mount proc in the shadow-utils root",
            );
            return;
        };
        let started = std::time::Instant::now();
        let want = run_shadow(&a, &groups, &users);
        shadow_time += started.elapsed();
        drop(mount);
        let started = std::time::Instant::now();
        let got = run_ignis(&b, &groups, &users);
        ignis_time += started.elapsed();
        let mut problems = Vec::new();
        if want.is_ok() != sc.ok {
            problems.push(format!(
                "shadow-utils verdict {want:?}, scenario expects ok={}",
                sc.ok
            ));
        }
        match (&want, &got) {
            (Ok(()), Ok(())) => problems.extend(describe_diff(&snapshot(&a), &snapshot(&b))),
            (Err(_), Err(_)) => {}
            _ => problems.push(format!(
                "verdicts differ: shadow-utils {want:?}, ignis {got:?}"
            )),
        }
        if problems.is_empty() {
            println!("ok   {:2} {}", i, sc.name);
            let _ = fs::remove_dir_all(&dir);
        } else {
            println!("FAIL {:2} {} (roots kept in {})", i, sc.name, dir.display());
            for p in &problems {
                println!("       {p}");
            }
            failures.push(sc.name);
        }
    }
    println!(
        "{} scenarios, {} failed; time in shadow-utils {:?}, in ignis {:?}",
        all.len(),
        failures.len(),
        shadow_time,
        ignis_time
    );
    assert!(
        failures.is_empty(),
        "scenarios differing from shadow-utils: {failures:?}"
    );
}
