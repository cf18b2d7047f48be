//! groupmod: a configured group that exists already gets its GID and password changed.

use super::{fail, valid_field, State};
use crate::error::Result;
use crate::passwd::db::SgEnt;

impl State {
    pub(super) fn groupmod(
        &mut self,
        name: &str,
        gid: Option<u32>,
        password: Option<&str>,
    ) -> Result<()> {
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
}
