//! Storage devices: disks and partitions, filesystems, RAID arrays and LUKS volumes, and the
//! warnings where a filesystem and a disk's partition table meet.

use super::{msg, Validator};
use crate::report::JsonPath;
use crate::types::{ClevisCustom, Disk, Filesystem, Luks, Partition, Raid, Storage};
use crate::url;
use crate::version::Version;
use std::collections::{HashMap, HashSet};

impl Validator {
    pub(super) fn fs_disk_warnings(&mut self, s: &Storage, p: &JsonPath) {
        let disks: HashMap<&str, &Disk> = s.disks.iter().map(|d| (d.device.as_str(), d)).collect();
        for (i, f) in s.filesystems.iter().enumerate() {
            if let Some(d) = disks.get(f.device.as_str()) {
                let fp = p.key("filesystems").idx(i).key("device");
                if !d.partitions.is_empty() {
                    self.warn(fp, msg::PARTITIONS_OVERWRITTEN);
                } else if f.wipe_filesystem != Some(true) && d.wipe_table == Some(true) {
                    self.warn(fp, msg::FILESYSTEM_IMPLICIT_WIPE);
                }
            }
        }
    }

    pub(super) fn disk(&mut self, d: &Disk, p: &JsonPath) {
        let pp = p.key("partitions");
        for (i, part) in d.partitions.iter().enumerate() {
            self.partition(part, &pp.idx(i));
        }
        self.dups(
            d.partitions
                .iter()
                .map(partition_key)
                .filter(|k| !k.is_empty()),
            &pp,
        );
        if d.device.is_empty() {
            self.err(p.key("device"), msg::DISK_DEVICE_REQUIRED);
            return;
        }
        self.path_rule(&d.device, || p.key("device"));
        let parts = &d.partitions;
        // Numbers: the second partition of the first colliding number.
        let mut firsts: Vec<(i64, usize)> = Vec::new();
        let mut collide = None;
        for (i, x) in parts.iter().enumerate().filter(|(_, x)| x.number != 0) {
            match firsts.iter().find(|(n, _)| *n == x.number) {
                Some(_) => {
                    collide.get_or_insert(i);
                }
                None => firsts.push((x.number, i)),
            }
        }
        if let Some(i) = collide {
            self.err(pp.idx(i), msg::PARTITION_NUMBERS_COLLIDE);
        }
        if let Some(i) = partitions_overlap(parts) {
            self.err(pp.idx(i), msg::PARTITIONS_OVERLAP);
        }
        // Ignition checks for number 0 here, whatever the message says.
        if parts.iter().any(|x| x.number == 0)
            && parts.iter().any(|x| x.should_exist == Some(false))
        {
            self.err(pp.clone(), msg::ZEROES_WITH_SHOULD_NOT_EXIST);
        }
        let mut labels = HashSet::new();
        if let Some(i) = parts
            .iter()
            .enumerate()
            .filter_map(|(i, x)| x.label.as_deref().map(|l| (i, l)))
            .find(|(_, l)| !labels.insert(*l))
            .map(|(i, _)| i)
        {
            self.err(pp.idx(i), msg::PARTITION_LABELS_COLLIDE);
        }
    }

    pub(super) fn partition(&mut self, x: &Partition, p: &JsonPath) {
        if x.should_exist == Some(false)
            && (x.label.is_some()
                || !x.type_guid.as_deref().unwrap_or("").is_empty()
                || !x.guid.as_deref().unwrap_or("").is_empty()
                || x.start_mib.is_some()
                || x.size_mib.is_some())
        {
            self.err(p.clone(), msg::SHOULD_NOT_EXIST_WITH_OTHERS);
        }
        if x.number == 0 && x.label.is_none() {
            self.err(p.clone(), msg::NEED_LABEL_OR_NUMBER);
        }
        if let Some(l) = &x.label {
            if l.len() > 36 {
                self.err(p.key("label"), msg::LABEL_TOO_LONG);
            } else if l.contains(':') {
                self.err(p.key("label"), msg::LABEL_CONTAINS_COLON);
            }
        }
        for (k, g) in [("guid", &x.guid), ("typeGuid", &x.type_guid)] {
            if let Some(g) = g {
                if !g.is_empty() && !is_guid(g) {
                    self.err(p.key(k), msg::GUID_FORMAT);
                }
            }
        }
    }

    pub(super) fn filesystem(&mut self, f: &Filesystem, p: &JsonPath) {
        if let Some(path) = f.path.as_deref().filter(|x| !x.is_empty()) {
            self.path_rule(path, || p.key("path"));
        }
        let format = f.format.as_deref().unwrap_or("");
        if format == "virtiofs" && self.version >= Version::V3_7Exp {
            if f.device.is_empty() {
                self.err(p.key("device"), msg::NO_PATH);
            } else if f.device.len() > 36 {
                self.err(p.key("device"), msg::VIRTIOFS_TAG);
            }
            if f.label.is_some()
                || f.uuid.is_some()
                || !f.options.is_empty()
                || f.wipe_filesystem.is_some()
            {
                self.err(p.key("format"), msg::VIRTIOFS_FIELD);
            }
            return;
        }
        self.path_rule(&f.device, || p.key("device"));
        if format.is_empty() {
            if !f.path.as_deref().unwrap_or("").is_empty()
                || !f.label.as_deref().unwrap_or("").is_empty()
                || !f.uuid.as_deref().unwrap_or("").is_empty()
                || f.wipe_filesystem == Some(true)
                || !f.mount_options.is_empty()
                || !f.options.is_empty()
            {
                self.err(p.key("format"), msg::FORMAT_NIL_WITH_OTHERS);
            }
        } else {
            let ok = match format {
                "ext4" | "btrfs" | "xfs" | "swap" | "vfat" => true,
                "none" => self.version >= Version::V3_3,
                _ => false,
            };
            if !ok {
                self.err(p.key("format"), msg::FS_INVALID_FORMAT);
            }
        }
        if let Some(label) = f.label.as_deref().filter(|l| !l.is_empty()) {
            if format.is_empty() {
                self.err(p.key("label"), msg::LABEL_NEEDS_FORMAT);
            } else {
                let max = match format {
                    "ext4" => 16,
                    "btrfs" => 256,
                    "xfs" => 12,
                    "swap" => 15,
                    "vfat" => 11,
                    _ => usize::MAX,
                };
                if label.len() > max {
                    self.err(
                        p.key("label"),
                        format!("filesystem labels cannot be longer than {max} characters when using {format}"),
                    );
                }
            }
        }
    }

    pub(super) fn raid(&mut self, r: &Raid, p: &JsonPath) {
        match r.level.as_deref().unwrap_or("") {
            "" => self.err(p.key("level"), msg::RAID_LEVEL_REQUIRED),
            "linear" | "raid0" | "0" | "stripe" => {
                if r.spares.is_some_and(|s| s != 0) {
                    self.err(p.key("level"), msg::SPARES_UNSUPPORTED);
                }
            }
            "raid1" | "1" | "mirror" | "raid4" | "4" | "raid5" | "5" | "raid6" | "6" | "raid10"
            | "10" => {}
            _ => self.err(p.key("level"), msg::RAID_LEVEL_UNKNOWN),
        }
        if r.devices.is_empty() {
            self.err(p.key("devices"), msg::RAID_DEVICES_REQUIRED);
        }
        for (i, d) in r.devices.iter().enumerate() {
            self.path_rule(d, || p.key("devices").idx(i));
        }
        self.dups(r.devices.iter(), &p.key("devices"));
    }

    pub(super) fn luks(&mut self, l: &Luks, p: &JsonPath) {
        if l.name.contains('/') {
            self.err(p.key("name"), msg::LUKS_NAME_SLASH);
        }
        if l.label.as_deref().is_some_and(|x| x.len() > 47) {
            self.err(p.key("label"), msg::LUKS_LABEL_TOO_LONG);
        }
        match l.device.as_deref() {
            None | Some("") => self.err(p.key("device"), msg::DISK_DEVICE_REQUIRED),
            Some(d) => self.path_rule(d, || p.key("device")),
        }
        let c = &l.clevis;
        let empty_custom = ClevisCustom::default();
        let cu = c.custom.as_ref().unwrap_or(&empty_custom);
        // 3.2.0 had a pointer here: any custom object counts; later versions look at the pin.
        let custom_set = if self.version <= Version::V3_2 {
            c.custom.is_some()
        } else {
            !cu.pin.as_deref().unwrap_or("").is_empty()
        };
        if custom_set
            && (!c.tang.is_empty() || c.tpm2 == Some(true) || c.threshold.is_some_and(|t| t != 0))
        {
            self.err(p.key("clevis"), msg::CLEVIS_CUSTOM_WITH_OTHERS);
        }
        if let Some(s) = &l.key_file.source {
            if self.url_problem(s).is_some() {
                self.err(p.key("keys"), msg::LUKS_KEYFILE);
            }
        }
        if l.cex.enabled == Some(true) {
            // Clevis counts as present by its pin, tang servers, tpm2 or threshold (an empty
            // custom object does not); both errors sit at `cex`, as upstream reports them.
            let clevis_present = !cu.pin.as_deref().unwrap_or("").is_empty()
                || !c.tang.is_empty()
                || c.tpm2 == Some(true)
                || c.threshold.is_some_and(|t| t != 0);
            if clevis_present {
                self.err(p.key("cex"), msg::CEX_WITH_CLEVIS);
            }
            if !l.key_file.source.as_deref().unwrap_or("").is_empty() {
                self.err(p.key("cex"), msg::CEX_WITH_KEYFILE);
            }
        }
        let cp = p.key("clevis");
        let pin = cu.pin.as_deref().unwrap_or("");
        let config_empty = cu.config.as_deref().unwrap_or("").is_empty();
        // 3.2.0 had no needsNetwork rule: a custom pin is checked only when pin or config is
        // set, and an empty pin is an unknown one. 3.3.0 added needsNetwork to the trigger and
        // "pin required"; 3.6.0 stopped restricting the pin to tpm2/tang/sss.
        let checked = if self.version <= Version::V3_2 {
            !(pin.is_empty() && config_empty)
        } else {
            !(pin.is_empty() && config_empty && cu.needs_network != Some(true))
        };
        if checked {
            match pin {
                "tpm2" | "tang" | "sss" => {}
                _ if self.version <= Version::V3_2 => {
                    self.err(cp.key("custom").key("pin"), msg::UNKNOWN_CLEVIS_PIN)
                }
                "" => self.err(cp.key("custom").key("pin"), msg::CLEVIS_PIN_REQUIRED),
                _ if self.version >= Version::V3_6 => {}
                _ => self.err(cp.key("custom").key("pin"), msg::UNKNOWN_CLEVIS_PIN),
            }
            if config_empty {
                self.err(cp.key("custom").key("config"), msg::CLEVIS_CONFIG_REQUIRED);
            }
        }
        for (i, t) in c.tang.iter().enumerate() {
            let tp = cp.key("tang").idx(i);
            match url::parse(&t.url) {
                Err(_) => self.err(tp.key("url"), msg::INVALID_URL),
                Ok(u) if u.scheme != "http" && u.scheme != "https" => {
                    self.err(tp.key("url"), msg::INVALID_SCHEME)
                }
                Ok(_) => {}
            }
            if t.thumbprint.as_deref().unwrap_or("").is_empty() {
                self.err(tp.key("thumbprint"), msg::TANG_THUMBPRINT_REQUIRED);
            }
            if let Some(a) = t.advertisement.as_deref().filter(|a| !a.is_empty()) {
                if serde_json::from_str::<serde_json::Value>(a).is_err() {
                    self.err(tp.key("advertisement"), msg::TANG_ADVERTISEMENT);
                }
            }
        }
        self.dups(c.tang.iter().map(|t| t.url.as_str()), &cp.key("tang"));
        // Upstream checks every list for duplicates except luks `options` (and filesystem
        // options/mountOptions, raid options, file append): openOptions is checked.
        self.dups(l.open_options.iter(), &p.key("openOptions"));
        self.resource(&l.key_file, &p.key("keyFile"));
    }
}

pub(super) fn is_guid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn partition_key(p: &Partition) -> String {
    if p.number != 0 {
        format!("number:{}", p.number)
    } else if let Some(l) = &p.label {
        format!("label:{l}")
    } else {
        String::new()
    }
}

/// Ignition's overlap check on partitions with a start and a size (start 0 is placed later;
/// size 0 ends at the start): the index of the partition found overlapping, if any.
pub(super) fn partitions_overlap(parts: &[Partition]) -> Option<usize> {
    let span = |p: &Partition| match (p.start_mib, p.size_mib) {
        (Some(s), Some(z)) if s != 0 => Some((s, if z == 0 { s } else { s + z - 1 })),
        _ => None,
    };
    for (pi, p) in parts.iter().enumerate() {
        let Some((ps, pe)) = span(p) else { continue };
        for (oi, o) in parts.iter().enumerate() {
            let Some((os, oe)) = span(o) else { continue };
            if pi == oi {
                continue;
            }
            if (ps >= os && ps <= oe) || (pe >= os && pe <= oe) || (ps < os && pe > oe) {
                return Some(oi);
            }
        }
    }
    None
}
