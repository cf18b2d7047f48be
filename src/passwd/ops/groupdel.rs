//! groupdel: a group configured not to exist is removed (never a user's primary group).

use super::{fail, State};
use crate::error::Result;

impl State {
    pub(super) fn groupdel(&mut self, name: &str) -> Result<()> {
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
}
