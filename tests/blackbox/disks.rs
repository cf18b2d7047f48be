//! A disk case's block devices: image files on loop devices laid out, formatted and seeded
//! from `in` the way the suite's harness does it (sgdisk with the harness' offsets, its mkfs
//! options, raw filesystem images, a corrupted table), everything that was set up undone on
//! drop (also when a case panics), and each `out` disk checked: partition numbers, GUIDs,
//! names and sizes with sgdisk, filesystem type/UUID/label with blkid, nodes on their mounted
//! filesystems.

use serde_json::Value;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SECTOR: u64 = 512;
const GPT_HEADER: u64 = 34;
const HYBRID_MBR_HEADER: u64 = 63;

pub fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

fn n(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(0)
}

pub fn partitions(disk: &Value) -> impl Iterator<Item = &Value> {
    disk["partitions"].as_array().into_iter().flatten()
}

/// Runs a tool; Err names it with its output.
pub fn run(prog: &str, args: &[&str]) -> Result<String, String> {
    let o = Command::new(prog)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{prog}: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    if o.status.success() {
        Ok(text)
    } else {
        Err(format!(
            "{prog} {}: {} {}",
            args.join(" "),
            o.status,
            text.trim()
        ))
    }
}

fn align(count: u64, alignment: u64) -> u64 {
    if alignment == 0 || count % alignment == 0 {
        count
    } else {
        count + alignment - count % alignment
    }
}

/// The harness' image size: every partition aligned, after the hybrid MBR gap, plus the
/// secondary GPT.
pub fn image_size(disk: &Value) -> u64 {
    let a = n(disk, "alignment");
    let mut size = align(HYBRID_MBR_HEADER, a);
    for p in partitions(disk) {
        size += align(n(p, "length"), a);
    }
    SECTOR * (size + GPT_HEADER - 1)
}

/// The harness' start sectors: each partition with a length at the next aligned sector.
fn offsets(disk: &Value) -> Vec<u64> {
    let a = n(disk, "alignment");
    let mut offset = GPT_HEADER;
    partitions(disk)
        .map(|p| {
            let len = n(p, "length");
            if len == 0 {
                return 0;
            }
            offset = align(offset, a);
            let o = offset;
            offset += len;
            o
        })
        .collect()
}

/// The harness' partition type names.
pub fn type_guid(p: &Value) -> Result<String, String> {
    let code = s(p, "type_code");
    Ok(match code {
        "" | "blank" => s(p, "type_guid").to_string(),
        "coreos-resize" => "3884DD41-8582-4404-B9A8-E9B84F2DF50E".into(),
        "data" => "0FC63DAF-8483-4772-8E79-3D69D8477DE4".into(),
        "coreos-rootfs" => "5DFBF5F4-2848-4BAC-AA5E-0D9A20B745A6".into(),
        "bios" => "21686148-6449-6E6F-744E-656564454649".into(),
        "efi" => "C12A7328-F81F-11D2-BA4B-00A0C93EC93B".into(),
        "coreos-reserved" => "C95DC21A-DF0E-4340-8D7B-26CBFA9A03E0".into(),
        other => return Err(format!("unknown type_code {other}")),
    })
}

/// A random version-4 UUID (the harness gives unnamed `in` partitions one).
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// What a case set up, undone on drop in reverse: mounts (anything still mounted below the
/// case's directory, deepest first, ignis' own included), device links, loop devices.
pub struct Resources {
    pub wd: PathBuf,
    pub loops: Vec<String>,
    pub links: Vec<PathBuf>,
    /// Directories made for the links (`/dev/disk/by-label` without udev), removed after.
    pub dirs: Vec<PathBuf>,
}

impl Resources {
    pub fn new(wd: &Path) -> Resources {
        Resources {
            wd: wd.to_path_buf(),
            loops: Vec::new(),
            links: Vec::new(),
            dirs: Vec::new(),
        }
    }
}

/// Unmounts everything mounted at or below `dir`, deepest first.
pub fn umount_below(dir: &Path) {
    let Ok(mi) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let d = dir.to_string_lossy().into_owned();
    let mut ts: Vec<String> = ignis::sys::mount::parse_mountinfo(&mi)
        .into_iter()
        .map(|m| m.target)
        .filter(|t| t == &d || t.starts_with(&format!("{d}/")))
        .collect();
    ts.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for t in ts {
        if run("umount", &[&t]).is_err() {
            let _ = run("umount", &["-l", &t]);
        }
    }
}

/// Detaches every loop device whose backing file lies below `dir` (left by a killed run).
pub fn detach_below(dir: &Path) {
    let Ok(out) = run("losetup", &["-n", "-l", "-O", "NAME,BACK-FILE"]) else {
        return;
    };
    let d = dir.to_string_lossy().into_owned();
    for l in out.lines() {
        let mut it = l.split_whitespace();
        if let (Some(dev), Some(file)) = (it.next(), it.next()) {
            if file.starts_with(&format!("{d}/")) {
                let _ = run("losetup", &["-d", dev]);
            }
        }
    }
}

impl Drop for Resources {
    fn drop(&mut self) {
        umount_below(&self.wd);
        for l in self.links.drain(..).rev() {
            let _ = std::fs::remove_file(&l);
        }
        for d in self.dirs.drain(..).rev() {
            let _ = std::fs::remove_dir(&d);
        }
        for d in self.loops.drain(..).rev() {
            let _ = run("losetup", &["-d", &d]);
        }
    }
}

/// `/dev/loopNpM`.
pub fn part_dev(dev: &str, number: u64) -> String {
    format!("{dev}p{number}")
}

/// `udevadm settle` when udevd runs (as the harness does), so its probes of a new device
/// are over before the next step changes it; without udevd there is nothing to wait for.
pub fn settle() {
    if Path::new("/run/udev/control").exists() {
        let _ = run("udevadm", &["settle"]);
    }
}

/// Waits until the kernel has made the partition nodes (devtmpfs; no udev needed).
fn wait_nodes(devs: &[String]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(missing) = devs.iter().find(|d| !Path::new(d).exists()) {
        if Instant::now() >= deadline {
            return Err(format!("{missing} did not appear within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn mount(fstype: &str, dev: &str, at: &Path) -> Result<(), String> {
    std::fs::create_dir_all(at).map_err(|e| format!("mkdir {}: {e}", at.display()))?;
    run("mount", &["-t", fstype, dev, &at.to_string_lossy()]).map(drop)
}

fn umount(at: &Path) -> Result<(), String> {
    run("umount", &[&at.to_string_lossy()]).map(drop)
}

/// The partition's filesystem, made with the harness' tools and options.
fn format(p: &Value, dev: &str) -> Result<(), String> {
    let (label, uuid) = (s(p, "filesystem_label"), s(p, "filesystem_uuid"));
    let (prog, mut args, lopt, uopt): (&str, Vec<String>, &str, &str) =
        match s(p, "filesystem_type") {
            "vfat" => ("mkfs.fat", vec![], "-n", "-i"),
            t @ ("ext2" | "ext4") => (
                "mke2fs",
                [
                    "-t",
                    t,
                    "-b",
                    "4096",
                    "-i",
                    "4096",
                    "-I",
                    "128",
                    "-e",
                    "remount-ro",
                ]
                .map(String::from)
                .to_vec(),
                "-L",
                "-U",
            ),
            "btrfs" => ("mkfs.btrfs", vec![], "--label", "--uuid"),
            "xfs" => ("mkfs.xfs", vec![], "-L", "-m"),
            "swap" => ("mkswap", vec![], "-L", "-U"),
            "image" => return write_image(dev, s(p, "filesystem_image")),
            "" | "blank" | "none" => return Ok(()),
            other => return Err(format!("unknown filesystem_type {other}")),
        };
    if !label.is_empty() {
        args.extend([lopt.to_string(), label.to_string()]);
    }
    if !uuid.is_empty() {
        let u = if prog == "mkfs.xfs" {
            format!("uuid={uuid}")
        } else {
            uuid.to_string()
        };
        args.extend([uopt.to_string(), u]);
    }
    args.push(dev.to_string());
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(prog, &a)?;
    Ok(())
}

/// A `filesystem_image` (base64 of bzip2) written raw onto the partition.
fn write_image(dev: &str, b64: &str) -> Result<(), String> {
    let mut child = Command::new("sh")
        .args(["-c", "base64 -d | bzip2 -dc > \"$0\"", dev])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("sh: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let data: String = b64.split_whitespace().collect();
    let writer = std::thread::spawn(move || stdin.write_all(data.as_bytes()));
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    let _ = writer.join();
    if !o.status.success() {
        return Err(format!(
            "writing the filesystem image: {}",
            String::from_utf8_lossy(&o.stderr)
        ));
    }
    Ok(())
}

/// One `in` disk on a new loop device: sized for the larger of `in` and `out`, partitioned
/// (`blank` and zero-length entries leave their gap), formatted, seeded, and its table
/// corrupted when asked. `in` partitions get a random GUID when they name none.
pub fn setup_disk(
    res: &mut Resources,
    index: usize,
    disk: &mut Value,
    size: u64,
) -> Result<String, String> {
    let img = res.wd.join(format!("hd{index}"));
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(size))
        .map_err(|e| format!("image {}: {e}", img.display()))?;
    let dev = run("losetup", &["-P", "-f", "--show", &img.to_string_lossy()])?
        .trim()
        .to_string();
    res.loops.push(dev.clone());
    settle();
    let offs = offsets(disk);
    let mut args = vec![dev.clone()];
    let mut hybrids = Vec::new();
    let mut nodes = Vec::new();
    if let Some(ps) = disk["partitions"].as_array_mut() {
        for (p, off) in ps.iter_mut().zip(&offs) {
            if s(p, "guid").is_empty() {
                p["guid"] = random_uuid().into();
            }
            if s(p, "type_code") == "blank" || n(p, "length") == 0 {
                continue;
            }
            let num = n(p, "number");
            args.push(format!("--new={num}:{off}:+{}", n(p, "length")));
            args.push(format!("--change-name={num}:{}", s(p, "label")));
            let tg = type_guid(p)?;
            if !tg.is_empty() {
                args.push(format!("--typecode={num}:{tg}"));
            }
            args.push(format!("--partition-guid={num}:{}", s(p, "guid")));
            if p["hybrid"].as_bool() == Some(true) {
                hybrids.push(num.to_string());
            }
            nodes.push(part_dev(&dev, num));
        }
    }
    if !hybrids.is_empty() {
        args.push(format!("--hybrid={}", hybrids.join(":")));
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run("sgdisk", &a)?;
    // sgdisk asks the kernel to reread the table; a kernel built without partition table
    // parsers ignores that, so the partitions are also added one by one (BLKPG, what partx
    // does; it fails harmlessly for those the kernel already has).
    if !nodes.is_empty() {
        let _ = run("partx", &["-a", &dev]);
    }
    wait_nodes(&nodes)?;
    settle();
    for p in partitions(disk) {
        // As upstream: an `in` swap partition is left unformatted.
        if s(p, "type_code") == "blank" || matches!(s(p, "filesystem_type"), "" | "swap") {
            continue;
        }
        format(p, &part_dev(&dev, n(p, "number")))?;
    }
    if disk["corrupt_table"].as_bool() == Some(true) {
        let mut junk = [0u8; 1536];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut junk))
            .map_err(|e| format!("/dev/urandom: {e}"))?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&img)
            .and_then(|mut f| f.write_all(&junk))
            .map_err(|e| format!("corrupting {}: {e}", img.display()))?;
    }
    for p in partitions(disk) {
        let fs = s(p, "filesystem_type");
        let has_nodes = ["files", "directories", "links"]
            .iter()
            .any(|k| p[*k].as_array().is_some_and(|a| !a.is_empty()));
        if matches!(fs, "" | "swap" | "blank") || !has_nodes {
            continue;
        }
        let at = mount_path(&res.wd, index, p);
        mount(fs, &part_dev(&dev, n(p, "number")), &at)?;
        let r = crate::tree::seed(&at, p);
        umount(&at)?;
        r?;
    }
    Ok(dev)
}

/// Where the harness mounts a partition.
pub fn mount_path(wd: &Path, disk: usize, p: &Value) -> PathBuf {
    wd.join(format!("hd{disk}p{}", n(p, "number")))
}

/// Runs `f` with the partition mounted at its mount path.
pub fn with_mounted<T>(
    wd: &Path,
    disk: usize,
    dev: &str,
    p: &Value,
    f: impl FnOnce(&Path) -> T,
) -> Result<T, String> {
    let at = mount_path(wd, disk, p);
    mount(s(p, "filesystem_type"), &part_dev(dev, n(p, "number")), &at)?;
    let r = f(&at);
    umount(&at)?;
    Ok(r)
}

fn norm_uuid(u: &str) -> String {
    u.replace('-', "").to_ascii_uppercase()
}

/// `key: value` from sgdisk -i's output.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(str::trim)
}

/// The partition numbers in sgdisk -p's table.
fn numbers(dev: &str) -> Result<Vec<u64>, String> {
    let out = run("sgdisk", &["-p", dev])?;
    Ok(out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("Number"))
        .skip(1)
        .filter_map(|l| {
            let t: Vec<&str> = l.split_whitespace().collect();
            let num = t.first()?.parse().ok()?;
            t.get(1)?.parse::<u64>().ok()?;
            t.get(2)?.parse::<u64>().ok()?;
            Some(num)
        })
        .collect())
}

/// The `out` disk's partition table as the harness checks it: every listed non-blank partition
/// exists with the expected type GUID and GUID (when given), name, and size rounded up to the
/// disk's alignment; no other partition exists. Start sectors are not compared (upstream's
/// harness does not either: Ignition places partitions by its own alignment).
pub fn check_table(dev: &str, disk: &Value) -> Vec<String> {
    let mut bad = Vec::new();
    let mut present = match numbers(dev) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    for p in partitions(disk) {
        if s(p, "type_code") == "blank" {
            continue;
        }
        let num = n(p, "number");
        let Some(i) = present.iter().position(|x| *x == num) else {
            bad.push(format!("{dev}: partition {num} is missing"));
            continue;
        };
        present.remove(i);
        let info = match run("sgdisk", &["-i", &num.to_string(), dev]) {
            Ok(t) => t,
            Err(e) => {
                bad.push(e);
                continue;
            }
        };
        let first = |k: &str| {
            field(&info, k)
                .and_then(|v| v.split_whitespace().next())
                .unwrap_or("")
                .to_string()
        };
        let want_type = type_guid(p).unwrap_or_default();
        let got_type = first("Partition GUID code:");
        if !want_type.is_empty() && norm_uuid(&want_type) != norm_uuid(&got_type) {
            bad.push(format!(
                "{dev} partition {num}: type GUID {got_type}, expected {want_type}"
            ));
        }
        let got_guid = first("Partition unique GUID:");
        if !s(p, "guid").is_empty() && norm_uuid(s(p, "guid")) != norm_uuid(&got_guid) {
            bad.push(format!(
                "{dev} partition {num}: GUID {got_guid}, expected {}",
                s(p, "guid")
            ));
        }
        let got_name = field(&info, "Partition name:")
            .unwrap_or("")
            .trim_matches('\'');
        if got_name != s(p, "label") {
            bad.push(format!(
                "{dev} partition {num}: name {got_name:?}, expected {:?}",
                s(p, "label")
            ));
        }
        let want_size = align(n(p, "length"), n(disk, "alignment"));
        let got_size = first("Partition size:");
        if got_size != want_size.to_string() {
            bad.push(format!(
                "{dev} partition {num}: {got_size} sectors, expected {want_size}"
            ));
        }
    }
    if !present.is_empty() {
        bad.push(format!("{dev}: extra partitions {present:?}"));
    }
    bad
}

/// Every signature on the device as (type, uuid, label), most likely first: blkid's safe probe
/// when it is unambiguous, else all that wipefs sees (an `ambivalent` expectation accepts any).
fn signatures(dev: &str, ambivalent: bool) -> Result<Vec<[String; 3]>, String> {
    let o = Command::new("blkid")
        .args(["-p", "-o", "export", dev])
        .output()
        .map_err(|e| format!("blkid: {e}"))?;
    let text = String::from_utf8_lossy(&o.stdout);
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    match o.status.code() {
        Some(0) => Ok(vec![[get("TYPE"), get("UUID"), get("LABEL")]]),
        // Nothing found.
        Some(2) => Ok(vec![[String::new(), String::new(), String::new()]]),
        // Ambivalent result.
        Some(8) if ambivalent => {
            let w = run(
                "wipefs",
                &["-n", "--noheadings", "-O", "TYPE,UUID,LABEL", "-J", dev],
            )?;
            let v: Value = serde_json::from_str(&w).map_err(|e| format!("wipefs -J: {e}"))?;
            Ok(v["signatures"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|sg| [s(sg, "type"), s(sg, "uuid"), s(sg, "label")].map(String::from))
                .collect())
        }
        _ => Err(format!(
            "blkid -p {dev}: {} {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    }
}

/// The filesystem expectations of one `out` partition (type, UUID, label when given).
pub fn check_filesystem(dev: &str, p: &Value) -> Vec<String> {
    let (ty, uuid, label) = (
        s(p, "filesystem_type"),
        s(p, "filesystem_uuid"),
        s(p, "filesystem_label"),
    );
    if ty.is_empty() && uuid.is_empty() && label.is_empty() {
        return Vec::new();
    }
    let sigs = match signatures(dev, p["ambivalent"].as_bool() == Some(true)) {
        Ok(v) => v,
        Err(e) => return vec![e],
    };
    let matches = |sg: &[String; 3]| {
        (ty.is_empty() || sg[0] == ty)
            && (uuid.is_empty() || norm_uuid(&sg[1]) == norm_uuid(uuid))
            && (label.is_empty() || sg[2] == label)
    };
    if sigs.iter().any(matches) {
        Vec::new()
    } else {
        vec![format!(
            "{dev}: filesystem {sigs:?} (type, UUID, label), expected {ty:?} {uuid:?} {label:?}"
        )]
    }
}
