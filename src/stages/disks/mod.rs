//! The disks stage: partitions (per disk), then RAID arrays, then LUKS volumes, then
//! filesystems, in Ignition's order, each step waiting for the devices it uses. Side effects
//! go through `Env` (commands, host paths); the planning underneath is pure.

pub mod filesystems;
pub mod gptio;
pub mod kernel;
pub mod luks;
pub mod partitions;
mod place;
pub mod plan;
pub mod raid;

use crate::config::types::Config;
use crate::engine::Context;
use crate::error::{Context as _, Result};
use crate::stages::util::devices;
use crate::state::State;

/// The context's environment (commands, host paths, device timeout), as the disks steps take it.
pub use crate::engine::Env;

/// Whether the config asks the disks stage for anything.
pub fn has_work(cfg: &Config) -> bool {
    let s = &cfg.storage;
    !s.disks.is_empty() || !s.raid.is_empty() || !s.luks.is_empty() || !s.filesystems.is_empty()
}

pub fn run(ctx: &mut Context, cfg: &Config) -> Result<()> {
    if !has_work(cfg) {
        log::info!("disks: nothing to do");
        return Ok(());
    }
    // The engine saves the state even when this fails: keys of volumes already opened must not
    // be lost.
    let (env, st) = ctx.env_and_state()?;
    apply(env, cfg, st)
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
