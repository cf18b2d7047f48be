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
//! Needs root (useradd --root, chown, setfiles) and Ignition 2.14 unpacked by
//! `scripts/setup-deps` (or `IGNITION_BIN`); otherwise it is skipped with the reason printed,
//! except that with `CI` set a missing Ignition binary is a failure.

mod common;

use common::is_root;

/// The same corpus against the recorded trees of Ignition v2.26.0.
#[path = "files_diff/oracle_226.rs"]
mod oracle_226;

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

// ---------------------------------------------------------------------------------------------
// Seeding

fn p(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

fn write(root: &Path, path: &str, body: &str) {
    let f = p(root, path);
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(f, body).unwrap();
}

fn mkdir(root: &Path, path: &str) {
    fs::create_dir_all(p(root, path)).unwrap();
}

fn chmod(root: &Path, path: &str, mode: u32) {
    fs::set_permissions(p(root, path), fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(root: &Path, path: &str, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p(root, path), Some(uid), Some(gid)).unwrap();
}

fn symlink(root: &Path, target: &str, path: &str) {
    let l = p(root, path);
    fs::create_dir_all(l.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, l).unwrap();
}

fn hardlink(root: &Path, target: &str, path: &str) {
    fs::hard_link(p(root, target), p(root, path)).unwrap();
}

const LOGIN_DEFS: &str = "\
MAIL_DIR        /var/mail
UMASK           022
HOME_MODE       0700
PASS_MAX_DAYS   99999
PASS_MIN_DAYS   0
PASS_WARN_AGE   7
UID_MIN         1000
UID_MAX         60000
SYS_UID_MIN     201
SYS_UID_MAX     999
GID_MIN         1000
GID_MAX         60000
SYS_GID_MIN     201
SYS_GID_MAX     999
SUB_UID_MIN     100000
SUB_UID_MAX     600100000
SUB_UID_COUNT   65536
SUB_GID_MIN     100000
SUB_GID_MAX     600100000
SUB_GID_COUNT   65536
USERGROUPS_ENAB yes
ENCRYPT_METHOD  SHA512
";

/// The base of every root: accounts (root, daemon, core with a home, nobody), their shadow
/// files, login.defs, useradd defaults, a skeleton, and the SELinux stub Ignition needs.
fn seed_base(root: &Path) {
    mkdir(root, "/");
    chmod(root, "/", 0o755);
    write(
        root,
        "/etc/passwd",
        "root:x:0:0:root:/root:/bin/bash\n\
         daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         core:x:1000:1000:Core User:/home/core:/bin/bash\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    );
    write(
        root,
        "/etc/group",
        "root:x:0:\ndaemon:x:1:\nwheel:x:10:core\nadm:x:4:\nusers:x:100:\ncore:x:1000:\n\
         nogroup:x:65534:\n",
    );
    write(
        root,
        "/etc/shadow",
        "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n\
         core:$6$salt$corehash:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n",
    );
    write(
        root,
        "/etc/gshadow",
        "root:*::\ndaemon:*::\nwheel:*::core\nadm:*::\nusers:*::\ncore:!::\nnogroup:*::\n",
    );
    chmod(root, "/etc/shadow", 0o640);
    chmod(root, "/etc/gshadow", 0o640);
    write(root, "/etc/subuid", "core:100000:65536\n");
    write(root, "/etc/subgid", "core:100000:65536\n");
    write(root, "/etc/login.defs", LOGIN_DEFS);
    write(root, "/etc/default/useradd", "SHELL=/bin/bash\n");
    write(root, "/etc/skel/.bashrc", "# bashrc\n");
    write(root, "/etc/skel/.profile", "# profile\n");
    mkdir(root, "/root");
    chmod(root, "/root", 0o700);
    write(root, "/home/core/.bashrc", "# core's bashrc\n");
    chmod(root, "/home/core", 0o700);
    chown(root, "/home/core", 1000, 1000);
    chown(root, "/home/core/.bashrc", 1000, 1000);
    mkdir(root, "/var/mail");
    // shadow-utils' lock file, as an image built with useradd has it (see the case without it).
    write(root, "/etc/.pwd.lock", "");
    chmod(root, "/etc/.pwd.lock", 0o600);
    write(
        root,
        "/etc/selinux/config",
        "SELINUX=permissive\nSELINUXTYPE=targeted\n",
    );
    write(
        root,
        "/etc/selinux/targeted/contexts/files/file_contexts",
        "/.*\tsystem_u:object_r:etc_t:s0\n",
    );
}

fn no_seed(_: &Path) {}

// ---------------------------------------------------------------------------------------------
// Encodings for the configs

fn b64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha512(data: &[u8]) -> String {
    format!("sha512-{}", hex(&sha2::Sha512::digest(data)))
}

fn sha256(data: &[u8]) -> String {
    format!("sha256-{}", hex(&sha2::Sha256::digest(data)))
}

/// What the loopback server serves.
const REMOTE: &[u8] = b"remote contents\nline two\n";
const REMOTE_APPEND: &[u8] = b"appended from http\n";

fn start_server() -> common::Server {
    use common::Reply;
    let s = common::serve(None);
    s.route("/plain", vec![Reply::Body(REMOTE.to_vec())]);
    s.route("/append", vec![Reply::Body(REMOTE_APPEND.to_vec())]);
    s.route("/gz", vec![Reply::Body(gzip(REMOTE))]);
    s.route(
        "/unit",
        vec![Reply::Body(b"[Unit]\nDescription=x\n".to_vec())],
    );
    s
}

// ---------------------------------------------------------------------------------------------
// The cases

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

fn file_cases() -> Vec<Case> {
    let gz = b64(&gzip(b"gzipped contents\n"));
    let hashed = b"hash me\n";
    vec![
        case(
            "files: data URLs, plain",
            "3.0.0",
            r#""storage":{"files":[
                {"path":"/etc/plain","contents":{"source":"data:,hello%20world%0A"}},
                {"path":"/etc/charset","contents":{"source":"data:text/plain;charset=utf-8,caf%C3%A9"}},
                {"path":"/etc/emptysrc","contents":{"source":"data:,"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: data URLs, base64",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/b64","contents":{{"source":"data:;base64,{}"}}}},
                {{"path":"/etc/b64-typed","contents":{{"source":"data:application/octet-stream;base64,{}"}}}}]}}"#,
                b64(b"base64 body\n"),
                b64(&[0, 1, 2, 255, 254, 10])
            ),
            no_seed,
            true,
        ),
        case(
            "files: gzip data URL",
            "3.2.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/gz","contents":{{"compression":"gzip","source":"data:;base64,{gz}"}}}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "files: gzip in spec 3.0.0",
            "3.0.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/gz","contents":{{"compression":"gzip","source":"data:;base64,{gz}"}}}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "files: no contents, new parents",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/new-empty"},
                {"path":"/var/lib/deep/new/file","mode":384}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: http contents",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/remote","contents":{"source":"@SRV@/plain"}},
                {"path":"/opt/remote-gz","contents":{"source":"@SRV@/gz","compression":"gzip"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: http contents with sha512 and sha256",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/r512","contents":{{"source":"@SRV@/plain","verification":{{"hash":"{}"}}}}}},
                {{"path":"/etc/r256","contents":{{"source":"@SRV@/plain","verification":{{"hash":"{}"}}}}}},
                {{"path":"/etc/rgz","contents":{{"source":"@SRV@/gz","compression":"gzip","verification":{{"hash":"{}"}}}}}}]}}"#,
                sha512(REMOTE),
                sha256(REMOTE),
                sha512(REMOTE)
            ),
            no_seed,
            true,
        ),
        case(
            "files: data URL with sha512",
            "3.0.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/hashed","contents":{{"source":"data:;base64,{}","verification":{{"hash":"{}"}}}}}}]}}"#,
                b64(hashed),
                sha512(hashed)
            ),
            no_seed,
            true,
        ),
        case(
            "files: data URL hash mismatch",
            "3.3.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/bad","contents":{{"source":"data:,other","verification":{{"hash":"{}"}}}}}}]}}"#,
                sha512(hashed)
            ),
            no_seed,
            false,
        ),
        case(
            "files: http hash mismatch",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/bad","contents":{{"source":"@SRV@/plain","verification":{{"hash":"{}"}}}}}}]}}"#,
                sha256(hashed)
            ),
            no_seed,
            false,
        ),
        case(
            "files: http not found",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/missing","contents":{"source":"@SRV@/nope"}}]}"#,
            no_seed,
            false,
        ),
        case(
            "files: default and custom modes",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/m-default","contents":{"source":"data:,a"}},
                {"path":"/etc/m-600","mode":384,"contents":{"source":"data:,b"}},
                {"path":"/etc/m-755","mode":493,"contents":{"source":"data:,c"}},
                {"path":"/etc/m-400","mode":256},
                {"path":"/etc/m-000","mode":0,"contents":{"source":"data:,d"}},
                {"path":"/etc/m-4755","mode":2541,"contents":{"source":"data:,e"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: owners by id",
            "3.0.0",
            r#""storage":{"files":[
                {"path":"/etc/o-both","user":{"id":1234},"group":{"id":5678},"contents":{"source":"data:,x"}},
                {"path":"/etc/o-user","user":{"id":1000}},
                {"path":"/etc/o-group","group":{"id":100}},
                {"path":"/srv/deep/o-deep","user":{"id":1000},"group":{"id":1000}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: owners by name",
            "3.2.0",
            r#""storage":{"files":[
                {"path":"/etc/n-both","user":{"name":"core"},"group":{"name":"wheel"}},
                {"path":"/etc/n-user","user":{"name":"nobody"}},
                {"path":"/etc/n-group","group":{"name":"users"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: owner is a user created by the same config",
            "3.3.0",
            r#""passwd":{"users":[{"name":"svc","uid":1700}],"groups":[{"name":"svcgrp","gid":1800}]},
               "storage":{"files":[
                {"path":"/etc/svc.conf","user":{"name":"svc"},"group":{"name":"svcgrp"},"contents":{"source":"data:,svc"}},
                {"path":"/etc/svc2.conf","user":{"name":"svc"},"group":{"name":"svc"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: unknown owner name",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/x","user":{"name":"nosuchuser"}}]}"#,
            no_seed,
            false,
        ),
        case(
            "files: unknown group name",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/x","group":{"name":"nosuchgroup"}}]}"#,
            no_seed,
            false,
        ),
        case(
            "files: overwrite an existing file",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/motd","overwrite":true,"contents":{"source":"data:,new%0A"}},
                {"path":"/etc/issue","overwrite":true,"mode":420,"user":{"id":0},"contents":{"source":"data:,issue"}}]}"#,
            |r| {
                for f in ["/etc/motd", "/etc/issue"] {
                    write(r, f, "old\n");
                    chmod(r, f, 0o600);
                    chown(r, f, 1000, 1000);
                }
            },
            true,
        ),
        case(
            "files: existing file, contents, no overwrite",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/aaa-first","contents":{"source":"data:,first"}},
                {"path":"/etc/motd","contents":{"source":"data:,replaced"}}]}"#,
            |r| write(r, "/etc/motd", "original\n"),
            false,
        ),
        case(
            "files: existing file, no contents: keep, set mode and owner",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/keep-mode","mode":384},
                {"path":"/etc/keep-owner","user":{"id":0},"group":{"name":"adm"}},
                {"path":"/etc/keep-all"}]}"#,
            |r| {
                for f in ["/etc/keep-mode", "/etc/keep-owner", "/etc/keep-all"] {
                    write(r, f, "kept\n");
                    chmod(r, f, 0o640);
                    chown(r, f, 1000, 1000);
                }
            },
            true,
        ),
        case(
            "files: append to existing files",
            "3.0.0",
            r#""storage":{"files":[
                {"path":"/etc/hosts","append":[{"source":"data:,10.0.0.1%20db%0A"}]},
                {"path":"/etc/owned","append":[{"source":"data:,more%0A"},{"source":"@SRV@/append"}]}]}"#,
            |r| {
                write(r, "/etc/hosts", "127.0.0.1 localhost\n");
                write(r, "/etc/owned", "owned\n");
                chmod(r, "/etc/owned", 0o600);
                chown(r, "/etc/owned", 1000, 100);
            },
            true,
        ),
        case(
            "files: append to new files",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/new-append","append":[{{"source":"data:,a"}},{{"source":"data:,b"}}]}},
                {{"path":"/etc/new-append-http","mode":416,"append":[{{"source":"@SRV@/append","verification":{{"hash":"{}"}}}}]}},
                {{"path":"/etc/contents-and-append","contents":{{"source":"data:,base%0A"}},"append":[{{"source":"data:;base64,{}","compression":"gzip"}}]}}]}}"#,
                sha256(REMOTE_APPEND),
                b64(&gzip(b"gz append\n"))
            ),
            no_seed,
            true,
        ),
        case(
            "files: overwrite and append on an existing file",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/motd","overwrite":true,"contents":{"source":"data:,fresh%0A"},"append":[{"source":"data:,tail%0A"}]}]}"#,
            |r| write(r, "/etc/motd", "old\n"),
            true,
        ),
        case(
            "files: overwrite a directory",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/adir","overwrite":true,"contents":{"source":"data:,now%20a%20file"}}]}"#,
            |r| {
                write(r, "/etc/adir/child", "c\n");
                mkdir(r, "/etc/adir/sub/deeper");
            },
            true,
        ),
        case(
            "files: a directory in the way, no overwrite",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/adir"}]}"#,
            |r| mkdir(r, "/etc/adir"),
            false,
        ),
        case(
            "files: overwrite a symlink (the link, not its target)",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/lnk","overwrite":true,"contents":{"source":"data:,replaced"}}]}"#,
            |r| {
                write(r, "/etc/target-file", "target\n");
                symlink(r, "/etc/target-file", "/etc/lnk");
            },
            true,
        ),
        case(
            "files: a symlink in the way, no contents",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/lnk","mode":384}]}"#,
            |r| {
                write(r, "/etc/target-file", "target\n");
                symlink(r, "/etc/target-file", "/etc/lnk");
            },
            false,
        ),
        case(
            "files: paths through symlinked directories",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/opt/abs/f1","contents":{"source":"data:,one"}},
                {"path":"/opt/rel/f2","contents":{"source":"data:,two"}},
                {"path":"/opt/abs/newdir/f3"}]}"#,
            |r| {
                mkdir(r, "/srv/real");
                symlink(r, "/srv/real", "/opt/abs");
                symlink(r, "../srv/real", "/opt/rel");
            },
            true,
        ),
        case(
            "files: two entries on one node through a symlink",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc2/same","contents":{"source":"data:,a"}},{"path":"/etc/same","contents":{"source":"data:,b"}}]}"#,
            |r| symlink(r, "/etc", "/etc2"),
            false,
        ),
    ]
}

fn directory_cases() -> Vec<Case> {
    vec![
        case(
            "directories: create with modes and new parents",
            "3.0.0",
            r#""storage":{"directories":[
                {"path":"/var/lib/app/data","mode":488},
                {"path":"/srv/plain"},
                {"path":"/srv/private","mode":448},
                {"path":"/srv/open","mode":511}]}"#,
            no_seed,
            true,
        ),
        case(
            "directories: existing, new mode and owner",
            "3.3.0",
            r#""storage":{"directories":[
                {"path":"/var/exist","mode":493},
                {"path":"/var/exist-owner","user":{"name":"core"},"group":{"id":10}},
                {"path":"/var/exist-plain"}]}"#,
            |r| {
                for d in ["/var/exist", "/var/exist-owner", "/var/exist-plain"] {
                    write(r, &format!("{d}/child"), "child\n");
                    chmod(r, d, 0o700);
                    chown(r, d, 1000, 1000);
                }
            },
            true,
        ),
        case(
            "directories: owners on new directories",
            "3.2.0",
            r#""storage":{"directories":[
                {"path":"/var/owned/by/core","user":{"name":"core"},"group":{"name":"core"},"mode":448},
                {"path":"/var/owned-id","user":{"id":4000},"group":{"id":4001}}]}"#,
            no_seed,
            true,
        ),
        case(
            "directories: overwrite a file",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/etc/wasfile","overwrite":true,"mode":493}]}"#,
            |r| write(r, "/etc/wasfile", "file\n"),
            true,
        ),
        case(
            "directories: a file in the way, no overwrite",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/etc/wasfile"}]}"#,
            |r| write(r, "/etc/wasfile", "file\n"),
            false,
        ),
        case(
            "directories: a symlink to a directory in the way",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/var/ld","mode":448}]}"#,
            |r| {
                mkdir(r, "/var/realdir");
                symlink(r, "/var/realdir", "/var/ld");
            },
            false,
        ),
        case(
            "directories: listed deep first, created shallow first",
            "3.1.0",
            r#""storage":{"directories":[
                {"path":"/a/b/c","mode":448},
                {"path":"/a","mode":457},
                {"path":"/a/b","mode":488,"user":{"id":1000}}]}"#,
            no_seed,
            true,
        ),
        case(
            "directories: special mode bits below spec 3.6",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/var/tmpdir","mode":1023}]}"#,
            no_seed,
            true,
        ),
    ]
}

fn link_cases() -> Vec<Case> {
    vec![
        case(
            "links: symlinks, absolute, relative, broken, owned",
            "3.0.0",
            r#""storage":{"files":[{"path":"/opt/tool","mode":493,"contents":{"source":"data:,tool"}}],
               "links":[
                {"path":"/usr/local/bin/tool","target":"/opt/tool"},
                {"path":"/etc/rel","target":"../opt/tool"},
                {"path":"/etc/broken","target":"/nonexistent/x"},
                {"path":"/etc/owned-link","target":"/opt/tool","user":{"name":"core"},"group":{"id":100}}]}"#,
            no_seed,
            true,
        ),
        case(
            "links: existing symlink matches",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/l","target":"/opt/t"},{"path":"/etc/l2","target":"/opt/./t/"}]}"#,
            |r| {
                symlink(r, "/opt/t", "/etc/l");
                symlink(r, "/opt/t", "/etc/l2");
            },
            true,
        ),
        case(
            "links: existing symlink differs, no overwrite",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/aaa","target":"/x"},{"path":"/etc/l","target":"/opt/other"}]}"#,
            |r| symlink(r, "/opt/t", "/etc/l"),
            false,
        ),
        case(
            "links: overwrite a symlink, a file and a directory",
            "3.3.0",
            r#""storage":{"links":[
                {"path":"/etc/l","target":"/opt/new","overwrite":true},
                {"path":"/etc/f","target":"/opt/new","overwrite":true},
                {"path":"/etc/d","target":"/opt/new","overwrite":true}]}"#,
            |r| {
                symlink(r, "/opt/old", "/etc/l");
                write(r, "/etc/f", "file\n");
                write(r, "/etc/d/inner", "inner\n");
            },
            true,
        ),
        case(
            "links: a directory in the way, no overwrite",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/d","target":"/opt/new"}]}"#,
            |r| mkdir(r, "/etc/d"),
            false,
        ),
        case(
            "links: hard links to files, deeper files first",
            "3.2.0",
            r#""storage":{"files":[
                {"path":"/opt/data","contents":{"source":"data:,data"}},
                {"path":"/x/y/z/w/deep","contents":{"source":"data:,deep"}}],
               "links":[
                {"path":"/opt/hard","target":"/opt/data","hard":true},
                {"path":"/h","target":"/x/y/z/w/deep","hard":true},
                {"path":"/etc/hard-seeded","target":"/etc/passwd","hard":true}]}"#,
            no_seed,
            true,
        ),
        case(
            "links: existing hard link matches",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"/etc/orig","hard":true}]}"#,
            |r| {
                write(r, "/etc/orig", "orig\n");
                hardlink(r, "/etc/orig", "/etc/h");
            },
            true,
        ),
        case(
            "links: overwrite with a hard link",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"/etc/orig","hard":true,"overwrite":true}]}"#,
            |r| {
                write(r, "/etc/orig", "orig\n");
                write(r, "/etc/h", "other\n");
            },
            true,
        ),
        case(
            "links: hard link to a missing target",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"/etc/nothing-here","hard":true}]}"#,
            no_seed,
            false,
        ),
        case(
            "links: hard link to a symlink",
            "3.3.0",
            r#""storage":{"links":[
                {"path":"/etc/sym","target":"/etc/orig"},
                {"path":"/etc/hard-to-sym","target":"/etc/sym","hard":true}]}"#,
            |r| write(r, "/etc/orig", "orig\n"),
            true,
        ),
        case(
            "links: hard link with a relative target",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"orig","hard":true}]}"#,
            |r| write(r, "/etc/orig", "orig\n"),
            false,
        ),
        case(
            "links: a new symlink takes the owner of what it points to",
            "3.3.0",
            r#""storage":{"links":[
                {"path":"/etc/l-file","target":"../home/core/.bashrc"},
                {"path":"/etc/l-dir","target":"../srv/d"},
                {"path":"/etc/l-dangling","target":"nowhere"},
                {"path":"/etc/l-user-only","target":"../srv/d","user":{"id":0}}]}"#,
            |r| {
                mkdir(r, "/srv/d");
                chown(r, "/srv/d", 1000, 100);
            },
            true,
        ),
        case(
            "links: through a symlinked parent",
            "3.3.0",
            r#""storage":{"links":[{"path":"/opt/abs/l","target":"/etc/passwd"},{"path":"/opt/abs/new/l2","target":"../l"}]}"#,
            |r| {
                mkdir(r, "/srv/real");
                symlink(r, "/srv/real", "/opt/abs");
            },
            true,
        ),
    ]
}

const APP_UNIT: &str = r#"[Unit]\nDescription=app\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"#;

fn seed_old_unit(r: &Path) {
    write(
        r,
        "/usr/lib/systemd/system/old.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=old-alias.service\n",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/old.service",
        "/etc/systemd/system/multi-user.target.wants/old.service",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/old.service",
        "/etc/systemd/system/old-alias.service",
    );
}

fn unit_cases() -> Vec<Case> {
    vec![
        case(
            "units: contents, enabled, disabled",
            "3.0.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"app.service","enabled":true,"contents":"{APP_UNIT}"}},
                {{"name":"off.service","enabled":false,"contents":"[Service]\nExecStart=/bin/true\n"}},
                {{"name":"plain.service","contents":"[Service]\nExecStart=/bin/true\n"}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "units: dropins, empty dropin, dropins only",
            "3.1.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"app.service","contents":"{APP_UNIT}","dropins":[
                    {{"name":"10-env.conf","contents":"[Service]\nEnvironment=A=1\n"}},
                    {{"name":"20-empty.conf","contents":""}}]}},
                {{"name":"sshd.service","dropins":[{{"name":"50-x.conf","contents":"[Service]\nNice=5\n"}}]}},
                {{"name":"nocontent.service","dropins":[{{"name":"no.conf"}}]}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "units: mask, with and without contents",
            "3.2.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"bad.service","mask":true}},
                {{"name":"both.service","mask":true,"contents":"{APP_UNIT}"}},
                {{"name":"existing.service","mask":true}}]}}"#
            ),
            |r| write(r, "/etc/systemd/system/existing.service", "[Service]\n"),
            true,
        ),
        case(
            "units: unmask",
            "3.3.0",
            r#""systemd":{"units":[
                {"name":"masked.service","mask":false},
                {"name":"regular.service","mask":false},
                {"name":"elsewhere.service","mask":false}]}"#,
            |r| {
                symlink(r, "/dev/null", "/etc/systemd/system/masked.service");
                write(r, "/etc/systemd/system/regular.service", "[Service]\n");
                symlink(
                    r,
                    "/usr/lib/systemd/system/x.service",
                    "/etc/systemd/system/elsewhere.service",
                );
            },
            true,
        ),
        case(
            "units: disable an enabled unit",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","enabled":false}]}"#,
            seed_old_unit,
            true,
        ),
        case(
            "units: enable a unit that exists only in /usr/lib",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","enabled":true},{"name":"ghost.service","enabled":true}]}"#,
            seed_old_unit,
            true,
        ),
        case(
            "units: mask and disable a unit",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","mask":true,"enabled":false}]}"#,
            seed_old_unit,
            true,
        ),
        case(
            "units: disable a unit linked under other names",
            "3.3.0",
            r#""systemd":{"units":[{"name":"old.service","enabled":false}]}"#,
            |r| {
                seed_old_unit(r);
                let t = "/usr/lib/systemd/system/old.service";
                symlink(r, t, "/etc/systemd/system/x.target.wants/renamed.service");
                symlink(
                    r,
                    t,
                    "/etc/systemd/system/sockets.target.requires/old.service",
                );
                symlink(
                    r,
                    "/usr/lib/systemd/system/y.service",
                    "/etc/systemd/system/x.target.wants/y.service",
                );
                mkdir(r, "/etc/systemd/system/empty.target.wants");
            },
            true,
        ),
        case(
            "units: template instances and sorted presets",
            "3.3.0",
            r#""systemd":{"units":[
                {"name":"zeta.service","enabled":true},
                {"name":"getty@tty2.service","enabled":true},
                {"name":"getty@tty1.service","enabled":true},
                {"name":"echo@a.service","enabled":false},
                {"name":"echo@.service","enabled":true},
                {"name":"echo@b.service","enabled":true},
                {"name":"alpha.timer","enabled":false},
                {"name":"untouched.service"}]}"#,
            no_seed,
            true,
        ),
        case(
            "units: existing preset file and unit",
            "3.3.0",
            &format!(
                r#""systemd":{{"units":[
                {{"name":"app.service","enabled":true,"contents":"{APP_UNIT}","dropins":[{{"name":"new.conf","contents":"[Unit]\n"}}]}}]}}"#
            ),
            |r| {
                write(
                    r,
                    "/etc/systemd/system-preset/20-ignition.preset",
                    "enable before.service\n",
                );
                write(r, "/etc/systemd/system/app.service", "old contents\n");
                chmod(r, "/etc/systemd/system/app.service", 0o600);
                write(r, "/etc/systemd/system/app.service.d/old.conf", "[Unit]\n");
            },
            true,
        ),
        case(
            "units: preset file without a final newline",
            "3.3.0",
            r#""systemd":{"units":[{"name":"a.service","enabled":true}]}"#,
            |r| {
                write(
                    r,
                    "/etc/systemd/system-preset/20-ignition.preset",
                    "enable before.service",
                );
            },
            true,
        ),
        case(
            "units: enabled template instance disabled with an existing wants link",
            "3.3.0",
            r#""systemd":{"units":[{"name":"getty@tty3.service","enabled":false}]}"#,
            |r| {
                write(
                    r,
                    "/usr/lib/systemd/system/getty@.service",
                    "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=getty.target\n",
                );
                symlink(
                    r,
                    "/usr/lib/systemd/system/getty@.service",
                    "/etc/systemd/system/getty.target.wants/getty@tty3.service",
                );
            },
            true,
        ),
    ]
}

fn passwd_cases() -> Vec<Case> {
    vec![
        case(
            "users: add with every field",
            "3.3.0",
            r#""passwd":{"users":[{"name":"alice","uid":1500,"primaryGroup":"users","groups":["wheel","adm"],
                "homeDir":"/var/home/alice","shell":"/bin/sh","gecos":"Alice A","passwordHash":"$6$s$alicehash",
                "sshAuthorizedKeys":["ssh-ed25519 AAAAC3Nza alice@a","ssh-rsa AAAAB3Nza alice@b"]}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: system, noCreateHome, noUserGroup",
            "3.0.0",
            r#""passwd":{"users":[
                {"name":"sys1","system":true},
                {"name":"nohome","noCreateHome":true},
                {"name":"nogrp","noUserGroup":true},
                {"name":"all3","system":true,"noCreateHome":true,"noUserGroup":true,"shell":"/usr/sbin/nologin"}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: modify an existing user",
            "3.3.0",
            r#""passwd":{"users":[{"name":"core","shell":"/bin/sh","gecos":"Changed","groups":["users"],
                "passwordHash":"$6$n$newhash","sshAuthorizedKeys":["ssh-ed25519 AAAA core@new"]}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: ssh keys replace an existing fragment",
            "3.1.0",
            r#""passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA one","ssh-ed25519 AAAA two"]}]}"#,
            |r| {
                write(
                    r,
                    "/home/core/.ssh/authorized_keys.d/ignition",
                    "ssh-rsa OLD old\nssh-rsa OLD2 old2\nssh-rsa OLD3 old3\n",
                );
                write(r, "/home/core/.ssh/authorized_keys", "ssh-rsa KEEP keep\n");
                for f in [
                    "/home/core/.ssh",
                    "/home/core/.ssh/authorized_keys.d",
                    "/home/core/.ssh/authorized_keys.d/ignition",
                    "/home/core/.ssh/authorized_keys",
                ] {
                    chown(r, f, 1000, 1000);
                }
                chmod(r, "/home/core/.ssh", 0o700);
                chmod(r, "/home/core/.ssh/authorized_keys.d/ignition", 0o644);
            },
            true,
        ),
        case(
            "users: keys for an existing user, no /etc/.pwd.lock",
            "3.3.0",
            r#""passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core"]}]}"#,
            |r| fs::remove_file(p(r, "/etc/.pwd.lock")).unwrap(),
            false,
        ),
        case(
            "users: delete users",
            "3.2.0",
            r#""passwd":{"users":[{"name":"core","shouldExist":false},{"name":"absent","shouldExist":false}]}"#,
            no_seed,
            true,
        ),
        case(
            "groups: add and delete",
            "3.2.0",
            r#""passwd":{"groups":[
                {"name":"devs","gid":3000},
                {"name":"svc","system":true},
                {"name":"locked","passwordHash":"$6$g$grouphash"},
                {"name":"adm","shouldExist":false},
                {"name":"gone","shouldExist":false}]}"#,
            no_seed,
            true,
        ),
        case(
            "groups: modify an existing group",
            "3.2.0",
            r#""passwd":{"groups":[{"name":"users","gid":101}]}"#,
            no_seed,
            false,
        ),
        case(
            "users: groups and users together, keys for a new user",
            "3.3.0",
            r#""passwd":{
                "groups":[{"name":"ops","gid":5000}],
                "users":[
                    {"name":"bob","primaryGroup":"ops","groups":["wheel"],"sshAuthorizedKeys":["ssh-ed25519 AAAA bob"]},
                    {"name":"carol","groups":["ops"]}]},
               "storage":{"files":[{"path":"/home/bob/.config/app/conf","user":{"name":"bob"},"group":{"name":"ops"},"contents":{"source":"data:,x"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: unknown supplementary group",
            "3.3.0",
            r#""passwd":{"users":[{"name":"dave","groups":["nosuch"]}]}"#,
            no_seed,
            false,
        ),
        case(
            "users: uid taken",
            "3.3.0",
            r#""passwd":{"users":[{"name":"erin","uid":1000}]}"#,
            no_seed,
            false,
        ),
        case(
            "users: existing home directory",
            "3.3.0",
            r#""passwd":{"users":[{"name":"frank","homeDir":"/srv/frank","sshAuthorizedKeys":["ssh-ed25519 AAAA frank"]}]}"#,
            |r| write(r, "/srv/frank/readme", "pre-existing\n"),
            false,
        ),
    ]
}

fn seed_lived_in(r: &Path) {
    write(r, "/etc/hostname", "old-host\n");
    write(r, "/etc/sysconfig/network", "NETWORKING=yes\n");
    chmod(r, "/etc/sysconfig", 0o750);
    mkdir(r, "/var/lib/app");
    chown(r, "/var/lib/app", 1000, 1000);
    symlink(r, "../usr/share/zoneinfo/UTC", "/etc/localtime");
    write(r, "/usr/share/zoneinfo/UTC", "TZif\n");
    write(r, "/usr/share/zoneinfo/Europe/Berlin", "TZif2\n");
    write(
        r,
        "/usr/lib/systemd/system/docker.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/docker.service",
        "/etc/systemd/system/multi-user.target.wants/docker.service",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/sshd.service",
        "/etc/systemd/system/multi-user.target.wants/sshd.service",
    );
    write(r, "/usr/lib/systemd/system/sshd.service", "[Service]\n");
    write(r, "/etc/motd", "welcome\n");
    hardlink(r, "/etc/motd", "/etc/motd.hard");
    let extra_passwd = "old:x:1001:1001::/home/old:/bin/sh\n";
    let mut pw = fs::read_to_string(p(r, "/etc/passwd")).unwrap();
    pw.push_str(extra_passwd);
    fs::write(p(r, "/etc/passwd"), pw).unwrap();
    let mut sh = fs::read_to_string(p(r, "/etc/shadow")).unwrap();
    sh.push_str("old:!:19000:0:99999:7:::\n");
    fs::write(p(r, "/etc/shadow"), sh).unwrap();
    let mut gr = fs::read_to_string(p(r, "/etc/group")).unwrap();
    gr.push_str("old:x:1001:\ndocker:x:990:core\n");
    fs::write(p(r, "/etc/group"), gr).unwrap();
    let mut gs = fs::read_to_string(p(r, "/etc/gshadow")).unwrap();
    gs.push_str("old:!::\ndocker:!::core\n");
    fs::write(p(r, "/etc/gshadow"), gs).unwrap();
    write(r, "/home/old/file", "old's\n");
    chown(r, "/home/old", 1001, 1001);
    chown(r, "/home/old/file", 1001, 1001);
}

fn mixed_cases() -> Vec<Case> {
    vec![
        case(
            "seeded root: a typical first-boot config",
            "3.3.0",
            &format!(
                r#""passwd":{{"users":[
                    {{"name":"core","groups":["docker"],"sshAuthorizedKeys":["ssh-ed25519 AAAA core"]}},
                    {{"name":"old","shouldExist":false}},
                    {{"name":"app","system":true,"noCreateHome":true,"homeDir":"/var/lib/app"}}]}},
                   "storage":{{
                    "files":[
                        {{"path":"/etc/hostname","overwrite":true,"contents":{{"source":"data:,node1%0A"}},"mode":420}},
                        {{"path":"/etc/sysconfig/network","append":[{{"source":"data:,GATEWAY=10.0.0.1%0A"}}]}},
                        {{"path":"/var/lib/app/config.yaml","user":{{"name":"app"}},"group":{{"name":"app"}},"mode":416,"contents":{{"source":"@SRV@/plain"}}}},
                        {{"path":"/etc/motd","append":[{{"source":"data:,node1%0A"}}]}}],
                    "directories":[{{"path":"/var/lib/app","user":{{"name":"app"}},"group":{{"name":"app"}},"mode":488}},
                                   {{"path":"/var/log/app/archive","mode":448}}],
                    "links":[{{"path":"/etc/localtime","target":"../usr/share/zoneinfo/Europe/Berlin","overwrite":true}},
                             {{"path":"/usr/local/bin/app","target":"/var/lib/app/config.yaml"}}]}},
                   "systemd":{{"units":[
                    {{"name":"docker.service","enabled":false}},
                    {{"name":"app.service","enabled":true,"contents":"{APP_UNIT}"}},
                    {{"name":"sshd.service","dropins":[{{"name":"10-port.conf","contents":"[Service]\nEnvironment=PORT=2222\n"}}]}},
                    {{"name":"getty@ttyS0.service","enabled":true}},
                    {{"name":"old.service","mask":true}}]}}"#
            ),
            seed_lived_in,
            true,
        ),
        case(
            "seeded root: conflicting link aborts",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/zzz","contents":{"source":"data:,z"}}],
                 "links":[{"path":"/etc/localtime","target":"../usr/share/zoneinfo/Europe/Berlin"}]}"#,
            seed_lived_in,
            false,
        ),
        case(
            "everything empty",
            "3.0.0",
            r#""storage":{},"systemd":{},"passwd":{}"#,
            no_seed,
            true,
        ),
        case(
            "no SELinux config in the target",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/x","contents":{"source":"data:,x"}}]}"#,
            |r| {
                fs::remove_dir_all(p(r, "/etc/selinux")).unwrap();
            },
            false,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// A stand-in for systemd's private D-Bus socket
//
// With an enabled or disabled template instance, Ignition 2.14 asks the running systemd for its
// version over /run/systemd/private (to warn below 240) and fails without one. Ignition runs in
// a mount namespace of its own where this socket is bind-mounted at /run/systemd/private; it
// answers the Properties.Get of `Version` with "252" and every other call with an empty reply.

mod fake_systemd {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::Path;

    pub fn serve(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let listener = UnixListener::bind(dir.join("private")).unwrap();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                std::thread::spawn(move || {
                    let _ = session(conn);
                });
            }
        });
    }

    fn session(conn: UnixStream) -> std::io::Result<()> {
        let mut w = conn.try_clone()?;
        let mut r = BufReader::new(conn);
        let mut nul = [0u8; 1];
        r.read_exact(&mut nul)?;
        // The SASL exchange, line by line, up to BEGIN.
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.starts_with("AUTH EXTERNAL") {
                w.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n")?;
            } else if line.starts_with("AUTH") {
                w.write_all(b"REJECTED EXTERNAL\r\n")?;
            } else if line == "NEGOTIATE_UNIX_FD" {
                w.write_all(b"AGREE_UNIX_FD\r\n")?;
            } else if line == "BEGIN" {
                break;
            } else {
                w.write_all(b"ERROR\r\n")?;
            }
        }
        let mut serial = 0u32;
        loop {
            let mut head = [0u8; 16];
            if r.read_exact(&mut head).is_err() {
                return Ok(());
            }
            let u32_at = |b: &[u8], i: usize| {
                let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
                if head[0] == b'B' {
                    u32::from_be_bytes(x)
                } else {
                    u32::from_le_bytes(x)
                }
            };
            let (kind, flags) = (head[1], head[2]);
            let body_len = u32_at(&head, 4) as usize;
            let their_serial = u32_at(&head, 8);
            let fields_len = u32_at(&head, 12) as usize;
            let padded = (16 + fields_len).div_ceil(8) * 8 - 16;
            let mut rest = vec![0u8; padded + body_len];
            r.read_exact(&mut rest)?;
            let mut msg = head.to_vec();
            msg.extend_from_slice(&rest);
            if kind != 1 || flags & 1 != 0 {
                continue; // not a method call, or no reply expected
            }
            let member = member_of(&msg, fields_len, &u32_at);
            serial += 1;
            let body = if member.as_deref() == Some("Get") {
                // a variant holding the string "252"
                let mut b = vec![1, b's', 0, 0];
                b.extend_from_slice(&3u32.to_le_bytes());
                b.extend_from_slice(b"252\0");
                Some(b)
            } else {
                None
            };
            w.write_all(&reply(serial, their_serial, body.as_deref()))?;
        }
    }

    /// The MEMBER header field of a message.
    fn member_of(
        msg: &[u8],
        fields_len: usize,
        u32_at: &dyn Fn(&[u8], usize) -> u32,
    ) -> Option<String> {
        let end = 16 + fields_len;
        let mut i = 16;
        while i < end {
            i = i.div_ceil(8) * 8;
            let code = *msg.get(i)?;
            let sig_len = *msg.get(i + 1)? as usize;
            let sig = *msg.get(i + 2)?;
            i += 2 + sig_len + 1;
            match sig {
                b's' | b'o' => {
                    i = i.div_ceil(4) * 4;
                    let n = u32_at(msg, i) as usize;
                    let v = String::from_utf8_lossy(msg.get(i + 4..i + 4 + n)?).into_owned();
                    i += 4 + n + 1;
                    if code == 3 {
                        return Some(v);
                    }
                }
                b'g' => i += 1 + *msg.get(i)? as usize + 1,
                b'u' => i = i.div_ceil(4) * 4 + 4,
                _ => return None,
            }
        }
        None
    }

    /// A METHOD_RETURN for `reply_to`, with a body of signature "v" when given.
    fn reply(serial: u32, reply_to: u32, body: Option<&[u8]>) -> Vec<u8> {
        let mut m = vec![b'l', 2, 0, 1];
        m.extend_from_slice(&(body.map_or(0, <[u8]>::len) as u32).to_le_bytes());
        m.extend_from_slice(&serial.to_le_bytes());
        let mut fields = vec![5, 1, b'u', 0];
        fields.extend_from_slice(&reply_to.to_le_bytes());
        if body.is_some() {
            fields.extend_from_slice(&[8, 1, b'g', 0, 1, b'v', 0]);
        }
        m.extend_from_slice(&(fields.len() as u32).to_le_bytes());
        m.extend_from_slice(&fields);
        while m.len() % 8 != 0 {
            m.push(0);
        }
        if let Some(b) = body {
            m.extend_from_slice(b);
        }
        m
    }
}

// ---------------------------------------------------------------------------------------------
// Running the agents

fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

struct RunOut {
    ok: bool,
    log: String,
    took: Duration,
}

/// Runs `-stage fetch` then `-stage files` of `bin` on `dir/root`, with umask 022 and a
/// controlled environment, like a boot would; the verdict is false when either stage fails.
fn run_agent(bin: &Path, dir: &Path, config: &str, fake_systemd: Option<&Path>) -> RunOut {
    for d in ["run", "sys", "host/proc"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("host/proc/cmdline"), "quiet\n").unwrap();
    let cfg = dir.join("config.ign");
    fs::write(&cfg, config).unwrap();
    let started = Instant::now();
    let mut log = String::new();
    let mut ok = true;
    for stage in ["fetch", "files"] {
        let mut cmd = match fake_systemd {
            Some(sd) => {
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "/bin/sh", "-c"])
                    .arg(
                        "set -e; [ -d /run/systemd ] || { mount -t tmpfs tmpfs /run; mkdir /run/systemd; }; \
                         mount --bind \"$FAKE_SYSTEMD\" /run/systemd; umask 022; exec \"$0\" \"$@\"",
                    )
                    .env("FAKE_SYSTEMD", sd);
                c
            }
            None => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", "umask 022; exec \"$0\" \"$@\""]);
                c
            }
        };
        let out = cmd
            .arg(bin)
            .args(["-platform", "file", "-stage", stage, "-log-to-stdout"])
            .arg("-root")
            .arg(dir.join("root"))
            .arg("-config-cache")
            .arg(dir.join("run/ignition.json"))
            .arg("-state-file")
            .arg(dir.join("run/state"))
            .arg("-neednet")
            .arg(dir.join("run/neednet"))
            .current_dir(dir)
            .env("IGNITION_CONFIG_FILE", &cfg)
            .env("IGNITION_SYSTEM_CONFIG_DIR", dir.join("sys"))
            .env("IGNIS_HOST_ROOT", dir.join("host"))
            .env("LC_ALL", "C")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .output()
            .unwrap();
        log.push_str(&format!("--- -stage {stage}: {}\n", out.status));
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            ok = false;
            break;
        }
    }
    RunOut {
        ok,
        log,
        took: started.elapsed(),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing the trees

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: char,
    mode: u32,
    uid: u32,
    gid: u32,
    /// File contents (normalised where noted) or link target.
    data: Vec<u8>,
    /// For a file with other names in the tree: the first of its names.
    hard_group: Option<String>,
}

impl Entry {
    fn show(&self) -> String {
        let data = match self.kind {
            'f' => {
                let mut preview: String = String::from_utf8_lossy(&self.data)
                    .chars()
                    .take(60)
                    .collect::<String>()
                    .escape_debug()
                    .to_string();
                if self.data.len() > 60 {
                    preview.push_str("...");
                }
                format!(
                    "{} bytes sha256:{} \"{preview}\"",
                    self.data.len(),
                    &hex(&sha2::Sha256::digest(&self.data))[..12]
                )
            }
            'l' => format!("-> {}", String::from_utf8_lossy(&self.data)),
            _ => String::new(),
        };
        let hard = self
            .hard_group
            .as_ref()
            .map(|h| format!(" (hard link of {h})"))
            .unwrap_or_default();
        format!(
            "{} {:04o} {}:{} {data}{hard}",
            self.kind, self.mode, self.uid, self.gid
        )
    }
}

/// shadow-utils' by-products in /etc that are not part of the contract, and ignis's
/// in-progress marker (see the top of the file).
fn ignored(rel: &str) -> bool {
    matches!(
        rel,
        "/etc/.ignition-in-progress.json"
            | "/etc/passwd-"
            | "/etc/shadow-"
            | "/etc/group-"
            | "/etc/gshadow-"
            | "/etc/subuid-"
            | "/etc/subgid-"
            | "/etc/.pwd.lock"
    )
}

fn normalise(rel: &str, data: Vec<u8>) -> Vec<u8> {
    match rel {
        // The boot id and the date are the run's, not the config's.
        "/etc/.ignition-result.json" => match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(serde_json::Value::Object(mut m)) => {
                for k in ["provisioningDate", "provisioningBootID"] {
                    if m.contains_key(k) {
                        m.insert(k.into(), serde_json::Value::String("<run>".into()));
                    }
                }
                serde_json::to_vec(&m).unwrap()
            }
            _ => data,
        },
        // Ignition 2.14 writes preset lines in Go map order (random); newer Ignition sorts them.
        "/etc/systemd/system-preset/20-ignition.preset" => {
            let text = String::from_utf8_lossy(&data);
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            lines.sort_unstable();
            lines.concat().into_bytes()
        }
        // The last-change day is today's, whichever day the agents ran on.
        "/etc/shadow" => {
            let text = String::from_utf8_lossy(&data);
            let mut out = String::new();
            for line in text.split_inclusive('\n') {
                let mut f: Vec<&str> = line.split(':').collect();
                if f.len() > 2 && !f[2].is_empty() && f[2].chars().all(|c| c.is_ascii_digit()) {
                    f[2] = "<day>";
                }
                out.push_str(&f.join(":"));
            }
            out.into_bytes()
        }
        _ => data,
    }
}

fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut BTreeMap<String, Entry>,
        inodes: &mut BTreeMap<(u64, u64), Vec<String>>,
    ) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = format!("/{}", path.strip_prefix(root).unwrap().to_string_lossy());
            if ignored(&rel) {
                continue;
            }
            let m = fs::symlink_metadata(&path).unwrap();
            let ft = m.file_type();
            let (kind, data) = if ft.is_symlink() {
                (
                    'l',
                    fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if ft.is_dir() {
                ('d', Vec::new())
            } else if ft.is_file() {
                ('f', normalise(&rel, fs::read(&path).unwrap()))
            } else {
                ('o', Vec::new())
            };
            if !ft.is_dir() && m.nlink() > 1 {
                inodes
                    .entry((m.dev(), m.ino()))
                    .or_default()
                    .push(rel.clone());
            }
            out.insert(
                rel,
                Entry {
                    kind,
                    mode: m.mode() & 0o7777,
                    uid: m.uid(),
                    gid: m.gid(),
                    data,
                    hard_group: None,
                },
            );
            if ft.is_dir() {
                walk(root, &path, out, inodes);
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut inodes = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    for names in inodes.values() {
        if names.len() > 1 {
            let first = names.iter().min().unwrap().clone();
            for n in names {
                if let Some(e) = out.get_mut(n) {
                    e.hard_group = Some(first.clone());
                }
            }
        }
    }
    out
}

/// (key, description) for every difference; the key is a path in the target or `verdict`.
fn compare(
    ign: &RunOut,
    ignis: &RunOut,
    a: &BTreeMap<String, Entry>,
    b: &BTreeMap<String, Entry>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if ign.ok != ignis.ok {
        out.push((
            "verdict".to_string(),
            format!(
                "verdict: Ignition {}, ignis {}",
                if ign.ok { "succeeded" } else { "failed" },
                if ignis.ok { "succeeded" } else { "failed" }
            ),
        ));
    }
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push((
                k.clone(),
                format!("{k}: Ignition {} | ignis {}", x.show(), y.show()),
            )),
            (Some(x), None) => out.push((
                k.clone(),
                format!("{k}: only after Ignition ({})", x.show()),
            )),
            (None, Some(y)) => {
                out.push((k.clone(), format!("{k}: only after ignis ({})", y.show())))
            }
            (None, None) => {}
        }
    }
    out
}

/// The lines of a log that say what went wrong (Ignition dumps the whole config after them).
fn error_lines(log: &str) -> String {
    let picked: Vec<String> = log
        .lines()
        .filter(|l| {
            l.starts_with("---")
                || l.contains("CRITICAL")
                || l.contains("failed")
                || l.contains("ERROR")
                || l.contains("WARNING")
                || l.starts_with("ignis:")
        })
        .take(12)
        .map(|l| format!("         | {l}"))
        .collect();
    picked.join("\n")
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

// ---------------------------------------------------------------------------------------------
// Paths through symlinked directories whose targets do not exist yet (issues #9 and #17)

/// NestOS's ostree layout: /home, /opt, /srv, /mnt, /root and /usr/local are relative links
/// into /var, which holds none of their targets at first boot.
fn seed_ostree(r: &Path) {
    fs::remove_dir_all(p(r, "/home")).unwrap();
    fs::remove_dir_all(p(r, "/root")).unwrap();
    mkdir(r, "/usr");
    for (l, t) in [
        ("/home", "var/home"),
        ("/opt", "var/opt"),
        ("/srv", "var/srv"),
        ("/mnt", "var/mnt"),
        ("/root", "var/roothome"),
        ("/usr/local", "../var/usrlocal"),
    ] {
        symlink(r, t, l);
    }
}

/// The same with core's home already in /var/home, as NestOS's initrd prepares it.
fn seed_ostree_homes(r: &Path) {
    seed_ostree(r);
    write(r, "/var/home/core/.bashrc", "# core's bashrc\n");
    chmod(r, "/var/home/core", 0o700);
    chown(r, "/var/home/core", 1000, 1000);
    chown(r, "/var/home/core/.bashrc", 1000, 1000);
}

fn ostree_cases() -> Vec<Case> {
    vec![
        case(
            "ostree: files, directories and links through dangling /var links",
            "3.3.0",
            r#""storage":{
                "files":[
                    {"path":"/home/nest/.ssh/config","contents":{"source":"data:,Host%20*"},"mode":384,"user":{"id":1000}},
                    {"path":"/root/.bashrc","contents":{"source":"data:,alias%20l=ls"}},
                    {"path":"/usr/local/bin/tool","contents":{"source":"data:,%23!/bin/sh"},"mode":493},
                    {"path":"/opt/app/conf"}],
                "directories":[{"path":"/srv/www"},{"path":"/opt/app/data","mode":488,"group":{"id":1000}}],
                "links":[
                    {"path":"/usr/local/bin/t2","target":"tool"},
                    {"path":"/mnt/hard","target":"/usr/local/bin/tool","hard":true}]}"#,
            seed_ostree,
            true,
        ),
        case(
            "ostree: two entries on one node through a dangling link",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/home/nest/x","contents":{"source":"data:,a"}},
                {"path":"/var/home/nest/x","contents":{"source":"data:,b"}}]}"#,
            seed_ostree,
            false,
        ),
        case(
            "ostree: SSH keys for a user whose home is through /home",
            "3.3.0",
            r#""passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core@a"]}]}"#,
            seed_ostree_homes,
            true,
        ),
        case(
            "ostree: a new user's home under /home",
            "3.3.0",
            r#""passwd":{"users":[{"name":"nest","groups":["wheel"],"sshAuthorizedKeys":["ssh-ed25519 AAAA nest@a"]}]}"#,
            seed_ostree_homes,
            true,
        ),
        case(
            "files: dangling absolute and climbing links resolve inside the root",
            "3.3.0",
            r#""storage":{
                "files":[
                    {"path":"/escape/abs/f","contents":{"source":"data:,a"}},
                    {"path":"/x/up/deep/f","contents":{"source":"data:,b"}}],
                "directories":[{"path":"/escape/rel/d","mode":448}],
                "links":[{"path":"/escape/abs/l","target":"/etc/passwd"}]}"#,
            |r| {
                symlink(r, "/some/dir", "/escape/abs");
                symlink(r, "../../../../../y", "/x/up");
                symlink(r, "../rel-target/sub", "/escape/rel");
            },
            true,
        ),
        case(
            "files: a chain of dangling links",
            "3.3.0",
            r#""storage":{"files":[{"path":"/c1/f","contents":{"source":"data:,a"}}]}"#,
            |r| {
                symlink(r, "c2", "/c1");
                symlink(r, "/var/c3", "/c2");
            },
            false,
        ),
    ]
}
