//! Partitioning one disk: read its table, wipe it (`wipeTable`), plan, log the plan one line
//! per partition, refuse to touch partitions in use, write the new GPT, and tell the kernel.
//! Works on block devices and on plain image files (where the kernel steps are skipped).

use super::gptio::{self, Found, Mbr};
use super::plan::{self, Geometry, Plan, Table};
use super::{kernel, Env};
use crate::config::types::Disk;
use crate::error::{Error, Result};
use crate::sys::blockdev;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// Opens `dev` for writing; returns it with (sector size, total sectors, is a block device).
fn open(dev: &Path) -> Result<(File, u64, u64, bool)> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(|e| Error::failed(format!("opening {}: {e}", dev.display())))?;
    let md = f
        .metadata()
        .map_err(|e| Error::failed(format!("stat {}: {e}", dev.display())))?;
    let is_block = md.file_type().is_block_device();
    let (sector, bytes) = if is_block {
        (
            u64::from(blockdev::sector_size(&f)?),
            blockdev::size_bytes(&f)?,
        )
    } else {
        (512, md.len())
    };
    Ok((f, sector, bytes / sector, is_block))
}

/// Reads the table of `dev` the way the planner sees it (a blank or wiped disk gets the
/// geometry of a fresh GPT). Public for tests and tools.
pub fn read_table(dev: &Path) -> Result<(Found, Table)> {
    let (mut f, sector, total, _) = open(dev)?;
    let found = gptio::read(&mut f, sector, total)?;
    let table = match &found {
        Found::Gpt(g) => g.table.clone(),
        _ => Table {
            geometry: Geometry::fresh(sector, total),
            entries: BTreeMap::new(),
        },
    };
    Ok((found, table))
}

/// Applies the partitioning of `disk` (config entry `path`) to the device node `dev`.
/// Returns the plan that was carried out.
pub fn apply(env: &Env, path: &str, disk: &Disk, dev: &Path) -> Result<Plan> {
    let (mut f, sector, total, is_block) = open(dev)?;
    let kname = if is_block {
        let k = kernel::kernel_name(dev)?;
        kernel::lock(&f, &k)?;
        Some(k)
    } else {
        None
    };
    if let Some(k) = &kname {
        if let Some(why) = kernel::busy(env, k) {
            return Err(Error::failed(format!(
                "refusing to partition {}: {why}",
                disk.device
            )));
        }
    }
    let in_use = |numbers: &[u32]| -> Result<()> {
        let Some(k) = &kname else { return Ok(()) };
        let kparts = kernel::partitions(env, k)?;
        for (n, kp) in &kparts {
            if numbers.is_empty() || numbers.contains(n) {
                if let Some(why) = kernel::busy(env, &kp.name) {
                    return Err(Error::failed(format!(
                        "refusing to change partition {n} of {}: {why}",
                        disk.device
                    )));
                }
            }
        }
        Ok(())
    };

    let mut found = gptio::read(&mut f, sector, total)?;
    let wipe = disk.wipe_table == Some(true);
    if wipe {
        in_use(&[])?;
        log::info!("{path}: wiping the partition table of {}", disk.device);
        gptio::zap(&mut f, sector, total, &found)?;
        found = Found::Blank;
    }
    let (table, disk_guid, repairs, mbr) = match &found {
        Found::Gpt(g) => (
            g.table.clone(),
            g.disk_guid,
            g.repairs.clone(),
            if g.plain_pmbr { Mbr::Update } else { Mbr::Keep },
        ),
        Found::Blank => (
            Table {
                geometry: Geometry::fresh(sector, total),
                entries: BTreeMap::new(),
            },
            uuid::Uuid::new_v4(),
            Vec::new(),
            Mbr::Fresh,
        ),
        Found::Foreign(what) => {
            return Err(Error::failed(format!(
                "{path}: {} holds {what}; set wipeTable to replace it with a GPT",
                disk.device
            )))
        }
    };
    let plan = plan::plan(
        path,
        &table,
        &disk.partitions,
        false,
        &mut uuid::Uuid::new_v4,
    )?;
    for s in &plan.steps {
        log::info!("{}", s.describe(sector));
    }
    for r in &repairs {
        log::info!("{path}: {}: {r}", disk.device);
    }
    let blank_untouched = matches!(found, Found::Blank) && plan.table.entries.is_empty();
    if (!plan.changes() && repairs.is_empty()) || blank_untouched {
        log::info!(
            "{path}: no changes to the partition table of {}",
            disk.device
        );
        if wipe {
            if let Some(k) = &kname {
                kernel::tell(&f, k, &plan.table, &kernel::partitions(env, k)?)?;
                drop(f);
                kernel::verify(env, k, &plan.table)?;
            }
        }
        return Ok(plan);
    }
    in_use(&plan.touched())?;
    gptio::write(&mut f, total, disk_guid, &plan.table, mbr)?;
    log::info!(
        "{path}: wrote the partition table of {} ({} partitions)",
        disk.device,
        plan.table.entries.len()
    );
    if let Some(k) = &kname {
        kernel::tell(&f, k, &plan.table, &kernel::partitions(env, k)?)?;
        // Closing the disk releases the lock; udev may then re-read the table, which
        // verify waits out.
        drop(f);
        kernel::verify(env, k, &plan.table)?;
    }
    Ok(plan)
}
