//! The disks stage: partitions (per disk), then RAID arrays, then LUKS volumes, then
//! filesystems, in Ignition's order, each step waiting for the devices it uses. Side effects
//! go through `Env` (commands, host paths); the planning underneath is pure.

pub mod devices;
pub mod filesystems;
pub mod gptio;
pub mod kernel;
pub mod luks;
pub mod partitions;
mod place;
pub mod plan;
pub mod raid;

use crate::cli::StageArgs;
use crate::config::types::Config;
use crate::error::{Context, Result};
use crate::providers::HostPaths;
use crate::state::State;
use crate::sys::cmd::{RealRunner, Runner};
use std::path::PathBuf;
use std::time::Duration;

/// What the disks, mount and umount stages act through.
pub struct Env<'a> {
    pub runner: &'a dyn Runner,
    /// Where /dev, /sys, /proc and /run/udev are read.
    pub host: HostPaths,
    /// How long to wait for a device the config names (systemd's default: 90 s).
    pub device_timeout: Duration,
    /// Ignition's run directory (/run/ignition): LUKS key files go below it.
    pub run_dir: PathBuf,
}

impl Env<'_> {
    /// The real environment; `IGNIS_DEVICE_TIMEOUT` (seconds) overrides the device timeout.
    pub fn real(runner: &dyn Runner) -> Env<'_> {
        let secs = std::env::var("IGNIS_DEVICE_TIMEOUT")
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(90);
        Env {
            runner,
            host: HostPaths::real(),
            device_timeout: Duration::from_secs(secs),
            run_dir: PathBuf::from("/run/ignition"),
        }
    }
}

/// Whether the config asks the disks stage for anything.
pub fn has_work(cfg: &Config) -> bool {
    let s = &cfg.storage;
    !s.disks.is_empty() || !s.raid.is_empty() || !s.luks.is_empty() || !s.filesystems.is_empty()
}

pub fn run(args: &StageArgs) -> Result<()> {
    let cfg = super::files::load_cache(args)?;
    if !has_work(&cfg) {
        log::info!("disks: nothing to do");
        return Ok(());
    }
    let mut st = State::load(&args.state_file)?;
    let runner = RealRunner;
    let mut env = Env::real(&runner);
    if let Some(dir) = args
        .state_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        env.run_dir = dir.to_path_buf();
    }
    let r = apply(&env, &cfg, &mut st);
    // Save what was done even on failure: keys of volumes already opened must not be lost.
    st.save(&args.state_file)?;
    r
}

/// Applies the storage config's disks, raid, luks and filesystems sections.
pub fn apply(env: &Env, cfg: &Config, st: &mut State) -> Result<()> {
    let disks = &cfg.storage.disks;
    if !disks.is_empty() {
        let wanted: Vec<(String, String)> = disks
            .iter()
            .enumerate()
            .map(|(i, d)| (d.device.clone(), format!("$.storage.disks.{i}")))
            .collect();
        let nodes = devices::wait_all(env, &wanted)?;
        for (i, (d, node)) in disks.iter().zip(nodes).enumerate() {
            let path = format!("$.storage.disks.{i}");
            if d.partitions.is_empty() && d.wipe_table != Some(true) {
                continue;
            }
            crate::log::op(&format!("partitioning {}", d.device), || {
                partitions::apply(env, &path, d, &node)
            })
            .context(|| path.clone())?;
        }
    }
    raid::apply(env, &cfg.storage.raid)?;
    luks::apply(env, cfg, st)?;
    filesystems::apply(env, cfg)
}
