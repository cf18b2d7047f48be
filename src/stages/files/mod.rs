//! The files stage: users and groups, SSH keys, files/directories/links, systemd units and
//! presets, Ignition's result file, an SELinux relabel of what was created when the target
//! enforces a policy, and one syncfs of the target at the end (no fsync per file).

pub mod crypttab;
pub mod ids;
pub mod nodes;
pub mod plan;
pub mod relabel;
pub mod result;
pub mod sshkeys;
mod unitlinks;
pub mod units;

use crate::config::types::Config;
use crate::engine::Context;
use crate::error::{Context as _, Result};
use crate::resource::Fetcher;
use crate::state::State;
use crate::sys::cmd::Runner;
use crate::sys::root::Root;

/// What the stage did that later steps need: every path it created (first missing component
/// of each), for the SELinux relabel.
#[derive(Default, Debug)]
pub struct Applied {
    pub created: Vec<String>,
}

pub fn run(ctx: &mut Context, cfg: &Config) -> Result<()> {
    let root = ctx.root()?;
    let boot = result::Boot::current(&ctx.env.host, ctx.env.runner)?;
    let runner = ctx.env.runner;
    let fetcher = ctx.fetcher(cfg)?;
    apply(&root, cfg, ctx.state()?, &boot, &fetcher, runner)?;
    Ok(())
}

/// Applies the config's files-stage parts to `root`, in boot `boot`. Everything that can be
/// known before writing is planned and checked first (accounts, home directories, SSH key
/// directories, owners, node conflicts, hard link targets), so such a failure leaves the
/// target as it was.
pub fn apply(
    root: &Root,
    cfg: &Config,
    st: &State,
    boot: &result::Boot,
    fetcher: &Fetcher,
    runner: &dyn Runner,
) -> Result<Applied> {
    let accounts = if !cfg.passwd.users.is_empty() || !cfg.passwd.groups.is_empty() {
        Some(plan_accounts(root, cfg).context(|| "users and groups")?)
    } else {
        None
    };
    let ids = match &accounts {
        Some((_, ids)) => ids.clone(),
        None => ids::Ids::load(root)?,
    };
    let homes: Vec<String> = accounts
        .iter()
        .flat_map(|(p, _)| &p.homes)
        .filter_map(|h| match h {
            crate::passwd::HomeOp::Create { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect();
    let nodes =
        plan::nodes(root, cfg, &ids, &homes).context(|| "checking files, directories and links")?;

    // The policy is read before anything is written, so that new files are labelled as they
    // are written, unless the config writes the policy itself: then it is read at the end.
    let policy = if !nodes.is_empty() && !nodes.iter().any(|o| in_selinux_dir(&o.resolved)) {
        Some(relabel::policy(root)?)
    } else {
        None
    };
    let mut labeller = policy
        .as_ref()
        .and_then(relabel::Policy::labels)
        .map(relabel::Labeller::new);

    let earlier = result::begin(root, boot)?;
    let mut out = Applied::default();
    if let Some((plan, ids)) = &accounts {
        users_and_groups(root, cfg, plan, st, ids, &mut out).context(|| "users and groups")?;
    }
    nodes::apply(root, &nodes, fetcher, &mut out, labeller.as_mut())
        .context(|| "writing files, directories and links")?;
    let later = out.created.len();
    units::apply(root, cfg, &mut out).context(|| "units")?;
    crypttab::persist(root, st).context(|| "crypttab")?;
    result::finish(root, boot, st, &earlier)?;
    let labelled = match labeller {
        Some(mut l) => {
            // What the steps after the nodes wrote is not what was labelled there: the walk
            // labels it (units list what they write; these files may be rewritten in place).
            let mut rewritten = out.created[later..].to_vec();
            rewritten.extend(crypttab::paths(st));
            rewritten.extend(
                [units::PRESET, result::RESULT_FILE, result::IN_PROGRESS].map(String::from),
            );
            for p in &rewritten {
                if let Some(real) = root.real_path(p)? {
                    l.forget(&real);
                }
            }
            l.done
        }
        None => Default::default(),
    };
    relabel::relabel(root, &out, policy, &labelled, runner)?;
    root.syncfs()?;
    Ok(out)
}

/// Whether `p` is the SELinux policy directory or in it.
fn in_selinux_dir(p: &str) -> bool {
    p.strip_prefix("/etc/selinux")
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// Plans groups and users against the target's databases and checks what writing them would
/// run into (home directories, `~/.ssh`); returns the plan and the names and ids as the
/// databases will be once it is written.
pub fn plan_accounts(root: &Root, cfg: &Config) -> Result<(crate::passwd::Plan, ids::Ids)> {
    let t = crate::passwd::target::Target::new(root);
    let inputs = crate::passwd::apply::read_inputs(&t, crate::passwd::apply::today())?;
    let plan = crate::passwd::plan(&inputs, &cfg.passwd.groups, &cfg.passwd.users)?;
    crate::passwd::apply::check_homes(&t, &plan)?;
    let db = |f: crate::passwd::DbFile| {
        plan.files
            .iter()
            .find(|(d, _)| *d == f)
            .map(|(_, b)| b.as_slice())
            .or(inputs.files.get(&f).map(Vec::as_slice))
    };
    let ids = ids::Ids::from_bytes(
        [
            db(crate::passwd::DbFile::Passwd),
            inputs.alt_passwd.as_deref(),
        ],
        [
            db(crate::passwd::DbFile::Group),
            inputs.alt_group.as_deref(),
        ],
    );
    for (i, u) in cfg.passwd.users.iter().enumerate() {
        if u.should_exist == Some(false) || u.ssh_authorized_keys.is_empty() {
            continue;
        }
        sshkeys::check(root, &ids, &u.name)
            .context(|| format!("$.passwd.users.{i} {:?}: writing SSH keys", u.name))?;
    }
    Ok((plan, ids))
}

/// Groups, then users (natively, in one write per database), then their SSH keys to
/// `~/.ssh/authorized_keys.d/ignition` (or `authorized_keys`, see sshkeys.rs).
fn users_and_groups(
    root: &Root,
    cfg: &Config,
    plan: &crate::passwd::Plan,
    st: &State,
    ids: &ids::Ids,
    out: &mut Applied,
) -> Result<()> {
    crate::passwd::apply::apply(&crate::passwd::target::Target::new(root), plan)?;
    for op in &plan.ops {
        log::info!("passwd: {op}");
    }
    for (db, _) in &plan.files {
        out.created.push(db.path().to_string());
    }
    for h in &plan.homes {
        if let crate::passwd::HomeOp::Create { path, .. } = h {
            out.created.push(path.clone());
        }
    }
    for (i, u) in cfg.passwd.users.iter().enumerate() {
        if u.should_exist == Some(false) {
            continue;
        }
        if u.no_create_home != Some(true) {
            let e = ids
                .user(&u.name)
                .context(|| format!("$.passwd.users.{i} {:?}", u.name))?;
            home_mountpoints(root, st, &u.name, &e.home, e.uid, e.gid)
                .context(|| format!("$.passwd.users.{i} {:?}: home directory", u.name))?;
        }
        if u.ssh_authorized_keys.is_empty() {
            continue;
        }
        let file = sshkeys::write(root, ids, &u.name, &u.ssh_authorized_keys)
            .context(|| format!("$.passwd.users.{i} {:?}: writing SSH keys", u.name))?;
        if let Some(file) = file {
            ssh_keys_event(root, &u.name, &file);
        }
    }
    Ok(())
}

/// Hands the user the directories the mount stage created at or below their home (the
/// mountpoints and their parents, from the state file), 0700, as Ignition does: without it a
/// filesystem mounted under a new user's home leaves the home, and the mounted filesystem's
/// root, owned by root. Only directories are touched, never through a symlink.
fn home_mountpoints(
    root: &Root,
    st: &State,
    user: &str,
    home: &str,
    uid: u32,
    gid: u32,
) -> Result<()> {
    let home = home.trim_end_matches('/');
    if home.is_empty() {
        return Ok(());
    }
    for d in &st.notated_directories {
        if d != home && !d.starts_with(&format!("{home}/")) {
            continue;
        }
        match root.lstat(d)? {
            Some(m) if m.kind == crate::sys::root::Kind::Dir => {
                root.lchown(d, uid, gid)?;
                root.chmod(d, 0o700)?;
                log::info!("passwd: {d} (created by the mount stage) handed to {user}, 0700");
            }
            _ => log::info!("passwd: {d} is no longer a directory: left as it is"),
        }
    }
    Ok(())
}

/// The journal entry Ignition sends after writing a user's keys: distro scripts
/// (`nestos-check-ssh-keys`, console issue helpers) find it by `MESSAGE_ID` and read the user
/// from `IGNITION_USER_NAME`. `IGNITION_PATH` is the file as seen from the initrd, as Ignition
/// gives it. The message text is kept as Ignition words it, since those tools show it as is.
fn ssh_keys_event(root: &Root, user: &str, file: &str) {
    const SSH_KEYS_MESSAGE_ID: &str = "225067b87bbd4a0cb6ab151f82fa364b";
    let path = root.path().join(file.trim_start_matches('/'));
    crate::log::event(
        log::Level::Info,
        &format!("wrote ssh authorized keys file for user: {user}"),
        &[
            ("MESSAGE_ID", SSH_KEYS_MESSAGE_ID),
            ("IGNITION_USER_NAME", user),
            ("IGNITION_PATH", &path.to_string_lossy()),
        ],
    );
}

/// UTC now as RFC 3339.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = crate::log::civil_utc(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_format() {
        let d = super::rfc3339_now();
        assert_eq!(d.len(), 20);
        assert!(d.starts_with("20") && d.ends_with('Z'));
    }
}
