//! Files, directories, links and units: contents, modes, owners, overwrite rules, node
//! types, confinement to the root, remote contents.

use super::*;

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
fn a_hard_link_where_a_deeper_entry_made_a_directory_is_looked_at() {
    // /n/d does not exist when planned, but the file below it through the symlink /m
    // (written before hard links) makes it a directory: the link meets that directory, as it
    // would without the plan.
    if !is_root() {
        common::skip::skip(
            "a_hard_link_where_a_deeper_entry_made_a_directory_is_looked_at",
            "chown needs root",
        );
        return;
    }
    let t = T::new("linkoverdir");
    std::fs::write(t.p("/etc/target"), "t\n").unwrap();
    std::os::unix::fs::symlink("/n", t.p("/m")).unwrap();
    let o = t.apply(&cfg(
        r#"{"files":[{"path":"/m/d/f","contents":{"source":"data:,x"}}],
        "links":[{"path":"/n/d","target":"/etc/target","hard":true}]}"#,
    ));
    assert!(!o.status.success());
    assert!(
        text(&o).contains("a directory exists there that is not the configured link"),
        "{}",
        text(&o)
    );
}

/// On a filesystem mounted `grpid` a new file takes its directory's group, set-gid or not:
/// a file written there without a group in the config still ends root's, as Ignition's
/// chown leaves it (the stage must not assume the group a new file gets).
#[test]
fn a_grpid_mount_does_not_decide_a_new_files_group() {
    let test = "a_grpid_mount_does_not_decide_a_new_files_group";
    if !is_root() {
        common::skip::skip(test, "mount and chown need root");
        return;
    }
    let t = T::new("grpid");
    let img = t.dir.join("grpid.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    let mk = Command::new("mkfs.ext4")
        .args(["-q", "-F"])
        .arg(&img)
        .output()
        .unwrap();
    assert!(mk.status.success(), "mkfs.ext4: {}", text(&mk));
    let at = t.p("/srv/g");
    std::fs::create_dir_all(&at).unwrap();
    let m = Command::new("mount")
        .args(["-o", "loop,grpid"])
        .arg(&img)
        .arg(&at)
        .output()
        .unwrap();
    assert!(m.status.success(), "mount: {}", text(&m));
    std::os::unix::fs::chown(&at, Some(0), Some(1000)).unwrap();
    // And without grpid, a directory of group 1000: a new file there is root's group until
    // the configured group is set.
    std::fs::create_dir_all(t.p("/srv/p")).unwrap();
    std::os::unix::fs::chown(t.p("/srv/p"), Some(0), Some(1000)).unwrap();
    let o = t.apply(&cfg(r#"{"files":[
            {"path":"/srv/g/f","contents":{"source":"data:,x"}},
            {"path":"/srv/p/f","contents":{"source":"data:,x"},"group":{"id":1000}}],
        "directories":[{"path":"/srv/g/d"},{"path":"/srv/p/d","group":{"id":1000}}]}"#));
    let owners = [
        t.owner("/srv/g/f"),
        t.owner("/srv/g/d"),
        t.owner("/srv/p/f"),
        t.owner("/srv/p/d"),
    ];
    let _ = Command::new("umount").arg(&at).output();
    ok(o);
    assert_eq!(owners, [(0, 0), (0, 0), (0, 1000), (0, 1000)]);
}
