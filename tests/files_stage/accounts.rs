//! Users, groups and SSH keys, on a plain root and on an ostree-shaped one.

use super::*;

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
fn a_file_in_a_new_home_meets_the_skeleton_copy() {
    // The home does not exist when the files stage plans, but the passwd step fills it from
    // /etc/skel before the file is written: the file must be looked for, not assumed new.
    if !is_root() {
        common::skip::skip(
            "a_file_in_a_new_home_meets_the_skeleton_copy",
            "chown needs root",
        );
        return;
    }
    for (overwrite, want_ok) in [(false, false), (true, true)] {
        let t = T::new(&format!("skelmeet-{overwrite}"));
        std::fs::write(t.p("/etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
        std::fs::write(t.p("/etc/gshadow"), "root:*::\n").unwrap();
        std::fs::create_dir_all(t.p("/etc/skel")).unwrap();
        std::fs::write(t.p("/etc/skel/.profile"), "# skel\n").unwrap();
        std::fs::create_dir_all(t.p("/home")).unwrap();
        let o = t.apply(&format!(
            r#"{{"ignition":{{"version":"3.3.0"}},"passwd":{{"users":[{{"name":"bob"}}]}},
            "storage":{{"files":[{{"path":"/home/bob/.profile","overwrite":{overwrite},
            "contents":{{"source":"data:,mine%0A"}}}}]}}}}"#
        ));
        assert_eq!(o.status.success(), want_ok, "{}", text(&o));
        if want_ok {
            assert_eq!(t.read("/home/bob/.profile"), "mine\n");
        } else {
            assert!(text(&o).contains("overwrite is false"), "{}", text(&o));
        }
    }
}
