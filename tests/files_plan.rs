//! The files stage plans before it writes (#14): a bounded number of fds whatever the config's
//! size, and every failure that can be known beforehand (unknown owners, home directories,
//! SSH key directories, hard links to nothing, node conflicts) leaves the target root exactly
//! as it was; a fetch that fails mid-stage leaves no empty directory behind.

mod common;

use common::{is_root, serve, text, Reply};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct T {
    dir: PathBuf,
}

impl T {
    fn new(name: &str) -> T {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("files-plan-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::create_dir_all(dir.join("host/proc/sys/kernel/random")).unwrap();
        std::fs::write(dir.join("host/proc/cmdline"), "ignition.firstboot\n").unwrap();
        std::fs::write(
            dir.join("host/proc/sys/kernel/random/boot_id"),
            "0b8e0f3c-1f6e-4d39-a8f7-4f2b3f0d9c11\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("root/etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\ncore:x:1000:1000::/home/core:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("root/etc/shadow"),
            "root:*:1::::::\ncore:*:1::::::\n",
        )
        .unwrap();
        std::fs::write(dir.join("root/etc/group"), "root:x:0:\ncore:x:1000:\n").unwrap();
        std::fs::write(dir.join("root/etc/gshadow"), "root:::\ncore:!::\n").unwrap();
        T { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root().join(rel.trim_start_matches('/'))
    }

    /// One stage as the real binary; `shell` wraps it (e.g. to lower a limit first).
    fn stage(&self, stage: &str, shell: Option<&str>) -> Output {
        let run = self.dir.join("run");
        let mut c = match shell {
            Some(sh) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("{sh} && exec \"$0\" \"$@\"")])
                    .arg(env!("CARGO_BIN_EXE_ignis"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_ignis")),
        };
        c.args(["-platform", "file", "-stage", stage, "-log-to-stdout"])
            .arg("-root")
            .arg(self.root())
            .arg("-config-cache")
            .arg(run.join("ignition.json"))
            .arg("-neednet")
            .arg(run.join("neednet"))
            .arg("-state-file")
            .arg(run.join("state"))
            .env("IGNIS_HOST_ROOT", self.dir.join("host"))
            .env("IGNITION_CONFIG_FILE", self.dir.join("config.ign"))
            .output()
            .unwrap()
    }

    /// fetch, then files (wrapped in `shell` if given); returns the files stage's output.
    fn apply_with(&self, cfg: &str, shell: Option<&str>) -> Output {
        let _ = std::fs::remove_file(self.dir.join("run/ignition.json"));
        std::fs::write(self.dir.join("config.ign"), cfg).unwrap();
        let f = self.stage("fetch", None);
        assert!(f.status.success(), "fetch: {}", text(&f));
        self.stage("files", shell)
    }

    fn apply(&self, cfg: &str) -> Output {
        self.apply_with(cfg, None)
    }

    /// Every node of the root: kind, mode, owner, and contents or link target.
    fn snapshot(&self) -> BTreeMap<String, String> {
        fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                let m = std::fs::symlink_metadata(&p).unwrap();
                let what = if m.file_type().is_symlink() {
                    format!("-> {}", std::fs::read_link(&p).unwrap().display())
                } else if m.is_dir() {
                    walk(base, &p, out);
                    "dir".to_string()
                } else {
                    String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned()
                };
                let rel = p.strip_prefix(base).unwrap().display().to_string();
                let mode = m.permissions().mode() & 0o7777;
                out.insert(rel, format!("{mode:o} {}:{} {what}", m.uid(), m.gid()));
            }
        }
        let mut out = BTreeMap::new();
        walk(&self.root(), &self.root(), &mut out);
        out
    }

    /// Applies `cfg`, which must fail with `why`, and checks that the root did not change.
    fn refused_unchanged(&self, cfg: &str, why: &str) {
        let before = self.snapshot();
        let o = self.apply(cfg);
        assert!(!o.status.success(), "{}", text(&o));
        assert!(text(&o).contains(why), "{}", text(&o));
        assert_eq!(self.snapshot(), before, "the root changed: {}", text(&o));
    }
}

fn ok(o: Output) {
    assert!(o.status.success(), "{}", text(&o));
}

fn cfg(rest: &str) -> String {
    format!(r#"{{"ignition":{{"version":"3.3.0"}},{rest}}}"#)
}

/// #14 item 3: 1200 remote files go through under a 256-fd limit (each pending remote file
/// used to pin a temp file and its directory until written).
#[test]
fn many_remote_files_under_a_low_fd_limit() {
    let s = serve(None);
    let t = T::new("fd-limit");
    let mut files = Vec::new();
    for i in 0..1200 {
        s.route(
            &format!("/f{i}"),
            vec![Reply::Body(format!("{i}\n").into_bytes())],
        );
        files.push(format!(
            r#"{{"path":"/srv/d{}/f{i}","contents":{{"source":"{}"}}}}"#,
            i % 7,
            s.url(&format!("/f{i}"))
        ));
    }
    let c = cfg(&format!(r#""storage":{{"files":[{}]}}"#, files.join(",")));
    // The files stage alone under the low limit (the shell's ulimit is inherited by exec).
    ok(t.apply_with(&c, Some("ulimit -n 256")));
    for i in [0, 599, 1199] {
        let got = std::fs::read_to_string(t.p(&format!("/srv/d{}/f{i}", i % 7))).unwrap();
        assert_eq!(got, format!("{i}\n"));
    }
}

#[test]
fn unknown_owner_is_refused_before_users_or_files_are_written() {
    let t = T::new("unknown-owner");
    t.refused_unchanged(
        &cfg(r#""passwd":{"users":[{"name":"alice"}]},
            "storage":{"directories":[{"path":"/srv/d"}],
                       "files":[{"path":"/etc/a","contents":{"source":"data:,a"}},
                                {"path":"/etc/b","user":{"name":"nobody-here"}}]}"#),
        "user \"nobody-here\" not found",
    );
    t.refused_unchanged(
        &cfg(r#""storage":{"files":[{"path":"/etc/a"}],
                           "links":[{"path":"/etc/l","target":"/etc/a","group":{"name":"nogroup"}}]}"#),
        "group \"nogroup\" not found",
    );
}

#[test]
fn owners_the_passwd_step_adds_resolve_in_the_plan() {
    if !is_root() {
        common::skip::skip(
            "owners_the_passwd_step_adds_resolve_in_the_plan",
            "chown needs root",
        );
        return;
    }
    let t = T::new("planned-owner");
    ok(t.apply(&cfg(
        r#""passwd":{"users":[{"name":"alice","uid":1234,"noCreateHome":true}],
                     "groups":[{"name":"ops","gid":4321}]},
           "storage":{"files":[{"path":"/etc/a","user":{"name":"alice"},"group":{"name":"ops"}}]}"#,
    )));
    let m = std::fs::metadata(t.p("/etc/a")).unwrap();
    assert_eq!((m.uid(), m.gid()), (1234, 4321));
}

#[test]
fn home_directory_failures_come_before_the_databases_are_written() {
    let t = T::new("home");
    std::fs::create_dir_all(t.p("/srv")).unwrap();
    std::fs::write(t.p("/srv/file"), "x").unwrap();
    t.refused_unchanged(
        &cfg(r#""passwd":{"users":[{"name":"alice"},{"name":"bob","homeDir":"/srv/file/bob"}]}"#),
        "/srv/file is not a directory",
    );
    // A link that leads nowhere where the home is to be made.
    std::os::unix::fs::symlink("/nowhere", t.p("/srv/home")).unwrap();
    t.refused_unchanged(
        &cfg(r#""passwd":{"users":[{"name":"bob","homeDir":"/srv/home"}]}"#),
        "a link that leads nowhere",
    );
}

#[test]
fn ssh_key_directory_refusals_come_before_the_databases_are_written() {
    let t = T::new("sshdir");
    std::fs::create_dir_all(t.p("/home/core")).unwrap();
    std::fs::create_dir_all(t.p("/srv/shared")).unwrap();
    std::os::unix::fs::symlink("/srv/shared", t.p("/home/core/.ssh")).unwrap();
    t.refused_unchanged(
        &cfg(r#""passwd":{"users":[{"name":"alice","noCreateHome":true},
                                    {"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core@a"]}]}"#),
        "not a directory",
    );
}

#[test]
fn links_and_node_conflicts_are_refused_before_anything_is_written() {
    let t = T::new("links");
    std::fs::write(t.p("/etc/motd"), "old\n").unwrap();
    // A hard link to nothing.
    t.refused_unchanged(
        &cfg(
            r#""storage":{"files":[{"path":"/etc/a","contents":{"source":"data:,a"}}],
                           "links":[{"path":"/etc/h","target":"/etc/missing","hard":true}]}"#,
        ),
        "hard link target \"/etc/missing\" does not exist",
    );
    // A symlink where a file is, without overwrite.
    t.refused_unchanged(
        &cfg(
            r#""storage":{"files":[{"path":"/etc/a","contents":{"source":"data:,a"}}],
                           "links":[{"path":"/etc/motd","target":"/etc/a"}]}"#,
        ),
        "not the configured link",
    );
    // Two entries on one node through a symlinked directory.
    std::os::unix::fs::symlink("/etc", t.p("/cfg")).unwrap();
    t.refused_unchanged(
        &cfg(
            r#""storage":{"files":[{"path":"/etc/x","contents":{"source":"data:,1"}},
                                    {"path":"/cfg/x","contents":{"source":"data:,2"}}]}"#,
        ),
        "resolve to the same path",
    );
    // A hard link to a file the same config writes is fine.
    ok(t.apply(&cfg(
        r#""storage":{"files":[{"path":"/etc/a","contents":{"source":"data:,a"}}],
                      "links":[{"path":"/etc/h","target":"/etc/a","hard":true}]}"#,
    )));
    let (a, h) = (
        std::fs::metadata(t.p("/etc/a")).unwrap(),
        std::fs::metadata(t.p("/etc/h")).unwrap(),
    );
    assert_eq!(a.ino(), h.ino());
}

/// A fetch that fails can only be known when it fails: entries before it are written, but no
/// directory created for the failed entry (or for the rest of its fetch window) stays behind.
/// (Entries are written shallow to deep, so "before" is in that order.)
#[test]
fn a_failed_fetch_leaves_no_empty_directories() {
    let s = serve(None);
    s.route("/ok", vec![Reply::Body(b"ok\n".to_vec())]);
    let t = T::new("failed-fetch");
    let o = t.apply(&cfg(&format!(
        r#""storage":{{"files":[{{"path":"/etc/ok","contents":{{"source":"{ok}"}}}},
                                {{"path":"/new/a/b/f","contents":{{"source":"{missing}"}}}},
                                {{"path":"/new2/x/y/z/g","contents":{{"source":"{ok}"}}}}]}}"#,
        ok = s.url("/ok"),
        missing = s.url("/missing")
    )));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("404"), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(t.p("/etc/ok")).unwrap(), "ok\n");
    assert!(!t.p("/new").exists(), "empty directories left behind");
    assert!(!t.p("/new2").exists(), "empty directories left behind");
    // The same for contents in the config whose hash does not match.
    let bad = format!("sha512-{}", "0".repeat(128));
    let o = t.apply(&cfg(&format!(
        r#""storage":{{"files":[{{"path":"/new3/x/f","contents":{{"source":"data:,x","verification":{{"hash":"{bad}"}}}}}}]}}"#
    )));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(!t.p("/new3").exists(), "empty directories left behind");
}

/// A node that appears between the plan and the write (a home's skeleton copied by the passwd
/// step) is checked again when written: overwrite false still refuses it.
#[test]
fn a_node_from_a_home_skeleton_is_checked_when_written() {
    if !is_root() {
        common::skip::skip(
            "a_node_from_a_home_skeleton_is_checked_when_written",
            "chown needs root",
        );
        return;
    }
    let t = T::new("skel");
    std::fs::create_dir_all(t.p("/etc/skel")).unwrap();
    std::fs::write(t.p("/etc/skel/.profile"), "skel\n").unwrap();
    let o = t.apply(&cfg(
        r#""passwd":{"users":[{"name":"alice"}]},
           "storage":{"files":[{"path":"/home/alice/.profile","contents":{"source":"data:,mine"}}]}"#,
    ));
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("overwrite is false"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(t.p("/home/alice/.profile")).unwrap(),
        "skel\n"
    );
}

/// A hard link may point at a file that only the skeleton of a home the config creates
/// provides: the plan lets it through, the writer finds it.
#[test]
fn a_hard_link_into_a_new_home_skeleton_is_planned() {
    if !is_root() {
        common::skip::skip(
            "a_hard_link_into_a_new_home_skeleton_is_planned",
            "chown needs root",
        );
        return;
    }
    let t = T::new("skel-link");
    std::fs::create_dir_all(t.p("/etc/skel")).unwrap();
    std::fs::write(t.p("/etc/skel/.profile"), "skel\n").unwrap();
    ok(t.apply(&cfg(
        r#""passwd":{"users":[{"name":"alice"}]},
           "storage":{"links":[{"path":"/etc/profile-alice","target":"/home/alice/.profile","hard":true}]}"#,
    )));
    let a = std::fs::metadata(t.p("/etc/profile-alice")).unwrap();
    let b = std::fs::metadata(t.p("/home/alice/.profile")).unwrap();
    assert_eq!(a.ino(), b.ino());
}
