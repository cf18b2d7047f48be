//! CloudStack: the config drive (`cloudstack/userdata/user_data.txt`) raced against the
//! metadata service on the DHCP server, whose address comes from the DHCP lease files under
//! /run and /var/lib (systemd-networkd, dhclient). Offline it always needs the network, as in
//! Ignition. Metadata (Afterburn's `CLOUDSTACK_*`): the drive's `cloudstack/metadata/*.txt`
//! when a drive is attached, else the service's `latest/meta-data/` tree.

use super::configdrive;
use super::metadata::{Service, Sources};
use super::openstack::race;
use super::util::{self, Deadline};
use super::{Env, HostPaths};
use crate::afterburn::Metadata;
use crate::error::{Context, Error, Kind, Result};
use crate::resource::Fetcher;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

const DRIVE_FILE: &str = "cloudstack/userdata/user_data.txt";
const USER_DATA_PATH: &str = "latest/user-data";
const LEASE_POLL: Duration = Duration::from_millis(500);

/// How a lease file records the DHCP server.
#[derive(Clone, Copy)]
enum LeaseFormat {
    /// `KEY=value` lines (systemd-networkd, and NetworkManager's internal client).
    Networkd,
    /// ISC dhclient `lease { ... option dhcp-server-identifier A.B.C.D; }` blocks.
    Dhclient,
}

/// Where leases are looked for, in order; files whose name contains `filter`.
const LEASE_DIRS: [(&str, &str, LeaseFormat); 5] = [
    ("/run/systemd/netif/leases", "", LeaseFormat::Networkd),
    ("/run/NetworkManager", ".lease", LeaseFormat::Networkd),
    ("/var/lib/NetworkManager", ".lease", LeaseFormat::Networkd),
    ("/var/lib/dhclient", "lease", LeaseFormat::Dhclient),
    ("/var/lib/dhcp", "lease", LeaseFormat::Dhclient),
];

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    if env.fetcher.is_offline() {
        return Err(Error::new(
            Kind::NeedNet,
            "cloudstack: the config drive races the metadata service, which needs networking",
        ));
    }
    let host = env.host.clone();
    let limit = util::wait_limit(env);
    race(
        env,
        "cloudstack",
        &configdrive::CONFIG_2,
        DRIVE_FILE,
        move |f: &Fetcher, decided: &AtomicBool| {
            let server = wait_for_dhcp_server(&host, Deadline::after(limit), decided)?;
            let url = util::join(&format!("http://{server}"), USER_DATA_PATH);
            log::info!("cloudstack: fetching user data from {url}");
            let d = f
                .http_request("GET", &url, &[], None, &[])
                .context(|| format!("fetching {url}"))?;
            Ok(util::non_empty(d))
        },
    )
}

/// `(drive file stem / service leaf, attribute)`; the service has a few more.
const ATTRS: [(&str, &str); 10] = [
    ("availability-zone", "CLOUDSTACK_AVAILABILITY_ZONE"),
    ("cloud-identifier", "CLOUDSTACK_CLOUD_IDENTIFIER"),
    ("instance-id", "CLOUDSTACK_INSTANCE_ID"),
    ("local-hostname", "CLOUDSTACK_LOCAL_HOSTNAME"),
    ("service-offering", "CLOUDSTACK_SERVICE_OFFERING"),
    ("vm-id", "CLOUDSTACK_VM_ID"),
    ("local-ipv4", "CLOUDSTACK_IPV4_LOCAL"),
    ("public-ipv4", "CLOUDSTACK_IPV4_PUBLIC"),
    ("public-hostname", "CLOUDSTACK_PUBLIC_HOSTNAME"),
    ("hostname", "CLOUDSTACK_HOSTNAME"),
];
/// How many of `ATTRS` the config drive carries.
const DRIVE_ATTRS: usize = 6;

pub fn metadata(env: &Env, sources: Sources) -> Result<Metadata> {
    if sources != Sources::ServiceOnly {
        match super::label::find(env.host, &configdrive::CONFIG_2) {
            Some((_, dev)) => return drive_metadata(env, &dev),
            None if sources == Sources::DriveOnly => {
                return Err(Error::failed(
                    "no config drive labelled config-2 or CONFIG-2",
                ))
            }
            None => log::info!("cloudstack: no config drive; using the metadata service"),
        }
    }
    let server = dhcp_server(env.host)
        .ok_or_else(|| Error::failed("no DHCP lease names the metadata server"))?;
    let svc = Service::at(env, format!("http://{server}"));
    let mut md = Metadata::default();
    svc.leaves("latest/meta-data/", &ATTRS, &mut md.attributes)?;
    md.hostname = md.attributes.get("CLOUDSTACK_LOCAL_HOSTNAME").cloned();
    md.ssh_keys = svc.ec2_public_keys("latest/meta-data/", "public-keys")?;
    Ok(md)
}

fn drive_metadata(env: &Env, dev: &std::path::Path) -> Result<Metadata> {
    let mut md = Metadata::default();
    let read = |stem: &str| -> Result<Option<String>> {
        let rel = format!("cloudstack/metadata/{stem}.txt");
        Ok(configdrive::read(env, dev, &rel)?
            .map(|b| String::from_utf8_lossy(&b).trim().to_string())
            .filter(|s| !s.is_empty()))
    };
    for (stem, name) in &ATTRS[..DRIVE_ATTRS] {
        if let Some(v) = read(stem)? {
            md.attributes.insert((*name).to_string(), v);
        }
    }
    md.hostname = md.attributes.get("CLOUDSTACK_LOCAL_HOSTNAME").cloned();
    md.ssh_keys = read("public-keys")?
        .map(|k| super::cloudinit::key_lines(&k))
        .unwrap_or_default();
    Ok(md)
}

/// Polls the lease files until one names a DHCP server.
fn wait_for_dhcp_server(
    host: &HostPaths,
    deadline: Deadline,
    decided: &AtomicBool,
) -> Result<Ipv4Addr> {
    loop {
        if let Some(a) = dhcp_server(host) {
            return Ok(a);
        }
        if deadline.passed() || decided.load(Ordering::Relaxed) {
            return Err(Error::failed(
                "no DHCP lease names a server (looked in /run/systemd/netif/leases, NetworkManager and dhclient lease files)",
            ));
        }
        log::debug!("cloudstack: no DHCP lease yet; waiting");
        std::thread::sleep(LEASE_POLL.min(deadline.remaining()));
    }
}

/// The DHCP server of the first lease file (in `LEASE_DIRS` order, then by name) naming one.
pub(crate) fn dhcp_server(host: &HostPaths) -> Option<Ipv4Addr> {
    for (dir, filter, format) in LEASE_DIRS {
        let Ok(rd) = std::fs::read_dir(host.path(dir)) else {
            continue;
        };
        let mut files: Vec<_> = rd
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(filter))
            .map(|e| e.path())
            .collect();
        files.sort();
        for f in files {
            let Ok(text) = std::fs::read_to_string(&f) else {
                continue;
            };
            let found = match format {
                LeaseFormat::Networkd => networkd_server(&text),
                LeaseFormat::Dhclient => dhclient_server(&text),
            };
            if let Some(a) = found {
                log::info!("cloudstack: DHCP server {a} from {}", f.display());
                return Some(a);
            }
        }
    }
    None
}

fn networkd_server(text: &str) -> Option<Ipv4Addr> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("SERVER_ADDRESS="))
        .and_then(|v| v.trim().parse().ok())
}

/// dhclient appends a block per lease: the last one is the newest.
fn dhclient_server(text: &str) -> Option<Ipv4Addr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("option dhcp-server-identifier "))
        .filter_map(|v| v.trim().trim_end_matches(';').trim().parse().ok())
        .next_back()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, tree_reply, Bench, Reply, Request, Server};

    fn place(b: &Bench, host_path: &str, fixture_name: &str) {
        let p = b.host.path(host_path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, fixture(fixture_name)).unwrap();
    }

    #[test]
    fn lease_formats() {
        let n = String::from_utf8(fixture("cloudstack/leases/networkd")).unwrap();
        assert_eq!(networkd_server(&n), Some(Ipv4Addr::new(10, 1, 1, 1)));
        let d = String::from_utf8(fixture("cloudstack/leases/dhclient.leases")).unwrap();
        assert_eq!(dhclient_server(&d), Some(Ipv4Addr::new(10, 1, 1, 3)));
        assert_eq!(networkd_server("ADDRESS=1.2.3.4\n"), None);
        assert_eq!(dhclient_server("lease {\n}\n"), None);
    }

    #[test]
    fn lease_lookup_order() {
        let b = Bench::new();
        assert_eq!(dhcp_server(&b.host), None);
        place(
            &b,
            "/var/lib/dhclient/dhclient-eth0.leases",
            "cloudstack/leases/dhclient.leases",
        );
        assert_eq!(dhcp_server(&b.host), Some(Ipv4Addr::new(10, 1, 1, 3)));
        place(
            &b,
            "/run/systemd/netif/leases/2",
            "cloudstack/leases/networkd",
        );
        assert_eq!(dhcp_server(&b.host), Some(Ipv4Addr::new(10, 1, 1, 1)));
    }

    /// The metadata server the networkd lease fixture names.
    const LEASED: &str = "http://10.1.1.1";

    /// A bench whose networkd lease names `LEASED`.
    fn leased() -> Bench {
        let b = Bench::new();
        place(
            &b,
            "/run/systemd/netif/leases/2",
            "cloudstack/leases/networkd",
        );
        b
    }

    #[test]
    fn metadata_service() {
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/latest/user-data" => Reply::ok(fixture("cloudstack/user-data")),
            _ => Reply::status(404),
        });
        let b = leased();
        assert_eq!(
            fetch_config(&b.env_rerouted(&[LEASED], &s.base)).unwrap(),
            Some(fixture("cloudstack/user-data"))
        );
        assert_eq!(s.requests()[0].header("host"), Some("10.1.1.1"));
        let s = Server::start(|_: &Request| Reply::status(404));
        assert_eq!(
            fetch_config(&b.env_rerouted(&[LEASED], &s.base)).unwrap(),
            None
        );
    }

    #[test]
    fn config_drive_wins_without_a_lease() {
        let b = Bench::new();
        b.label("config-2", "cloudstack/config-drive");
        let got = fetch_config(&b.env(None)).unwrap();
        assert_eq!(
            got,
            Some(fixture(
                "cloudstack/config-drive/cloudstack/userdata/user_data.txt"
            ))
        );
        assert_eq!(b.mounter.calls()[0].2, DRIVE_FILE);
    }

    #[test]
    fn neither_lease_nor_drive() {
        let mut b = Bench::new();
        b.fetch_timeout = Duration::from_millis(700);
        let e = fetch_config(&b.env(None)).unwrap_err();
        assert!(e.to_string().contains("DHCP lease"), "{e}");
    }

    #[test]
    fn offline_needs_net() {
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.offline_env(None)).unwrap_err().kind(),
            Kind::NeedNet
        );
    }

    #[test]
    fn metadata_from_drive_or_service() {
        let b = Bench::new();
        b.label("CONFIG-2", "cloudstack/config-drive");
        let md = metadata(&b.env(None), Sources::Both).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-cs"));
        assert_eq!(md.attributes["CLOUDSTACK_VM_ID"], "8a4f0b2c-drive");
        assert_eq!(md.attributes.len(), 6);
        assert_eq!(md.ssh_keys.len(), 1);

        place(
            &b,
            "/run/systemd/netif/leases/2",
            "cloudstack/leases/networkd",
        );
        let s = Server::start(|r: &Request| tree_reply("cloudstack/metadata", &r.target));
        let md = metadata(&b.env_rerouted(&[LEASED], &s.base), Sources::ServiceOnly).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-cs-svc"));
        assert_eq!(md.attributes["CLOUDSTACK_IPV4_PUBLIC"], "203.0.113.88");
        assert_eq!(
            md.ssh_keys,
            ["ssh-rsa AAAAB3NzaC1yc2ECloudStackSvc svc@example"]
        );
    }

    #[test]
    fn service_found_through_the_lease() {
        let b = Bench::new();
        let e = metadata(&b.env(None), Sources::ServiceOnly).unwrap_err();
        assert!(e.to_string().contains("DHCP lease"), "{e}");
        assert!(metadata(&b.env(None), Sources::DriveOnly).is_err());
    }
}
