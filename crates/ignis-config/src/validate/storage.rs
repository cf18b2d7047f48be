//! Storage nodes: files, directories and links (paths, modes, owners, duplicates, links in
//! their paths).

use super::{clean_path, msg, Validator};
use crate::report::JsonPath;
use crate::types::Storage;
use crate::version::Version;
use std::collections::HashSet;

impl Validator {
    pub(super) fn storage(&mut self, s: &Storage, p: &JsonPath) {
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

    pub(super) fn owner(
        &mut self,
        id: Option<i64>,
        name: Option<&str>,
        at: impl FnOnce() -> JsonPath,
    ) {
        if id.is_some() && !name.unwrap_or("").is_empty() {
            self.err(at(), msg::BOTH_ID_AND_NAME);
        }
    }

    pub(super) fn mode(&mut self, m: Option<i64>, node: &JsonPath) {
        if let Some(m) = m {
            if !(0..=0o7777).contains(&m) {
                self.err(node.key("mode"), msg::ILLEGAL_MODE);
            }
            if m & 0o7000 != 0 && self.version < Version::V3_6 {
                self.warn(node.key("mode"), msg::SPECIAL_MODE_BITS);
            }
        }
    }

    pub(super) fn node_links(&mut self, s: &Storage, p: &JsonPath) {
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
}
