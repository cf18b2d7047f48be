//! Files, directories and links of `storage`, applied to the target root with Ignition's
//! semantics: shallow before deep, hard links last; `overwrite` removes what is there first;
//! contents streamed into a temp file beside the destination and renamed only once complete
//! and hash-verified; owner by id or by name from the target's databases; mode only when given.
//! Long runs of files that cannot affect one another are written by one thread per CPU.

use super::plan::{check_existing, link_matches, Op, What};
use super::relabel::Labeller;
use super::Applied;
use crate::config::types::{Directory, File, Link};
use crate::error::{Context, Error, Result};
use crate::resource::{Fetcher, Sink, Spec};
use crate::sys::root::{Dir, DirCache, Kind, Meta, Root, TempFile};
use std::collections::{HashMap, HashSet};
use std::io::{Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Appends to a temp file; a retried fetch only discards its own bytes.
struct AppendSink<'a> {
    file: &'a mut std::fs::File,
    start: u64,
}

impl Write for AppendSink<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.file.write(b)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Sink for AppendSink<'_> {
    fn reset(&mut self) -> std::io::Result<()> {
        self.file.set_len(self.start)?;
        self.file.seek(SeekFrom::Start(self.start)).map(|_| ())
    }
}

/// Writes the planned nodes in order; `labeller` labels the new regular files as they are
/// written.
pub fn apply(
    root: &Root,
    ops: &[Op],
    fetcher: &Fetcher,
    out: &mut Applied,
    labeller: Option<&mut Labeller>,
) -> Result<()> {
    apply_with(root, ops, fetcher, out, labeller, writers())
}

/// [`apply`] with up to `writers` threads for runs of independent files (see [`run`]).
pub fn apply_with(
    root: &Root,
    ops: &[Op],
    fetcher: &Fetcher,
    out: &mut Applied,
    mut labeller: Option<&mut Labeller>,
    writers: usize,
) -> Result<()> {
    let mut remote = Remote::new(ops);
    let r = write_all(root, ops, fetcher, out, &mut remote, &mut labeller, writers);
    if r.is_err() {
        // A fetch that fails is only known when it fails: the temp files of the window go, and
        // so do the directories created for it that stayed empty (a configured directory stays).
        remote.pending.clear();
        let configured: HashSet<&str> = ops
            .iter()
            .filter(|o| matches!(o.what, What::Dir(_)))
            .map(|o| o.resolved.as_str())
            .collect();
        undo_dirs(root, &remote.made, &configured);
    }
    r
}

/// How many threads write runs of independent files: one per CPU the stage may run on, at
/// most [`WRITERS`]. (std's `available_parallelism` also reads cgroup quotas, which no
/// initramfs sets, at 10 KiB of binary.)
fn writers() -> usize {
    rustix::thread::sched_getaffinity(None).map_or(1, |s| (s.count() as usize).clamp(1, WRITERS))
}

/// The most threads writing files at once.
const WRITERS: usize = 4;

/// The fewest independent files in a row worth more than one thread.
const RUN_MIN: usize = 64;

fn write_all(
    root: &Root,
    ops: &[Op],
    fetcher: &Fetcher,
    out: &mut Applied,
    remote: &mut Remote,
    labeller: &mut Option<&mut Labeller>,
    writers: usize,
) -> Result<()> {
    // Each parent directory is resolved once for all the files written into it.
    let mut dirs = DirCache::new(DIRS_OPEN);
    let mut k = 0;
    while k < ops.len() {
        let end = match writers > 1 {
            true => (k..ops.len())
                .find(|&j| !independent(&ops[j]))
                .unwrap_or(ops.len()),
            false => k,
        };
        if end - k >= RUN_MIN {
            let made = &mut remote.made;
            run(root, &ops[k..end], fetcher, out, labeller, made, writers)?;
            k = end;
            continue;
        }
        for (j, o) in ops.iter().enumerate().take(end.max(k + 1)).skip(k) {
            one(root, &mut dirs, j, o, fetcher, out, remote, labeller)?;
        }
        k = end.max(k + 1);
    }
    Ok(())
}

/// Writes the node `ops[k]`. (Not inlined: the writer threads call it too.)
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn one(
    root: &Root,
    dirs: &mut DirCache,
    k: usize,
    o: &Op,
    fetcher: &Fetcher,
    out: &mut Applied,
    remote: &mut Remote,
    labeller: &mut Option<&mut Labeller>,
) -> Result<()> {
    let what = o.name();
    crate::log::op(&format!("writing {} {what}", o.kind_word()), || {
        match o.what {
            What::Dir(d) => directory(root, dirs, o, d, out),
            What::File(f) => {
                let pre = remote.take(k, root, fetcher, out)?;
                let w = Writer {
                    fetcher,
                    prefetched: pre,
                    labeller: labeller.as_deref_mut(),
                };
                file(root, dirs, o, f, out, w)
            }
            What::Link(l) => link(root, dirs, o, l, out, labeller.as_deref_mut()),
        }
    })
    .context(|| what)
}

/// Whether `o` can be written by another thread than the nodes before and after it: a file
/// whose contents are in the config (or empty), with nothing to append, that nothing else
/// lands beneath, on a path without symlinks (where it lands is where it says: a node written
/// before it cannot change that by replacing a symlink on its way). Writing it then touches
/// its own path only, in a directory that exists.
fn independent(o: &Op) -> bool {
    matches!(o.what, What::File(f) if f.append.is_empty())
        && !o.remote
        && o.leaf
        && o.resolved == o.path()
}

/// What one writer thread of [`run`] did: the paths it created, its first failure (with its
/// place in the run) and what it labelled.
#[derive(Default)]
struct Wrote<'l> {
    created: Applied,
    failed: Option<(usize, Error)>,
    labelled: Option<Labeller<'l>>,
}

/// Writes a run of [`independent`] files with up to `writers` threads. Their missing parents
/// are created first, in plan order, by this thread (recorded in `made`); then each thread
/// takes whole directories (files in a row that land in one), so that no two create entries
/// in one directory, whose lock would serialise them, and each directory's files are written
/// in plan order. The error is the first failure in plan order: a failure stops the threads
/// before any later file they have not started, so every file before it is written, as in
/// order, and some after it may be.
fn run(
    root: &Root,
    run: &[Op],
    fetcher: &Fetcher,
    out: &mut Applied,
    labeller: &mut Option<&mut Labeller>,
    made: &mut Vec<String>,
    writers: usize,
) -> Result<()> {
    let mut dirs = DirCache::new(DIRS_OPEN);
    let mut groups: Vec<std::ops::Range<usize>> = Vec::new();
    for (i, o) in run.iter().enumerate() {
        match groups.last_mut() {
            Some(g) if parent_of(&run[g.start].resolved) == parent_of(&o.resolved) => g.end = i + 1,
            _ => {
                groups.push(i..i + 1);
                let (parent, _) = entry(o.path());
                if dirs.get(root, parent)?.is_none() {
                    let m = root.mkdir_all(parent, 0o755).context(|| o.name())?;
                    out.created.extend(m.iter().cloned());
                    made.extend(m);
                }
            }
        }
    }
    drop(dirs);
    let next = AtomicUsize::new(0);
    let failed_at = AtomicUsize::new(usize::MAX);
    let base = labeller.as_deref();
    let wrote = std::sync::Mutex::new(Vec::new());
    crate::stages::util::on_threads(writers.min(groups.len()), &|| {
        let mut dirs = DirCache::new(DIRS_OPEN);
        let mut none = Remote::none();
        let mut w = Wrote {
            labelled: base.map(Labeller::fork),
            ..Wrote::default()
        };
        while let Some(g) = groups.get(next.fetch_add(1, Ordering::Relaxed)) {
            for i in g.clone() {
                if i > failed_at.load(Ordering::Relaxed) {
                    break;
                }
                let (o, out, lab) = (&run[i], &mut w.created, &mut w.labelled.as_mut());
                // The rest of this directory comes after a failure; other directories may
                // still hold files before it.
                if let Err(e) = one(root, &mut dirs, i, o, fetcher, out, &mut none, lab) {
                    failed_at.fetch_min(i, Ordering::Relaxed);
                    if w.failed.as_ref().is_none_or(|(j, _)| i < *j) {
                        w.failed = Some((i, e));
                    }
                    break;
                }
            }
        }
        if let Ok(mut all) = wrote.lock() {
            all.push(w);
        }
    })?;
    let wrote = wrote
        .into_inner()
        .map_err(|_| Error::failed("a file writer thread panicked"))?;
    // What the threads created goes after the directories made for them and before what
    // follows the run; within the run the order does not matter, nothing lands beneath.
    let mut failed: Option<(usize, Error)> = None;
    for w in wrote {
        out.created.extend(w.created.created);
        if let (Some(l), Some(f)) = (labeller.as_deref_mut(), w.labelled) {
            l.absorb(f);
        }
        if let Some((i, e)) = w.failed {
            if failed.as_ref().is_none_or(|(j, _)| i < *j) {
                failed = Some((i, e));
            }
        }
    }
    match failed {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Removes the directories in `made` (shallowest first, as created) that are still empty,
/// deepest first, except those in `keep`. Best effort: this runs on the way out of a failure.
fn undo_dirs(root: &Root, made: &[String], keep: &HashSet<&str>) {
    for d in made.iter().rev() {
        if !keep.contains(d.as_str()) {
            let _ = root.remove_dir_if_empty(d);
        }
    }
}

/// How many directories the writer keeps open (each an fd) for the files it writes.
const DIRS_OPEN: usize = 64;

/// The directory holding the entry `p` and its name.
pub(super) fn entry(p: &str) -> (&str, &str) {
    let t = p.trim_end_matches('/');
    match t.rfind('/') {
        Some(0) => ("/", &t[1..]),
        Some(i) => (&t[..i], &t[i + 1..]),
        None => ("/", t),
    }
}

fn parent_of(p: &str) -> &str {
    match p.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &p[..i],
    }
}

/// How many remote contents are fetched at once: enough to hide round trips, few enough not to
/// stampede one server when a fleet boots together.
const PARALLEL_FETCHES: usize = 8;

/// How many fetched files may wait for the writer, each holding a temp file and its directory
/// open: this bounds the stage's fds whatever the config's size (#14).
const WINDOW: usize = 32;

/// Remote contents, fetched in parallel a window at a time ahead of the writer, into temp files
/// beside their destinations (parents created first, shallow to deep).
struct Remote<'o, 'c> {
    /// (position in the plan, op) of each remote file, in write order.
    jobs: Vec<(usize, &'o Op<'c>)>,
    /// The first job not fetched yet.
    next: usize,
    pending: HashMap<usize, Result<TempFile>>,
    /// Directories created ahead of their entries (fetched files, runs written by threads),
    /// shallowest first: on a failure those left empty go.
    made: Vec<String>,
}

impl<'o, 'c> Remote<'o, 'c> {
    /// For files none of which is remote.
    fn none() -> Remote<'o, 'c> {
        Remote {
            jobs: Vec::new(),
            next: 0,
            pending: HashMap::new(),
            made: Vec::new(),
        }
    }

    fn new(ops: &'o [Op<'c>]) -> Remote<'o, 'c> {
        let jobs: Vec<_> = ops.iter().enumerate().filter(|(_, o)| o.remote).collect();
        if !jobs.is_empty() {
            log::info!(
                "fetching the contents of {} file(s), {PARALLEL_FETCHES} at a time",
                jobs.len()
            );
        }
        Remote {
            jobs,
            next: 0,
            pending: HashMap::new(),
            made: Vec::new(),
        }
    }

    /// The fetched contents of file `i` (`None` for one that is not remote), fetching the next
    /// window first when the writer has caught up with the fetches.
    fn take(
        &mut self,
        i: usize,
        root: &Root,
        fetcher: &Fetcher,
        out: &mut Applied,
    ) -> Result<Option<Result<TempFile>>> {
        if let Some(r) = self.pending.remove(&i) {
            return Ok(Some(r));
        }
        if self.jobs.get(self.next).is_none_or(|j| j.0 != i) {
            return Ok(None);
        }
        let end = (self.next + WINDOW).min(self.jobs.len());
        let window = &self.jobs[self.next..end];
        self.next = end;
        for (_, o) in window {
            if root.stat(parent_of(o.path()))?.is_none() {
                let made = root.mkdir_all(parent_of(o.path()), 0o755)?;
                out.created.extend(made.iter().cloned());
                self.made.extend(made);
            }
        }
        let results = std::sync::Mutex::new(HashMap::new());
        let next = AtomicUsize::new(0);
        crate::stages::util::on_threads(PARALLEL_FETCHES.min(window.len()), &|| loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some((i, o)) = window.get(k) else {
                break;
            };
            let Some(spec) = &o.spec else { continue };
            let r = root.create_temp(o.path()).and_then(|mut t| {
                fetcher
                    .fetch(spec, &mut t)
                    .context(|| format!("fetching {}", crate::resource::redact(&spec.url)))?;
                Ok(t)
            });
            if let Ok(mut m) = results.lock() {
                m.insert(*i, r);
            }
        })?;
        self.pending = results
            .into_inner()
            .map_err(|_| Error::failed("a fetch worker panicked"))?;
        Ok(self.pending.remove(&i))
    }
}

/// How a file's new contents are written: fetched (or fetched already), then labelled.
struct Writer<'a, 'l> {
    fetcher: &'a Fetcher,
    prefetched: Option<Result<TempFile>>,
    labeller: Option<&'a mut Labeller<'l>>,
}

fn file(
    root: &Root,
    dirs: &mut DirCache,
    o: &Op,
    f: &File,
    out: &mut Applied,
    w: Writer,
) -> Result<()> {
    let (parent, name) = entry(&f.path);
    let mut made = Vec::new();
    let dir = match dirs.get(root, parent)? {
        Some(d) => d,
        None => {
            made = root.mkdir_all(parent, 0o755)?;
            out.created.extend(made.iter().cloned());
            dirs.get(root, parent)?.ok_or_else(|| {
                Error::failed(format!("{parent} is missing right after it was created"))
            })?
        }
    };
    let found = if o.absent { None } else { dir.lstat(name)? };
    if let Some(m) = &found {
        check_existing(root, o, m)?;
    }
    // overwrite: the new file is fetched and verified into a temp file first, and only then
    // takes the old one's place (a rename replaces a file or a link atomically), so a 404, a
    // bad hash or a full disk leaves the old file as it was (Ignition deletes it first). It is
    // treated as absent for owner and mode, as after Ignition's delete.
    let replacing = found.filter(|_| f.overwrite == Some(true));
    let existing = if replacing.is_some() { None } else { found };
    let at = (&*dir, name);
    let r = file_contents(root, dirs, at, o, f, out, w, replacing, existing);
    if r.is_err() {
        // Contents that fail (a data URL's hash, an append's fetch) leave no empty directory.
        undo_dirs(root, &made, &Default::default());
    }
    r
}

/// The rest of `file`, once its parent exists: owner, mode, contents, commit.
#[allow(clippy::too_many_arguments)]
fn file_contents(
    root: &Root,
    dirs: &mut DirCache,
    (dir, name): (&Dir, &str),
    o: &Op,
    f: &File,
    out: &mut Applied,
    w: Writer,
    replacing: Option<Meta>,
    existing: Option<Meta>,
) -> Result<()> {
    let Writer {
        fetcher,
        prefetched,
        labeller,
    } = w;
    let (uid, gid) = o.owner(existing.as_ref());
    let mode = f
        .mode
        .map(|m| m as u32)
        .or(existing.map(|m| m.mode))
        .unwrap_or(0o644);
    let spec = &o.spec;
    if spec.is_none() && existing.is_some() {
        // No new contents: the file stays what it is (its inode, so its hard links and its
        // SELinux label too). Appends go onto its end in place, as with Ignition, but only once
        // all of them are fetched and verified (staged in a temp file, which is then dropped).
        if !f.append.is_empty() {
            let mut staged = dir.create_temp(name)?;
            fetch_appends(fetcher, f, &mut staged.file)?;
            staged
                .file
                .seek(SeekFrom::Start(0))
                .context(|| "reading back the appended data")?;
            let mut dst = root.open_append(&f.path)?;
            std::io::copy(&mut staged.file, &mut dst)
                .context(|| format!("appending to {}", f.path))?;
        }
        root.lchown(&f.path, uid, gid)?;
        if f.mode.is_some() {
            root.chmod(&f.path, mode)?;
        }
        return Ok(());
    }
    let was_prefetched = prefetched.is_some();
    let mut t = match prefetched {
        Some(r) => r?,
        None => dir.create_temp_for(name, mode)?,
    };
    match spec {
        Some(_) if was_prefetched => {}
        Some(spec) => {
            let n = match o.data {
                Some(url) => fetcher.fetch_data(url, spec, &mut t),
                None => fetcher.fetch(spec, &mut t),
            };
            let url = o.data.unwrap_or(&spec.url);
            let n = n.context(|| format!("fetching {}", crate::resource::redact(url)))?;
            log::debug!("{}: {n} bytes", f.path);
        }
        // A new file without contents: empty, plus the appends.
        None => {}
    }
    fetch_appends(fetcher, f, &mut t.file)?;
    // A directory (or a device, a socket) cannot be renamed over: it goes now, once the new
    // contents are complete.
    if replacing.is_some_and(|m| m.kind != Kind::File && m.kind != Kind::Symlink) {
        root.remove_all(&f.path)?;
        dirs.clear();
    }
    if existing.is_none() {
        // A created path: the walk would label it there; it is labelled now instead.
        if let Some(l) = labeller {
            let base = dir.real_path(root).trim_end_matches('/');
            l.label_new_file(&t.file, format!("{base}/{name}"))?;
        }
    }
    t.commit(mode, uid, gid)?;
    if existing.is_none() {
        out.created.push(f.path.clone());
    }
    Ok(())
}

/// Fetches the file's `append` resources, in order, onto the end of `file`.
fn fetch_appends(fetcher: &Fetcher, f: &File, file: &mut std::fs::File) -> Result<()> {
    for (i, a) in f.append.iter().enumerate() {
        let Some(spec) = Spec::from_resource(a)? else {
            continue;
        };
        let start = file.stream_position().context(|| "appending")?;
        let mut sink = AppendSink { file, start };
        fetcher
            .fetch(&spec, &mut sink)
            .context(|| format!("fetching append.{i} {}", crate::resource::redact(&spec.url)))?;
    }
    Ok(())
}

fn directory(
    root: &Root,
    dirs: &mut DirCache,
    o: &Op,
    d: &Directory,
    out: &mut Applied,
) -> Result<()> {
    let (parent, name) = entry(&d.path);
    let mut pdir = dirs.get(root, parent)?;
    let mut existing = match &pdir {
        Some(p) if !o.absent => p.lstat(name)?,
        _ => None,
    };
    if let Some(m) = &existing {
        check_existing(root, o, m)?;
    }
    if let Some(m) = existing {
        if m.kind != Kind::Dir && d.overwrite == Some(true) {
            root.remove_all(&d.path)?;
            dirs.clear();
            pdir = dirs.get(root, parent)?;
            existing = None;
        }
    }
    let mode = d.mode.map(|m| m as u32).unwrap_or(0o755);
    let (uid, gid) = o.owner(existing.as_ref());
    match (&pdir, existing) {
        // Its parent is there and it is not: one mkdir where the parent was resolved.
        (Some(p), None) => {
            p.mkdir(name, mode, Some((uid, gid)))?;
            out.created.push(d.path.clone());
        }
        (Some(p), Some(m)) if m.kind == Kind::Dir => {
            p.chown(name, uid, gid)?;
            if d.mode.is_some() {
                root.chmod(&d.path, mode)?;
            }
        }
        // No parent yet (or something else in the way, which mkdir_all reports).
        _ => {
            out.created.extend(root.mkdir_all(&d.path, mode)?);
            root.lchown(&d.path, uid, gid)?;
            if existing.is_some() && d.mode.is_some() {
                root.chmod(&d.path, mode)?;
            }
        }
    }
    Ok(())
}

fn link(
    root: &Root,
    dirs: &mut DirCache,
    o: &Op,
    l: &Link,
    out: &mut Applied,
    labeller: Option<&mut Labeller>,
) -> Result<()> {
    let target = l.target.as_deref().unwrap_or("");
    let (parent, name) = entry(&l.path);
    let found = match dirs.get(root, parent)? {
        Some(p) if !o.absent => p.lstat(name)?,
        _ => None,
    };
    if let Some(m) = found {
        check_existing(root, o, &m)?;
        if link_matches(root, l, &m)? {
            if l.hard != Some(true) {
                let (uid, gid) = o.owner(Some(&m));
                root.lchown(&l.path, uid, gid)?;
            }
            return Ok(());
        }
        // precheck refused this unless overwrite is set
        root.remove_all(&l.path)?;
        dirs.clear();
    }
    let pdir = match dirs.get(root, parent)? {
        Some(p) => p,
        None => {
            out.created.extend(root.mkdir_all(parent, 0o755)?);
            dirs.get(root, parent)?.ok_or_else(|| {
                Error::failed(format!("{parent} is missing right after it was created"))
            })?
        }
    };
    if l.hard == Some(true) {
        if root.lstat(target)?.is_none() {
            return Err(Error::failed(format!(
                "hard link target {target:?} does not exist"
            )));
        }
        root.hard_link(target, &l.path)?;
        // Its label depends on the order the walk meets its names in: the walk decides.
        if let Some(lb) = labeller {
            if let Some(real) = root.real_path(target)? {
                lb.forget(&real);
            }
        }
    } else {
        pdir.symlink(target, name)?;
        // Without an owner in the config, a new symlink takes the owner of what it points to
        // when that exists, else root: Ignition stats the link, following it, for the default
        // owner. It follows an absolute target outside the target root (in the initramfs,
        // where the target's paths are not), so for those it ends with root, as here.
        let pointee = match target.starts_with('/') {
            true => None,
            false => root.stat(&l.path)?,
        };
        let (uid, gid) = o.owner(pointee.as_ref());
        pdir.chown_new(name, uid, gid)?;
    }
    out.created.push(l.path.clone());
    Ok(())
}
