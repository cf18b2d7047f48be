//! The real `Mounter`: mounts a device read-only on a private directory under /run, reads one
//! file, unmounts and removes the directory whatever happened.

use super::Mounter;
use crate::error::{Error, Result};
use std::path::Path;
use std::process::Command;

pub struct RealMounter;

impl Mounter for RealMounter {
    fn read_file(&self, device: &Path, fstypes: &[&str], rel: &str) -> Result<Option<Vec<u8>>> {
        let dir = std::env::temp_dir().join(format!("ignis-mnt-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::failed(format!("creating {}: {e}", dir.display())))?;
        let mounted = Command::new("mount")
            .args(["-o", "ro", "-t", &fstypes.join(",")])
            .arg(device)
            .arg(&dir)
            .status();
        let result = match mounted {
            Ok(s) if s.success() => {
                let file = dir.join(rel.trim_start_matches('/'));
                let r = match std::fs::read(&file) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(Error::failed(format!(
                        "reading {rel} on {}: {e}",
                        device.display()
                    ))),
                };
                let _ = Command::new("umount").arg(&dir).status();
                r
            }
            Ok(s) => Err(Error::failed(format!(
                "mounting {} failed ({s})",
                device.display()
            ))),
            Err(e) => Err(Error::failed(format!("running mount: {e}"))),
        };
        let _ = std::fs::remove_dir(&dir);
        result
    }
}
