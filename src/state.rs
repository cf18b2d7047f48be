//! What one stage process hands to the next: the state file (JSON, 0600) and the config cache
//! (0640), both written atomically (temp file in the same directory, fsync, rename) so a crash
//! never leaves half a file for the next stage to trust.

use crate::error::{Context, Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// A config that was fetched, for the log and the result file. Never the config itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchedConfig {
    /// "user", "base", "merge", "replace"
    pub kind: String,
    /// Where it came from, redacted (no data URL bodies, no query strings).
    pub source: String,
    /// sha512 of its bytes, so an operator can tell which config a machine got.
    pub sha512: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct State {
    pub fetched_configs: Vec<FetchedConfig>,
    /// Whether any user config was found (Ignition's result file reports it).
    pub user_config_provided: bool,
    /// Mountpoint directories the mount stage created (relabelled and chowned later).
    pub notated_directories: Vec<String>,
    /// LUKS volumes the disks stage opened, for the files stage's /etc/crypttab and keyfiles.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub luks: Vec<LuksVolume>,
}

/// One LUKS volume as /etc/crypttab needs it. The key (a data URL) is present only when no
/// Clevis binding replaces it; the state file is 0600 on a tmpfs, as Ignition's is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LuksVolume {
    pub name: String,
    pub uuid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// crypttab options after `luks` (`_netdev`, `discard`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl State {
    /// Loads the state; a missing file is an empty state (first stage of the boot).
    pub fn load(path: &Path) -> Result<State> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::setup(format!("reading state file {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(Error::setup(format!(
                "reading state file {}: {e}",
                path.display()
            ))),
        }
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let body =
            serde_json::to_vec(self).map_err(|e| Error::failed(format!("encoding state: {e}")))?;
        write_atomic(path, &body, 0o600)
            .context(|| format!("writing state file {}", path.display()))
    }
}

/// Writes `bytes` to `path` atomically with `mode`, creating the parent directory (0755).
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    write_atomic_with(path, mode, &mut |f| f.write_all(bytes))
}

/// [`write_atomic`] of what `fill` writes (buffered), for contents produced as they are
/// written rather than held whole first.
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::failed(format!("writing {}: {e}", path.display())));
    }
    Ok(())
}

/// Creates an empty flag file (the neednet handshake).
pub fn touch(path: &Path) -> Result<()> {
    write_atomic(path, b"", 0o644)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn round_trip_and_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let p = d.join("sub/state");
        assert_eq!(State::load(&p).unwrap(), State::default());
        let s = State {
            user_config_provided: true,
            ..Default::default()
        };
        s.save(&p).unwrap();
        assert_eq!(State::load(&p).unwrap(), s);
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
        write_atomic(&d.join("cache.json"), b"{}", 0o640).unwrap();
        assert_eq!(
            std::fs::metadata(d.join("cache.json")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_dir(d.join("sub")).unwrap().count(),
            1,
            "no temp files left"
        );
    }
}
