//! useradd: a new user in passwd/shadow, with its user group, supplementary groups, subordinate
//! ids and home directory, as shadow-utils' defaults and login.defs shape them.

use super::{fail, valid_field, valid_name, State};
use crate::error::Result;
use crate::passwd::db::{add_member, GrEnt, PwEnt, SgEnt, SpEnt, SubEnt};
use crate::passwd::ids::{find_free_sub_range, sub_range, IdKind};
use crate::passwd::HomeOp;

/// useradd's built-in primary group for --no-user-group when /etc/default/useradd has no GROUP=.
const DEFAULT_GROUP: u32 = 100;

impl State {
    pub(super) fn useradd(&mut self, a: &Useradd) -> Result<()> {
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
}

/// useradd's argv as Ignition builds it for a new user.
pub(super) struct Useradd<'a> {
    pub(super) name: &'a str,
    pub(super) home: Option<&'a str>,
    pub(super) create_home: bool,
    pub(super) no_user_group: bool,
    pub(super) system: bool,
    pub(super) password: &'a str,
    pub(super) uid: Option<u32>,
    pub(super) comment: Option<&'a str>,
    pub(super) gid: Option<&'a str>,
    pub(super) groups: Vec<&'a str>,
    pub(super) shell: Option<&'a str>,
}
