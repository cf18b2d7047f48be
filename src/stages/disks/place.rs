//! sgdisk's placement rules, reproduced: free blocks between the usable bounds, the start of
//! the largest block, its Align (to 1 MiB, earlier when the sectors between are free, else
//! later), and `--new=N:START:+SIZE` with 0 meaning the default for each. Pure.

use super::plan::{Entry, Geometry};
use std::collections::BTreeMap;

/// sgdisk's placement rules over a set of (start, end) extents.
#[derive(Clone)]
pub(super) struct Sim {
    pub(super) g: Geometry,
    pub(super) parts: BTreeMap<u32, (u64, u64)>,
}

impl Sim {
    pub(super) fn new(t: &BTreeMap<u32, Entry>, g: Geometry) -> Sim {
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
    pub(super) fn create(
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
