//! systemd units of the config: unit files and dropins under /etc/systemd/system, masking
//! (a symlink to /dev/null) and unmasking, and `enabled` as lines of
//! /etc/systemd/system-preset/20-ignition.preset in Ignition's format (instances of a template
//! grouped on one line, sorted). Disabling an enabled unit removes the symlinks
//! `systemctl disable` would, natively, instead of forking systemctl per unit.

use super::unitlinks::Links;
use super::Applied;
use crate::config::types::{Config, Unit};
use crate::config::unit as unitfile;
use crate::error::Error;
use crate::error::{Context, Result};
use crate::sys::root::{DirCache, Kind, Root};
use std::collections::BTreeMap;

const UNIT_DIR: &str = "/etc/systemd/system";
pub const PRESET: &str = "/etc/systemd/system-preset/20-ignition.preset";

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
    // The unit directory's symlinks, scanned at the first disable.
    let mut links = None;
    // The unit directory and the dropin directories, each opened once while nothing removes
    // entries there.
    let mut dirs = DirCache::new(16);
    for (i, u) in cfg.systemd.units.iter().enumerate() {
        let what = format!("$.systemd.units.{i} {:?}", u.name);
        crate::log::op(&format!("processing unit {what}"), || {
            unit(root, &mut dirs, &mut links, u, out)
        })
        .context(|| what.clone())?;
    }
    let lines = preset_lines(&cfg.systemd.units);
    if !lines.is_empty() {
        write_presets(root, &lines, out)?;
    }
    Ok(())
}

/// Appends `lines` to the preset file, in place when it exists (as Ignition does: its inode and
/// label are kept), starting on a new line when the file does not end with one.
fn write_presets(root: &Root, lines: &[String], out: &mut Applied) -> Result<()> {
    let mut body = Vec::new();
    for l in lines {
        body.extend_from_slice(l.as_bytes());
        body.push(b'\n');
    }
    match root.lstat(PRESET)? {
        Some(m) if m.kind == Kind::File => {
            let old = root.read(PRESET)?.unwrap_or_default();
            if !old.is_empty() && !old.ends_with(b"\n") {
                body.insert(0, b'\n');
            }
            let mut f = root.open_append(PRESET)?;
            std::io::Write::write_all(&mut f, &body).context(|| format!("appending to {PRESET}"))
        }
        other => {
            // Missing, or not a regular file (replaced, like any file Ignition writes).
            out.created
                .extend(root.mkdir_all("/etc/systemd/system-preset", 0o755)?);
            root.write_atomic(PRESET, &body, 0o644, 0, 0)
                .context(|| format!("writing {PRESET}"))?;
            if other.is_none() {
                out.created.push(PRESET.to_string());
            }
            Ok(())
        }
    }
}

/// One unit's files, mask and disable; `links` (once scanned) follows every change made to
/// links under the unit directory.
fn unit(
    root: &Root,
    dirs: &mut DirCache,
    links: &mut Option<Links>,
    u: &Unit,
    out: &mut Applied,
) -> Result<()> {
    let path = format!("{UNIT_DIR}/{}", u.name);
    let forget = |links: &mut Option<Links>, p: &str| {
        if let Some(l) = links {
            l.forget(p);
        }
    };
    if let Some(c) = &u.contents {
        ensure_dir(root, dirs, UNIT_DIR, out)?;
        let existed = match dirs.get(root, UNIT_DIR)? {
            Some(d) => d.lstat(&u.name)?.is_some(),
            None => root.lstat(&path)?.is_some(),
        };
        if existed {
            root.remove_all(&path)?;
            dirs.clear();
            forget(links, &path);
        }
        write_in(root, dirs, UNIT_DIR, &u.name, c.as_bytes())?;
        out.created.push(path.clone());
    }
    for d in &u.dropins {
        let Some(c) = &d.contents else { continue };
        let dir = format!("{UNIT_DIR}/{}.d", u.name);
        let p = format!("{dir}/{}", d.name);
        dropin_dir(root, dirs, &dir, out)?;
        write_in(root, dirs, &dir, &d.name, c.as_bytes())?;
        forget(links, &p);
        out.created.push(p);
    }
    match u.mask {
        Some(true) => {
            ensure_dir(root, dirs, UNIT_DIR, out)?;
            root.remove_all(&path)?;
            dirs.clear();
            forget(links, &path);
            root.symlink("/dev/null", &path)?;
            if let Some(l) = links {
                l.add_top(&u.name, "/dev/null");
            }
            out.created.push(path.clone());
        }
        Some(false) => {
            if let Some(m) = root.lstat(&path)? {
                if m.kind == Kind::Symlink && root.readlink(&path)? == "/dev/null" {
                    root.unlink(&path)?;
                    dirs.clear();
                    forget(links, &path);
                }
            }
        }
        None => {}
    }
    if u.enabled == Some(false) {
        disable(root, links, u)?;
        dirs.clear();
    }
    Ok(())
}

/// Writes `bytes` to `dir/name` atomically (0644, root), `dir` from `dirs`, made when missing.
fn write_in(root: &Root, dirs: &mut DirCache, dir: &str, name: &str, bytes: &[u8]) -> Result<()> {
    let d = match dirs.get(root, dir)? {
        Some(d) => d,
        None => {
            root.mkdir_all(dir, 0o755)?;
            dirs.get(root, dir)?.ok_or_else(|| {
                Error::failed(format!("{dir} is missing right after it was created"))
            })?
        }
    };
    d.write_atomic(name, bytes, 0o644, 0, 0)
}

/// The dropin directory `dir` (in the unit directory), made when missing. The common case, a
/// new directory in an existing unit directory, is one mkdir where that directory is;
/// anything else (a missing unit directory, a symlink or a file in the way) goes through
/// `mkdir_all`, which follows or reports it.
fn dropin_dir(root: &Root, dirs: &mut DirCache, dir: &str, out: &mut Applied) -> Result<()> {
    if dirs.get(root, dir)?.is_some() {
        return Ok(());
    }
    let name = &dir[UNIT_DIR.len() + 1..];
    if let Some(parent) = dirs.get(root, UNIT_DIR)? {
        if parent.lstat(name)?.is_none() {
            parent.mkdir(name, 0o755, None)?;
            out.created.push(dir.to_string());
            return Ok(());
        }
    }
    out.created.extend(root.mkdir_all(dir, 0o755)?);
    Ok(())
}

/// The directory `dir`, made (with its parents) when missing: one lookup when it is there.
fn ensure_dir(root: &Root, dirs: &mut DirCache, dir: &str, out: &mut Applied) -> Result<()> {
    if dirs.get(root, dir)?.is_none() {
        out.created.extend(root.mkdir_all(dir, 0o755)?);
    }
    Ok(())
}

/// Where systemd looks for unit files, in order (`systemctl --root` without the runtime
/// control and generator directories, which are empty before first boot).
const UNIT_PATH: &[&str] = &[
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// The contents of `u`'s unit file: the configured ones, else the first file found on the unit
/// path under its name, or, for an instance, under its template's name.
fn unit_contents(root: &Root, u: &Unit) -> Result<Option<String>> {
    if let Some(c) = &u.contents {
        return Ok(Some(c.clone()));
    }
    let (template, instance) = template_of(&u.name);
    let mut names = vec![u.name.as_str()];
    if instance.is_some() {
        names.push(&template);
    }
    for name in names {
        for dir in UNIT_PATH {
            if let Some(b) = root.read(&format!("{dir}/{name}"))? {
                return Ok(Some(String::from_utf8_lossy(&b).into_owned()));
            }
        }
    }
    Ok(None)
}

/// Does what `systemctl --root R disable` does for `u`, natively: removes, anywhere under
/// /etc/systemd/system, the symlinks named after the unit or one of its `Alias=` names and
/// those pointing to a file of its name, then the directories that this left empty. A masked
/// unit is left alone, as systemctl does.
fn disable(root: &Root, links: &mut Option<Links>, u: &Unit) -> Result<()> {
    let own = format!("{UNIT_DIR}/{}", u.name);
    if root.lstat(&own)?.is_some_and(|m| m.kind == Kind::Symlink)
        && root.readlink(&own)? == "/dev/null"
    {
        log::info!("not disabling {}: it is masked", u.name);
        return Ok(());
    }
    let mut names = vec![u.name.clone()];
    if let Some(opts) = unit_contents(root, u)?
        .as_deref()
        .and_then(|c| unitfile::parse(c).ok())
    {
        for o in opts
            .iter()
            .filter(|o| o.section == "Install" && o.name == "Alias")
        {
            // Aliases with specifiers (%i, ...) would need systemd's expansion: left alone.
            names.extend(
                o.value
                    .split_whitespace()
                    .filter(|a| !a.contains('%'))
                    .map(String::from),
            );
        }
    }
    let links = match links {
        Some(l) => l,
        None => links.insert(Links::scan(root, UNIT_DIR)?),
    };
    let removed = links.disable(root, &u.name, &names)?;
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

    fn tmp_root(name: &str) -> (std::path::PathBuf, Root) {
        // Outlives this helper, as the paths it hands out do.
        let d = tempfile::Builder::new()
            .prefix(&format!("ignis-{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        std::fs::create_dir_all(&d).unwrap();
        let r = Root::open(&d).unwrap();
        (d, r)
    }

    fn ln(d: &std::path::Path, target: &str, at: &str) {
        let p = d.join(at.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, p).unwrap();
    }

    /// The layout `systemctl --root R disable old.service` was checked against (systemd 252):
    /// it removes every link named old.service or its alias or pointing to old.service, however
    /// deep, and the directories that emptied, but not an unrelated empty directory.
    #[test]
    fn disable_removes_what_systemctl_disable_removes() {
        let (d, r) = tmp_root("disable");
        let lib = "/usr/lib/systemd/system/old.service";
        r.write_atomic(
            lib,
            b"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\nAlias=old-alias.service\n",
            0o644,
            0,
            0,
        )
        .unwrap();
        let sys = "/etc/systemd/system";
        ln(
            &d,
            lib,
            &format!("{sys}/multi-user.target.wants/old.service"),
        );
        ln(&d, lib, &format!("{sys}/x.target.wants/renamed.service"));
        ln(
            &d,
            "/usr/lib/systemd/system/other.service",
            &format!("{sys}/x.target.wants/other.service"),
        );
        ln(
            &d,
            lib,
            &format!("{sys}/sockets.target.requires/old.service"),
        );
        ln(&d, lib, &format!("{sys}/old-alias.service"));
        ln(&d, lib, &format!("{sys}/deep/a.wants/old.service"));
        r.mkdir_all(&format!("{sys}/empty.target.wants"), 0o755)
            .unwrap();
        disable(&r, &mut None, &u("old.service", Some(false))).unwrap();
        let mut left = Vec::new();
        for n in r.list_dir(sys).unwrap() {
            left.push(n.clone());
            for m in r.list_dir(&format!("{sys}/{n}")).unwrap() {
                left.push(format!("{n}/{m}"));
            }
        }
        assert_eq!(
            left,
            vec![
                "empty.target.wants",
                "x.target.wants",
                "x.target.wants/other.service"
            ]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn disable_leaves_masked_units_and_finds_templates() {
        let (d, r) = tmp_root("disable-masked");
        let sys = "/etc/systemd/system";
        ln(&d, "/dev/null", &format!("{sys}/m.service"));
        ln(
            &d,
            "/usr/lib/systemd/system/m.service",
            &format!("{sys}/a.target.wants/m.service"),
        );
        disable(&r, &mut None, &u("m.service", Some(false))).unwrap();
        assert!(r
            .lstat(&format!("{sys}/a.target.wants/m.service"))
            .unwrap()
            .is_some());
        assert!(r.lstat(&format!("{sys}/m.service")).unwrap().is_some());
        // An instance: its template's Alias= is honoured; other instances are left alone.
        r.write_atomic(
            "/usr/lib/systemd/system/getty@.service",
            b"[Install]\nWantedBy=getty.target\nAlias=tty-alias.service\n",
            0o644,
            0,
            0,
        )
        .unwrap();
        let t = "/usr/lib/systemd/system/getty@.service";
        ln(
            &d,
            t,
            &format!("{sys}/getty.target.wants/getty@tty3.service"),
        );
        ln(
            &d,
            t,
            &format!("{sys}/getty.target.wants/getty@tty4.service"),
        );
        ln(&d, t, &format!("{sys}/tty-alias.service"));
        disable(&r, &mut None, &u("getty@tty3.service", Some(false))).unwrap();
        assert_eq!(
            r.list_dir(&format!("{sys}/getty.target.wants")).unwrap(),
            vec!["getty@tty4.service"]
        );
        assert!(r
            .lstat(&format!("{sys}/tty-alias.service"))
            .unwrap()
            .is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn presets_append_in_place_on_a_new_line() {
        let (d, r) = tmp_root("presets");
        r.write_atomic(PRESET, b"enable before.service", 0o640, 0, 0)
            .unwrap();
        let ino = r.lstat(PRESET).unwrap().unwrap().ino;
        let mut out = Applied::default();
        write_presets(&r, &["enable a.service".to_string()], &mut out).unwrap();
        assert_eq!(
            r.read(PRESET).unwrap().unwrap(),
            b"enable before.service\nenable a.service\n"
        );
        let m = r.lstat(PRESET).unwrap().unwrap();
        assert_eq!((m.ino, m.mode), (ino, 0o640), "same file, mode kept");
        assert!(out.created.is_empty());
        r.remove_all("/etc/systemd").unwrap();
        write_presets(&r, &["disable b.service".to_string()], &mut out).unwrap();
        assert_eq!(r.read(PRESET).unwrap().unwrap(), b"disable b.service\n");
        assert_eq!(
            out.created,
            vec!["/etc/systemd", "/etc/systemd/system-preset", PRESET]
        );
        std::fs::remove_dir_all(&d).unwrap();
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
