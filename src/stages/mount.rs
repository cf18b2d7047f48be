//! The mount and umount stages: filesystems with a `path` are mounted under the target root
//! (shallowest first, so /var goes before /var/log) with their `mountOptions`, their missing
//! mountpoints created through `Root` and recorded in the state; umount undoes it deepest
//! first. Both are idempotent: what is already (un)mounted is left as it is.

use crate::config::types::{Config, Filesystem};
use crate::engine::{Context, Env};
use crate::error::{Context as _, Error, Result};
use crate::stages::util::devices;
use crate::state::State;
use crate::sys::cmd::Cmd;
use crate::sys::mount::parse_mountinfo;
use crate::sys::root::{Kind, Root};
use std::path::{Path, PathBuf};

/// Filesystems to mount, with their JSON paths, shallowest first (config order among equals).
pub fn mountable(cfg: &Config) -> Vec<(String, &Filesystem, String)> {
    let mut v: Vec<(String, &Filesystem, String)> = cfg
        .storage
        .filesystems
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let p = f.path.as_deref().filter(|p| !p.is_empty())?;
            let fmt = f.format.as_deref().unwrap_or("");
            if fmt.is_empty() || fmt == "swap" || fmt == "none" {
                return None;
            }
            Some((format!("$.storage.filesystems.{i}"), f, p.to_string()))
        })
        .collect();
    v.sort_by_key(|(_, _, p)| depth(p));
    v
}

fn depth(p: &str) -> usize {
    p.split('/').filter(|c| !c.is_empty() && *c != ".").count()
}

/// The absolute host path of `p` under the root, without following anything.
fn target(root: &Root, p: &str) -> PathBuf {
    let base = std::fs::canonicalize(root.path()).unwrap_or_else(|_| root.path().to_path_buf());
    let rel = p.trim_start_matches('/');
    if rel.is_empty() {
        base
    } else {
        base.join(rel)
    }
}

/// Refuses mount paths whose existing components are symlinks or not directories.
fn check_components(root: &Root, p: &str) -> Result<()> {
    let mut cur = String::new();
    for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
        if c == ".." {
            return Err(Error::failed(format!("mount path {p} contains \"..\"")));
        }
        cur.push('/');
        cur.push_str(c);
        match root.lstat(&cur)? {
            None => return Ok(()),
            Some(m) if m.kind == Kind::Dir => {}
            Some(m) if m.kind == Kind::Symlink => {
                return Err(Error::failed(format!(
                    "mount path {p} uses a symlink ({cur}); mount paths may not contain symlinks"
                )))
            }
            Some(_) => {
                return Err(Error::failed(format!(
                    "mount path {p}: {cur} exists and is not a directory"
                )))
            }
        }
    }
    Ok(())
}

fn mounted_at(env: &Env, t: &Path) -> Result<Option<(String, String)>> {
    let mi = std::fs::read_to_string(env.host.path("/proc/self/mountinfo"))
        .context(|| "reading /proc/self/mountinfo")?;
    let t = t.to_string_lossy();
    Ok(parse_mountinfo(&mi)
        .into_iter()
        .rev()
        .find(|m| m.target == t)
        .map(|m| (m.source, m.devno)))
}

fn same_device(source: &str, devno: &str, dev: &Path) -> bool {
    if std::fs::canonicalize(source).is_ok_and(|s| s == dev) {
        return true;
    }
    let Some(name) = dev.file_name() else {
        return false;
    };
    std::fs::read_to_string(format!("/sys/class/block/{}/dev", name.to_string_lossy()))
        .is_ok_and(|d| d.trim() == devno)
}

/// Mounts every filesystem with a path under `root`; records created mountpoints in `st`.
pub fn mount(env: &Env, root: &Root, cfg: &Config, st: &mut State) -> Result<()> {
    for (jp, fs, p) in mountable(cfg) {
        let fmt = fs.format.as_deref().unwrap_or("");
        let dev = if fmt == "virtiofs" {
            PathBuf::from(&fs.device)
        } else {
            devices::wait(env, &fs.device, &jp)?
        };
        check_components(root, &p).context(|| jp.clone())?;
        for d in root.mkdir_all(&p, 0o755).context(|| jp.clone())? {
            if !st.notated_directories.contains(&d) {
                st.notated_directories.push(d);
            }
        }
        let t = target(root, &p);
        if let Some((src, devno)) = mounted_at(env, &t)? {
            if fmt == "virtiofs" && src == fs.device || same_device(&src, &devno, &dev) {
                log::info!("{jp}: {} is already mounted on {}", fs.device, t.display());
                continue;
            }
            return Err(Error::failed(format!(
                "{jp}: {} already has {src} mounted on it",
                t.display()
            )));
        }
        let mut c = Cmd::new("mount");
        if !fs.mount_options.is_empty() {
            c = c.args(["-o", &fs.mount_options.join(",")]);
        }
        c = c.args(["-t", fmt]).arg(&dev).arg(&t);
        crate::log::op(
            &format!("mounting {} on {}", fs.device, t.display()),
            || env.runner.run(&c).map(|_| ()),
        )
        .context(|| jp.clone())?;
    }
    Ok(())
}

/// Unmounts what `mount` mounted, deepest first; paths not mounted are skipped.
pub fn umount(env: &Env, root: &Root, cfg: &Config) -> Result<()> {
    for (jp, fs, p) in mountable(cfg).into_iter().rev() {
        let t = target(root, &p);
        if mounted_at(env, &t)?.is_none() {
            log::info!("{jp}: nothing mounted on {}", t.display());
            continue;
        }
        crate::log::op(
            &format!("unmounting {} from {}", fs.device, t.display()),
            || env.runner.run(&Cmd::new("umount").arg(&t)).map(|_| ()),
        )
        .context(|| jp.clone())?;
    }
    Ok(())
}

pub fn run(ctx: &mut Context, cfg: &Config, unmount: bool) -> Result<()> {
    if mountable(cfg).is_empty() {
        log::info!(
            "{}: nothing to do",
            if unmount { "umount" } else { "mount" }
        );
        return Ok(());
    }
    let root = ctx.root()?;
    if unmount {
        return umount(&ctx.env, &root, cfg);
    }
    let (env, st) = ctx.env_and_state()?;
    mount(env, &root, cfg, st)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_order_is_by_depth_then_config_order() {
        let cfg: Config = serde_json::from_value(serde_json::json!({"storage": {"filesystems": [
            {"device": "/dev/a", "format": "xfs", "path": "/var/lib/data"},
            {"device": "/dev/b", "format": "ext4", "path": "/var"},
            {"device": "/dev/c", "format": "swap", "path": "/swap"},
            {"device": "/dev/d", "format": "none", "path": "/none"},
            {"device": "/dev/e", "format": "ext4"},
            {"device": "/dev/f", "format": "vfat", "path": "/boot/efi"},
            {"device": "/dev/g", "format": "ext4", "path": "/boot/"}
        ]}}))
        .unwrap();
        let order: Vec<(String, String)> = mountable(&cfg)
            .into_iter()
            .map(|(j, _, p)| (j, p))
            .collect();
        assert_eq!(
            order,
            vec![
                ("$.storage.filesystems.1".to_string(), "/var".to_string()),
                ("$.storage.filesystems.6".to_string(), "/boot/".to_string()),
                (
                    "$.storage.filesystems.5".to_string(),
                    "/boot/efi".to_string()
                ),
                (
                    "$.storage.filesystems.0".to_string(),
                    "/var/lib/data".to_string()
                ),
            ]
        );
    }
}
