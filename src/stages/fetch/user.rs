//! The user config's sources in Ignition's order of precedence (the kernel command line, the
//! system dirs and the embedded config, the platform) and, when signatures are required,
//! where each one's signature is fetched from. Cloud-init user data from a platform counts as
//! no config.

use super::acquire::{read_opt, system_dirs, Sources};
use crate::error::{Context, Error, Result};
use crate::providers::{self, Env};
use crate::resource::{self, Fetcher, Options, Spec};
use crate::signing::policy::{self, SigFrom};
use std::time::{Duration, Instant};

/// How long to wait for the device named by `ignition.config.device`.
const DEVICE_WAIT: Duration = Duration::from_secs(30);
/// The filesystems a config device may carry.
const DEVICE_FSTYPES: [&str; 5] = ["iso9660", "vfat", "ext4", "xfs", "btrfs"];

/// The user config's bytes and where they came from, in Ignition's order of precedence.
pub(super) fn user_config(src: &Sources, offline: bool) -> Result<Option<UserConfig>> {
    // 1. The kernel command line.
    let cmdline_path = crate::distro::kernel_cmdline();
    let cmdline = src.host.read_opt(&cmdline_path)?.unwrap_or_default();
    let params = crate::cmdline::parse(&String::from_utf8_lossy(&cmdline));
    let uc = |bytes, origin, sig| Some(UserConfig { bytes, origin, sig });
    if let Some(url) = &params.config_url {
        let f = Fetcher::plain(offline);
        let bytes = f
            .fetch_bytes(&Spec::url(url))
            .context(|| format!("fetching ignition.config.url {}", resource::redact(url)))?;
        // A data: URL has no sibling; only ignition.config.signature= can sign it.
        let sig = match params
            .config_signature
            .clone()
            .or_else(|| policy::sibling(url))
        {
            Some(s) => SigFrom::Url(s),
            None => SigFrom::Nowhere,
        };
        return Ok(uc(
            bytes,
            format!("ignition.config.url {}", resource::redact(url)),
            sig,
        ));
    }
    match (&params.config_device, &params.config_path) {
        (Some(dev), Some(path)) => {
            let dev_path = if dev.starts_with("/dev/") {
                src.host.path(dev)
            } else {
                src.host.path(&format!("/dev/disk/by-label/{dev}"))
            };
            wait_for(&dev_path, DEVICE_WAIT)?;
            let bytes = src
                .mounter
                .read_file(&dev_path, &DEVICE_FSTYPES, path)?
                .ok_or_else(|| {
                    Error::failed(format!(
                        "ignition.config.path {path} not found on device {dev}"
                    ))
                })?;
            return Ok(uc(
                bytes,
                format!("ignition.config.device {dev}:{path}"),
                SigFrom::Device(dev_path, format!("{path}.sig")),
            ));
        }
        (Some(_), None) => {
            return Err(Error::failed(
                "ignition.config.device is set but ignition.config.path is not",
            ))
        }
        (None, Some(_)) => {
            return Err(Error::failed(
                "ignition.config.path is set but ignition.config.device is not",
            ))
        }
        (None, None) => {}
    }
    // 2. user.ign in the system dirs; the initramfs' embedded /config.ign ranks above the
    //    image default in /usr/lib/ignition (it is this machine's config, as ISO embed and PXE
    //    wrap deliver it) and below the runtime and admin dirs.
    let dirs = system_dirs(src.host);
    let embedded = src.host.path("/config.ign");
    let candidates = [
        dirs[0].join("user.ign"),
        dirs[1].join("user.ign"),
        embedded,
        dirs[2].join("user.ign"),
    ];
    for c in candidates {
        if let Some(b) = read_opt(&c)? {
            return Ok(uc(b, c.display().to_string(), SigFrom::Local));
        }
    }
    // 3. The platform.
    let got = with_platform_env(src, offline, |env| {
        providers::fetch_config(src.platform, env)
    })
    .context(|| format!("fetching config from platform {}", src.platform.id()))?;
    let origin = format!("platform {}", src.platform.id());
    if let Some(kind) = got.as_deref().and_then(cloud_init_kind) {
        // The platform's user-data slot is shared with cloud-init: an image moved between
        // distributions, or a template reused, carries such data. It is no Ignition config,
        // and failing the boot over it helps nobody.
        log::warn!("{origin}: user data is {kind}, not an Ignition config; ignoring it");
        return Ok(None);
    }
    Ok(got.and_then(|b| uc(b, origin, SigFrom::Platform)))
}

/// The user config's bytes, where they came from, and where their signature would be.
pub(super) struct UserConfig {
    pub bytes: Vec<u8>,
    pub origin: String,
    pub sig: SigFrom,
}

/// Runs `f` with the platform's environment (its fetcher bounded by `-fetch-timeout`).
fn with_platform_env<T>(
    src: &Sources,
    offline: bool,
    f: impl FnOnce(&Env) -> Result<T>,
) -> Result<T> {
    let opts = Options {
        total: Some(src.fetch_timeout),
        ..Options::default()
    };
    let fetcher = Fetcher::new(opts, offline);
    f(&Env {
        host: src.host,
        fetcher: &fetcher,
        mounter: src.mounter,
        runner: &crate::sys::cmd::RealRunner,
        fetch_timeout: src.fetch_timeout,
    })
}

/// The user config's signature, from where [`SigFrom`] says (`None`: there is none).
pub(super) fn user_signature(
    src: &Sources,
    offline: bool,
    uc: &UserConfig,
) -> Result<Option<(Vec<u8>, String)>> {
    match &uc.sig {
        SigFrom::Local | SigFrom::Nowhere => Ok(None),
        SigFrom::Url(u) => policy::fetch(&Fetcher::plain(offline), &Spec::url(u)),
        SigFrom::Device(dev, path) => Ok(src
            .mounter
            .read_file(dev, &DEVICE_FSTYPES, path)?
            .map(|b| (b, format!("{}:{path}", dev.display())))),
        SigFrom::Platform => with_platform_env(src, offline, |env| {
            providers::fetch_signature(src.platform, env)
        })
        .context(|| format!("platform {}", src.platform.id())),
    }
}

/// What kind of cloud-init user data `b` is, if it is one (cloud-init's own markers: a
/// `#cloud-config`-style first line, a `#!` script, or a MIME multipart document).
fn cloud_init_kind(b: &[u8]) -> Option<&'static str> {
    let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let head = &b[..b.len().min(64)];
    let lower = head.to_ascii_lowercase();
    let kinds: [(&[u8], &str); 9] = [
        (b"#cloud-config-archive", "a cloud-config archive"),
        (b"#cloud-config", "a cloud-config"),
        (b"#cloud-boothook", "a cloud-init boothook"),
        (b"#include", "a cloud-init include list"),
        (b"#part-handler", "a cloud-init part handler"),
        (b"#upstart-job", "an upstart job"),
        (b"#!", "a script"),
        (b"content-type:", "a MIME multipart document"),
        (b"mime-version:", "a MIME multipart document"),
    ];
    kinds
        .iter()
        .find(|(m, _)| lower.starts_with(m))
        .map(|(_, k)| *k)
}

fn wait_for(p: &std::path::Path, max: Duration) -> Result<()> {
    let start = Instant::now();
    let mut last_log = Instant::now();
    while !p.exists() {
        if start.elapsed() >= max {
            return Err(Error::failed(format!(
                "device {} did not appear within {} s",
                p.display(),
                max.as_secs()
            )));
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            log::info!(
                "waiting for {} ({} s so far)",
                p.display(),
                start.elapsed().as_secs()
            );
            last_log = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_init_user_data_is_recognised() {
        // #13 item 4: such data from a platform is "no config", not a failed boot.
        for (d, k) in [
            (&b"#cloud-config\nusers: []\n"[..], "a cloud-config"),
            (b"\xef\xbb\xbf#cloud-config\n", "a cloud-config"),
            (b"#cloud-config-archive\n- x", "a cloud-config archive"),
            (b"#!/bin/sh\necho hi\n", "a script"),
            (
                b"Content-Type: multipart/mixed; boundary=x\n",
                "a MIME multipart document",
            ),
            (b"MIME-Version: 1.0\n", "a MIME multipart document"),
            (b"#include\nhttp://x\n", "a cloud-init include list"),
        ] {
            assert_eq!(cloud_init_kind(d), Some(k));
        }
        for d in [
            &b"{\"ignition\":{\"version\":\"3.4.0\"}}"[..],
            b"",
            b"  #cloud-config",
            b"# a comment",
            b"not json",
        ] {
            assert_eq!(cloud_init_kind(d), None);
        }
    }
}
