//! The files stage on temp roots, run as the real binary after the fetch stage: files,
//! directories, links, units and presets with Ignition's semantics, and hostile layouts
//! (symlinked /etc, links pointing outside, wrong node types) that must neither escape the root
//! nor change anything when the stage refuses.

mod common;

use common::{is_root, serve, text, Reply};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct T {
    dir: PathBuf,
}

impl T {
    fn new(name: &str) -> T {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("files-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/etc")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::create_dir_all(dir.join("host/proc")).unwrap();
        std::fs::write(dir.join("host/proc/cmdline"), "ignition.firstboot\n").unwrap();
        std::fs::create_dir_all(dir.join("host/proc/sys/kernel/random")).unwrap();
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
        std::fs::write(dir.join("root/etc/group"), "root:x:0:\ncore:x:1000:\n").unwrap();
        std::fs::create_dir_all(dir.join("root/usr/lib")).unwrap();
        std::fs::write(
            dir.join("root/usr/lib/passwd"),
            "sshd:x:74:74::/var/empty:/sbin/nologin\n",
        )
        .unwrap();
        std::fs::write(dir.join("root/usr/lib/group"), "sshd:x:74:\n").unwrap();
        T { dir }
    }

    fn root(&self) -> PathBuf {
        self.dir.join("root")
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.root().join(rel.trim_start_matches('/'))
    }

    fn run(&self, stage: &str, cfg: &str) -> Output {
        self.run_env(stage, cfg, &[])
    }

    fn run_env(&self, stage: &str, cfg: &str, env: &[(&str, &str)]) -> Output {
        let run = self.dir.join("run");
        std::fs::write(self.dir.join("config.ign"), cfg).unwrap();
        Command::new(env!("CARGO_BIN_EXE_ignis"))
            .args(["-platform", "file", "-stage", stage, "-log-to-stdout"])
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
            .envs(env.iter().copied())
            .output()
            .unwrap()
    }

    /// fetch then files; returns the files stage's output.
    fn apply(&self, cfg: &str) -> Output {
        let _ = std::fs::remove_file(self.dir.join("run/ignition.json"));
        let f = self.run("fetch", cfg);
        assert!(f.status.success(), "fetch: {}", text(&f));
        self.run("files", cfg)
    }

    fn mode(&self, rel: &str) -> u32 {
        std::fs::symlink_metadata(self.p(rel))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    fn owner(&self, rel: &str) -> (u32, u32) {
        let m = std::fs::symlink_metadata(self.p(rel)).unwrap();
        (m.uid(), m.gid())
    }

    fn read(&self, rel: &str) -> String {
        String::from_utf8(std::fs::read(self.p(rel)).unwrap()).unwrap()
    }
}

fn ok(o: Output) {
    assert!(o.status.success(), "{}", text(&o));
}

fn cfg(storage: &str) -> String {
    format!(r#"{{"ignition":{{"version":"3.3.0"}},"storage":{storage}}}"#)
}

#[test]
fn files_with_contents_modes_and_owners() {
    if !is_root() {
        common::skip::skip("files_with_contents_modes_and_owners", "chown needs root");
        return;
    }
    let t = T::new("create");
    ok(t.apply(&cfg(r#"{"files":[
        {"path":"/etc/plain","contents":{"source":"data:,hello%0A"}},
        {"path":"/etc/b64","mode":384,"contents":{"source":"data:;base64,aGk="}},
        {"path":"/etc/gz","contents":{"compression":"gzip","source":"data:;base64,H4sIAAAAAAAAA8tIzcnJ5wIAIDA6NgYAAAA="}},
        {"path":"/etc/empty"},
        {"path":"/deep/new/dir/f","user":{"name":"core"},"group":{"id":1000}},
        {"path":"/etc/sys","user":{"name":"sshd"},"group":{"name":"sshd"}}
    ]}"#)));
    assert_eq!(t.read("/etc/plain"), "hello\n");
    assert_eq!(t.mode("/etc/plain"), 0o644, "default file mode");
    assert_eq!(t.read("/etc/b64"), "hi");
    assert_eq!(t.mode("/etc/b64"), 0o600);
    assert_eq!(t.read("/etc/gz"), "hello\n");
    assert_eq!(t.read("/etc/empty"), "");
    assert_eq!(t.owner("/deep/new/dir/f"), (1000, 1000));
    assert_eq!(t.mode("/deep/new"), 0o755, "parents are 0755");
    assert_eq!(t.owner("/deep/new"), (0, 0));
    assert_eq!(
        t.owner("/etc/sys"),
        (74, 74),
        "names from /usr/lib/passwd and /usr/lib/group"
    );
    let result: serde_json::Value =
        serde_json::from_str(&t.read("/etc/.ignition-result.json")).unwrap();
    assert_eq!(result["userConfigProvided"], true);
    assert_eq!(t.mode("/etc/.ignition-result.json"), 0o600);
}

#[test]
fn overwrite_and_append() {
    let t = T::new("overwrite");
    std::fs::write(t.p("/etc/old"), "old\n").unwrap();
    std::fs::write(t.p("/etc/keep"), "keep\n").unwrap();
    std::fs::set_permissions(t.p("/etc/keep"), std::fs::Permissions::from_mode(0o640)).unwrap();
    ok(t.apply(&cfg(r#"{"files":[
        {"path":"/etc/old","overwrite":true,"contents":{"source":"data:,new%0A"}},
        {"path":"/etc/keep","append":[{"source":"data:,more%0A"}]},
        {"path":"/etc/fresh","append":[{"source":"data:,a"},{"source":"data:,b"}]}
    ]}"#)));
    assert_eq!(t.read("/etc/old"), "new\n");
    assert_eq!(t.read("/etc/keep"), "keep\nmore\n");
    assert_eq!(t.mode("/etc/keep"), 0o640, "mode kept when not given");
    assert_eq!(t.read("/etc/fresh"), "ab");
}

#[test]
fn existing_file_without_overwrite_fails_and_changes_nothing() {
    let t = T::new("nooverwrite");
    std::fs::write(t.p("/etc/motd"), "original\n").unwrap();
    let o = t.apply(&cfg(r#"{"files":[
        {"path":"/etc/first","contents":{"source":"data:,x"}},
        {"path":"/etc/motd","contents":{"source":"data:,replaced"}}
    ]}"#));
    assert!(!o.status.success());
    let out = text(&o);
    assert!(out.contains("$.storage.files.1"), "{out}");
    assert!(out.contains("overwrite is false"), "{out}");
    assert_eq!(t.read("/etc/motd"), "original\n");
    assert!(
        !t.p("/etc/first").exists(),
        "nothing written when a conflict is known up front"
    );
}

#[test]
fn directories_and_links() {
    let t = T::new("dirs");
    std::fs::create_dir_all(t.p("/var/exists")).unwrap();
    ok(t.apply(&cfg(r#"{
        "directories":[{"path":"/var/new/deep","mode":448},{"path":"/var/exists","mode":488}],
        "files":[{"path":"/opt/target","contents":{"source":"data:,t"}},{"path":"/opt/sub/deeper/f"}],
        "links":[
            {"path":"/usr/local/bin/tool","target":"/opt/target"},
            {"path":"/opt/rel","target":"../opt/target"},
            {"path":"/opt/hard","target":"/opt/sub/deeper/f","hard":true}
        ]}"#)));
    assert_eq!(t.mode("/var/new/deep"), 0o700);
    assert_eq!(t.mode("/var/new"), 0o755);
    assert_eq!(t.mode("/var/exists"), 0o750);
    assert_eq!(
        std::fs::read_link(t.p("/usr/local/bin/tool")).unwrap(),
        Path::new("/opt/target")
    );
    assert_eq!(
        std::fs::read_link(t.p("/opt/rel")).unwrap(),
        Path::new("../opt/target")
    );
    let a = std::fs::metadata(t.p("/opt/hard")).unwrap().ino();
    assert_eq!(
        a,
        std::fs::metadata(t.p("/opt/sub/deeper/f")).unwrap().ino(),
        "hard link made after the deeper file"
    );
    // a second run matches and succeeds (links already correct)
    ok(t.apply(&cfg(
        r#"{"links":[{"path":"/usr/local/bin/tool","target":"/opt/target"}]}"#,
    )));
    // a different target needs overwrite
    let o = t.apply(&cfg(
        r#"{"links":[{"path":"/usr/local/bin/tool","target":"/other"}]}"#,
    ));
    assert!(!o.status.success());
    ok(t.apply(&cfg(
        r#"{"links":[{"path":"/usr/local/bin/tool","target":"/other","overwrite":true}]}"#,
    )));
    assert_eq!(
        std::fs::read_link(t.p("/usr/local/bin/tool")).unwrap(),
        Path::new("/other")
    );
}

/// A symlink without an owner in the config takes the owner of what it points to, field by
/// field, as Ignition's does; with an absolute target, root (Ignition looks that target up
/// outside the target root).
#[test]
fn new_symlink_takes_its_targets_owner() {
    if !is_root() {
        common::skip::skip("new_symlink_takes_its_targets_owner", "chown needs root");
        return;
    }
    let t = T::new("link-owner");
    std::fs::create_dir_all(t.p("/srv/d")).unwrap();
    std::os::unix::fs::lchown(t.p("/srv/d"), Some(1000), Some(74)).unwrap();
    ok(t.apply(&cfg(r#"{
        "links":[
            {"path":"/etc/rel","target":"../srv/d"},
            {"path":"/etc/abs","target":"/srv/d"},
            {"path":"/etc/dangling","target":"/srv/nothing"},
            {"path":"/etc/user-set","target":"../srv/d","user":{"id":0}},
            {"path":"/etc/group-set","target":"../srv/d","group":{"name":"root"}}]}"#)));
    assert_eq!(t.owner("/etc/rel"), (1000, 74));
    assert_eq!(t.owner("/etc/abs"), (0, 0));
    assert_eq!(t.owner("/etc/dangling"), (0, 0));
    assert_eq!(t.owner("/etc/user-set"), (0, 74));
    assert_eq!(t.owner("/etc/group-set"), (1000, 0));
    assert_eq!(
        t.owner("/srv/d"),
        (1000, 74),
        "the target itself is untouched"
    );
}

#[test]
fn wrong_node_types() {
    let t = T::new("types");
    std::fs::create_dir_all(t.p("/etc/adir")).unwrap();
    std::fs::write(t.p("/etc/afile"), "x").unwrap();
    assert!(!t
        .apply(&cfg(r#"{"files":[{"path":"/etc/adir"}]}"#))
        .status
        .success());
    assert!(!t
        .apply(&cfg(r#"{"directories":[{"path":"/etc/afile"}]}"#))
        .status
        .success());
    ok(t.apply(&cfg(
        r#"{"directories":[{"path":"/etc/afile","overwrite":true}]}"#,
    )));
    assert!(t.p("/etc/afile").is_dir());
}

#[test]
fn hostile_layouts_stay_inside_the_root() {
    let t = T::new("hostile");
    let outside = t.dir.join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // /etc2 -> / (absolute: means the target's /), /esc -> the real outside dir by absolute
    // host path (resolves inside the root, where it does not exist), /up -> ../../../..
    std::os::unix::fs::symlink("/", t.p("/etc2")).unwrap();
    std::os::unix::fs::symlink(&outside, t.p("/esc")).unwrap();
    std::os::unix::fs::symlink("../../../../../../..", t.p("/up")).unwrap();
    ok(t.apply(&cfg(r#"{"files":[
        {"path":"/etc2/via-root-link","contents":{"source":"data:,a"}},
        {"path":"/up/tmp/via-dotdot","contents":{"source":"data:,b"}}
    ],"links":[{"path":"/etc/abs","target":"/etc/../../../../x"}]}"#)));
    assert_eq!(t.read("/via-root-link"), "a");
    assert_eq!(t.read("/tmp/via-dotdot"), "b");
    // As with Ignition, the link's target is created inside the root, never on the host.
    ok(t.apply(&cfg(
        r#"{"files":[{"path":"/esc/pwned","contents":{"source":"data:,c"}}]}"#,
    )));
    assert_eq!(
        t.read(&format!("{}/pwned", outside.display())),
        "c",
        "written inside the root"
    );
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "nothing outside the root"
    );
    // two entries landing on one node through a symlinked directory
    let o = t.apply(&cfg(
        r#"{"files":[{"path":"/etc2/etc/same"},{"path":"/etc/same"}]}"#,
    ));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("resolve to the same path"),
        "{}",
        text(&o)
    );
}

#[test]
fn units_dropins_masks_and_presets() {
    let t = T::new("units");
    let sys = "/etc/systemd/system";
    std::fs::create_dir_all(t.p(&format!("{sys}/multi-user.target.wants"))).unwrap();
    std::os::unix::fs::symlink(
        "/usr/lib/systemd/system/old.service",
        t.p(&format!("{sys}/multi-user.target.wants/old.service")),
    )
    .unwrap();
    std::os::unix::fs::symlink("/dev/null", t.p(&format!("{sys}/unmask-me.service"))).unwrap();
    ok(t.apply(r#"{"ignition":{"version":"3.3.0"},"systemd":{"units":[
        {"name":"app.service","enabled":true,"contents":"[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
         "dropins":[{"name":"10-env.conf","contents":"[Service]\nEnvironment=A=1\n"}]},
        {"name":"old.service","enabled":false},
        {"name":"bad.service","mask":true},
        {"name":"unmask-me.service","mask":false},
        {"name":"getty@tty1.service","enabled":true},
        {"name":"getty@tty2.service","enabled":true}
    ]}}"#));
    assert!(t
        .read(&format!("{sys}/app.service"))
        .contains("ExecStart=/bin/true"));
    assert_eq!(t.mode(&format!("{sys}/app.service")), 0o644);
    assert_eq!(
        t.read(&format!("{sys}/app.service.d/10-env.conf")),
        "[Service]\nEnvironment=A=1\n"
    );
    assert_eq!(
        std::fs::read_link(t.p(&format!("{sys}/bad.service"))).unwrap(),
        Path::new("/dev/null")
    );
    assert!(std::fs::symlink_metadata(t.p(&format!("{sys}/unmask-me.service"))).is_err());
    assert!(
        std::fs::symlink_metadata(t.p(&format!("{sys}/multi-user.target.wants/old.service")))
            .is_err(),
        "disabled"
    );
    assert_eq!(
        t.read("/etc/systemd/system-preset/20-ignition.preset"),
        "enable app.service\nenable getty@.service tty1 tty2\ndisable old.service\n"
    );
}

#[test]
fn remote_contents_hash_checked_and_nothing_left_on_mismatch() {
    let s = serve(None);
    s.route("/f", vec![Reply::Body(b"remote\n".to_vec())]);
    let t = T::new("remote");
    ok(t.apply(&cfg(&format!(
        r#"{{"files":[{{"path":"/etc/remote","contents":{{"source":"{}"}}}}]}}"#,
        s.url("/f")
    ))));
    assert_eq!(t.read("/etc/remote"), "remote\n");
    let bad = format!("sha256-{}", "0".repeat(64));
    let o = t.apply(&cfg(&format!(
        r#"{{"files":[{{"path":"/etc/bad","contents":{{"source":"{}","verification":{{"hash":"{bad}"}}}}}}]}}"#,
        s.url("/f")
    )));
    assert!(!o.status.success());
    assert!(text(&o).contains("hash mismatch"), "{}", text(&o));
    assert!(!t.p("/etc/bad").exists());
    let leftovers: Vec<_> = std::fs::read_dir(t.p("/etc"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains(".ignis"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn users_groups_and_ssh_keys() {
    if !is_root() {
        common::skip::skip("users_groups_and_ssh_keys", "chown needs root");
        return;
    }
    let t = T::new("users");
    std::fs::write(
        t.p("/etc/shadow"),
        "root:*:19000:0:99999:7:::\ncore:*:19000:0:99999:7:::\n",
    )
    .unwrap();
    std::fs::write(t.p("/etc/gshadow"), "root:*::\ncore:!::\n").unwrap();
    std::fs::write(
        t.p("/etc/login.defs"),
        "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nUSERGROUPS_ENAB yes\n",
    )
    .unwrap();
    std::fs::create_dir_all(t.p("/etc/skel")).unwrap();
    std::fs::write(t.p("/etc/skel/.profile"), "# profile\n").unwrap();
    // A hostile home: a symlink to / must not lead out of the target.
    std::fs::create_dir_all(t.p("/home")).unwrap();
    std::os::unix::fs::symlink("/", t.p("/home/core")).unwrap();
    ok(t.apply(r#"{"ignition":{"version":"3.3.0"},"passwd":{
        "groups":[{"name":"ops","gid":1500}],
        "users":[
            {"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core@a"]},
            {"name":"alice","groups":["ops"],"sshAuthorizedKeys":["ssh-ed25519 AAAA alice@a","ssh-rsa BBBB alice@b"]}
        ]}}"#));
    let passwd = t.read("/etc/passwd");
    assert!(
        passwd.contains("alice:x:1001:1001::/home/alice:/bin/bash"),
        "{passwd}"
    );
    assert!(
        t.read("/etc/group").contains("ops:x:1500:alice"),
        "{}",
        t.read("/etc/group")
    );
    assert_eq!(
        t.read("/home/alice/.ssh/authorized_keys.d/ignition"),
        "ssh-ed25519 AAAA alice@a\nssh-rsa BBBB alice@b\n"
    );
    assert_eq!(t.mode("/home/alice/.ssh/authorized_keys.d/ignition"), 0o600);
    assert_eq!(t.mode("/home/alice/.ssh"), 0o700);
    assert_eq!(
        t.owner("/home/alice/.ssh/authorized_keys.d/ignition"),
        (1001, 1001)
    );
    assert_eq!(
        t.read("/home/alice/.profile"),
        "# profile\n",
        "home made from /etc/skel"
    );
    // core's home is "/" inside the target: the keys land in the target's /.ssh.
    assert_eq!(
        t.read("/.ssh/authorized_keys.d/ignition"),
        "ssh-ed25519 AAAA core@a\n"
    );
}

#[test]
fn mount_stage_directories_in_a_new_home_go_to_the_user() {
    if !is_root() {
        common::skip::skip(
            "mount_stage_directories_in_a_new_home_go_to_the_user",
            "chown needs root",
        );
        return;
    }
    let t = T::new("home-mountpoints");
    // What the mount stage left: /home/bob/data/disk is a mountpoint it created, with its
    // parents; /srv/x is not under any home; /home/bob/link is now a symlink.
    for d in ["/home/bob/data/disk", "/srv/x"] {
        std::fs::create_dir_all(t.p(d)).unwrap();
    }
    std::os::unix::fs::symlink("/srv/x", t.p("/home/bob/link")).unwrap();
    std::fs::write(
        t.dir.join("run/state"),
        r#"{"notatedDirectories":["/home","/home/bob","/home/bob/data","/home/bob/data/disk","/home/bob/link","/srv/x"]}"#,
    )
    .unwrap();
    ok(t.apply(
        r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"bob","sshAuthorizedKeys":["ssh-ed25519 AAAA bob@a"]}]}}"#,
    ));
    let passwd = t.read("/etc/passwd");
    let line = passwd.lines().find(|l| l.starts_with("bob:")).unwrap();
    let uid: u32 = line.split(':').nth(2).unwrap().parse().unwrap();
    let gid: u32 = line.split(':').nth(3).unwrap().parse().unwrap();
    for d in ["/home/bob", "/home/bob/data", "/home/bob/data/disk"] {
        assert_eq!(t.owner(d), (uid, gid), "{d}");
        assert_eq!(t.mode(d), 0o700, "{d}");
    }
    assert_eq!(t.owner("/home"), (0, 0));
    assert_eq!(t.owner("/srv/x"), (0, 0), "reached through the symlink");
    assert_eq!(t.owner("/home/bob/link"), (0, 0));
    assert_eq!(
        t.owner("/home/bob/.ssh/authorized_keys.d/ignition"),
        (uid, gid)
    );
}

#[test]
fn ssh_dir_symlink_is_refused_and_nothing_changes_owner() {
    if !is_root() {
        common::skip::skip(
            "ssh_dir_symlink_is_refused_and_nothing_changes_owner",
            "chown needs root",
        );
        return;
    }
    let t = T::new("sshlink");
    std::fs::create_dir_all(t.p("/home/core")).unwrap();
    std::fs::create_dir_all(t.p("/srv/shared")).unwrap();
    std::os::unix::fs::symlink("/srv/shared", t.p("/home/core/.ssh")).unwrap();
    let o = t.apply(r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core@a"]}]}}"#);
    assert!(!o.status.success());
    assert!(text(&o).contains("not a directory"), "{}", text(&o));
    assert_eq!(
        t.owner("/srv/shared"),
        (0, 0),
        "the symlink's target kept its owner"
    );
    assert!(!t.p("/srv/shared/authorized_keys.d").exists());
}

/// NestOS's root: /home, /opt, /srv, /mnt, /root and /usr/local are links into /var, which is
/// empty at first boot.
fn ostree_shaped(t: &T) {
    std::fs::create_dir_all(t.p("/var")).unwrap();
    std::fs::create_dir_all(t.p("/usr")).unwrap();
    for (l, target) in [
        ("/home", "var/home"),
        ("/opt", "var/opt"),
        ("/srv", "var/srv"),
        ("/mnt", "var/mnt"),
        ("/root", "var/roothome"),
        ("/usr/local", "../var/usrlocal"),
    ] {
        std::os::unix::fs::symlink(target, t.p(l)).unwrap();
    }
}

#[test]
fn ostree_shaped_root_creates_what_the_var_links_lead_to() {
    if !is_root() {
        common::skip::skip(
            "ostree_shaped_root_creates_what_the_var_links_lead_to",
            "chown needs root",
        );
        return;
    }
    let t = T::new("ostree");
    ostree_shaped(&t);
    std::fs::write(t.p("/etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(t.p("/etc/gshadow"), "root:*::\n").unwrap();
    std::fs::write(
        t.p("/etc/login.defs"),
        "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\nUSERGROUPS_ENAB yes\n",
    )
    .unwrap();
    // Two entries on one node through a dangling link: refused before anything is written.
    let o = t.apply(&cfg(r#"{"files":[
        {"path":"/home/nest/x","contents":{"source":"data:,a"}},
        {"path":"/var/home/nest/x","contents":{"source":"data:,b"}}]}"#));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("resolve to the same path in the target (/var/home/nest/x)"),
        "{}",
        text(&o)
    );
    assert_eq!(std::fs::read_dir(t.p("/var")).unwrap().count(), 0);

    let s = serve(None);
    s.route("/conf", vec![Reply::Body(b"remote\n".to_vec())]);
    // The remote file is fetched first, beside its destination: /opt still dangles then.
    ok(t.apply(&r#"{"ignition":{"version":"3.3.0"},
        "passwd":{"users":[{"name":"nest","sshAuthorizedKeys":["ssh-ed25519 AAAA nest@a"]}]},
        "storage":{
          "files":[
            {"path":"/opt/remote.conf","contents":{"source":"@URL@"}},
            {"path":"/home/nest/.ssh/config","contents":{"source":"data:,Host%20*"},"mode":384,"user":{"name":"nest"}},
            {"path":"/root/.bashrc","contents":{"source":"data:,alias%20l=ls"}},
            {"path":"/usr/local/bin/tool","contents":{"source":"data:,%23!/bin/sh"},"mode":493}],
          "directories":[{"path":"/opt/app/data","mode":488},{"path":"/srv/www"}],
          "links":[
            {"path":"/usr/local/bin/t2","target":"tool"},
            {"path":"/mnt/hard","target":"/usr/local/bin/tool","hard":true}]}}"#
        .replace("@URL@", &s.url("/conf"))));
    assert_eq!(t.read("/var/opt/remote.conf"), "remote\n");
    for l in ["/home", "/opt", "/srv", "/mnt", "/root", "/usr/local"] {
        assert!(
            std::fs::symlink_metadata(t.p(l))
                .unwrap()
                .file_type()
                .is_symlink(),
            "{l} is still a link"
        );
    }
    assert!(
        t.read("/etc/passwd")
            .contains("nest:x:1001:1001::/home/nest:/bin/bash"),
        "{}",
        t.read("/etc/passwd")
    );
    assert_eq!(t.owner("/var/home"), (0, 0));
    assert_eq!(t.mode("/var/home"), 0o755);
    assert_eq!(t.owner("/var/home/nest"), (1001, 1001));
    // useradd's default without HOME_MODE (umask 022).
    assert_eq!(t.mode("/var/home/nest"), 0o755);
    assert_eq!(
        t.read("/var/home/nest/.ssh/authorized_keys.d/ignition"),
        "ssh-ed25519 AAAA nest@a\n"
    );
    assert_eq!(t.owner("/var/home/nest/.ssh"), (1001, 1001));
    assert_eq!(t.read("/var/home/nest/.ssh/config"), "Host *");
    assert_eq!(t.mode("/var/home/nest/.ssh/config"), 0o600);
    assert_eq!(t.read("/var/roothome/.bashrc"), "alias l=ls");
    assert_eq!(t.read("/var/usrlocal/bin/tool"), "#!/bin/sh");
    assert_eq!(t.mode("/var/usrlocal/bin/tool"), 0o755);
    assert_eq!(t.mode("/var/usrlocal"), 0o755);
    assert_eq!(t.mode("/var/opt/app/data"), 0o750);
    assert_eq!(t.mode("/var/opt/app"), 0o755);
    assert!(t.p("/var/srv/www").is_dir());
    assert_eq!(
        std::fs::read_link(t.p("/var/usrlocal/bin/t2")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(
        std::fs::metadata(t.p("/var/mnt/hard")).unwrap().ino(),
        std::fs::metadata(t.p("/var/usrlocal/bin/tool"))
            .unwrap()
            .ino()
    );
}

#[test]
fn ssh_keys_for_a_user_without_home_on_an_ostree_root() {
    if !is_root() {
        common::skip::skip(
            "ssh_keys_for_a_user_without_home_on_an_ostree_root",
            "chown needs root",
        );
        return;
    }
    let t = T::new("ostree-nohome");
    ostree_shaped(&t);
    std::fs::write(t.p("/etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    std::fs::write(t.p("/etc/gshadow"), "root:*::\n").unwrap();
    ok(t.apply(
        r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[
            {"name":"ghost","uid":1500,"noCreateHome":true,"sshAuthorizedKeys":["ssh-ed25519 AAAA ghost@a"]}]}}"#,
    ));
    assert_eq!(
        t.read("/var/home/ghost/.ssh/authorized_keys.d/ignition"),
        "ssh-ed25519 AAAA ghost@a\n"
    );
    // The missing home and what is in it go to the user; /var/home above it stays root's.
    let (uid, gid) = t.owner("/var/home/ghost/.ssh");
    assert_eq!(uid, 1500);
    assert_eq!(t.owner("/var/home/ghost"), (uid, gid));
    assert_eq!((t.owner("/var/home"), t.mode("/var/home")), ((0, 0), 0o755));
}

#[test]
fn authorized_keys_file_when_fragments_are_off() {
    if !is_root() {
        common::skip::skip(
            "authorized_keys_file_when_fragments_are_off",
            "chown needs root",
        );
        return;
    }
    let t = T::new("akfile");
    std::fs::create_dir_all(t.p("/home/core/.ssh")).unwrap();
    std::fs::write(
        t.p("/home/core/.ssh/authorized_keys"),
        "ssh-rsa OLD old@a\n",
    )
    .unwrap();
    let cfg = r#"{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core@a"]}]}}"#;
    ok(t.run("fetch", cfg));
    let env = [("IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT", "false")];
    ok(t.run_env("files", cfg, &env));
    // Replaced, as Ignition truncates it; no fragment written.
    assert_eq!(
        t.read("/home/core/.ssh/authorized_keys"),
        "ssh-ed25519 AAAA core@a\n"
    );
    assert_eq!(t.mode("/home/core/.ssh/authorized_keys"), 0o600);
    assert_eq!(t.owner("/home/core/.ssh/authorized_keys"), (1000, 1000));
    assert!(!t.p("/home/core/.ssh/authorized_keys.d").exists());
    // A value Ignition cannot read as a boolean fails the stage.
    let o = t.run_env(
        "files",
        cfg,
        &[("IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT", "maybe")],
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT"),
        "{}",
        text(&o)
    );
}

#[test]
fn result_file_previous_report_and_an_interrupted_first_boot() {
    let t = T::new("result");
    let c =
        cfg(r#"{"files":[{"path":"/etc/a","contents":{"source":"data:,a"},"overwrite":true}]}"#);
    ok(t.apply(&c));
    let first: serde_json::Value =
        serde_json::from_str(&t.read("/etc/.ignition-result.json")).unwrap();
    assert_eq!(
        first["provisioningBootID"],
        "0b8e0f3c-1f6e-4d39-a8f7-4f2b3f0d9c11"
    );
    assert_eq!(first["userConfigProvided"], true);
    assert!(first.get("previousReport").is_none());
    assert_eq!(t.mode("/etc/.ignition-result.json"), 0o600);
    assert!(!t.p("/etc/.ignition-in-progress.json").exists());
    // A later boot whose files stage was cut off (the marker of boot "b-cut" is still there)
    // runs the stages again: a warning says so and the result file records it, next to the
    // report of the run that did finish.
    std::fs::write(
        t.p("/etc/.ignition-in-progress.json"),
        r#"{"bootID":"b-cut","startDate":"2026-12-06T01:00:00Z"}"#,
    )
    .unwrap();
    let o = t.apply(&c);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(
            "WARNING  : first boot interrupted and restarted: a files stage started in boot b-cut"
        ),
        "{out}"
    );
    assert!(
        out.contains("WARNING  : Ignition already ran on this system"),
        "{out}"
    );
    let second: serde_json::Value =
        serde_json::from_str(&t.read("/etc/.ignition-result.json")).unwrap();
    assert_eq!(second["interruptedRun"]["bootID"], "b-cut");
    assert_eq!(second["previousReport"], first);
    assert!(!t.p("/etc/.ignition-in-progress.json").exists());
}

#[test]
fn overwrite_keeps_the_old_file_when_the_new_contents_fail() {
    if !is_root() {
        common::skip::skip(
            "overwrite_keeps_the_old_file_when_the_new_contents_fail",
            "chown needs root",
        );
        return;
    }
    let t = T::new("overwrite-atomic");
    std::fs::write(t.p("/etc/motd"), "old\n").unwrap();
    std::fs::create_dir_all(t.p("/etc/confdir")).unwrap();
    std::fs::write(t.p("/etc/confdir/keep"), "x").unwrap();
    // A wrong hash: the stage fails, and the old file is still there, unchanged.
    let bad = format!("sha512-{}", "0".repeat(128));
    let o = t.apply(&cfg(&format!(
        r#"{{"files":[{{"path":"/etc/motd","overwrite":true,"contents":{{"source":"data:,new%0A","verification":{{"hash":"{bad}"}}}}}}]}}"#
    )));
    assert!(!o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(t.p("/etc/motd")).unwrap(), "old\n");
    // Good contents replace it; a directory in the way goes only once the file is ready.
    let o = t.apply(&cfg(
        r#"{"files":[{"path":"/etc/motd","overwrite":true,"contents":{"source":"data:,new%0A"}},
                     {"path":"/etc/confdir","overwrite":true,"contents":{"source":"data:,f"}}]}"#,
    ));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(t.p("/etc/motd")).unwrap(), "new\n");
    assert_eq!(std::fs::read_to_string(t.p("/etc/confdir")).unwrap(), "f");
    let m = std::fs::metadata(t.p("/etc/motd")).unwrap();
    assert_eq!(
        m.permissions().mode() & 0o7777,
        0o644,
        "treated as a new file"
    );
}

#[test]
fn debug_lines_only_when_asked() {
    // #12 item 4: IGNIS_DEBUG (or ignis.debug / rd.debug on the kernel command line) turns
    // the debug lines on; without it they stay out.
    let t = T::new("debug");
    let c = cfg(r#"{"files":[{"path":"/etc/dbg","contents":{"source":"data:,hi"}}]}"#);
    let f = t.run("fetch", &c);
    assert!(f.status.success(), "{}", text(&f));
    let quiet = t.run("files", &c);
    assert!(quiet.status.success(), "{}", text(&quiet));
    assert!(!text(&quiet).contains("DEBUG"), "{}", text(&quiet));
    std::fs::remove_file(t.p("/etc/dbg")).unwrap();
    let loud = t.run_env("files", &c, &[("IGNIS_DEBUG", "1")]);
    assert!(loud.status.success(), "{}", text(&loud));
    assert!(text(&loud).contains("/etc/dbg: 2 bytes"), "{}", text(&loud));
}

#[test]
fn a_failing_stage_prints_its_error_once() {
    // #12 item 4: the op line names what failed, the stage's failure line gives the error
    // chain; the error itself is printed once, not by both.
    let t = T::new("once");
    std::fs::write(t.p("/etc/afile"), "x").unwrap();
    let o = t.apply(&cfg(
        r#"{"files":[{"path":"/etc/afile/x","contents":{"source":"data:,hi"}}]}"#,
    ));
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert_eq!(
        out.matches("/etc/afile exists and is not a directory")
            .count(),
        1,
        "{out}"
    );
    assert!(
        out.contains("[failed]   writing file $.storage.files.0 \"/etc/afile/x\"\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "files failed: writing files, directories and links: $.storage.files.0 \"/etc/afile/x\": \
             /etc/afile exists and is not a directory"
        ),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(t.p("/etc/afile")).unwrap(), "x");
}
