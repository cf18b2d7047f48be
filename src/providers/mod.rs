//! Platforms and where each one keeps the user's config (Ignition's providers) and its
//! metadata (Afterburn's, see `metadata`), plus the seams they read through: `HostPaths` for
//! /proc, /sys, /dev and /run, and `Mounter` for config drives. Constructors do no I/O; one
//! module per source, an exhaustive match dispatches.

pub mod akamai;
pub mod aliyun;
pub mod aws;
pub mod azure;
pub mod cloudinit;
pub mod cloudstack;
pub mod configdrive;
#[cfg(test)]
mod contract_tests;
pub mod digitalocean;
pub mod drives;
pub mod exoscale;
pub mod file;
pub mod gcp;
pub mod hetzner;
pub mod ibmcloud;
pub mod label;
pub mod metadata;
pub mod mounter;
pub mod openstack;
pub mod openstack_net;
pub mod oraclecloud;
pub mod packet;
pub mod qemu;
pub mod scaleway;
pub mod simple;
pub mod tencentcloud;
#[cfg(test)]
pub(crate) mod testserver;
pub mod upcloud;
mod util;
pub mod vmware;
pub mod vultr;
pub mod wireserver;
pub mod yaml;

pub use metadata::{metadata, network_kargs};

use crate::error::{Error, Result};
use crate::resource::Fetcher;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The platforms named by `-platform` / `ignition.platform.id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Platform {
    Metal,
    File,
    Qemu,
    Vmware,
    Aws,
    Gcp,
    Azure,
    AzureStack,
    OpenStack,
    HuaweiCloud,
    Aliyun,
    TencentCloud,
    DigitalOcean,
    Hetzner,
    Exoscale,
    Vultr,
    UpCloud,
    OracleCloud,
    Scaleway,
    Akamai,
    Packet,
    IbmCloud,
    KubeVirt,
    Nutanix,
    PowerVs,
    ProxmoxVe,
    CloudStack,
}

impl Platform {
    pub const ALL: [Platform; 27] = [
        Platform::Metal,
        Platform::File,
        Platform::Qemu,
        Platform::Vmware,
        Platform::Aws,
        Platform::Gcp,
        Platform::Azure,
        Platform::AzureStack,
        Platform::OpenStack,
        Platform::HuaweiCloud,
        Platform::Aliyun,
        Platform::TencentCloud,
        Platform::DigitalOcean,
        Platform::Hetzner,
        Platform::Exoscale,
        Platform::Vultr,
        Platform::UpCloud,
        Platform::OracleCloud,
        Platform::Scaleway,
        Platform::Akamai,
        Platform::Packet,
        Platform::IbmCloud,
        Platform::KubeVirt,
        Platform::Nutanix,
        Platform::PowerVs,
        Platform::ProxmoxVe,
        Platform::CloudStack,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Platform::Metal => "metal",
            Platform::File => "file",
            Platform::Qemu => "qemu",
            Platform::Vmware => "vmware",
            Platform::Aws => "aws",
            Platform::Gcp => "gcp",
            Platform::Azure => "azure",
            Platform::AzureStack => "azurestack",
            Platform::OpenStack => "openstack",
            Platform::HuaweiCloud => "huaweicloud",
            Platform::Aliyun => "aliyun",
            Platform::TencentCloud => "tencentcloud",
            Platform::DigitalOcean => "digitalocean",
            Platform::Hetzner => "hetzner",
            Platform::Exoscale => "exoscale",
            Platform::Vultr => "vultr",
            Platform::UpCloud => "upcloud",
            Platform::OracleCloud => "oraclecloud",
            Platform::Scaleway => "scaleway",
            Platform::Akamai => "akamai",
            Platform::Packet => "packet",
            Platform::IbmCloud => "ibmcloud",
            Platform::KubeVirt => "kubevirt",
            Platform::Nutanix => "nutanix",
            Platform::PowerVs => "powervs",
            Platform::ProxmoxVe => "proxmoxve",
            Platform::CloudStack => "cloudstack",
        }
    }

    pub fn parse(id: &str) -> Result<Platform> {
        Platform::ALL
            .into_iter()
            .find(|p| p.id() == id)
            .ok_or_else(|| {
                let known: Vec<&str> = Platform::ALL.iter().map(|p| p.id()).collect();
                Error::usage(format!(
                    "unknown platform {id:?}; known platforms: {}",
                    known.join(", ")
                ))
            })
    }
}

/// Where the host's kernel interfaces are: `/` on a real boot, a fixture tree in tests.
#[derive(Debug, Clone)]
pub struct HostPaths {
    pub root: PathBuf,
}

impl HostPaths {
    pub fn real() -> HostPaths {
        HostPaths {
            root: PathBuf::from("/"),
        }
    }

    pub fn new(root: impl Into<PathBuf>) -> HostPaths {
        HostPaths { root: root.into() }
    }

    /// An absolute host path (`/proc/cmdline`) under the root.
    pub fn path(&self, p: &str) -> PathBuf {
        self.root.join(p.trim_start_matches('/'))
    }

    pub fn read(&self, p: &str) -> std::io::Result<Vec<u8>> {
        std::fs::read(self.path(p))
    }

    pub fn read_opt(&self, p: &str) -> Result<Option<Vec<u8>>> {
        match self.read(p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::failed(format!("reading {p}: {e}"))),
        }
    }
}

/// Reads a file from a filesystem on a block device (config drives, CD-ROMs). The real one
/// mounts the device read-only on a private temp dir; tests map devices to fixture dirs.
pub trait Mounter: Sync {
    /// Reads `rel` from the filesystem on `device`: `Ok(None)` when the file is absent.
    fn read_file(&self, device: &Path, fstypes: &[&str], rel: &str) -> Result<Option<Vec<u8>>>;
}

/// What a provider gets to work with.
pub struct Env<'a> {
    pub host: &'a HostPaths,
    pub fetcher: &'a Fetcher,
    pub mounter: &'a dyn Mounter,
    /// External commands (modprobe), through the seam tests record.
    pub runner: &'a dyn crate::sys::cmd::Runner,
    /// Upper bound for fetching the provider config (`-fetch-timeout`).
    pub fetch_timeout: Duration,
}

/// Every fixed origin a provider's metadata service is reached at (CloudStack's is the DHCP
/// server, found in the leases). Tests reroute these to loopback servers
/// (`resource::Reroutes`); the providers always build their URLs on the real addresses.
pub const METADATA_ORIGINS: &[&str] = &[
    "http://169.254.169.254",
    "http://169.254.42.42",
    "http://100.100.100.200",
    "http://168.63.129.16",
    "http://metadata.tencentyun.com",
    "http://metadata.packet.net",
    "https://metadata.packet.net",
];

/// The user config a platform provides: `Ok(None)` when it has none.
pub fn fetch_config(p: Platform, env: &Env) -> Result<Option<Vec<u8>>> {
    match p {
        Platform::Metal => Ok(None),
        Platform::File => file::fetch_config(env),
        Platform::Qemu => qemu::fetch_config(env),
        Platform::Vmware => vmware::fetch_config(env),
        Platform::Aws => aws::fetch_config(env),
        Platform::Gcp => gcp::fetch_config(env),
        Platform::Azure => azure::fetch_config(env, false),
        Platform::AzureStack => azure::fetch_config(env, true),
        Platform::OpenStack | Platform::HuaweiCloud => openstack::fetch_config(env, p),
        Platform::Aliyun => aliyun::fetch_config(env),
        Platform::TencentCloud => tencentcloud::fetch_config(env),
        Platform::OracleCloud => oraclecloud::fetch_config(env),
        Platform::Akamai => akamai::fetch_config(env),
        Platform::CloudStack => cloudstack::fetch_config(env),
        Platform::DigitalOcean
        | Platform::Hetzner
        | Platform::Exoscale
        | Platform::Vultr
        | Platform::UpCloud
        | Platform::Scaleway
        | Platform::Packet => simple::fetch_config(env, p),
        Platform::IbmCloud
        | Platform::KubeVirt
        | Platform::Nutanix
        | Platform::PowerVs
        | Platform::ProxmoxVe => configdrive::fetch_config(env, p),
    }
}

/// The detached signature of the platform's user config (see `crate::signing`): `Ok(None)`
/// when the platform has none. Only platforms with a place for one are asked: VMware
/// (`guestinfo.ignition.config.signature`, or the config URL's sibling) and `file`
/// (`<file>.sig`); on the others a signed config comes through `ignition.config.url`.
pub fn fetch_signature(p: Platform, env: &Env) -> Result<Option<(Vec<u8>, String)>> {
    match p {
        Platform::File => file::fetch_signature(env),
        Platform::Vmware => vmware::fetch_signature(env),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        for p in Platform::ALL {
            assert_eq!(Platform::parse(p.id()).unwrap(), p);
        }
        let e = Platform::parse("nope").unwrap_err();
        assert_eq!(e.kind().exit_code(), 2);
        assert!(e.to_string().contains("qemu"));
    }
}
