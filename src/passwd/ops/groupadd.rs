//! groupadd: a new group in group/gshadow, with a configured or a free GID.

use super::{fail, valid_field, valid_name, State};
use crate::error::Result;
use crate::passwd::db::{GrEnt, SgEnt};

impl State {
    pub(super) fn groupadd(
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
}
