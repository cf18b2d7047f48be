//! The partition planner: existing table + disk geometry + one disk's config -> the new table
//! and the list of operations, with Ignition's decision matrix and sgdisk's placement rules
//! (start 0 = start of the largest free block, size 0 = to the end of that block, number 0 =
//! first free slot, starts aligned to 1 MiB, default type Linux filesystem). Pure: no I/O;
//! new GUIDs come from the caller.

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

/// sgdisk's placement rules over a set of (start, end) extents.
#[derive(Clone)]
struct Sim {
    g: Geometry,
    parts: BTreeMap<u32, (u64, u64)>,
}

impl Sim {
    fn new(t: &BTreeMap<u32, Entry>, g: Geometry) -> Sim {
        Sim {
            g,
            parts: t.iter().map(|(n, e)| (*n, (e.start, e.end()))).collect(),
        }
    }

    fn is_free(&self, s: u64) -> bool {
        s >= self.g.first_usable
            && s <= self.g.last_usable
            && !self.parts.values().any(|(a, b)| s >= *a && s <= *b)
    }

    /// First free sector at or after `from`.
    fn first_available(&self, from: u64) -> Option<u64> {
        let mut s = from.max(self.g.first_usable);
        loop {
            if s > self.g.last_usable {
                return None;
            }
            match self.parts.values().find(|(a, b)| s >= *a && s <= *b) {
                Some((_, b)) => s = b + 1,
                None => return Some(s),
            }
        }
    }

    /// Last sector of the free block holding `s`.
    fn last_in_free(&self, s: u64) -> u64 {
        self.parts
            .values()
            .filter(|(a, _)| *a > s)
            .map(|(a, _)| a - 1)
            .min()
            .unwrap_or(self.g.last_usable)
            .min(self.g.last_usable)
    }

    /// Start of the largest free block (the first of equal ones), or None when full.
    fn first_in_largest(&self) -> Option<u64> {
        let mut best: Option<(u64, u64)> = None;
        let mut from = 0;
        while let Some(s) = self.first_available(from) {
            let e = self.last_in_free(s);
            let len = e - s + 1;
            if best.is_none_or(|(_, l)| len > l) {
                best = Some((s, len));
            }
            from = e + 1;
        }
        best.map(|(s, _)| s)
    }

    /// sgdisk's Align: move to a multiple of the alignment, earlier if the sectors between
    /// are free, else later if free; otherwise leave it.
    fn align(&self, s: u64) -> u64 {
        let a = self.g.alignment();
        if s % a == 0 {
            return s;
        }
        let earlier = s / a * a;
        let later = earlier + a;
        if earlier >= self.g.first_usable && (earlier..s).all(|t| self.is_free(t)) {
            return earlier;
        }
        if later <= self.g.last_usable && (s + 1..=later).rev().all(|t| self.is_free(t)) {
            return later;
        }
        s
    }

    fn first_free_number(&self) -> Option<u32> {
        (1..=self.g.max_entries).find(|n| !self.parts.contains_key(n))
    }

    /// `sgdisk --new=NUMBER:START:+SIZE` (0 = default for each).
    fn create(
        &mut self,
        number: u32,
        start: u64,
        size: u64,
    ) -> std::result::Result<(u32, u64, u64), String> {
        let n = if number == 0 {
            self.first_free_number()
                .ok_or_else(|| "no free partition entry left".to_string())?
        } else {
            number
        };
        if n > self.g.max_entries {
            return Err(format!(
                "partition number {n} exceeds the table's {} entries",
                self.g.max_entries
            ));
        }
        if self.parts.contains_key(&n) {
            return Err(format!("partition number {n} is already in use"));
        }
        let low = self.first_in_largest().map(|s| self.align(s));
        let start = if start != 0 {
            start
        } else {
            low.ok_or_else(|| "no free space left on the disk".to_string())?
        };
        let end = if size != 0 {
            start
                .checked_add(size - 1)
                .ok_or_else(|| "size out of range".to_string())?
        } else {
            match low {
                Some(l) => self.last_in_free(l),
                None => return Err("no free space left on the disk".to_string()),
            }
        };
        let start = self.align(start);
        if !self.is_free(start) || start > end || self.last_in_free(start) < end {
            return Err(format!(
                "no room for it from sector {start} to {end} (free: {})",
                self.free_text()
            ));
        }
        self.parts.insert(n, (start, end));
        Ok((n, start, end - start + 1))
    }

    fn free_text(&self) -> String {
        let mut v = Vec::new();
        let mut from = 0;
        while let Some(s) = self.first_available(from) {
            let e = self.last_in_free(s);
            v.push(format!("{s}-{e}"));
            from = e + 1;
        }
        if v.is_empty() {
            "none".into()
        } else {
            v.join(", ")
        }
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
mod tests {
    use super::*;

    const MIB: u64 = 2048; // sectors of 512 bytes

    fn guids() -> impl FnMut() -> Uuid {
        let mut n = 0u128;
        move || {
            n += 1;
            Uuid::from_u128(0xAAAA_0000 + n)
        }
    }

    fn disk(mib: u64) -> Table {
        Table {
            geometry: Geometry::fresh(512, mib * MIB),
            entries: BTreeMap::new(),
        }
    }

    fn ent(start_mib: u64, size_mib: u64, label: &str) -> Entry {
        Entry {
            start: start_mib * MIB,
            size: size_mib * MIB,
            type_guid: LINUX_FS,
            guid: Uuid::from_u128(0xBBBB_0000 + start_mib as u128),
            label: label.into(),
            attrs: 0,
        }
    }

    fn part(j: serde_json::Value) -> Partition {
        serde_json::from_value(j).unwrap()
    }

    fn run(t: &Table, parts: Vec<serde_json::Value>) -> Result<Plan> {
        let parts: Vec<Partition> = parts.into_iter().map(part).collect();
        plan("$.storage.disks.0", t, &parts, false, &mut guids())
    }

    fn layout(p: &Plan) -> Vec<(u32, u64, u64, String)> {
        p.table
            .entries
            .iter()
            .map(|(n, e)| (*n, e.start, e.size, e.label.clone()))
            .collect()
    }

    #[test]
    fn create_on_blank_disk_with_defaults() {
        let t = disk(100);
        let p = run(
            &t,
            vec![
                serde_json::json!({"number": 1, "label": "boot", "sizeMiB": 10}),
                serde_json::json!({"number": 2, "label": "root", "startMiB": 20, "sizeMiB": 0}),
            ],
        )
        .unwrap();
        // 1 MiB aligned default start; size 0 fills to the end of the largest block, which
        // is the one after 20 MiB here.
        assert_eq!(
            layout(&p),
            vec![
                (1, MIB, 10 * MIB, "boot".into()),
                (
                    2,
                    20 * MIB,
                    t.geometry.last_usable - 20 * MIB + 1,
                    "root".into()
                )
            ]
        );
        let e = &p.table.entries[&1];
        assert_eq!(e.type_guid, LINUX_FS);
        assert_eq!(e.guid, Uuid::from_u128(0xAAAA_0001));
        assert!(p.steps.iter().all(|s| s.action == Action::Create));
        assert!(p.changes());
    }

    #[test]
    fn explicit_start_in_a_smaller_block_with_size_zero_fails_like_sgdisk() {
        let mut t = disk(100);
        t.entries.insert(1, ent(1, 10, "a"));
        t.entries.insert(2, ent(40, 10, "b"));
        // Free: 11-40 MiB (29 MiB) and 50-100 MiB (the largest). sgdisk's default end is the
        // end of the largest block, which a start at 30 MiB cannot reach.
        let e = run(
            &t,
            vec![serde_json::json!({"number": 3, "startMiB": 30, "sizeMiB": 0})],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("$.storage.disks.0.partitions.0") && e.contains("no room"),
            "{e}"
        );
        // In the largest block it works and fills it.
        let p = run(&t, vec![serde_json::json!({"number": 3, "startMiB": 70})]).unwrap();
        assert_eq!(p.table.entries[&3].start, 70 * MIB);
        assert_eq!(p.table.entries[&3].end(), t.geometry.last_usable);
    }

    #[test]
    fn number_zero_takes_free_slots_after_explicit_numbers() {
        let mut t = disk(100);
        t.entries.insert(2, ent(1, 10, "two"));
        let p = run(
            &t,
            vec![
                serde_json::json!({"number": 0, "label": "z1", "sizeMiB": 5}),
                serde_json::json!({"number": 1, "label": "one", "sizeMiB": 5}),
                serde_json::json!({"number": 0, "label": "z2", "sizeMiB": 5}),
            ],
        )
        .unwrap();
        let l = layout(&p);
        assert_eq!(l[0], (1, 11 * MIB, 5 * MIB, "one".into()));
        assert_eq!(l[1], (2, MIB, 10 * MIB, "two".into()));
        assert_eq!(l[2], (3, 16 * MIB, 5 * MIB, "z1".into()));
        assert_eq!(l[3], (4, 21 * MIB, 5 * MIB, "z2".into()));
        // Steps come in config order with numbers 0 last.
        let order: Vec<u32> = p.steps.iter().map(|s| s.number).collect();
        assert_eq!(order, vec![1, 3, 4]);
    }

    #[test]
    fn start_zero_goes_to_the_largest_block() {
        let mut t = disk(100);
        t.entries.insert(1, ent(1, 10, "a"));
        t.entries.insert(2, ent(20, 10, "b"));
        let p = run(
            &t,
            vec![serde_json::json!({"number": 3, "startMiB": 0, "sizeMiB": 5})],
        )
        .unwrap();
        assert_eq!(p.table.entries[&3].start, 30 * MIB);
    }

    #[test]
    fn matching_partitions_are_kept_case_insensitively() {
        let mut t = disk(100);
        let mut e = ent(1, 10, "root");
        e.guid = Uuid::parse_str("5cb9a4b6-55cd-4f17-9c5c-2c2c1d1e2f30").unwrap();
        t.entries.insert(1, e);
        let p = run(
            &t,
            vec![serde_json::json!({
                "number": 1, "label": "root", "startMiB": 1, "sizeMiB": 10,
                "guid": "5CB9A4B6-55CD-4F17-9C5C-2C2C1D1E2F30",
                "typeGuid": "0fc63daf-8483-4772-8e79-3d69d8477de4"
            })],
        )
        .unwrap();
        assert_eq!(p.steps[0].action, Action::Keep);
        assert!(!p.changes());
        assert_eq!(p.table, t);
        // Unset start and size match whatever is there.
        let p = run(&t, vec![serde_json::json!({"number": 1, "label": "root"})]).unwrap();
        assert_eq!(p.steps[0].action, Action::Keep);
        // Size 0 on a partition that already fills its block matches too.
        let mut t2 = disk(100);
        let mut full = ent(1, 0, "root");
        full.size = t2.geometry.last_usable - MIB + 1;
        t2.entries.insert(1, full);
        let p = run(&t2, vec![serde_json::json!({"number": 1, "sizeMiB": 0})]).unwrap();
        assert_eq!(p.steps[0].action, Action::Keep);
    }

    #[test]
    fn mismatches_fail_without_wipe_and_recreate_with_it() {
        let mut t = disk(100);
        t.entries.insert(1, ent(1, 10, "root"));
        for (j, what) in [
            (
                serde_json::json!({"number": 1, "label": "var"}),
                "label did not match",
            ),
            (
                serde_json::json!({"number": 1, "startMiB": 2}),
                "starting sector did not match",
            ),
            (
                serde_json::json!({"number": 1, "sizeMiB": 20}),
                "size did not match",
            ),
            (
                serde_json::json!({"number": 1, "typeGuid": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"}),
                "type GUID did not match",
            ),
            (
                serde_json::json!({"number": 1, "guid": "11111111-2222-3333-4444-555555555555"}),
                "GUID did not match",
            ),
        ] {
            let e = run(&t, vec![j.clone()]).unwrap_err().to_string();
            assert!(e.contains(what) && e.contains("didn't match"), "{e}");
            let mut j = j;
            j["wipePartitionEntry"] = true.into();
            if what == "starting sector did not match" || what == "size did not match" {
                continue; // these need room; covered below
            }
            let p = run(&t, vec![j]).unwrap();
            assert_eq!(p.steps[0].action, Action::Recreate);
        }
        // Recreate with wipe: unset start goes to the largest block's start after deletion.
        let p = run(
            &t,
            vec![serde_json::json!({"number": 1, "label": "new", "sizeMiB": 20, "wipePartitionEntry": true})],
        )
        .unwrap();
        assert_eq!(layout(&p), vec![(1, MIB, 20 * MIB, "new".into())]);
        assert_eq!(p.steps[0].action, Action::Recreate);
        assert_eq!(p.table.entries[&1].guid, Uuid::from_u128(0xAAAA_0001));
    }

    #[test]
    fn delete_needs_wipe_partition_entry() {
        let mut t = disk(100);
        t.entries.insert(1, ent(1, 10, "a"));
        t.entries.insert(2, ent(11, 10, "b"));
        let e = run(
            &t,
            vec![serde_json::json!({"number": 2, "shouldExist": false})],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("wipePartitionEntry is false"), "{e}");
        let p = run(
            &t,
            vec![
                serde_json::json!({"number": 2, "shouldExist": false, "wipePartitionEntry": true}),
            ],
        )
        .unwrap();
        assert_eq!(layout(&p), vec![(1, MIB, 10 * MIB, "a".into())]);
        assert_eq!(p.steps[0].action, Action::Delete);
        // Absent and unwanted: nothing to do.
        let p = run(
            &t,
            vec![serde_json::json!({"number": 5, "shouldExist": false})],
        )
        .unwrap();
        assert_eq!(p.steps[0].action, Action::Absent);
        assert!(!p.changes());
    }

    #[test]
    fn resize_grows_root_in_place_keeping_identity() {
        // An image of 2 GiB written to a 10 GiB disk: root (4) ends where the image ended.
        let mut t = disk(10 * 1024);
        t.entries.insert(1, ent(1, 127, "BIOS"));
        t.entries.insert(4, {
            let mut e = ent(128, 2048 - 129, "root");
            e.attrs = 1 << 59;
            e
        });
        let cfg = serde_json::json!({"number": 4, "label": "root", "resize": true, "sizeMiB": 0});
        let p = run(&t, vec![cfg]).unwrap();
        assert_eq!(p.steps[0].action, Action::Resize);
        let r = &p.table.entries[&4];
        let old = &t.entries[&4];
        assert_eq!(
            (r.start, r.guid, r.type_guid, &r.label, r.attrs),
            (old.start, old.guid, old.type_guid, &old.label, old.attrs)
        );
        assert_eq!(r.end(), t.geometry.last_usable);
        assert!(p.steps[0].describe(512).contains("(was "));
        // Without resize the size mismatch is an error.
        let e = run(
            &t,
            vec![serde_json::json!({"number": 4, "label": "root", "sizeMiB": 0})],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("size did not match") && e.contains("set resize"),
            "{e}"
        );
        // Resize does not excuse other mismatches.
        let e = run(
            &t,
            vec![serde_json::json!({"number": 4, "label": "var", "resize": true, "sizeMiB": 0})],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("label did not match"), "{e}");
        // An explicit larger size works too; a smaller one shrinks.
        let p = run(
            &t,
            vec![serde_json::json!({"number": 4, "resize": true, "sizeMiB": 4096})],
        )
        .unwrap();
        assert_eq!(p.table.entries[&4].size, 4096 * MIB);
    }

    #[test]
    fn create_fails_when_it_overlaps() {
        let mut t = disk(100);
        t.entries.insert(1, ent(1, 10, "a"));
        let e = run(
            &t,
            vec![serde_json::json!({"number": 2, "startMiB": 5, "sizeMiB": 10})],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cannot place partition 2"), "{e}");
        let e = run(&t, vec![serde_json::json!({"number": 2, "sizeMiB": 1000})])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no room"), "{e}");
    }

    #[test]
    fn four_k_sectors_align_to_one_mib() {
        let t = Table {
            geometry: Geometry::fresh(4096, 100 * 256),
            entries: BTreeMap::new(),
        };
        assert_eq!(t.geometry.first_usable, 6);
        let p = run(
            &t,
            vec![
                serde_json::json!({"number": 1, "sizeMiB": 10}),
                serde_json::json!({"number": 2}),
            ],
        )
        .unwrap();
        assert_eq!(p.table.entries[&1].start, 256);
        assert_eq!(p.table.entries[&1].size, 2560);
        assert_eq!(p.table.entries[&2].start, 11 * 256);
        assert_eq!(p.table.entries[&2].end(), t.geometry.last_usable);
    }

    #[test]
    fn unaligned_free_space_aligns_like_sgdisk() {
        let mut t = disk(100);
        // A partition ending at an odd sector: the next default start moves up to 1 MiB.
        t.entries.insert(
            1,
            Entry {
                start: 34,
                size: 1000,
                ..ent(0, 0, "odd")
            },
        );
        let p = run(&t, vec![serde_json::json!({"number": 2, "sizeMiB": 1})]).unwrap();
        assert_eq!(p.table.entries[&2].start, MIB);
        assert_eq!(p.table.entries[&2].size, MIB);
    }

    #[test]
    fn bad_guid_and_number_are_errors() {
        let t = disk(100);
        let e = run(&t, vec![serde_json::json!({"number": 1, "guid": "nope"})])
            .unwrap_err()
            .to_string();
        assert!(e.contains("guid \"nope\" is not a GUID"), "{e}");
        let e = run(&t, vec![serde_json::json!({"number": 200, "sizeMiB": 1})])
            .unwrap_err()
            .to_string();
        assert!(e.contains("exceeds the table's 128 entries"), "{e}");
    }
}
