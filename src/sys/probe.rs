//! Probing a device with libblkid: filesystem type, label and UUID, and whether it holds a
//! partition table. Like Ignition, an ambivalent device (several signatures) is probed again
//! accepting the first signature, with a warning. Read-only; never wipes.

use crate::error::{Error, Result};
use libblkid_rs::{BlkidProbe, BlkidProbeRet, BlkidSafeprobeRet, BlkidSublks, BlkidSublksFlags};
use std::path::Path;

/// What libblkid found on a device; empty strings when absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FsInfo {
    /// Filesystem (or other superblock) type: `ext4`, `xfs`, `vfat`, `swap`, `crypto_LUKS`, ...
    pub fstype: String,
    pub label: String,
    pub uuid: String,
    /// Partition table type (`gpt`, `dos`) when the device holds one.
    pub pttype: String,
}

impl FsInfo {
    /// Nothing recognisable on the device.
    pub fn is_blank(&self) -> bool {
        self.fstype.is_empty() && self.pttype.is_empty()
    }
}

enum Failure {
    Ambivalent,
    Other(String),
}

fn blk<T>(r: libblkid_rs::Result<T>, what: &str) -> std::result::Result<T, Failure> {
    r.map_err(|e| Failure::Other(format!("{what}: {e}")))
}

fn probe_once(dev: &Path, allow_ambivalent: bool) -> std::result::Result<FsInfo, Failure> {
    let mut p = blk(BlkidProbe::new_from_filename(dev), "opening")?;
    blk(p.enable_superblocks(true), "enabling superblock probing")?;
    blk(
        p.set_superblock_flags(BlkidSublksFlags::new(vec![
            BlkidSublks::Type,
            BlkidSublks::Label,
            BlkidSublks::Uuid,
        ])),
        "setting superblock flags",
    )?;
    blk(p.enable_partitions(true), "enabling partition probing")?;
    let mut info = FsInfo::default();
    let mut take = |p: &BlkidProbe| {
        let get = |k: &str| p.lookup_value(k).unwrap_or_default();
        for (slot, k) in [
            (&mut info.fstype, "TYPE"),
            (&mut info.label, "LABEL"),
            (&mut info.uuid, "UUID"),
            (&mut info.pttype, "PTTYPE"),
        ] {
            if slot.is_empty() {
                *slot = get(k);
            }
        }
    };
    if allow_ambivalent {
        // One call per enabled chain, each keeping the first signature it finds; a call
        // resets the previous chain's values, so collect them as they come.
        for _ in 0..4 {
            match blk(p.do_probe(), "probing")? {
                BlkidProbeRet::Success => take(&p),
                BlkidProbeRet::Done => break,
            }
        }
    } else {
        match blk(p.do_safeprobe(), "probing")? {
            BlkidSafeprobeRet::Ambiguous => return Err(Failure::Ambivalent),
            BlkidSafeprobeRet::None | BlkidSafeprobeRet::Success => take(&p),
        }
    }
    Ok(info)
}

/// Probes `dev`. An ambivalent result is retried accepting the first signature found, and
/// logged as a warning (Ignition does the same, so configs that work there work here).
pub fn probe(dev: &Path) -> Result<FsInfo> {
    match probe_once(dev, false) {
        Ok(i) => Ok(i),
        Err(Failure::Other(e)) => Err(Error::failed(format!(
            "probing {} with libblkid: {e}",
            dev.display()
        ))),
        Err(Failure::Ambivalent) => match probe_once(dev, true) {
            Ok(i) => {
                log::warn!(
                    "{}: more than one filesystem signature found (ambivalent probe); using the first one, {:?}",
                    dev.display(),
                    i.fstype
                );
                Ok(i)
            }
            Err(Failure::Other(e)) => Err(Error::failed(format!(
                "probing {} with libblkid: {e}",
                dev.display()
            ))),
            Err(Failure::Ambivalent) => Err(Error::failed(format!(
                "probing {} with libblkid: ambivalent result",
                dev.display()
            ))),
        },
    }
}
