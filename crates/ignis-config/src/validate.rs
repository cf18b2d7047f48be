//! Ignition's validation rules over the typed config, with Ignition's message texts and JSON
//! paths. Rules that changed between spec versions take the config's version. Pure: config in,
//! report out.

mod devices;
mod resources;
mod storage;
mod systemd;

use super::report::{JsonPath, Report};
use super::types::*;
use super::version::Version;
use std::collections::HashSet;

/// Ignition's message texts (`config/shared/errors/errors.go`).
pub mod msg {
    pub const NO_PATH: &str = "path not specified";
    pub const PATH_RELATIVE: &str = "path not absolute";
    pub const DIRTY_PATH: &str = "path is not fully simplified";
    pub const DUPLICATE: &str = "duplicate entry defined";
    pub const ILLEGAL_MODE: &str = "illegal file mode";
    pub const OVERWRITE_NIL_SOURCE: &str = "overwrite must be false if source is unspecified";
    pub const BOTH_ID_AND_NAME: &str = "cannot set both id and name";
    pub const COMPRESSION_INVALID: &str = "invalid compression method";
    pub const VERIFICATION_NIL_SOURCE: &str =
        "source must be specified if verification is specified";
    pub const INVALID_URL: &str = "unable to parse url";
    pub const INVALID_SCHEME: &str = "invalid url scheme";
    pub const INVALID_S3_VERSION: &str = "invalid S3 object VersionId";
    pub const INVALID_ARN: &str = "invalid S3 ARN format";
    pub const HEADERS_SCHEME: &str = "cannot use HTTP headers with this source scheme";
    pub const EMPTY_HEADER_NAME: &str = "HTTP header name can't be empty";
    pub const EMPTY_HEADER_VALUE: &str = "HTTP header value can't be empty";
    pub const SOURCE_REQUIRED: &str = "source is required";
    pub const HASH_MALFORMED: &str = "malformed hash specifier";
    pub const HASH_UNRECOGNIZED: &str = "unrecognized hash function";
    pub const HASH_WRONG_SIZE: &str = "incorrect size for hash sum";
    pub const INVALID_PROXY: &str = "proxies must be http(s)";
    pub const INSECURE_PROXY: &str = "insecure plaintext HTTP proxy specified for HTTPS resources";
    pub const DISK_DEVICE_REQUIRED: &str = "disk device is required";
    pub const PARTITION_NUMBERS_COLLIDE: &str = "partition numbers collide";
    pub const PARTITIONS_OVERLAP: &str = "partitions overlap";
    pub const PARTITION_LABELS_COLLIDE: &str = "cannot use the same partition label twice";
    pub const ZEROES_WITH_SHOULD_NOT_EXIST: &str =
        "shouldExist is false for a partition and other partition(s) has start or size 0";
    pub const SHOULD_NOT_EXIST_WITH_OTHERS: &str =
        "shouldExist specified false with other options also specified";
    pub const NEED_LABEL_OR_NUMBER: &str = "a partition number >= 1 or a label must be specified";
    pub const LABEL_TOO_LONG: &str = "partition labels may not exceed 36 characters";
    pub const LABEL_CONTAINS_COLON: &str =
        "partition label will be truncated to text before the colon";
    pub const GUID_FORMAT: &str = "doesn't match the form \"01234567-89AB-CDEF-EDCB-A98765432101\"";
    pub const FS_INVALID_FORMAT: &str = "invalid filesystem format";
    pub const FORMAT_NIL_WITH_OTHERS: &str =
        "format cannot be empty when path, label, uuid, wipeFilesystem, options, or mountOptions is specified";
    pub const LABEL_NEEDS_FORMAT: &str = "filesystem must specify format if label is specified";
    pub const PARTITIONS_OVERWRITTEN: &str = "filesystem overwrites partitioned device";
    pub const FILESYSTEM_IMPLICIT_WIPE: &str =
        "device matches disk with wipeTable enabled; filesystem will be wiped";
    pub const LINK_TARGET_REQUIRED: &str = "link target is required";
    pub const HARD_LINK_TO_DIRECTORY: &str = "hard link target is a directory";
    pub const HARD_LINK_OWNER: &str = "user/group ignored for hard link";
    pub const FILE_USED_SYMLINK: &str = "file path includes link in config";
    pub const DIRECTORY_USED_SYMLINK: &str = "directory path includes link in config";
    pub const LINK_USED_SYMLINK: &str = "link path includes link in config";
    pub const PATH_CONFLICTS_SYSTEMD: &str = "path conflicts with systemd unit or dropin";
    pub const INVALID_SYSTEMD_EXT: &str = "invalid systemd unit extension";
    pub const INVALID_DROPIN_EXT: &str = "invalid systemd drop-in extension";
    // ignis's own rules (Ignition accepts these, then systemd or the kernel refuses them).
    pub const INVALID_UNIT_NAME: &str = "invalid unit name: systemd allows only ASCII letters, digits and \":-_.\\@\", at most 255 characters";
    pub const INVALID_DROPIN_NAME: &str =
        "invalid drop-in name: a file name without \"/\" or control characters";
    pub const ROOT_NODE: &str = "path cannot be the root directory itself";
    pub const PATH_TOO_LONG: &str = "path is longer than the kernel's PATH_MAX (4095 bytes)";
    pub const NAME_TOO_LONG: &str =
        "path has a component longer than the kernel's NAME_MAX (255 bytes)";
    pub const RAID_LEVEL_REQUIRED: &str = "raid level is required";
    pub const RAID_LEVEL_UNKNOWN: &str = "unrecognized raid level";
    pub const SPARES_UNSUPPORTED: &str = "spares unsupported for linear and raid0 arrays";
    pub const RAID_DEVICES_REQUIRED: &str = "raid devices required";
    pub const LUKS_NAME_SLASH: &str = "device names cannot contain slashes";
    pub const LUKS_LABEL_TOO_LONG: &str = "luks device labels cannot be longer than 47 characters";
    pub const LUKS_KEYFILE: &str = "invalid key-file source";
    pub const CLEVIS_CUSTOM_WITH_OTHERS: &str =
        "cannot use custom clevis config with tpm2, tang, or threshold";
    pub const CLEVIS_PIN_REQUIRED: &str = "missing required custom clevis pin";
    pub const CLEVIS_CONFIG_REQUIRED: &str = "missing required custom clevis config";
    pub const UNKNOWN_CLEVIS_PIN: &str = "unsupported clevis pin";
    pub const CEX_WITH_CLEVIS: &str = "cannot use cex with clevis";
    pub const CEX_WITH_KEYFILE: &str = "cannot use key file with cex";
    pub const TANG_THUMBPRINT_REQUIRED: &str = "thumbprint is required";
    pub const TANG_ADVERTISEMENT: &str = "advertisement is not valid JSON";
    pub const VIRTIOFS_FIELD: &str =
        "virtiofs does not support label, uuid, options, or wipeFilesystem";
    pub const VIRTIOFS_TAG: &str = "virtiofs tags cannot be longer than 36 bytes";
    pub const SPECIAL_MODE_BITS: &str =
        "setuid/setgid/sticky bits are not supported or functional in spec versions older than 3.6.0";
}

/// Validates a decoded config of spec `version`.
pub fn validate(cfg: &Config, version: Version) -> Report {
    let mut v = Validator {
        r: Report::default(),
        version,
    };
    v.config(cfg);
    v.r
}

struct Validator {
    r: Report,
    version: Version,
}

fn root() -> JsonPath {
    JsonPath::root()
}

/// Go's `path.Clean`.
pub fn clean_path(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|s| *s != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

pub fn check_path(p: &str) -> Option<&'static str> {
    if p.is_empty() {
        return Some(msg::NO_PATH);
    }
    if !p.starts_with('/') {
        return Some(msg::PATH_RELATIVE);
    }
    // An absolute path is its own clean_path when no component (after the leading `/`) is
    // empty, `.` or `..`; one pass, no allocation (this runs for every node of a config).
    let (mut dirty, mut long_name) = (false, false);
    if p != "/" {
        for c in p[1..].split('/') {
            dirty |= c.is_empty() || c == "." || c == "..";
            long_name |= c.len() > 255;
        }
    }
    debug_assert_eq!(dirty, clean_path(p) != p, "{p}");
    if dirty {
        Some(msg::DIRTY_PATH)
    } else if p.len() > 4095 {
        Some(msg::PATH_TOO_LONG)
    } else if long_name {
        Some(msg::NAME_TOO_LONG)
    } else {
        None
    }
}

impl Validator {
    fn err(&mut self, p: JsonPath, m: impl Into<String>) {
        self.r.error(p, m);
    }

    fn warn(&mut self, p: JsonPath, m: impl Into<String>) {
        self.r.warn(p, m);
    }

    /// The path rule; `at` builds the entry's path only when there is something to report.
    fn path_rule(&mut self, value: &str, at: impl FnOnce() -> JsonPath) {
        if let Some(m) = check_path(value) {
            self.err(at(), m);
        }
    }

    fn config(&mut self, c: &Config) {
        let r = root();
        self.ignition(&c.ignition, &r.key("ignition"));
        if self.version >= Version::V3_3 {
            self.kargs(&c.kernel_arguments, &r.key("kernelArguments"));
        }
        self.passwd(&c.passwd, &r.key("passwd"));
        self.storage(&c.storage, &r.key("storage"));
        self.systemd(&c.systemd, &r.key("systemd"));
        self.unit_conflicts(c);
    }

    /// Errors of `key`s that occur more than once in a list, reported at each later entry.
    fn dups<K: std::hash::Hash + Eq>(&mut self, keys: impl Iterator<Item = K>, list: &JsonPath) {
        let mut seen = HashSet::new();
        for (i, k) in keys.enumerate() {
            if !seen.insert(k) {
                self.err(list.idx(i), msg::DUPLICATE);
            }
        }
    }

    fn kargs(&mut self, k: &KernelArguments, p: &JsonPath) {
        // shouldExist and shouldNotExist share one namespace.
        let mut seen = HashSet::new();
        for (i, a) in k.should_exist.iter().enumerate() {
            if !seen.insert(a.as_str()) {
                self.err(p.key("shouldExist").idx(i), msg::DUPLICATE);
            }
        }
        for (i, a) in k.should_not_exist.iter().enumerate() {
            if !seen.insert(a.as_str()) {
                self.err(p.key("shouldNotExist").idx(i), msg::DUPLICATE);
            }
        }
    }

    fn passwd(&mut self, pw: &Passwd, p: &JsonPath) {
        let up = p.key("users");
        for (i, u) in pw.users.iter().enumerate() {
            self.dups(
                u.ssh_authorized_keys.iter().cloned(),
                &up.idx(i).key("sshAuthorizedKeys"),
            );
            self.dups(u.groups.iter(), &up.idx(i).key("groups"));
        }
        self.dups(pw.users.iter().map(|u| u.name.as_str()), &up);
        self.dups(pw.groups.iter().map(|g| g.name.as_str()), &p.key("groups"));
    }
}

#[cfg(test)]
mod tests;
