//! Paths through symlinked directories whose targets do not exist yet (NestOS's ostree
//! layout; issues #9 and #17).

use super::*;

/// NestOS's ostree layout: /home, /opt, /srv, /mnt, /root and /usr/local are relative links
/// into /var, which holds none of their targets at first boot.
pub(crate) fn seed_ostree(r: &Path) {
    fs::remove_dir_all(p(r, "/home")).unwrap();
    fs::remove_dir_all(p(r, "/root")).unwrap();
    mkdir(r, "/usr");
    for (l, t) in [
        ("/home", "var/home"),
        ("/opt", "var/opt"),
        ("/srv", "var/srv"),
        ("/mnt", "var/mnt"),
        ("/root", "var/roothome"),
        ("/usr/local", "../var/usrlocal"),
    ] {
        symlink(r, t, l);
    }
}

/// The same with core's home already in /var/home, as NestOS's initrd prepares it.
pub(crate) fn seed_ostree_homes(r: &Path) {
    seed_ostree(r);
    write(r, "/var/home/core/.bashrc", "# core's bashrc\n");
    chmod(r, "/var/home/core", 0o700);
    chown(r, "/var/home/core", 1000, 1000);
    chown(r, "/var/home/core/.bashrc", 1000, 1000);
}

pub(crate) fn ostree_cases() -> Vec<Case> {
    vec![
        case(
            "ostree: files, directories and links through dangling /var links",
            "3.3.0",
            r#""storage":{
                "files":[
                    {"path":"/home/nest/.ssh/config","contents":{"source":"data:,Host%20*"},"mode":384,"user":{"id":1000}},
                    {"path":"/root/.bashrc","contents":{"source":"data:,alias%20l=ls"}},
                    {"path":"/usr/local/bin/tool","contents":{"source":"data:,%23!/bin/sh"},"mode":493},
                    {"path":"/opt/app/conf"}],
                "directories":[{"path":"/srv/www"},{"path":"/opt/app/data","mode":488,"group":{"id":1000}}],
                "links":[
                    {"path":"/usr/local/bin/t2","target":"tool"},
                    {"path":"/mnt/hard","target":"/usr/local/bin/tool","hard":true}]}"#,
            seed_ostree,
            true,
        ),
        case(
            "ostree: two entries on one node through a dangling link",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/home/nest/x","contents":{"source":"data:,a"}},
                {"path":"/var/home/nest/x","contents":{"source":"data:,b"}}]}"#,
            seed_ostree,
            false,
        ),
        case(
            "ostree: SSH keys for a user whose home is through /home",
            "3.3.0",
            r#""passwd":{"users":[{"name":"core","sshAuthorizedKeys":["ssh-ed25519 AAAA core@a"]}]}"#,
            seed_ostree_homes,
            true,
        ),
        case(
            "ostree: a new user's home under /home",
            "3.3.0",
            r#""passwd":{"users":[{"name":"nest","groups":["wheel"],"sshAuthorizedKeys":["ssh-ed25519 AAAA nest@a"]}]}"#,
            seed_ostree_homes,
            true,
        ),
        case(
            "files: dangling absolute and climbing links resolve inside the root",
            "3.3.0",
            r#""storage":{
                "files":[
                    {"path":"/escape/abs/f","contents":{"source":"data:,a"}},
                    {"path":"/x/up/deep/f","contents":{"source":"data:,b"}}],
                "directories":[{"path":"/escape/rel/d","mode":448}],
                "links":[{"path":"/escape/abs/l","target":"/etc/passwd"}]}"#,
            |r| {
                symlink(r, "/some/dir", "/escape/abs");
                symlink(r, "../../../../../y", "/x/up");
                symlink(r, "../rel-target/sub", "/escape/rel");
            },
            true,
        ),
        case(
            "files: a chain of dangling links",
            "3.3.0",
            r#""storage":{"files":[{"path":"/c1/f","contents":{"source":"data:,a"}}]}"#,
            |r| {
                symlink(r, "c2", "/c1");
                symlink(r, "/var/c3", "/c2");
            },
            false,
        ),
    ]
}
