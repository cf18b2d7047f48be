//! Automatic uid/gid and subordinate-id allocation with shadow-utils' algorithm
//! (find_new_uid/find_new_gid/find_free_range): non-system ids go above the highest id in the
//! local file, system ids below the lowest, falling back to the first gap; ids known only through
//! NSS (here: /usr/lib/passwd and /usr/lib/group) are skipped but do not move the starting point.

use super::db::{Db, SubEnt};
use super::defs::LoginDefs;
use crate::error::{Error, Result};
use std::collections::HashSet;

/// Which id space a range is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdKind {
    Uid,
    Gid,
}

impl IdKind {
    fn prefix(self) -> &'static str {
        match self {
            IdKind::Uid => "UID",
            IdKind::Gid => "GID",
        }
    }
}

/// The automatic range and the lowest id a preferred id may have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub min: u32,
    pub max: u32,
    pub preferred_min: u32,
}

fn clamp32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// UID_MIN/UID_MAX (or SYS_UID_MIN/SYS_UID_MAX, the latter defaulting to UID_MIN-1), likewise GID.
pub fn range(defs: &LoginDefs, kind: IdKind, system: bool) -> Result<IdRange> {
    let p = kind.prefix();
    let min_key = format!("{p}_MIN");
    let user_min = defs.ulong(&min_key, 1000);
    if system {
        let mut min = clamp32(defs.ulong(&format!("SYS_{p}_MIN"), 101));
        let max = clamp32(defs.ulong(&format!("SYS_{p}_MAX"), user_min.saturating_sub(1)));
        if max < min {
            return Err(Error::failed(format!(
                "invalid configuration: SYS_{p}_MIN ({min}), {p}_MIN ({user_min}), SYS_{p}_MAX ({max})"
            )));
        }
        if min == 0 {
            min = 1;
        }
        Ok(IdRange {
            min,
            max,
            preferred_min: 1,
        })
    } else {
        let min = clamp32(user_min);
        let max = clamp32(defs.ulong(&format!("{p}_MAX"), 60000));
        if max < min {
            return Err(Error::failed(format!(
                "invalid configuration: {p}_MIN ({min}), {p}_MAX ({max})"
            )));
        }
        Ok(IdRange {
            min,
            max,
            preferred_min: min,
        })
    }
}

/// Finds a free id. `local` are the ids of the local file in file order, `taken` says whether an
/// id resolves through NSS (the local file or the read-only databases).
pub fn find_new_id(
    kind: IdKind,
    r: IdRange,
    system: bool,
    preferred: Option<u32>,
    local: &[u32],
    taken: &dyn Fn(u32) -> bool,
) -> Result<u32> {
    let usable = |id: u32| id != u32::from(u16::MAX) && id != u32::MAX;
    if let Some(p) = preferred {
        if p >= r.preferred_min && p <= r.max && usable(p) && !taken(p) {
            return Ok(p);
        }
    }
    let mut used = HashSet::new();
    let mut lowest = r.max;
    let mut highest = r.min;
    for &id in local {
        if id <= lowest && id >= r.min {
            lowest = id.wrapping_sub(1);
        }
        if id >= highest && id <= r.max {
            highest = id.saturating_add(1);
        }
        if id >= r.min && id <= r.max {
            used.insert(id);
        }
    }
    let free = |id: u32| usable(id) && !used.contains(&id) && !taken(id);
    let found = if system {
        let start = if lowest < r.min { r.max } else { lowest };
        let first = (r.min..=start).rev().find(|&id| free(id));
        match first {
            Some(id) => Some(id),
            None if start != r.max => (r.min..=r.max).rev().find(|&id| free(id)),
            None => None,
        }
    } else {
        let start = if highest > r.max { r.min } else { highest };
        let first = (start..=r.max).find(|&id| free(id));
        match first {
            Some(id) => Some(id),
            None if start != r.min => (r.min..=r.max).find(|&id| free(id)),
            None => None,
        }
    };
    found.ok_or_else(|| {
        Error::failed(format!(
            "can't get unique {} (no more available {}s)",
            kind.prefix(),
            kind.prefix()
        ))
    })
}

/// SUB_UID_MIN/MAX/COUNT (or SUB_GID_*) with their built-in defaults.
pub fn sub_range(defs: &LoginDefs, kind: IdKind) -> (u64, u64, u64) {
    let p = kind.prefix();
    (
        defs.ulong(&format!("SUB_{p}_MIN"), 100_000),
        defs.ulong(&format!("SUB_{p}_MAX"), 600_100_000),
        defs.ulong(&format!("SUB_{p}_COUNT"), 65536),
    )
}

/// Sorts the subordinate id file by range (as shadow does before allocating) and returns the
/// start of the first hole of `count` ids in [min, max].
pub fn find_free_sub_range(
    db: &mut Db<SubEnt>,
    kind: IdKind,
    (min, max, count): (u64, u64, u64),
) -> Result<u64> {
    let p = kind.prefix();
    if min > max || count >= max || min + count - 1 > max {
        return Err(Error::failed(format!(
            "invalid configuration: SUB_{p}_MIN ({min}), SUB_{p}_MAX ({max}), SUB_{p}_COUNT ({count})"
        )));
    }
    db.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.count.cmp(&b.count))
            .then_with(|| a.owner.cmp(&b.owner))
    });
    let fail = || Error::failed(format!("can't get unique subordinate {p} range"));
    let mut low = min;
    for r in db.iter() {
        let last = (r.start + r.count).saturating_sub(1);
        let high = r.start.min(max + 1);
        if high > low && high - low >= count {
            return Ok(low);
        }
        if low < last + 1 {
            low = last + 1;
        }
        if low > max {
            return Err(fail());
        }
    }
    if max - low + 1 >= count {
        Ok(low)
    } else {
        Err(fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(s: &str) -> LoginDefs {
        LoginDefs::parse(Some(s.as_bytes()))
    }

    #[test]
    fn ranges_and_defaults() {
        let d = defs("");
        assert_eq!(
            range(&d, IdKind::Uid, false).unwrap(),
            IdRange {
                min: 1000,
                max: 60000,
                preferred_min: 1000
            }
        );
        assert_eq!(
            range(&d, IdKind::Gid, true).unwrap(),
            IdRange {
                min: 101,
                max: 999,
                preferred_min: 1
            }
        );
        let d = defs("GID_MIN 500\nSYS_GID_MIN 0\n");
        let r = range(&d, IdKind::Gid, true).unwrap();
        assert_eq!((r.min, r.max), (1, 499));
        assert!(range(&defs("UID_MIN 10\nUID_MAX 5\n"), IdKind::Uid, false).is_err());
    }

    #[test]
    fn user_ids_go_above_the_highest_local_id() {
        let r = range(&defs(""), IdKind::Uid, false).unwrap();
        let none = |_| false;
        assert_eq!(
            find_new_id(IdKind::Uid, r, false, None, &[0, 1000, 1005], &none).unwrap(),
            1006
        );
        // An NSS-only id is skipped without moving the start.
        let alt = |id| id == 1001;
        assert_eq!(
            find_new_id(IdKind::Uid, r, false, None, &[1000], &alt).unwrap(),
            1002
        );
        // Highest in use: wrap to the first gap.
        assert_eq!(
            find_new_id(IdKind::Uid, r, false, None, &[1000, 60000], &none).unwrap(),
            1001
        );
    }

    #[test]
    fn system_ids_go_below_the_lowest() {
        let r = range(&defs(""), IdKind::Uid, true).unwrap();
        let none = |_| false;
        assert_eq!(
            find_new_id(IdKind::Uid, r, true, None, &[0, 500, 998], &none).unwrap(),
            499
        );
        assert_eq!(
            find_new_id(IdKind::Uid, r, true, None, &[0], &none).unwrap(),
            999
        );
        assert_eq!(
            find_new_id(IdKind::Uid, r, true, None, &[101, 999], &none).unwrap(),
            998
        );
    }

    #[test]
    fn preferred_id_is_used_when_free_and_in_range() {
        let r = range(&defs(""), IdKind::Gid, false).unwrap();
        let taken = |id| id == 1003;
        assert_eq!(
            find_new_id(IdKind::Gid, r, false, Some(1002), &[1000], &taken).unwrap(),
            1002
        );
        assert_eq!(
            find_new_id(IdKind::Gid, r, false, Some(1003), &[1000], &taken).unwrap(),
            1001
        );
        assert_eq!(
            find_new_id(IdKind::Gid, r, false, Some(50), &[1000], &taken).unwrap(),
            1001
        );
    }

    #[test]
    fn exhausted_range_is_an_error() {
        let r = IdRange {
            min: 10,
            max: 11,
            preferred_min: 10,
        };
        let err = find_new_id(IdKind::Uid, r, false, None, &[10, 11], &|_| false).unwrap_err();
        assert!(err.to_string().contains("no more available UIDs"));
    }

    #[test]
    fn subordinate_ranges_fill_holes_and_sort_the_file() {
        let mut db: Db<SubEnt> = Db::load(Some(b"b:165536:65536\na:100000:65536\n"));
        let start = find_free_sub_range(&mut db, IdKind::Uid, (100_000, 600_100_000, 65536));
        assert_eq!(start.unwrap(), 231_072);
        assert_eq!(db.render(), b"a:100000:65536\nb:165536:65536\n");
        let mut gap: Db<SubEnt> = Db::load(Some(b"x:300000:10\n"));
        assert_eq!(
            find_free_sub_range(&mut gap, IdKind::Gid, (100_000, 600_100_000, 65536)).unwrap(),
            100_000
        );
        let mut empty: Db<SubEnt> = Db::load(Some(b""));
        assert!(find_free_sub_range(&mut empty, IdKind::Uid, (10, 5, 1)).is_err());
    }
}
