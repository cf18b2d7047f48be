//! The differential cases for users and groups, and configs mixing every kind of entry.

use super::*;

pub(crate) fn passwd_cases() -> Vec<Case> {
    vec![
        case(
            "users: add with every field",
            "3.3.0",
            r#""passwd":{"users":[{"name":"alice","uid":1500,"primaryGroup":"users","groups":["wheel","adm"],
                "homeDir":"/var/home/alice","shell":"/bin/sh","gecos":"Alice A","passwordHash":"$6$s$alicehash",
                "sshAuthorizedKeys":["ssh-ed25519 AAAAC3Nza alice@a","ssh-rsa AAAAB3Nza alice@b"]}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: system, noCreateHome, noUserGroup",
            "3.0.0",
            r#""passwd":{"users":[
                {"name":"sys1","system":true},
                {"name":"nohome","noCreateHome":true},
                {"name":"nogrp","noUserGroup":true},
                {"name":"all3","system":true,"noCreateHome":true,"noUserGroup":true,"shell":"/usr/sbin/nologin"}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: modify an existing user",
            "3.3.0",
            r#""passwd":{"users":[{"name":"core","shell":"/bin/sh","gecos":"Changed","groups":["users"],
                "passwordHash":"$6$n$newhash","sshAuthorizedKeys":["ssh-ed25519 AAAA core@new"]}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: ssh keys replace an existing fragment",
            "3.1.0",
            r#""passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA one","ssh-ed25519 AAAA two"]}]}"#,
            |r| {
                write(
                    r,
                    "/home/core/.ssh/authorized_keys.d/ignition",
                    "ssh-rsa OLD old\nssh-rsa OLD2 old2\nssh-rsa OLD3 old3\n",
                );
                write(r, "/home/core/.ssh/authorized_keys", "ssh-rsa KEEP keep\n");
                for f in [
                    "/home/core/.ssh",
                    "/home/core/.ssh/authorized_keys.d",
                    "/home/core/.ssh/authorized_keys.d/ignition",
                    "/home/core/.ssh/authorized_keys",
                ] {
                    chown(r, f, 1000, 1000);
                }
                chmod(r, "/home/core/.ssh", 0o700);
                chmod(r, "/home/core/.ssh/authorized_keys.d/ignition", 0o644);
            },
            true,
        ),
        case(
            "users: keys for an existing user, no /etc/.pwd.lock",
            "3.3.0",
            r#""passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core"]}]}"#,
            |r| fs::remove_file(p(r, "/etc/.pwd.lock")).unwrap(),
            false,
        ),
        case(
            "users: delete users",
            "3.2.0",
            r#""passwd":{"users":[{"name":"core","shouldExist":false},{"name":"absent","shouldExist":false}]}"#,
            no_seed,
            true,
        ),
        case(
            "groups: add and delete",
            "3.2.0",
            r#""passwd":{"groups":[
                {"name":"devs","gid":3000},
                {"name":"svc","system":true},
                {"name":"locked","passwordHash":"$6$g$grouphash"},
                {"name":"adm","shouldExist":false},
                {"name":"gone","shouldExist":false}]}"#,
            no_seed,
            true,
        ),
        case(
            "groups: modify an existing group",
            "3.2.0",
            r#""passwd":{"groups":[{"name":"users","gid":101}]}"#,
            no_seed,
            false,
        ),
        case(
            "users: groups and users together, keys for a new user",
            "3.3.0",
            r#""passwd":{
                "groups":[{"name":"ops","gid":5000}],
                "users":[
                    {"name":"bob","primaryGroup":"ops","groups":["wheel"],"sshAuthorizedKeys":["ssh-ed25519 AAAA bob"]},
                    {"name":"carol","groups":["ops"]}]},
               "storage":{"files":[{"path":"/home/bob/.config/app/conf","user":{"name":"bob"},"group":{"name":"ops"},"contents":{"source":"data:,x"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "users: unknown supplementary group",
            "3.3.0",
            r#""passwd":{"users":[{"name":"dave","groups":["nosuch"]}]}"#,
            no_seed,
            false,
        ),
        case(
            "users: uid taken",
            "3.3.0",
            r#""passwd":{"users":[{"name":"erin","uid":1000}]}"#,
            no_seed,
            false,
        ),
        case(
            "users: existing home directory",
            "3.3.0",
            r#""passwd":{"users":[{"name":"frank","homeDir":"/srv/frank","sshAuthorizedKeys":["ssh-ed25519 AAAA frank"]}]}"#,
            |r| write(r, "/srv/frank/readme", "pre-existing\n"),
            false,
        ),
    ]
}

pub(crate) fn seed_lived_in(r: &Path) {
    write(r, "/etc/hostname", "old-host\n");
    write(r, "/etc/sysconfig/network", "NETWORKING=yes\n");
    chmod(r, "/etc/sysconfig", 0o750);
    mkdir(r, "/var/lib/app");
    chown(r, "/var/lib/app", 1000, 1000);
    symlink(r, "../usr/share/zoneinfo/UTC", "/etc/localtime");
    write(r, "/usr/share/zoneinfo/UTC", "TZif\n");
    write(r, "/usr/share/zoneinfo/Europe/Berlin", "TZif2\n");
    write(
        r,
        "/usr/lib/systemd/system/docker.service",
        "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/docker.service",
        "/etc/systemd/system/multi-user.target.wants/docker.service",
    );
    symlink(
        r,
        "/usr/lib/systemd/system/sshd.service",
        "/etc/systemd/system/multi-user.target.wants/sshd.service",
    );
    write(r, "/usr/lib/systemd/system/sshd.service", "[Service]\n");
    write(r, "/etc/motd", "welcome\n");
    hardlink(r, "/etc/motd", "/etc/motd.hard");
    let extra_passwd = "old:x:1001:1001::/home/old:/bin/sh\n";
    let mut pw = fs::read_to_string(p(r, "/etc/passwd")).unwrap();
    pw.push_str(extra_passwd);
    fs::write(p(r, "/etc/passwd"), pw).unwrap();
    let mut sh = fs::read_to_string(p(r, "/etc/shadow")).unwrap();
    sh.push_str("old:!:19000:0:99999:7:::\n");
    fs::write(p(r, "/etc/shadow"), sh).unwrap();
    let mut gr = fs::read_to_string(p(r, "/etc/group")).unwrap();
    gr.push_str("old:x:1001:\ndocker:x:990:core\n");
    fs::write(p(r, "/etc/group"), gr).unwrap();
    let mut gs = fs::read_to_string(p(r, "/etc/gshadow")).unwrap();
    gs.push_str("old:!::\ndocker:!::core\n");
    fs::write(p(r, "/etc/gshadow"), gs).unwrap();
    write(r, "/home/old/file", "old's\n");
    chown(r, "/home/old", 1001, 1001);
    chown(r, "/home/old/file", 1001, 1001);
}

pub(crate) fn mixed_cases() -> Vec<Case> {
    vec![
        case(
            "seeded root: a typical first-boot config",
            "3.3.0",
            &format!(
                r#""passwd":{{"users":[
                    {{"name":"core","groups":["docker"],"sshAuthorizedKeys":["ssh-ed25519 AAAA core"]}},
                    {{"name":"old","shouldExist":false}},
                    {{"name":"app","system":true,"noCreateHome":true,"homeDir":"/var/lib/app"}}]}},
                   "storage":{{
                    "files":[
                        {{"path":"/etc/hostname","overwrite":true,"contents":{{"source":"data:,node1%0A"}},"mode":420}},
                        {{"path":"/etc/sysconfig/network","append":[{{"source":"data:,GATEWAY=10.0.0.1%0A"}}]}},
                        {{"path":"/var/lib/app/config.yaml","user":{{"name":"app"}},"group":{{"name":"app"}},"mode":416,"contents":{{"source":"@SRV@/plain"}}}},
                        {{"path":"/etc/motd","append":[{{"source":"data:,node1%0A"}}]}}],
                    "directories":[{{"path":"/var/lib/app","user":{{"name":"app"}},"group":{{"name":"app"}},"mode":488}},
                                   {{"path":"/var/log/app/archive","mode":448}}],
                    "links":[{{"path":"/etc/localtime","target":"../usr/share/zoneinfo/Europe/Berlin","overwrite":true}},
                             {{"path":"/usr/local/bin/app","target":"/var/lib/app/config.yaml"}}]}},
                   "systemd":{{"units":[
                    {{"name":"docker.service","enabled":false}},
                    {{"name":"app.service","enabled":true,"contents":"{APP_UNIT}"}},
                    {{"name":"sshd.service","dropins":[{{"name":"10-port.conf","contents":"[Service]\nEnvironment=PORT=2222\n"}}]}},
                    {{"name":"getty@ttyS0.service","enabled":true}},
                    {{"name":"old.service","mask":true}}]}}"#
            ),
            seed_lived_in,
            true,
        ),
        case(
            "seeded root: conflicting link aborts",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/zzz","contents":{"source":"data:,z"}}],
                 "links":[{"path":"/etc/localtime","target":"../usr/share/zoneinfo/Europe/Berlin"}]}"#,
            seed_lived_in,
            false,
        ),
        case(
            "everything empty",
            "3.0.0",
            r#""storage":{},"systemd":{},"passwd":{}"#,
            no_seed,
            true,
        ),
        case(
            "no SELinux config in the target",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/x","contents":{"source":"data:,x"}}]}"#,
            |r| {
                fs::remove_dir_all(p(r, "/etc/selinux")).unwrap();
            },
            false,
        ),
    ]
}
