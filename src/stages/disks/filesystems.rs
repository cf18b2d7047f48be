//! Filesystems: probe each device, keep a filesystem whose type, label and UUID match, refuse
//! to destroy anything else unless `wipeFilesystem`, otherwise `wipefs -a` and the mkfs tool
//! with Ignition's argument mapping (the config's options first). Independent devices are
//! formatted in parallel threads; entries on one device run in config order.

use super::{kernel, Env};
use crate::config::types::{Config, Filesystem};
use crate::error::{Context, Error, Result};
use crate::stages::util::devices;
use crate::sys::cmd::Cmd;
use crate::sys::probe::{self, FsInfo};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The UUID as compared and passed to mkfs: lower case; for vfat, the volume ID without the
/// dash blkid prints (`A1B2-C3D4` -> `a1b2c3d4`), which is what mkfs.fat takes.
pub fn canonical_uuid(format: &str, uuid: &str) -> String {
    let mut u = uuid.to_lowercase();
    if format == "vfat" && u.len() >= 5 && u.as_bytes()[4] == b'-' {
        u.remove(4);
    }
    u
}

/// Whether the filesystem found can be kept as it is.
pub fn reusable(fs: &Filesystem, info: &FsInfo) -> bool {
    let format = fs.format.as_deref().unwrap_or("");
    let type_ok = if format == "none" {
        info.is_blank()
    } else {
        info.fstype == format
    };
    type_ok
        && fs.label.as_ref().is_none_or(|l| *l == info.label)
        && fs
            .uuid
            .as_ref()
            .is_none_or(|u| canonical_uuid(&info.fstype, &info.uuid) == canonical_uuid(format, u))
}

/// The mkfs command for `fs` on `dev` (None for format `none`).
pub fn mkfs_cmd(fs: &Filesystem, dev: &Path) -> Result<Option<Cmd>> {
    let format = fs.format.as_deref().unwrap_or("");
    let uuid = fs.uuid.as_deref().map(|u| canonical_uuid(format, u));
    let label = fs.label.as_deref();
    let mut args: Vec<String> = Vec::new();
    let prog = match format {
        "none" => return Ok(None),
        "btrfs" => {
            args.push("--force".into());
            if let Some(u) = uuid {
                args.extend(["-U".into(), u]);
            }
            if let Some(l) = label {
                args.extend(["-L".into(), l.into()]);
            }
            "mkfs.btrfs"
        }
        "ext4" => {
            args.push("-F".into());
            if let Some(u) = uuid {
                args.extend(["-U".into(), u]);
            }
            if let Some(l) = label {
                args.extend(["-L".into(), l.into()]);
            }
            "mkfs.ext4"
        }
        "xfs" => {
            args.push("-f".into());
            if let Some(u) = uuid {
                args.extend(["-m".into(), format!("uuid={u}")]);
            }
            if let Some(l) = label {
                args.extend(["-L".into(), l.into()]);
            }
            "mkfs.xfs"
        }
        "swap" => {
            args.push("-f".into());
            if let Some(u) = uuid {
                args.extend(["-U".into(), u]);
            }
            if let Some(l) = label {
                args.extend(["-L".into(), l.into()]);
            }
            "mkswap"
        }
        "vfat" => {
            // mkfs.fat has no force flag: it always overwrites.
            if let Some(u) = uuid {
                args.extend(["-i".into(), u]);
            }
            if let Some(l) = label {
                args.extend(["-n".into(), l.into()]);
            }
            "mkfs.fat"
        }
        other => {
            return Err(Error::failed(format!(
                "unsupported filesystem format {other:?}"
            )))
        }
    };
    Ok(Some(
        Cmd::new(prog).args(fs.options.iter()).args(args).arg(dev),
    ))
}

/// Formats (or keeps) one filesystem on the resolved node `dev`.
fn create(env: &Env, path: &str, fs: &Filesystem, dev: &Path) -> Result<()> {
    let format = fs.format.as_deref().unwrap_or("");
    let info = probe::probe(dev)?;
    if fs.wipe_filesystem != Some(true) {
        if reusable(fs, &info) {
            log::info!(
                "{path}: {} already has the requested {format} filesystem (label {:?}, UUID {}): keeping it",
                fs.device,
                info.label,
                info.uuid
            );
            return Ok(());
        }
        if !info.is_blank() {
            let found = if info.fstype.is_empty() {
                format!("a {} partition table", info.pttype)
            } else {
                format!("{}, {:?}, {}", info.fstype, info.label, info.uuid)
            };
            return Err(Error::failed(format!(
                "filesystem at {} is not of the correct type, label, or UUID (found {found}) and a filesystem wipe was not requested",
                fs.device
            )));
        }
    }
    env.runner
        .run(&Cmd::new("wipefs").arg("-a").arg(dev))
        .context(|| format!("wiping filesystem signatures from {}", fs.device))?;
    match mkfs_cmd(fs, dev)? {
        None => log::info!("{path}: {} wiped (format none)", fs.device),
        Some(cmd) => {
            crate::log::op(
                &format!("creating {format} filesystem on {}", fs.device),
                || env.runner.run(&cmd).map(|_| ()),
            )?;
        }
    }
    kernel::trigger(env, dev);
    Ok(())
}

/// The filesystems with a block format, with their JSON paths.
fn block_filesystems(cfg: &Config) -> Vec<(String, &Filesystem)> {
    cfg.storage
        .filesystems
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            let fmt = f.format.as_deref().unwrap_or("");
            !fmt.is_empty() && fmt != "virtiofs"
        })
        .map(|(i, f)| (format!("$.storage.filesystems.{i}"), f))
        .collect()
}

/// Creates every filesystem of the config.
pub fn apply(env: &Env, cfg: &Config) -> Result<()> {
    let fss = block_filesystems(cfg);
    if fss.is_empty() {
        return Ok(());
    }
    let wanted: Vec<(String, String)> = fss
        .iter()
        .map(|(p, f)| (f.device.clone(), p.clone()))
        .collect();
    let nodes = devices::wait_all(env, &wanted)?;
    // Group by device node: one thread per device, entries of a device in order.
    let mut groups: BTreeMap<PathBuf, Vec<(String, &Filesystem)>> = BTreeMap::new();
    for ((p, f), node) in fss.into_iter().zip(nodes) {
        groups.entry(node).or_default().push((p, f));
    }
    let groups: Vec<_> = groups.iter().collect();
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    crate::stages::util::on_threads(groups.len(), &|| loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some((node, list)) = groups.get(k) else {
            break;
        };
        let r = list
            .iter()
            .try_for_each(|(p, f)| create(env, p, f, node).context(|| p.clone()));
        if let Ok(mut d) = done.lock() {
            d.push((k, r));
        }
    })?;
    // In device order, whichever thread finished first.
    let mut results: Vec<Option<Result<()>>> = groups.iter().map(|_| None).collect();
    for (k, r) in done
        .into_inner()
        .map_err(|_| Error::failed("a filesystem thread panicked"))?
    {
        results[k] = Some(r);
    }
    let results = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::failed("a filesystem thread stopped early"))));
    // The first error fails the stage (and is printed by its failure line); the others are
    // logged here, so that each is printed once.
    let mut first = None;
    for r in results {
        if let Err(e) = r {
            if first.is_none() {
                first = Some(e);
            } else {
                log::error!("{e}");
            }
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(()),
    }
}
