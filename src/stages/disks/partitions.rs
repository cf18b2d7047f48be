//! Partitioning one disk: read its table, wipe it (`wipeTable`), plan, log the plan one line
//! per partition, refuse to touch partitions in use, write the new GPT, and tell the kernel.
//! The disk is first opened read-only; it is opened for writing only when something must be
//! written (closing a disk opened for writing makes udev re-read it). Works on block devices
//! and on plain image files (where the kernel steps are skipped).

use super::gptio::{self, Found, Mbr};
use super::plan::{self, Geometry, Plan, Table};
use super::{kernel, Env};
use crate::config::types::Disk;
use crate::error::{Context, Error, Result};
use crate::sys::blockdev;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// An open disk: the file, its logical sector size and size in sectors, and its kernel name
/// when it is a block device (then locked against udev while open).
struct Opened {
    f: File,
    sector: u64,
    total: u64,
    kname: Option<String>,
}

fn open(dev: &Path, write: bool) -> Result<Opened> {
    let f = OpenOptions::new()
        .read(true)
        .write(write)
        .open(dev)
        .context(|| format!("opening {}", dev.display()))?;
    let md = f.metadata().context(|| format!("stat {}", dev.display()))?;
    let (sector, bytes, kname) = if md.file_type().is_block_device() {
        let k = kernel::kernel_name(dev)?;
        kernel::lock(&f, &k)?;
        (
            u64::from(blockdev::sector_size(&f)?),
            blockdev::size_bytes(&f)?,
            Some(k),
        )
    } else {
        (512, md.len(), None)
    };
    Ok(Opened {
        f,
        sector,
        total: bytes / sector,
        kname,
    })
}

/// Reads the table of `dev` the way the planner sees it (a blank or wiped disk gets the
/// geometry of a fresh GPT). Public for tests and tools.
pub fn read_table(dev: &Path) -> Result<(Found, Table)> {
    let mut o = open(dev, false)?;
    let found = gptio::read(&mut o.f, o.sector, o.total)?;
    let table = match &found {
        Found::Gpt(g) => g.table.clone(),
        _ => Table {
            geometry: Geometry::fresh(o.sector, o.total),
            entries: BTreeMap::new(),
        },
    };
    Ok((found, table))
}

/// What would be written: the plan, and how to write it.
struct Prepared {
    plan: Plan,
    disk_guid: uuid::Uuid,
    repairs: Vec<String>,
    mbr: Mbr,
    /// Whether anything must be written (or, after wipeTable, told to the kernel).
    write: bool,
}

/// Plans `disk` over what was found (`Blank` after wipeTable).
fn prepare(path: &str, disk: &Disk, o: &Opened, found: &Found, wipe: bool) -> Result<Prepared> {
    let (table, disk_guid, repairs, mbr) = match found {
        Found::Gpt(g) => (
            g.table.clone(),
            g.disk_guid,
            g.repairs.clone(),
            if g.plain_pmbr { Mbr::Update } else { Mbr::Keep },
        ),
        Found::Blank => (
            Table {
                geometry: Geometry::fresh(o.sector, o.total),
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
    let write = wipe || plan.changes() || !repairs.is_empty();
    Ok(Prepared {
        plan,
        disk_guid,
        repairs,
        mbr,
        write,
    })
}

fn log_plan(path: &str, disk: &Disk, p: &Prepared, sector: u64) {
    for s in &p.plan.steps {
        log::info!("{}", s.describe(sector));
    }
    for r in &p.repairs {
        log::info!("{path}: {}: {r}", disk.device);
    }
}

/// Which partitions must not be in use.
enum Scope<'a> {
    /// Only the disk itself.
    Disk,
    All,
    These(&'a [u32]),
}

/// Refuses when `o`'s disk, or the partitions in `scope`, are in use.
fn refuse_busy(env: &Env, disk: &Disk, o: &Opened, scope: Scope) -> Result<()> {
    let Some(k) = &o.kname else { return Ok(()) };
    if let Some(why) = kernel::busy(env, k) {
        return Err(Error::failed(format!(
            "refusing to partition {}: {why}",
            disk.device
        )));
    }
    for (n, kp) in kernel::partitions(env, k)? {
        let check = match scope {
            Scope::Disk => false,
            Scope::All => true,
            Scope::These(list) => list.contains(&n),
        };
        if check {
            if let Some(why) = kernel::busy(env, &kp.name) {
                return Err(Error::failed(format!(
                    "refusing to change partition {n} of {}: {why}",
                    disk.device
                )));
            }
        }
    }
    Ok(())
}

/// Applies the partitioning of `disk` (config entry `path`) to the device node `dev`.
/// Returns the plan that was carried out.
pub fn apply(env: &Env, path: &str, disk: &Disk, dev: &Path) -> Result<Plan> {
    let wipe = disk.wipe_table == Some(true);

    // Read-only pass: plan, and stop here when nothing is to be written.
    let mut ro = open(dev, false)?;
    refuse_busy(env, disk, &ro, Scope::Disk)?;
    let found = gptio::read(&mut ro.f, ro.sector, ro.total)?;
    let p = prepare(
        path,
        disk,
        &ro,
        if wipe { &Found::Blank } else { &found },
        wipe,
    )?;
    if !p.write {
        log_plan(path, disk, &p, ro.sector);
        log::info!(
            "{path}: no changes to the partition table of {}",
            disk.device
        );
        return Ok(p.plan);
    }
    drop(ro);

    // Read-write pass: read again under the lock, wipe, plan, write, tell the kernel.
    let mut o = open(dev, true)?;
    let (sector, total) = (o.sector, o.total);
    let mut found = gptio::read(&mut o.f, sector, total)?;
    if wipe {
        refuse_busy(env, disk, &o, Scope::All)?;
        log::info!("{path}: wiping the partition table of {}", disk.device);
        gptio::zap(&mut o.f, sector, total, &found)?;
        found = Found::Blank;
    }
    let p = prepare(path, disk, &o, &found, wipe)?;
    log_plan(path, disk, &p, sector);
    let blank_untouched = matches!(found, Found::Blank) && p.plan.table.entries.is_empty();
    if blank_untouched {
        log::info!("{path}: {} is left without a partition table", disk.device);
    } else {
        refuse_busy(env, disk, &o, Scope::These(&p.plan.touched()))?;
        gptio::write(&mut o.f, total, p.disk_guid, &p.plan.table, p.mbr)?;
        log::info!(
            "{path}: wrote the partition table of {} ({} partitions)",
            disk.device,
            p.plan.table.entries.len()
        );
    }
    if let Some(k) = o.kname.clone() {
        kernel::tell(&o.f, &k, &p.plan.table, &kernel::partitions(env, &k)?)?;
        // Closing the disk releases the lock; udev may then re-read the table, which
        // verify waits out.
        drop(o);
        kernel::verify(env, &k, &p.plan.table)?;
    }
    Ok(p.plan)
}
