//! The partition planner: existing table + disk geometry + one disk's config -> the new table
//! and the list of operations, with Ignition's decision matrix and sgdisk's placement rules
//! (start 0 = start of the largest free block, size 0 = to the end of that block, number 0 =
//! first free slot, starts aligned to 1 MiB, default type Linux filesystem). Pure: no I/O;
//! new GUIDs come from the caller.

use super::place::Sim;
use crate::config::types::Partition;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use uuid::Uuid;

/// GPT type of a Linux filesystem partition, sgdisk's default (8300).
pub const LINUX_FS: Uuid = Uuid::from_u128(0x0FC63DAF_8483_4772_8E79_3D69D8477DE4);

/// One partition entry, in sectors of the disk's logical sector size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub start: u64,
    pub size: u64,
    pub type_guid: Uuid,
    pub guid: Uuid,
    pub label: String,
    /// Attribute bits (kept for untouched and resized partitions).
    pub attrs: u64,
}

impl Entry {
    pub fn end(&self) -> u64 {
        self.start + self.size - 1
    }
}

/// Where partitions may go: usable sectors (inclusive) and the entry-array length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub sector_size: u64,
    pub first_usable: u64,
    pub last_usable: u64,
    pub max_entries: u32,
}

impl Geometry {
    /// sgdisk's alignment: 1 MiB in sectors (2048 at 512 bytes, 256 at 4096).
    pub fn alignment(&self) -> u64 {
        (1024 * 1024 / self.sector_size).max(1)
    }

    /// A fresh GPT (128 entries) on a disk of `total` sectors, as sgdisk lays it out.
    pub fn fresh(sector_size: u64, total: u64) -> Geometry {
        let array = (128 * 128u64).div_ceil(sector_size);
        Geometry {
            sector_size,
            first_usable: 2 + array,
            last_usable: total.saturating_sub(2 + array),
            max_entries: 128,
        }
    }
}

/// A table as the planner sees it: partitions by number (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub geometry: Geometry,
    pub entries: BTreeMap<u32, Entry>,
}

/// A config partition with MiB converted to sectors.
#[derive(Debug, Clone)]
struct Spec {
    path: String,
    /// The number in the config (0 = next free slot).
    given: u32,
    /// The number it gets (resolved for 0).
    number: u32,
    label: Option<String>,
    start: Option<u64>,
    size: Option<u64>,
    type_guid: Option<Uuid>,
    guid: Option<Uuid>,
    wipe: bool,
    should_exist: bool,
    resize: bool,
}

fn parse_guid(s: &Option<String>, path: &str, what: &str) -> Result<Option<Uuid>> {
    match s.as_deref() {
        None | Some("") => Ok(None),
        Some(g) => Uuid::parse_str(g)
            .map(Some)
            .map_err(|_| Error::failed(format!("{path}: {what} {g:?} is not a GUID"))),
    }
}

fn mib_to_sectors(v: Option<i64>, sector: u64, path: &str, what: &str) -> Result<Option<u64>> {
    match v {
        None => Ok(None),
        Some(m) if m < 0 => Err(Error::failed(format!("{path}: {what} is negative"))),
        Some(m) => (m as u64)
            .checked_mul(1024 * 1024)
            .map(|b| Some(b / sector))
            .ok_or_else(|| Error::failed(format!("{path}: {what} is too large"))),
    }
}

impl Spec {
    fn new(path: String, p: &Partition, sector: u64) -> Result<Spec> {
        let number = u32::try_from(p.number).map_err(|_| {
            Error::failed(format!(
                "{path}: partition number {} is out of range",
                p.number
            ))
        })?;
        Ok(Spec {
            given: number,
            number,
            label: p.label.clone(),
            start: mib_to_sectors(p.start_mib, sector, &path, "startMiB")?,
            size: mib_to_sectors(p.size_mib, sector, &path, "sizeMiB")?,
            type_guid: parse_guid(&p.type_guid, &path, "typeGuid")?,
            guid: parse_guid(&p.guid, &path, "guid")?,
            wipe: p.wipe_partition_entry == Some(true),
            should_exist: p.should_exist != Some(false),
            resize: p.resize == Some(true),
            path,
        })
    }

    fn describe(&self) -> String {
        match &self.label {
            Some(l) => format!("partition {} ({l:?})", self.number),
            None => format!("partition {}", self.number),
        }
    }
}

/// What happens to one config partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Absent and should not exist.
    Absent,
    /// Present and matching.
    Keep,
    Create,
    Delete,
    /// Recreated at the same start with a new size, keeping GUID, type and label.
    Resize,
    /// Deleted and created again (wipePartitionEntry).
    Recreate,
}

/// One line of the plan: the config entry, what happens, and the resulting entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub path: String,
    pub number: u32,
    pub action: Action,
    /// The entry after the change (None when deleted or absent).
    pub entry: Option<Entry>,
    /// The entry before (None when it did not exist).
    pub before: Option<Entry>,
}

impl Step {
    /// One log line: `$.storage.disks.0.partitions.1: partition 4 "root": resize ...`.
    pub fn describe(&self, sector: u64) -> String {
        let e = self.entry.as_ref().or(self.before.as_ref());
        let what = match self.action {
            Action::Absent => "absent as requested",
            Action::Keep => "keep (matches)",
            Action::Create => "create",
            Action::Delete => "delete",
            Action::Resize => "resize",
            Action::Recreate => "recreate (wipePartitionEntry)",
        };
        match e {
            Some(e) => {
                let mut s = format!(
                    "{}: partition {} {:?}: {what}: start {} size {} sectors ({} MiB) type {} guid {}",
                    self.path,
                    self.number,
                    e.label,
                    e.start,
                    e.size,
                    e.size * sector / (1024 * 1024),
                    upper(&e.type_guid),
                    upper(&e.guid)
                );
                if let (Action::Resize, Some(b)) = (&self.action, &self.before) {
                    s.push_str(&format!(" (was {} sectors)", b.size));
                }
                s
            }
            None => format!("{}: partition {}: {what}", self.path, self.number),
        }
    }
}

pub fn upper(u: &Uuid) -> String {
    u.hyphenated().to_string().to_uppercase()
}

/// The outcome: the steps in config order (numbers 0 last) and the new table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub wipe_table: bool,
    pub steps: Vec<Step>,
    pub table: Table,
}

impl Plan {
    /// Whether the partition entries change at all.
    pub fn changes(&self) -> bool {
        self.wipe_table
            || self
                .steps
                .iter()
                .any(|s| !matches!(s.action, Action::Keep | Action::Absent))
    }

    /// Numbers whose kernel view changes (deleted, resized, created).
    pub fn touched(&self) -> Vec<u32> {
        self.steps
            .iter()
            .filter(|s| !matches!(s.action, Action::Keep | Action::Absent))
            .map(|s| s.number)
            .collect()
    }
}

fn matches_common(ex: &Entry, s: &Spec) -> std::result::Result<(), String> {
    if let Some(st) = s.start {
        if st != ex.start {
            return Err(format!(
                "starting sector did not match (specified {st}, got {})",
                ex.start
            ));
        }
    }
    if let Some(g) = s.guid {
        if g != ex.guid {
            return Err(format!(
                "GUID did not match (specified {}, got {})",
                upper(&g),
                upper(&ex.guid)
            ));
        }
    }
    if let Some(t) = s.type_guid {
        if t != ex.type_guid {
            return Err(format!(
                "type GUID did not match (specified {}, got {})",
                upper(&t),
                upper(&ex.type_guid)
            ));
        }
    }
    if let Some(l) = &s.label {
        if *l != ex.label {
            return Err(format!(
                "label did not match (specified {l:?}, got {:?})",
                ex.label
            ));
        }
    }
    Ok(())
}

fn matches(ex: &Entry, s: &Spec) -> std::result::Result<(), String> {
    matches_common(ex, s)?;
    if let Some(z) = s.size {
        if z != ex.size {
            return Err(format!(
                "size did not match (specified {z}, got {})",
                ex.size
            ));
        }
    }
    Ok(())
}

struct Creation {
    spec: usize,
    number: u32,
    start: Option<u64>,
    size: Option<u64>,
    label: String,
    type_guid: Uuid,
    guid: Uuid,
    attrs: u64,
    action: Action,
}

/// Plans one disk. `path` is the disk's JSON path (`$.storage.disks.0`); `existing` is the
/// table as read (ignored when `wipe_table`); `new_guid` makes GUIDs for new partitions.
pub fn plan(
    path: &str,
    existing: &Table,
    parts: &[Partition],
    wipe_table: bool,
    new_guid: &mut dyn FnMut() -> Uuid,
) -> Result<Plan> {
    let g = existing.geometry;
    let sector = g.sector_size;
    let old: BTreeMap<u32, Entry> = if wipe_table {
        BTreeMap::new()
    } else {
        existing.entries.clone()
    };
    let mut specs = parts
        .iter()
        .enumerate()
        .map(|(i, p)| Spec::new(format!("{path}.partitions.{i}"), p, sector))
        .collect::<Result<Vec<_>>>()?;
    // Partitions with number 0 go last, so they take the slots explicit numbers leave.
    specs.sort_by_key(|s| s.number == 0);

    // 1. Resolve 0 / unset start and size the way Ignition's `sgdisk --pretend` run does:
    // every existing config partition deleted, then all of them created in order (unset
    // start/size of a kept partition standing for its current values).
    let mut sim = Sim::new(&old, g);
    for s in &specs {
        if s.given != 0 && old.contains_key(&s.given) {
            sim.parts.remove(&s.given);
        }
    }
    for s in specs.iter_mut() {
        if !s.should_exist {
            continue;
        }
        let ex = if s.given != 0 {
            old.get(&s.given)
        } else {
            None
        };
        let (mut start, mut size) = (s.start, s.size);
        if let Some(e) = ex.filter(|_| !s.wipe) {
            start.get_or_insert(e.start);
            size.get_or_insert(e.size);
        }
        let (n, st, sz) = sim
            .create(s.number, start.unwrap_or(0), size.unwrap_or(0))
            .map_err(|e| {
                Error::failed(format!("{}: cannot place {}: {e}", s.path, s.describe()))
            })?;
        s.number = n;
        if s.start.is_some() {
            s.start = Some(st);
        }
        if s.size.is_some() {
            s.size = Some(sz);
        }
    }

    // 2. The decision matrix.
    let mut steps: Vec<Option<Step>> = vec![None; specs.len()];
    let mut deletions = Vec::new();
    let mut creations = Vec::new();
    for (i, s) in specs.iter().enumerate() {
        // A partition with number 0 never matches an existing one.
        let ex = if s.given != 0 {
            old.get(&s.given)
        } else {
            None
        };
        let step = |action: Action, entry: Option<Entry>| Step {
            path: s.path.clone(),
            number: s.number,
            action,
            entry,
            before: ex.cloned(),
        };
        let create_new = |action: Action, new_guid: &mut dyn FnMut() -> Uuid| Creation {
            spec: i,
            number: s.number,
            start: s.start,
            size: s.size,
            label: s.label.clone().unwrap_or_default(),
            type_guid: s.type_guid.unwrap_or(LINUX_FS),
            guid: s.guid.unwrap_or_else(&mut *new_guid),
            attrs: 0,
            action,
        };
        match (ex, s.should_exist) {
            (None, false) => steps[i] = Some(step(Action::Absent, None)),
            (None, true) => creations.push(create_new(Action::Create, new_guid)),
            (Some(_), false) if !s.wipe => {
                return Err(Error::failed(format!(
                    "{}: partition {} exists but is specified as nonexistent and wipePartitionEntry is false",
                    s.path, s.number
                )))
            }
            (Some(_), false) => {
                deletions.push(s.number);
                steps[i] = Some(step(Action::Delete, None));
            }
            (Some(e), true) => match matches(e, s) {
                Ok(()) => steps[i] = Some(step(Action::Keep, Some(e.clone()))),
                Err(why) if !s.wipe => {
                    if s.resize && matches_common(e, s).is_ok() {
                        deletions.push(s.number);
                        creations.push(Creation {
                            spec: i,
                            number: s.number,
                            start: Some(e.start),
                            size: s.size,
                            label: e.label.clone(),
                            type_guid: e.type_guid,
                            guid: e.guid,
                            attrs: e.attrs,
                            action: Action::Resize,
                        });
                    } else {
                        return Err(Error::failed(format!(
                            "{}: partition {} didn't match: {why}{}",
                            s.path,
                            s.number,
                            if s.resize {
                                ""
                            } else {
                                " (set resize to grow it in place, or wipePartitionEntry to recreate it)"
                            }
                        )));
                    }
                }
                Err(_) => {
                    deletions.push(s.number);
                    creations.push(create_new(Action::Recreate, new_guid));
                }
            },
        }
    }

    // 3. Apply: deletions first, then creations in order, as one sgdisk run would.
    let mut sim = Sim::new(&old, g);
    let mut entries = old.clone();
    for n in &deletions {
        sim.parts.remove(n);
        entries.remove(n);
    }
    for c in creations {
        let s = &specs[c.spec];
        let (n, start, size) = sim
            .create(c.number, c.start.unwrap_or(0), c.size.unwrap_or(0))
            .map_err(|e| {
                Error::failed(format!("{}: cannot create {}: {e}", s.path, s.describe()))
            })?;
        let e = Entry {
            start,
            size,
            type_guid: c.type_guid,
            guid: c.guid,
            label: c.label,
            attrs: c.attrs,
        };
        entries.insert(n, e.clone());
        steps[c.spec] = Some(Step {
            path: s.path.clone(),
            number: n,
            action: c.action,
            entry: Some(e),
            before: if s.given != 0 {
                old.get(&n).cloned()
            } else {
                None
            },
        });
    }
    Ok(Plan {
        wipe_table,
        steps: steps.into_iter().flatten().collect(),
        table: Table {
            geometry: g,
            entries,
        },
    })
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
