//! Seeding the two roots (the base every case starts from) and encoding the configs'
//! payloads (base64, gzip, hashes), with the loopback server's contents.

use super::*;

pub(crate) fn p(root: &Path, path: &str) -> PathBuf {
    root.join(path.trim_start_matches('/'))
}

pub(crate) fn write(root: &Path, path: &str, body: &str) {
    let f = p(root, path);
    fs::create_dir_all(f.parent().unwrap()).unwrap();
    fs::write(f, body).unwrap();
}

pub(crate) fn mkdir(root: &Path, path: &str) {
    fs::create_dir_all(p(root, path)).unwrap();
}

pub(crate) fn chmod(root: &Path, path: &str, mode: u32) {
    fs::set_permissions(p(root, path), fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn chown(root: &Path, path: &str, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(p(root, path), Some(uid), Some(gid)).unwrap();
}

pub(crate) fn symlink(root: &Path, target: &str, path: &str) {
    let l = p(root, path);
    fs::create_dir_all(l.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, l).unwrap();
}

pub(crate) fn hardlink(root: &Path, target: &str, path: &str) {
    fs::hard_link(p(root, target), p(root, path)).unwrap();
}

pub(crate) const LOGIN_DEFS: &str = "\
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
pub(crate) fn seed_base(root: &Path) {
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

pub(crate) fn no_seed(_: &Path) {}

// ---------------------------------------------------------------------------------------------
// Encodings for the configs

pub(crate) fn b64(data: &[u8]) -> String {
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

pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn sha512(data: &[u8]) -> String {
    format!("sha512-{}", hex(&sha2::Sha512::digest(data)))
}

pub(crate) fn sha256(data: &[u8]) -> String {
    format!("sha256-{}", hex(&sha2::Sha256::digest(data)))
}

/// What the loopback server serves.
pub(crate) const REMOTE: &[u8] = b"remote contents\nline two\n";
pub(crate) const REMOTE_APPEND: &[u8] = b"appended from http\n";

pub(crate) fn start_server() -> common::Server {
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
