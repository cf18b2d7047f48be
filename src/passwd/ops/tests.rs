//! Plans from passwd configs against in-memory databases: new, modified and deleted users and
//! groups, altfiles, login.defs defaults, error messages and name rules.

use super::*;
use serde_json::json;

const DEFS: &str = "UID_MIN 1000\nUID_MAX 60000\nGID_MIN 1000\nGID_MAX 60000\n\
    PASS_MIN_DAYS 0\nPASS_MAX_DAYS 99999\nPASS_WARN_AGE 7\nUSERGROUPS_ENAB yes\nUMASK 022\n";

fn inputs() -> Inputs {
    let mut i = Inputs {
        today: 19675,
        login_defs: Some(DEFS.as_bytes().to_vec()),
        useradd_defaults: Some(b"SHELL=/bin/sh\n".to_vec()),
        ..Inputs::default()
    };
    for (f, body) in [
        (
            DbFile::Passwd,
            "root:x:0:0:root:/root:/bin/bash\nold:x:1000:1000::/home/old:/bin/sh\n",
        ),
        (
            DbFile::Shadow,
            "root:*:19000:0:99999:7:::\nold:$6$o:19000:0:99999:7:::\n",
        ),
        (
            DbFile::Group,
            "root:x:0:\nwheel:x:10:old\nusers:x:100:\nold:x:1000:\n",
        ),
        (
            DbFile::Gshadow,
            "root:*::\nwheel:*:old:old\nusers:*::\nold:!::\n",
        ),
        (DbFile::Subuid, "old:100000:65536\n"),
        (DbFile::Subgid, "old:100000:65536\n"),
    ] {
        i.files.insert(f, body.as_bytes().to_vec());
    }
    i
}

fn run(i: &Inputs, cfg: serde_json::Value) -> Result<Plan> {
    let groups: Vec<PasswdGroup> =
        serde_json::from_value(cfg.get("groups").cloned().unwrap_or(json!([]))).unwrap();
    let users: Vec<PasswdUser> =
        serde_json::from_value(cfg.get("users").cloned().unwrap_or(json!([]))).unwrap();
    plan(i, &groups, &users)
}

fn file(p: &Plan, f: DbFile) -> String {
    p.files
        .iter()
        .find(|(g, _)| *g == f)
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn last_line(p: &Plan, f: DbFile) -> String {
    file(p, f).lines().last().unwrap_or_default().to_string()
}

#[test]
fn new_user_gets_user_group_shadow_subids_and_home() {
    let p = run(
        &inputs(),
        json!({"users": [{"name": "core", "passwordHash": "$6$h"}]}),
    )
    .unwrap();
    assert_eq!(
        last_line(&p, DbFile::Passwd),
        "core:x:1001:1001::/home/core:/bin/sh"
    );
    assert_eq!(
        last_line(&p, DbFile::Shadow),
        "core:$6$h:19675:0:99999:7:::"
    );
    assert_eq!(last_line(&p, DbFile::Group), "core:x:1001:");
    assert_eq!(last_line(&p, DbFile::Gshadow), "core:!::");
    assert_eq!(last_line(&p, DbFile::Subuid), "core:165536:65536");
    assert_eq!(
        p.homes,
        vec![HomeOp::Create {
            user: "core".into(),
            path: "/home/core".into(),
            uid: 1001,
            gid: 1001,
            mode: 0o755,
            skel: "/etc/skel".into(),
        }]
    );
    assert_eq!(p.accounts[0].home, "/home/core");
    assert!(p.ops.iter().all(|o| !o.contains("$6$")));
}

#[test]
fn system_user_has_no_aging_and_no_subids() {
    let p = run(
        &inputs(),
        json!({"users": [{"name": "svc", "system": true, "noCreateHome": true}]}),
    )
    .unwrap();
    assert_eq!(
        last_line(&p, DbFile::Passwd),
        "svc:x:999:999::/home/svc:/bin/sh"
    );
    assert_eq!(last_line(&p, DbFile::Shadow), "svc:*:19675::::::");
    assert!(file(&p, DbFile::Subuid).is_empty());
    assert!(p.homes.is_empty());
}

#[test]
fn without_shadow_files_hashes_live_in_passwd_and_group() {
    let mut i = inputs();
    i.files.remove(&DbFile::Shadow);
    i.files.remove(&DbFile::Gshadow);
    let p = run(
        &i,
        json!({"groups": [{"name": "g", "passwordHash": "GH"}], "users": [{"name": "u", "passwordHash": "H"}]}),
    )
    .unwrap();
    assert!(file(&p, DbFile::Passwd).contains("u:H:1001:1002::/home/u:/bin/sh"));
    assert!(file(&p, DbFile::Group).contains("g:GH:1001:\nu:!:1002:\n"));
    assert!(p
        .files
        .iter()
        .all(|(f, _)| *f != DbFile::Shadow && *f != DbFile::Gshadow));
}

#[test]
fn altfiles_names_resolve_and_ids_are_skipped() {
    let mut i = inputs();
    i.alt_passwd = Some(b"alt:x:1001:1001::/:/sbin/nologin\n".to_vec());
    i.alt_group = Some(b"alt:x:1001:\ndocker:x:1002:\n".to_vec());
    let p = run(
        &i,
        json!({"users": [{"name": "n", "primaryGroup": "docker"}]}),
    )
    .unwrap();
    assert_eq!(
        last_line(&p, DbFile::Passwd),
        "n:x:1002:1002::/home/n:/bin/sh"
    );
    // useradd -G only knows /etc/group; usermod -G resolves through NSS but edits /etc/group only.
    let e = run(&i, json!({"users": [{"name": "m", "groups": ["docker"]}]})).unwrap_err();
    assert!(e.to_string().contains("user \"m\""), "{e}");
    assert!(
        e.to_string().contains("group 'docker' does not exist"),
        "{e}"
    );
    let p = run(
        &i,
        json!({"users": [{"name": "old", "groups": ["docker", "users"]}]}),
    )
    .unwrap();
    assert!(file(&p, DbFile::Group).contains("wheel:x:10:\nusers:x:100:old\n"));
    // A user only in /usr/lib/passwd exists, but usermod cannot edit it.
    let e = run(
        &i,
        json!({"users": [{"name": "alt", "shell": "/bin/bash"}]}),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("does not exist in /etc/passwd"),
        "{e}"
    );
    assert!(run(&i, json!({"users": [{"name": "alt"}]}))
        .unwrap()
        .files
        .is_empty());
}

#[test]
fn usermod_replaces_groups_and_moves_home() {
    let p = run(
        &inputs(),
        json!({"users": [{"name": "old", "groups": ["users"], "homeDir": "/home/new/", "uid": 1500}]}),
    )
    .unwrap();
    assert!(file(&p, DbFile::Passwd).contains("old:x:1500:1000::/home/new:/bin/sh"));
    assert!(file(&p, DbFile::Group).contains("wheel:x:10:\nusers:x:100:old\n"));
    // Admin lists are left alone.
    assert!(file(&p, DbFile::Gshadow).contains("wheel:*:old:\nusers:*::old\n"));
    assert!(p.homes.contains(&HomeOp::Move {
        user: "old".into(),
        from: "/home/old".into(),
        to: "/home/new".into(),
        old_uid: 1000,
        new_uid: Some(1500),
        old_gid: 1000,
        new_gid: None,
    }));
}

#[test]
fn usermod_password_updates_lastchg_and_nothing_else_changes_nothing() {
    let p = run(
        &inputs(),
        json!({"users": [{"name": "old", "passwordHash": "$6$n"}]}),
    )
    .unwrap();
    assert_eq!(
        file(&p, DbFile::Shadow).lines().nth(1),
        Some("old:$6$n:19675:0:99999:7:::")
    );
    let p = run(
        &inputs(),
        json!({"users": [{"name": "old", "shell": "/bin/sh"}]}),
    )
    .unwrap();
    assert!(p.files.is_empty() && p.homes.is_empty());
}

#[test]
fn userdel_removes_memberships_user_group_subids_and_home() {
    let p = run(
        &inputs(),
        json!({"users": [{"name": "old", "shouldExist": false}]}),
    )
    .unwrap();
    assert_eq!(
        file(&p, DbFile::Group),
        "root:x:0:\nwheel:x:10:\nusers:x:100:\n"
    );
    assert_eq!(
        file(&p, DbFile::Gshadow),
        "root:*::\nwheel:*::\nusers:*::\n"
    );
    assert_eq!(file(&p, DbFile::Subuid), "");
    assert!(p
        .files
        .iter()
        .any(|(f, b)| *f == DbFile::Subuid && b.is_empty()));
    assert!(p.homes.contains(&HomeOp::Remove {
        user: "old".into(),
        path: "/home/old".into(),
        uid: 1000
    }));
    // Deleting an absent user is a no-op.
    assert!(run(
        &inputs(),
        json!({"users": [{"name": "nope", "shouldExist": false}]})
    )
    .unwrap()
    .files
    .is_empty());
}

#[test]
fn groups_add_modify_delete() {
    let p = run(
        &inputs(),
        json!({"groups": [
            {"name": "a"}, {"name": "b", "system": true, "gid": 500, "passwordHash": "GH"},
            {"name": "old", "gid": 2000}, {"name": "wheel", "shouldExist": false}
        ]}),
    )
    .unwrap();
    assert_eq!(
        file(&p, DbFile::Group),
        "root:x:0:\nusers:x:100:\nold:x:2000:\na:x:1001:\nb:x:500:\n"
    );
    assert_eq!(
        file(&p, DbFile::Gshadow),
        "root:*::\nusers:*::\nold:!::\na:!::\nb:GH::\n"
    );
    // groupmod --gid moves the users whose primary group it was.
    assert!(file(&p, DbFile::Passwd).contains("old:x:1000:2000:"));
}

#[test]
fn errors_name_the_entry() {
    let cases = [
        (
            json!({"users": [{"name": "d", "uid": 1000}]}),
            "UID 1000 is not unique",
        ),
        (
            json!({"users": [{"name": "d", "primaryGroup": "nope"}]}),
            "group 'nope' does not exist",
        ),
        (json!({"users": [{"name": "users"}]}), "group users exists"),
        (json!({"users": [{"name": "-x"}]}), "invalid user name"),
        (
            json!({"users": [{"name": "d", "uid": -5}]}),
            "invalid user ID",
        ),
        (
            json!({"users": [{"name": "d", "gecos": "a:b"}]}),
            "invalid comment",
        ),
        (
            json!({"users": [{"name": "d", "homeDir": "rel"}]}),
            "invalid home directory",
        ),
        (
            json!({"groups": [{"name": "g", "gid": 10}]}),
            "GID '10' already exists",
        ),
        (
            json!({"groups": [{"name": "old", "shouldExist": false}]}),
            "primary group of user 'old'",
        ),
    ];
    for (cfg, want) in cases {
        let e = run(&inputs(), cfg.clone()).unwrap_err().to_string();
        assert!(e.contains(want), "{cfg}: {e}");
        assert!(e.starts_with("$.passwd."), "{e}");
    }
}

#[test]
fn login_defs_and_defaults_shape_new_users() {
    let mut i = inputs();
    i.login_defs = Some(
        format!(
            "{DEFS}USERGROUPS_ENAB no\nHOME_MODE 0700\nUID_MIN 5000\nMAIL_DIR /var/spool/mail\n"
        )
        .into_bytes(),
    );
    i.useradd_defaults = Some(
        b"GROUP=users\nHOME=/var/home\nSHELL=/bin/zsh\nINACTIVE=7\nEXPIRE=100\nCREATE_MAIL_SPOOL=yes\n"
            .to_vec(),
    );
    let p = run(&i, json!({"users": [{"name": "z"}]})).unwrap();
    assert_eq!(
        last_line(&p, DbFile::Passwd),
        "z:x:5000:100::/var/home/z:/bin/zsh"
    );
    assert_eq!(last_line(&p, DbFile::Shadow), "z:*:19675:0:99999:7:7:100:");
    assert!(matches!(p.homes[0], HomeOp::Create { mode: 0o700, .. }));
    assert!(p.homes.contains(&HomeOp::CreateMailbox {
        user: "z".into(),
        path: "/var/spool/mail/z".into(),
        uid: 5000,
        gid: 100,
        mode: 0o600,
    }));
}

#[test]
fn later_entries_see_earlier_ones() {
    let p = run(
        &inputs(),
        json!({"groups": [{"name": "dev"}], "users": [
            {"name": "a", "primaryGroup": "dev", "groups": ["dev", "wheel"]},
            {"name": "b"}
        ]}),
    )
    .unwrap();
    let pw = file(&p, DbFile::Passwd);
    assert!(
        pw.contains("a:x:1001:1001::/home/a:/bin/sh\nb:x:1002:1002::/home/b:/bin/sh\n"),
        "{pw}"
    );
    assert!(file(&p, DbFile::Group).contains("wheel:x:10:old,a\n"));
    assert!(file(&p, DbFile::Group).contains("dev:x:1001:a\nb:x:1002:\n"));
    assert_eq!(
        file(&p, DbFile::Subuid),
        "old:100000:65536\na:165536:65536\nb:231072:65536\n"
    );
}

#[test]
fn names_follow_the_portable_rule() {
    for ok in ["core", "a.b", "_x", "A1", "m$", "a-b"] {
        assert!(valid_name(ok), "{ok}");
    }
    for bad in [
        "",
        "-a",
        "123",
        ".",
        "..",
        "a b",
        "a:b",
        "a$b",
        &"x".repeat(33),
    ] {
        assert!(!valid_name(bad), "{bad}");
    }
}
