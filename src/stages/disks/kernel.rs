//! The kernel's view of block devices, read from sysfs and /proc (under `HostPaths`): a
//! disk's partitions with their start and size, whether a device is mounted, held or used as
//! swap, waiting for device nodes, and bringing the kernel's partitions in line with a new
//! table (BLKPG per partition, BLKRRPART as the fallback), then checking they match.

use super::plan::Table;
use super::Env;
use crate::error::{Context, Error, Result};
use crate::sys::blockdev::{self, PartOp};
use crate::sys::cmd::Cmd;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

/// A partition as the kernel sees it: start and size in 512-byte units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KPart {
    pub name: String,
    pub start: u64,
    pub size: u64,
}

fn read_trim(p: &Path) -> Option<String> {
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

/// The kernel name of a device node (`/dev/loop0p1` -> `loop0p1`, by following symlinks).
pub fn kernel_name(dev: &Path) -> Result<String> {
    let real = std::fs::canonicalize(dev).context(|| format!("resolving {}", dev.display()))?;
    real.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::failed(format!("{} has no name", real.display())))
}

/// The partitions the kernel knows on disk `kname`.
pub fn partitions(env: &Env, kname: &str) -> Result<BTreeMap<u32, KPart>> {
    let dir = env.host.path(&format!("/sys/class/block/{kname}"));
    let mut out = BTreeMap::new();
    let rd = std::fs::read_dir(&dir).context(|| format!("reading {}", dir.display()))?;
    for ent in rd.flatten() {
        let p = ent.path();
        let Some(n) = read_trim(&p.join("partition")).and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let num = |f: &str| {
            read_trim(&p.join(f))
                .and_then(|s| s.parse::<u64>().ok())
                .ok_or_else(|| Error::failed(format!("reading {}/{f}", p.display())))
        };
        out.insert(
            n,
            KPart {
                name: ent.file_name().to_string_lossy().into_owned(),
                start: num("start")?,
                size: num("size")?,
            },
        );
    }
    Ok(out)
}

/// Why `kname` must not be changed (mounted, held by dm/md, active swap), or None.
pub fn busy(env: &Env, kname: &str) -> Option<String> {
    let sys = env.host.path(&format!("/sys/class/block/{kname}"));
    if let Ok(rd) = std::fs::read_dir(sys.join("holders")) {
        let holders: Vec<String> = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if !holders.is_empty() {
            return Some(format!("{kname} is held by {}", holders.join(", ")));
        }
    }
    let devno = read_trim(&sys.join("dev")).unwrap_or_default();
    let node = format!("/dev/{kname}");
    let same_node = |src: &str| {
        src == node
            || (src.starts_with('/')
                && std::fs::canonicalize(src)
                    .map(|p| p == Path::new(&node))
                    .unwrap_or(false))
    };
    if let Ok(mi) = std::fs::read_to_string(env.host.path("/proc/self/mountinfo")) {
        for m in crate::sys::mount::parse_mountinfo(&mi) {
            if (!devno.is_empty() && m.devno == devno) || same_node(&m.source) {
                return Some(format!("{kname} is mounted on {}", m.target));
            }
        }
    }
    if let Ok(sw) = std::fs::read_to_string(env.host.path("/proc/swaps")) {
        for l in sw.lines().skip(1) {
            if let Some(src) = l.split_whitespace().next() {
                if same_node(src) {
                    return Some(format!("{kname} is in use as swap"));
                }
            }
        }
    }
    None
}

/// Runs `udevadm settle` when udevd is running (without it, udevadm waits forever).
pub fn settle(env: &Env) {
    if !udev_running(env) || !env.runner.exists("udevadm") {
        return;
    }
    if let Err(e) = env.runner.run(&Cmd::new("udevadm").arg("settle")) {
        log::warn!("udevadm settle: {e}");
    }
}

/// `udevadm trigger --settle DEV` (so by-label links follow a new filesystem), when udevd runs.
pub fn trigger(env: &Env, dev: &Path) {
    if !udev_running(env) || !env.runner.exists("udevadm") {
        return;
    }
    if let Err(e) = env
        .runner
        .run(&Cmd::new("udevadm").args(["trigger", "--settle"]).arg(dev))
    {
        log::warn!("udevadm trigger --settle {}: {e}", dev.display());
    }
}

fn udev_running(env: &Env) -> bool {
    env.host.path("/run/udev/control").exists()
}

/// The table's partitions as the kernel counts them (512-byte units).
fn wanted(table: &Table) -> BTreeMap<u32, (u64, u64)> {
    let per = table.geometry.sector_size / 512;
    table
        .entries
        .iter()
        .map(|(n, e)| (*n, (e.start * per, e.size * per)))
        .collect()
}

/// Takes the BSD lock udev honours on a whole disk, so it does not probe (or re-read the
/// table) while we change it. Released when the file is closed.
pub fn lock(f: &File, kname: &str) -> Result<()> {
    rustix::fs::flock(f, rustix::fs::FlockOperation::LockExclusive)
        .context(|| format!("locking {kname}"))
}

/// The BLKPG operations that turn the kernel's `have` into `want`, in an order the kernel
/// accepts: it refuses (EBUSY) a resize or an add that overlaps a partition it still has, so
/// every delete comes first, then the shrinking resizes, the growing ones, and the adds.
fn part_ops(
    want: &BTreeMap<u32, (u64, u64)>,
    have: &BTreeMap<u32, KPart>,
) -> Vec<(PartOp, u32, u64, u64)> {
    let mut deletes = Vec::new();
    let mut shrinks = Vec::new();
    let mut grows = Vec::new();
    let mut adds = Vec::new();
    for (n, k) in have {
        match want.get(n) {
            Some((s, z)) if *s == k.start && *z == k.size => {}
            Some((s, z)) if *s == k.start && *z < k.size => {
                shrinks.push((PartOp::Resize, *n, *s, *z))
            }
            Some((s, z)) if *s == k.start => grows.push((PartOp::Resize, *n, *s, *z)),
            _ => deletes.push((PartOp::Delete, *n, k.start, k.size)),
        }
    }
    for (n, (s, z)) in want {
        let kept = have.get(n).is_some_and(|k| k.start == *s);
        if !kept {
            adds.push((PartOp::Add, *n, *s, *z));
        }
    }
    deletes
        .into_iter()
        .chain(shrinks)
        .chain(grows)
        .chain(adds)
        .collect()
}

/// Tells the kernel about `table` on disk `kname` (open as `f`): deletes, resizes and adds
/// partitions one by one with BLKPG, falling back to re-reading the whole table.
pub fn tell(f: &File, kname: &str, table: &Table, have: &BTreeMap<u32, KPart>) -> Result<()> {
    let ops = part_ops(&wanted(table), have);
    let mut failed = None;
    for (op, n, s, z) in &ops {
        log::info!("telling the kernel: {op:?} partition {n} of {kname} (start {s}, size {z} in 512-byte units)");
        if let Err(e) = blockdev::blkpg(f, *op, *n, s * 512, z * 512) {
            failed = Some(e);
            break;
        }
    }
    if let Some(e) = failed {
        log::warn!("{kname}: {e}; asking the kernel to re-read the whole table");
        blockdev::reread_partitions(f).map_err(|e2| {
            Error::failed(format!(
                "the kernel did not take the new partitions of {kname}: {e}; {e2}"
            ))
        })?;
    }
    Ok(())
}

/// After the disk is closed (udev may re-read it then): lets udev settle, waits for the
/// partition device nodes, and checks the kernel's starts and sizes match the table.
pub fn verify(env: &Env, kname: &str, table: &Table) -> Result<()> {
    let want = wanted(table);
    settle(env);
    let deadline = Instant::now() + env.device_timeout.min(Duration::from_secs(30));
    loop {
        let now = partitions(env, kname)?;
        let view: BTreeMap<u32, (u64, u64)> =
            now.iter().map(|(n, k)| (*n, (k.start, k.size))).collect();
        let nodes_ok = now
            .values()
            .all(|k| env.host.path(&format!("/dev/{}", k.name)).exists());
        if view == want && nodes_ok {
            return Ok(());
        }
        if Instant::now() >= deadline {
            let missing: Vec<String> = now
                .values()
                .filter(|k| !env.host.path(&format!("/dev/{}", k.name)).exists())
                .map(|k| format!("/dev/{}", k.name))
                .collect();
            return Err(Error::failed(format!(
                "the kernel's partitions of {kname} do not match the new table: kernel {view:?}, table {want:?}{}",
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("; missing device nodes: {}", missing.join(", "))
                }
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkpg_ops_delete_then_shrink_then_grow_then_add() {
        let k = |start, size| KPart {
            name: String::new(),
            start,
            size,
        };
        // partition.match.recreate.delete.add: 2 grows into the space 3 leaves, 4 is new,
        // 5 shrinks, 6 moves (deleted and added again).
        let have = BTreeMap::from([
            (1, k(2048, 100)),
            (2, k(4096, 100)),
            (3, k(8192, 100)),
            (5, k(20000, 500)),
            (6, k(30000, 100)),
        ]);
        let want = BTreeMap::from([
            (1, (2048, 100)),
            (2, (4096, 5000)),
            (4, (10000, 100)),
            (5, (20000, 200)),
            (6, (40000, 100)),
        ]);
        let ops: Vec<(PartOp, u32)> = part_ops(&want, &have)
            .into_iter()
            .map(|(o, n, _, _)| (o, n))
            .collect();
        assert_eq!(
            ops,
            vec![
                (PartOp::Delete, 3),
                (PartOp::Delete, 6),
                (PartOp::Resize, 5),
                (PartOp::Resize, 2),
                (PartOp::Add, 4),
                (PartOp::Add, 6),
            ]
        );
    }
    use crate::providers::HostPaths;
    use crate::sys::cmd::RecordingRunner;
    use std::path::PathBuf;

    fn fake_host(name: &str) -> PathBuf {
        // Outlives this helper, as the paths it hands out do.
        let d = tempfile::Builder::new()
            .prefix(&format!("ignis-{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        let w = |p: &str, s: &str| {
            let p = d.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, s).unwrap();
        };
        w("sys/class/block/vdz/dev", "252:0\n");
        std::fs::create_dir_all(d.join("sys/class/block/vdz/holders")).unwrap();
        for (n, start, size, dev) in [(1, 2048, 4096, "252:1"), (3, 8192, 100, "252:3")] {
            w(
                &format!("sys/class/block/vdz/vdz{n}/partition"),
                &format!("{n}\n"),
            );
            w(
                &format!("sys/class/block/vdz/vdz{n}/start"),
                &format!("{start}\n"),
            );
            w(
                &format!("sys/class/block/vdz/vdz{n}/size"),
                &format!("{size}\n"),
            );
            w(&format!("sys/class/block/vdz{n}/dev"), dev);
            std::fs::create_dir_all(d.join(format!("sys/class/block/vdz{n}/holders"))).unwrap();
        }
        w(
            "proc/self/mountinfo",
            "22 1 252:3 / /sysroot rw - xfs /dev/vdz3 rw\n",
        );
        w("proc/swaps", "Filename Type Size Used Priority\n");
        d
    }

    #[test]
    fn partitions_and_busy_from_sysfs() {
        let d = fake_host("busy");
        let r = RecordingRunner::new();
        let env = Env {
            runner: &r,
            host: HostPaths::new(&d),
            device_timeout: Duration::from_secs(1),
            run_dir: d.join("run"),
        };
        let p = partitions(&env, "vdz").unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            p[&1],
            KPart {
                name: "vdz1".into(),
                start: 2048,
                size: 4096
            }
        );
        assert_eq!(busy(&env, "vdz"), None);
        assert_eq!(busy(&env, "vdz1"), None);
        assert_eq!(
            busy(&env, "vdz3").as_deref(),
            Some("vdz3 is mounted on /sysroot")
        );
        std::fs::create_dir_all(d.join("sys/class/block/vdz1/holders/dm-0")).unwrap();
        assert_eq!(busy(&env, "vdz1").as_deref(), Some("vdz1 is held by dm-0"));
        // udevadm is left alone when udevd does not run.
        settle(&env);
        assert!(r.argvs().is_empty());
        std::fs::create_dir_all(d.join("run/udev")).unwrap();
        std::fs::write(d.join("run/udev/control"), "").unwrap();
        settle(&env);
        assert_eq!(
            r.argvs(),
            vec![vec!["udevadm".to_string(), "settle".to_string()]]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
