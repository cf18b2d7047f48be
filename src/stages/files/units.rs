//! systemd units of the config: unit files and dropins under /etc/systemd/system, masking
//! (a symlink to /dev/null) and unmasking, and `enabled` as lines of
//! /etc/systemd/system-preset/20-ignition.preset in Ignition's format (instances of a template
//! grouped on one line, sorted). Disabling an enabled unit removes the symlinks
//! `systemctl disable` would, natively, instead of forking systemctl per unit.

use super::Applied;
use crate::config::types::{Config, Unit};
use crate::config::unit as unitfile;
use crate::error::{Context, Result};
use crate::sys::root::{Kind, Root};
use std::collections::BTreeMap;

const UNIT_DIR: &str = "/etc/systemd/system";
const PRESET: &str = "/etc/systemd/system-preset/20-ignition.preset";

/// `foo@bar.service` -> (`foo@.service`, Some(`bar`)); plain units -> (name, None).
fn template_of(name: &str) -> (String, Option<String>) {
    if let Some((base, rest)) = name.split_once('@') {
        if let Some(dot) = rest.rfind('.') {
            let (inst, ext) = rest.split_at(dot);
            if !inst.is_empty() {
                return (format!("{base}@{ext}"), Some(inst.to_string()));
            }
        }
    }
    (name.to_string(), None)
}

/// The preset lines for the config's units, in Ignition's order and format.
pub fn preset_lines(units: &[Unit]) -> Vec<String> {
    // (template or unit, enable?) -> instances
    let mut presets: BTreeMap<(String, bool), Vec<String>> = BTreeMap::new();
    for u in units {
        let Some(enabled) = u.enabled else { continue };
        let (key, inst) = template_of(&u.name);
        let e = presets.entry((key, enabled)).or_default();
        if let Some(i) = inst {
            if !e.contains(&i) {
                e.push(i);
            }
        }
    }
    presets
        .into_iter()
        .map(|((unit, enabled), instances)| {
            let verb = if enabled { "enable" } else { "disable" };
            if instances.is_empty() {
                format!("{verb} {unit}")
            } else {
                format!("{verb} {unit} {}", instances.join(" "))
            }
        })
        .collect()
}

pub fn apply(root: &Root, cfg: &Config, out: &mut Applied) -> Result<()> {
    for (i, u) in cfg.systemd.units.iter().enumerate() {
        let what = format!("$.systemd.units.{i} {:?}", u.name);
        crate::log::op(&format!("processing unit {what}"), || unit(root, u, out))
            .context(|| what.clone())?;
    }
    let lines = preset_lines(&cfg.systemd.units);
    if !lines.is_empty() {
        let mut body = root.read(PRESET)?.unwrap_or_default();
        if !body.is_empty() && !body.ends_with(b"\n") {
            body.push(b'\n');
        }
        for l in &lines {
            body.extend_from_slice(l.as_bytes());
            body.push(b'\n');
        }
        let existed = root.lstat(PRESET)?.is_some();
        out.created
            .extend(root.mkdir_all("/etc/systemd/system-preset", 0o755)?);
        root.write_atomic(PRESET, &body, 0o644, 0, 0)
            .context(|| format!("writing {PRESET}"))?;
        if !existed {
            out.created.push(PRESET.to_string());
        }
    }
    Ok(())
}

fn unit(root: &Root, u: &Unit, out: &mut Applied) -> Result<()> {
    let path = format!("{UNIT_DIR}/{}", u.name);
    if let Some(c) = &u.contents {
        out.created.extend(root.mkdir_all(UNIT_DIR, 0o755)?);
        let existed = root.lstat(&path)?.is_some();
        if existed {
            root.remove_all(&path)?;
        }
        root.write_atomic(&path, c.as_bytes(), 0o644, 0, 0)?;
        out.created.push(path.clone());
    }
    for d in &u.dropins {
        let Some(c) = &d.contents else { continue };
        let dir = format!("{UNIT_DIR}/{}.d", u.name);
        out.created.extend(root.mkdir_all(&dir, 0o755)?);
        let p = format!("{dir}/{}", d.name);
        root.write_atomic(&p, c.as_bytes(), 0o644, 0, 0)?;
        out.created.push(p);
    }
    match u.mask {
        Some(true) => {
            out.created.extend(root.mkdir_all(UNIT_DIR, 0o755)?);
            root.remove_all(&path)?;
            root.symlink("/dev/null", &path)?;
            out.created.push(path.clone());
        }
        Some(false) => {
            if let Some(m) = root.lstat(&path)? {
                if m.kind == Kind::Symlink && root.readlink(&path)? == "/dev/null" {
                    root.unlink(&path)?;
                }
            }
        }
        None => {}
    }
    if u.enabled == Some(false) {
        disable(root, u)?;
    }
    Ok(())
}

/// Removes what `systemctl disable` removes for `u`: its symlinks in `*.wants`, `*.requires`
/// and `*.upholds` directories of /etc/systemd/system, and its `Alias=` names.
fn disable(root: &Root, u: &Unit) -> Result<()> {
    let mut removed = 0;
    for d in root.list_dir(UNIT_DIR)? {
        if !(d.ends_with(".wants") || d.ends_with(".requires") || d.ends_with(".upholds")) {
            continue;
        }
        let p = format!("{UNIT_DIR}/{d}/{}", u.name);
        if root.lstat(&p)?.is_some_and(|m| m.kind == Kind::Symlink) {
            root.unlink(&p)?;
            removed += 1;
        }
    }
    let contents = match &u.contents {
        Some(c) => Some(c.clone()),
        None => root
            .read(&format!("{UNIT_DIR}/{}", u.name))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()),
    };
    if let Some(opts) = contents.as_deref().and_then(|c| unitfile::parse(c).ok()) {
        for o in opts
            .iter()
            .filter(|o| o.section == "Install" && o.name == "Alias")
        {
            for alias in o.value.split_whitespace() {
                let p = format!("{UNIT_DIR}/{alias}");
                if root.lstat(&p)?.is_some_and(|m| m.kind == Kind::Symlink) {
                    root.unlink(&p)?;
                    removed += 1;
                }
            }
        }
    }
    if removed > 0 {
        log::info!("disabled {}: removed {removed} symlink(s)", u.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(name: &str, enabled: Option<bool>) -> Unit {
        Unit {
            name: name.into(),
            enabled,
            ..Default::default()
        }
    }

    #[test]
    fn presets_group_instances_and_sort() {
        let lines = preset_lines(&[
            u("zeta.service", Some(true)),
            u("echo@b.service", Some(true)),
            u("alpha.service", Some(false)),
            u("echo@a.service", Some(true)),
            u("untouched.service", None),
            u("echo@c.service", Some(false)),
        ]);
        assert_eq!(
            lines,
            vec![
                "disable alpha.service",
                "disable echo@.service c",
                "enable echo@.service b a",
                "enable zeta.service",
            ]
        );
    }

    #[test]
    fn templates() {
        assert_eq!(
            template_of("a@b.service"),
            ("a@.service".into(), Some("b".into()))
        );
        assert_eq!(template_of("a@.service"), ("a@.service".into(), None));
        assert_eq!(template_of("a.service"), ("a.service".into(), None));
    }
}
