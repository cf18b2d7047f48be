//! Running shadow-utils the way Ignition 2.14 does: the same groupadd/useradd/usermod
//! argv, with `--root`, in the scenario's root.

use super::*;

pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

/// NSS "files then altfiles" lookup of a name, as Ignition's getpwnam/getgrnam in the chroot.
pub(crate) fn nss_has(root: &Path, files: [&str; 2], name: &str) -> bool {
    files.iter().any(|f| {
        fs::read_to_string(root.join(f))
            .unwrap_or_default()
            .lines()
            .any(|l| l.split(':').next() == Some(name))
    })
}

/// Runs the Ignition sequence with shadow-utils; Err on the first failing command.
pub(crate) fn run_shadow(
    root: &Path,
    groups: &[PasswdGroup],
    users: &[PasswdUser],
) -> Result<(), String> {
    let r = root.to_string_lossy().into_owned();
    let run = |prog: &str, args: Vec<String>| -> Result<(), String> {
        let out = Command::new(find_tool(prog).ok_or(format!("{prog} missing"))?)
            .args(&args)
            .env("SOURCE_DATE_EPOCH", EPOCH.to_string())
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{prog} {args:?}: {}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    };
    let s = |v: &str| v.to_string();
    for g in groups {
        let exists = nss_has(root, ["etc/group", "usr/lib/group"], &g.name);
        if g.should_exist == Some(false) {
            if exists {
                run("groupdel", vec![s("--root"), r.clone(), g.name.clone()])?;
            }
            continue;
        }
        let mut args = vec![s("--root"), r.clone()];
        if let Some(gid) = g.gid {
            args.extend([s("--gid"), gid.to_string()]);
        }
        let hash = g.password_hash.as_deref().filter(|h| !h.is_empty());
        if exists {
            if let Some(h) = hash {
                args.extend([s("--password"), s(h)]);
            }
            args.push(g.name.clone());
            run("groupmod", args)?;
        } else {
            // Ignition since v2.25.0 passes --password only when a hash is set, so groupadd
            // writes its default `!` to gshadow (2.14 passed `*`).
            if let Some(h) = hash {
                args.extend([s("--password"), s(h)]);
            }
            if g.system == Some(true) {
                args.push(s("--system"));
            }
            args.push(g.name.clone());
            run("groupadd", args)?;
        }
    }
    for u in users {
        let exists = nss_has(root, ["etc/passwd", "usr/lib/passwd"], &u.name);
        if u.should_exist == Some(false) {
            if exists {
                run(
                    "userdel",
                    vec![s("--remove"), s("--root"), r.clone(), u.name.clone()],
                )?;
            }
            continue;
        }
        let set = |v: &Option<String>| v.as_deref().filter(|x| !x.is_empty()).map(s);
        let mut args = vec![s("--root"), r.clone()];
        if exists {
            if let Some(h) = set(&u.home_dir) {
                args.extend([s("--home"), h, s("--move-home")]);
            }
        } else {
            if let Some(h) = set(&u.home_dir) {
                args.extend([s("--home-dir"), h]);
            }
            args.push(if u.no_create_home == Some(true) {
                s("--no-create-home")
            } else {
                s("--create-home")
            });
            if u.no_user_group == Some(true) {
                args.push(s("--no-user-group"));
            }
            if u.system == Some(true) {
                args.push(s("--system"));
            }
            if u.no_log_init == Some(true) {
                args.push(s("--no-log-init"));
            }
        }
        let pw = u
            .password_hash
            .as_deref()
            .map(|h| if h.is_empty() { "*" } else { h });
        match pw {
            Some(p) => args.extend([s("--password"), s(p)]),
            None if !exists => args.extend([s("--password"), s("*")]),
            None => {}
        }
        if let Some(uid) = u.uid {
            args.extend([s("--uid"), uid.to_string()]);
        }
        if let Some(c) = set(&u.gecos) {
            args.extend([s("--comment"), c]);
        }
        if let Some(g) = set(&u.primary_group) {
            args.extend([s("--gid"), g]);
        }
        if !u.groups.is_empty() {
            args.extend([s("--groups"), u.groups.join(",")]);
        }
        if let Some(sh) = set(&u.shell) {
            args.extend([s("--shell"), sh]);
        }
        args.push(u.name.clone());
        run(if exists { "usermod" } else { "useradd" }, args)?;
        if let Some(p) = pw {
            run(
                "usermod",
                vec![
                    s("--root"),
                    r.clone(),
                    s("--password"),
                    s(p),
                    u.name.clone(),
                ],
            )?;
        }
    }
    Ok(())
}
