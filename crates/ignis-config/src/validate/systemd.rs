//! The `systemd` section: unit and drop-in names and extensions, template install sections,
//! and storage paths that collide with units.

use super::{msg, root, Validator};
use crate::report::JsonPath;
use crate::types::{Config, Systemd};
use crate::unit;
use std::collections::HashSet;

impl Validator {
    pub(super) fn systemd(&mut self, s: &Systemd, p: &JsonPath) {
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
    pub(super) fn template_install_sections(&mut self, s: &Systemd, up: &JsonPath) {
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
    pub(super) fn unit_conflicts(&mut self, c: &Config) {
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
