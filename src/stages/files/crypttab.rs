//! The LUKS volumes the disks stage recorded in the state, persisted into the target: their
//! keyfiles under /etc/luks and their /etc/crypttab lines.

use crate::error::{Context, Error, Result};
use crate::state::State;
use crate::sys::root::Root;

fn decode_data_url(u: &str) -> Result<Vec<u8>> {
    crate::config::url::decode_data_url(u)
        .map_err(|e| Error::failed(format!("decoding a LUKS key from the state file: {e}")))
}

/// Where a volume's keyfile goes.
fn keyfile(name: &str) -> String {
    format!("/etc/luks/{name}")
}

/// The files `persist` writes.
pub fn paths(st: &State) -> Vec<String> {
    let mut out: Vec<String> = st
        .luks
        .iter()
        .filter(|v| v.key_file.is_some())
        .map(|v| keyfile(&v.name))
        .collect();
    if !st.luks.is_empty() {
        out.push("/etc/crypttab".into());
    }
    out
}

/// Writes /etc/luks/<name> (0600 in a 0700 /etc/luks, as Ignition) for volumes with a key and
/// one /etc/crypttab line (0600) per volume (`NAME UUID=... KEYFILE|none luks[,options]`),
/// replacing lines for the same names and keeping the others.
pub fn persist(root: &Root, st: &State) -> Result<()> {
    if st.luks.is_empty() {
        return Ok(());
    }
    let mut lines = Vec::new();
    for v in &st.luks {
        let keyfile = match &v.key_file {
            Some(k) => {
                root.mkdir_all("/etc/luks", 0o700)?;
                let p = keyfile(&v.name);
                root.write_atomic(&p, &decode_data_url(k)?, 0o600, 0, 0)
                    .context(|| format!("writing {p}"))?;
                p
            }
            None => "none".to_string(),
        };
        let mut opts = String::from("luks");
        for o in &v.options {
            opts.push(',');
            opts.push_str(o);
        }
        lines.push(format!("{} UUID={} {keyfile} {opts}", v.name, v.uuid));
    }
    let old = root.read("/etc/crypttab")?.unwrap_or_default();
    let mut text = String::new();
    for l in String::from_utf8_lossy(&old).lines() {
        let name = l.split_whitespace().next().unwrap_or("");
        if !l.trim_start().starts_with('#') && st.luks.iter().any(|v| v.name == name) {
            continue;
        }
        text.push_str(l);
        text.push('\n');
    }
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    root.mkdir_all("/etc", 0o755)?;
    root.write_atomic("/etc/crypttab", text.as_bytes(), 0o600, 0, 0)
        .context(|| "writing /etc/crypttab")
}
