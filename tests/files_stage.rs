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

#[path = "files_stage/accounts.rs"]
mod accounts;
#[path = "files_stage/nodes.rs"]
mod nodes;
#[path = "files_stage/stage.rs"]
mod stage;
