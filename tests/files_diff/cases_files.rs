//! The differential cases for `storage.files`: contents, appends, hashes, modes, owners.

use super::*;

pub(crate) fn file_cases() -> Vec<Case> {
    let gz = b64(&gzip(b"gzipped contents\n"));
    // Two gzip members back to back: Go's reader (Ignition's) reads them as one stream.
    let gz2 = b64(&[gzip(b"first member, "), gzip(b"second member\n")].concat());
    let hashed = b"hash me\n";
    vec![
        case(
            "files: data URLs, plain",
            "3.0.0",
            r#""storage":{"files":[
                {"path":"/etc/plain","contents":{"source":"data:,hello%20world%0A"}},
                {"path":"/etc/charset","contents":{"source":"data:text/plain;charset=utf-8,caf%C3%A9"}},
                {"path":"/etc/emptysrc","contents":{"source":"data:,"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: data URLs, base64",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/b64","contents":{{"source":"data:;base64,{}"}}}},
                {{"path":"/etc/b64-typed","contents":{{"source":"data:application/octet-stream;base64,{}"}}}}]}}"#,
                b64(b"base64 body\n"),
                b64(&[0, 1, 2, 255, 254, 10])
            ),
            no_seed,
            true,
        ),
        case(
            "files: gzip data URL",
            "3.2.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/gz","contents":{{"compression":"gzip","source":"data:;base64,{gz}"}}}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "files: gzip, two members",
            "3.3.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/gz2","contents":{{"compression":"gzip","source":"data:;base64,{gz2}"}}}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "files: gzip in spec 3.0.0",
            "3.0.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/gz","contents":{{"compression":"gzip","source":"data:;base64,{gz}"}}}}]}}"#
            ),
            no_seed,
            true,
        ),
        case(
            "files: no contents, new parents",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/new-empty"},
                {"path":"/var/lib/deep/new/file","mode":384}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: http contents",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/remote","contents":{"source":"@SRV@/plain"}},
                {"path":"/opt/remote-gz","contents":{"source":"@SRV@/gz","compression":"gzip"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: http contents with sha512 and sha256",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/r512","contents":{{"source":"@SRV@/plain","verification":{{"hash":"{}"}}}}}},
                {{"path":"/etc/r256","contents":{{"source":"@SRV@/plain","verification":{{"hash":"{}"}}}}}},
                {{"path":"/etc/rgz","contents":{{"source":"@SRV@/gz","compression":"gzip","verification":{{"hash":"{}"}}}}}}]}}"#,
                sha512(REMOTE),
                sha256(REMOTE),
                sha512(REMOTE)
            ),
            no_seed,
            true,
        ),
        case(
            "files: data URL with sha512",
            "3.0.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/hashed","contents":{{"source":"data:;base64,{}","verification":{{"hash":"{}"}}}}}}]}}"#,
                b64(hashed),
                sha512(hashed)
            ),
            no_seed,
            true,
        ),
        case(
            "files: data URL hash mismatch",
            "3.3.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/bad","contents":{{"source":"data:,other","verification":{{"hash":"{}"}}}}}}]}}"#,
                sha512(hashed)
            ),
            no_seed,
            false,
        ),
        case(
            "files: http hash mismatch",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/bad","contents":{{"source":"@SRV@/plain","verification":{{"hash":"{}"}}}}}}]}}"#,
                sha256(hashed)
            ),
            no_seed,
            false,
        ),
        case(
            "files: http not found",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/missing","contents":{"source":"@SRV@/nope"}}]}"#,
            no_seed,
            false,
        ),
        case(
            "files: default and custom modes",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/m-default","contents":{"source":"data:,a"}},
                {"path":"/etc/m-600","mode":384,"contents":{"source":"data:,b"}},
                {"path":"/etc/m-755","mode":493,"contents":{"source":"data:,c"}},
                {"path":"/etc/m-400","mode":256},
                {"path":"/etc/m-000","mode":0,"contents":{"source":"data:,d"}},
                {"path":"/etc/m-4755","mode":2541,"contents":{"source":"data:,e"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: owners by id",
            "3.0.0",
            r#""storage":{"files":[
                {"path":"/etc/o-both","user":{"id":1234},"group":{"id":5678},"contents":{"source":"data:,x"}},
                {"path":"/etc/o-user","user":{"id":1000}},
                {"path":"/etc/o-group","group":{"id":100}},
                {"path":"/srv/deep/o-deep","user":{"id":1000},"group":{"id":1000}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: owners by name",
            "3.2.0",
            r#""storage":{"files":[
                {"path":"/etc/n-both","user":{"name":"core"},"group":{"name":"wheel"}},
                {"path":"/etc/n-user","user":{"name":"nobody"}},
                {"path":"/etc/n-group","group":{"name":"users"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: owner is a user created by the same config",
            "3.3.0",
            r#""passwd":{"users":[{"name":"svc","uid":1700}],"groups":[{"name":"svcgrp","gid":1800}]},
               "storage":{"files":[
                {"path":"/etc/svc.conf","user":{"name":"svc"},"group":{"name":"svcgrp"},"contents":{"source":"data:,svc"}},
                {"path":"/etc/svc2.conf","user":{"name":"svc"},"group":{"name":"svc"}}]}"#,
            no_seed,
            true,
        ),
        case(
            "files: unknown owner name",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/x","user":{"name":"nosuchuser"}}]}"#,
            no_seed,
            false,
        ),
        case(
            "files: unknown group name",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/x","group":{"name":"nosuchgroup"}}]}"#,
            no_seed,
            false,
        ),
        case(
            "files: overwrite an existing file",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/motd","overwrite":true,"contents":{"source":"data:,new%0A"}},
                {"path":"/etc/issue","overwrite":true,"mode":420,"user":{"id":0},"contents":{"source":"data:,issue"}}]}"#,
            |r| {
                for f in ["/etc/motd", "/etc/issue"] {
                    write(r, f, "old\n");
                    chmod(r, f, 0o600);
                    chown(r, f, 1000, 1000);
                }
            },
            true,
        ),
        case(
            "files: existing file, contents, no overwrite",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/aaa-first","contents":{"source":"data:,first"}},
                {"path":"/etc/motd","contents":{"source":"data:,replaced"}}]}"#,
            |r| write(r, "/etc/motd", "original\n"),
            false,
        ),
        case(
            "files: existing file, no contents: keep, set mode and owner",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/keep-mode","mode":384},
                {"path":"/etc/keep-owner","user":{"id":0},"group":{"name":"adm"}},
                {"path":"/etc/keep-all"}]}"#,
            |r| {
                for f in ["/etc/keep-mode", "/etc/keep-owner", "/etc/keep-all"] {
                    write(r, f, "kept\n");
                    chmod(r, f, 0o640);
                    chown(r, f, 1000, 1000);
                }
            },
            true,
        ),
        case(
            "files: append to existing files",
            "3.0.0",
            r#""storage":{"files":[
                {"path":"/etc/hosts","append":[{"source":"data:,10.0.0.1%20db%0A"}]},
                {"path":"/etc/owned","append":[{"source":"data:,more%0A"},{"source":"@SRV@/append"}]}]}"#,
            |r| {
                write(r, "/etc/hosts", "127.0.0.1 localhost\n");
                write(r, "/etc/owned", "owned\n");
                chmod(r, "/etc/owned", 0o600);
                chown(r, "/etc/owned", 1000, 100);
            },
            true,
        ),
        case(
            "files: append to new files",
            "3.1.0",
            &format!(
                r#""storage":{{"files":[
                {{"path":"/etc/new-append","append":[{{"source":"data:,a"}},{{"source":"data:,b"}}]}},
                {{"path":"/etc/new-append-http","mode":416,"append":[{{"source":"@SRV@/append","verification":{{"hash":"{}"}}}}]}},
                {{"path":"/etc/contents-and-append","contents":{{"source":"data:,base%0A"}},"append":[{{"source":"data:;base64,{}","compression":"gzip"}}]}}]}}"#,
                sha256(REMOTE_APPEND),
                b64(&gzip(b"gz append\n"))
            ),
            no_seed,
            true,
        ),
        case(
            "files: overwrite and append on an existing file",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/etc/motd","overwrite":true,"contents":{"source":"data:,fresh%0A"},"append":[{"source":"data:,tail%0A"}]}]}"#,
            |r| write(r, "/etc/motd", "old\n"),
            true,
        ),
        case(
            "files: overwrite a directory",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/adir","overwrite":true,"contents":{"source":"data:,now%20a%20file"}}]}"#,
            |r| {
                write(r, "/etc/adir/child", "c\n");
                mkdir(r, "/etc/adir/sub/deeper");
            },
            true,
        ),
        case(
            "files: a directory in the way, no overwrite",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/adir"}]}"#,
            |r| mkdir(r, "/etc/adir"),
            false,
        ),
        case(
            "files: overwrite a symlink (the link, not its target)",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/lnk","overwrite":true,"contents":{"source":"data:,replaced"}}]}"#,
            |r| {
                write(r, "/etc/target-file", "target\n");
                symlink(r, "/etc/target-file", "/etc/lnk");
            },
            true,
        ),
        case(
            "files: a symlink in the way, no contents",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc/lnk","mode":384}]}"#,
            |r| {
                write(r, "/etc/target-file", "target\n");
                symlink(r, "/etc/target-file", "/etc/lnk");
            },
            false,
        ),
        case(
            "files: paths through symlinked directories",
            "3.3.0",
            r#""storage":{"files":[
                {"path":"/opt/abs/f1","contents":{"source":"data:,one"}},
                {"path":"/opt/rel/f2","contents":{"source":"data:,two"}},
                {"path":"/opt/abs/newdir/f3"}]}"#,
            |r| {
                mkdir(r, "/srv/real");
                symlink(r, "/srv/real", "/opt/abs");
                symlink(r, "../srv/real", "/opt/rel");
            },
            true,
        ),
        case(
            "files: two entries on one node through a symlink",
            "3.3.0",
            r#""storage":{"files":[{"path":"/etc2/same","contents":{"source":"data:,a"}},{"path":"/etc/same","contents":{"source":"data:,b"}}]}"#,
            |r| symlink(r, "/etc", "/etc2"),
            false,
        ),
    ]
}
