//! The SELinux relabel at the end of the files stage: what the stage created gets the label
//! `setfiles -F` would give it (each created path, and everything under a created directory
//! on the same filesystem), natively when the policy's file contexts are within what
//! `crate::selinux` reads, otherwise by running setfiles as Ignition does. With a native
//! policy read before the files are written, a new regular file gets its label when it is
//! written (on its temp file, by descriptor), and the walk passes it by.

use super::Applied;
use crate::error::{Context as _, Result};
use crate::selinux::{regex::Vm, Labels};
use crate::sys::cmd::{Cmd, Runner};
use crate::sys::root::{Dir, DirCache, Root};
use std::collections::HashSet;
use std::sync::Arc;

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;

/// The target's SELinux policy, as the relabel uses it.
pub enum Policy {
    /// No relabel (one log line said why).
    Off,
    /// File contexts `crate::selinux` reads.
    Native {
        labels: Labels,
        mode: String,
        ty: String,
    },
    /// File contexts left to setfiles, and why.
    Setfiles {
        why: String,
        mode: String,
        fc: String,
    },
}

impl Policy {
    /// The file contexts, when they are read natively.
    pub fn labels(&self) -> Option<&Labels> {
        match self {
            Policy::Native { labels, .. } => Some(labels),
            _ => None,
        }
    }
}

/// Labels new regular files as they are written, by the policy read before the stage writes
/// anything; keeps the paths it labelled (real paths inside the root), which the walk then
/// passes by.
pub struct Labeller<'l> {
    labels: &'l Labels,
    vm: Vm,
    pub done: HashSet<String>,
}

impl<'l> Labeller<'l> {
    pub fn new(labels: &'l Labels) -> Labeller<'l> {
        Labeller {
            labels,
            vm: Vm::default(),
            done: HashSet::new(),
        }
    }

    /// Labels the new regular file `file`, to be renamed to `real` (a real path inside the
    /// root), as the walk would label it there.
    pub fn label_new_file(&mut self, file: &std::fs::File, real: String) -> Result<()> {
        if let Some((_, ctx)) = self.labels.lookup(&real, S_IFREG, &mut self.vm) {
            rustix::fs::fsetxattr(
                file,
                "security.selinux",
                &crate::selinux::xattr_value(ctx),
                rustix::fs::XattrFlags::empty(),
            )
            .map_err(|e| crate::error::Error::from(e).context(format!("labelling {real}")))?;
        }
        self.done.insert(real);
        Ok(())
    }

    /// A labeller of the same policy for another thread; [`Labeller::absorb`] takes back what it
    /// labelled.
    pub fn fork(&self) -> Labeller<'l> {
        Labeller::new(self.labels)
    }

    /// What `other`, a fork of this one, labelled, as if this one had labelled it.
    pub fn absorb(&mut self, other: Labeller) {
        self.done.extend(other.done);
    }

    /// `real` is no longer the file labelled when written (a hard link to it, a later step
    /// writing there): the walk labels it.
    pub fn forget(&mut self, real: &str) {
        self.done.remove(real);
    }
}

/// Reads the target's SELinux config and, when it enforces (or logs) a policy that is
/// installed, its file contexts; otherwise one log line (Debian's Ignition fails the boot
/// here).
pub fn policy(root: &Root) -> Result<Policy> {
    let Some(cfg) = root.read("/etc/selinux/config")? else {
        log::info!("SELinux: no /etc/selinux/config in the target: nothing to relabel");
        return Ok(Policy::Off);
    };
    let text = String::from_utf8_lossy(&cfg);
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .next_back()
    };
    let mode = get("SELINUX").unwrap_or_default();
    let ty = get("SELINUXTYPE").unwrap_or_else(|| "targeted".into());
    if mode != "enforcing" && mode != "permissive" {
        log::info!("SELinux is {mode:?} in the target: nothing to relabel");
        return Ok(Policy::Off);
    }
    let fc = format!("/etc/selinux/{ty}/contexts/files/file_contexts");
    if root.lstat(&fc)?.is_none() {
        log::info!("SELinux: policy {ty} has no file_contexts in the target: nothing to relabel");
        return Ok(Policy::Off);
    }
    let labels = Labels::load(&mut |p| root.read(p), &fc).context(|| format!("reading {fc}"))?;
    Ok(match labels {
        Ok(labels) => Policy::Native { labels, mode, ty },
        Err(why) => Policy::Setfiles {
            why: why.to_string(),
            mode,
            fc,
        },
    })
}

/// Relabels what was created, by `policy` (read now when `None`). `labelled`: the regular
/// files labelled when written, which the walk passes by.
pub fn relabel(
    root: &Root,
    out: &Applied,
    policy: Option<Policy>,
    labelled: &HashSet<String>,
    runner: &dyn Runner,
) -> Result<()> {
    if out.created.is_empty() {
        return Ok(());
    }
    let policy = match policy {
        Some(p) => p,
        None => self::policy(root)?,
    };
    match policy {
        Policy::Off => {}
        Policy::Native { labels, mode, ty } => {
            // `label` skips a path no longer there itself, and would pass by those labelled
            // when written: they are left out here already.
            let paths = relabel_paths(root, &out.created, true, labelled)?;
            let n = label(root, &labels, &paths, labelled)
                .context(|| format!("SELinux is {mode} in the target"))?;
            log::info!(
                "SELinux: labelled {} paths under the {} created, {} of them when written ({} file contexts of policy {ty})",
                n + labelled.len(),
                paths.len() + labelled.len(),
                labelled.len(),
                labels.len()
            );
        }
        Policy::Setfiles { why, mode, fc } => {
            // setfiles fails on a missing path: only those still there.
            let paths = relabel_paths(root, &out.created, false, &HashSet::new())?;
            if paths.is_empty() {
                return Ok(());
            }
            log::info!("SELinux: {why}: relabelling with setfiles");
            setfiles(root, &fc, &paths, runner)
                .context(|| format!("SELinux is {mode} in the target"))?;
            log::info!("SELinux: relabelled {} paths", paths.len());
        }
    }
    Ok(())
}

/// Labels each of `paths` (real paths inside the root, as `relabel_paths` gives them) and,
/// for a directory, everything under it on the same filesystem, depth first in directory
/// order, as setfiles walks each path it is given. Within one path's walk the first name of
/// a hard-linked inode decides its label (setfiles keeps the first; it tells inodes apart by
/// number only, here the device counts too); a later path labels it again. The regular files
/// in `labelled` (labelled when written, one link each) are passed by. Returns how many labels
/// were set. The walk decides; a second thread makes the kernel calls meanwhile, in the order
/// decided (an inode labelled twice ends with the later label, as in order), and the first
/// failure in that order is the error.
pub fn label(
    root: &Root,
    labels: &Labels,
    paths: &[String],
    labelled: &HashSet<String>,
) -> Result<usize> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Job>>(QUEUED);
    std::thread::scope(|sc| {
        let setter = sc.spawn(move || -> Result<()> {
            for batch in rx {
                for (dir, name, ctx) in batch {
                    dir.set_label(&name, ctx)?;
                }
            }
            Ok(())
        });
        let mut setter_in = Setter {
            tx: Some(tx),
            batch: Vec::new(),
        };
        let walked = walk(root, labels, paths, labelled, &mut setter_in);
        setter_in.send();
        drop(setter_in);
        setter
            .join()
            .map_err(|_| crate::error::Error::failed("the labelling thread panicked"))??;
        walked
    })
}

/// A label to set: the entry `name` of the directory, and its context.
type Job<'l> = (Arc<Dir>, String, &'l str);

/// How many labels go to the labelling thread at once, and how many batches may wait. Each
/// label holds its directory open until it is set: at most (QUEUED + 2) * BATCH directories,
/// beside the walk's own cache, whatever the tree (#14: the stage's fds stay bounded).
const BATCH: usize = 32;
const QUEUED: usize = 2;

/// The walk's end of the channel to the labelling thread.
struct Setter<'l> {
    /// `None` once the thread has stopped (on a failure it reports when joined).
    tx: Option<std::sync::mpsc::SyncSender<Vec<Job<'l>>>>,
    batch: Vec<Job<'l>>,
}

impl<'l> Setter<'l> {
    /// Queues a label; false once the labelling thread has stopped.
    fn push(&mut self, job: Job<'l>) -> bool {
        self.batch.push(job);
        if self.batch.len() >= BATCH {
            self.send();
        }
        self.tx.is_some()
    }

    fn send(&mut self) {
        let batch = std::mem::take(&mut self.batch);
        if let Some(tx) = &self.tx {
            if tx.send(batch).is_err() {
                self.tx = None;
            }
        }
    }
}

/// `label`'s walk: decides each label and hands it to `setter`.
fn walk<'l>(
    root: &Root,
    labels: &'l Labels,
    paths: &[String],
    labelled: &HashSet<String>,
    setter: &mut Setter<'l>,
) -> Result<usize> {
    let mut dirs = DirCache::read_only(64);
    let mut vm = Vm::default();
    // Entries labelled already, with everything under them: labelling one again changes
    // nothing unless it is a hard-linked inode, whose label another name may have set since.
    // Those, and the directories above them, are `hot`: walked and labelled again.
    let mut done: HashSet<String> = HashSet::new();
    let mut hot: HashSet<String> = HashSet::new();
    let mut n = 0;
    for top in paths {
        // Hard-linked inodes met in this path's walk (rare: a list).
        let mut inodes: Vec<(u64, u64)> = Vec::new();
        let mut stack = vec![top.clone()];
        let mut top_dev = None;
        while let Some(p) = stack.pop() {
            if labelled.contains(&p) {
                continue;
            }
            if !done.insert(p.clone()) && !hot.contains(&p) {
                continue;
            }
            let (parent, name) = super::nodes::entry(&p);
            if name.is_empty() {
                continue;
            }
            let Some(dir) = dirs.get(root, parent)? else {
                continue;
            };
            let Some(st) = dir.label_stat(name)? else {
                continue;
            };
            let is_dir = st.file_type == S_IFDIR;
            if st.nlink > 1 && !is_dir {
                let mut up = p.as_str();
                while !up.is_empty() && hot.insert(up.to_string()) {
                    up = &up[..up.rfind('/').unwrap_or(0)];
                }
            }
            let dev = *top_dev.get_or_insert(st.dev);
            if let Some((_, ctx)) = labels.lookup(&p, st.file_type, &mut vm) {
                let id = (st.dev, st.ino);
                if st.nlink < 2 || is_dir || !inodes.contains(&id) {
                    if st.nlink > 1 && !is_dir {
                        inodes.push(id);
                    }
                    if !setter.push((dir.clone(), name.to_string(), ctx)) {
                        // It failed: joining it gives the error.
                        return Ok(n);
                    }
                    n += 1;
                }
            }
            if is_dir && st.dev == dev {
                if let Some(d) = dirs.get(root, &p)? {
                    let base = p.trim_end_matches('/');
                    for (e, _) in d.entries_unsorted()?.into_iter().rev() {
                        stack.push(format!("{base}/{e}"));
                    }
                }
            }
        }
    }
    Ok(n)
}

/// Runs setfiles over `paths` as Ignition does, for a policy `label` cannot read.
fn setfiles(root: &Root, fc: &str, paths: &[String], runner: &dyn Runner) -> Result<()> {
    let rootp = root.path().to_string_lossy().into_owned();
    let mut list = Vec::new();
    for p in paths {
        list.extend_from_slice(format!("{}{p}", rootp.trim_end_matches('/')).as_bytes());
        list.push(0);
    }
    // -v lists every relabelled path on stdout: the runner collects it, which costs about a
    // megabyte for ten thousand paths and keeps setfiles behind the one seam tests record.
    let cmd = Cmd::new("setfiles")
        .args([
            "-vF0",
            "-r",
            &rootp,
            &format!("{}{fc}", rootp.trim_end_matches('/')),
            "-f",
            "-",
        ])
        .stdin_bytes(&list);
    runner.run(&cmd)?;
    Ok(())
}

/// The created paths as setfiles must see them: directories resolved inside the root (setfiles
/// resolves symlinks on the host, where an absolute link leads out of the target), each once,
/// and only those still there (a later step may have replaced or removed one), but for those
/// in `skip`.
fn relabel_paths(
    root: &Root,
    created: &[String],
    all: bool,
    skip: &HashSet<String>,
) -> Result<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    // Each directory is opened and located once for all its entries.
    let mut dirs = crate::sys::root::DirCache::read_only(64);
    let mut real_dirs: std::collections::HashMap<String, String> = Default::default();
    for p in created {
        let (parent, name) = super::nodes::entry(p);
        if name.is_empty() || name == "." || name == ".." {
            let Some(real) = root.real_path(p)? else {
                continue;
            };
            if root.lstat(&real)?.is_some() && seen.insert(real.clone()) {
                out.push(real);
            }
            continue;
        }
        let Some(dir) = dirs.get(root, parent)? else {
            continue;
        };
        if !all && dir.lstat(name)?.is_none() {
            continue;
        }
        let base = match real_dirs.get(parent) {
            Some(b) => b,
            None => {
                let b = root.real_dir(&dir);
                real_dirs.entry(parent.to_string()).or_insert(b)
            }
        };
        let real = format!("{}/{name}", base.trim_end_matches('/'));
        if !skip.contains(&real) && seen.insert(real.clone()) {
            out.push(real);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn relabel_paths_are_resolved_deduplicated_and_present() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("srv/real/new")).unwrap();
        std::os::unix::fs::symlink("/srv/real", d.join("opt")).unwrap();
        std::fs::write(d.join("srv/real/f"), b"x").unwrap();
        let root = super::Root::open(&d).unwrap();
        let created: Vec<String> = ["/opt/new", "/opt/f", "/srv/real/f", "/opt/gone", "/opt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::relabel_paths(&root, &created, false, &Default::default()).unwrap(),
            vec!["/srv/real/new", "/srv/real/f", "/opt"]
        );
        // What was labelled when written is left out, by its real path.
        let skip = ["/srv/real/f".to_string()].into_iter().collect();
        assert_eq!(
            super::relabel_paths(&root, &created, true, &skip).unwrap(),
            vec!["/srv/real/new", "/srv/real/gone", "/opt"]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_policy_beyond_the_native_reader_goes_to_setfiles_through_the_runner() {
        use crate::sys::cmd::RecordingRunner;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("etc/selinux/targeted/contexts/files")).unwrap();
        // A lookahead is beyond `crate::selinux::regex`.
        std::fs::write(
            d.join("etc/selinux/targeted/contexts/files/file_contexts"),
            "/(?=e).*\tsystem_u:object_r:etc_t:s0\n",
        )
        .unwrap();
        std::fs::write(d.join("etc/selinux/config"), "SELINUX=enforcing\n").unwrap();
        std::fs::write(d.join("etc/a"), "").unwrap();
        let root = super::Root::open(&d).unwrap();
        let out = super::Applied {
            created: vec!["/etc/a".into(), "/etc/gone".into()],
        };
        let r = RecordingRunner::new();
        super::relabel(&root, &out, None, &Default::default(), &r).unwrap();
        let rootp = d.to_string_lossy().into_owned();
        let fc = format!("{rootp}/etc/selinux/targeted/contexts/files/file_contexts");
        assert_eq!(
            r.argvs(),
            [vec![
                "setfiles",
                "-vF0",
                "-r",
                rootp.as_str(),
                fc.as_str(),
                "-f",
                "-"
            ]]
        );
        let seen = r.seen.lock().unwrap();
        assert_eq!(
            seen[0].stdin.as_deref(),
            Some(format!("{rootp}/etc/a\0").as_bytes())
        );
        drop(seen);
        // A failing setfiles fails the stage, saying SELinux's mode.
        let r = RecordingRunner::new();
        r.reply(&["setfiles"], Err("exit status 1"));
        let e = super::relabel(&root, &out, None, &Default::default(), &r)
            .unwrap_err()
            .to_string();
        assert!(e.contains("SELinux is enforcing in the target"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
