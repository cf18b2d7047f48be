//! Provider test helpers (cfg(test) only): the loopback HTTP server (`crate::testing::http`,
//! shared with the integration tests) re-exported with what the provider tests add to it (a
//! dead base URL, reroute tables, fixture trees served by URL path), a fake `Mounter` that maps
//! device paths to fixture directories, and a bench that builds a provider `Env` whose fetcher
//! reroutes metadata origins to such a server. It must never talk to anything but loopback.

use super::{Env, HostPaths, Mounter, METADATA_ORIGINS};
use crate::error::{Error, Result};
use crate::resource::{Fetcher, Reroutes};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

pub use crate::testing::http::{Reply, Request, Server};

/// A base URL nothing listens on (connections are refused).
pub fn dead_base() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// A reroute table sending each of `origins` to the loopback server at `base`.
pub fn reroutes(origins: &[&str], base: &str) -> Reroutes {
    origins.iter().fold(Reroutes::default(), |r, o| {
        r.with(o, base)
            .unwrap_or_else(|e| panic!("rerouting {o} to {base}: {e}"))
    })
}

/// A fetcher kept for the rest of the test run: an `Env` borrows its fetcher, and a test's
/// rerouted one must outlive the `Env` the bench hands out (a few per test; never freed).
fn keep(f: Fetcher) -> &'static Fetcher {
    Box::leak(Box::new(f))
}

/// A fixture file under `platforms/`.
pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

pub fn fixture_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("platforms")
        .join(rel)
}

/// Serves the fixture tree `platforms/<dir>/` by URL path (the query is ignored): a file is
/// its body, a directory answers with its `_index` file, anything else is 404. Metadata trees
/// (EC2 style: `public-keys` lists, `public-keys/0/openssh-key` holds) fit this layout.
pub fn tree_reply(dir: &str, target: &str) -> Reply {
    let path = target
        .split('?')
        .next()
        .unwrap_or_default()
        .trim_matches('/');
    if path.split('/').any(|c| c == "..") {
        return Reply::status(400);
    }
    let p = fixture_path(dir).join(path);
    let file = if p.is_dir() { p.join("_index") } else { p };
    match std::fs::read(file) {
        Ok(b) => Reply::ok(b),
        Err(_) => Reply::status(404),
    }
}

/// Maps device paths to directories; a device not in the map fails to mount. Records calls.
#[derive(Default)]
pub struct FakeMounter {
    devices: Mutex<Vec<(PathBuf, PathBuf)>>,
    pub calls: Mutex<Vec<(PathBuf, Vec<String>, String)>>,
}

impl FakeMounter {
    pub fn add(&self, device: PathBuf, dir: PathBuf) {
        self.devices.lock().unwrap().push((device, dir));
    }

    pub fn calls(&self) -> Vec<(PathBuf, Vec<String>, String)> {
        self.calls.lock().unwrap().clone()
    }
}

impl Mounter for FakeMounter {
    fn read_file(&self, device: &Path, fstypes: &[&str], rel: &str) -> Result<Option<Vec<u8>>> {
        self.calls.lock().unwrap().push((
            device.to_path_buf(),
            fstypes.iter().map(|s| s.to_string()).collect(),
            rel.to_string(),
        ));
        let dir = self
            .devices
            .lock()
            .unwrap()
            .iter()
            .find(|(d, _)| d == device)
            .map(|(_, dir)| dir.clone())
            .ok_or_else(|| Error::failed(format!("mount {}: bad superblock", device.display())))?;
        match std::fs::read(dir.join(rel.trim_start_matches('/'))) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::failed(e.to_string())),
        }
    }
}

/// A host root, a fetcher and a fake mounter: everything an `Env` borrows.
pub struct Bench {
    /// Holds the host root's directory alive.
    _root: tempfile::TempDir,
    pub host: HostPaths,
    pub online: Fetcher,
    pub offline: Fetcher,
    pub mounter: FakeMounter,
    /// Records modprobe and friends: a test never runs them on the host.
    pub runner: crate::sys::cmd::RecordingRunner,
    pub fetch_timeout: Duration,
}

impl Bench {
    pub fn new() -> Bench {
        let root = tempfile::tempdir().unwrap();
        let host = HostPaths::new(root.path());
        Bench {
            _root: root,
            host,
            online: Fetcher::plain(false),
            offline: Fetcher::plain(true),
            mounter: FakeMounter::default(),
            runner: crate::sys::cmd::RecordingRunner::new(),
            fetch_timeout: Duration::from_secs(5),
        }
    }

    /// An online `Env`; with `base`, every provider's metadata origin
    /// (`providers::METADATA_ORIGINS`) is rerouted to that loopback server.
    pub fn env(&self, base: Option<&str>) -> Env<'_> {
        match base {
            Some(b) => self.env_rerouted(METADATA_ORIGINS, b),
            None => self.env_with(&self.online),
        }
    }

    /// An offline `Env` (`base` as in `env`).
    pub fn offline_env(&self, base: Option<&str>) -> Env<'_> {
        match base {
            Some(b) => self.env_with(keep(
                Fetcher::plain(true).with_reroutes(reroutes(METADATA_ORIGINS, b)),
            )),
            None => self.env_with(&self.offline),
        }
    }

    /// An online `Env` whose fetcher sends the connections for `origins` to `base`.
    pub fn env_rerouted(&self, origins: &[&str], base: &str) -> Env<'_> {
        self.env_with(keep(
            Fetcher::plain(false).with_reroutes(reroutes(origins, base)),
        ))
    }

    fn env_with<'a>(&'a self, fetcher: &'a Fetcher) -> Env<'a> {
        Env {
            host: &self.host,
            fetcher,
            mounter: &self.mounter,
            runner: &self.runner,
            fetch_timeout: self.fetch_timeout,
        }
    }

    /// Creates `/dev/disk/by-label/<label>` under the host root and mounts `fixture_dir`
    /// (relative to `platforms/`) there.
    pub fn label(&self, label: &str, fixture_dir: &str) -> PathBuf {
        let dev = self.device(&format!("/dev/disk/by-label/{label}"));
        self.mounter.add(dev.clone(), fixture_path(fixture_dir));
        dev
    }

    /// Creates an empty device node stand-in at the host path `p`.
    pub fn device(&self, p: &str) -> PathBuf {
        let dev = self.host.path(p);
        std::fs::create_dir_all(dev.parent().unwrap()).unwrap();
        std::fs::write(&dev, b"").unwrap();
        dev
    }
}
