//! The shadow-utils commands Ignition runs, re-done on in-memory databases: groupadd, groupmod,
//! groupdel, useradd, usermod, userdel, each with the argv Ignition would build and the checks,
//! defaults and error cases of shadow-utils 4.13. Pure: no I/O, and no password hash in any
//! message.

mod groupadd;
mod groupdel;
mod groupmod;
mod useradd;
mod userdel;
mod usermod;

use super::db::{Db, Entry, GrEnt, PwEnt, SgEnt, SpEnt, SubEnt};
use super::defs::{LoginDefs, UseraddDefaults};
use super::ids::{find_new_id, range, IdKind};
use super::{Account, DbFile, HomeOp, Inputs, Plan};
use crate::config::types::{PasswdGroup, PasswdUser};
use crate::error::{Context, Error, Result};
use useradd::Useradd;
use usermod::Usermod;

struct State {
    pw: Db<PwEnt>,
    sp: Db<SpEnt>,
    gr: Db<GrEnt>,
    sg: Db<SgEnt>,
    subuid: Db<SubEnt>,
    subgid: Db<SubEnt>,
    alt_pw: Vec<PwEnt>,
    alt_gr: Vec<GrEnt>,
    defs: LoginDefs,
    dflt: UseraddDefaults,
    today: i64,
    homes: Vec<HomeOp>,
    ops: Vec<String>,
}

fn parse_all<T: Entry>(bytes: Option<&Vec<u8>>) -> Vec<T> {
    Db::<T>::load(bytes.map(Vec::as_slice))
        .iter()
        .cloned()
        .collect()
}

fn fail(msg: String) -> Error {
    Error::failed(msg)
}

/// shadow's VALID(): a field may not hold ':' or a newline.
fn valid_field(s: &str) -> bool {
    !s.contains([':', '\n'])
}

/// User and group names: the portable set `[A-Za-z0-9_.][A-Za-z0-9_.-]*` with an optional final
/// `$`, not all digits, not "." or "..", at most 32 bytes.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    if b.is_empty() || b.len() > 32 || name == "." || name == ".." {
        return false;
    }
    let ok = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'.';
    if !ok(b[0]) {
        return false;
    }
    for (i, &c) in b.iter().enumerate().skip(1) {
        if !(ok(c) || c == b'-' || (c == b'$' && i == b.len() - 1)) {
            return false;
        }
    }
    !b.iter().all(u8::is_ascii_digit)
}

/// An id from the config, as shadow's get_uid/get_gid would accept Ignition's decimal argv.
fn config_id(v: i64, what: &str) -> Result<u32> {
    match u32::try_from(v) {
        Ok(id) if id != u32::MAX => Ok(id),
        _ => Err(fail(format!("invalid {what} ID '{v}'"))),
    }
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.is_empty())
}

impl State {
    fn new(inputs: &Inputs) -> Self {
        let file = |f: DbFile| inputs.files.get(&f).map(Vec::as_slice);
        State {
            pw: Db::load(file(DbFile::Passwd)),
            sp: Db::load(file(DbFile::Shadow)),
            gr: Db::load(file(DbFile::Group)),
            sg: Db::load(file(DbFile::Gshadow)),
            subuid: Db::load(file(DbFile::Subuid)),
            subgid: Db::load(file(DbFile::Subgid)),
            alt_pw: parse_all(inputs.alt_passwd.as_ref()),
            alt_gr: parse_all(inputs.alt_group.as_ref()),
            defs: super::defs::LoginDefs::parse(inputs.login_defs.as_deref()),
            dflt: UseraddDefaults::parse(inputs.useradd_defaults.as_deref()),
            today: inputs.today,
            homes: Vec::new(),
            ops: Vec::new(),
        }
    }

    // NSS as seen inside the target: "files" (the databases being edited) then "altfiles".

    fn getpwnam(&self, name: &str) -> Option<PwEnt> {
        self.pw
            .iter()
            .chain(self.alt_pw.iter())
            .find(|p| p.name == name)
            .cloned()
    }

    fn getpwuid(&self, uid: u32) -> Option<PwEnt> {
        self.pw
            .iter()
            .chain(self.alt_pw.iter())
            .find(|p| p.uid == uid)
            .cloned()
    }

    fn all_users(&self) -> impl Iterator<Item = &PwEnt> {
        self.pw.iter().chain(self.alt_pw.iter())
    }

    fn getgrnam(&self, name: &str) -> Option<GrEnt> {
        self.gr
            .iter()
            .chain(self.alt_gr.iter())
            .find(|g| g.name == name)
            .cloned()
    }

    fn getgrgid(&self, gid: u32) -> Option<GrEnt> {
        self.gr
            .iter()
            .chain(self.alt_gr.iter())
            .find(|g| g.gid == gid)
            .cloned()
    }

    /// getgr_nam_gid: an all-digit argument is a gid, anything else a name.
    fn getgr_nam_gid(&self, s: &str) -> Option<GrEnt> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().and_then(|gid| self.getgrgid(gid))
        } else {
            self.getgrnam(s)
        }
    }

    /// useradd -G looks groups up in /etc/group only (a group only in /usr/lib/group is unknown).
    fn local_group(&self, s: &str) -> Option<GrEnt> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let gid: u32 = s.parse().ok()?;
            self.gr.iter().find(|g| g.gid == gid).cloned()
        } else {
            self.gr.locate(s).cloned()
        }
    }

    fn lastchg(&self) -> Option<i64> {
        (self.today > 0).then_some(self.today)
    }

    fn new_uid(&self, system: bool) -> Result<u32> {
        let r = range(&self.defs, IdKind::Uid, system)?;
        let local: Vec<u32> = self.pw.iter().map(|p| p.uid).collect();
        find_new_id(IdKind::Uid, r, system, None, &local, &|id| {
            self.getpwuid(id).is_some()
        })
    }

    fn new_gid(&self, system: bool, preferred: Option<u32>) -> Result<u32> {
        let r = range(&self.defs, IdKind::Gid, system)?;
        let local: Vec<u32> = self.gr.iter().map(|g| g.gid).collect();
        find_new_id(IdKind::Gid, r, system, preferred, &local, &|id| {
            self.getgrgid(id).is_some()
        })
    }

    // ---- one config entry -> the commands Ignition would run (each in ops/<command>.rs) ----

    fn ensure_group(&mut self, g: &PasswdGroup) -> Result<()> {
        let exists = self.getgrnam(&g.name).is_some();
        if g.should_exist == Some(false) {
            if exists {
                self.groupdel(&g.name)?;
            }
            return Ok(());
        }
        let gid = g.gid.map(|v| config_id(v, "group")).transpose()?;
        if exists {
            self.groupmod(&g.name, gid, non_empty(&g.password_hash))
        } else {
            // groupadd's default when no hash is given, as Ignition since v2.25.0 (which stopped
            // passing `--password *`); users without a hash keep `*` in shadow.
            let password = non_empty(&g.password_hash).unwrap_or("!");
            self.groupadd(&g.name, gid, password, g.system == Some(true))
        }
    }

    fn ensure_user(&mut self, u: &PasswdUser) -> Result<()> {
        let exists = self.getpwnam(&u.name).is_some();
        if u.should_exist == Some(false) {
            if exists {
                self.userdel(&u.name)?;
            }
            return Ok(());
        }
        let password = u
            .password_hash
            .as_deref()
            .map(|h| if h.is_empty() { "*" } else { h });
        let uid = u.uid.map(|v| config_id(v, "user")).transpose()?;
        let groups: Option<Vec<&str>> =
            (!u.groups.is_empty()).then(|| u.groups.iter().map(String::as_str).collect());
        if exists {
            self.usermod(&Usermod {
                name: &u.name,
                home: non_empty(&u.home_dir),
                password,
                uid,
                comment: non_empty(&u.gecos),
                gid: non_empty(&u.primary_group),
                groups,
                shell: non_empty(&u.shell),
            })?;
        } else {
            self.useradd(&Useradd {
                name: &u.name,
                home: non_empty(&u.home_dir),
                create_home: u.no_create_home != Some(true),
                no_user_group: u.no_user_group == Some(true),
                system: u.system == Some(true),
                password: password.unwrap_or("*"),
                uid,
                comment: non_empty(&u.gecos),
                gid: non_empty(&u.primary_group),
                groups: groups.unwrap_or_default(),
                shell: non_empty(&u.shell),
            })?;
        }
        // Ignition then runs `usermod --password` once more when a hash is configured.
        if let Some(p) = password {
            self.usermod(&Usermod {
                name: &u.name,
                password: Some(p),
                ..Usermod::default()
            })?;
        }
        Ok(())
    }
}

pub fn plan(inputs: &Inputs, groups: &[PasswdGroup], users: &[PasswdUser]) -> Result<Plan> {
    let mut st = State::new(inputs);
    for (i, g) in groups.iter().enumerate() {
        st.ensure_group(g)
            .context(|| format!("$.passwd.groups.{i} group {:?}", g.name))?;
    }
    for (i, u) in users.iter().enumerate() {
        st.ensure_user(u)
            .context(|| format!("$.passwd.users.{i} user {:?}", u.name))?;
    }
    let mut files = Vec::new();
    for (f, db) in [
        (DbFile::Passwd, st.pw.changed_contents()),
        (DbFile::Shadow, st.sp.changed_contents()),
        (DbFile::Group, st.gr.changed_contents()),
        (DbFile::Gshadow, st.sg.changed_contents()),
        (DbFile::Subuid, st.subuid.changed_contents()),
        (DbFile::Subgid, st.subgid.changed_contents()),
    ] {
        if let Some(bytes) = db {
            files.push((f, bytes));
        }
    }
    let accounts = users
        .iter()
        .filter(|u| u.should_exist != Some(false))
        .filter_map(|u| st.getpwnam(&u.name))
        .map(|p| Account {
            name: p.name,
            uid: p.uid,
            gid: p.gid,
            home: p.dir,
        })
        .collect();
    Ok(Plan {
        files,
        homes: st.homes,
        ops: st.ops,
        accounts,
    })
}

#[cfg(test)]
mod tests;
