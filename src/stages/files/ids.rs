//! Name-to-id lookups in the target's own databases: /etc/passwd and /etc/group, then the
//! nss-altfiles copies in /usr/lib (rpm-ostree systems like NestOS keep system users there).
//! Read through the `Root`, never the host's databases.

use crate::error::{Error, Result};
use crate::passwd::db::{Entry, GrEnt, PwEnt};
use crate::sys::root::Root;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEntry {
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

#[derive(Debug, Default, Clone)]
pub struct Ids {
    users: HashMap<String, UserEntry>,
    groups: HashMap<String, u32>,
}

/// Adds the entries of a passwd file; earlier files win (/etc is read before /usr/lib).
fn parse_passwd(text: &str, into: &mut HashMap<String, UserEntry>) {
    for e in text.lines().filter_map(PwEnt::parse) {
        into.entry(e.name).or_insert(UserEntry {
            uid: e.uid,
            gid: e.gid,
            home: e.dir,
        });
    }
}

/// Adds the entries of a group file; earlier files win.
fn parse_group(text: &str, into: &mut HashMap<String, u32>) {
    for e in text.lines().filter_map(GrEnt::parse) {
        into.entry(e.name).or_insert(e.gid);
    }
}

impl Ids {
    /// Loads the target's databases; /etc entries shadow /usr/lib ones of the same name.
    pub fn load(root: &Root) -> Result<Ids> {
        let mut ids = Ids::default();
        for p in ["/etc/passwd", "/usr/lib/passwd"] {
            if let Some(b) = root.read(p)? {
                parse_passwd(&String::from_utf8_lossy(&b), &mut ids.users);
            }
        }
        for p in ["/etc/group", "/usr/lib/group"] {
            if let Some(b) = root.read(p)? {
                parse_group(&String::from_utf8_lossy(&b), &mut ids.groups);
            }
        }
        Ok(ids)
    }

    /// The names and ids in the given passwd and group files (each list in precedence order:
    /// /etc's, then /usr/lib's).
    pub fn from_bytes(passwd: [Option<&[u8]>; 2], group: [Option<&[u8]>; 2]) -> Ids {
        let mut ids = Ids::default();
        for b in passwd.into_iter().flatten() {
            parse_passwd(&String::from_utf8_lossy(b), &mut ids.users);
        }
        for b in group.into_iter().flatten() {
            parse_group(&String::from_utf8_lossy(b), &mut ids.groups);
        }
        ids
    }

    pub fn user(&self, name: &str) -> Result<&UserEntry> {
        self.users.get(name).ok_or_else(|| {
            Error::failed(format!(
                "user {name:?} not found in the target's /etc/passwd or /usr/lib/passwd"
            ))
        })
    }

    pub fn group(&self, name: &str) -> Result<u32> {
        self.groups.get(name).copied().ok_or_else(|| {
            Error::failed(format!(
                "group {name:?} not found in the target's /etc/group or /usr/lib/group"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shadows() {
        let mut u = HashMap::new();
        parse_passwd(
            "root:x:0:0:root:/root:/bin/bash\n# c\ncore:x:1000:1000::/var/home/core:/bin/bash\n",
            &mut u,
        );
        parse_passwd(
            "core:x:5:5::/other:/bin/sh\nsshd:x:74:74::/var/empty:/sbin/nologin\n",
            &mut u,
        );
        assert_eq!(u["core"].uid, 1000, "/etc wins");
        assert_eq!(u["sshd"].home, "/var/empty");
        let mut g = HashMap::new();
        parse_group("wheel:x:10:core\nbad line\n", &mut g);
        assert_eq!(g["wheel"], 10);
    }
}
