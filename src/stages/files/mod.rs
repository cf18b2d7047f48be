//! The files stage: users and groups, SSH keys, files/directories/links, systemd units and
//! presets, Ignition's result file, an SELinux relabel of what was created when the target
//! enforces a policy, and one syncfs of the target at the end (no fsync per file).

pub mod crypttab;
pub mod ids;
pub mod nodes;
pub mod plan;
pub mod result;
pub mod sshkeys;
mod unitlinks;
pub mod units;

use crate::config::types::Config;
use crate::engine::Context;
use crate::error::{Context as _, Result};
use crate::resource::Fetcher;
use crate::state::State;
use crate::sys::cmd::{Cmd, Runner};
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

    let earlier = result::begin(root, boot)?;
    let mut out = Applied::default();
    if let Some((plan, ids)) = &accounts {
        users_and_groups(root, cfg, plan, st, ids, &mut out).context(|| "users and groups")?;
    }
    nodes::apply(root, &nodes, fetcher, &mut out)
        .context(|| "writing files, directories and links")?;
    units::apply(root, cfg, &mut out).context(|| "units")?;
    crypttab::persist(root, st).context(|| "crypttab")?;
    result::finish(root, boot, st, &earlier)?;
    relabel(root, &out, runner)?;
    root.syncfs()?;
    Ok(out)
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
        let file = sshkeys::write(root, &u.name, &u.ssh_authorized_keys)
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

/// Relabels what was created when the target's SELinux config enforces (or logs) a policy
/// that is installed; otherwise one log line (Debian's Ignition fails the boot here).
fn relabel(root: &Root, out: &Applied, runner: &dyn Runner) -> Result<()> {
    let Some(cfg) = root.read("/etc/selinux/config")? else {
        log::info!("SELinux: no /etc/selinux/config in the target: nothing to relabel");
        return Ok(());
    };
    let text = String::from_utf8_lossy(&cfg);
    let get = |k: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix(k)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_string())
            .next_back()
    };
    let mode = get("SELINUX").unwrap_or_default();
    let ty = get("SELINUXTYPE").unwrap_or_else(|| "targeted".into());
    if mode != "enforcing" && mode != "permissive" {
        log::info!("SELinux is {mode:?} in the target: nothing to relabel");
        return Ok(());
    }
    let fc = format!("/etc/selinux/{ty}/contexts/files/file_contexts");
    if root.lstat(&fc)?.is_none() {
        log::info!("SELinux: policy {ty} has no file_contexts in the target: nothing to relabel");
        return Ok(());
    }
    let paths = relabel_paths(root, &out.created)?;
    if paths.is_empty() {
        return Ok(());
    }
    let rootp = root.path().to_string_lossy().into_owned();
    let mut list = Vec::new();
    for p in &paths {
        list.extend_from_slice(format!("{}{p}", rootp.trim_end_matches('/')).as_bytes());
        list.push(0);
    }
    // -v lists every relabelled path on stdout: the runner collects it, which costs about a
    // megabyte for ten thousand paths and keeps setfiles behind the one seam tests record.
    let cmd = Cmd::new("setfiles")
        .args([
            "-vF0",
            "-r",
            &rootp,
            &format!("{}{fc}", rootp.trim_end_matches('/')),
            "-f",
            "-",
        ])
        .stdin_bytes(&list);
    runner
        .run(&cmd)
        .context(|| format!("SELinux is {mode} in the target"))?;
    log::info!("SELinux: relabelled {} paths", paths.len());
    Ok(())
}

/// The created paths as setfiles must see them: directories resolved inside the root (setfiles
/// resolves symlinks on the host, where an absolute link leads out of the target), each once,
/// and only those still there (a later step may have replaced or removed one).
fn relabel_paths(root: &Root, created: &[String]) -> Result<Vec<String>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    // Each directory is opened and located once for all its entries.
    let mut dirs = crate::sys::root::DirCache::read_only(64);
    let mut real_dirs: std::collections::HashMap<String, String> = Default::default();
    for p in created {
        let t = p.trim_end_matches('/');
        let (parent, name) = match t.rfind('/') {
            Some(0) => ("/", &t[1..]),
            Some(i) => (&t[..i], &t[i + 1..]),
            None => ("/", t),
        };
        if name.is_empty() || name == "." || name == ".." {
            let Some(real) = root.real_path(p)? else {
                continue;
            };
            if root.lstat(&real)?.is_some() && seen.insert(real.clone()) {
                out.push(real);
            }
            continue;
        }
        let Some(dir) = dirs.get(root, parent)? else {
            continue;
        };
        if dir.lstat(name)?.is_none() {
            continue;
        }
        let base = match real_dirs.get(parent) {
            Some(b) => b,
            None => {
                let b = root.real_dir(&dir);
                real_dirs.entry(parent.to_string()).or_insert(b)
            }
        };
        let real = format!("{}/{name}", base.trim_end_matches('/'));
        if seen.insert(real.clone()) {
            out.push(real);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_format() {
        let d = super::rfc3339_now();
        assert_eq!(d.len(), 20);
        assert!(d.starts_with("20") && d.ends_with('Z'));
    }

    #[test]
    fn relabel_paths_are_resolved_deduplicated_and_present() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("srv/real/new")).unwrap();
        std::os::unix::fs::symlink("/srv/real", d.join("opt")).unwrap();
        std::fs::write(d.join("srv/real/f"), b"x").unwrap();
        let root = super::Root::open(&d).unwrap();
        let created: Vec<String> = ["/opt/new", "/opt/f", "/srv/real/f", "/opt/gone", "/opt"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            super::relabel_paths(&root, &created).unwrap(),
            vec!["/srv/real/new", "/srv/real/f", "/opt"]
        );
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn setfiles_runs_through_the_runner_with_the_created_paths() {
        use crate::sys::cmd::RecordingRunner;
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("etc/selinux/targeted/contexts/files")).unwrap();
        std::fs::write(
            d.join("etc/selinux/targeted/contexts/files/file_contexts"),
            "",
        )
        .unwrap();
        std::fs::write(d.join("etc/selinux/config"), "SELINUX=enforcing\n").unwrap();
        std::fs::write(d.join("etc/a"), "").unwrap();
        let root = super::Root::open(&d).unwrap();
        let out = super::Applied {
            created: vec!["/etc/a".into(), "/etc/gone".into()],
        };
        let r = RecordingRunner::new();
        super::relabel(&root, &out, &r).unwrap();
        let rootp = d.to_string_lossy().into_owned();
        let fc = format!("{rootp}/etc/selinux/targeted/contexts/files/file_contexts");
        assert_eq!(
            r.argvs(),
            [vec![
                "setfiles",
                "-vF0",
                "-r",
                rootp.as_str(),
                fc.as_str(),
                "-f",
                "-"
            ]]
        );
        let seen = r.seen.lock().unwrap();
        assert_eq!(
            seen[0].stdin.as_deref(),
            Some(format!("{rootp}/etc/a\0").as_bytes())
        );
        drop(seen);
        // A failing setfiles fails the stage, saying SELinux's mode.
        let r = RecordingRunner::new();
        r.reply(&["setfiles"], Err("exit status 1"));
        let e = super::relabel(&root, &out, &r).unwrap_err().to_string();
        assert!(e.contains("SELinux is enforcing in the target"), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }
}
