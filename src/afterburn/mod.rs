//! Afterburn's work in the same binary: what platform metadata says about the machine
//! (hostname, SSH keys, attributes, initrd network arguments) and the writers that put it in
//! place. Renderers are pure; writers are thin and go through the target `Root` where a path
//! belongs to the target.

pub mod cmd;
pub mod netkargs;
pub mod network;

use crate::error::{Context, Error, Result};
use crate::sys::root::Root;
use std::collections::BTreeMap;

/// What a platform's metadata provides. Empty fields mean "the platform does not say".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub hostname: Option<String>,
    pub ssh_keys: Vec<String>,
    /// Attribute name (without the AFTERBURN_ prefix) -> value.
    pub attributes: BTreeMap<String, String>,
    /// dracut network arguments for the initrd.
    pub network_kargs: Option<String>,
}

/// Linux's HOST_NAME_MAX.
const HOST_NAME_MAX: usize = 64;

/// A hostname fit for /etc/hostname: longer names are cut at the first dot, then at 64.
pub fn hostname_line(name: &str) -> Option<String> {
    let name = name.lines().next()?.trim();
    if name.is_empty() {
        return None;
    }
    let mut n = name.to_string();
    if n.len() > HOST_NAME_MAX {
        if let Some(i) = n.find('.') {
            n.truncate(i);
        }
    }
    if n.len() > HOST_NAME_MAX {
        let mut cut = HOST_NAME_MAX;
        while !n.is_char_boundary(cut) {
            cut -= 1;
        }
        n.truncate(cut);
    }
    Some(n)
}

/// `AFTERBURN_<KEY>=<value>` lines, sorted by key.
pub fn attributes_text(attrs: &BTreeMap<String, String>) -> String {
    attrs
        .iter()
        .map(|(k, v)| {
            format!(
                "AFTERBURN_{}={v}\n",
                k.to_ascii_uppercase().replace(['-', '.'], "_")
            )
        })
        .collect()
}

/// Writes the hostname to `path` inside `root` (normally /etc/hostname before the files stage,
/// so a config's own /etc/hostname with overwrite wins). Returns whether it wrote.
pub fn write_hostname(root: &Root, path: &str, md: &Metadata) -> Result<bool> {
    let Some(name) = md.hostname.as_deref().and_then(hostname_line) else {
        log::info!("hostname: the platform provides none");
        return Ok(false);
    };
    root.write_atomic(path, format!("{name}\n").as_bytes(), 0o644, 0, 0)
        .context(|| format!("writing {path}"))?;
    log::info!("hostname: wrote {name:?} to {path}");
    Ok(true)
}

/// Writes `~user/.ssh/authorized_keys.d/<fragment>` in the target (dir 0700, file 0600, owned
/// by the user), resolving the home through the target's databases; removes the fragment when
/// there are no keys. A home that is a symlink cannot lead out of the root. Returns the
/// fragment's path in the target when it wrote one.
pub fn write_ssh_keys(
    root: &Root,
    user: &str,
    fragment: &str,
    keys: &[String],
) -> Result<Option<String>> {
    let ids = crate::stages::files::ids::Ids::load(root)?;
    write_ssh_keys_with(root, &ids, user, fragment, keys)
}

/// `write_ssh_keys` with the target's users read already (the files stage has them).
pub fn write_ssh_keys_with(
    root: &Root,
    ids: &crate::stages::files::ids::Ids,
    user: &str,
    fragment: &str,
    keys: &[String],
) -> Result<Option<String>> {
    let u = ids.user(user)?.clone();
    let home = u.home.trim_end_matches('/');
    let dir = format!("{home}/.ssh/authorized_keys.d");
    let file = format!("{dir}/{fragment}");
    if keys.is_empty() {
        if root.lstat(&file)?.is_some() {
            root.unlink(&file)?;
            log::info!("ssh keys: removed {file} (no keys)");
        }
        return Ok(None);
    }
    let ssh = format!("{home}/.ssh");
    // ~/.ssh and its authorized_keys.d are handed to the user: refuse a symlink there before
    // creating or chowning anything, or another directory of the target would change owner.
    for p in [&ssh, &dir] {
        if let Some(m) = root.lstat(p)? {
            if m.kind != crate::sys::root::Kind::Dir {
                return Err(Error::failed(format!(
                    "{p} exists and is not a directory (a symlink?): not writing {user}'s SSH keys through it"
                )));
            }
        }
    }
    // The home and what is created in it go to the user; directories created above a missing
    // home (a dangling /home -> var/home at first boot) stay root's.
    let real_ssh = root.resolve(&ssh)?;
    let real_home = real_ssh.rsplit_once('/').map_or("", |(h, _)| h).to_string();
    for d in root.mkdir_all(&dir, 0o700)? {
        if d == real_home || d.starts_with(&format!("{}/", real_home.trim_end_matches('/'))) {
            root.lchown(&d, u.uid, u.gid)?;
        }
    }
    root.chmod(&ssh, 0o700)?;
    root.lchown(&ssh, u.uid, u.gid)?;
    root.chmod(&dir, 0o700)?;
    root.lchown(&dir, u.uid, u.gid)?;
    let mut body = keys.join("\n");
    body.push('\n');
    root.write_atomic(&file, body.as_bytes(), 0o600, u.uid, u.gid)?;
    log::info!("ssh keys: wrote {} key(s) for {user} to {file}", keys.len());
    Ok(Some(file))
}

/// The initrd network kargs decision: nothing when the command line already has `ip=`;
/// else the platform's kargs (checked), else the default (checked). Returns the file body.
pub fn network_kargs_file(
    cmdline: &str,
    platform: Option<&str>,
    default: Option<&str>,
) -> Result<Option<String>> {
    if netkargs::has_ip(cmdline) {
        log::info!("network kargs: the command line already configures ip=, nothing to add");
        return Ok(None);
    }
    let chosen = match (platform.map(str::trim).filter(|s| !s.is_empty()), default) {
        (Some(p), _) => {
            netkargs::validate(p).context(|| "network kargs from the platform")?;
            p.to_string()
        }
        (None, Some(d)) => {
            netkargs::validate(d).context(|| "default network kargs")?;
            d.to_string()
        }
        (None, None) => {
            return Err(Error::failed(
                "no network kargs from the platform and no default given",
            ))
        }
    };
    Ok(Some(format!("{chosen}\n")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert_eq!(hostname_line("node1\n").as_deref(), Some("node1"));
        let long = format!("{}.example.com", "a".repeat(70));
        assert_eq!(hostname_line(&long).unwrap(), "a".repeat(64));
        let long2 = format!("short.{}", "b".repeat(70));
        assert_eq!(hostname_line(&long2).unwrap(), "short");
        assert_eq!(hostname_line("  "), None);
    }

    #[test]
    fn attributes() {
        let mut a = BTreeMap::new();
        a.insert("aws_instance_id".to_string(), "i-1".to_string());
        a.insert("gcp-hostname".to_string(), "h".to_string());
        assert_eq!(
            attributes_text(&a),
            "AFTERBURN_AWS_INSTANCE_ID=i-1\nAFTERBURN_GCP_HOSTNAME=h\n"
        );
    }

    #[test]
    fn network_kargs_decision() {
        assert_eq!(
            network_kargs_file("ip=dhcp", Some("ip=ens192:dhcp"), None).unwrap(),
            None
        );
        assert_eq!(
            network_kargs_file("quiet", Some("ip=ens192:dhcp"), Some("ip=auto"))
                .unwrap()
                .unwrap(),
            "ip=ens192:dhcp\n"
        );
        assert_eq!(
            network_kargs_file("quiet", None, Some("ip=auto"))
                .unwrap()
                .unwrap(),
            "ip=auto\n"
        );
        assert!(network_kargs_file("quiet", Some("ip=garbage!"), Some("ip=auto")).is_err());
        assert!(network_kargs_file("quiet", None, None).is_err());
    }
}
