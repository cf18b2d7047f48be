//! The 468 disk cases of CoreOS Ignition's blackbox suite (`../shared/conformance/
//! ignition-blackbox`: partitions, filesystems, LUKS, a labelled config device, files on
//! partitions other than ROOT) run against the ignis binary on loop devices, as the suite's
//! harness runs them: each `in` disk an image file on `losetup -P`, partitioned, formatted and
//! seeded; `$diskN`, the `mnt_devices` strings and `$uuidN` substituted into the config; the
//! fetch and disks stages, then ROOT mounted for mount, files and umount; then every `out`
//! disk's table, filesystems and nodes checked (a negative case passes when a stage fails).
//! Deviations are shared with `tests/blackbox.rs` (`tests/blackbox/deviations.txt`).
//!
//! A case that needs what this machine lacks (a filesystem the kernel cannot mount,
//! device-mapper for LUKS, md for RAID, a mkfs tool) is skipped with the reason, never counted
//! as passed; without root or loop devices every case is. udev is not needed: the kernel
//! makes the partition nodes (devtmpfs; partx adds them when the kernel has no partition
//! table parsers), and the one link a case needs, `/dev/disk/by-label/NAME` for
//! `ignition.config.device=NAME`, is made here as udev would (those cases run one at a time)
//! and removed after. Loop devices and mounts are undone after each case, also on panic, and
//! leftovers of a killed run at the start. A passed case leaves nothing behind; a failed one
//! its logs in `target/tmp/blackbox-disks/ID`. Knobs: `BLACKBOX_FILTER`, `BLACKBOX_VERBOSE`,
//! `BLACKBOX_CORPUS` (as in tests/blackbox.rs), `BLACKBOX_DISK_JOBS` (cases at a time,
//! default 8: they mostly wait on I/O).

mod common;
#[path = "blackbox/disks.rs"]
mod disks;
#[path = "blackbox/harness.rs"]
mod harness;
// Only the per-case servers are used here (no disk case needs the fixed ones).
#[allow(dead_code)]
#[path = "blackbox/servers.rs"]
mod servers;
#[path = "blackbox/tree.rs"]
mod tree;

use disks::{partitions, s, Resources};
use harness::{say, Outcome, CASE_DEADLINE};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Held by the cases that need a `/dev/disk/by-label` link, so two never share a label.
static LABEL_LINKS: Mutex<()> = Mutex::new(());

fn is_disk_case(c: &Value) -> bool {
    c["runnable_in_temp_root"].as_bool() != Some(true)
}

fn have(tool: &str) -> bool {
    ignis::sys::cmd::find_in_path(tool).is_some()
}

/// Why no disk case can run here, if so.
fn machine_skip() -> Option<String> {
    if !rustix::process::geteuid().is_root() {
        return Some("not running as root (loop devices, mount)".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Some("no /dev/loop-control: loop devices unavailable".into());
    }
    for t in [
        "losetup", "sgdisk", "partx", "blkid", "wipefs", "mount", "umount", "base64", "bzip2", "sh",
    ] {
        if !have(t) {
            return Some(format!("{t} is not installed (scripts/setup-deps)"));
        }
    }
    let probe = Path::new(env!("CARGO_TARGET_TMPDIR")).join("blackbox-disks-probe.img");
    let ok = std::fs::File::create(&probe)
        .and_then(|f| f.set_len(1 << 20))
        .is_ok()
        && match disks::run("losetup", &["-f", "--show", &probe.to_string_lossy()]) {
            Ok(dev) => disks::run("losetup", &["-d", dev.trim()]).is_ok(),
            Err(_) => false,
        };
    let _ = std::fs::remove_file(&probe);
    if !ok {
        return Some("losetup cannot attach a loop device here".into());
    }
    None
}

/// What the machine offers the cases.
struct Machine {
    /// `/proc/filesystems`: what the kernel can mount.
    fs: BTreeSet<String>,
    device_mapper: bool,
    md: bool,
}

impl Machine {
    fn probe() -> Machine {
        // What the kernel has as modules is listed only once loaded (mount would load a
        // filesystem itself; the check below runs first).
        if have("modprobe") {
            let _ = disks::run(
                "modprobe",
                &["-a", "-q", "vfat", "btrfs", "xfs", "dm_crypt", "md_mod"],
            );
        }
        let fs = std::fs::read_to_string("/proc/filesystems")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().last().map(String::from))
            .collect();
        let device_mapper = std::fs::read_to_string("/proc/misc")
            .unwrap_or_default()
            .contains("device-mapper");
        Machine {
            fs,
            device_mapper,
            md: Path::new("/proc/mdstat").exists(),
        }
    }

    /// Why this case cannot run here, if so (checked before anything is set up, so a
    /// negative case never "passes" by failing on what the machine lacks).
    fn case_skip(&self, case: &Value) -> Option<String> {
        let cfg: Value = serde_json::from_str(s(case, "config")).unwrap_or(Value::Null);
        let storage = &cfg["storage"];
        let has = |k: &str| storage[k].as_array().is_some_and(|a| !a.is_empty());
        if has("luks") {
            if !self.device_mapper {
                return Some("LUKS needs device-mapper (dm-crypt), which this kernel lacks".into());
            }
            if !have("cryptsetup") {
                return Some("LUKS needs cryptsetup, not installed".into());
            }
        }
        if has("raid") {
            if !self.md {
                return Some("RAID needs the md driver, which this kernel lacks".into());
            }
            if !have("mdadm") {
                return Some("RAID needs mdadm, not installed".into());
            }
        }
        let mut mounted: BTreeSet<String> = BTreeSet::new();
        let mut made: BTreeSet<String> = BTreeSet::new();
        for (side, disks) in [("in", &case["in"]), ("out", &case["out"])] {
            for d in disks.as_array().into_iter().flatten() {
                for p in partitions(d) {
                    let fs = s(p, "filesystem_type");
                    let nodes = ["files", "directories", "links", "removed_nodes"]
                        .iter()
                        .any(|k| p[*k].as_array().is_some_and(|a| !a.is_empty()));
                    if (nodes || s(p, "label") == "ROOT")
                        && !matches!(fs, "" | "swap" | "blank" | "image")
                    {
                        mounted.insert(fs.to_string());
                    }
                    if side == "in" {
                        made.insert(fs.to_string());
                    }
                }
            }
        }
        for f in storage["filesystems"].as_array().into_iter().flatten() {
            // Without a format, the mount stage mounts what the partition holds.
            let existing = case["mnt_devices"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| s(m, "substitution") == s(f, "device"))
                .and_then(|m| {
                    case["in"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .flat_map(partitions)
                        .find(|p| s(p, "label") == s(m, "label"))
                })
                .map_or("", |p| s(p, "filesystem_type"));
            let fmt = match s(f, "format") {
                "" => existing,
                f => f,
            };
            if !matches!(fmt, "" | "swap" | "none" | "image" | "blank") && !s(f, "path").is_empty()
            {
                mounted.insert(fmt.to_string());
            }
            let tool = match fmt {
                "ext4" | "ext3" | "ext2" => "mkfs.ext4",
                "vfat" => "mkfs.fat",
                "xfs" => "mkfs.xfs",
                "btrfs" => "mkfs.btrfs",
                "swap" => "mkswap",
                _ => continue,
            };
            if !have(tool) {
                return Some(format!("{tool} is not installed (scripts/setup-deps)"));
            }
        }
        for fs in &mounted {
            if !self.fs.contains(fs.as_str()) {
                return Some(format!(
                    "the kernel cannot mount {fs} (not in /proc/filesystems, no module)"
                ));
            }
        }
        for fs in &made {
            let tool = match fs.as_str() {
                "vfat" => "mkfs.fat",
                "ext2" | "ext4" => "mke2fs",
                "btrfs" => "mkfs.btrfs",
                "xfs" => "mkfs.xfs",
                _ => continue,
            };
            if !have(tool) {
                return Some(format!("{tool} is not installed (scripts/setup-deps)"));
            }
        }
        None
    }
}

/// `$uuidN` in `text` replaced, one random UUID per N shared through `map` (the harness'
/// ReplaceAllUUIDVars).
fn uuids(text: &str, map: &mut HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("$uuid") {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 5..];
        let digits = tail.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            out.push_str("$uuid");
        } else {
            let key = &tail[..digits];
            out.push_str(
                map.entry(key.to_string())
                    .or_insert_with(disks::random_uuid),
            );
        }
        rest = &tail[digits..];
    }
    out.push_str(rest);
    out
}

fn substitute_uuids(disks: &mut Value, map: &mut HashMap<String, String>) {
    for d in disks.as_array_mut().into_iter().flatten() {
        for p in d["partitions"].as_array_mut().into_iter().flatten() {
            for k in ["type_guid", "guid", "filesystem_uuid"] {
                if let Some(v) = p[k].as_str() {
                    p[k] = uuids(v, map).into();
                }
            }
        }
    }
}

/// `/dev/disk/by-label/NAME` for the case's `ignition.config.device=NAME`, pointing at the
/// `in` partition whose filesystem has that label, as udev would make it.
fn label_link(
    res: &mut Resources,
    env: &[(String, String)],
    ins: &Value,
    devs: &[String],
) -> Result<(), String> {
    let Some((_, path)) = env
        .iter()
        .rev()
        .find(|(k, _)| k == "IGNITION_KERNEL_CMDLINE_PATH")
    else {
        return Ok(());
    };
    let cmdline = std::fs::read_to_string(path).unwrap_or_default();
    let Some(label) = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix("ignition.config.device="))
    else {
        return Ok(());
    };
    if label.starts_with('/') {
        return Ok(());
    }
    let target = ins
        .as_array()
        .into_iter()
        .flatten()
        .zip(devs)
        .find_map(|(d, dev)| {
            partitions(d)
                .find(|p| s(p, "filesystem_label") == label)
                .map(|p| disks::part_dev(dev, p["number"].as_u64().unwrap_or(0)))
        });
    let Some(target) = target else {
        return Ok(());
    };
    let dir = Path::new("/dev/disk/by-label");
    for d in [Path::new("/dev/disk"), dir] {
        if !d.exists() {
            std::fs::create_dir(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
            res.dirs.push(d.to_path_buf());
        }
    }
    let link = dir.join(label);
    if std::fs::canonicalize(&link).ok() == Some(PathBuf::from(&target)) {
        return Ok(());
    }
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&target, &link)
        .map_err(|e| format!("symlink {}: {e}", link.display()))?;
    res.links.push(link);
    Ok(())
}

fn run_case(case: &Value, work: &Path, machine: &Machine) -> Outcome {
    if let Some(why) = machine.case_skip(case) {
        return Outcome::Skip(why);
    }
    let id = s(case, "id");
    let wd = work.join(id);
    let _ = std::fs::remove_dir_all(&wd);
    if let Err(e) = std::fs::create_dir_all(&wd) {
        return Outcome::Fail(format!("mkdir {}: {e}", wd.display()));
    }
    let needs_label = s(case, "config").contains("ignition.config.device")
        || case["system_dir_files"]
            .to_string()
            .contains("ignition.config.device");
    // Declared before the resources: the link goes before the lock is released.
    let _label_guard = needs_label.then(|| LABEL_LINKS.lock().unwrap_or_else(|e| e.into_inner()));
    let mut res = Resources::new(&wd);
    match prepare_and_run(case, &wd, &mut res) {
        Ok(o) => o,
        Err(e) => Outcome::Fail(e),
    }
}

/// The harness' `outer`: Err is a broken setup (a failure of the case, positive or negative).
fn prepare_and_run(case: &Value, wd: &Path, res: &mut Resources) -> Result<Outcome, String> {
    let mut map = HashMap::new();
    let mut config = uuids(s(case, "config"), &mut map);
    let mut ins = case["in"].clone();
    let mut outs = case["out"].clone();
    substitute_uuids(&mut ins, &mut map);
    substitute_uuids(&mut outs, &mut map);
    let servers = servers::start_case(case["servers"].as_array().map_or(&[], |v| v));
    config = servers.substitute(&config);

    let mut devs = Vec::new();
    let mut root: Option<(usize, Value)> = None;
    let n_in = ins.as_array().map_or(0, Vec::len);
    for i in 0..n_in {
        let size = disks::image_size(&ins[i]).max(disks::image_size(&outs[i]));
        let dev = disks::setup_disk(res, i, &mut ins[i], size)?;
        for m in case["mnt_devices"].as_array().into_iter().flatten() {
            if let Some(p) = partitions(&ins[i]).find(|p| s(p, "label") == s(m, "label")) {
                let d = disks::part_dev(&dev, p["number"].as_u64().unwrap_or(0));
                config = config.replace(s(m, "substitution"), &d);
            }
        }
        config = config.replace(&format!("$disk{i}"), &dev);
        if root.is_none() {
            root = partitions(&ins[i])
                .find(|p| s(p, "label") == "ROOT")
                .map(|p| (i, p.clone()));
        }
        devs.push(dev);
    }
    let (root_disk, root_part) = root.ok_or("no partition labelled ROOT")?;
    for m in case["mnt_devices"].as_array().into_iter().flatten() {
        if config.contains(s(m, "substitution")) {
            return Err(format!("no partition labelled {}", s(m, "label")));
        }
    }
    let root_dev = &devs[root_disk];
    if config.contains("passwd") {
        disks::with_mounted(wd, root_disk, root_dev, &root_part, tree::passwd_prep)??;
    }
    std::fs::write(wd.join("config.ign"), &config).map_err(|e| format!("config.ign: {e}"))?;
    harness::validate(case, &wd.join("config.ign"))?;
    let env = harness::case_env(case, wd)?;
    label_link(res, &env, &ins, &devs)?;

    let deadline = Instant::now() + CASE_DEADLINE;
    let skip_critical = case["skip_critical_check"].as_bool() == Some(true);
    let negative = case["should_fail"].as_bool() == Some(true);
    let stage =
        |name: &str, root: &Path| harness::stage(wd, name, root, &env, deadline, skip_critical);
    let verdict = |r: Result<(), String>| -> Option<Outcome> {
        match r {
            Ok(()) => None,
            Err(_) if negative => Some(Outcome::Pass),
            Err(e) => Some(Outcome::Fail(e)),
        }
    };
    for name in ["fetch", "disks"] {
        if let Some(o) = verdict(stage(name, Path::new(""))) {
            return Ok(o);
        }
    }
    let mnt = disks::mount_path(wd, root_disk, &root_part);
    std::fs::create_dir_all(&mnt).map_err(|e| format!("mkdir {}: {e}", mnt.display()))?;
    disks::run(
        "mount",
        &[
            "-t",
            s(&root_part, "filesystem_type"),
            &disks::part_dev(root_dev, root_part["number"].as_u64().unwrap_or(0)),
            &mnt.to_string_lossy(),
        ],
    )?;
    if let Some(o) = verdict(stage("mount", &mnt)) {
        return Ok(o);
    }
    let files = stage("files", &mnt);
    if let Some(o) = verdict(stage("umount", &mnt)) {
        return Ok(o);
    }
    disks::run("umount", &[&mnt.to_string_lossy()])?;
    if let Some(o) = verdict(files) {
        return Ok(o);
    }
    if negative {
        return Ok(Outcome::Fail(
            "every stage passed; a stage was expected to fail".into(),
        ));
    }

    let mut bad = Vec::new();
    for (i, disk) in outs.as_array().into_iter().flatten().enumerate() {
        let Some(dev) = devs.get(i) else {
            bad.push(format!("out disk {i} has no in disk"));
            continue;
        };
        bad.extend(disks::check_table(dev, disk));
        for p in partitions(disk) {
            let num = p["number"].as_u64().unwrap_or(0);
            bad.extend(disks::check_filesystem(&disks::part_dev(dev, num), p));
        }
        for p in partitions(disk) {
            let fs = s(p, "filesystem_type");
            let nodes = ["files", "directories", "links", "removed_nodes"]
                .iter()
                .any(|k| p[*k].as_array().is_some_and(|a| !a.is_empty()));
            if s(p, "type_code") == "blank"
                || p["length"].as_u64().unwrap_or(0) == 0
                || matches!(fs, "" | "swap")
                || !nodes
            {
                continue;
            }
            match disks::with_mounted(wd, i, dev, p, |at| tree::check(at, p)) {
                Ok(b) => bad.extend(b.into_iter().map(|b| format!("{}: {b}", s(p, "label")))),
                Err(e) => bad.push(e),
            }
        }
    }
    Ok(if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail(bad.join("; "))
    })
}

/// Runs each case that failed (and is not a listed deviation) once more, alone. Eight cases
/// at a time on loop devices is a load the suite's own harness never sees, and a CI machine
/// once failed two of them that passed in every run here. A case that passes the second time
/// counts as passed, and its first failure is printed (`RETRIED`) with the free space of the
/// work folder, so it stays visible; one that fails again fails with both reasons.
fn retry_failures(
    cases: &[Value],
    work: &Path,
    machine: &Machine,
    results: &mut [(usize, Outcome)],
) {
    let devs = harness::deviations();
    for (i, o) in results.iter_mut() {
        let Outcome::Fail(first) = o else { continue };
        let case = &cases[*i];
        let id = s(case, "id");
        if devs.contains_key(id) || devs.contains_key(s(case, "base_name")) {
            continue;
        }
        let first = first.clone();
        let again = run_case(case, work, machine);
        let wd = work.join(id);
        say(&format!(
            "RETRIED {id} (free in {}: {}): first run: {first}; second run: {}",
            work.display(),
            free_space(work),
            match &again {
                Outcome::Pass => "passed".to_string(),
                Outcome::Fail(why) => format!("failed: {why}"),
                Outcome::Skip(why) => format!("skipped: {why}"),
            }
        ));
        *o = match again {
            Outcome::Pass => {
                let _ = std::fs::remove_dir_all(&wd);
                Outcome::Pass
            }
            Outcome::Fail(why) => Outcome::Fail(format!("{first}; again alone: {why}")),
            skip => skip,
        };
    }
}

/// `df`'s view of the folder's filesystem, for the retry line.
fn free_space(dir: &Path) -> String {
    match rustix::fs::statvfs(dir) {
        Ok(v) => format!("{} MiB", v.f_bavail * v.f_frsize / (1 << 20)),
        Err(e) => format!("unknown ({e})"),
    }
}

#[test]
fn ignition_blackbox_disk_cases() {
    let Some(corpus) = harness::corpus() else {
        common::skip::skip(
            "ignition_blackbox_disk_cases",
            &format!(
                "the corpus is not at {} (shared/ beside the checkout)",
                harness::CORPUS
            ),
        );
        return;
    };
    let cases: Vec<Value> = harness::load_cases(&corpus)
        .into_iter()
        .filter(is_disk_case)
        .collect();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("blackbox-disks");
    let results: Vec<(usize, Outcome)> = if let Some(why) = machine_skip() {
        common::skip::skip("ignition_blackbox_disk_cases", &why);
        (0..cases.len())
            .map(|i| (i, Outcome::Skip(why.clone())))
            .collect()
    } else {
        // One run at a time on this checkout: a second one (another `cargo test` in a second
        // terminal) would take the first one's work folder and loop devices away below. It
        // waits here instead, and the lock goes with the process.
        let lock = std::fs::File::create(work.with_extension("lock"))
            .expect("creating the blackbox-disks lock file");
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
            .expect("locking the blackbox-disks lock file");
        // A killed earlier run may have left mounts and loop devices behind.
        disks::umount_below(&work);
        disks::detach_below(&work);
        let _ = std::fs::remove_dir_all(&work);
        let machine = Machine::probe();
        let next = AtomicUsize::new(0);
        let results = Mutex::new(Vec::new());
        let workers = std::env::var("BLACKBOX_DISK_JOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8usize)
            .max(1);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                scope.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    let o = run_case(case, &work, &machine);
                    // A passed case leaves nothing; a failed one its logs (not its images).
                    let wd = work.join(s(case, "id"));
                    if o == Outcome::Pass {
                        let _ = std::fs::remove_dir_all(&wd);
                    } else {
                        for i in 0..8 {
                            let _ = std::fs::remove_file(wd.join(format!("hd{i}")));
                        }
                    }
                    results
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, o));
                });
            }
        });
        let mut r = results.into_inner().unwrap_or_else(|e| e.into_inner());
        r.sort_by_key(|(i, _)| *i);
        retry_failures(&cases, &work, &machine, &mut r);
        r
    };
    harness::report("blackbox-disks", &cases, results, |_| true);
}
