//! Finding a config drive by filesystem label without waiting: `/dev/disk/by-label` when udev
//! has made it, else by reading the labels of the block devices the kernel lists in
//! `/sys/class/block` (iso9660 volume ids and FAT labels). The second path matters for the
//! network kargs, which run before udev has made any by-label links. Reads only; the devices
//! are opened read-only and only their first 36 KiB are read.

use super::HostPaths;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The first of `labels` (in order of preference) present now, and its device.
pub fn find<'l>(host: &HostPaths, labels: &[&'l str]) -> Option<(&'l str, PathBuf)> {
    for l in labels {
        let p = host.path(&format!("/dev/disk/by-label/{l}"));
        if p.exists() {
            return Some((l, p));
        }
    }
    let found = scan(host);
    labels.iter().find_map(|want| {
        found
            .iter()
            .find(|(_, fs, label)| label_matches(fs, label, want))
            .map(|(dev, _, _)| (*want, dev.clone()))
    })
}

/// Like [`find`], but on a real boot (host root `/`) loads the block drivers a config drive
/// needs first when nothing is found (before udev nothing loads them), then looks again for
/// up to `wait`. Fixture hosts never load modules.
pub fn find_early<'l>(
    host: &HostPaths,
    runner: &dyn crate::sys::cmd::Runner,
    labels: &[&'l str],
    wait: Duration,
) -> Option<(&'l str, PathBuf)> {
    if let Some(d) = find(host, labels) {
        return Some(d);
    }
    if host.root != Path::new("/") {
        return None;
    }
    for module in ["virtio_blk", "sr_mod", "virtio_scsi"] {
        // Best effort: built-in drivers and missing modules both make modprobe fail.
        let _ = runner.run(&crate::sys::cmd::Cmd::new("modprobe").arg("-q").arg(module));
    }
    let deadline = std::time::Instant::now() + wait;
    loop {
        if let Some(d) = find(host, labels) {
            return Some(d);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// FAT labels are stored upper case; iso9660 ids are compared exactly.
fn label_matches(fs: &str, label: &str, want: &str) -> bool {
    if fs == "vfat" {
        label.eq_ignore_ascii_case(want)
    } else {
        label == want
    }
}

/// `(device, fstype, label)` of every listed block device with a label we can read.
fn scan(host: &HostPaths) -> Vec<(PathBuf, &'static str, String)> {
    let Ok(rd) = std::fs::read_dir(host.path("/sys/class/block")) else {
        return Vec::new();
    };
    let mut names: Vec<String> = rd
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("loop") && !n.starts_with("ram") && !n.contains('/'))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for n in names {
        let dev = host.path(&format!("/dev/{n}"));
        let Ok(mut f) = std::fs::File::open(&dev) else {
            continue;
        };
        if let Some((fs, label)) = probe(&mut f) {
            out.push((dev, fs, label));
        }
    }
    out
}

/// The filesystem type and label of an iso9660 or FAT filesystem at the start of `r`.
pub fn probe<R: Read + Seek>(r: &mut R) -> Option<(&'static str, String)> {
    let mut boot = [0u8; 512];
    r.seek(SeekFrom::Start(0)).ok()?;
    if r.read_exact(&mut boot).is_ok() {
        if let Some(l) = fat_label(&boot) {
            return Some(("vfat", l));
        }
    }
    // iso9660: the primary volume descriptor is the 17th 2 KiB sector.
    let mut pvd = [0u8; 2048];
    r.seek(SeekFrom::Start(16 * 2048)).ok()?;
    r.read_exact(&mut pvd).ok()?;
    if pvd[0] == 1 && &pvd[1..6] == b"CD001" {
        let label = text(&pvd[40..72]);
        return (!label.is_empty()).then_some(("iso9660", label));
    }
    None
}

fn fat_label(b: &[u8; 512]) -> Option<String> {
    if b[510..512] != [0x55, 0xaa] {
        return None;
    }
    // FAT32 keeps its extended boot record (and label) further in than FAT12/16.
    let label = if &b[0x52..0x57] == b"FAT32" && b[0x42] == 0x29 {
        &b[0x47..0x52]
    } else if &b[0x36..0x39] == b"FAT" && b[0x26] == 0x29 {
        &b[0x2b..0x36]
    } else {
        return None;
    };
    let l = text(label);
    (!l.is_empty() && l != "NO NAME").then_some(l)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b)
        .trim_end_matches([' ', '\0'])
        .to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use tempfile::TempDir;

    /// The first 36 KiB of an iso9660 image labelled `label`.
    pub(crate) fn iso_image(label: &str) -> Vec<u8> {
        let mut img = vec![0u8; 18 * 2048];
        let pvd = &mut img[16 * 2048..17 * 2048];
        pvd[0] = 1;
        pvd[1..6].copy_from_slice(b"CD001");
        pvd[6] = 1;
        let mut id = [b' '; 32];
        id[..label.len()].copy_from_slice(label.as_bytes());
        pvd[40..72].copy_from_slice(&id);
        img
    }

    fn fat16_image(label: &str) -> Vec<u8> {
        let mut img = vec![0u8; 18 * 2048];
        img[0x26] = 0x29;
        let mut l = [b' '; 11];
        l[..label.len()].copy_from_slice(label.as_bytes());
        img[0x2b..0x36].copy_from_slice(&l);
        img[0x36..0x3e].copy_from_slice(b"FAT16   ");
        img[510] = 0x55;
        img[511] = 0xaa;
        img
    }

    fn host_with(devices: &[(&str, Vec<u8>)]) -> (TempDir, HostPaths) {
        let t = tempfile::tempdir().unwrap();
        let host = HostPaths::new(t.path());
        for (name, img) in devices {
            std::fs::create_dir_all(host.path(&format!("/sys/class/block/{name}"))).unwrap();
            std::fs::create_dir_all(host.path("/dev")).unwrap();
            std::fs::write(host.path(&format!("/dev/{name}")), img).unwrap();
        }
        (t, host)
    }

    #[test]
    fn probes_iso_and_fat() {
        let mut c = std::io::Cursor::new(iso_image("cidata"));
        assert_eq!(probe(&mut c), Some(("iso9660", "cidata".to_string())));
        let mut c = std::io::Cursor::new(fat16_image("CONFIG-2"));
        assert_eq!(probe(&mut c), Some(("vfat", "CONFIG-2".to_string())));
        let mut c = std::io::Cursor::new(vec![0u8; 100]);
        assert_eq!(probe(&mut c), None);
    }

    #[test]
    fn finds_by_label_link_then_by_scanning() {
        let (_t, host) = host_with(&[
            ("vda", vec![0u8; 40000]),
            ("sr0", iso_image("config-2")),
            ("vdb", fat16_image("CIDATA")),
        ]);
        assert_eq!(
            find(&host, &["config-2"]),
            Some(("config-2", host.path("/dev/sr0")))
        );
        // Preference follows the order of the labels asked for.
        let got = find(&host, &["cidata", "config-2"]);
        assert_eq!(got, Some(("cidata", host.path("/dev/vdb"))));
        assert_eq!(find(&host, &["nope"]), None);
        let link = host.path("/dev/disk/by-label/nope");
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::fs::write(&link, b"").unwrap();
        assert_eq!(find(&host, &["nope"]), Some(("nope", link)));
        assert_eq!(
            find_early(
                &host,
                &crate::sys::cmd::RecordingRunner::new(),
                &["absent"],
                Duration::from_secs(5)
            ),
            None,
            "a fixture host neither loads modules nor waits"
        );
    }
}
