//! `ignis plan -root DIR [--json] FILE|-`: validates a config, then prints what the files stage
//! would do to DIR (accounts, home directories, SSH keys, nodes, units, presets) and what the
//! config asks of each disk (not checked against the machine), each step with its JSON path.
//! Reads only: the files stage's own planners (passwd and nodes) decide, so a refusal here is
//! the refusal the real run would hit before its first write. Workstation builds only.

use crate::config::types::{Config, File, Resource};
use crate::error::{Context, Error, Result};
use crate::resource::redact;
use crate::stages::files::plan::{self, What};
use crate::sys::root::{Kind, Root};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanArgs {
    pub root: PathBuf,
    pub json: bool,
    pub input: String,
}

pub const USAGE: &str =
    "       ignis plan -root DIR [--json] FILE|-   (dry run of the files stage)\n";

/// Flags as `ignis validate` and the stages take them: one or two dashes, `-root DIR` or
/// `-root=DIR`.
pub fn parse(args: &[String]) -> Result<crate::cli::Command> {
    let mut root = None;
    let mut json = false;
    let mut input = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let flag = a.strip_prefix("--").or_else(|| a.strip_prefix('-'));
        match flag {
            Some("json") => json = true,
            Some("root") => {
                let v = it
                    .next()
                    .ok_or_else(|| Error::usage("plan: -root needs a directory"))?;
                root = Some(PathBuf::from(v));
            }
            Some(f) if f.starts_with("root=") => root = Some(PathBuf::from(&f[5..])),
            Some("") if a == "-" => {
                if input.replace("-".to_string()).is_some() {
                    return Err(Error::usage("plan: only one config file may be given"));
                }
            }
            Some(_) => return Err(Error::usage(format!("plan: unknown flag {a}"))),
            None => {
                if input.replace(a.clone()).is_some() {
                    return Err(Error::usage("plan: only one config file may be given"));
                }
            }
        }
    }
    let root = root.ok_or_else(|| Error::usage("plan: -root DIR is required"))?;
    let input =
        input.ok_or_else(|| Error::usage("plan: a config file (or - for stdin) is required"))?;
    Ok(crate::cli::Command::Plan(PlanArgs { root, json, input }))
}

/// One planned operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The config entry it comes from.
    pub json_path: String,
    /// What happens: create, replace, keep, add-user, enable, ...
    pub action: String,
    /// Where (a path in the root, a user, a device).
    pub target: String,
    pub detail: String,
    /// False for disk steps: what the config asks, not checked against any device.
    pub checked: bool,
}

/// The plan: its steps, and the reason the real run would fail, if the planners know one.
#[derive(Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub refused: Option<String>,
}

impl Plan {
    fn add(&mut self, json_path: String, action: &str, target: &str, detail: String) {
        self.steps.push(Step {
            json_path,
            action: action.into(),
            target: target.into(),
            detail,
            checked: true,
        });
    }
}

/// Plans `cfg` against `root`, reading only.
pub fn build(root: &Root, cfg: &Config) -> Plan {
    let mut p = Plan::default();
    disks(cfg, &mut p);
    if let Err(e) = files_stage(root, cfg, &mut p) {
        p.refused = Some(e.to_string());
    }
    p
}

/// What the config asks of each disk and filesystem, as written: which partitions exist now,
/// and their sizes, is the machine's to say, and `plan` never opens a device.
fn disks(cfg: &Config, p: &mut Plan) {
    let s = &cfg.storage;
    let mut add = |jp: String, action: &str, target: &str, detail: String| {
        p.steps.push(Step {
            json_path: jp,
            action: action.into(),
            target: target.into(),
            detail,
            checked: false,
        })
    };
    for (i, d) in s.disks.iter().enumerate() {
        let wipe = if d.wipe_table == Some(true) {
            "wipe the partition table"
        } else {
            "keep the partition table"
        };
        add(
            format!("$.storage.disks.{i}"),
            "disk",
            &d.device,
            format!("{wipe} (not checked against the machine)"),
        );
        for (j, pt) in d.partitions.iter().enumerate() {
            let name = match (&pt.label, pt.number) {
                (Some(l), 0) => format!("label {l:?}"),
                (Some(l), n) => format!("number {n}, label {l:?}"),
                (None, n) => format!("number {n}"),
            };
            let mib = |v: Option<i64>| match v {
                Some(0) | None => "default".to_string(),
                Some(v) => format!("{v} MiB"),
            };
            let (action, what) = if pt.should_exist == Some(false) {
                ("delete", "delete if present".to_string())
            } else {
                let resize = if pt.resize == Some(true) {
                    ", resized if its size differs"
                } else {
                    ""
                };
                (
                    "partition",
                    format!(
                        "create, or keep if it matches (start {}, size {}){resize}",
                        mib(pt.start_mib),
                        mib(pt.size_mib)
                    ),
                )
            };
            add(
                format!("$.storage.disks.{i}.partitions.{j}"),
                action,
                &d.device,
                format!("{name}: {what} (not checked against the machine)"),
            );
        }
    }
    let k = &cfg.kernel_arguments;
    for (what, args, action) in [
        ("shouldExist", &k.should_exist, "karg-add"),
        ("shouldNotExist", &k.should_not_exist, "karg-remove"),
    ] {
        for (i, a) in args.iter().enumerate() {
            add(
                format!("$.kernelArguments.{what}.{i}"),
                action,
                a,
                "kargs stage (not checked against the machine)".into(),
            );
        }
    }
    for (i, f) in s.filesystems.iter().enumerate() {
        let Some(fmt) = &f.format else { continue };
        let what = if f.wipe_filesystem == Some(true) {
            format!("format {fmt} (wiped)")
        } else {
            format!("format {fmt} unless a matching {fmt} is there (reused)")
        };
        add(
            format!("$.storage.filesystems.{i}"),
            "filesystem",
            &f.device,
            format!("{what} (not checked against the machine)"),
        );
    }
}

/// The JSON path of the configured user, or else group, named `name`.
fn account_path(cfg: &Config, name: &str, group_first: bool) -> String {
    let u = cfg.passwd.users.iter().position(|u| u.name == name);
    let g = cfg.passwd.groups.iter().position(|g| g.name == name);
    let (first, second) = if group_first {
        (
            g.map(|i| format!("$.passwd.groups.{i}")),
            u.map(|i| format!("$.passwd.users.{i}")),
        )
    } else {
        (
            u.map(|i| format!("$.passwd.users.{i}")),
            g.map(|i| format!("$.passwd.groups.{i}")),
        )
    };
    first.or(second).unwrap_or_else(|| "$.passwd".into())
}

fn files_stage(root: &Root, cfg: &Config, p: &mut Plan) -> Result<()> {
    use crate::passwd::HomeOp;
    let accounts = if !cfg.passwd.users.is_empty() || !cfg.passwd.groups.is_empty() {
        Some(crate::stages::files::plan_accounts(root, cfg).context(|| "users and groups")?)
    } else {
        None
    };
    let ids = match &accounts {
        Some((_, ids)) => ids.clone(),
        None => crate::stages::files::ids::Ids::load(root)?,
    };
    let mut homes = Vec::new();
    if let Some((ap, _)) = &accounts {
        for op in &ap.ops {
            // "groupadd NAME: ...", "usermod NAME: ...": the tool the line stands for.
            let (tool, rest) = op.split_once(' ').unwrap_or((op, ""));
            let name = rest.split([':', ' ']).next().unwrap_or("");
            let action = match tool {
                "groupadd" => "add-group",
                "groupmod" => "modify-group",
                "groupdel" => "delete-group",
                "useradd" => "add-user",
                "usermod" => "modify-user",
                "userdel" => "delete-user",
                other => other,
            };
            let detail = rest.split_once(": ").map_or("", |(_, d)| d).to_string();
            p.add(
                account_path(cfg, name, tool.starts_with("group")),
                action,
                name,
                detail,
            );
        }
        for (db, _) in &ap.files {
            p.add(
                "$.passwd".into(),
                "write",
                db.path(),
                "account database".into(),
            );
        }
        for h in &ap.homes {
            let (user, action, target, detail) = home_step(root, h)?;
            if let HomeOp::Create { path, .. } = h {
                homes.push(path.clone());
            }
            p.add(account_path(cfg, user, false), action, target, detail);
        }
        // Where the writer puts keys (plan_accounts refused a bad switch value already).
        let env = crate::distro::authorized_keys_fragment();
        let file = match crate::stages::files::sshkeys::fragment_wanted(env.as_deref()) {
            Ok(false) => "authorized_keys",
            _ => "authorized_keys.d/ignition",
        };
        for (i, u) in cfg.passwd.users.iter().enumerate() {
            if u.should_exist == Some(false) || u.ssh_authorized_keys.is_empty() {
                continue;
            }
            let home = ids
                .user(&u.name)
                .map(|e| e.home.clone())
                .unwrap_or_default();
            p.add(
                format!("$.passwd.users.{i}"),
                "write",
                &format!("{}/.ssh/{file}", home.trim_end_matches('/')),
                format!("{} SSH key(s) for {}", u.ssh_authorized_keys.len(), u.name),
            );
        }
    }
    let nodes = plan::nodes(root, cfg, &ids, &homes).context(|| "files")?;
    for o in &nodes {
        let existing = root.lstat(&o.resolved)?;
        // A replaced file is treated as absent for owner and mode, as the writer does.
        let replaced = match (&o.what, existing) {
            (What::File(f), Some(_)) => f.overwrite == Some(true),
            (What::Dir(_), Some(m)) => m.kind != Kind::Dir,
            _ => false,
        };
        let (uid, gid) = o.owner(existing.as_ref().filter(|_| !replaced));
        let kept_mode = |new: u32| match existing {
            Some(m) if !replaced => format!("{:04o} (kept)", m.mode),
            _ => format!("{new:04o}"),
        };
        let (action, detail) = match o.what {
            What::Dir(d) => {
                let action = match existing {
                    None => "create",
                    Some(m) if m.kind == Kind::Dir => "keep",
                    Some(_) => "replace",
                };
                let mode = d
                    .mode
                    .map_or_else(|| kept_mode(0o755), |m| format!("{m:04o}"));
                (action, format!("directory {uid}:{gid} {mode}"))
            }
            What::File(f) => {
                let action = match existing {
                    None => "create",
                    Some(_) if f.overwrite == Some(true) => "replace",
                    // The planner let it through: a file kept, its contents not configured.
                    Some(_) => "keep",
                };
                let mode = f
                    .mode
                    .map_or_else(|| kept_mode(0o644), |m| format!("{m:04o}"));
                let contents =
                    file_contents(o.spec.as_ref().map(|s| o.data.unwrap_or(&s.url)), o.remote);
                (action, format!("file {uid}:{gid} {mode}, {contents}"))
            }
            What::Link(l) => {
                let matches = match &existing {
                    Some(m) => plan::link_matches(root, l, m)?,
                    None => false,
                };
                let action = match existing {
                    None => "create",
                    Some(_) if matches => "keep",
                    Some(_) => "replace",
                };
                let kind = if l.hard == Some(true) {
                    "hard link"
                } else {
                    "symlink"
                };
                let target = l.target.as_deref().unwrap_or("");
                (action, format!("{kind} to {target}"))
            }
        };
        let shown = if o.resolved == o.path() {
            o.resolved.clone()
        } else {
            format!("{} (as {})", o.path(), o.resolved)
        };
        p.add(o.json_path(), action, &shown, detail);
        if let What::File(f) = o.what {
            appends(o.index, f, p);
        }
    }
    units(root, cfg, p)
}

/// A home-directory step as the passwd writer will do it (`stat` follows links, as it does).
fn home_step<'h>(
    root: &Root,
    h: &'h crate::passwd::HomeOp,
) -> Result<(&'h String, &'static str, &'h String, String)> {
    use crate::passwd::HomeOp;
    let there = |p: &str| root.lstat(p).map(|m| m.is_some());
    Ok(match h {
        HomeOp::Create {
            user,
            path,
            uid,
            gid,
            mode,
            skel,
        } => {
            if there(path)? {
                let d = "home directory exists: kept, the skeleton not copied".into();
                (user, "keep", path, d)
            } else {
                let d = format!("home directory {uid}:{gid} {mode:04o}, skeleton {skel}");
                (user, "create", path, d)
            }
        }
        HomeOp::CreateMailbox { user, path, .. } => {
            let action = if there(path)? { "keep" } else { "create" };
            (user, action, path, "mailbox".into())
        }
        HomeOp::Move { user, from, to, .. } => (user, "move", to, format!("home from {from}")),
        HomeOp::Chown {
            user,
            path,
            old_uid,
            ..
        } => {
            let d = format!("home tree re-owned if uid {old_uid} owns it");
            (user, "chown", path, d)
        }
        HomeOp::ChownMailbox {
            user,
            path,
            old_uid,
            ..
        } => {
            let d = format!("mailbox re-owned if uid {old_uid} owns it");
            (user, "chown", path, d)
        }
        HomeOp::Remove { user, path, .. } => (user, "remove", path, "home tree".into()),
        HomeOp::RemoveMailbox { user, path, .. } => (user, "remove", path, "mailbox".into()),
    })
}

fn file_contents(url: Option<&str>, remote: bool) -> String {
    match url {
        None | Some("") => "no contents".into(),
        Some(u) if remote => format!("fetched from {} (not fetched now)", redact(u)),
        Some(u) => format!("contents in the config: {}", redact(u)),
    }
}

fn appends(index: usize, f: &File, p: &mut Plan) {
    for (k, r) in f.append.iter().enumerate() {
        let Resource { source, .. } = r;
        let url = source.as_deref();
        let remote = url.is_some_and(|u| !u.is_empty() && !plan::is_data_url(u));
        p.add(
            format!("$.storage.files.{index}.append.{k}"),
            "append",
            &f.path,
            file_contents(url, remote),
        );
    }
}

const UNIT_DIR: &str = "/etc/systemd/system";
const PRESET: &str = "/etc/systemd/system-preset/20-ignition.preset";

fn units(root: &Root, cfg: &Config, p: &mut Plan) -> Result<()> {
    for (i, u) in cfg.systemd.units.iter().enumerate() {
        let jp = format!("$.systemd.units.{i}");
        let path = format!("{UNIT_DIR}/{}", u.name);
        let now = root.lstat(&path)?;
        let masked = match now {
            Some(m) if m.kind == Kind::Symlink => root.readlink(&path)? == "/dev/null",
            _ => false,
        };
        if u.contents.is_some() {
            let action = if now.is_some() { "replace" } else { "create" };
            p.add(jp.clone(), action, &path, "unit file".into());
        }
        for (j, d) in u.dropins.iter().enumerate() {
            if d.contents.is_none() {
                continue;
            }
            let dp = format!("{UNIT_DIR}/{}.d/{}", u.name, d.name);
            let action = if root.lstat(&dp)?.is_some() {
                "replace"
            } else {
                "create"
            };
            p.add(format!("{jp}.dropins.{j}"), action, &dp, "dropin".into());
        }
        match u.mask {
            Some(true) => p.add(jp.clone(), "mask", &u.name, format!("{path} -> /dev/null")),
            Some(false) if masked => {
                p.add(jp.clone(), "unmask", &u.name, format!("{path} removed"))
            }
            _ => {}
        }
        match u.enabled {
            Some(true) => p.add(jp.clone(), "enable", &u.name, format!("preset in {PRESET}")),
            Some(false) if masked && u.mask != Some(false) => {
                p.add(jp.clone(), "keep", &u.name, "masked: not disabled".into())
            }
            Some(false) => p.add(
                jp.clone(),
                "disable",
                &u.name,
                format!("preset in {PRESET}, its symlinks under {UNIT_DIR} removed"),
            ),
            None => {}
        }
    }
    let lines = crate::stages::files::units::preset_lines(&cfg.systemd.units);
    if !lines.is_empty() {
        let action = match root.lstat(PRESET)? {
            Some(m) if m.kind == Kind::File => "append",
            Some(_) => "replace",
            None => "create",
        };
        p.add("$.systemd.units".into(), action, PRESET, lines.join("; "));
    }
    Ok(())
}

fn text(p: &Plan) -> String {
    let mut s = String::new();
    let w = p.steps.iter().map(|s| s.json_path.len()).max().unwrap_or(0);
    for st in &p.steps {
        let line = format!(
            "{:w$}  {:12} {}  {}",
            st.json_path, st.action, st.target, st.detail
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    let storage = |st: &&Step| {
        st.json_path.starts_with("$.storage.disks")
            || st.json_path.starts_with("$.storage.filesystems")
    };
    if !p.steps.iter().any(|st| storage(&st)) {
        s.push_str("disks: none in the config\n");
    }
    match &p.refused {
        Some(r) => s.push_str(&format!("refused: the files stage would fail: {r}\n")),
        None => s.push_str("nothing written: this is a plan\n"),
    }
    s
}

fn json(p: &Plan, report: &[String], ok: bool) -> String {
    let ops: Vec<serde_json::Value> = p
        .steps
        .iter()
        .map(|s| {
            serde_json::json!({
                "path": s.json_path,
                "action": s.action,
                "target": s.target,
                "detail": s.detail,
                "checked": s.checked,
            })
        })
        .collect();
    let v = serde_json::json!({
        "ok": ok && p.refused.is_none(),
        "refused": p.refused,
        "report": report,
        "operations": ops,
    });
    let mut s = serde_json::to_string_pretty(&v).unwrap_or_default();
    s.push('\n');
    s
}

pub fn run(a: &PlanArgs) -> Result<i32> {
    let src = crate::validate_cmd::read_input(&a.input)?;
    let out = crate::validate_cmd::check(&src, false);
    let write = |s: &str| {
        let mut o = std::io::stdout().lock();
        o.write_all(s.as_bytes())
            .and_then(|()| o.flush())
            .context(|| "writing output")
    };
    let Some(parsed) = out.parsed.filter(|_| out.exit == 0) else {
        // As `ignis validate` reports it; nothing is planned from a config with errors.
        let mut s = out.lines.join("\n");
        s.push('\n');
        if a.json {
            write(&json(&Plan::default(), &out.lines, false))?;
            return Ok(1);
        }
        write(&s)?;
        return Ok(1);
    };
    let root = Root::open(&a.root)?;
    let p = build(&root, &parsed.config);
    if a.json {
        write(&json(&p, &out.lines, true))?;
    } else {
        let mut s = String::new();
        for l in &out.lines {
            s.push_str(l);
            s.push('\n');
        }
        s.push_str(&text(&p));
        write(&s)?;
    }
    Ok(i32::from(p.refused.is_some()))
}
