//! userdel: a user configured not to exist, with its memberships, user group, subordinate ids,
//! mailbox and home.

use super::{fail, State};
use crate::error::Result;
use crate::passwd::db::del_member;
use crate::passwd::HomeOp;

impl State {
    pub(super) fn userdel(&mut self, name: &str) -> Result<()> {
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
