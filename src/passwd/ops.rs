//! The shadow-utils commands Ignition runs, re-done on in-memory databases: groupadd, groupmod,
//! groupdel, useradd, usermod, userdel, each with the argv Ignition would build and the checks,
//! defaults and error cases of shadow-utils 4.13. Pure: no I/O, and no password hash in any
//! message.

use super::db::{add_member, del_member, Db, Entry, GrEnt, PwEnt, SgEnt, SpEnt, SubEnt};
use super::defs::{LoginDefs, UseraddDefaults};
use super::ids::{find_free_sub_range, find_new_id, range, sub_range, IdKind};
use super::{Account, DbFile, HomeOp, Inputs, Plan};
use crate::config::types::{PasswdGroup, PasswdUser};
use crate::error::{Error, Result};

/// useradd's built-in primary group for --no-user-group when /etc/default/useradd has no GROUP=.
const DEFAULT_GROUP: u32 = 100;

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

    // ---- groups ----

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

    fn groupadd(
        &mut self,
        name: &str,
        gid: Option<u32>,
        password: &str,
        system: bool,
    ) -> Result<()> {
        if !valid_name(name) {
            return Err(fail(format!(
                "groupadd: '{name}' is not a valid group name"
            )));
        }
        if !valid_field(password) {
            return Err(fail(
                "groupadd: the password hash contains ':' or a newline".into(),
            ));
        }
        if self.getgrnam(name).is_some() {
            return Err(fail(format!("groupadd: group '{name}' already exists")));
        }
        let gid = match gid {
            Some(id) => {
                if self.getgrgid(id).is_some() {
                    return Err(fail(format!("groupadd: GID '{id}' already exists")));
                }
                id
            }
            None => self.new_gid(system, None)?,
        };
        let shadowed = self.sg.present();
        self.gr.update(GrEnt {
            name: name.into(),
            passwd: if shadowed {
                "x".into()
            } else {
                password.into()
            },
            gid,
            members: Vec::new(),
        });
        if shadowed {
            self.sg.update(SgEnt {
                name: name.into(),
                passwd: password.into(),
                admins: Vec::new(),
                members: Vec::new(),
            });
        }
        self.ops.push(format!("groupadd {name}: gid {gid}"));
        Ok(())
    }

    fn groupmod(&mut self, name: &str, gid: Option<u32>, password: Option<&str>) -> Result<()> {
        let Some(old) = self.gr.locate(name).cloned() else {
            return Err(fail(format!(
                "groupmod: group '{name}' does not exist in /etc/group (a group only in /usr/lib/group cannot be modified)"
            )));
        };
        if let Some(p) = password {
            if !valid_field(p) {
                return Err(fail(
                    "groupmod: the password hash contains ':' or a newline".into(),
                ));
            }
        }
        let new_gid = gid.filter(|&g| g != old.gid);
        if let Some(id) = new_gid {
            if self.getgrgid(id).is_some() {
                return Err(fail(format!("groupmod: GID '{id}' already exists")));
            }
        }
        let mut grp = old.clone();
        if let Some(p) = password {
            if !self.sg.present() || grp.passwd != "x" {
                grp.passwd = p.into();
            }
        }
        if let Some(id) = new_gid {
            grp.gid = id;
        }
        if self.sg.present() {
            if let Some(mut s) = self.sg.locate(name).cloned() {
                if let Some(p) = password {
                    s.passwd = p.into();
                    self.sg.update(s);
                }
            } else if let Some(p) = password {
                if grp.passwd == "x" {
                    self.sg.update(SgEnt {
                        name: name.into(),
                        passwd: p.into(),
                        admins: Vec::new(),
                        members: grp.members.clone(),
                    });
                }
            }
        }
        self.gr.update(grp);
        if let Some(id) = new_gid {
            // groupmod moves users whose primary group it was.
            self.pw.modify_each(|p| {
                if p.gid == old.gid {
                    p.gid = id;
                    true
                } else {
                    false
                }
            });
        }
        let mut what = Vec::new();
        if let Some(id) = new_gid {
            what.push(format!("gid {} -> {id}", old.gid));
        }
        if password.is_some() {
            what.push("password set".into());
        }
        if what.is_empty() {
            what.push("no changes".into());
        }
        self.ops
            .push(format!("groupmod {name}: {}", what.join(", ")));
        Ok(())
    }

    fn groupdel(&mut self, name: &str) -> Result<()> {
        let Some(grp) = self.gr.locate(name).cloned() else {
            return Err(fail(format!(
                "groupdel: cannot remove group '{name}': it is not in /etc/group (only in /usr/lib/group)"
            )));
        };
        if let Some(u) = self.all_users().find(|p| p.gid == grp.gid) {
            return Err(fail(format!(
                "groupdel: cannot remove the primary group of user '{}'",
                u.name
            )));
        }
        self.gr.remove(name);
        if self.sg.present() {
            self.sg.remove(name);
        }
        self.ops.push(format!("groupdel {name}"));
        Ok(())
    }

    // ---- users ----

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

    fn useradd(&mut self, a: &Useradd) -> Result<()> {
        let name = a.name;
        if let Some(home) = a.home {
            if !valid_field(home) || !home.starts_with('/') {
                return Err(fail(format!("useradd: invalid home directory '{home}'")));
            }
        }
        if !valid_field(a.password) {
            return Err(fail(
                "useradd: the password hash contains ':' or a newline".into(),
            ));
        }
        if let Some(c) = a.comment {
            if !valid_field(c) {
                return Err(fail(format!("useradd: invalid comment '{c}'")));
            }
        }
        let primary = match a.gid {
            Some(g) => Some(
                self.getgr_nam_gid(g)
                    .ok_or_else(|| fail(format!("useradd: group '{g}' does not exist")))?,
            ),
            None => None,
        };
        let mut supplementary = Vec::new();
        for g in &a.groups {
            let grp = self
                .local_group(g)
                .ok_or_else(|| fail(format!("useradd: group '{g}' does not exist")))?;
            supplementary.push(grp.name);
        }
        if let Some(s) = a.shell {
            if !valid_field(s) || !(s.is_empty() || s.starts_with('/') || s.starts_with('*')) {
                return Err(fail(format!("useradd: invalid shell '{s}'")));
            }
        }
        let user_group = primary.is_none() && !a.no_user_group && self.defs.bool("USERGROUPS_ENAB");
        if !valid_name(name) {
            return Err(fail(format!("useradd: invalid user name '{name}'")));
        }
        if self.getpwnam(name).is_some() {
            return Err(fail(format!("useradd: user '{name}' already exists")));
        }
        if user_group && self.getgrnam(name).is_some() {
            return Err(fail(format!(
                "useradd: group {name} exists - if you want to add this user to that group, set primaryGroup"
            )));
        }
        let uid = match a.uid {
            Some(id) => {
                if self.getpwuid(id).is_some() {
                    return Err(fail(format!("useradd: UID {id} is not unique")));
                }
                id
            }
            None => self.new_uid(a.system)?,
        };
        let mut gid = match &primary {
            Some(g) => g.gid,
            None => self
                .dflt
                .group
                .as_deref()
                .and_then(|g| self.getgr_nam_gid(g))
                .map_or(DEFAULT_GROUP, |g| g.gid),
        };
        if user_group {
            gid = self.new_gid(a.system, Some(uid))?;
            let shadowed = self.sg.present();
            self.gr.update(GrEnt {
                name: name.into(),
                passwd: if shadowed { "x".into() } else { "!".into() },
                gid,
                members: Vec::new(),
            });
            if shadowed {
                self.sg.update(SgEnt {
                    name: name.into(),
                    passwd: "!".into(),
                    admins: Vec::new(),
                    members: Vec::new(),
                });
            }
        }
        // Subordinate ids: only for non-system users with an automatic or in-range uid.
        let uid_min = self.defs.ulong("UID_MIN", 1000);
        let uid_max = self.defs.ulong("UID_MAX", 60000);
        let sub_ok = !a.system
            && a.uid
                .is_none_or(|u| u == 0 || (uid_min..=uid_max).contains(&u64::from(u)));
        let sub_uid = sub_range(&self.defs, IdKind::Uid);
        if sub_ok && sub_uid.2 > 0 && self.subuid.present() {
            let start = find_free_sub_range(&mut self.subuid, IdKind::Uid, sub_uid)?;
            if !self.subuid.iter().any(|r| r.owner == name) {
                self.subuid.append(SubEnt {
                    owner: name.into(),
                    start,
                    count: sub_uid.2,
                });
            }
        }
        let sub_gid = sub_range(&self.defs, IdKind::Gid);
        if sub_ok && sub_gid.2 > 0 && self.subgid.present() {
            let start = find_free_sub_range(&mut self.subgid, IdKind::Gid, sub_gid)?;
            if !self.subgid.iter().any(|r| r.owner == name) {
                self.subgid.append(SubEnt {
                    owner: name.into(),
                    start,
                    count: sub_gid.2,
                });
            }
        }
        let home = a
            .home
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}/{}", self.dflt.home, name));
        let shadowed = self.sp.present();
        self.pw.update(PwEnt {
            name: name.into(),
            passwd: if shadowed {
                "x".into()
            } else {
                a.password.into()
            },
            uid,
            gid,
            gecos: a.comment.unwrap_or("").into(),
            dir: home.clone(),
            shell: a.shell.unwrap_or(&self.dflt.shell).into(),
        });
        if shadowed {
            let (min, max, warn, inact, expire) = if a.system {
                (None, None, None, None, None)
            } else {
                let n = |k: &str| Some(self.defs.num(k, -1)).filter(|&v| v != -1);
                (
                    n("PASS_MIN_DAYS"),
                    n("PASS_MAX_DAYS"),
                    n("PASS_WARN_AGE"),
                    self.dflt.inactive,
                    self.dflt.expire_day(),
                )
            };
            self.sp.update(SpEnt {
                name: name.into(),
                passwd: a.password.into(),
                lastchg: self.lastchg(),
                min,
                max,
                warn,
                inact,
                expire,
                flag: String::new(),
            });
        }
        if !supplementary.is_empty() {
            self.gr.modify_each(|g| {
                supplementary.contains(&g.name) && add_member(&mut g.members, name)
            });
            if self.sg.present() {
                let local: Vec<String> = self.gr.iter().map(|g| g.name.clone()).collect();
                self.sg.modify_each(|s| {
                    local.contains(&s.name)
                        && supplementary.contains(&s.name)
                        && add_member(&mut s.members, name)
                });
            }
        }
        if a.create_home {
            self.homes.push(HomeOp::Create {
                user: name.into(),
                path: home.clone(),
                uid,
                gid,
                mode: self.defs.home_mode(),
                skel: self.dflt.skel.clone(),
            });
        }
        if !a.system && self.dflt.create_mail_spool {
            if let Some(dir) = self.defs.mail_dir() {
                let (mgid, mode) = match self.getgrnam("mail") {
                    Some(g) => (g.gid, 0o660),
                    None => (gid, 0o600),
                };
                self.homes.push(HomeOp::CreateMailbox {
                    user: name.into(),
                    path: format!("{}/{}", dir.trim_end_matches('/'), name),
                    uid,
                    gid: mgid,
                    mode,
                });
            }
        }
        self.ops.push(format!(
            "useradd {name}: uid {uid}, gid {gid}, home {home}{}",
            if a.create_home { " (created)" } else { "" }
        ));
        Ok(())
    }

    fn usermod(&mut self, a: &Usermod) -> Result<()> {
        let name = a.name;
        if let Some(c) = a.comment {
            if !valid_field(c) {
                return Err(fail(format!("usermod: invalid field '{c}'")));
            }
        }
        if let Some(h) = a.home {
            if !valid_field(h) {
                return Err(fail(format!("usermod: invalid field '{h}'")));
            }
            if !h.starts_with('/') {
                return Err(fail("usermod: homedir must be an absolute path".into()));
            }
        }
        let new_gid = match a.gid {
            Some(g) => Some(
                self.getgr_nam_gid(g)
                    .ok_or_else(|| fail(format!("usermod: group '{g}' does not exist")))?
                    .gid,
            ),
            None => None,
        };
        let groups = match &a.groups {
            Some(list) => {
                let mut names = Vec::new();
                for g in list {
                    let grp = self
                        .getgr_nam_gid(g)
                        .ok_or_else(|| fail(format!("usermod: group '{g}' does not exist")))?;
                    names.push(grp.name);
                }
                Some(names)
            }
            None => None,
        };
        if let Some(p) = a.password {
            if !valid_field(p) {
                return Err(fail(
                    "usermod: the password hash contains ':' or a newline".into(),
                ));
            }
        }
        if let Some(s) = a.shell {
            if !valid_field(s) || !(s.is_empty() || s.starts_with('/') || s.starts_with('*')) {
                return Err(fail(format!("usermod: invalid shell '{s}'")));
            }
        }
        let Some(cur) = self.getpwnam(name) else {
            return Err(fail(format!("usermod: user '{name}' does not exist")));
        };
        let uid = a.uid.filter(|&u| u != cur.uid);
        let gid = new_gid.filter(|&g| g != cur.gid);
        let shell = a.shell.filter(|&s| s != cur.shell);
        let home = a.home.filter(|&h| h != cur.dir);
        let comment = a.comment.filter(|&c| c != cur.gecos);
        let pflg = a.password.is_some();
        if uid.is_none()
            && gid.is_none()
            && shell.is_none()
            && home.is_none()
            && comment.is_none()
            && !pflg
            && groups.is_none()
        {
            self.ops.push(format!("usermod {name}: no changes"));
            return Ok(());
        }
        if let Some(id) = uid {
            if self.getpwuid(id).is_some() {
                return Err(fail(format!("usermod: UID '{id}' already exists")));
            }
        }
        let mut what = Vec::new();
        if uid.is_some()
            || gid.is_some()
            || shell.is_some()
            || home.is_some()
            || comment.is_some()
            || pflg
        {
            let Some(mut p) = self.pw.locate(name).cloned() else {
                return Err(fail(format!(
                    "usermod: user '{name}' does not exist in /etc/passwd (a user only in /usr/lib/passwd cannot be modified)"
                )));
            };
            if let Some(pass) = a.password {
                if !self.sp.present() || p.passwd != "x" {
                    p.passwd = pass.into();
                }
                what.push("password set".to_string());
            }
            if let Some(id) = uid {
                p.uid = id;
                what.push(format!("uid {} -> {id}", cur.uid));
            }
            if let Some(id) = gid {
                p.gid = id;
                what.push(format!("gid {} -> {id}", cur.gid));
            }
            if let Some(c) = comment {
                p.gecos = c.into();
                what.push("comment".into());
            }
            if let Some(h) = home {
                let h = if h.len() > 1 {
                    h.trim_end_matches('/')
                } else {
                    h
                };
                p.dir = if h.is_empty() { "/".into() } else { h.into() };
                what.push(format!("home {} -> {}", cur.dir, p.dir));
            }
            if let Some(s) = shell {
                p.shell = s.into();
                what.push(format!("shell {s}"));
            }
            let pw_pass = p.passwd.clone();
            self.pw.update(p);
            if self.sp.present() {
                if let Some(mut s) = self.sp.locate(name).cloned() {
                    if let Some(pass) = a.password {
                        s.passwd = pass.into();
                        s.lastchg = self.lastchg();
                        self.sp.update(s);
                    }
                } else if let Some(pass) = a.password {
                    if pw_pass == "x" {
                        let n = |k: &str| Some(self.defs.num(k, -1)).filter(|&v| v != -1);
                        let ent = SpEnt {
                            name: name.into(),
                            passwd: pass.into(),
                            lastchg: self.lastchg(),
                            min: n("PASS_MIN_DAYS"),
                            max: n("PASS_MAX_DAYS"),
                            warn: n("PASS_WARN_AGE"),
                            inact: None,
                            expire: None,
                            flag: String::new(),
                        };
                        self.sp.update(ent);
                    }
                }
            }
        }
        if let Some(list) = &groups {
            self.gr.modify_each(|g| {
                let was = g.members.iter().any(|m| m == name);
                let is = list.contains(&g.name);
                match (was, is) {
                    (true, false) => del_member(&mut g.members, name),
                    (false, true) => add_member(&mut g.members, name),
                    _ => false,
                }
            });
            if self.sg.present() {
                self.sg.modify_each(|s| {
                    let was = s.members.iter().any(|m| m == name);
                    let is = list.contains(&s.name);
                    match (was, is) {
                        (true, false) => del_member(&mut s.members, name),
                        (false, true) => add_member(&mut s.members, name),
                        _ => false,
                    }
                });
            }
            what.push(format!("groups {}", list.join(",")));
        }
        let new_home = home.map(|h| {
            let h = if h.len() > 1 {
                h.trim_end_matches('/')
            } else {
                h
            };
            h.to_string()
        });
        if let Some(to) = &new_home {
            self.homes.push(HomeOp::Move {
                user: name.into(),
                from: cur.dir.clone(),
                to: to.clone(),
                old_uid: cur.uid,
                new_uid: uid,
                old_gid: cur.gid,
                new_gid: gid,
            });
        }
        if let Some(new_uid) = uid {
            if let Some(dir) = self.defs.mail_dir() {
                self.homes.push(HomeOp::ChownMailbox {
                    user: name.into(),
                    path: format!("{}/{}", dir.trim_end_matches('/'), name),
                    old_uid: cur.uid,
                    new_uid,
                });
            }
        }
        if new_home.is_none() && (uid.is_some() || gid.is_some()) {
            self.homes.push(HomeOp::Chown {
                user: name.into(),
                path: cur.dir.clone(),
                old_uid: cur.uid,
                new_uid: uid,
                old_gid: cur.gid,
                new_gid: gid,
            });
        }
        self.ops
            .push(format!("usermod {name}: {}", what.join(", ")));
        Ok(())
    }

    fn userdel(&mut self, name: &str) -> Result<()> {
        let Some(cur) = self.getpwnam(name) else {
            return Err(fail(format!("userdel: user '{name}' does not exist")));
        };
        if !self.pw.remove(name) {
            return Err(fail(format!(
                "userdel: cannot remove entry '{name}' from /etc/passwd (a user only in /usr/lib/passwd cannot be deleted)"
            )));
        }
        if self.sp.present() {
            self.sp.remove(name);
        }
        self.gr.modify_each(|g| del_member(&mut g.members, name));
        if self.sg.present() {
            self.sg.modify_each(|s| {
                let a = del_member(&mut s.admins, name);
                let m = del_member(&mut s.members, name);
                a || m
            });
        }
        let mut removed_group = false;
        if self.defs.bool("USERGROUPS_ENAB") {
            if let Some(g) = self.gr.locate(name).cloned() {
                let other_primary = self.all_users().any(|p| p.name != name && p.gid == g.gid);
                if g.gid == cur.gid && g.members.is_empty() && !other_primary {
                    self.gr.remove(name);
                    if self.sg.present() {
                        self.sg.remove(name);
                    }
                    removed_group = true;
                }
            }
        }
        if self.subuid.present() {
            self.subuid.remove_where(|r| r.owner == name);
        }
        if self.subgid.present() {
            self.subgid.remove_where(|r| r.owner == name);
        }
        if let Some(dir) = self.defs.mail_dir() {
            self.homes.push(HomeOp::RemoveMailbox {
                user: name.into(),
                path: format!("{}/{}", dir.trim_end_matches('/'), name),
                uid: cur.uid,
            });
        }
        self.homes.push(HomeOp::Remove {
            user: name.into(),
            path: cur.dir.clone(),
            uid: cur.uid,
        });
        self.ops.push(format!(
            "userdel {name}: home {} removed{}",
            cur.dir,
            if removed_group {
                ", user group removed"
            } else {
                ""
            }
        ));
        Ok(())
    }
}

/// useradd's argv as Ignition builds it for a new user.
struct Useradd<'a> {
    name: &'a str,
    home: Option<&'a str>,
    create_home: bool,
    no_user_group: bool,
    system: bool,
    password: &'a str,
    uid: Option<u32>,
    comment: Option<&'a str>,
    gid: Option<&'a str>,
    groups: Vec<&'a str>,
    shell: Option<&'a str>,
}

/// usermod's argv as Ignition builds it for an existing user (`--home` implies `--move-home`).
#[derive(Default)]
struct Usermod<'a> {
    name: &'a str,
    home: Option<&'a str>,
    password: Option<&'a str>,
    uid: Option<u32>,
    comment: Option<&'a str>,
    gid: Option<&'a str>,
    groups: Option<Vec<&'a str>>,
    shell: Option<&'a str>,
}

pub fn plan(inputs: &Inputs, groups: &[PasswdGroup], users: &[PasswdUser]) -> Result<Plan> {
    let mut st = State::new(inputs);
    for (i, g) in groups.iter().enumerate() {
        st.ensure_group(g)
            .map_err(|e| e.context(format!("$.passwd.groups.{i} group {:?}", g.name)))?;
    }
    for (i, u) in users.iter().enumerate() {
        st.ensure_user(u)
            .map_err(|e| e.context(format!("$.passwd.users.{i} user {:?}", u.name)))?;
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
mod tests {
    use super::*;
    use serde_json::json;

    const DEFS: &str = "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n\
        PASS_MIN_DAYS 0\nPASS_MAX_DAYS 99999\nPASS_WARN_AGE 7\nUSERGROUPS_ENAB yes\nUMASK 022\n";

    fn inputs() -> Inputs {
        let mut i = Inputs {
            today: 19675,
            login_defs: Some(DEFS.as_bytes().to_vec()),
            useradd_defaults: Some(b"SHELL=/bin/sh\n".to_vec()),
            ..Inputs::default()
        };
        for (f, body) in [
            (
                DbFile::Passwd,
                "root:x:0:0:root:/root:/bin/bash\nold:x:1000:1000::/home/old:/bin/sh\n",
            ),
            (
                DbFile::Shadow,
                "root:*:19000:0:99999:7:::\nold:$6$o:19000:0:99999:7:::\n",
            ),
            (
                DbFile::Group,
                "root:x:0:\nwheel:x:10:old\nusers:x:100:\nold:x:1000:\n",
            ),
            (
                DbFile::Gshadow,
                "root:*::\nwheel:*:old:old\nusers:*::\nold:!::\n",
            ),
            (DbFile::Subuid, "old:100000:65536\n"),
            (DbFile::Subgid, "old:100000:65536\n"),
        ] {
            i.files.insert(f, body.as_bytes().to_vec());
        }
        i
    }

    fn run(i: &Inputs, cfg: serde_json::Value) -> Result<Plan> {
        let groups: Vec<PasswdGroup> =
            serde_json::from_value(cfg.get("groups").cloned().unwrap_or(json!([]))).unwrap();
        let users: Vec<PasswdUser> =
            serde_json::from_value(cfg.get("users").cloned().unwrap_or(json!([]))).unwrap();
        plan(i, &groups, &users)
    }

    fn file(p: &Plan, f: DbFile) -> String {
        p.files
            .iter()
            .find(|(g, _)| *g == f)
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    }

    fn last_line(p: &Plan, f: DbFile) -> String {
        file(p, f).lines().last().unwrap_or_default().to_string()
    }

    #[test]
    fn new_user_gets_user_group_shadow_subids_and_home() {
        let p = run(
            &inputs(),
            json!({"users": [{"name": "core", "passwordHash": "$6$h"}]}),
        )
        .unwrap();
        assert_eq!(
            last_line(&p, DbFile::Passwd),
            "core:x:1001:1001::/home/core:/bin/sh"
        );
        assert_eq!(
            last_line(&p, DbFile::Shadow),
            "core:$6$h:19675:0:99999:7:::"
        );
        assert_eq!(last_line(&p, DbFile::Group), "core:x:1001:");
        assert_eq!(last_line(&p, DbFile::Gshadow), "core:!::");
        assert_eq!(last_line(&p, DbFile::Subuid), "core:165536:65536");
        assert_eq!(
            p.homes,
            vec![HomeOp::Create {
                user: "core".into(),
                path: "/home/core".into(),
                uid: 1001,
                gid: 1001,
                mode: 0o755,
                skel: "/etc/skel".into(),
            }]
        );
        assert_eq!(p.accounts[0].home, "/home/core");
        assert!(p.ops.iter().all(|o| !o.contains("$6$")));
    }

    #[test]
    fn system_user_has_no_aging_and_no_subids() {
        let p = run(
            &inputs(),
            json!({"users": [{"name": "svc", "system": true, "noCreateHome": true}]}),
        )
        .unwrap();
        assert_eq!(
            last_line(&p, DbFile::Passwd),
            "svc:x:999:999::/home/svc:/bin/sh"
        );
        assert_eq!(last_line(&p, DbFile::Shadow), "svc:*:19675::::::");
        assert!(file(&p, DbFile::Subuid).is_empty());
        assert!(p.homes.is_empty());
    }

    #[test]
    fn without_shadow_files_hashes_live_in_passwd_and_group() {
        let mut i = inputs();
        i.files.remove(&DbFile::Shadow);
        i.files.remove(&DbFile::Gshadow);
        let p = run(
            &i,
            json!({"groups": [{"name": "g", "passwordHash": "GH"}], "users": [{"name": "u", "passwordHash": "H"}]}),
        )
        .unwrap();
        assert!(file(&p, DbFile::Passwd).contains("u:H:1001:1002::/home/u:/bin/sh"));
        assert!(file(&p, DbFile::Group).contains("g:GH:1001:\nu:!:1002:\n"));
        assert!(p
            .files
            .iter()
            .all(|(f, _)| *f != DbFile::Shadow && *f != DbFile::Gshadow));
    }

    #[test]
    fn altfiles_names_resolve_and_ids_are_skipped() {
        let mut i = inputs();
        i.alt_passwd = Some(b"alt:x:1001:1001::/:/sbin/nologin\n".to_vec());
        i.alt_group = Some(b"alt:x:1001:\ndocker:x:1002:\n".to_vec());
        let p = run(
            &i,
            json!({"users": [{"name": "n", "primaryGroup": "docker"}]}),
        )
        .unwrap();
        assert_eq!(
            last_line(&p, DbFile::Passwd),
            "n:x:1002:1002::/home/n:/bin/sh"
        );
        // useradd -G only knows /etc/group; usermod -G resolves through NSS but edits /etc/group only.
        let e = run(&i, json!({"users": [{"name": "m", "groups": ["docker"]}]})).unwrap_err();
        assert!(e.to_string().contains("user \"m\""), "{e}");
        assert!(
            e.to_string().contains("group 'docker' does not exist"),
            "{e}"
        );
        let p = run(
            &i,
            json!({"users": [{"name": "old", "groups": ["docker", "users"]}]}),
        )
        .unwrap();
        assert!(file(&p, DbFile::Group).contains("wheel:x:10:\nusers:x:100:old\n"));
        // A user only in /usr/lib/passwd exists, but usermod cannot edit it.
        let e = run(
            &i,
            json!({"users": [{"name": "alt", "shell": "/bin/bash"}]}),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("does not exist in /etc/passwd"),
            "{e}"
        );
        assert!(run(&i, json!({"users": [{"name": "alt"}]}))
            .unwrap()
            .files
            .is_empty());
    }

    #[test]
    fn usermod_replaces_groups_and_moves_home() {
        let p = run(
            &inputs(),
            json!({"users": [{"name": "old", "groups": ["users"], "homeDir": "/home/new/", "uid": 1500}]}),
        )
        .unwrap();
        assert!(file(&p, DbFile::Passwd).contains("old:x:1500:1000::/home/new:/bin/sh"));
        assert!(file(&p, DbFile::Group).contains("wheel:x:10:\nusers:x:100:old\n"));
        // Admin lists are left alone.
        assert!(file(&p, DbFile::Gshadow).contains("wheel:*:old:\nusers:*::old\n"));
        assert!(p.homes.contains(&HomeOp::Move {
            user: "old".into(),
            from: "/home/old".into(),
            to: "/home/new".into(),
            old_uid: 1000,
            new_uid: Some(1500),
            old_gid: 1000,
            new_gid: None,
        }));
    }

    #[test]
    fn usermod_password_updates_lastchg_and_nothing_else_changes_nothing() {
        let p = run(
            &inputs(),
            json!({"users": [{"name": "old", "passwordHash": "$6$n"}]}),
        )
        .unwrap();
        assert_eq!(
            file(&p, DbFile::Shadow).lines().nth(1),
            Some("old:$6$n:19675:0:99999:7:::")
        );
        let p = run(
            &inputs(),
            json!({"users": [{"name": "old", "shell": "/bin/sh"}]}),
        )
        .unwrap();
        assert!(p.files.is_empty() && p.homes.is_empty());
    }

    #[test]
    fn userdel_removes_memberships_user_group_subids_and_home() {
        let p = run(
            &inputs(),
            json!({"users": [{"name": "old", "shouldExist": false}]}),
        )
        .unwrap();
        assert_eq!(
            file(&p, DbFile::Group),
            "root:x:0:\nwheel:x:10:\nusers:x:100:\n"
        );
        assert_eq!(
            file(&p, DbFile::Gshadow),
            "root:*::\nwheel:*::\nusers:*::\n"
        );
        assert_eq!(file(&p, DbFile::Subuid), "");
        assert!(p
            .files
            .iter()
            .any(|(f, b)| *f == DbFile::Subuid && b.is_empty()));
        assert!(p.homes.contains(&HomeOp::Remove {
            user: "old".into(),
            path: "/home/old".into(),
            uid: 1000
        }));
        // Deleting an absent user is a no-op.
        assert!(run(
            &inputs(),
            json!({"users": [{"name": "nope", "shouldExist": false}]})
        )
        .unwrap()
        .files
        .is_empty());
    }

    #[test]
    fn groups_add_modify_delete() {
        let p = run(
            &inputs(),
            json!({"groups": [
                {"name": "a"}, {"name": "b", "system": true, "gid": 500, "passwordHash": "GH"},
                {"name": "old", "gid": 2000}, {"name": "wheel", "shouldExist": false}
            ]}),
        )
        .unwrap();
        assert_eq!(
            file(&p, DbFile::Group),
            "root:x:0:\nusers:x:100:\nold:x:2000:\na:x:1001:\nb:x:500:\n"
        );
        assert_eq!(
            file(&p, DbFile::Gshadow),
            "root:*::\nusers:*::\nold:!::\na:!::\nb:GH::\n"
        );
        // groupmod --gid moves the users whose primary group it was.
        assert!(file(&p, DbFile::Passwd).contains("old:x:1000:2000:"));
    }

    #[test]
    fn errors_name_the_entry() {
        let cases = [
            (
                json!({"users": [{"name": "d", "uid": 1000}]}),
                "UID 1000 is not unique",
            ),
            (
                json!({"users": [{"name": "d", "primaryGroup": "nope"}]}),
                "group 'nope' does not exist",
            ),
            (json!({"users": [{"name": "users"}]}), "group users exists"),
            (json!({"users": [{"name": "-x"}]}), "invalid user name"),
            (
                json!({"users": [{"name": "d", "uid": -5}]}),
                "invalid user ID",
            ),
            (
                json!({"users": [{"name": "d", "gecos": "a:b"}]}),
                "invalid comment",
            ),
            (
                json!({"users": [{"name": "d", "homeDir": "rel"}]}),
                "invalid home directory",
            ),
            (
                json!({"groups": [{"name": "g", "gid": 10}]}),
                "GID '10' already exists",
            ),
            (
                json!({"groups": [{"name": "old", "shouldExist": false}]}),
                "primary group of user 'old'",
            ),
        ];
        for (cfg, want) in cases {
            let e = run(&inputs(), cfg.clone()).unwrap_err().to_string();
            assert!(e.contains(want), "{cfg}: {e}");
            assert!(e.starts_with("$.passwd."), "{e}");
        }
    }

    #[test]
    fn login_defs_and_defaults_shape_new_users() {
        let mut i = inputs();
        i.login_defs = Some(
            format!("{DEFS}USERGROUPS_ENAB no\nHOME_MODE 0700\nUID_MIN 5000\nMAIL_DIR /var/spool/mail\n")
                .into_bytes(),
        );
        i.useradd_defaults = Some(
            b"GROUP=users\nHOME=/var/home\nSHELL=/bin/zsh\nINACTIVE=7\nEXPIRE=100\nCREATE_MAIL_SPOOL=yes\n"
                .to_vec(),
        );
        let p = run(&i, json!({"users": [{"name": "z"}]})).unwrap();
        assert_eq!(
            last_line(&p, DbFile::Passwd),
            "z:x:5000:100::/var/home/z:/bin/zsh"
        );
        assert_eq!(last_line(&p, DbFile::Shadow), "z:*:19675:0:99999:7:7:100:");
        assert!(matches!(p.homes[0], HomeOp::Create { mode: 0o700, .. }));
        assert!(p.homes.contains(&HomeOp::CreateMailbox {
            user: "z".into(),
            path: "/var/spool/mail/z".into(),
            uid: 5000,
            gid: 100,
            mode: 0o600,
        }));
    }

    #[test]
    fn later_entries_see_earlier_ones() {
        let p = run(
            &inputs(),
            json!({"groups": [{"name": "dev"}], "users": [
                {"name": "a", "primaryGroup": "dev", "groups": ["dev", "wheel"]},
                {"name": "b"}
            ]}),
        )
        .unwrap();
        let pw = file(&p, DbFile::Passwd);
        assert!(
            pw.contains("a:x:1001:1001::/home/a:/bin/sh\nb:x:1002:1002::/home/b:/bin/sh\n"),
            "{pw}"
        );
        assert!(file(&p, DbFile::Group).contains("wheel:x:10:old,a\n"));
        assert!(file(&p, DbFile::Group).contains("dev:x:1001:a\nb:x:1002:\n"));
        assert_eq!(
            file(&p, DbFile::Subuid),
            "old:100000:65536\na:165536:65536\nb:231072:65536\n"
        );
    }

    #[test]
    fn names_follow_the_portable_rule() {
        for ok in ["core", "a.b", "_x", "A1", "m$", "a-b"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "123",
            ".",
            "..",
            "a b",
            "a:b",
            "a$b",
            &"x".repeat(33),
        ] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
