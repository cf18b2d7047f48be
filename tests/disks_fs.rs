//! Filesystems on image files with the real mkfs tools (no root needed): creation of every
//! format in parallel, Ignition's reuse and wipe rules, format `none`, UUID canonicalisation,
//! ambivalent probes; plus the exact argv of mkfs, mdadm and cryptsetup runs (recorded), and
//! the crypttab the files stage writes from the state.

#[path = "common/skip.rs"]
mod skip;

use ignis::config::types::Config;
use ignis::providers::HostPaths;
use ignis::stages::disks::{self, filesystems, Env};
use ignis::state::State;
use ignis::sys::cmd::{Cmd, RealRunner, RecordingRunner, Runner};
use ignis::sys::probe::probe;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Runs commands for real and records them.
#[derive(Default)]
struct Tee {
    seen: Mutex<Vec<Vec<String>>>,
}

impl Runner for Tee {
    fn run(&self, cmd: &Cmd) -> ignis::error::Result<Vec<u8>> {
        self.seen.lock().unwrap().push(cmd.argv());
        RealRunner.run(cmd)
    }
}

impl Tee {
    fn progs(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|a| a[0].clone())
            .collect()
    }
    fn clear(&self) {
        self.seen.lock().unwrap().clear();
    }
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("disks-fs-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn img(d: &Path, name: &str, mib: u64) -> PathBuf {
    let p = d.join(format!("{name}.img"));
    std::fs::File::create(&p)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    p
}

fn env<'a>(r: &'a dyn Runner, d: &Path) -> Env<'a> {
    Env {
        runner: r,
        host: HostPaths::real(),
        device_timeout: Duration::from_secs(2),
        run_dir: d.join("run"),
    }
}

fn config(j: serde_json::Value) -> Config {
    serde_json::from_value(j).unwrap()
}

fn tools(names: &[&str]) -> bool {
    for n in names {
        if ignis::sys::cmd::find_in_path(n).is_none() {
            skip::skip(
                "disks_fs",
                &format!("{n} is not installed (scripts/setup-deps installs it)"),
            );
            return false;
        }
    }
    true
}

#[path = "disks_fs/argv.rs"]
mod argv;
#[path = "disks_fs/formats.rs"]
mod formats;
