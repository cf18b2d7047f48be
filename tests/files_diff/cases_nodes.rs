//! The differential cases for `storage.directories` and `storage.links`.

use super::*;

pub(crate) fn directory_cases() -> Vec<Case> {
    vec![
        case(
            "directories: create with modes and new parents",
            "3.0.0",
            r#""storage":{"directories":[
                {"path":"/var/lib/app/data","mode":488},
                {"path":"/srv/plain"},
                {"path":"/srv/private","mode":448},
                {"path":"/srv/open","mode":511}]}"#,
            no_seed,
            true,
        ),
        case(
            "directories: existing, new mode and owner",
            "3.3.0",
            r#""storage":{"directories":[
                {"path":"/var/exist","mode":493},
                {"path":"/var/exist-owner","user":{"name":"core"},"group":{"id":10}},
                {"path":"/var/exist-plain"}]}"#,
            |r| {
                for d in ["/var/exist", "/var/exist-owner", "/var/exist-plain"] {
                    write(r, &format!("{d}/child"), "child\n");
                    chmod(r, d, 0o700);
                    chown(r, d, 1000, 1000);
                }
            },
            true,
        ),
        case(
            "directories: owners on new directories",
            "3.2.0",
            r#""storage":{"directories":[
                {"path":"/var/owned/by/core","user":{"name":"core"},"group":{"name":"core"},"mode":448},
                {"path":"/var/owned-id","user":{"id":4000},"group":{"id":4001}}]}"#,
            no_seed,
            true,
        ),
        case(
            "directories: overwrite a file",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/etc/wasfile","overwrite":true,"mode":493}]}"#,
            |r| write(r, "/etc/wasfile", "file\n"),
            true,
        ),
        case(
            "directories: a file in the way, no overwrite",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/etc/wasfile"}]}"#,
            |r| write(r, "/etc/wasfile", "file\n"),
            false,
        ),
        case(
            "directories: a symlink to a directory in the way",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/var/ld","mode":448}]}"#,
            |r| {
                mkdir(r, "/var/realdir");
                symlink(r, "/var/realdir", "/var/ld");
            },
            false,
        ),
        case(
            "directories: listed deep first, created shallow first",
            "3.1.0",
            r#""storage":{"directories":[
                {"path":"/a/b/c","mode":448},
                {"path":"/a","mode":457},
                {"path":"/a/b","mode":488,"user":{"id":1000}}]}"#,
            no_seed,
            true,
        ),
        case(
            "directories: special mode bits below spec 3.6",
            "3.3.0",
            r#""storage":{"directories":[{"path":"/var/tmpdir","mode":1023}]}"#,
            no_seed,
            true,
        ),
    ]
}

pub(crate) fn link_cases() -> Vec<Case> {
    vec![
        case(
            "links: symlinks, absolute, relative, broken, owned",
            "3.0.0",
            r#""storage":{"files":[{"path":"/opt/tool","mode":493,"contents":{"source":"data:,tool"}}],
               "links":[
                {"path":"/usr/local/bin/tool","target":"/opt/tool"},
                {"path":"/etc/rel","target":"../opt/tool"},
                {"path":"/etc/broken","target":"/nonexistent/x"},
                {"path":"/etc/owned-link","target":"/opt/tool","user":{"name":"core"},"group":{"id":100}}]}"#,
            no_seed,
            true,
        ),
        case(
            "links: existing symlink matches",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/l","target":"/opt/t"},{"path":"/etc/l2","target":"/opt/./t/"}]}"#,
            |r| {
                symlink(r, "/opt/t", "/etc/l");
                symlink(r, "/opt/t", "/etc/l2");
            },
            true,
        ),
        case(
            "links: existing symlink differs, no overwrite",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/aaa","target":"/x"},{"path":"/etc/l","target":"/opt/other"}]}"#,
            |r| symlink(r, "/opt/t", "/etc/l"),
            false,
        ),
        case(
            "links: overwrite a symlink, a file and a directory",
            "3.3.0",
            r#""storage":{"links":[
                {"path":"/etc/l","target":"/opt/new","overwrite":true},
                {"path":"/etc/f","target":"/opt/new","overwrite":true},
                {"path":"/etc/d","target":"/opt/new","overwrite":true}]}"#,
            |r| {
                symlink(r, "/opt/old", "/etc/l");
                write(r, "/etc/f", "file\n");
                write(r, "/etc/d/inner", "inner\n");
            },
            true,
        ),
        case(
            "links: a directory in the way, no overwrite",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/d","target":"/opt/new"}]}"#,
            |r| mkdir(r, "/etc/d"),
            false,
        ),
        case(
            "links: hard links to files, deeper files first",
            "3.2.0",
            r#""storage":{"files":[
                {"path":"/opt/data","contents":{"source":"data:,data"}},
                {"path":"/x/y/z/w/deep","contents":{"source":"data:,deep"}}],
               "links":[
                {"path":"/opt/hard","target":"/opt/data","hard":true},
                {"path":"/h","target":"/x/y/z/w/deep","hard":true},
                {"path":"/etc/hard-seeded","target":"/etc/passwd","hard":true}]}"#,
            no_seed,
            true,
        ),
        case(
            "links: existing hard link matches",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"/etc/orig","hard":true}]}"#,
            |r| {
                write(r, "/etc/orig", "orig\n");
                hardlink(r, "/etc/orig", "/etc/h");
            },
            true,
        ),
        case(
            "links: overwrite with a hard link",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"/etc/orig","hard":true,"overwrite":true}]}"#,
            |r| {
                write(r, "/etc/orig", "orig\n");
                write(r, "/etc/h", "other\n");
            },
            true,
        ),
        case(
            "links: hard link to a missing target",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"/etc/nothing-here","hard":true}]}"#,
            no_seed,
            false,
        ),
        case(
            "links: hard link to a symlink",
            "3.3.0",
            r#""storage":{"links":[
                {"path":"/etc/sym","target":"/etc/orig"},
                {"path":"/etc/hard-to-sym","target":"/etc/sym","hard":true}]}"#,
            |r| write(r, "/etc/orig", "orig\n"),
            true,
        ),
        case(
            "links: hard link with a relative target",
            "3.3.0",
            r#""storage":{"links":[{"path":"/etc/h","target":"orig","hard":true}]}"#,
            |r| write(r, "/etc/orig", "orig\n"),
            false,
        ),
        case(
            "links: a new symlink takes the owner of what it points to",
            "3.3.0",
            r#""storage":{"links":[
                {"path":"/etc/l-file","target":"../home/core/.bashrc"},
                {"path":"/etc/l-dir","target":"../srv/d"},
                {"path":"/etc/l-dangling","target":"nowhere"},
                {"path":"/etc/l-user-only","target":"../srv/d","user":{"id":0}}]}"#,
            |r| {
                mkdir(r, "/srv/d");
                chown(r, "/srv/d", 1000, 100);
            },
            true,
        ),
        case(
            "links: through a symlinked parent",
            "3.3.0",
            r#""storage":{"links":[{"path":"/opt/abs/l","target":"/etc/passwd"},{"path":"/opt/abs/new/l2","target":"../l"}]}"#,
            |r| {
                mkdir(r, "/srv/real");
                symlink(r, "/srv/real", "/opt/abs");
            },
            true,
        ),
    ]
}
