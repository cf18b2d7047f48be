//! `ignis afterburn ...` run as the real binary against fixture host roots (`IGNIS_HOST_ROOT`:
//! /proc/cmdline, /sys, /dev), fixture target roots and loopback metadata servers
//! (`IGNIS_HTTP_REROUTE` sends the metadata origins there) serving the recorded trees under
//! `platforms/`: what lands where, with which modes and owners, the exit codes, Afterburn's
//! own spellings, and that no key material or token reaches the logs.

mod common;

use common::{serve, text, Reply, Server};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Case {
    dir: PathBuf,
}

impl Case {
    fn new(name: &str, cmdline: &str) -> Case {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("afterburn-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("host/proc")).unwrap();
        std::fs::create_dir_all(dir.join("target/etc")).unwrap();
        std::fs::write(dir.join("host/proc/cmdline"), format!("{cmdline}\n")).unwrap();
        Case { dir }
    }

    fn target(&self) -> PathBuf {
        self.dir.join("target")
    }

    fn run(&self, args: &[&str], base: Option<&Server>) -> Output {
        self.run_as(Path::new(env!("CARGO_BIN_EXE_ignis")), args, base)
    }

    fn run_as(&self, bin: &Path, args: &[&str], base: Option<&Server>) -> Output {
        let mut c = Command::new(bin);
        c.args(args)
            .env("IGNIS_HOST_ROOT", self.dir.join("host"))
            .env_remove("IGNIS_HTTP_REROUTE");
        if let Some(s) = base {
            c.env("IGNIS_HTTP_REROUTE", s.reroute_metadata());
        }
        c.output().unwrap()
    }

    /// A target with the `core` user (uid 1000) whose home is reached through /home -> var/home.
    fn with_core_user(&self) {
        let t = self.target();
        std::fs::write(
            t.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\ncore:x:1000:1000:CoreOS Admin:/home/core:/bin/bash\n",
        )
        .unwrap();
        std::fs::write(t.join("etc/group"), "root:x:0:\ncore:x:1000:\n").unwrap();
        std::fs::create_dir_all(t.join("var/home/core")).unwrap();
        std::os::unix::fs::symlink("var/home", t.join("home")).unwrap();
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("platforms")
}

/// A loopback server answering with the fixture tree `platforms/<dir>`: files by path, a
/// directory by its `_index` file (with and without the trailing slash).
fn tree_server(dir: &str) -> Server {
    let s = serve(None);
    fn walk(s: &Server, root: &Path, d: &Path) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(s, root, &p);
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(&p).unwrap();
            match rel.strip_suffix("_index") {
                Some(d) => {
                    s.route(&format!("/{d}"), vec![Reply::Body(body.clone())]);
                    s.route(
                        &format!("/{}", d.trim_end_matches('/')),
                        vec![Reply::Body(body)],
                    );
                }
                None => s.route(&format!("/{rel}"), vec![Reply::Body(body)]),
            }
        }
    }
    let root = fixtures().join(dir);
    walk(&s, &root, &root);
    s
}

#[path = "afterburn_cmd/cli.rs"]
mod cli;
#[path = "afterburn_cmd/kargs.rs"]
mod kargs;
#[path = "afterburn_cmd/metadata.rs"]
mod metadata;
