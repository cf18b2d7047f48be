//! Metadata of the platforms whose only source is a config drive: IBM Cloud (`cidata`),
//! KubeVirt (`config-2`, then `cidata`, Afterburn's order), Proxmox VE (`cidata`, then
//! `config-2`), PowerVS and Nutanix (`config-2`). The OpenStack layout gives `meta_data.json`
//! and `network_data.json`; the NoCloud layout gives `meta-data`, `network-config` and
//! `#cloud-config` user data. KubeVirt and Proxmox VE turn static addressing into initrd
//! network kargs. Files are read through the `Mounter`, the drive found by `label`.

use super::cloudinit::{self, field, keys_of, parse_doc};
use super::configdrive::{self, CONFIG_2};
use super::{label, Env, Platform};
use crate::afterburn::network::{render_kargs, Interface, Naming};
use crate::afterburn::Metadata;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};
use std::time::Duration;

const CIDATA: &str = "cidata";
/// How long the early (initrd) kargs lookup waits for a drive after loading block drivers.
const EARLY_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `openstack/latest/*` (labels config-2, CONFIG-2).
    OpenStack,
    /// NoCloud files at the root (label cidata).
    NoCloud,
}

/// Labels in the platform's order of preference.
fn labels(p: Platform) -> &'static [&'static str] {
    match p {
        Platform::KubeVirt => &["config-2", "CONFIG-2", CIDATA],
        Platform::ProxmoxVe => &[CIDATA, "config-2", "CONFIG-2"],
        Platform::IbmCloud => &[CIDATA],
        _ => &CONFIG_2,
    }
}

fn find(env: &Env, p: Platform, early: bool) -> Option<(Layout, PathBuf)> {
    let found = if early {
        label::find_early(env.host, env.runner, labels(p), EARLY_WAIT)
    } else {
        label::find(env.host, labels(p))
    };
    let (l, dev) = found?;
    let layout = if l == CIDATA {
        Layout::NoCloud
    } else {
        Layout::OpenStack
    };
    log::info!("{}: config drive {l} at {}", p.id(), dev.display());
    Some((layout, dev))
}

/// What a drive says, before it is named per platform.
#[derive(Debug, Default)]
struct DriveData {
    hostname: Option<String>,
    /// `meta_data.json` `name`: the short name where `hostname` is an FQDN (PowerVS).
    name: Option<String>,
    instance_id: Option<String>,
    instance_type: Option<String>,
    keys: Vec<String>,
    ifaces: Vec<Interface>,
}

fn read_doc(env: &Env, dev: &Path, rel: &str) -> Result<Option<serde_json::Value>> {
    match configdrive::read(env, dev, rel)? {
        Some(b) => parse_doc(&b, rel).map(Some),
        None => Ok(None),
    }
}

fn interfaces(env: &Env, dev: &Path, layout: Layout) -> Result<Vec<Interface>> {
    Ok(match layout {
        Layout::OpenStack => read_doc(env, dev, "openstack/latest/network_data.json")?
            .map(|v| cloudinit::network_data(&v))
            .unwrap_or_default(),
        Layout::NoCloud => match read_doc(env, dev, "network-config")? {
            Some(v) => cloudinit::network_config(&v)?,
            None => Vec::new(),
        },
    })
}

fn read_drive(env: &Env, dev: &Path, layout: Layout) -> Result<DriveData> {
    let meta_file = match layout {
        Layout::OpenStack => "openstack/latest/meta_data.json",
        Layout::NoCloud => "meta-data",
    };
    let meta = read_doc(env, dev, meta_file)?
        .ok_or_else(|| Error::failed(format!("the config drive has no {meta_file}")))?;
    let mut d = DriveData {
        hostname: field(&meta, &["hostname", "local-hostname"]),
        name: field(&meta, &["name"]),
        instance_id: field(&meta, &["uuid", "instance-id"]),
        instance_type: field(&meta, &["instance_type", "instance-type"]),
        ..Default::default()
    };
    for k in ["public_keys", "public-keys"] {
        d.keys.extend(meta.get(k).map(keys_of).unwrap_or_default());
    }
    if layout == Layout::NoCloud {
        if let Some(user_data) = configdrive::read(env, dev, "user-data")? {
            if let Some((hostname, keys)) = cloudinit::cloud_config(&user_data)? {
                d.hostname = d.hostname.or(hostname);
                for k in keys {
                    if !d.keys.contains(&k) {
                        d.keys.push(k);
                    }
                }
            }
        }
    }
    d.ifaces = interfaces(env, dev, layout)?;
    Ok(d)
}

fn naming(p: Platform) -> Option<Naming> {
    match p {
        Platform::KubeVirt => Some(Naming::Named),
        Platform::ProxmoxVe => Some(Naming::Unnamed),
        _ => None,
    }
}

pub fn metadata(env: &Env, p: Platform) -> Result<Metadata> {
    let Some((layout, dev)) = find(env, p, false) else {
        if naming(p).is_some() {
            // Both run without a drive too (Afterburn falls back to no metadata there).
            log::info!("{}: no config drive attached; no metadata", p.id());
            return Ok(Metadata::default());
        }
        return Err(Error::failed(format!(
            "no config drive labelled {} is attached",
            labels(p).join(" or ")
        )));
    };
    let mut d = read_drive(env, &dev, layout)?;
    if p == Platform::PowerVs {
        // PowerVS's `hostname` is the FQDN; Afterburn names the machine by `name`.
        d.hostname = d.name.clone().or(d.hostname);
    }
    if p == Platform::IbmCloud {
        // VPC hands its SSH keys over in vendor-data, not in meta-data.
        if let Some(v) = configdrive::read(env, &dev, "vendor-data")? {
            for k in super::ibmcloud::vendor_data_keys(&v)? {
                if !d.keys.contains(&k) {
                    d.keys.push(k);
                }
            }
        }
    }
    let mut md = Metadata {
        hostname: d.hostname.clone(),
        ssh_keys: d.keys,
        network_kargs: naming(p).and_then(|n| render_kargs(&d.ifaces, n)),
        ..Default::default()
    };
    let a = &mut md.attributes;
    let mut set = |name: &str, v: &Option<String>| {
        if let Some(v) = v {
            a.insert(name.to_string(), v.clone());
        }
    };
    let (v4, v6) = cloudinit::first_addresses(&d.ifaces);
    let (v4, v6) = (v4.map(|a| a.to_string()), v6.map(|a| a.to_string()));
    match p {
        Platform::KubeVirt => {
            set("KUBEVIRT_INSTANCE_ID", &d.instance_id);
            set("KUBEVIRT_HOSTNAME", &d.hostname);
            set("KUBEVIRT_INSTANCE_TYPE", &d.instance_type);
            set("KUBEVIRT_IPV4", &v4);
            set("KUBEVIRT_IPV6", &v6);
        }
        Platform::ProxmoxVe => {
            set("PROXMOXVE_INSTANCE_ID", &d.instance_id);
            set("PROXMOXVE_HOSTNAME", &d.hostname);
            set("PROXMOXVE_IPV4", &v4);
            set("PROXMOXVE_IPV6", &v6);
        }
        other => {
            let prefix = other.id().to_ascii_uppercase();
            set(&format!("{prefix}_INSTANCE_ID"), &d.instance_id);
            set(&format!("{prefix}_LOCAL_HOSTNAME"), &d.hostname);
        }
    }
    Ok(md)
}

/// The initrd network kargs of KubeVirt and Proxmox VE: `None` without a drive, without a
/// network description, or without static addressing in it.
pub fn network_kargs(env: &Env, p: Platform) -> Result<Option<String>> {
    let Some(n) = naming(p) else {
        return Ok(None);
    };
    let Some((layout, dev)) = find(env, p, true) else {
        log::info!(
            "{}: no config drive; no network kargs from the platform",
            p.id()
        );
        return Ok(None);
    };
    Ok(render_kargs(&interfaces(env, &dev, layout)?, n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afterburn::netkargs;
    use crate::providers::testserver::{fixture_path, Bench};

    #[test]
    fn proxmox_nocloud_with_static_network() {
        let b = Bench::new();
        b.label("cidata", "proxmoxve/cidata-static");
        let md = metadata(&b.env(None), Platform::ProxmoxVe).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("pve-static"));
        assert_eq!(md.attributes["PROXMOXVE_INSTANCE_ID"], "a1b2c3d4e5f60718");
        assert_eq!(md.attributes["PROXMOXVE_IPV4"], "192.168.10.20");
        assert_eq!(md.attributes["PROXMOXVE_IPV6"], "2001:db8::20");
        assert_eq!(md.ssh_keys.len(), 1);
        let k = md.network_kargs.unwrap();
        assert_eq!(
            k,
            "ip=192.168.10.20::192.168.10.1:255.255.255.0:::off ip=[2001:db8::20]::[2001:db8::1]:64:::off \
             ip=dhcp nameserver=192.168.10.2 nameserver=1.1.1.1"
        );
        netkargs::validate(&k).unwrap();
        assert_eq!(
            network_kargs(&b.offline_env(None), Platform::ProxmoxVe).unwrap(),
            Some(k)
        );
    }

    #[test]
    fn proxmox_dhcp_only_and_without_drive() {
        let b = Bench::new();
        assert_eq!(
            metadata(&b.env(None), Platform::ProxmoxVe).unwrap(),
            Metadata::default()
        );
        assert_eq!(
            network_kargs(&b.env(None), Platform::ProxmoxVe).unwrap(),
            None
        );
        b.label("cidata", "proxmoxve/cidata-cloudconfig");
        let md = metadata(&b.env(None), Platform::ProxmoxVe).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("pve-nestos"));
        assert_eq!(md.attributes["PROXMOXVE_INSTANCE_ID"], "9d5d1f0b8a2c4e7f");
        assert_eq!(md.network_kargs, None, "DHCP is the default's job");
    }

    #[test]
    fn kubevirt_config_2_preferred_named_interfaces() {
        let b = Bench::new();
        b.label("cidata", "kubevirt/cidata-static");
        b.label("config-2", "kubevirt/config-2-static");
        let md = metadata(&b.env(None), Platform::KubeVirt).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("kv-drive"));
        assert_eq!(
            md.attributes["KUBEVIRT_INSTANCE_ID"],
            "6f3e2d1c-0b9a-4876-9f5e-4d3c2b1a0f9e"
        );
        assert_eq!(md.attributes["KUBEVIRT_INSTANCE_TYPE"], "u1.small");
        assert_eq!(md.attributes["KUBEVIRT_IPV4"], "10.20.0.5");
        assert_eq!(md.ssh_keys.len(), 1);
        // kubevirt_mac_only_links_named (#16 item 12): network_data.json links have no guest
        // names, only MACs: each gets a name of ours bound to its MAC.
        let k = md.network_kargs.unwrap();
        assert_eq!(
            k,
            "ifname=net0:52:54:00:aa:bb:cc ifname=net1:52:54:00:aa:bb:cd \
             ip=10.20.0.5::10.20.0.1:255.255.255.0::net0:off ip=net1:dhcp nameserver=10.20.0.2"
        );
        netkargs::validate(&k).unwrap();
    }

    #[test]
    fn kubevirt_nocloud_v2() {
        let b = Bench::new();
        b.label("cidata", "kubevirt/cidata-static");
        let md = metadata(&b.env(None), Platform::KubeVirt).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("kv-nocloud"));
        assert_eq!(md.attributes["KUBEVIRT_INSTANCE_ID"], "kv-iid-1");
        assert_eq!(
            md.ssh_keys,
            ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5KubeVirtNoCloud kv@example"]
        );
        let k = md.network_kargs.unwrap();
        assert_eq!(
            k,
            "ip=10.10.0.5::10.10.0.1:255.255.255.0::enp1s0:off nameserver=10.10.0.2"
        );
        netkargs::validate(&k).unwrap();
    }

    #[test]
    fn drive_found_by_probing_before_udev() {
        // No by-label link: the iso9660 label is read off the device node.
        let b = Bench::new();
        let dev = b.host.path("/dev/sr0");
        std::fs::create_dir_all(b.host.path("/sys/class/block/sr0")).unwrap();
        std::fs::create_dir_all(dev.parent().unwrap()).unwrap();
        std::fs::write(&dev, label::tests::iso_image("cidata")).unwrap();
        b.mounter.add(dev, fixture_path("proxmoxve/cidata-static"));
        let k = network_kargs(&b.offline_env(None), Platform::ProxmoxVe).unwrap();
        assert!(k.unwrap().starts_with("ip=192.168.10.20::"));
    }

    #[test]
    fn ibmcloud_powervs_nutanix() {
        let b = Bench::new();
        let e = metadata(&b.env(None), Platform::IbmCloud).unwrap_err();
        assert!(e.to_string().contains("cidata"), "{e}");
        b.label("cidata", "ibmcloud/cidata");
        let md = metadata(&b.env(None), Platform::IbmCloud).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-ibm"));
        assert_eq!(md.attributes["IBMCLOUD_LOCAL_HOSTNAME"], "nestos-ibm");
        assert!(md.attributes["IBMCLOUD_INSTANCE_ID"].starts_with("0717_"));
        assert_eq!(md.network_kargs, None);
        // ibmcloud_vpc_vendor_data_ssh_keys (#16 item 1): the keys come from vendor-data.
        assert_eq!(md.ssh_keys.len(), 2);
        assert!(md.ssh_keys[0].contains("IbmVpcOne"));
        for (p, dir, prefix) in [
            (Platform::PowerVs, "powervs/config-2", "POWERVS"),
            (Platform::Nutanix, "nutanix/config-2", "NUTANIX"),
        ] {
            let b = Bench::new();
            b.label("CONFIG-2", dir);
            let md = metadata(&b.env(None), p).unwrap();
            assert_eq!(
                md.attributes[&format!("{prefix}_LOCAL_HOSTNAME")],
                "nestos-p"
            );
            assert_eq!(
                md.attributes[&format!("{prefix}_INSTANCE_ID")],
                "0a1b2c3d-power"
            );
            assert_eq!(md.ssh_keys.len(), 1);
            // powervs_hostname_from_name (#16 item 2): `name`, not the FQDN in `hostname`.
            assert_eq!(md.hostname.as_deref(), Some("nestos-p"));
        }
    }
}
