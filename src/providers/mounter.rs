//! The real `Mounter`: mounts a config drive or CD-ROM read-only on a private directory under
//! /run with the `mount` binary (through the `Runner` seam), reads one file, then always unmounts and removes the directory.
//! It never writes to the device and never follows a path out of the mounted filesystem.
//! Waiting for a device node to appear (`wait_for_device`) is the caller's choice of bound.

use super::Mounter;
use crate::error::{Context, Error, Result};
use crate::sys::cmd::{Cmd, RealRunner, Runner};
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often device nodes are looked for while waiting.
const POLL: Duration = Duration::from_millis(250);

/// Mounts with the system's `mount`/`umount`, run through the `Runner` seam.
pub struct RealMounter<'r> {
    /// Where the private mount points are made.
    pub run_dir: PathBuf,
    /// Runs `mount` and `umount`.
    runner: &'r dyn Runner,
    /// Files larger than this are refused (a config drive is small; a hostile one need not be).
    pub max_file_size: u64,
}

impl Default for RealMounter<'static> {
    fn default() -> Self {
        RealMounter::new()
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl RealMounter<'static> {
    /// The mounter of a real boot: `/run`, the real runner.
    pub fn new() -> RealMounter<'static> {
        RealMounter::with_runner(&RealRunner)
    }
}

impl<'r> RealMounter<'r> {
    /// A mounter whose `mount` and `umount` go through `runner`.
    pub fn with_runner(runner: &'r dyn Runner) -> RealMounter<'r> {
        RealMounter {
            run_dir: PathBuf::from("/run"),
            runner,
            max_file_size: 64 << 20,
        }
    }

    /// Makes a fresh mount point only root can enter.
    fn make_mount_point(&self) -> Result<PathBuf> {
        for _ in 0..100 {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = self
                .run_dir
                .join(format!("ignis-mnt.{}.{n}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::failed(format!(
                        "creating mount point {}: {e}",
                        dir.display()
                    )))
                }
            }
        }
        Err(Error::failed(format!(
            "creating mount point under {}: too many attempts",
            self.run_dir.display()
        )))
    }

    /// Runs a command; on failure the error carries its argv, exit status and stderr's tail.
    fn run(&self, cmd: Cmd) -> Result<()> {
        self.runner.run(&cmd).map(drop)
    }

    fn mount(&self, device: &Path, fstypes: &[&str], dir: &Path) -> Result<()> {
        let opts = ["-o", "ro,nosuid,nodev,noexec"];
        if fstypes.is_empty() {
            return self.run(Cmd::new("mount").args(opts).arg(device).arg(dir));
        }
        let mut failures = Vec::new();
        for t in fstypes {
            let r = self.run(
                Cmd::new("mount")
                    .args(opts)
                    .args(["-t", t])
                    .arg(device)
                    .arg(dir),
            );
            match r {
                Ok(()) => {
                    log::debug!("mounted {} ({t}) at {}", device.display(), dir.display());
                    return Ok(());
                }
                Err(e) => failures.push(format!("{t}: {e}")),
            }
        }
        Err(Error::failed(format!(
            "mounting {} read-only: {}",
            device.display(),
            failures.join("; ")
        )))
    }

    fn unmount(&self, dir: &Path) -> Result<()> {
        if let Err(e) = self.run(Cmd::new("umount").arg(dir)) {
            // A busy mount still goes away lazily; we hold no files open by now.
            log::warn!("{e}; detaching lazily");
            self.run(Cmd::new("umount").arg("-l").arg(dir))?;
        }
        Ok(())
    }

    /// Reads `rel` below the mount point `dir`, refusing paths that leave the filesystem.
    fn read_below(&self, dir: &Path, rel: &Path) -> Result<Option<Vec<u8>>> {
        let root = std::fs::canonicalize(dir).context(|| format!("resolving {}", dir.display()))?;
        let full = match std::fs::canonicalize(root.join(rel)) {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::failed(format!("resolving {}: {e}", rel.display()))),
        };
        if !full.starts_with(&root) {
            return Err(Error::failed(format!(
                "{} points outside the mounted filesystem",
                rel.display()
            )));
        }
        let f = std::fs::File::open(&full).context(|| format!("opening {}", rel.display()))?;
        let mut buf = Vec::new();
        f.take(self.max_file_size + 1)
            .read_to_end(&mut buf)
            .context(|| format!("reading {}", rel.display()))?;
        if buf.len() as u64 > self.max_file_size {
            return Err(Error::failed(format!(
                "{} is larger than {} bytes",
                rel.display(),
                self.max_file_size
            )));
        }
        Ok(Some(buf))
    }
}

/// `rel` as a plain relative path: no `..`, no root, not empty.
fn checked_rel(rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel.trim_start_matches('/'));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => {
                return Err(Error::failed(format!(
                    "invalid path {rel:?} on a config drive"
                )))
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(Error::failed(format!(
            "invalid path {rel:?} on a config drive"
        )));
    }
    Ok(out)
}

impl Mounter for RealMounter<'_> {
    fn read_file(&self, device: &Path, fstypes: &[&str], rel: &str) -> Result<Option<Vec<u8>>> {
        let rel = checked_rel(rel)?;
        let dir = self.make_mount_point()?;
        if let Err(e) = self.mount(device, fstypes, &dir) {
            let _ = std::fs::remove_dir(&dir);
            return Err(e);
        }
        let data = self.read_below(&dir, &rel);
        match self.unmount(&dir) {
            Ok(()) => {
                if let Err(e) = std::fs::remove_dir(&dir) {
                    log::warn!("removing mount point {}: {e}", dir.display());
                }
            }
            // The bytes are read; a mount left behind in /run does not make them wrong.
            Err(e) => log::warn!("unmounting {}: {e}", device.display()),
        }
        data.context(|| format!("reading {} on {}", rel.display(), device.display()))
    }
}

/// Waits until `path` exists (a `/dev/disk/by-label/...` link udev has made), polling, for at
/// most `timeout`. Returns whether it appeared.
pub fn wait_for_device(path: &Path, timeout: Duration) -> bool {
    let never = AtomicBool::new(false);
    wait_for_any(&[path.to_path_buf()], timeout, &never).is_some()
}

/// Waits until one of `paths` exists, returning the first (in order) that does; gives up after
/// `timeout` or as soon as `cancel` is set.
pub fn wait_for_any(paths: &[PathBuf], timeout: Duration, cancel: &AtomicBool) -> Option<PathBuf> {
    let start = Instant::now();
    loop {
        if let Some(p) = paths.iter().find(|p| p.exists()) {
            return Some(p.clone());
        }
        let spent = start.elapsed();
        if spent >= timeout || cancel.load(Ordering::Relaxed) {
            return None;
        }
        std::thread::sleep(POLL.min(timeout - spent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tempfile::TempDir;

    /// Runs `mount` and `umount` as the shell scripts below (real processes, their real
    /// exit statuses and stderr) and records each argv as the mounter built it.
    struct Scripted {
        mount: PathBuf,
        umount: PathBuf,
        seen: std::sync::Mutex<Vec<Vec<String>>>,
    }

    impl Runner for Scripted {
        fn run(&self, cmd: &Cmd) -> Result<Vec<u8>> {
            self.seen.lock().unwrap().push(cmd.argv());
            let script = match cmd.prog.as_str() {
                "mount" => &self.mount,
                "umount" => &self.umount,
                other => panic!("unexpected command {other}"),
            };
            RealRunner.run(&Cmd::new("/bin/sh").arg(script).args(&cmd.args))
        }
    }

    /// A mounter whose `mount` copies the "device" (a directory) into the mount point when the
    /// type is vfat, and whose `umount` empties it: the real code path minus the kernel.
    fn fake(t: &TempDir) -> (RealMounter<'static>, &'static Scripted) {
        let run = t.path().join("run");
        std::fs::create_dir(&run).unwrap();
        let mount = t.path().join("mount.sh");
        std::fs::write(
            &mount,
            "[ \"$1\" = -o ] && [ \"$2\" = ro,nosuid,nodev,noexec ] || exit 1\n\
             [ \"$4\" = vfat ] || { echo \"mount: wrong fs type $4\" >&2; exit 32; }\n\
             [ -d \"$5\" ] || { echo \"mount: $5: no such device\" >&2; exit 32; }\n\
             cp -R \"$5/.\" \"$6/\"\n",
        )
        .unwrap();
        let umount = t.path().join("umount.sh");
        std::fs::write(&umount, "find \"$1\" -mindepth 1 -delete\n").unwrap();
        let runner = Box::leak(Box::new(Scripted {
            mount,
            umount,
            seen: Default::default(),
        }));
        let m = RealMounter {
            run_dir: run,
            max_file_size: 1024,
            ..RealMounter::with_runner(runner)
        };
        (m, runner)
    }

    fn left_behind(m: &RealMounter) -> usize {
        std::fs::read_dir(&m.run_dir).unwrap().count()
    }

    #[test]
    fn mounts_reads_and_cleans_up() {
        let t = tempfile::tempdir().unwrap();
        let (m, ran) = fake(&t);
        let dev = t.path().join("dev");
        std::fs::create_dir_all(dev.join("openstack/latest")).unwrap();
        std::fs::write(dev.join("openstack/latest/user_data"), b"{}").unwrap();
        let got = m
            .read_file(&dev, &["iso9660", "vfat"], "/openstack/latest/user_data")
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"{}"[..]));
        assert_eq!(left_behind(&m), 0);
        let seen = ran.seen.lock().unwrap().clone();
        let d = dev.to_string_lossy().into_owned();
        let mnt = seen[0][6].clone();
        assert!(mnt.starts_with(&*m.run_dir.join("ignis-mnt.").to_string_lossy()));
        let want = |t: &str| {
            ["mount", "-o", "ro,nosuid,nodev,noexec", "-t", t, &d, &mnt].map(String::from)
        };
        assert_eq!(seen[0], want("iso9660"));
        assert_eq!(seen[1], want("vfat"));
        assert_eq!(seen[2], ["umount", &*mnt].map(String::from));
        assert_eq!(m.read_file(&dev, &["vfat"], "nope").unwrap(), None);
        assert_eq!(left_behind(&m), 0);
    }

    #[test]
    fn mount_failure_names_each_type() {
        let t = tempfile::tempdir().unwrap();
        let (m, _) = fake(&t);
        let e = m
            .read_file(&t.path().join("missing"), &["iso9660", "vfat"], "x")
            .unwrap_err()
            .to_string();
        assert!(e.contains("iso9660: "), "{e}");
        assert!(e.contains("wrong fs type iso9660"), "{e}");
        assert!(e.contains("no such device"), "{e}");
        assert_eq!(left_behind(&m), 0);
    }

    #[test]
    fn refuses_escapes_and_big_files() {
        let t = tempfile::tempdir().unwrap();
        let (m, _) = fake(&t);
        let dev = t.path().join("dev");
        std::fs::create_dir_all(&dev).unwrap();
        let outside = t.path().join("secret");
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, dev.join("user-data")).unwrap();
        std::fs::write(dev.join("big"), vec![b'x'; 2048]).unwrap();
        let e = m.read_file(&dev, &["vfat"], "user-data").unwrap_err();
        assert!(
            e.to_string().contains("outside the mounted filesystem"),
            "{e}"
        );
        let e = m.read_file(&dev, &["vfat"], "big").unwrap_err();
        assert!(e.to_string().contains("larger than 1024 bytes"), "{e}");
        for bad in ["../etc/passwd", "", "/"] {
            assert!(m.read_file(&dev, &["vfat"], bad).is_err(), "{bad}");
        }
        assert_eq!(left_behind(&m), 0);
    }

    #[test]
    fn waits_for_devices() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("config-2");
        assert!(!wait_for_device(&p, Duration::from_millis(50)));
        let p2 = p.clone();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            std::fs::write(&p2, b"").unwrap();
        });
        assert!(wait_for_device(&p, Duration::from_secs(5)));
        h.join().unwrap();
        let cancel = AtomicBool::new(true);
        let start = Instant::now();
        assert!(wait_for_any(&[t.path().join("x")], Duration::from_secs(5), &cancel).is_none());
        assert!(start.elapsed() < Duration::from_secs(1));
    }
}
