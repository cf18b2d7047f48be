//! usermod: an existing user's home (moved), password, ids, comment, groups and shell.

use super::{fail, valid_field, State};
use crate::error::Result;
use crate::passwd::db::{add_member, del_member, SpEnt};
use crate::passwd::HomeOp;

impl State {
    pub(super) fn usermod(&mut self, a: &Usermod) -> Result<()> {
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
}

/// usermod's argv as Ignition builds it for an existing user (`--home` implies `--move-home`).
#[derive(Default)]
pub(super) struct Usermod<'a> {
    pub(super) name: &'a str,
    pub(super) home: Option<&'a str>,
    pub(super) password: Option<&'a str>,
    pub(super) uid: Option<u32>,
    pub(super) comment: Option<&'a str>,
    pub(super) gid: Option<&'a str>,
    pub(super) groups: Option<Vec<&'a str>>,
    pub(super) shell: Option<&'a str>,
}
