//! The kargs stage: `kernelArguments` applied to the boot loader. When the distro ships
//! Ignition's `ignition-kargs-helper`, it is called with Ignition's argv (its contract: edit the
//! boot loader, reboot if something changed). Otherwise ignis edits the `options` line of the
//! BLS entries itself (the target's /boot, or the filesystem labelled `boot`), and requests a
//! reboot only when an entry changed.

use super::files::load_cache;
use crate::cli::StageArgs;
use crate::error::{Context, Error, Result};
use crate::providers::HostPaths;
use std::path::{Path, PathBuf};
use std::process::Command;

const HELPER: &str = "/usr/libexec/ignition-kargs-helper";
const ENTRIES: &str = "loader/entries";

pub fn run(args: &StageArgs) -> Result<()> {
    let cfg = load_cache(args)?;
    let k = &cfg.kernel_arguments;
    if k.should_exist.is_empty() && k.should_not_exist.is_empty() {
        log::info!("kargs: no kernel arguments in the config");
        return Ok(());
    }
    let host = HostPaths::new(std::env::var("IGNIS_HOST_ROOT").unwrap_or_else(|_| "/".into()));
    let helper = host.path(HELPER);
    if helper.exists() {
        let mut argv: Vec<String> = Vec::new();
        for a in &k.should_exist {
            argv.push("--should-exist".into());
            argv.push(a.clone());
        }
        for a in &k.should_not_exist {
            argv.push("--should-not-exist".into());
            argv.push(a.clone());
        }
        let st = Command::new(&helper)
            .args(&argv)
            .status()
            .map_err(|e| Error::failed(format!("running {HELPER}: {e}")))?;
        if !st.success() {
            return Err(Error::failed(format!("{HELPER} failed ({st})")));
        }
        return Ok(());
    }
    let changed = match boot_dir(args, &host)? {
        BootDir::InRoot(dir) => edit_entries(&dir, &k.should_exist, &k.should_not_exist)?,
        BootDir::Device(dev) => with_mounted_rw(&dev, |dir| {
            edit_entries(dir, &k.should_exist, &k.should_not_exist)
        })?,
    };
    if changed == 0 {
        log::info!("kargs: the boot entries already have the requested kernel arguments");
        return Ok(());
    }
    log::info!(
        "kargs: updated {changed} boot entr{}; a reboot is needed",
        if changed == 1 { "y" } else { "ies" }
    );
    crate::state::touch(&host.path("/run/ignition/kargs-reboot"))?;
    if host.path("/run/systemd/system").exists() {
        let st = Command::new("systemctl")
            .args(["reboot", "--force"])
            .status()
            .map_err(|e| Error::failed(format!("requesting a reboot: {e}")))?;
        if !st.success() {
            return Err(Error::failed(format!("systemctl reboot failed ({st})")));
        }
    }
    Ok(())
}

enum BootDir {
    InRoot(PathBuf),
    Device(PathBuf),
}

fn boot_dir(args: &StageArgs, host: &HostPaths) -> Result<BootDir> {
    let in_root = args.root.join("boot");
    if in_root.join(ENTRIES).is_dir() {
        return Ok(BootDir::InRoot(in_root));
    }
    let dev = host.path("/dev/disk/by-label/boot");
    if dev.exists() {
        return Ok(BootDir::Device(dev));
    }
    Err(Error::failed(
        "kernelArguments: no boot loader entries found (no /boot/loader/entries in the target and no filesystem labelled boot)",
    ))
}

fn with_mounted_rw<T>(dev: &Path, f: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    let dir = std::env::temp_dir().join(format!("ignis-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::failed(format!("creating {}: {e}", dir.display())))?;
    let st = Command::new("mount")
        .arg(dev)
        .arg(&dir)
        .status()
        .map_err(|e| Error::failed(format!("running mount: {e}")))?;
    if !st.success() {
        let _ = std::fs::remove_dir(&dir);
        return Err(Error::failed(format!(
            "mounting {} failed ({st})",
            dev.display()
        )));
    }
    let r = f(&dir);
    let _ = Command::new("umount").arg(&dir).status();
    let _ = std::fs::remove_dir(&dir);
    r
}

/// Edits every `*.conf` entry under `boot/loader/entries`; returns how many changed.
fn edit_entries(
    boot: &Path,
    should_exist: &[String],
    should_not_exist: &[String],
) -> Result<usize> {
    let dir = boot.join(ENTRIES);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| Error::failed(format!("listing {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "conf"))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::failed(format!(
            "no boot entries in {}",
            dir.display()
        )));
    }
    let mut changed = 0;
    for p in names {
        let text = std::fs::read_to_string(&p)
            .map_err(|e| Error::failed(format!("reading {}: {e}", p.display())))?;
        if let Some(new) = crate::kargs::edit_bls_entry(&text, should_exist, should_not_exist) {
            crate::state::write_atomic(&p, new.as_bytes(), 0o644)
                .context(|| format!("updating {}", p.display()))?;
            changed += 1;
        }
    }
    Ok(changed)
}
