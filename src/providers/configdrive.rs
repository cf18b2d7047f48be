//! Config drives: finding a labelled drive under `/dev/disk/by-label` and reading one file from
//! it through the `Mounter` (shared with openstack and cloudstack), and the platforms whose only
//! source is such a drive: IBM Cloud and Proxmox VE (`cidata`, NoCloud layout), KubeVirt
//! (`cidata` or `config-2`), Nutanix and PowerVS (`config-2`, OpenStack layout).

use super::util::{self};
use super::{Env, Platform};
use crate::error::{Context, Error, Result};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Config drives are iso9660 images, sometimes vfat.
pub(crate) const FSTYPES: [&str; 2] = ["iso9660", "vfat"];
/// User data in the OpenStack layout.
pub(crate) const OPENSTACK_USER_DATA: &str = "openstack/latest/user_data";
/// Labels of OpenStack-layout drives (vfat labels are upper case).
pub(crate) const CONFIG_2: [&str; 2] = ["config-2", "CONFIG-2"];
const CIDATA: &str = "cidata";
/// IBM Cloud and Proxmox VE wait this long for `cidata`, then go on without a config, as
/// Ignition does.
const CIDATA_WAIT: Duration = Duration::from_secs(30);

/// Waits up to `timeout` (or until `cancel`) for the first of `labels` to show up under
/// `/dev/disk/by-label`; returns the label and its device path.
pub(crate) fn wait_for_label<'l>(
    env: &Env,
    labels: &[&'l str],
    timeout: Duration,
    cancel: &AtomicBool,
) -> Option<(&'l str, PathBuf)> {
    let paths: Vec<PathBuf> = labels
        .iter()
        .map(|l| env.host.path(&format!("/dev/disk/by-label/{l}")))
        .collect();
    let found = super::mounter::wait_for_any(&paths, timeout, cancel)?;
    let i = paths.iter().position(|p| *p == found)?;
    Some((labels[i], found))
}

/// Reads `rel` from the drive at `dev`; an absent or empty file is no config.
pub(crate) fn read(env: &Env, dev: &std::path::Path, rel: &str) -> Result<Option<Vec<u8>>> {
    log::info!("reading {rel} from config drive {}", dev.display());
    let d = env
        .mounter
        .read_file(dev, &FSTYPES, rel)
        .context(|| format!("reading config drive {}", dev.display()))?;
    Ok(util::non_empty(d))
}

pub fn fetch_config(env: &Env, p: Platform) -> Result<Option<Vec<u8>>> {
    let limit = util::wait_limit(env);
    let never = AtomicBool::new(false);
    match p {
        Platform::IbmCloud => {
            let Some((_, dev)) = wait_for_label(env, &[CIDATA], limit.min(CIDATA_WAIT), &never)
            else {
                log::info!("ibmcloud: no cidata drive appeared; no config");
                return Ok(None);
            };
            read(env, &dev, "user-data")
        }
        Platform::ProxmoxVe => {
            let Some((_, dev)) = wait_for_label(env, &[CIDATA], limit.min(CIDATA_WAIT), &never)
            else {
                log::info!("proxmoxve: no cidata drive appeared; no config");
                return Ok(None);
            };
            proxmox(env, &dev)
        }
        Platform::KubeVirt => {
            let labels = [CIDATA, CONFIG_2[0], CONFIG_2[1]];
            let (label, dev) = wait_for_label(env, &labels, limit, &never)
                .ok_or_else(|| no_drive(p, &labels, limit))?;
            if label == CIDATA {
                read(env, &dev, "user-data")
            } else {
                read(env, &dev, OPENSTACK_USER_DATA)
            }
        }
        Platform::Nutanix | Platform::PowerVs => {
            let (_, dev) = wait_for_label(env, &CONFIG_2, limit, &never)
                .ok_or_else(|| no_drive(p, &CONFIG_2, limit))?;
            read(env, &dev, OPENSTACK_USER_DATA)
        }
        other => Err(Error::failed(format!(
            "{} has no config drive provider",
            other.id()
        ))),
    }
}

/// Ignition waits for these drives forever; we give up after the fetch timeout and say why.
fn no_drive(p: Platform, labels: &[&str], waited: Duration) -> Error {
    Error::failed(format!(
        "{}: no config drive labelled {} appeared within {} s",
        p.id(),
        labels.join(" or "),
        waited.as_secs()
    ))
}

/// Proxmox VE writes a cloud-config `user-data` unless the user supplied their own: take the
/// first of `user-data` and `vendor-data` that is JSON (an Ignition config), skipping
/// cloud-config and anything else.
fn proxmox(env: &Env, dev: &std::path::Path) -> Result<Option<Vec<u8>>> {
    for rel in ["user-data", "vendor-data"] {
        let Some(d) = read(env, dev, rel)? else {
            continue;
        };
        if d.starts_with(b"#cloud-config") {
            log::info!("proxmoxve: {rel} is a cloud-config; skipping it");
            continue;
        }
        if serde_json::from_slice::<serde::de::IgnoredAny>(&d).is_err() {
            log::info!("proxmoxve: {rel} is not JSON; skipping it");
            continue;
        }
        return Ok(Some(d));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench};

    fn quick() -> Bench {
        let mut b = Bench::new();
        b.fetch_timeout = Duration::from_millis(300);
        b
    }

    #[test]
    fn ibmcloud_cidata() {
        let b = quick();
        assert_eq!(
            fetch_config(&b.offline_env(None), Platform::IbmCloud).unwrap(),
            None
        );
        b.label("cidata", "ibmcloud/cidata");
        let got = fetch_config(&b.offline_env(None), Platform::IbmCloud).unwrap();
        assert_eq!(got, Some(fixture("ibmcloud/cidata/user-data")));
        let calls = b.mounter.calls();
        assert_eq!(calls[0].0, b.host.path("/dev/disk/by-label/cidata"));
        assert_eq!(calls[0].1, vec!["iso9660", "vfat"]);
        assert_eq!(calls[0].2, "user-data");
    }

    #[test]
    fn kubevirt_either_layout() {
        let b = quick();
        let e = fetch_config(&b.offline_env(None), Platform::KubeVirt).unwrap_err();
        assert!(
            e.to_string().contains("cidata or config-2 or CONFIG-2"),
            "{e}"
        );
        b.label("config-2", "kubevirt/config-2");
        let got = fetch_config(&b.offline_env(None), Platform::KubeVirt).unwrap();
        assert_eq!(
            got,
            Some(fixture("kubevirt/config-2/openstack/latest/user_data"))
        );
        b.label("cidata", "kubevirt/cidata");
        let got = fetch_config(&b.offline_env(None), Platform::KubeVirt).unwrap();
        assert_eq!(got, Some(fixture("kubevirt/cidata/user-data")));
    }

    #[test]
    fn nutanix_and_powervs_config_2() {
        for (p, dir) in [
            (Platform::Nutanix, "nutanix"),
            (Platform::PowerVs, "powervs"),
        ] {
            let b = quick();
            assert!(fetch_config(&b.offline_env(None), p).is_err());
            b.label("CONFIG-2", &format!("{dir}/config-2"));
            let got = fetch_config(&b.offline_env(None), p).unwrap();
            assert_eq!(
                got,
                Some(fixture(&format!(
                    "{dir}/config-2/openstack/latest/user_data"
                )))
            );
        }
    }

    #[test]
    fn drive_without_user_data_is_no_config() {
        let b = quick();
        b.label("config-2", "openstack/user_data-does-not-exist");
        // The fake mounter maps the drive to a missing directory: every file is absent.
        assert_eq!(
            fetch_config(&b.offline_env(None), Platform::Nutanix).unwrap(),
            None
        );
    }

    #[test]
    fn unmountable_drive_is_an_error() {
        let b = quick();
        b.device("/dev/disk/by-label/config-2");
        let e = fetch_config(&b.offline_env(None), Platform::PowerVs).unwrap_err();
        assert!(e.to_string().contains("reading config drive"), "{e}");
    }

    #[test]
    fn proxmox_user_data_then_vendor_data() {
        let b = quick();
        assert_eq!(
            fetch_config(&b.offline_env(None), Platform::ProxmoxVe).unwrap(),
            None
        );
        b.label("cidata", "proxmoxve/cidata");
        let got = fetch_config(&b.offline_env(None), Platform::ProxmoxVe).unwrap();
        assert_eq!(got, Some(fixture("proxmoxve/cidata/user-data")));

        let b = quick();
        b.label("cidata", "proxmoxve/cidata-cloudconfig");
        let got = fetch_config(&b.offline_env(None), Platform::ProxmoxVe).unwrap();
        assert_eq!(
            got,
            Some(fixture("proxmoxve/cidata-cloudconfig/vendor-data"))
        );
        let rels: Vec<String> = b.mounter.calls().into_iter().map(|c| c.2).collect();
        assert_eq!(rels, ["user-data", "vendor-data"]);
    }
}
