//! Applies a passwd `Plan` to a target root: reads the planner's inputs, writes each changed
//! database once (atomically, keeping mode and owner), then does the home-directory work in plan
//! order. All filesystem access goes through `target::Target`, on the target-root handle.

use super::target::{Kind, Target};
use super::{DbFile, HomeOp, Inputs, Plan};
use crate::config::types::{PasswdGroup, PasswdUser};
use crate::error::{Context, Error, Result};
use crate::sys::root::Root;

/// Today as shadow-utils computes it: SOURCE_DATE_EPOCH if set, else the clock, in days.
pub fn today() -> i64 {
    let secs = crate::distro::source_date_epoch().unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    });
    secs.div_euclid(86_400)
}

/// Reads everything the planner needs from the target.
pub fn read_inputs(t: &Target<'_>, today: i64) -> Result<Inputs> {
    let mut inputs = Inputs {
        today,
        ..Inputs::default()
    };
    for f in DbFile::ALL {
        if let Some(b) = t.read_optional(f.path())? {
            inputs.files.insert(f, b);
        }
    }
    inputs.login_defs = t.read_optional("/etc/login.defs")?;
    inputs.useradd_defaults = t.read_optional("/etc/default/useradd")?;
    inputs.alt_passwd = t.read_optional("/usr/lib/passwd")?;
    inputs.alt_group = t.read_optional("/usr/lib/group")?;
    Ok(inputs)
}

/// Writes the plan's files, then runs its home operations in order.
pub fn apply(t: &Target<'_>, plan: &Plan) -> Result<()> {
    for (f, bytes) in &plan.files {
        t.write_atomic(f.path(), bytes, f.default_mode())?;
    }
    for op in &plan.homes {
        home_op(t, op)?;
    }
    Ok(())
}

/// Reads, plans and applies `passwd` for the target `root`; returns the plan for logging.
pub fn run(root: &Root, groups: &[PasswdGroup], users: &[PasswdUser], today: i64) -> Result<Plan> {
    let t = Target::new(root);
    let inputs = read_inputs(&t, today)?;
    let plan = super::plan(&inputs, groups, users)?;
    check_homes(&t, &plan)?;
    apply(&t, &plan)?;
    Ok(plan)
}

/// Refuses, before any database is written, the home operations that would fail on the target
/// as it is: a parent of a new home that is not a directory, a dangling link where a home is
/// to be created, a move onto an existing path or from a non-directory, a removal of a home
/// another user owns. Earlier operations of the plan are taken into account for the paths
/// they create or remove.
pub fn check_homes(t: &Target<'_>, plan: &Plan) -> Result<()> {
    use std::collections::HashMap;
    // Paths the plan's earlier operations create (true) or remove (false).
    let mut planned: HashMap<&str, bool> = HashMap::new();
    let exists = |planned: &HashMap<&str, bool>, p: &str| -> Result<bool> {
        match planned.get(p) {
            Some(b) => Ok(*b),
            None => Ok(t.stat(p)?.is_some()),
        }
    };
    for op in &plan.homes {
        match op {
            HomeOp::Create { user, path, .. } => {
                if exists(&planned, path)? {
                    continue;
                }
                let comps: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
                let mut here = String::new();
                for c in comps.iter().take(comps.len().saturating_sub(1)) {
                    here.push('/');
                    here.push_str(c);
                    if planned.get(here.as_str()) == Some(&true) {
                        continue;
                    }
                    match t.stat(&here)? {
                        Some(m) if m.kind != Kind::Dir => {
                            return Err(Error::failed(format!(
                                "home directory {path} of {user}: {here} is not a directory"
                            )))
                        }
                        Some(_) => {}
                        None => break,
                    }
                }
                if !planned.contains_key(path.as_str()) && t.lstat(path)?.is_some() {
                    return Err(Error::failed(format!(
                        "home directory {path} of {user}: a link that leads nowhere is in the way"
                    )));
                }
                planned.insert(path, true);
            }
            HomeOp::Move { user, from, to, .. } => {
                if exists(&planned, to)? {
                    return Err(Error::failed(format!(
                        "moving home of {user}: directory {to} exists"
                    )));
                }
                if !planned.contains_key(from.as_str()) {
                    if let Some(m) = t.stat(from)? {
                        if m.kind != Kind::Dir {
                            return Err(Error::failed(format!(
                                "moving home of {user}: the previous home {from} is not a directory"
                            )));
                        }
                    }
                }
                if exists(&planned, from)? {
                    planned.insert(to, true);
                }
                planned.insert(from, false);
            }
            HomeOp::Remove { user, path, uid } => {
                if !planned.contains_key(path.as_str()) {
                    if let Some(m) = t.stat(path)? {
                        if m.uid != *uid {
                            return Err(Error::failed(format!(
                                "removing home of {user}: {path} not owned by {user}, not removing"
                            )));
                        }
                    }
                }
                planned.insert(path, false);
            }
            _ => {}
        }
    }
    Ok(())
}

fn home_op(t: &Target<'_>, op: &HomeOp) -> Result<()> {
    match op {
        HomeOp::Create {
            user,
            path,
            uid,
            gid,
            mode,
            skel,
        } => {
            if t.stat(path)?.is_some() {
                log::warn!(
                    "home directory {path} of {user} already exists; not copying the skeleton into it"
                );
                return Ok(());
            }
            t.create_parents(path)?;
            t.mkdir(path, *uid, *gid, *mode)?;
            if t.stat(skel)?.is_some_and(|m| m.kind == Kind::Dir) {
                t.copy_tree(skel, path, *uid, *gid)
                    .context(|| format!("populating home of {user}"))?;
            }
            Ok(())
        }
        HomeOp::CreateMailbox {
            user,
            path,
            uid,
            gid,
            mode,
        } => {
            let parent = path.rsplit_once('/').map_or("/", |(d, _)| d);
            if t.stat(parent)?.is_none_or(|m| m.kind != Kind::Dir) {
                log::warn!("not creating mailbox {path} for {user}: no spool directory");
                return Ok(());
            }
            if !t.create_new_file(path, *uid, *gid, *mode)? {
                log::warn!("mailbox {path} for {user} already exists");
            }
            Ok(())
        }
        HomeOp::Move {
            user,
            from,
            to,
            old_uid,
            new_uid,
            old_gid,
            new_gid,
        } => {
            if t.stat(to)?.is_some() {
                return Err(Error::failed(format!(
                    "moving home of {user}: directory {to} exists"
                )));
            }
            let Some(m) = t.stat(from)? else {
                return Ok(());
            };
            if m.kind != Kind::Dir {
                return Err(Error::failed(format!(
                    "moving home of {user}: the previous home {from} is not a directory"
                )));
            }
            if !t.rename(from, to)? {
                t.copy_tree_keep_owners(from, to)?;
                t.remove_tree(from)?;
            }
            if new_uid.is_some() || new_gid.is_some() {
                t.chown_tree(to, *old_uid, *new_uid, *old_gid, *new_gid)?;
            }
            Ok(())
        }
        HomeOp::Chown {
            path,
            old_uid,
            new_uid,
            old_gid,
            new_gid,
            ..
        } => {
            if let Some(m) = t.stat(path)? {
                if new_uid.is_some_and(|u| m.uid == u) || m.uid == *old_uid {
                    t.chown_tree(path, *old_uid, *new_uid, *old_gid, *new_gid)?;
                }
            }
            Ok(())
        }
        HomeOp::ChownMailbox {
            path,
            old_uid,
            new_uid,
            ..
        } => {
            if t.stat(path)?.is_some_and(|m| m.uid == *old_uid) {
                t.chown(path, Some(*new_uid), None)?;
            }
            Ok(())
        }
        HomeOp::Remove { user, path, uid } => match t.stat(path)? {
            None => {
                log::warn!("home directory {path} of {user} not found");
                Ok(())
            }
            Some(m) if m.uid != *uid => Err(Error::failed(format!(
                "removing home of {user}: {path} not owned by {user}, not removing"
            ))),
            Some(_) => t.remove_tree(path),
        },
        HomeOp::RemoveMailbox { path, uid, .. } => {
            if t.lstat(path)?.is_some_and(|m| m.uid == *uid) {
                t.remove_file(path)?;
            }
            Ok(())
        }
    }
}
