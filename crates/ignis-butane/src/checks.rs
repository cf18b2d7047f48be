//! Butane's own checks on the source config, beyond the schema: modes written in decimal,
//! partitions that will not land where fcos expects them, mount points, boot_device layouts
//! and grub users. Run before translation; errors stop it.

use crate::sugar::{for_each, key_pos, text};
use crate::yaml::{parse_bool, parse_int, Node, Val};
use crate::Report;

pub fn run(root: &Node, minor: u8, fcos: bool, r: &mut Report) {
    let storage = root.get("storage");
    for (list, dir) in [("files", false), ("directories", true)] {
        for_each(storage.and_then(|s| s.get(list)), |i, n| {
            if let Some(mode) = n.get("mode").and_then(int) {
                if decimal_mode(mode, dir) {
                    r.warn(
                        &format!("$.storage.{list}.{i}.mode"),
                        key_pos(n, "mode"),
                        "unreasonable mode would be reasonable if specified in octal; remember to add a leading zero",
                    );
                }
            }
        });
    }
    if !fcos {
        flatcar(root, r);
        return;
    }
    partitions(root, minor, r);
    if minor >= 6 {
        for_each(storage.and_then(|s| s.get("filesystems")), |i, fs| {
            let path = text(fs, "path");
            let allowed = path.as_deref().is_none_or(|p| {
                ["/etc", "/var"]
                    .iter()
                    .any(|d| p == *d || p.starts_with(&format!("{d}/")))
            });
            if !allowed && flag(fs.get("with_mount_unit")) {
                r.error(
                    &format!("$.storage.filesystems.{i}.path"),
                    key_pos(fs, "path"),
                    "path must be under /etc or /var if with_mount_unit is true",
                );
            }
        });
    }
    if minor >= 3 {
        if let Some(bd) = root.get("boot_device") {
            boot_device(bd, minor, r);
        }
    }
    if minor >= 5 {
        let users = root.get("grub").and_then(|g| g.get("users"));
        for_each(users, |i, u| {
            if text(u, "name").is_none_or(|n| n.is_empty()) {
                r.error(
                    &format!("$.grub.users.{i}.name"),
                    Some(u.pos),
                    "field \"name\" is required",
                );
            }
            if text(u, "password_hash").is_none_or(|p| p.is_empty()) {
                r.error(
                    &format!("$.grub.users.{i}.password_hash"),
                    Some(u.pos),
                    "field \"password_hash\" is required",
                );
            }
        });
    }
}

/// Flatcar's Ignition has no Clevis.
fn flatcar(root: &Node, r: &mut Report) {
    for_each(root.get("storage").and_then(|s| s.get("luks")), |i, l| {
        if l.get("clevis").is_some_and(|c| !c.is_null()) {
            r.error(
                &format!("$.storage.luks.{i}.clevis"),
                key_pos(l, "clevis"),
                "clevis is not supported in this spec version",
            );
        }
    });
}

fn int(n: &Node) -> Option<i64> {
    match &n.val {
        Val::Scalar(s, true) => parse_int(s),
        _ => None,
    }
}

fn flag(n: Option<&Node>) -> bool {
    matches!(n, Some(Node { val: Val::Scalar(s, true), .. }) if parse_bool(s) == Some(true))
}

/// fcos's partition layout: the labels it knows must keep their numbers unless the table is
/// wiped; root must be able to grow (1.3+); on 1.6, other disks reuse partitions by number.
fn partitions(root: &Node, minor: u8, r: &mut Report) {
    let mirrors: Vec<String> = match root
        .get("boot_device")
        .and_then(|b| b.get("mirror"))
        .and_then(|m| m.get("devices"))
    {
        Some(Node {
            val: Val::Seq(d), ..
        }) => d
            .iter()
            .filter_map(|n| match &n.val {
                Val::Scalar(s, _) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for_each(
        root.get("storage").and_then(|s| s.get("disks")),
        |i, disk| {
            let wipe = flag(disk.get("wipe_table"));
            let device = text(disk, "device").unwrap_or_default();
            let parts: Vec<&Node> = match disk.get("partitions") {
                Some(Node {
                    val: Val::Seq(p), ..
                }) => p.iter().collect(),
                _ => Vec::new(),
            };
            for (p, part) in parts.iter().enumerate() {
                let at = format!("$.storage.disks.{i}.partitions.{p}");
                let number = part.get("number").and_then(int).unwrap_or(0);
                let label = text(part, "label");
                if minor >= 6
                    && device != "/dev/disk/by-id/coreos-boot-disk"
                    && !wipe
                    && !mirrors.contains(&device)
                    && number == 0
                    && label.is_some()
                {
                    r.warn(
                    &format!("{at}.number"),
                    Some(part.pos),
                    "partitions cannot be reused by label; number must be specified except on boot disk (/dev/disk/by-id/coreos-boot-disk) or when wipe_table is true",
                );
                }
                let Some(label) = label else { continue };
                if minor >= 3 && label == "root" {
                    let size = part.get("size_mib").and_then(int).unwrap_or(0);
                    if size == 0 {
                        let others_auto = parts.iter().enumerate().any(|(q, o)| {
                            q != p && o.get("start_mib").and_then(int).unwrap_or(0) == 0
                        });
                        if others_auto {
                            r.warn(
                            &format!("{at}.label"),
                            key_pos(part, "label"),
                            "root partition cannot expand; it is set to fill available space but is followed by an auto-positioned partition",
                        );
                        }
                    } else if size < 8192 {
                        r.warn(
                            &format!("{at}.size_mib"),
                            key_pos(part, "size_mib"),
                            "root should have 8GiB of space assigned",
                        );
                    }
                }
                let want = match label.as_str() {
                    "BIOS-BOOT" | "PowerPC-PReP-boot" => 1,
                    "EFI-SYSTEM" => 2,
                    "boot" => 3,
                    "root" => 4,
                    _ => continue,
                };
                if !wipe && number != want {
                    r.warn(
                    &format!("{at}.label"),
                    key_pos(part, "label"),
                    "incorrect partition number; a new partition will be created using reserved label",
                );
                }
            }
        },
    );
}

fn boot_device(bd: &Node, minor: u8, r: &mut Report) {
    let layout = text(bd, "layout");
    let lpos = key_pos(bd, "layout");
    let luks = bd.get("luks");
    let device = luks
        .and_then(|l| text(l, "device"))
        .filter(|d| !d.is_empty());
    let mirrored = matches!(bd.get("mirror").and_then(|m| m.get("devices")), Some(Node { val: Val::Seq(d), .. }) if !d.is_empty());
    if mirrored && bd.get("layout").is_none_or(Node::is_null) {
        // A warning until fcos 1.7, an error since.
        let msg = "boot_device.layout should be specified when boot_device.mirror is specified";
        if minor >= 7 {
            r.error("$.boot_device.mirror", key_pos(bd, "mirror"), msg);
        } else {
            r.warn("$.boot_device.mirror", key_pos(bd, "mirror"), msg);
        }
    }
    if minor >= 7 && device.is_some() {
        let tang = matches!(luks.and_then(|l| l.get("tang")), Some(Node { val: Val::Seq(t), .. }) if t.iter().any(|n| matches!(&n.val, Val::Map(m) if !m.is_empty())));
        let tpm2 = flag(luks.and_then(|l| l.get("tpm2")));
        let cex = flag(
            luks.and_then(|l| l.get("cex"))
                .and_then(|c| c.get("enabled")),
        );
        if !(tang || tpm2 || cex) {
            r.error(
                "$.boot_device.luks.luks",
                key_pos(bd, "luks"),
                "no method specified for luks",
            );
        }
    }
    if let Some(l) = layout.as_deref() {
        let disk_name = |prefix: &str, d: &str| {
            d.strip_prefix(prefix)
                .is_some_and(|rest| rest.len() == 1 && rest.as_bytes()[0].is_ascii_lowercase())
        };
        match l {
            "aarch64" | "ppc64le" | "x86_64" => {}
            "s390x-eckd" | "s390x-zfcp" | "s390x-virt" if minor >= 6 => {
                let prefix = if l == "s390x-eckd" { "/dev/dasd" } else { "/dev/sd" };
                if l != "s390x-virt" {
                    match device.as_deref() {
                        None => r.error("$.boot_device.layout", lpos, "device is required for layouts: s390x-eckd, s390x-zfcp"),
                        Some(d) if !disk_name(prefix, d) => r.error(
                            "$.boot_device.layout",
                            lpos,
                            "device name must start with /dev/dasd on s390x-eckd layout or /dev/sd on s390x-zfcp layout",
                        ),
                        Some(_) => {}
                    }
                }
            }
            _ if minor >= 6 => r.error(
                "$.boot_device.layout",
                lpos,
                "layout must be one of: aarch64, ppc64le, s390x-eckd, s390x-virt, s390x-zfcp, x86_64",
            ),
            _ => r.error("$.boot_device.layout", lpos, "layout must be one of: aarch64, ppc64le, x86_64"),
        }
        if minor >= 6 && l.starts_with("s390x") && mirrored {
            r.error(
                "$.boot_device.layout",
                lpos,
                "mirroring not supported on layouts: s390x-eckd, s390x-zfcp, s390x-virt",
            );
        }
    }
    if minor >= 6
        && flag(
            luks.and_then(|l| l.get("cex"))
                .and_then(|c| c.get("enabled")),
        )
    {
        let msg = "when using cex the targeted architecture must match s390x";
        match layout.as_deref() {
            None => r.error(
                "$.boot_device.luks.cex",
                luks.and_then(|l| key_pos(l, "cex")),
                msg,
            ),
            Some(l) if !l.starts_with("s390x") => r.error("$.boot_device.layout", lpos, msg),
            Some(_) => {}
        }
        let tang = matches!(luks.and_then(|l| l.get("tang")), Some(Node { val: Val::Seq(t), .. }) if !t.is_empty());
        if tang || flag(luks.and_then(|l| l.get("tpm2"))) {
            r.error(
                "$.boot_device.luks",
                key_pos(bd, "luks"),
                "cannot use cex with clevis",
            );
        }
    }
    if let Some(Node {
        val: Val::Seq(d),
        pos,
    }) = bd.get("mirror").and_then(|m| m.get("devices"))
    {
        if d.len() == 1 {
            r.error(
                "$.boot_device.mirror.devices",
                Some(*pos),
                "mirroring requires at least two devices",
            );
        }
    }
}

/// A mode like 644 given in decimal: not a sensible mode as is, but sensible read as octal.
fn decimal_mode(mode: i64, dir: bool) -> bool {
    if !(0..=7777).contains(&mode) {
        return false;
    }
    let mut octal = 0;
    for d in [1000, 100, 10, 1] {
        let digit = (mode / d) % 10;
        if digit > 7 {
            return false;
        }
        octal = (octal << 3) | digit;
    }
    !typical_mode(mode, dir) && typical_mode(octal, dir)
}

/// Whether a mode is unsurprising: more-specific classes have every bit of less-specific
/// ones, write or execute come with read, someone can read (and, for directories, search).
fn typical_mode(mode: i64, dir: bool) -> bool {
    if mode == 0 {
        return true;
    }
    let (mut had_r, mut had_w, mut had_x) = (false, false, false);
    for perm in [mode & 0o7, (mode >> 3) & 0o7, (mode >> 6) & 0o7] {
        let (rd, w, x) = (perm & 4 != 0, perm & 2 != 0, perm & 1 != 0);
        if (!rd && had_r) || (!w && had_w) || (!x && had_x) {
            return false;
        }
        if x && had_r && !had_x {
            return false;
        }
        if (w || x) && !rd {
            return false;
        }
        had_r |= rd;
        had_w |= w;
        had_x |= x;
    }
    if !had_r {
        return false;
    }
    if dir {
        had_x && mode & 0o4000 == 0 && (mode & 0o3000 == 0 || had_w)
    } else {
        if mode & 0o6000 != 0 && (!had_x || mode & 2 != 0) {
            return false;
        }
        mode & 0o1000 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_modes() {
        assert!(decimal_mode(644, false));
        assert!(decimal_mode(755, true));
        assert!(!decimal_mode(0o644, false));
        assert!(!decimal_mode(420, false));
        assert!(!decimal_mode(0, false));
    }
}
