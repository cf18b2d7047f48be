//! `ignis plan` as the real binary against temp roots: what it prints (each step with its JSON
//! path), its refusals (exit 1 with the reason), `--json`, and that the root is byte-for-byte,
//! inode-for-inode the same afterwards. Built with the `plan` feature; without it (the
//! initramfs build) there is no such subcommand.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn ignis(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ignis"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A usage error exits before reading: a broken pipe here is no failure.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

#[cfg(not(feature = "plan"))]
#[test]
fn no_plan_subcommand_without_the_feature() {
    let o = ignis(&["plan", "-root", "/nonexistent", "-"], b"{}");
    assert_ne!(o.status.code(), Some(0));
}

#[cfg(feature = "plan")]
mod with_plan {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::fs::MetadataExt;
    use std::path::{Path, PathBuf};

    fn root(name: &str) -> PathBuf {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("plan-cmd-{name}"));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("etc/systemd/system")).unwrap();
        std::fs::write(
            d.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ncore:x:1000:1000::/home/core:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(d.join("etc/shadow"), "root:*:1::::::\ncore:*:1::::::\n").unwrap();
        std::fs::write(d.join("etc/group"), "root:x:0:\ncore:x:1000:\n").unwrap();
        std::fs::write(d.join("etc/gshadow"), "root:::\ncore:!::\n").unwrap();
        std::fs::write(d.join("etc/motd"), "old\n").unwrap();
        d
    }

    /// Every node under `d`: kind, mode, owner, size, inode, mtime and ctime (any write, chmod
    /// or chown moves ctime), contents or link target.
    fn snapshot(d: &Path) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        let mut todo = vec![d.to_path_buf()];
        while let Some(p) = todo.pop() {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let body = if m.is_dir() {
                for e in std::fs::read_dir(&p).unwrap() {
                    todo.push(e.unwrap().path());
                }
                String::new()
            } else if m.file_type().is_symlink() {
                std::fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()
            };
            out.insert(
                p,
                format!(
                    "{:o} {}:{} {} {} {}.{} {}.{} {body}",
                    m.mode(),
                    m.uid(),
                    m.gid(),
                    m.len(),
                    m.ino(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime(),
                    m.ctime_nsec()
                ),
            );
        }
        out
    }

    /// Plans `cfg` against `d`, asserting nothing under `d` changed.
    fn plan(d: &Path, cfg: &str, json: bool) -> Output {
        let before = snapshot(d);
        let dir = d.to_str().unwrap();
        let mut args = vec!["plan", "-root", dir];
        if json {
            args.push("--json");
        }
        args.push("-");
        let o = ignis(&args, cfg.as_bytes());
        assert_eq!(before, snapshot(d), "plan changed the root");
        o
    }

    fn out(o: &Output) -> String {
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn line<'a>(s: &'a str, path: &str, action: &str) -> &'a str {
        s.lines()
            .find(|l| {
                let mut w = l.split_whitespace();
                w.next() == Some(path) && w.next() == Some(action)
            })
            .unwrap_or_else(|| panic!("no {path} {action} line in:\n{s}"))
    }

    const FULL: &str = r#"{
      "ignition": {"version": "3.4.0"},
      "passwd": {
        "groups": [{"name": "ops"}],
        "users": [{"name": "alice", "groups": ["ops"], "sshAuthorizedKeys": ["ssh-ed25519 AAAA k"]},
                  {"name": "core", "uid": 1500}]
      },
      "storage": {
        "disks": [{"device": "/dev/vdb", "wipeTable": true,
                   "partitions": [{"number": 1, "label": "data", "sizeMiB": 512},
                                  {"number": 2, "shouldExist": false}]}],
        "directories": [{"path": "/srv/app", "mode": 493, "user": {"name": "alice"}}],
        "files": [
          {"path": "/etc/motd", "overwrite": true, "contents": {"source": "data:,hello"}},
          {"path": "/srv/app/conf", "group": {"name": "ops"},
           "contents": {"source": "http://user:pw@127.0.0.1:9/c?token=SECRET"}}
        ],
        "links": [{"path": "/srv/current", "target": "/srv/app"}]
      },
      "systemd": {"units": [
        {"name": "app.service", "enabled": true, "contents": "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
         "dropins": [{"name": "10-env.conf", "contents": "[Service]\nEnvironment=A=1\n"}]},
        {"name": "debug.service", "mask": true}
      ]}
    }"#;

    #[test]
    fn clean_root_users_files_units_disks() {
        let d = root("clean");
        let o = plan(&d, FULL, false);
        let s = out(&o);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{s}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(line(&s, "$.passwd.groups.0", "add-group").contains("ops"));
        assert!(line(&s, "$.passwd.users.0", "add-user").contains("alice"));
        assert!(line(&s, "$.passwd.users.1", "modify-user").contains("core"));
        assert!(line(&s, "$.passwd.users.0", "create").contains("/home/alice"));
        assert!(line(&s, "$.passwd.users.0", "write").contains("authorized_keys.d/ignition"));
        assert!(line(&s, "$.storage.directories.0", "create").contains("/srv/app"));
        assert!(line(&s, "$.storage.files.0", "replace").contains("/etc/motd"));
        let remote = line(&s, "$.storage.files.1", "create");
        assert!(
            remote.contains("fetched from http://***@127.0.0.1:9/c?…"),
            "{remote}"
        );
        assert!(!s.contains("SECRET") && !s.contains("pw@"), "{s}");
        assert!(line(&s, "$.storage.links.0", "create").contains("symlink to /srv/app"));
        assert!(line(&s, "$.systemd.units.0", "create").contains("app.service"));
        assert!(line(&s, "$.systemd.units.0.dropins.0", "create").contains("10-env.conf"));
        assert!(line(&s, "$.systemd.units.0", "enable").contains("app.service"));
        assert!(line(&s, "$.systemd.units.1", "mask").contains("/dev/null"));
        let disk = line(&s, "$.storage.disks.0.partitions.0", "partition");
        assert!(disk.contains("not checked against the machine"), "{disk}");
        line(&s, "$.storage.disks.0.partitions.1", "delete");
        assert!(s.ends_with("nothing written: this is a plan\n"), "{s}");
    }

    #[test]
    fn json_lists_operations() {
        let d = root("json");
        let o = plan(&d, FULL, true);
        assert_eq!(o.status.code(), Some(0));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["ok"], true);
        let ops = v["operations"].as_array().unwrap();
        assert!(ops.iter().any(|op| op["path"] == "$.systemd.units.0"
            && op["action"] == "enable"
            && op["target"] == "app.service"));
        assert!(ops
            .iter()
            .any(|op| op["path"] == "$.passwd.users.0" && op["action"] == "add-user"));
        assert!(ops
            .iter()
            .filter(|op| op["path"].as_str().unwrap().starts_with("$.storage.disks"))
            .all(|op| op["checked"] == false));
    }

    #[test]
    fn existing_file_without_overwrite_is_refused() {
        let d = root("overwrite");
        let cfg = r#"{"ignition": {"version": "3.4.0"}, "storage": {"files": [
            {"path": "/etc/hostname", "contents": {"source": "data:,a"}},
            {"path": "/etc/motd", "contents": {"source": "data:,new"}}]}}"#;
        let o = plan(&d, cfg, false);
        let s = out(&o);
        assert_eq!(o.status.code(), Some(1), "{s}");
        let last = s.lines().last().unwrap();
        assert!(last.starts_with("refused:"), "{s}");
        assert!(
            last.contains("$.storage.files.1 \"/etc/motd\"") && last.contains("overwrite is false"),
            "{last}"
        );
        let j = plan(&d, cfg, true);
        assert_eq!(j.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&j.stdout).unwrap();
        assert_eq!(v["ok"], false);
        assert!(v["refused"].as_str().unwrap().contains("$.storage.files.1"));
    }

    #[test]
    fn unknown_owner_is_refused() {
        let d = root("owner");
        let cfg = r#"{"ignition": {"version": "3.4.0"}, "storage": {"files": [
            {"path": "/etc/x", "user": {"name": "nobody-here"}}]}}"#;
        let o = plan(&d, cfg, false);
        let s = out(&o);
        assert_eq!(o.status.code(), Some(1), "{s}");
        assert!(
            s.contains("$.storage.files.0") && s.contains("nobody-here"),
            "{s}"
        );
    }

    #[test]
    fn invalid_config_prints_the_report() {
        let d = root("invalid");
        let cfg = r#"{"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "rel"}]}}"#;
        let o = plan(&d, cfg, false);
        assert_eq!(o.status.code(), Some(1));
        assert!(out(&o).contains("$.storage.files.0.path"), "{}", out(&o));
    }

    #[test]
    fn existing_nodes_kept_and_flag_styles() {
        let d = root("kept");
        std::fs::create_dir_all(d.join("srv/app")).unwrap();
        std::os::unix::fs::symlink("/srv/app", d.join("srv/current")).unwrap();
        std::os::unix::fs::symlink("/dev/null", d.join("etc/systemd/system/debug.service"))
            .unwrap();
        let cfg = r#"{"ignition": {"version": "3.4.0"}, "storage": {
            "directories": [{"path": "/srv/app"}],
            "files": [{"path": "/etc/motd"}],
            "links": [{"path": "/srv/current", "target": "/srv/app"}]},
            "systemd": {"units": [{"name": "debug.service", "enabled": false}]}}"#;
        let before = snapshot(&d);
        let flag = format!("--root={}", d.display());
        let o = ignis(&["plan", "-json", &flag, "-"], cfg.as_bytes());
        assert_eq!(before, snapshot(&d));
        assert_eq!(o.status.code(), Some(0), "{}", out(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let action = |path: &str| {
            v["operations"]
                .as_array()
                .unwrap()
                .iter()
                .find(|op| op["path"] == path)
                .map(|op| op["action"].as_str().unwrap().to_string())
        };
        assert_eq!(action("$.storage.directories.0").as_deref(), Some("keep"));
        assert_eq!(action("$.storage.files.0").as_deref(), Some("keep"));
        assert_eq!(action("$.storage.links.0").as_deref(), Some("keep"));
        assert_eq!(action("$.systemd.units.0").as_deref(), Some("keep"));
        let s = out(&plan(&d, cfg, false));
        assert!(
            line(&s, "$.storage.files.0", "keep").contains("0644 (kept)"),
            "{s}"
        );
        assert!(
            line(&s, "$.systemd.units.0", "keep").contains("masked"),
            "{s}"
        );
        assert!(s.contains("disks: none in the config"), "{s}");
    }

    #[test]
    fn usage_errors() {
        let o = ignis(&["plan", "-"], b"{}");
        assert_eq!(o.status.code(), Some(2), "{o:?}");
    }
}
