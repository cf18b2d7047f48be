//! Waiting for the devices a config names (`/dev/disk/by-label/...`, `/dev/md/NAME`, ...) to
//! appear, by polling the filesystem with a deadline and progress lines: no D-Bus, no systemd
//! device units. Returns the node each path resolves to, which later commands use so a
//! by-label link that udev re-creates mid-stage cannot send them elsewhere.

use crate::engine::Env;
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Waits until every `(device path, config entry)` exists; returns the resolved nodes in the
/// same order.
pub fn wait_all(env: &Env, devs: &[(String, String)]) -> Result<Vec<PathBuf>> {
    let start = Instant::now();
    let mut next_report = Duration::from_secs(5);
    let mut out: Vec<Option<PathBuf>> = vec![None; devs.len()];
    loop {
        for (i, (dev, _)) in devs.iter().enumerate() {
            if out[i].is_none() {
                if let Ok(p) = std::fs::canonicalize(env.host.path(dev)) {
                    out[i] = Some(p);
                }
            }
        }
        if out.iter().all(Option::is_some) {
            if start.elapsed() >= Duration::from_secs(1) {
                log::info!("devices ready after {:.1}s", start.elapsed().as_secs_f64());
            }
            return Ok(out.into_iter().flatten().collect());
        }
        let missing: Vec<String> = devs
            .iter()
            .zip(&out)
            .filter(|(_, o)| o.is_none())
            .map(|((d, j), _)| format!("{d} ({j})"))
            .collect();
        let waited = start.elapsed();
        if waited >= env.device_timeout {
            return Err(Error::failed(format!(
                "timed out after {}s waiting for {}",
                env.device_timeout.as_secs(),
                missing.join(", ")
            )));
        }
        if waited >= next_report {
            log::info!(
                "waiting for {} ({}s of {}s)",
                missing.join(", "),
                waited.as_secs(),
                env.device_timeout.as_secs()
            );
            next_report += Duration::from_secs(5);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits for one device.
pub fn wait(env: &Env, dev: &str, entry: &str) -> Result<PathBuf> {
    let mut v = wait_all(env, &[(dev.to_string(), entry.to_string())])?;
    v.pop()
        .ok_or_else(|| Error::failed(format!("waiting for {dev}: nothing resolved")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::HostPaths;
    use crate::sys::cmd::RecordingRunner;

    #[test]
    fn waits_for_late_devices_and_times_out_on_missing_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("dev/disk/by-label")).unwrap();
        std::fs::write(d.join("dev/vdb1"), "").unwrap();
        let r = RecordingRunner::new();
        let env = Env {
            runner: &r,
            host: HostPaths::new(&d),
            device_timeout: Duration::from_secs(5),
            run_dir: d.join("run"),
        };
        let link = d.join("dev/disk/by-label/root");
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            std::os::unix::fs::symlink("../../vdb1", link).unwrap();
        });
        let got = wait(&env, "/dev/disk/by-label/root", "$.storage.filesystems.0").unwrap();
        late.join().unwrap();
        assert_eq!(got, d.join("dev/vdb1").canonicalize().unwrap());
        let env = Env {
            device_timeout: Duration::from_millis(200),
            ..env
        };
        let e = wait_all(
            &env,
            &[
                ("/dev/vdb1".into(), "$.storage.disks.0".into()),
                ("/dev/nope".into(), "$.storage.disks.1".into()),
            ],
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            e,
            "timed out after 0s waiting for /dev/nope ($.storage.disks.1)"
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
