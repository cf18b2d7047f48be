//! Users and groups (`passwd.groups`, `passwd.users`) planned natively with the semantics Ignition
//! gets by forking shadow-utils (`groupadd/groupmod/groupdel`, `useradd/usermod/userdel --root`)
//! per entry. The planner is pure: the target's account files go in as bytes, their new contents
//! and the home-directory work come out. It must not touch the filesystem; `apply` does that
//! through the one small seam in `target`.

pub mod apply;
pub mod db;
pub mod defs;
mod ids;
mod ops;
pub mod target;

use crate::config::types::{PasswdGroup, PasswdUser};
use crate::error::Result;
use std::collections::BTreeMap;

/// One of the account databases under /etc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DbFile {
    Passwd,
    Shadow,
    Group,
    Gshadow,
    Subuid,
    Subgid,
}

impl DbFile {
    pub const ALL: [DbFile; 6] = [
        DbFile::Passwd,
        DbFile::Shadow,
        DbFile::Group,
        DbFile::Gshadow,
        DbFile::Subuid,
        DbFile::Subgid,
    ];

    /// The path inside the target root.
    pub fn path(self) -> &'static str {
        match self {
            DbFile::Passwd => "/etc/passwd",
            DbFile::Shadow => "/etc/shadow",
            DbFile::Group => "/etc/group",
            DbFile::Gshadow => "/etc/gshadow",
            DbFile::Subuid => "/etc/subuid",
            DbFile::Subgid => "/etc/subgid",
        }
    }

    /// Mode for a file that did not exist before (an existing file keeps its mode and owner).
    pub fn default_mode(self) -> u32 {
        match self {
            DbFile::Shadow | DbFile::Gshadow => 0o000,
            _ => 0o644,
        }
    }
}

/// Everything the planner reads from the target, as bytes; `None` where the file is absent.
#[derive(Clone, Debug, Default)]
pub struct Inputs {
    /// Current contents of the account databases that exist.
    pub files: BTreeMap<DbFile, Vec<u8>>,
    /// /etc/login.defs.
    pub login_defs: Option<Vec<u8>>,
    /// /etc/default/useradd.
    pub useradd_defaults: Option<Vec<u8>>,
    /// /usr/lib/passwd and /usr/lib/group (nss-altfiles): read-only, but their names and ids
    /// resolve and count as taken.
    pub alt_passwd: Option<Vec<u8>>,
    pub alt_group: Option<Vec<u8>>,
    /// Days since the epoch, written as shadow's "last change" (0 means unknown: left empty).
    pub today: i64,
}

/// Work on home directories and mail spools, done in order after the files are written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HomeOp {
    /// useradd --create-home: create `path` (parents 0755 root) unless it exists, then copy the
    /// skeleton into it owned by uid:gid.
    Create {
        user: String,
        path: String,
        uid: u32,
        gid: u32,
        mode: u32,
        skel: String,
    },
    /// useradd with CREATE_MAIL_SPOOL=yes: an empty mailbox unless one exists.
    CreateMailbox {
        user: String,
        path: String,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    /// usermod --home --move-home: rename `from` to `to` (which must not exist) if `from` exists,
    /// then re-own what the old ids owned.
    Move {
        user: String,
        from: String,
        to: String,
        old_uid: u32,
        new_uid: Option<u32>,
        old_gid: u32,
        new_gid: Option<u32>,
    },
    /// usermod --uid/--gid without a move: re-own the home tree if the home belongs to the user.
    Chown {
        user: String,
        path: String,
        old_uid: u32,
        new_uid: Option<u32>,
        old_gid: u32,
        new_gid: Option<u32>,
    },
    /// usermod --uid: the mailbox follows the user if the old uid owned it.
    ChownMailbox {
        user: String,
        path: String,
        old_uid: u32,
        new_uid: u32,
    },
    /// userdel --remove: remove the home tree; it must belong to `uid`.
    Remove {
        user: String,
        path: String,
        uid: u32,
    },
    /// userdel --remove: remove the mailbox if `uid` owns it.
    RemoveMailbox {
        user: String,
        path: String,
        uid: u32,
    },
}

/// A configured user as it stands after the plan (for SSH keys and home permissions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
}

/// The result of planning: new file contents, home work, and a log of what was decided.
#[derive(Clone, Debug, Default)]
pub struct Plan {
    /// Only the databases whose bytes change, in `DbFile` order.
    pub files: Vec<(DbFile, Vec<u8>)>,
    pub homes: Vec<HomeOp>,
    /// One line per shadow-utils command replaced; never contains password hashes.
    pub ops: Vec<String>,
    /// Configured users that exist afterwards.
    pub accounts: Vec<Account>,
}

/// Plans `passwd.groups` then `passwd.users` against the target's current databases, in config
/// order, each entry seeing the result of the ones before it (as the forked tools do).
pub fn plan(inputs: &Inputs, groups: &[PasswdGroup], users: &[PasswdUser]) -> Result<Plan> {
    ops::plan(inputs, groups, users)
}
