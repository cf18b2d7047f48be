//! The kargs stage: `kernelArguments` applied to the boot loader. When the distro ships
//! Ignition's `ignition-kargs-helper` (found in PATH, as Ignition runs it by name, then in
//! /usr/libexec), it is called with Ignition's argv; its contract: edit the boot loader, reboot
//! if something changed, exit non-zero on failure. Otherwise ignis edits the `options` line of
//! the BLS entries itself (the target's /boot, or the filesystem labelled `boot`), and requests
//! a reboot only when an entry changed. Commands run through the `Runner` seam.

use crate::cli::StageArgs;
use crate::config::types::{Config, KernelArguments};
use crate::engine::Context;
use crate::error::{Context as _, Error, Result};
use crate::providers::HostPaths;
use crate::sys::cmd::{Cmd, Runner};
use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The helper's name; Ignition runs it through a PATH lookup (NestOS installs it in /usr/sbin).
const HELPER_NAME: &str = "ignition-kargs-helper";
/// Where ignis looked for it before PATH was searched; kept as the second choice.
const LIBEXEC_HELPER: &str = "/usr/libexec/ignition-kargs-helper";
const ENTRIES: &str = "loader/entries";
/// PATH when the environment has none: systemd's default for services.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub fn run(ctx: &mut Context, cfg: &Config) -> Result<()> {
    let k = &cfg.kernel_arguments;
    if k.should_exist.is_empty() && k.should_not_exist.is_empty() {
        log::info!("kargs: no kernel arguments in the config");
        return Ok(());
    }
    let path = crate::distro::path();
    apply(ctx.args, k, &ctx.env.host, path.as_deref(), ctx.env.runner)
}

/// Applies `k` with the helper if there is one, else natively. `path` is the PATH to search.
pub fn apply(
    args: &StageArgs,
    k: &KernelArguments,
    host: &HostPaths,
    path: Option<&OsStr>,
    runner: &dyn Runner,
) -> Result<()> {
    if let Some(helper) = find_helper(path, host) {
        log::info!("kargs: updating kernel arguments with {}", helper.display());
        let out = runner
            .run(&helper_cmd(&helper, k))
            .context(|| "adding kernel arguments")?;
        let out = String::from_utf8_lossy(&out);
        for line in out.lines().filter(|l| !l.trim().is_empty()) {
            log::info!("kargs: {HELPER_NAME}: {line}");
        }
        return Ok(());
    }
    log::info!("kargs: no {HELPER_NAME} in PATH or /usr/libexec; editing the BLS entries");
    let changed = match boot_dir(args, host)? {
        BootDir::InRoot(dir) => edit_entries(&dir, &k.should_exist, &k.should_not_exist)?,
        BootDir::Device(dev) => with_mounted_rw(runner, &dev, |dir| {
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
        runner
            .run(&Cmd::new("systemctl").args(["reboot", "--force"]))
            .context(|| "requesting a reboot")?;
    }
    Ok(())
}

/// Ignition's argv for the helper: every `--should-exist` first, then `--should-not-exist`.
fn helper_cmd(helper: &Path, k: &KernelArguments) -> Cmd {
    let mut cmd = Cmd::new(&helper.to_string_lossy());
    for a in &k.should_exist {
        cmd = cmd.arg("--should-exist").arg(a);
    }
    for a in &k.should_not_exist {
        cmd = cmd.arg("--should-not-exist").arg(a);
    }
    cmd
}

/// The helper: the first executable `ignition-kargs-helper` in `path` (an empty entry is the
/// working directory in a shell but is skipped here, as a boot has none worth trusting), then
/// `/usr/libexec/ignition-kargs-helper` on the host.
pub fn find_helper(path: Option<&OsStr>, host: &HostPaths) -> Option<PathBuf> {
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    std::env::split_paths(path)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(HELPER_NAME))
        .chain(std::iter::once(host.path(LIBEXEC_HELPER)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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

fn with_mounted_rw<T>(
    runner: &dyn Runner,
    dev: &Path,
    f: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let dir = std::env::temp_dir().join(format!("ignis-boot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context(|| format!("creating {}", dir.display()))?;
    if let Err(e) = runner.run(&Cmd::new("mount").arg(dev).arg(&dir)) {
        let _ = std::fs::remove_dir(&dir);
        return Err(e.context(format!("mounting {}", dev.display())));
    }
    let r = f(&dir);
    // The unit's MountFlags=slave drops the mount anyway; a failed umount only leaks it here.
    if let Err(e) = runner.run(&Cmd::new("umount").arg(&dir)) {
        log::warn!("kargs: {e}");
    }
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
        .context(|| format!("listing {}", dir.display()))?
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
        let text = std::fs::read_to_string(&p).context(|| format!("reading {}", p.display()))?;
        if let Some(new) = crate::kargs::edit_bls_entry(&text, should_exist, should_not_exist) {
            crate::state::write_atomic(&p, new.as_bytes(), 0o644)
                .context(|| format!("updating {}", p.display()))?;
            changed += 1;
        }
    }
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cmd::RecordingRunner;
    use std::ffi::OsString;

    fn tmp(name: &str) -> PathBuf {
        // Outlives this helper, as the paths it hands out do.
        let d = tempfile::Builder::new()
            .prefix(&format!("ignis-{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn exe(p: &Path, mode: u32) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn stage_args(d: &Path) -> StageArgs {
        match crate::cli::parse(&[
            "-platform".into(),
            "file".into(),
            "-stage".into(),
            "kargs".into(),
        ])
        .unwrap()
        {
            crate::cli::Command::Stage(mut s) => {
                s.root = d.join("root");
                s
            }
            _ => unreachable!(),
        }
    }

    fn karg(yes: &[&str], no: &[&str]) -> KernelArguments {
        KernelArguments {
            should_exist: yes.iter().map(|s| s.to_string()).collect(),
            should_not_exist: no.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn helper_from_path_before_libexec() {
        let d = tmp("find");
        let host = HostPaths::new(d.join("host"));
        let (sbin, bin) = (d.join("sbin"), d.join("bin"));
        std::fs::create_dir_all(&sbin).unwrap();
        let path = std::env::join_paths([&bin, &sbin]).unwrap();
        assert_eq!(find_helper(Some(&path), &host), None);
        exe(&host.path(LIBEXEC_HELPER), 0o755);
        assert_eq!(
            find_helper(Some(&path), &host),
            Some(host.path(LIBEXEC_HELPER))
        );
        // Not executable: skipped, as a PATH lookup would.
        exe(&bin.join(HELPER_NAME), 0o644);
        exe(&sbin.join(HELPER_NAME), 0o755);
        assert_eq!(
            find_helper(Some(&path), &host),
            Some(sbin.join(HELPER_NAME))
        );
        exe(&bin.join(HELPER_NAME), 0o755);
        assert_eq!(find_helper(Some(&path), &host), Some(bin.join(HELPER_NAME)));
        // Relative and empty PATH entries are never searched.
        let rel = OsString::from("::sbin");
        assert_eq!(
            find_helper(Some(&rel), &host),
            Some(host.path(LIBEXEC_HELPER))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn helper_gets_ignitions_argv_and_its_failure_fails_the_stage() {
        let d = tmp("argv");
        let host = HostPaths::new(d.join("host"));
        let helper = d.join("sbin").join(HELPER_NAME);
        exe(&helper, 0o755);
        let path = d.join("sbin").into_os_string();
        let k = karg(&["console=ttyS0,115200", "a=b c"], &["quiet"]);
        let r = RecordingRunner::new();
        apply(&stage_args(&d), &k, &host, Some(&path), &r).unwrap();
        let h = helper.to_string_lossy().into_owned();
        assert_eq!(
            r.argvs(),
            [vec![
                h.as_str(),
                "--should-exist",
                "console=ttyS0,115200",
                "--should-exist",
                "a=b c",
                "--should-not-exist",
                "quiet"
            ]]
        );
        // The helper reboots by itself: ignis neither flags nor requests one.
        assert!(!host.path("/run/ignition/kargs-reboot").exists());
        let r = RecordingRunner::new();
        r.reply(&[h.as_str()], Err("exit status: 1"));
        let e = apply(&stage_args(&d), &k, &host, Some(&path), &r).unwrap_err();
        assert!(e.to_string().contains("adding kernel arguments"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn native_fallback_edits_entries_and_reboots_through_the_runner() {
        let d = tmp("native");
        let host = HostPaths::new(d.join("host"));
        std::fs::create_dir_all(host.path("/run/systemd/system")).unwrap();
        let entries = d.join("root/boot/loader/entries");
        std::fs::create_dir_all(&entries).unwrap();
        std::fs::write(entries.join("a.conf"), "options root=x quiet\n").unwrap();
        let path = d.join("empty").into_os_string();
        let r = RecordingRunner::new();
        let k = karg(&["foo"], &["quiet"]);
        apply(&stage_args(&d), &k, &host, Some(&path), &r).unwrap();
        assert_eq!(
            std::fs::read_to_string(entries.join("a.conf")).unwrap(),
            "options root=x foo\n"
        );
        assert_eq!(r.argvs(), [["systemctl", "reboot", "--force"]]);
        assert!(host.path("/run/ignition/kargs-reboot").exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
