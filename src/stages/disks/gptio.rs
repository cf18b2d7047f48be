//! Reading and writing a GPT on a disk or image file with the `gpt` crate's parser and
//! serialisers: the table as the planner sees it, what needs repair (a damaged primary header,
//! a backup header that is not at the end of a disk that grew), wiping (`wipeTable`), and
//! writing a new table with partition numbers kept as entry slots. Knows nothing of configs.

use super::plan::{Entry, Geometry, Table};
use crate::error::{Context, Error, Result};
use gpt::disk::LogicalBlockSize;
use gpt::header::{Header, HeaderBuilder};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use uuid::Uuid;

/// What a disk holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No partition table at all.
    Blank,
    /// A GPT (possibly needing repair).
    Gpt(Gpt),
    /// Something we will not overwrite without `wipeTable` (an MBR table, a corrupt GPT).
    Foreign(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gpt {
    pub disk_guid: Uuid,
    /// Partitions by number, with the geometry the disk will have once repaired (the last
    /// usable sector follows the disk's real size).
    pub table: Table,
    /// Why the headers must be rewritten even if no partition changes (empty: all fine).
    pub repairs: Vec<String>,
    /// The protective MBR is a plain one (a single 0xEE record) we may update.
    pub plain_pmbr: bool,
    /// Sectors that held GPT structures at the old backup location, for `wipeTable`.
    pub old_backup: Option<(u64, u64)>,
}

fn lbs(sector: u64) -> Result<LogicalBlockSize> {
    match sector {
        512 => Ok(LogicalBlockSize::Lb512),
        4096 => Ok(LogicalBlockSize::Lb4096),
        n => Err(Error::failed(format!(
            "logical sector size {n} is not supported (only 512 and 4096)"
        ))),
    }
}

fn array_sectors(entries: u32, sector: u64) -> u64 {
    (u64::from(entries) * 128).div_ceil(sector)
}

/// The device with the primary header hidden (read as zeros), so the parser falls back to
/// the backup header when the primary or its entry array is damaged.
#[derive(Debug)]
struct HidePrimary<'a> {
    f: &'a mut File,
    hide: std::ops::Range<u64>,
}

impl Read for HidePrimary<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let pos = self.f.stream_position()?;
        let n = self.f.read(buf)?;
        for (i, b) in buf[..n].iter_mut().enumerate() {
            if self.hide.contains(&(pos + i as u64)) {
                *b = 0;
            }
        }
        Ok(n)
    }
}

impl Write for HidePrimary<'_> {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("read-only view"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for HidePrimary<'_> {
    fn seek(&mut self, p: SeekFrom) -> std::io::Result<u64> {
        self.f.seek(p)
    }
}

fn read_at(f: &mut File, off: u64, len: usize) -> Result<Vec<u8>> {
    let mut b = vec![0u8; len];
    f.seek(SeekFrom::Start(off))
        .and_then(|_| f.read_exact(&mut b))
        .context(|| format!("reading {len} bytes at offset {off}"))?;
    Ok(b)
}

/// Header fields the parser trusts blindly (it asserts on the entry size and reads as many
/// entries as the header says): checked first, so a hostile disk cannot crash us.
fn header_sane(b: &[u8]) -> std::result::Result<bool, String> {
    if &b[..8] != b"EFI PART" {
        return Ok(false);
    }
    let le32 = |o: usize| u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]]);
    let (num, size) = (le32(80), le32(84));
    if size != 128 {
        return Err(format!("GPT entry size {size} is not supported (only 128)"));
    }
    if num == 0 || num > 4096 {
        return Err(format!("GPT with {num} entries is not supported"));
    }
    Ok(true)
}

/// Reads the partition table of `f`, a disk of `total` sectors of `sector` bytes.
pub fn read(f: &mut File, sector: u64, total: u64) -> Result<Found> {
    let lb = lbs(sector)?;
    if total < 68 {
        return Err(Error::failed(format!(
            "the disk is too small ({total} sectors)"
        )));
    }
    let primary_raw = read_at(f, sector, 512)?;
    let backup_raw = read_at(f, (total - 1) * sector, 512)?;
    let p_sig = header_sane(&primary_raw).map_err(Error::failed)?;
    let b_sig = header_sane(&backup_raw).map_err(Error::failed)?;

    let mut repairs = Vec::new();
    let opened = match gpt::GptConfig::new()
        .writable(false)
        .logical_block_size(lb)
        .open_from_device(&mut *f)
    {
        Ok(d) => Some((
            d.primary_header().ok().cloned(),
            d.backup_header().ok().cloned(),
            d.partitions().clone(),
        )),
        Err(e) if b_sig => {
            // The primary (header or entries) is damaged: fall back to the backup.
            let view = HidePrimary {
                f: &mut *f,
                hide: sector..sector * 2,
            };
            match gpt::GptConfig::new()
                .writable(false)
                .logical_block_size(lb)
                .open_from_device(view)
            {
                Ok(d) => {
                    repairs.push(format!(
                        "the primary GPT is damaged ({e}): rebuilding it from the backup"
                    ));
                    Some((
                        None,
                        d.backup_header().ok().cloned(),
                        d.partitions().clone(),
                    ))
                }
                Err(_) => None,
            }
        }
        Err(_) => None,
    };
    let Some((primary, backup, parts)) = opened else {
        if p_sig || b_sig {
            return Ok(Found::Foreign(
                "a GPT whose headers are both damaged".to_string(),
            ));
        }
        let mbr = read_at(f, 0, 512)?;
        if mbr[510] == 0x55 && mbr[511] == 0xAA {
            let types: Vec<u8> = (0..4).map(|i| mbr[446 + 16 * i + 4]).collect();
            if types.iter().any(|t| *t != 0 && *t != 0xEE) {
                return Ok(Found::Foreign("an MBR (dos) partition table".to_string()));
            }
        }
        return Ok(Found::Blank);
    };
    let header: &Header = match (&primary, &backup) {
        (Some(h), _) | (None, Some(h)) => h,
        (None, None) => return Err(Error::failed("GPT without a valid header")),
    };
    if primary.is_none() && repairs.is_empty() {
        repairs
            .push("the primary GPT header is damaged: rebuilding it from the backup".to_string());
    }
    if primary.is_some() && backup.is_none() {
        if header.backup_lba != total - 1 {
            repairs.push(format!(
                "the backup GPT header is at sector {}, not at the end of the disk (sector {}): moving it",
                header.backup_lba,
                total - 1
            ));
        } else {
            repairs.push("the backup GPT header is damaged: rewriting it".to_string());
        }
    }
    let old_backup = primary.as_ref().and_then(|p| {
        (p.backup_lba != total - 1 && p.backup_lba < total).then(|| {
            let arr = array_sectors(p.num_parts, sector);
            (p.backup_lba.saturating_sub(arr), p.backup_lba)
        })
    });
    let geometry = Geometry {
        sector_size: sector,
        first_usable: header.first_usable,
        last_usable: total
            .checked_sub(2 + array_sectors(header.num_parts, sector))
            .ok_or_else(|| Error::failed("the disk is too small for its GPT"))?,
        max_entries: header.num_parts,
    };
    let mut entries = BTreeMap::new();
    for (n, p) in parts.iter().filter(|(_, p)| p.is_used()) {
        if p.first_lba > p.last_lba
            || p.first_lba < geometry.first_usable
            || p.last_lba > geometry.last_usable
        {
            return Err(Error::failed(format!(
                "partition {n} (sectors {}-{}) lies outside the usable area {}-{} of the disk",
                p.first_lba, p.last_lba, geometry.first_usable, geometry.last_usable
            )));
        }
        entries.insert(
            *n,
            Entry {
                start: p.first_lba,
                size: p.last_lba - p.first_lba + 1,
                type_guid: p.part_type_guid.guid,
                guid: p.part_guid,
                label: p.name.clone(),
                attrs: p.flags,
            },
        );
    }
    let mbr = read_at(f, 0, 512)?;
    let recs: Vec<u8> = (0..4).map(|i| mbr[446 + 16 * i + 4]).collect();
    let plain_pmbr = mbr[510] == 0x55
        && mbr[511] == 0xAA
        && recs[0] == 0xEE
        && recs[1..].iter().all(|t| *t == 0);
    Ok(Found::Gpt(Gpt {
        disk_guid: header.disk_guid,
        table: Table { geometry, entries },
        repairs,
        plain_pmbr,
        old_backup,
    }))
}

fn write_at(f: &mut File, off: u64, b: &[u8]) -> Result<()> {
    f.seek(SeekFrom::Start(off))
        .and_then(|_| f.write_all(b))
        .context(|| format!("writing {} bytes at offset {off}", b.len()))
}

/// `wipeTable`: zeroes the MBR and both GPTs (headers and entry arrays), like
/// `sgdisk --zap-all`. Sectors inside the usable area are left alone.
pub fn zap(f: &mut File, sector: u64, total: u64, found: &Found) -> Result<()> {
    let (first_usable, arr) = match found {
        Found::Gpt(g) => (
            g.table.geometry.first_usable,
            array_sectors(g.table.geometry.max_entries, sector),
        ),
        _ => (2 + array_sectors(128, sector), array_sectors(128, sector)),
    };
    let head = first_usable.min(total);
    write_at(f, 0, &vec![0u8; (head * sector) as usize])?;
    let tail = (arr + 1).min(total);
    write_at(
        f,
        (total - tail) * sector,
        &vec![0u8; (tail * sector) as usize],
    )?;
    if let Found::Gpt(g) = found {
        if let Some((a, b)) = g.old_backup {
            write_at(f, a * sector, &vec![0u8; ((b - a + 1) * sector) as usize])?;
        }
    }
    f.flush()?;
    f.sync_all().context(|| "syncing after wiping the table")
}

/// Writes `table` as the disk's GPT: entry N in slot N, both headers at their proper places
/// (the backup at the very end), and a protective MBR (`fresh_mbr`: new one; otherwise the
/// size of an existing plain one is updated).
pub fn write(f: &mut File, total: u64, disk_guid: Uuid, table: &Table, mbr: Mbr) -> Result<()> {
    let g = table.geometry;
    let sector = g.sector_size;
    let lb = lbs(sector)?;
    let hdr_err =
        |e: gpt::header::HeaderError| Error::failed(format!("building the GPT header: {e}"));
    let mut primary = HeaderBuilder::new()
        .disk_guid(disk_guid)
        .backup_lba(total - 1)
        .num_parts(g.max_entries)
        .part_size(128)
        .first_usable(g.first_usable)
        .build(lb)
        .map_err(hdr_err)?;
    let mut backup = HeaderBuilder::from_header(&primary)
        .primary(false)
        .build(lb)
        .map_err(hdr_err)?;
    if primary.last_usable != g.last_usable || primary.num_parts != g.max_entries {
        return Err(Error::failed(format!(
            "GPT geometry mismatch: usable up to {} with {} entries, planned {} with {}",
            primary.last_usable, primary.num_parts, g.last_usable, g.max_entries
        )));
    }
    let mut arr = Cursor::new(vec![0u8; (u64::from(primary.num_parts) * 128) as usize]);
    for (n, e) in &table.entries {
        if *n == 0 || *n > primary.num_parts {
            return Err(Error::failed(format!(
                "partition number {n} does not fit the table's {} entries",
                primary.num_parts
            )));
        }
        if e.size == 0 || e.start < primary.first_usable || e.end() > primary.last_usable {
            return Err(Error::failed(format!(
                "partition {n} (sectors {}+{}) lies outside the usable area",
                e.start, e.size
            )));
        }
        let p = gpt::partition::Partition {
            part_type_guid: e.type_guid.into(),
            part_guid: e.guid,
            first_lba: e.start,
            last_lba: e.end(),
            flags: e.attrs,
            name: e.label.clone(),
        };
        p.write_to_device(&mut arr, u64::from(*n - 1), 0, lb, 128)
            .map_err(|e| Error::failed(format!("encoding partition {n}: {e}")))?;
    }
    let arr = arr.into_inner();
    // Backup first: until the primary header is rewritten, readers keep using the old table.
    write_at(f, backup.part_start * sector, &arr)?;
    backup
        .write_backup(f, lb)
        .map_err(|e| Error::failed(format!("writing the backup GPT header: {e}")))?;
    write_at(f, primary.part_start * sector, &arr)?;
    primary
        .write_primary(f, lb)
        .map_err(|e| Error::failed(format!("writing the primary GPT header: {e}")))?;
    let pmbr_size = u32::try_from(total - 1).unwrap_or(u32::MAX);
    let pmbr = gpt::mbr::ProtectiveMBR::with_lb_size(pmbr_size);
    match mbr {
        Mbr::Fresh => pmbr.overwrite_lba0(f).map(|_| ()),
        Mbr::Update => pmbr.update_conservative(f).map(|_| ()),
        Mbr::Keep => Ok(()),
    }
    .map_err(|e| Error::failed(format!("writing the protective MBR: {e}")))?;
    f.flush()?;
    f.sync_all().context(|| "syncing the partition table")
}

/// What to do with LBA 0 when writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mbr {
    /// A new protective MBR (new table).
    Fresh,
    /// Update the size of the existing plain protective MBR, keeping boot code.
    Update,
    /// Leave a hybrid MBR alone.
    Keep,
}
