//! Where the files stage puts a user's SSH keys: the `authorized_keys.d/ignition` fragment by
//! default, or `~/.ssh/authorized_keys` itself when `IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT`
//! is false (Ignition's switch for distributions whose sshd reads no fragments).

use crate::error::{Error, Result};
use crate::sys::root::Root;

const ENV: &str = crate::distro::AUTHORIZED_KEYS_FRAGMENT.var;

/// Ignition's reading of the variable: unset or empty is the default (fragment), `true`/`1`
/// and `false`/`0` choose; anything else is an error (Ignition panics on it).
pub fn fragment_wanted(value: Option<&str>) -> Result<bool> {
    match value.unwrap_or("") {
        "" | "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(Error::failed(format!(
            "{ENV}={other:?} cannot be interpreted as a boolean (true, false, 1 or 0)"
        ))),
    }
}

/// Writes `user`'s keys where the environment says: the fragment, or the whole
/// `~/.ssh/authorized_keys` (replaced, as Ignition truncates it), owned by the user, 0600.
/// Returns the file written, if any.
/// `ids`: the target's users and groups as the passwd step left them.
pub fn write(
    root: &Root,
    ids: &super::ids::Ids,
    user: &str,
    keys: &[String],
) -> Result<Option<String>> {
    if fragment_wanted(crate::distro::authorized_keys_fragment().as_deref())? {
        return crate::afterburn::write_ssh_keys_with(root, ids, user, "ignition", keys);
    }
    let u = ids.user(user)?.clone();
    let ssh = format!("{}/.ssh", u.home.trim_end_matches('/'));
    let file = format!("{ssh}/authorized_keys");
    // ~/.ssh is handed to the user: refuse a symlink there before creating or chowning
    // anything, or another directory of the target would change owner.
    if let Some(m) = root.lstat(&ssh)? {
        if m.kind != crate::sys::root::Kind::Dir {
            return Err(Error::failed(format!(
                "{ssh} exists and is not a directory (a symlink?): not writing {user}'s SSH keys through it"
            )));
        }
    }
    for d in root.mkdir_all(&ssh, 0o700)? {
        root.lchown(&d, u.uid, u.gid)?;
    }
    root.chmod(&ssh, 0o700)?;
    root.lchown(&ssh, u.uid, u.gid)?;
    let mut body = keys.join("\n");
    if !body.ends_with('\n') {
        body.push('\n');
    }
    root.write_atomic(&file, body.as_bytes(), 0o600, u.uid, u.gid)?;
    log::info!(
        "ssh keys: wrote {} key(s) for {user} to {file} ({ENV}=false)",
        keys.len()
    );
    Ok(Some(file))
}

/// Refuses, before anything is written, what `write` would refuse for `user` (home as in
/// `ids`, the databases as the passwd step leaves them): a bad switch value, a `~/.ssh` (or,
/// for the fragment, `~/.ssh/authorized_keys.d`) that is there and not a directory.
pub fn check(root: &Root, ids: &super::ids::Ids, user: &str) -> Result<()> {
    let fragment = fragment_wanted(crate::distro::authorized_keys_fragment().as_deref())?;
    let home = ids.user(user)?.home.trim_end_matches('/').to_string();
    let ssh = format!("{home}/.ssh");
    let dir = format!("{ssh}/authorized_keys.d");
    for p in if fragment {
        vec![&ssh, &dir]
    } else {
        vec![&ssh]
    } {
        if root
            .lstat(p)?
            .is_some_and(|m| m.kind != crate::sys::root::Kind::Dir)
        {
            return Err(Error::failed(format!(
                "{p} exists and is not a directory (a symlink?): not writing {user}'s SSH keys through it"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fragment_wanted;

    #[test]
    fn ignition_boolean_reading() {
        assert!(fragment_wanted(None).unwrap());
        assert!(fragment_wanted(Some("")).unwrap());
        assert!(fragment_wanted(Some("1")).unwrap());
        assert!(fragment_wanted(Some("true")).unwrap());
        assert!(!fragment_wanted(Some("false")).unwrap());
        assert!(!fragment_wanted(Some("0")).unwrap());
        assert!(fragment_wanted(Some("no")).is_err());
        assert!(fragment_wanted(Some("TRUE")).is_err());
    }
}
