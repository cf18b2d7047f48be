//! The files stage's plan: the config's directories, files and links turned into node
//! operations in write order, each with its JSON path, where it lands, its owner (names
//! resolved against the databases as the passwd step leaves them), its mode and its contents
//! spec, built once. Everything that can be known before the first write is checked here:
//! unknown owners, two entries on one node, existing nodes that may not be replaced, hard links
//! to nothing. Reads only.

use super::ids::Ids;
use crate::config::types::{Config, Directory, File, Link, NodeGroup, NodeUser, Resource};
use crate::config::validate::clean_path;
use crate::error::{Context, Error, Result};
use crate::resource::Spec;
use crate::sys::root::{DirCache, Kind, Meta, Root};
use std::collections::{HashMap, HashSet};

/// What a node operation writes.
pub enum What<'c> {
    Dir(&'c Directory),
    File(&'c File),
    Link(&'c Link),
}

/// One configured node, planned.
pub struct Op<'c> {
    /// The entry's index in its config list.
    pub index: usize,
    pub what: What<'c>,
    /// Where it lands: its directories resolved inside the root as they will be when written.
    pub resolved: String,
    /// The configured owner (ids, or names resolved); `None`: the existing node's, else root.
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    /// A file's contents (`None`: no source). For a data URL its `url` is empty: the URL is
    /// read where the config holds it ([`Op::data`]), as it may be most of the config.
    pub spec: Option<Spec>,
    /// A file's contents when they are a data URL.
    pub data: Option<&'c str>,
    /// Contents fetched from elsewhere than the config itself (not a data URL).
    pub remote: bool,
    /// Known missing: its directory was missing when planned, nothing else is planned beneath
    /// it, and it is not in a home directory (which the passwd step fills from the skeleton):
    /// nothing can be there when it is written, so apply need not look.
    pub absent: bool,
    /// Nothing else planned lands beneath it: writing it cannot change where another entry
    /// lands, nor another entry where it lands.
    pub leaf: bool,
}

impl Op<'_> {
    pub fn path(&self) -> &str {
        match self.what {
            What::Dir(d) => &d.path,
            What::File(f) => &f.path,
            What::Link(l) => &l.path,
        }
    }

    pub fn json_path(&self) -> String {
        match self.what {
            What::Dir(_) => format!("$.storage.directories.{}", self.index),
            What::File(_) => format!("$.storage.files.{}", self.index),
            What::Link(_) => format!("$.storage.links.{}", self.index),
        }
    }

    /// How the log and errors name it: JSON path and config path.
    pub fn name(&self) -> String {
        format!("{} {:?}", self.json_path(), self.path())
    }

    pub fn kind_word(&self) -> &'static str {
        match self.what {
            What::Dir(_) => "directory",
            What::File(_) => "file",
            What::Link(_) => "link",
        }
    }

    fn is_hard_link(&self) -> bool {
        matches!(self.what, What::Link(l) if l.hard == Some(true))
    }

    /// The owner the node gets: the configured one, else the existing node's, else root.
    pub fn owner(&self, existing: Option<&Meta>) -> (u32, u32) {
        (
            self.uid.unwrap_or_else(|| existing.map_or(0, |m| m.uid)),
            self.gid.unwrap_or_else(|| existing.map_or(0, |m| m.gid)),
        )
    }
}

pub fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::File => "file",
        Kind::Dir => "directory",
        Kind::Symlink => "symlink",
        Kind::Other => "special file",
    }
}

/// A configured owner: the id, or the name looked up; `None` when neither is given.
fn resolve_owner(
    ids: &Ids,
    user: &NodeUser,
    group: &NodeGroup,
) -> Result<(Option<u32>, Option<u32>)> {
    let uid = match (&user.id, &user.name) {
        (Some(id), _) => Some(*id as u32),
        (None, Some(n)) if !n.is_empty() => Some(ids.user(n)?.uid),
        _ => None,
    };
    let gid = match (&group.id, &group.name) {
        (Some(id), _) => Some(*id as u32),
        (None, Some(n)) if !n.is_empty() => Some(ids.group(n)?),
        _ => None,
    };
    Ok((uid, gid))
}

/// A data URL: its contents are in the config, nothing to fetch ahead.
pub fn is_data_url(url: &str) -> bool {
    url.get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case("data:"))
}

/// Plans the config's nodes on `root` with owners from `ids`.
/// `homes` are the home directories the passwd step creates (a skeleton may fill them).
pub fn nodes<'c>(root: &Root, cfg: &'c Config, ids: &Ids, homes: &[String]) -> Result<Vec<Op<'c>>> {
    let s = &cfg.storage;
    let whats = s
        .directories
        .iter()
        .enumerate()
        .map(|(i, d)| (i, What::Dir(d)))
        .chain(s.files.iter().enumerate().map(|(i, f)| (i, What::File(f))))
        .chain(s.links.iter().enumerate().map(|(i, l)| (i, What::Link(l))));
    let mut ops = Vec::new();
    let mut resolved_dirs = HashMap::new();
    for (index, what) in whats {
        let mut op = Op {
            index,
            what,
            resolved: String::new(),
            uid: None,
            gid: None,
            spec: None,
            data: None,
            remote: false,
            absent: false,
            leaf: false,
        };
        let planned = (|| -> Result<()> {
            // Where each entry lands, its directories resolved inside the root as they will be
            // when written (symlinks followed, dangling ones too): Ignition plans on these paths.
            op.resolved = resolve(root, &mut resolved_dirs, op.path())?;
            let (user, group) = match op.what {
                What::Dir(d) => (&d.user, &d.group),
                What::File(f) => (&f.user, &f.group),
                What::Link(l) => (&l.user, &l.group),
            };
            (op.uid, op.gid) = resolve_owner(ids, user, group)?;
            if let What::File(f) = op.what {
                let source = f.contents.source.as_deref();
                op.data = source.filter(|s| is_data_url(s));
                op.remote = source.is_some_and(|s| !s.is_empty() && op.data.is_none());
                op.spec = match op.data {
                    Some(_) => Spec::from_resource(&Resource {
                        source: Some(String::new()),
                        compression: f.contents.compression.clone(),
                        verification: f.contents.verification.clone(),
                        http_headers: Vec::new(),
                    })?,
                    None => Spec::from_resource(&f.contents)?,
                };
            }
            Ok(())
        })();
        planned.context(|| op.name())?;
        ops.push(op);
    }
    // Shallow before deep (where they land); hard links after everything they may point at.
    // A stable bucket sort on that key: a comparison sort split each path twice per
    // comparison, a tenth of planning 10,000 files.
    let key = |o: &Op| {
        let depth = o.resolved.split('/').filter(|c| !c.is_empty()).count();
        (o.is_hard_link(), depth)
    };
    let keys: Vec<(bool, usize)> = ops.iter().map(key).collect();
    let levels = keys.iter().map(|k| k.1).max().unwrap_or(0) + 1;
    let mut buckets: Vec<Vec<Op>> = (0..2 * levels).map(|_| Vec::new()).collect();
    for (o, (hard, depth)) in ops.into_iter().zip(keys) {
        buckets[usize::from(hard) * levels + depth].push(o);
    }
    let mut ops: Vec<Op> = buckets.into_iter().flatten().collect();

    // Two entries that resolve to one node (through a symlinked directory) would silently
    // fight: refuse before writing anything.
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, o) in ops.iter().enumerate() {
        if let Some(other) = seen.insert(&o.resolved, i) {
            return Err(Error::failed(format!(
                "{} and {} resolve to the same path in the target ({})",
                o.name(),
                ops[other].json_path(),
                o.resolved
            )));
        }
    }
    drop(seen);
    // Refuse existing nodes that may not be replaced, and hard links to nothing, before
    // changing anything.
    let made: HashSet<&str> = ops
        .iter()
        .filter(|o| !o.is_hard_link())
        .map(|o| o.resolved.as_str())
        .collect();
    // Planning changes nothing: each directory is opened (or found missing) once.
    let mut dirs = DirCache::read_only(64);
    // Where entries land beneath another entry, a deeper one written first (a hard link
    // comes last) may have made it a directory: those are looked at.
    let mut above: HashSet<&str> = HashSet::new();
    for o in &ops {
        let mut p = o.resolved.as_str();
        while let Some(i) = p.rfind('/').filter(|&i| i > 0) {
            p = &p[..i];
            if !above.insert(p) {
                break;
            }
        }
    }
    let homes_real: Vec<String> = homes
        .iter()
        .filter_map(|h| root.resolve(h).ok())
        .map(|h| h.trim_end_matches('/').to_string())
        .collect();
    let homes_real: HashSet<&str> = homes_real.iter().map(String::as_str).collect();
    let mut absent = Vec::with_capacity(ops.len());
    let mut leaf = Vec::with_capacity(ops.len());
    for o in &ops {
        precheck(root, &mut dirs, o, &made, homes).context(|| o.name())?;
        // The cache knows the directory missing from the precheck: no syscall here.
        let (parent, _) = super::nodes::entry(o.path());
        // In a home: the home itself or beneath it (a home of "/" is "" here).
        let in_home = !homes_real.is_empty() && {
            let mut p = o.resolved.as_str();
            loop {
                if homes_real.contains(p) {
                    break true;
                }
                match p.rfind('/') {
                    Some(i) if !p.is_empty() => p = &p[..i],
                    _ => break false,
                }
            }
        };
        let below_none = !above.contains(o.resolved.as_str());
        leaf.push(below_none);
        absent.push(!in_home && below_none && dirs.get(root, parent)?.is_none());
    }
    drop((made, above));
    for ((o, a), l) in ops.iter_mut().zip(absent).zip(leaf) {
        o.absent = a;
        o.leaf = l;
    }
    Ok(ops)
}

/// `root.resolve(p)`, each directory walked once: entries of one directory share its walk.
fn resolve(root: &Root, dirs: &mut HashMap<String, String>, p: &str) -> Result<String> {
    let comps: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let Some((last, parent)) = comps.split_last() else {
        return root.resolve(p);
    };
    if *last == ".." {
        return root.resolve(p);
    }
    let key = parent.join("/");
    let dir = match dirs.get(&key) {
        Some(d) => d,
        None => {
            let d = root.resolve_dir(&format!("/{key}"))?;
            dirs.entry(key).or_insert(d)
        }
    };
    Ok(format!("{}/{last}", dir.trim_end_matches('/')))
}

/// lstat of the entry `p`, its directory opened once for all its entries.
fn lstat(root: &Root, dirs: &mut DirCache, p: &str) -> Result<Option<Meta>> {
    let t = p.trim_end_matches('/');
    let (parent, name) = match t.rfind('/') {
        Some(0) => ("/", &t[1..]),
        Some(i) => (&t[..i], &t[i + 1..]),
        None => return root.lstat(p),
    };
    if name.is_empty() || name == "." || name == ".." {
        return root.lstat(p);
    }
    match dirs.get(root, parent)? {
        Some(d) => d.lstat(name),
        None => Ok(None),
    }
}

fn precheck(
    root: &Root,
    dirs: &mut DirCache,
    o: &Op,
    made: &HashSet<&str>,
    homes: &[String],
) -> Result<()> {
    if let What::Link(l) = o.what {
        if l.hard == Some(true) {
            let target = l.target.as_deref().unwrap_or("");
            // The target exists now or is one of the config's own nodes, written before the
            // hard links, or it is in a home the passwd step creates, whose skeleton is only
            // copied then.
            let in_home = |t: &str| {
                homes.iter().any(|h| {
                    root.resolve(h)
                        .is_ok_and(|h| t.starts_with(&format!("{}/", h.trim_end_matches('/'))))
                })
            };
            let real = root.resolve(target)?;
            if root.lstat(target)?.is_none() && !made.contains(real.as_str()) && !in_home(&real) {
                return Err(Error::failed(format!(
                    "hard link target {target:?} does not exist"
                )));
            }
        }
    }
    match lstat(root, dirs, o.path())? {
        Some(m) => check_existing(root, o, &m),
        None => Ok(()),
    }
}

/// Refuses the existing node `m` at `o`'s path when `o` may not replace it. Planning asks
/// first; writing asks again, for nodes that appeared since (a home's skeleton).
pub fn check_existing(root: &Root, o: &Op, m: &Meta) -> Result<()> {
    let m = *m;
    match o.what {
        What::File(f) if f.overwrite != Some(true) => {
            if m.kind != Kind::File {
                return Err(Error::failed(format!(
                    "a {} exists there and overwrite is false",
                    kind_name(m.kind)
                )));
            }
            if f.contents.source.is_some() {
                return Err(Error::failed(
                    "a file exists there already and overwrite is false",
                ));
            }
        }
        What::Dir(d) if d.overwrite != Some(true) && m.kind != Kind::Dir => {
            return Err(Error::failed(format!(
                "a {} exists there and overwrite is false",
                kind_name(m.kind)
            )));
        }
        What::Link(l) if l.overwrite != Some(true) && !link_matches(root, l, &m)? => {
            return Err(Error::failed(format!(
                "a {} exists there that is not the configured link, and overwrite is false",
                kind_name(m.kind)
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Whether the node `m` at the link's path already is the configured link.
pub fn link_matches(root: &Root, l: &Link, m: &Meta) -> Result<bool> {
    let target = l.target.as_deref().unwrap_or("");
    if l.hard == Some(true) {
        let t = root.lstat(target)?;
        return Ok(t.is_some_and(|t| t.dev == m.dev && t.ino == m.ino));
    }
    Ok(m.kind == Kind::Symlink && clean_path(&root.readlink(&l.path)?) == clean_path(target))
}
