//! The native passwd writer never writes outside the target root: each scenario seeds a
//! temporary root whose /home, a user's home, /etc/skel entries, /etc or the mail spool are
//! symlinks (absolute, or climbing with `..`) to a directory outside the root, runs
//! `ignis::passwd::apply::run` on it, and checks that the outside directory is byte-for-byte,
//! mode-, owner- and mtime-identical afterwards, and that the work landed inside the root.
//!
//! Needs root (the writer chowns to the users it creates); otherwise skipped with the reason.

mod common;

use common::is_root;

use ignis::config::types::{PasswdGroup, PasswdUser};
use ignis::passwd::{apply, Plan};
use ignis::sys::root::Root;
use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

const LOGIN_DEFS: &str = "\
MAIL_DIR        /var/mail
UMASK           022
UID_MIN         1000
UID_MAX         60000
GID_MIN         1000
GID_MAX         60000
USERGROUPS_ENAB yes
";

/// A target root and a directory outside it, both removed on drop.
struct Case {
    root: PathBuf,
    outside: PathBuf,
}

impl Case {
    fn new(name: &str) -> Case {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR")).join("passwd-confinement");
        let root = base.join(format!("{name}-root"));
        let outside = base.join(format!("{name}-outside"));
        for d in [&root, &outside] {
            let _ = fs::remove_dir_all(d);
            fs::create_dir_all(d).unwrap();
        }
        // The outside directory looks like a home and an /etc: a victim for any escape.
        fs::write(outside.join("keep"), "outside\n").unwrap();
        fs::write(outside.join("passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
        fs::create_dir(outside.join("sub")).unwrap();
        fs::write(outside.join("sub/file"), "nested\n").unwrap();
        for p in ["keep", "sub", "sub/file"] {
            std::os::unix::fs::lchown(outside.join(p), Some(1000), Some(1000)).unwrap();
        }
        let w = |p: &str, body: &str| {
            let p = root.join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, body).unwrap();
        };
        w(
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n",
        );
        w(
            "etc/shadow",
            "root:*:19000:0:99999:7:::\nbob:!:19000:0:99999:7:::\n",
        );
        w(
            "etc/group",
            "root:x:0:\nmail:x:8:\nusers:x:100:\nbob:x:1000:\n",
        );
        w("etc/gshadow", "root:*::\nmail:*::\nusers:*::\nbob:!::\n");
        w("etc/login.defs", LOGIN_DEFS);
        w(
            "etc/default/useradd",
            "SHELL=/bin/sh\nCREATE_MAIL_SPOOL=yes\n",
        );
        w("etc/skel/.profile", "# profile\n");
        w("etc/skel/.config/app/settings", "x=1\n");
        Case { root, outside }
    }

    /// `p` inside the root.
    fn at(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    /// Where an absolute symlink to the outside directory resolves inside the root.
    fn outside_in_root(&self) -> PathBuf {
        self.at(&self.outside.to_string_lossy())
    }

    /// A symlink at `p` (in the root) to `target`.
    fn link(&self, target: impl AsRef<Path>, p: &str) {
        let p = self.at(p);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        symlink(target, p).unwrap();
    }

    /// A relative symlink target that climbs from `p` (in the root) far above the host's `/`
    /// and back down to the outside directory: on the host it would reach it.
    fn climbing_to_outside(&self, p: &str) -> String {
        let depth = self.at(p).components().count() + 5;
        format!(
            "{}{}",
            "../".repeat(depth),
            self.outside.to_string_lossy().trim_start_matches('/')
        )
    }

    fn run(&self, passwd: Value) -> Result<Plan, String> {
        let groups: Vec<PasswdGroup> =
            serde_json::from_value(passwd.get("groups").cloned().unwrap_or(json!([]))).unwrap();
        let users: Vec<PasswdUser> =
            serde_json::from_value(passwd.get("users").cloned().unwrap_or(json!([]))).unwrap();
        let root = Root::open(&self.root).map_err(|e| e.to_string())?;
        apply::run(&root, &groups, &users, 19_000).map_err(|e| e.to_string())
    }

    /// Runs `passwd` and checks the outside directory did not change; returns the verdict.
    fn run_confined(&self, passwd: Value) -> Result<Plan, String> {
        let before = snapshot(&self.outside);
        let r = self.run(passwd);
        assert_eq!(
            snapshot(&self.outside),
            before,
            "something outside the root changed ({:?})",
            r.as_ref().map(|p| &p.ops)
        );
        r
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
        let _ = fs::remove_dir_all(&self.outside);
    }
}

/// One node: relative path, mode, uid, gid, content or link target, mtime, ctime.
type Node = (PathBuf, u32, u32, u32, Vec<u8>, i64, i64);

/// Everything under `d`, `d` included.
fn snapshot(d: &Path) -> Vec<Node> {
    let mut out = Vec::new();
    let mut todo = vec![d.to_path_buf()];
    while let Some(p) = todo.pop() {
        let m = fs::symlink_metadata(&p).unwrap();
        let body = if m.file_type().is_symlink() {
            fs::read_link(&p)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else if m.is_file() {
            fs::read(&p).unwrap()
        } else {
            for e in fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
            Vec::new()
        };
        let rel = p.strip_prefix(d).unwrap().to_path_buf();
        out.push((rel, m.mode(), m.uid(), m.gid(), body, m.mtime(), m.ctime()));
    }
    out.sort();
    out
}

fn uid_of(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().uid()
}

fn is_symlink(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

macro_rules! need_root {
    () => {
        if !is_root() {
            common::skip::skip(
                "is_symlink",
                "needs root (the writer chowns homes to their users)",
            );
            return;
        }
    };
}

#[test]
fn home_parent_is_an_absolute_symlink_out_of_the_root() {
    need_root!();
    // /home -> <outside>, and the same path exists inside the root: the home lands there.
    let c = Case::new("home-abs");
    c.link(&c.outside, "/home");
    fs::create_dir_all(c.outside_in_root()).unwrap();
    c.run_confined(json!({"users": [{"name": "alice"}]}))
        .unwrap();
    let home = c.outside_in_root().join("alice");
    assert!(
        home.join(".profile").is_file(),
        "home created inside the root"
    );
    assert!(home.join(".config/app/settings").is_file());
    assert_eq!(uid_of(&home), 1001);
    assert!(!c.outside.join("alice").exists());

    // Same, with nothing at that path inside the root: as with Ignition (and useradd), the
    // link's target is created, inside the root; still nothing outside.
    let c = Case::new("home-abs-dangling");
    c.link(&c.outside, "/home");
    c.run_confined(json!({"users": [{"name": "alice"}]}))
        .unwrap();
    let home = c.outside_in_root().join("alice");
    assert!(
        home.join(".profile").is_file(),
        "home created inside the root"
    );
    assert_eq!(uid_of(&home), 1001);
    assert_eq!(uid_of(&c.outside_in_root()), 0, "its parent stays root's");
    assert!(!c.outside.join("alice").exists());
}

#[test]
fn home_parent_climbs_with_dotdot() {
    need_root!();
    // /home -> ../../../.. (far more than the root's depth): clamped at the target's /.
    let c = Case::new("home-dotdot");
    let climb = "../".repeat(c.root.components().count() + 5);
    c.link(&climb, "/home");
    let name = format!("climb{}", std::process::id() % 100_000);
    assert!(!Path::new("/").join(&name).exists());
    c.run_confined(json!({"users": [{"name": name, "homeDir": format!("/home/{name}")}]}))
        .unwrap();
    assert!(
        c.at(&name).join(".profile").is_file(),
        "home at the target's /"
    );
    assert!(
        !Path::new("/").join(&name).exists(),
        "nothing created at the host's /"
    );

    // And climbing back down to the outside directory by name.
    let c = Case::new("home-dotdot-down");
    c.link(c.climbing_to_outside("/home"), "/home");
    fs::create_dir_all(c.outside_in_root()).unwrap();
    c.run_confined(json!({"users": [{"name": "alice"}]}))
        .unwrap();
    assert!(c.outside_in_root().join("alice/.profile").is_file());
}

#[test]
fn new_users_home_is_a_symlink_out_of_the_root() {
    need_root!();
    for (i, how) in ["absolute", "climbing"].into_iter().enumerate() {
        for resolves in [false, true] {
            let c = Case::new(&format!("new-home-link-{i}-{resolves}"));
            let target = if i == 0 {
                c.outside.to_string_lossy().into_owned()
            } else {
                c.climbing_to_outside("/home/carol")
            };
            c.link(&target, "/home/carol");
            if !resolves {
                // Dangling inside the root: the home cannot be created (useradd fails too).
                let e = c
                    .run_confined(json!({"users": [{"name": "carol"}]}))
                    .unwrap_err();
                assert!(e.contains("/home/carol"), "{how}: {e}");
                assert!(is_symlink(&c.at("/home/carol")), "{how}: link left alone");
            } else {
                // Resolving inside the root: it "exists", nothing is copied into it.
                fs::create_dir_all(c.outside_in_root()).unwrap();
                c.run_confined(json!({"users": [{"name": "carol"}]}))
                    .unwrap();
                assert!(
                    fs::read_dir(c.outside_in_root()).unwrap().next().is_none(),
                    "{how}: no skeleton copied through the link"
                );
            }
        }
    }
}

#[test]
fn existing_users_home_is_a_symlink_out_of_the_root() {
    need_root!();
    // bob (uid 1000, like the outside files) has /home/bob -> <outside>, which also exists
    // inside the root, owned by bob.
    let setup = |name: &str| {
        let c = Case::new(name);
        c.link(&c.outside, "/home/bob");
        let inside = c.outside_in_root();
        fs::create_dir_all(inside.join("d")).unwrap();
        fs::write(inside.join("d/f"), "in\n").unwrap();
        for p in [&inside, &inside.join("d"), &inside.join("d/f")] {
            std::os::unix::fs::lchown(p, Some(1000), Some(1000)).unwrap();
        }
        std::os::unix::fs::lchown(c.at("/home/bob"), Some(1000), Some(1000)).unwrap();
        c
    };

    // usermod --uid: the symlink is re-owned itself; nothing behind it is followed.
    let c = setup("bob-uid");
    c.run_confined(json!({"users": [{"name": "bob", "uid": 1500}]}))
        .unwrap();
    assert_eq!(uid_of(&c.at("/home/bob")), 1500);
    assert_eq!(uid_of(&c.outside_in_root().join("d/f")), 1000);

    // usermod --home --move-home: the symlink is moved.
    let c = setup("bob-move");
    c.run_confined(json!({"users": [{"name": "bob", "homeDir": "/home/bob2", "uid": 1600}]}))
        .unwrap();
    assert!(is_symlink(&c.at("/home/bob2")));
    assert!(!c.at("/home/bob").exists());

    // userdel --remove: the symlink is removed, not what it points to.
    let c = setup("bob-del");
    c.run_confined(json!({"users": [{"name": "bob", "shouldExist": false}]}))
        .unwrap();
    assert!(fs::symlink_metadata(c.at("/home/bob")).is_err());
    assert!(c.outside_in_root().join("d/f").is_file());
}

#[test]
fn skeleton_symlinks_are_copied_as_symlinks() {
    need_root!();
    let c = Case::new("skel");
    let out = c.outside.to_string_lossy().into_owned();
    c.link(format!("{out}/keep"), "/etc/skel/.abs-file");
    c.link(&out, "/etc/skel/.abs-dir");
    c.link(c.climbing_to_outside("/etc/skel/.up"), "/etc/skel/.up");
    c.link(
        c.climbing_to_outside("/etc/skel/.config/.up"),
        "/etc/skel/.config/.up",
    );
    c.run_confined(json!({"users": [{"name": "dave"}]}))
        .unwrap();
    let home = c.at("/home/dave");
    for (p, target) in [
        (".abs-file", format!("{out}/keep")),
        (".abs-dir", out.clone()),
        (".up", c.climbing_to_outside("/etc/skel/.up")),
        (
            ".config/.up",
            c.climbing_to_outside("/etc/skel/.config/.up"),
        ),
    ] {
        assert!(is_symlink(&home.join(p)), "{p} is a symlink");
        assert_eq!(fs::read_link(home.join(p)).unwrap(), Path::new(&target));
        assert_eq!(uid_of(&home.join(p)), 1001, "{p} owned by dave");
    }
    assert!(home.join(".profile").is_file());

    // /etc/skel itself an absolute symlink out of the root: resolved inside (here: missing,
    // so the home is created empty).
    let c = Case::new("skel-link");
    fs::remove_dir_all(c.at("/etc/skel")).unwrap();
    c.link(&c.outside, "/etc/skel");
    c.run_confined(json!({"users": [{"name": "dave"}]}))
        .unwrap();
    assert!(fs::read_dir(c.at("/home/dave")).unwrap().next().is_none());
}

#[test]
fn account_files_behind_symlinks_out_of_the_root() {
    need_root!();
    // /etc/passwd -> <outside>/passwd: read inside the root (missing), replaced by a file.
    let c = Case::new("passwd-link");
    fs::remove_file(c.at("/etc/passwd")).unwrap();
    c.link(c.outside.join("passwd"), "/etc/passwd");
    c.run_confined(json!({"users": [{"name": "erin", "noCreateHome": true}]}))
        .unwrap();
    let m = fs::symlink_metadata(c.at("/etc/passwd")).unwrap();
    assert!(m.is_file(), "the symlink is replaced by the new database");
    assert!(fs::read_to_string(c.at("/etc/passwd"))
        .unwrap()
        .contains("erin:"));

    // /etc -> <outside>: nothing to read or write inside the root: an error.
    let c = Case::new("etc-link");
    fs::remove_dir_all(c.at("/etc")).unwrap();
    c.link(&c.outside, "/etc");
    c.run_confined(json!({"users": [{"name": "erin", "noCreateHome": true}]}))
        .unwrap_err();
}

#[test]
fn mail_spool_is_a_symlink_out_of_the_root() {
    need_root!();
    let c = Case::new("mail");
    c.link(&c.outside, "/var/mail");
    fs::create_dir_all(c.outside_in_root()).unwrap();
    c.run_confined(json!({"users": [{"name": "frank", "noCreateHome": true}]}))
        .unwrap();
    let mbox = c.outside_in_root().join("frank");
    assert!(mbox.is_file(), "mailbox created inside the root");
    assert_eq!(uid_of(&mbox), 1001);
}

/// A tmpfs mounted at `dir`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn move_home_across_filesystems_copies_inside_the_root() {
    need_root!();
    let c = Case::new("exdev");
    let mnt = c.at("/srv");
    fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        common::skip::skip(
            "move_home_across_filesystems_copies_inside_the_root",
            "cannot mount a tmpfs",
        );
        return;
    }
    let _mnt = Tmpfs(mnt);
    let home = c.at("/home/bob");
    fs::create_dir_all(home.join("sub")).unwrap();
    fs::write(home.join("sub/f"), "mine\n").unwrap();
    fs::hard_link(home.join("sub/f"), home.join("h")).unwrap();
    symlink(&c.outside, home.join("out")).unwrap();
    symlink(c.climbing_to_outside("/home/bob/up"), home.join("up")).unwrap();
    for p in ["", "sub", "sub/f", "out", "up"] {
        std::os::unix::fs::lchown(home.join(p), Some(1000), Some(1000)).unwrap();
    }
    c.run_confined(json!({"users": [{"name": "bob", "homeDir": "/srv/bob", "uid": 1700}]}))
        .unwrap();
    let new = c.at("/srv/bob");
    assert!(!home.exists(), "the old home is removed");
    assert_eq!(fs::read_to_string(new.join("sub/f")).unwrap(), "mine\n");
    assert_eq!(
        fs::metadata(new.join("sub/f")).unwrap().ino(),
        fs::metadata(new.join("h")).unwrap().ino()
    );
    for p in ["", "sub", "sub/f", "out", "up"] {
        assert_eq!(uid_of(&new.join(p)), 1700, "{p:?} re-owned");
    }
    assert!(is_symlink(&new.join("out")) && is_symlink(&new.join("up")));
}
