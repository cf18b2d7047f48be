//! The scenarios: what each seeds into both roots (the base: accounts, login.defs, a
//! skeleton, the NSS module's files) and the passwd section it applies, with the verdict expected.

use super::*;

pub(crate) const EPOCH: i64 = 1_700_000_000;

pub(crate) const LOGIN_DEFS: &str = "\
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
pub(crate) struct Scenario {
    pub(crate) name: &'static str,
    pub(crate) passwd: Value,
    /// Edits applied to the seed (identically to both roots) before running.
    pub(crate) seed: fn(&Path),
    /// Whether shadow-utils and ignis are expected to succeed (checked against both).
    pub(crate) ok: bool,
}

pub(crate) fn no_seed(_: &Path) {}

pub(crate) fn write(root: &Path, path: &str, body: &str) {
    let p = root.join(path.trim_start_matches('/'));
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, body).unwrap();
}

pub(crate) fn chmod(root: &Path, path: &str, mode: u32) {
    let p = root.join(path.trim_start_matches('/'));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn chown(root: &Path, path: &str, uid: u32, gid: u32) {
    let p = root.join(path.trim_start_matches('/'));
    std::os::unix::fs::lchown(p, Some(uid), Some(gid)).unwrap();
}

pub(crate) fn append(root: &Path, path: &str, body: &str) {
    let p = root.join(path.trim_start_matches('/'));
    let mut s = fs::read_to_string(&p).unwrap_or_default();
    s.push_str(body);
    fs::write(p, s).unwrap();
}

/// The base root: a small Debian-like /etc, a skeleton with nested directories, a symlink and a
/// hard link, an existing user "old" with a home, and nss-altfiles databases.
pub(crate) fn seed_base(root: &Path, nss_lib: &Path) {
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

pub(crate) fn scenarios() -> Vec<Scenario> {
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
