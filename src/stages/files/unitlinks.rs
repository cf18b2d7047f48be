//! The symlinks under /etc/systemd/system (enablements, aliases, masks), scanned once per
//! stage and kept in step with what the units step changes there, so that disabling a unit
//! (what `systemctl disable` removes) does not walk the whole tree again for every unit.

use crate::error::Result;
use crate::sys::root::{Kind, Root};

/// As deep as a disable looks below the unit directory.
const MAX_DEPTH: usize = 8;

struct Entry {
    dir: String,
    name: String,
    target: String,
    /// Of `dir` below the unit directory (0: in it).
    depth: usize,
}

impl Entry {
    fn path(&self) -> String {
        format!("{}/{}", self.dir, self.name)
    }
}

/// The symlinks of one unit directory tree.
pub struct Links {
    top: String,
    entries: Vec<Entry>,
}

impl Links {
    /// Scans `top` and its directories (not through symlinks), `MAX_DEPTH` deep.
    pub fn scan(root: &Root, top: &str) -> Result<Links> {
        let mut l = Links {
            top: top.to_string(),
            entries: Vec::new(),
        };
        l.scan_dir(root, top, 0)?;
        Ok(l)
    }

    fn scan_dir(&mut self, root: &Root, dir: &str, depth: usize) -> Result<()> {
        let Some(d) = root.open_dir(dir)? else {
            return Ok(());
        };
        for (n, kind) in d.entries()? {
            let kind = match kind {
                Some(k) => k,
                None => match d.lstat(&n)? {
                    Some(m) => m.kind,
                    None => continue,
                },
            };
            match kind {
                Kind::Dir if depth < MAX_DEPTH => {
                    self.scan_dir(root, &format!("{dir}/{n}"), depth + 1)?
                }
                Kind::Symlink => {
                    let target = d.readlink(&n)?;
                    self.entries.push(Entry {
                        dir: dir.to_string(),
                        name: n,
                        target,
                        depth,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Forgets what was at `path` and below (removed or replaced by a non-link).
    pub fn forget(&mut self, path: &str) {
        let below = format!("{}/", path.trim_end_matches('/'));
        self.entries.retain(|e| {
            let p = e.path();
            p != path && !p.starts_with(&below)
        });
    }

    /// Records a symlink the units step made directly in the unit directory.
    pub fn add_top(&mut self, name: &str, target: &str) {
        self.forget(&format!("{}/{name}", self.top));
        self.entries.push(Entry {
            dir: self.top.clone(),
            name: name.to_string(),
            target: target.to_string(),
            depth: 0,
        });
    }

    /// Removes the symlinks named `names` or pointing to a file named `unit` (not the unit's
    /// own entry in the unit directory, a linked unit file), then the directories this left
    /// empty, deepest first (never the unit directory). Returns how many links went.
    pub fn disable(&mut self, root: &Root, unit: &str, names: &[String]) -> Result<usize> {
        let mut removed = 0;
        let mut emptied: Vec<(usize, String)> = Vec::new();
        let mut keep = Vec::with_capacity(self.entries.len());
        let mut result = Ok(());
        for e in std::mem::take(&mut self.entries) {
            let points_here = e.target.rsplit('/').next() == Some(unit);
            let own = e.depth == 0 && e.name == unit;
            if result.is_ok() && !own && (names.contains(&e.name) || points_here) {
                match root.unlink(&e.path()) {
                    Ok(()) => {
                        removed += 1;
                        // Every directory between the link and the unit directory may now
                        // be empty.
                        let mut dir = e.dir.clone();
                        for depth in (1..=e.depth).rev() {
                            emptied.push((depth, dir.clone()));
                            dir = dir
                                .rsplit_once('/')
                                .map_or(String::new(), |(d, _)| d.into());
                        }
                        continue;
                    }
                    Err(err) => result = Err(err),
                }
            }
            keep.push(e);
        }
        self.entries = keep;
        result?;
        emptied.sort_by(|a, b| b.cmp(a));
        emptied.dedup();
        for (_, d) in emptied {
            if root.remove_dir_if_empty(&d)? {
                log::debug!("removed the emptied {d}");
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// The index follows the units step's own changes: a mask made after the scan is seen by
    /// a later disable, a forgotten link is not touched, and emptied directories go.
    #[test]
    fn follows_changes_and_removes_emptied_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        let sys = d.join("etc/systemd/system");
        std::fs::create_dir_all(sys.join("a.target.wants/deep")).unwrap();
        std::fs::create_dir_all(sys.join("b.target.wants")).unwrap();
        symlink(
            "/usr/lib/systemd/system/x.service",
            sys.join("a.target.wants/deep/x.service"),
        )
        .unwrap();
        symlink(
            "/usr/lib/systemd/system/x.service",
            sys.join("b.target.wants/x.service"),
        )
        .unwrap();
        symlink(
            "/usr/lib/systemd/system/y.service",
            sys.join("b.target.wants/y.service"),
        )
        .unwrap();
        let root = Root::open(&d).unwrap();
        let top = "/etc/systemd/system";
        let mut l = Links::scan(&root, top).unwrap();
        assert_eq!(l.entries.len(), 3);
        // A mask made after the scan, under the name of x's alias.
        symlink("/dev/null", sys.join("x-alias.service")).unwrap();
        l.add_top("x-alias.service", "/dev/null");
        // A link the units step replaced by a file.
        l.forget(&format!("{top}/b.target.wants/y.service"));
        let names = vec!["x.service".to_string(), "x-alias.service".to_string()];
        assert_eq!(l.disable(&root, "x.service", &names).unwrap(), 3);
        let there = |p: &str| std::fs::symlink_metadata(sys.join(p)).is_ok();
        assert!(!there("a.target.wants"), "emptied directories removed");
        assert!(
            there("b.target.wants/y.service"),
            "forgotten link untouched"
        );
        assert!(!there("b.target.wants/x.service"));
        assert!(!there("x-alias.service"));
        assert!(sys.exists());
        assert_eq!(l.entries.len(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
