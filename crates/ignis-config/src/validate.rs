//! Ignition's validation rules over the typed config, with Ignition's message texts and JSON
//! paths. Rules that changed between spec versions take the config's version. Pure: config in,
//! report out.

use super::report::{JsonPath, Report};
use super::types::*;
use super::unit;
use super::url;
use super::version::Version;
use std::collections::{HashMap, HashSet};

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
        Some(msg::NO_PATH)
    } else if !p.starts_with('/') {
        Some(msg::PATH_RELATIVE)
    } else if clean_path(p) != p {
        Some(msg::DIRTY_PATH)
    } else if p.len() > 4095 {
        Some(msg::PATH_TOO_LONG)
    } else if p.split('/').any(|c| c.len() > 255) {
        Some(msg::NAME_TOO_LONG)
    } else {
        None
    }
}

/// systemd's rule for unit names (unit_name_is_valid): its character set and length; the
/// suffix is checked separately, with Ignition's message. A newline or space in a name would
/// otherwise reach the preset file and the unit directory.
fn unit_name_chars_ok(name: &str) -> bool {
    name.len() <= 255
        && !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":-_.\\@".contains(&b))
}

/// A drop-in is a file in the unit's `.d` directory: a plain name, nothing that walks away.
fn dropin_name_ok(name: &str) -> bool {
    name.len() <= 255
        && name != "."
        && name != ".."
        && !name.bytes().any(|b| b == b'/' || b.is_ascii_control())
}

fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
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

    fn ignition(&mut self, ig: &Ignition, p: &JsonPath) {
        let cp = p.key("config");
        for (i, m) in ig.config.merge.iter().enumerate() {
            let mp = cp.key("merge").idx(i);
            // 3.0.0's config references had no required source.
            if self.version >= Version::V3_1 {
                self.required_source(m, mp.clone());
            }
            self.resource(m, &mp);
        }
        self.dups(
            ig.config
                .merge
                .iter()
                .map(|m| m.source.as_deref().unwrap_or("")),
            &cp.key("merge"),
        );
        self.resource(&ig.config.replace, &cp.key("replace"));
        let tp = p.key("security").key("tls").key("certificateAuthorities");
        for (i, ca) in ig.security.tls.certificate_authorities.iter().enumerate() {
            if self.version >= Version::V3_1 {
                self.required_source(ca, tp.idx(i));
            } else if ca.source.is_none() {
                // 3.0.0's CA source was a plain string: missing reads as "", no scheme.
                self.err(tp.idx(i).key("source"), msg::INVALID_SCHEME);
            }
            self.resource(ca, &tp.idx(i));
        }
        self.dups(
            ig.security
                .tls
                .certificate_authorities
                .iter()
                .map(|m| m.source.as_deref().unwrap_or("")),
            &tp,
        );
        let pp = p.key("proxy");
        self.proxy_url(ig.proxy.http_proxy.as_deref(), pp.key("httpProxy"), true);
        self.proxy_url(ig.proxy.https_proxy.as_deref(), pp.key("httpsProxy"), false);
        self.dups(ig.proxy.no_proxy.iter(), &pp.key("noProxy"));
    }

    /// Merge children and CAs need a source, and a bad URL is reported at the entry too.
    fn required_source(&mut self, r: &Resource, p: JsonPath) {
        match r.source.as_deref() {
            None | Some("") => self.err(p, msg::SOURCE_REQUIRED),
            Some(s) => {
                if let Some(m) = self.url_problem(s) {
                    self.err(p, m);
                }
            }
        }
    }

    fn proxy_url(&mut self, s: Option<&str>, p: JsonPath, http_ok: bool) {
        let Some(s) = s else { return };
        match url::parse(s) {
            Err(_) => self.err(p, msg::INVALID_URL),
            Ok(u) if u.scheme != "http" && u.scheme != "https" => self.err(p, msg::INVALID_PROXY),
            Ok(u) if u.scheme == "http" && !http_ok => self.warn(p, msg::INSECURE_PROXY),
            Ok(_) => {}
        }
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

    fn resource(&mut self, res: &Resource, p: &JsonPath) {
        if let Some(c) = &res.compression {
            if !c.is_empty() && c != "gzip" {
                self.err(p.key("compression"), msg::COMPRESSION_INVALID);
            }
        }
        if let Some(h) = &res.verification.hash {
            let hp = p.key("verification").key("hash");
            if res.source.is_none() {
                self.err(hp.clone(), msg::VERIFICATION_NIL_SOURCE);
            }
            if let Some(m) = self.hash_problem(h) {
                self.err(hp, m);
            }
        }
        if let Some(s) = &res.source {
            if let Some(m) = self.url_problem(s) {
                self.err(p.key("source"), m);
            }
        }
        if !res.http_headers.is_empty() {
            let hp = p.key("httpHeaders");
            let scheme_ok = match res.source.as_deref() {
                None | Some("") => Err(msg::INVALID_URL),
                Some(s) => match url::parse(s) {
                    Err(_) => Err(msg::INVALID_URL),
                    Ok(u) if u.scheme == "http" || u.scheme == "https" => Ok(()),
                    Ok(_) => Err(msg::HEADERS_SCHEME),
                },
            };
            if let Err(m) = scheme_ok {
                self.err(hp.clone(), m);
            }
            for (i, h) in res.http_headers.iter().enumerate() {
                if h.name.is_empty() {
                    self.err(hp.idx(i).key("name"), msg::EMPTY_HEADER_NAME);
                }
                if h.value.as_deref() == Some("") {
                    self.err(hp.idx(i).key("value"), msg::EMPTY_HEADER_VALUE);
                }
            }
            self.dups(res.http_headers.iter().map(|h| h.name.as_str()), &hp);
        }
    }

    fn hash_problem(&self, h: &str) -> Option<&'static str> {
        let Some((func, sum)) = h.split_once('-') else {
            return Some(msg::HASH_MALFORMED);
        };
        let size = match func {
            "sha512" => 64,
            "sha256" if self.version >= Version::V3_1 => 32,
            _ => return Some(msg::HASH_UNRECOGNIZED),
        };
        (sum.len() != size * 2).then_some(msg::HASH_WRONG_SIZE)
    }

    /// Ignition's `validateURL`: the schemes of the config's version, S3 version ids, ARNs,
    /// data URLs. An empty source is valid (an empty file).
    fn url_problem(&self, s: &str) -> Option<String> {
        if s.is_empty() {
            return None;
        }
        let u = match url::parse(s) {
            Ok(u) => u,
            Err(_) => return Some(msg::INVALID_URL.into()),
        };
        match u.scheme.as_ref() {
            "http" | "https" | "tftp" => None,
            "gs" if self.version >= Version::V3_2 => None,
            "s3" => {
                let v = url::query_values(u.raw_query, "versionId");
                (!v.is_empty() && v[0].is_empty()).then(|| msg::INVALID_S3_VERSION.into())
            }
            "arn" if self.version >= Version::V3_4 => arn_problem(s, &u),
            "data" => url::check_data_url(s).err(),
            _ => Some(msg::INVALID_SCHEME.into()),
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

    fn storage(&mut self, s: &Storage, p: &JsonPath) {
        for (i, d) in s.disks.iter().enumerate() {
            self.disk(d, &p.key("disks").idx(i));
        }
        self.dups(s.disks.iter().map(|d| d.device.as_str()), &p.key("disks"));
        for (i, r) in s.raid.iter().enumerate() {
            self.raid(r, &p.key("raid").idx(i));
        }
        self.dups(s.raid.iter().map(|r| r.name.as_str()), &p.key("raid"));
        for (i, f) in s.filesystems.iter().enumerate() {
            self.filesystem(f, &p.key("filesystems").idx(i));
        }
        self.dups(
            s.filesystems.iter().map(|f| f.device.as_str()),
            &p.key("filesystems"),
        );
        for (i, l) in s.luks.iter().enumerate() {
            self.luks(l, &p.key("luks").idx(i));
        }
        self.dups(s.luks.iter().map(|l| l.name.as_str()), &p.key("luks"));

        let files = p.key("files");
        for (i, f) in s.files.iter().enumerate() {
            let fp = files.idx(i);
            self.path_rule(&f.path, || fp.key("path"));
            if f.path == "/" {
                self.err(fp.key("path"), msg::ROOT_NODE);
            }
            self.owner(f.user.id, f.user.name.as_deref(), || fp.key("user"));
            self.owner(f.group.id, f.group.name.as_deref(), || fp.key("group"));
            self.mode(f.mode, &fp);
            if f.overwrite == Some(true) && f.contents.source.is_none() {
                self.err(fp.key("overwrite"), msg::OVERWRITE_NIL_SOURCE);
            }
            if !f.contents.is_empty() {
                self.resource(&f.contents, &fp.key("contents"));
            }
            for (j, a) in f.append.iter().enumerate() {
                self.resource(a, &fp.key("append").idx(j));
            }
        }
        let dirs = p.key("directories");
        for (i, d) in s.directories.iter().enumerate() {
            let dp = dirs.idx(i);
            self.path_rule(&d.path, || dp.key("path"));
            if d.path == "/" {
                self.err(dp.key("path"), msg::ROOT_NODE);
            }
            self.owner(d.user.id, d.user.name.as_deref(), || dp.key("user"));
            self.owner(d.group.id, d.group.name.as_deref(), || dp.key("group"));
            self.mode(d.mode, &dp);
        }
        let links = p.key("links");
        for (i, l) in s.links.iter().enumerate() {
            let lp = links.idx(i);
            self.path_rule(&l.path, || lp.key("path"));
            if l.path == "/" {
                self.err(lp.key("path"), msg::ROOT_NODE);
            }
            self.owner(l.user.id, l.user.name.as_deref(), || lp.key("user"));
            self.owner(l.group.id, l.group.name.as_deref(), || lp.key("group"));
            // Before 3.3.0 the target was a plain string and not required.
            if self.version >= Version::V3_3 && l.target.as_deref().unwrap_or("").is_empty() {
                self.err(lp.key("target"), msg::LINK_TARGET_REQUIRED);
            }
            // From 3.3.0 a link without a target stops at the error above (as upstream).
            let target_ok =
                self.version < Version::V3_3 || !l.target.as_deref().unwrap_or("").is_empty();
            if l.hard == Some(true) && target_ok {
                // One warning per owner field set, at that field (upstream's paths).
                let (u, g) = (lp.key("user"), lp.key("group"));
                for (set, at) in [
                    (l.user.id.is_some(), u.key("id")),
                    (l.user.name.is_some(), u.key("name")),
                    (l.group.id.is_some(), g.key("id")),
                    (l.group.name.is_some(), g.key("name")),
                ] {
                    if set {
                        self.warn(at, msg::HARD_LINK_OWNER);
                    }
                }
            }
        }
        // Files, directories and links share one namespace keyed by path; Ignition walks it
        // directories first, then files, then links.
        // Sized once, and a node's JSON path is built only for a duplicate: this runs over
        // every node of configs with tens of thousands of them.
        let mut seen = HashSet::with_capacity(s.directories.len() + s.files.len() + s.links.len());
        let nodes = s
            .directories
            .iter()
            .enumerate()
            .map(|(i, d)| (&dirs, i, &d.path))
            .chain(
                s.files
                    .iter()
                    .enumerate()
                    .map(|(i, f)| (&files, i, &f.path)),
            )
            .chain(
                s.links
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (&links, i, &l.path)),
            );
        let mut dup_paths = Vec::new();
        for (kind, i, path) in nodes {
            if !seen.insert(path.as_str()) {
                dup_paths.push(kind.idx(i));
            }
        }
        for jp in dup_paths {
            self.err(jp, msg::DUPLICATE);
        }
        self.node_links(s, p);
        self.fs_disk_warnings(s, p);
    }

    fn owner(&mut self, id: Option<i64>, name: Option<&str>, at: impl FnOnce() -> JsonPath) {
        if id.is_some() && !name.unwrap_or("").is_empty() {
            self.err(at(), msg::BOTH_ID_AND_NAME);
        }
    }

    fn mode(&mut self, m: Option<i64>, node: &JsonPath) {
        if let Some(m) = m {
            if !(0..=0o7777).contains(&m) {
                self.err(node.key("mode"), msg::ILLEGAL_MODE);
            }
            if m & 0o7000 != 0 && self.version < Version::V3_6 {
                self.warn(node.key("mode"), msg::SPECIAL_MODE_BITS);
            }
        }
    }

    fn node_links(&mut self, s: &Storage, p: &JsonPath) {
        if s.links.is_empty() {
            return;
        }
        let link_paths: HashSet<&str> = s.links.iter().map(|l| l.path.as_str()).collect();
        let dir_paths: HashSet<&str> = s.directories.iter().map(|d| d.path.as_str()).collect();
        // One error per configured link that is a proper ancestor of `path`.
        let links_above = |path: &str| {
            path.match_indices('/')
                .filter(|(i, _)| *i > 0)
                .filter(|(i, _)| link_paths.contains(&path[..*i]))
                .count()
                + usize::from(link_paths.contains("") && path.starts_with('/'))
        };
        for (i, d) in s.directories.iter().enumerate() {
            for _ in 0..links_above(&d.path) {
                self.err(p.key("directories").idx(i), msg::DIRECTORY_USED_SYMLINK);
            }
        }
        for (i, f) in s.files.iter().enumerate() {
            for _ in 0..links_above(&f.path) {
                self.err(p.key("files").idx(i), msg::FILE_USED_SYMLINK);
            }
        }
        for (i, l1) in s.links.iter().enumerate() {
            for _ in 0..links_above(&l1.path) {
                self.err(p.key("links").idx(i), msg::LINK_USED_SYMLINK);
            }
            if l1.hard == Some(true) {
                // A relative hard-link target is taken relative to the link's path, as Ignition
                // checks it.
                let target = l1.target.as_deref().unwrap_or("");
                let target = if target.starts_with('/') {
                    clean_path(target)
                } else {
                    clean_path(&format!("{}/{target}", l1.path))
                };
                if dir_paths.contains(target.as_str()) {
                    self.err(p.key("links").idx(i), msg::HARD_LINK_TO_DIRECTORY);
                }
            }
        }
    }

    fn fs_disk_warnings(&mut self, s: &Storage, p: &JsonPath) {
        let disks: HashMap<&str, &Disk> = s.disks.iter().map(|d| (d.device.as_str(), d)).collect();
        for (i, f) in s.filesystems.iter().enumerate() {
            if let Some(d) = disks.get(f.device.as_str()) {
                let fp = p.key("filesystems").idx(i).key("device");
                if !d.partitions.is_empty() {
                    self.warn(fp, msg::PARTITIONS_OVERWRITTEN);
                } else if f.wipe_filesystem != Some(true) && d.wipe_table == Some(true) {
                    self.warn(fp, msg::FILESYSTEM_IMPLICIT_WIPE);
                }
            }
        }
    }

    fn disk(&mut self, d: &Disk, p: &JsonPath) {
        let pp = p.key("partitions");
        for (i, part) in d.partitions.iter().enumerate() {
            self.partition(part, &pp.idx(i));
        }
        self.dups(
            d.partitions
                .iter()
                .map(partition_key)
                .filter(|k| !k.is_empty()),
            &pp,
        );
        if d.device.is_empty() {
            self.err(p.key("device"), msg::DISK_DEVICE_REQUIRED);
            return;
        }
        self.path_rule(&d.device, || p.key("device"));
        let parts = &d.partitions;
        // Numbers: the second partition of the first colliding number.
        let mut firsts: Vec<(i64, usize)> = Vec::new();
        let mut collide = None;
        for (i, x) in parts.iter().enumerate().filter(|(_, x)| x.number != 0) {
            match firsts.iter().find(|(n, _)| *n == x.number) {
                Some(_) => {
                    collide.get_or_insert(i);
                }
                None => firsts.push((x.number, i)),
            }
        }
        if let Some(i) = collide {
            self.err(pp.idx(i), msg::PARTITION_NUMBERS_COLLIDE);
        }
        if let Some(i) = partitions_overlap(parts) {
            self.err(pp.idx(i), msg::PARTITIONS_OVERLAP);
        }
        // Ignition checks for number 0 here, whatever the message says.
        if parts.iter().any(|x| x.number == 0)
            && parts.iter().any(|x| x.should_exist == Some(false))
        {
            self.err(pp.clone(), msg::ZEROES_WITH_SHOULD_NOT_EXIST);
        }
        let mut labels = HashSet::new();
        if let Some(i) = parts
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.label.as_deref().map(|l| (i, l)))
            .find(|(_, l)| !labels.insert(*l))
            .map(|(i, _)| i)
        {
            self.err(pp.idx(i), msg::PARTITION_LABELS_COLLIDE);
        }
    }

    fn partition(&mut self, x: &Partition, p: &JsonPath) {
        if x.should_exist == Some(false)
            && (x.label.is_some()
                || !x.type_guid.as_deref().unwrap_or("").is_empty()
                || !x.guid.as_deref().unwrap_or("").is_empty()
                || x.start_mib.is_some()
                || x.size_mib.is_some())
        {
            self.err(p.clone(), msg::SHOULD_NOT_EXIST_WITH_OTHERS);
        }
        if x.number == 0 && x.label.is_none() {
            self.err(p.clone(), msg::NEED_LABEL_OR_NUMBER);
        }
        if let Some(l) = &x.label {
            if l.len() > 36 {
                self.err(p.key("label"), msg::LABEL_TOO_LONG);
            } else if l.contains(':') {
                self.err(p.key("label"), msg::LABEL_CONTAINS_COLON);
            }
        }
        for (k, g) in [("guid", &x.guid), ("typeGuid", &x.type_guid)] {
            if let Some(g) = g {
                if !g.is_empty() && !is_guid(g) {
                    self.err(p.key(k), msg::GUID_FORMAT);
                }
            }
        }
    }

    fn filesystem(&mut self, f: &Filesystem, p: &JsonPath) {
        if let Some(path) = f.path.as_deref().filter(|x| !x.is_empty()) {
            self.path_rule(path, || p.key("path"));
        }
        let format = f.format.as_deref().unwrap_or("");
        if format == "virtiofs" && self.version >= Version::V3_7Exp {
            if f.device.is_empty() {
                self.err(p.key("device"), msg::NO_PATH);
            } else if f.device.len() > 36 {
                self.err(p.key("device"), msg::VIRTIOFS_TAG);
            }
            if f.label.is_some()
                || f.uuid.is_some()
                || !f.options.is_empty()
                || f.wipe_filesystem.is_some()
            {
                self.err(p.key("format"), msg::VIRTIOFS_FIELD);
            }
            return;
        }
        self.path_rule(&f.device, || p.key("device"));
        if format.is_empty() {
            if !f.path.as_deref().unwrap_or("").is_empty()
                || !f.label.as_deref().unwrap_or("").is_empty()
                || !f.uuid.as_deref().unwrap_or("").is_empty()
                || f.wipe_filesystem == Some(true)
                || !f.mount_options.is_empty()
                || !f.options.is_empty()
            {
                self.err(p.key("format"), msg::FORMAT_NIL_WITH_OTHERS);
            }
        } else {
            let ok = match format {
                "ext4" | "btrfs" | "xfs" | "swap" | "vfat" => true,
                "none" => self.version >= Version::V3_3,
                _ => false,
            };
            if !ok {
                self.err(p.key("format"), msg::FS_INVALID_FORMAT);
            }
        }
        if let Some(label) = f.label.as_deref().filter(|l| !l.is_empty()) {
            if format.is_empty() {
                self.err(p.key("label"), msg::LABEL_NEEDS_FORMAT);
            } else {
                let max = match format {
                    "ext4" => 16,
                    "btrfs" => 256,
                    "xfs" => 12,
                    "swap" => 15,
                    "vfat" => 11,
                    _ => usize::MAX,
                };
                if label.len() > max {
                    self.err(
                        p.key("label"),
                        format!("filesystem labels cannot be longer than {max} characters when using {format}"),
                    );
                }
            }
        }
    }

    fn raid(&mut self, r: &Raid, p: &JsonPath) {
        match r.level.as_deref().unwrap_or("") {
            "" => self.err(p.key("level"), msg::RAID_LEVEL_REQUIRED),
            "linear" | "raid0" | "0" | "stripe" => {
                if r.spares.is_some_and(|s| s != 0) {
                    self.err(p.key("level"), msg::SPARES_UNSUPPORTED);
                }
            }
            "raid1" | "1" | "mirror" | "raid4" | "4" | "raid5" | "5" | "raid6" | "6" | "raid10"
            | "10" => {}
            _ => self.err(p.key("level"), msg::RAID_LEVEL_UNKNOWN),
        }
        if r.devices.is_empty() {
            self.err(p.key("devices"), msg::RAID_DEVICES_REQUIRED);
        }
        for (i, d) in r.devices.iter().enumerate() {
            self.path_rule(d, || p.key("devices").idx(i));
        }
        self.dups(r.devices.iter(), &p.key("devices"));
    }

    fn luks(&mut self, l: &Luks, p: &JsonPath) {
        if l.name.contains('/') {
            self.err(p.key("name"), msg::LUKS_NAME_SLASH);
        }
        if l.label.as_deref().is_some_and(|x| x.len() > 47) {
            self.err(p.key("label"), msg::LUKS_LABEL_TOO_LONG);
        }
        match l.device.as_deref() {
            None | Some("") => self.err(p.key("device"), msg::DISK_DEVICE_REQUIRED),
            Some(d) => self.path_rule(d, || p.key("device")),
        }
        let c = &l.clevis;
        let empty_custom = ClevisCustom::default();
        let cu = c.custom.as_ref().unwrap_or(&empty_custom);
        // 3.2.0 had a pointer here: any custom object counts; later versions look at the pin.
        let custom_set = if self.version <= Version::V3_2 {
            c.custom.is_some()
        } else {
            !cu.pin.as_deref().unwrap_or("").is_empty()
        };
        if custom_set
            && (!c.tang.is_empty() || c.tpm2 == Some(true) || c.threshold.is_some_and(|t| t != 0))
        {
            self.err(p.key("clevis"), msg::CLEVIS_CUSTOM_WITH_OTHERS);
        }
        if let Some(s) = &l.key_file.source {
            if self.url_problem(s).is_some() {
                self.err(p.key("keys"), msg::LUKS_KEYFILE);
            }
        }
        if l.cex.enabled == Some(true) {
            // Clevis counts as present by its pin, tang servers, tpm2 or threshold (an empty
            // custom object does not); both errors sit at `cex`, as upstream reports them.
            let clevis_present = !cu.pin.as_deref().unwrap_or("").is_empty()
                || !c.tang.is_empty()
                || c.tpm2 == Some(true)
                || c.threshold.is_some_and(|t| t != 0);
            if clevis_present {
                self.err(p.key("cex"), msg::CEX_WITH_CLEVIS);
            }
            if !l.key_file.source.as_deref().unwrap_or("").is_empty() {
                self.err(p.key("cex"), msg::CEX_WITH_KEYFILE);
            }
        }
        let cp = p.key("clevis");
        let pin = cu.pin.as_deref().unwrap_or("");
        let config_empty = cu.config.as_deref().unwrap_or("").is_empty();
        // 3.2.0 had no needsNetwork rule: a custom pin is checked only when pin or config is
        // set, and an empty pin is an unknown one. 3.3.0 added needsNetwork to the trigger and
        // "pin required"; 3.6.0 stopped restricting the pin to tpm2/tang/sss.
        let checked = if self.version <= Version::V3_2 {
            !(pin.is_empty() && config_empty)
        } else {
            !(pin.is_empty() && config_empty && cu.needs_network != Some(true))
        };
        if checked {
            match pin {
                "tpm2" | "tang" | "sss" => {}
                _ if self.version <= Version::V3_2 => {
                    self.err(cp.key("custom").key("pin"), msg::UNKNOWN_CLEVIS_PIN)
                }
                "" => self.err(cp.key("custom").key("pin"), msg::CLEVIS_PIN_REQUIRED),
                _ if self.version >= Version::V3_6 => {}
                _ => self.err(cp.key("custom").key("pin"), msg::UNKNOWN_CLEVIS_PIN),
            }
            if config_empty {
                self.err(cp.key("custom").key("config"), msg::CLEVIS_CONFIG_REQUIRED);
            }
        }
        for (i, t) in c.tang.iter().enumerate() {
            let tp = cp.key("tang").idx(i);
            match url::parse(&t.url) {
                Err(_) => self.err(tp.key("url"), msg::INVALID_URL),
                Ok(u) if u.scheme != "http" && u.scheme != "https" => {
                    self.err(tp.key("url"), msg::INVALID_SCHEME)
                }
                Ok(_) => {}
            }
            if t.thumbprint.as_deref().unwrap_or("").is_empty() {
                self.err(tp.key("thumbprint"), msg::TANG_THUMBPRINT_REQUIRED);
            }
            if let Some(a) = t.advertisement.as_deref().filter(|a| !a.is_empty()) {
                if serde_json::from_str::<serde_json::Value>(a).is_err() {
                    self.err(tp.key("advertisement"), msg::TANG_ADVERTISEMENT);
                }
            }
        }
        self.dups(c.tang.iter().map(|t| t.url.as_str()), &cp.key("tang"));
        // Upstream checks every list for duplicates except luks `options` (and filesystem
        // options/mountOptions, raid options, file append): openOptions is checked.
        self.dups(l.open_options.iter(), &p.key("openOptions"));
        self.resource(&l.key_file, &p.key("keyFile"));
    }

    fn systemd(&mut self, s: &Systemd, p: &JsonPath) {
        let up = p.key("units");
        for (i, u) in s.units.iter().enumerate() {
            let p = up.idx(i);
            if !unit_ext_ok(&u.name) {
                self.err(p.key("name"), msg::INVALID_SYSTEMD_EXT);
            } else if !unit_name_chars_ok(&u.name) {
                self.err(p.key("name"), msg::INVALID_UNIT_NAME);
            }
            let opts = match u.contents.as_deref().map(unit::parse) {
                Some(Err(e)) => {
                    self.err(p.key("contents"), format!("invalid unit content: {e}"));
                    None
                }
                Some(Ok(o)) => Some(o),
                None => None,
            };
            if u.enabled == Some(true) {
                if let Some(o) = &opts {
                    if !u.contents.as_deref().unwrap_or("").is_empty()
                        && !o.iter().any(|o| o.section == "Install")
                    {
                        self.warn(
                            p.key("contents"),
                            format!("unit \"{}\" is enabled, but has no install section so enable does nothing", u.name),
                        );
                    }
                }
            }
            let dp = p.key("dropins");
            for (j, d) in u.dropins.iter().enumerate() {
                if let Some(Err(e)) = d.contents.as_deref().map(unit::parse) {
                    self.err(
                        dp.idx(j).key("contents"),
                        format!("invalid unit content: {e}"),
                    );
                }
                if !d.name.ends_with(".conf") || d.name.rfind('.') != d.name.rfind(".conf") {
                    self.err(dp.idx(j).key("name"), msg::INVALID_DROPIN_EXT);
                } else if !dropin_name_ok(&d.name) {
                    self.err(dp.idx(j).key("name"), msg::INVALID_DROPIN_NAME);
                }
            }
            self.dups(u.dropins.iter().map(|d| d.name.as_str()), &dp);
        }
        self.dups(s.units.iter().map(|u| u.name.as_str()), &up);
        self.template_install_sections(s, &up);
    }

    /// An enabled instance `t@x.service` whose template `t@.service` is in the config with
    /// contents but without an [Install] section: enabling does nothing (upstream's warning).
    fn template_install_sections(&mut self, s: &Systemd, up: &JsonPath) {
        for (i, u) in s.units.iter().enumerate() {
            if u.enabled != Some(true) {
                continue;
            }
            let Some((prefix, instance)) = u
                .name
                .strip_suffix(".service")
                .and_then(|n| n.split_once('@'))
            else {
                continue;
            };
            if prefix.is_empty() || instance.is_empty() {
                continue;
            }
            let template = format!("{prefix}@.service");
            // Upstream keeps the last unit of a name when names repeat.
            let Some(t) = s.units.iter().rev().find(|t| t.name == template) else {
                continue;
            };
            let Some(contents) = t.contents.as_deref().filter(|c| !c.is_empty()) else {
                continue;
            };
            if let Ok(opts) = unit::parse(contents) {
                if !opts.iter().any(|o| o.section == "Install") {
                    self.warn(
                        up.idx(i).key("contents"),
                        format!(
                            "template unit \"{template}\" for \"{}\" doesn't have Install section",
                            u.name
                        ),
                    );
                }
            }
        }
    }

    /// Files, directories and links must not be where a unit or dropin with contents goes.
    fn unit_conflicts(&mut self, c: &Config) {
        let mut unit_paths = HashSet::new();
        for u in &c.systemd.units {
            if !u.contents.as_deref().unwrap_or("").is_empty() {
                unit_paths.insert(format!("/etc/systemd/system/{}", u.name));
            }
            for d in &u.dropins {
                if !d.contents.as_deref().unwrap_or("").is_empty() {
                    unit_paths.insert(format!("/etc/systemd/system/{}.d/{}", u.name, d.name));
                }
            }
        }
        if unit_paths.is_empty() {
            return;
        }
        let s = &c.storage;
        let hits: Vec<JsonPath> = s
            .files
            .iter()
            .enumerate()
            .filter(|(_, f)| unit_paths.contains(&f.path))
            .map(|(i, _)| root().key("storage").key("files").idx(i).key("path"))
            .chain(
                s.directories
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| unit_paths.contains(&d.path))
                    .map(|(i, _)| root().key("storage").key("directories").idx(i).key("path")),
            )
            .chain(
                s.links
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| unit_paths.contains(&l.path))
                    .map(|(i, _)| root().key("storage").key("links").idx(i).key("path")),
            )
            .collect();
        for h in hits {
            self.err(h, msg::PATH_CONFLICTS_SYSTEMD);
        }
    }
}

fn unit_ext_ok(name: &str) -> bool {
    let ext = match name.rfind('.') {
        Some(i) if !name[i..].contains('/') => &name[i..],
        _ => "",
    };
    matches!(
        ext,
        ".service"
            | ".socket"
            | ".device"
            | ".mount"
            | ".automount"
            | ".swap"
            | ".target"
            | ".path"
            | ".timer"
            | ".snapshot"
            | ".slice"
            | ".scope"
    )
}

fn partition_key(p: &Partition) -> String {
    if p.number != 0 {
        format!("number:{}", p.number)
    } else if let Some(l) = &p.label {
        format!("label:{l}")
    } else {
        String::new()
    }
}

/// Ignition's overlap check on partitions with a start and a size (start 0 is placed later;
/// size 0 ends at the start): the index of the partition found overlapping, if any.
fn partitions_overlap(parts: &[Partition]) -> Option<usize> {
    let span = |p: &Partition| match (p.start_mib, p.size_mib) {
        (Some(s), Some(z)) if s != 0 => Some((s, if z == 0 { s } else { s + z - 1 })),
        _ => None,
    };
    for (pi, p) in parts.iter().enumerate() {
        let Some((ps, pe)) = span(p) else { continue };
        for (oi, o) in parts.iter().enumerate() {
            let Some((os, oe)) = span(o) else { continue };
            if pi == oi {
                continue;
            }
            if (ps >= os && ps <= oe) || (pe >= os && pe <= oe) || (ps < os && pe > oe) {
                return Some(oi);
            }
        }
    }
    None
}

/// `arn:partition:s3:::bucket/key` or an access point, as Ignition accepts them.
fn arn_problem(s: &str, u: &url::Url<'_>) -> Option<String> {
    let v = url::query_values(u.raw_query, "versionId");
    if !v.is_empty() && v[0].is_empty() {
        return Some(msg::INVALID_S3_VERSION.into());
    }
    url::parse_s3_arn(s).err().map(|_| msg::INVALID_ARN.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_like_go() {
        for (i, o) in [
            ("/", "/"),
            ("/a/b", "/a/b"),
            ("/a/b/", "/a/b"),
            ("/a//b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../a", "/a"),
            ("a/../..", ".."),
            ("", "."),
        ] {
            assert_eq!(clean_path(i), o, "{i}");
        }
        assert_eq!(check_path("/a/"), Some(msg::DIRTY_PATH));
        assert_eq!(check_path("a"), Some(msg::PATH_RELATIVE));
        assert_eq!(check_path(""), Some(msg::NO_PATH));
        assert_eq!(check_path("/a"), None);
    }

    #[test]
    fn guids() {
        assert!(is_guid("0FC63DAF-8483-4772-8E79-3D69D8477DE4"));
        assert!(is_guid("0fc63daf-8483-4772-8e79-3d69d8477de4"));
        assert!(!is_guid("0FC63DAF-8483-4772-8E79-3D69D8477DE"));
        assert!(!is_guid("0FC63DAF_8483-4772-8E79-3D69D8477DE4"));
    }

    #[test]
    fn arns() {
        let chk = |s: &str| arn_problem(s, &url::parse(s).unwrap());
        assert_eq!(chk("arn:aws:s3:::bucket/key"), None);
        assert_eq!(
            chk("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k"),
            None
        );
        assert!(chk("arn:aws:s3:::bucket").is_some());
        assert!(chk("arn:aws:iam:::bucket/key").is_some());
        assert!(chk("arn:aws:s3:::bucket/key?versionId=").is_some());
    }

    #[test]
    fn overlap() {
        let p = |s, z| Partition {
            start_mib: Some(s),
            size_mib: Some(z),
            ..Default::default()
        };
        assert_eq!(partitions_overlap(&[p(1, 10), p(5, 10)]), Some(1));
        assert_eq!(partitions_overlap(&[p(1, 10), p(11, 10)]), None);
        assert_eq!(partitions_overlap(&[p(1, 10), p(0, 10)]), None);
        assert_eq!(partitions_overlap(&[p(5, 0), p(5, 10)]), Some(1));
    }
}
