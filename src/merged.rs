//! The merged config checked as a whole: after base configs, the user config and every
//! merge/replace child are combined, the result is validated with the same rules as one
//! document (as Ignition does), and each error names the document(s) its entry came from.
//! Owns provenance (which document contributed which keyed entry); never fetches or merges.

use crate::config::report::{Level, Seg};
use crate::config::types::Config;
use crate::config::{validate, Version};
use crate::error::{Error, Kind, Result};
use std::collections::HashSet;

/// The keyed lists of a config, named as in the spec: merging combines entries by these keys.
const SECTIONS: [(&str, &str); 10] = [
    ("storage", "files"),
    ("storage", "directories"),
    ("storage", "links"),
    ("storage", "disks"),
    ("storage", "filesystems"),
    ("storage", "raid"),
    ("storage", "luks"),
    ("systemd", "units"),
    ("passwd", "users"),
    ("passwd", "groups"),
];

/// The merge key of entry `idx` of `section` (an index into SECTIONS).
fn key_of(cfg: &Config, section: usize, idx: usize) -> Option<&str> {
    let s = &cfg.storage;
    match section {
        0 => s.files.get(idx).map(|e| e.path.as_str()),
        1 => s.directories.get(idx).map(|e| e.path.as_str()),
        2 => s.links.get(idx).map(|e| e.path.as_str()),
        3 => s.disks.get(idx).map(|e| e.device.as_str()),
        4 => s.filesystems.get(idx).map(|e| e.device.as_str()),
        5 => s.raid.get(idx).map(|e| e.name.as_str()),
        6 => s.luks.get(idx).map(|e| e.name.as_str()),
        7 => cfg.systemd.units.get(idx).map(|e| e.name.as_str()),
        8 => cfg.passwd.users.get(idx).map(|e| e.name.as_str()),
        9 => cfg.passwd.groups.get(idx).map(|e| e.name.as_str()),
        _ => None,
    }
}

fn section_len(cfg: &Config, section: usize) -> usize {
    let s = &cfg.storage;
    match section {
        0 => s.files.len(),
        1 => s.directories.len(),
        2 => s.links.len(),
        3 => s.disks.len(),
        4 => s.filesystems.len(),
        5 => s.raid.len(),
        6 => s.luks.len(),
        7 => cfg.systemd.units.len(),
        8 => cfg.passwd.users.len(),
        9 => cfg.passwd.groups.len(),
        _ => 0,
    }
}

/// Which document brought which keyed entries, in merge order.
#[derive(Default)]
pub struct Provenance {
    docs: Vec<(String, HashSet<(usize, String)>)>,
}

impl Provenance {
    /// Records the entries `cfg` itself declares (before its children are merged into it).
    pub fn record(&mut self, origin: &str, cfg: &Config) {
        let mut keys = HashSet::new();
        for section in 0..SECTIONS.len() {
            for idx in 0..section_len(cfg, section) {
                if let Some(k) = key_of(cfg, section, idx) {
                    keys.insert((section, k.to_string()));
                }
            }
        }
        self.docs.push((origin.to_string(), keys));
    }

    /// How many documents went into the merged config.
    pub fn len(&self) -> usize {
        self.docs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.docs.is_empty()
    }

    /// The documents that declared the entry at `path` of the merged config, in merge order.
    fn origins(&self, merged: &Config, path: &[Seg]) -> Vec<&str> {
        let (Some(Seg::Key(a)), Some(Seg::Key(b)), Some(Seg::Index(idx))) =
            (path.first(), path.get(1), path.get(2))
        else {
            return Vec::new();
        };
        let Some(section) = SECTIONS.iter().position(|(x, y)| x == a && y == b) else {
            return Vec::new();
        };
        let Some(key) = key_of(merged, section, *idx) else {
            return Vec::new();
        };
        let wanted = (section, key.to_string());
        self.docs
            .iter()
            .filter(|(_, keys)| keys.contains(&wanted))
            .map(|(o, _)| o.as_str())
            .collect()
    }
}

impl Provenance {
    /// For an entry whose path goes through links of the merged config: each such link and
    /// the documents that declared it (a "path includes link" error names both sides).
    fn links_above(&self, merged: &Config, path: &[Seg]) -> Vec<(String, Vec<&str>)> {
        let (Some(Seg::Key(a)), Some(Seg::Key(b)), Some(Seg::Index(idx))) =
            (path.first(), path.get(1), path.get(2))
        else {
            return Vec::new();
        };
        let Some(section) = SECTIONS[..3].iter().position(|(x, y)| x == a && y == b) else {
            return Vec::new();
        };
        let Some(node) = key_of(merged, section, *idx) else {
            return Vec::new();
        };
        merged
            .storage
            .links
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                node.strip_prefix(l.path.trim_end_matches('/'))
                    .is_some_and(|rest| rest.starts_with('/'))
            })
            .map(|(i, l)| {
                let seg = [
                    Seg::Key("storage".into()),
                    Seg::Key("links".into()),
                    Seg::Index(i),
                ];
                (l.path.clone(), self.origins(merged, &seg))
            })
            .collect()
    }
}

/// Validates the merged config at `version`. Only a config built from more than one document
/// needs it: a single document was validated when it was parsed. Errors are logged, each with
/// the documents its entry came from, and fail the fetch with `Kind::Config`; warnings were
/// already logged per document and are not repeated.
pub fn check(merged: &Config, version: Version, prov: &Provenance) -> Result<()> {
    if prov.len() < 2 {
        return Ok(());
    }
    let report = validate::validate(merged, version);
    if !report.is_fatal() {
        return Ok(());
    }
    let mut errors = 0;
    for e in report.entries.iter().filter(|e| e.level == Level::Error) {
        errors += 1;
        let from = e
            .path
            .as_ref()
            .map(|p| prov.origins(merged, &p.0))
            .unwrap_or_default();
        let mut line = format!("merged config: {e}");
        if !from.is_empty() {
            line.push_str(&format!(" (entry from {})", from.join(", then ")));
        }
        if let Some(p) = &e.path {
            for (link, origins) in prov.links_above(merged, &p.0) {
                line.push_str(&format!("; link {link} from {}", origins.join(", then ")));
            }
        }
        log::error!("{line}");
    }
    Err(Error::new(
        Kind::Config,
        format!(
            "merging configs resulted in an invalid config ({errors} error{})",
            if errors == 1 { "" } else { "s" }
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::merge::merge;

    fn cfg(json: &str) -> Config {
        crate::config::parse(json.as_bytes()).unwrap().config
    }

    #[test]
    fn a_child_link_under_a_parent_file_is_refused_and_named() {
        let parent = cfg(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/motd/x","overwrite":false}]}}"#,
        );
        let child = cfg(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"links":[{"path":"/etc/motd","target":"/tmp"}]}}"#,
        );
        let mut prov = Provenance::default();
        prov.record("user config /run/ignition/user.ign", &parent);
        prov.record("merge config http://127.0.0.1/child.ign", &child);
        let merged = merge(parent, child);
        let err = check(&merged, Version::NEWEST_STABLE, &prov).unwrap_err();
        assert_eq!(err.kind(), Kind::Config);
        assert!(err
            .to_string()
            .contains("merging configs resulted in an invalid config"));
        let report = validate::validate(&merged, Version::NEWEST_STABLE);
        let e = report
            .entries
            .iter()
            .find(|e| e.level == Level::Error)
            .unwrap();
        let from = prov.origins(&merged, &e.path.as_ref().unwrap().0);
        assert_eq!(from, vec!["user config /run/ignition/user.ign"]);
    }

    #[test]
    fn a_directory_under_a_link_of_another_document_is_refused() {
        let a = cfg(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"directories":[{"path":"/opt/app/data"}]}}"#,
        );
        let b = cfg(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"links":[{"path":"/opt/app","target":"/var/app"}]}}"#,
        );
        let mut prov = Provenance::default();
        prov.record("base", &a);
        prov.record("user", &b);
        let merged = merge(a, b);
        assert!(check(&merged, Version::NEWEST_STABLE, &prov).is_err());
    }

    #[test]
    fn a_valid_merge_and_a_single_document_pass() {
        let a = cfg(r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/a"}]}}"#);
        let b = cfg(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/a","mode":420}]}}"#,
        );
        let mut prov = Provenance::default();
        prov.record("base", &a);
        let single = a.clone();
        assert!(check(&single, Version::NEWEST_STABLE, &prov).is_ok());
        prov.record("user", &b);
        let merged = merge(a, b);
        assert!(check(&merged, Version::NEWEST_STABLE, &prov).is_ok());
        let from = prov.origins(
            &merged,
            &crate::config::report::JsonPath::parse("$.storage.files.0.mode").0,
        );
        assert_eq!(from, vec!["base", "user"]);
    }
}
