//! Initrd network kargs for OpenStack and Huawei Cloud from `network_data.json` (Afterburn has
//! none there: fedora-coreos-tracker item 324): static addresses, DHCP links, extra routes and
//! DNS servers become `ip=`, `rd.route=`, `nameserver=`, links are named by MAC with `ifname=`.
//! The config drive is read first (it needs no network); the metadata service only when the
//! host already routes IPv4, since these kargs exist to bring the network up. Anything missing
//! or failing means no kargs from the platform, so the distribution's default applies.

use super::cloudinit::{self, field, parse_doc};
use super::configdrive::{self, CONFIG_2};
use super::metadata::Sources;
use super::{label, util, Env, Platform};
use crate::afterburn::network::{render_kargs_with, Naming};
use crate::error::{Context, Error, Result};
use crate::resource::Options;
use std::time::Duration;

const BASE: &str = "http://169.254.169.254";
const NETWORK_DATA: &str = "openstack/latest/network_data.json";
const META_DATA: &str = "openstack/latest/meta_data.json";
/// How long the early lookup waits for a config drive after loading block drivers.
const EARLY_WAIT: Duration = Duration::from_secs(3);

/// The documents a source gave: `network_data.json`, and `meta_data.json` for the hostname.
struct Docs {
    network: Option<Vec<u8>>,
    meta: Option<Vec<u8>>,
}

pub fn network_kargs(env: &Env, p: Platform, sources: Sources) -> Result<Option<String>> {
    let docs = if sources == Sources::ServiceOnly {
        None
    } else {
        match label::find_early(env.host, env.runner, &CONFIG_2, EARLY_WAIT) {
            Some((l, dev)) => {
                log::info!("{}: config drive {l} at {}", p.id(), dev.display());
                Some(Docs {
                    network: configdrive::read(env, &dev, NETWORK_DATA)?,
                    meta: configdrive::read(env, &dev, META_DATA)?,
                })
            }
            None => None,
        }
    };
    let docs = match docs {
        Some(d) => d,
        None if sources == Sources::DriveOnly => {
            log::info!(
                "{}: no config drive; no network kargs from the platform",
                p.id()
            );
            return Ok(None);
        }
        None => match from_service(env, p)? {
            Some(d) => d,
            None => return Ok(None),
        },
    };
    let Some(network) = docs.network else {
        log::info!(
            "{}: no {NETWORK_DATA}; no network kargs from the platform",
            p.id()
        );
        return Ok(None);
    };
    let doc = parse_doc(&network, "network_data.json")?;
    if !doc.is_object() {
        return Err(Error::failed(format!(
            "{NETWORK_DATA} is not a JSON object"
        )));
    }
    let ifaces = cloudinit::network_data(&doc);
    let hostname = match &docs.meta {
        Some(m) => field(&parse_doc(m, "meta_data.json")?, &["hostname"]),
        None => None,
    };
    let k = render_kargs_with(&ifaces, Naming::ByMac, hostname.as_deref());
    if k.is_none() {
        log::info!(
            "{}: {NETWORK_DATA} has no static address; the default network kargs apply",
            p.id()
        );
    }
    Ok(k)
}

/// Whether the host already has an IPv4 route (`/proc/net/route` lists the main table,
/// header first): in the initrd before these kargs are applied it has none, and asking the
/// metadata service would only wait for a timeout.
fn routes_ipv4(env: &Env) -> Result<bool> {
    Ok(env.host.read_opt("/proc/net/route")?.is_some_and(|b| {
        String::from_utf8_lossy(&b)
            .lines()
            .skip(1)
            .any(|l| !l.trim().is_empty())
    }))
}

/// Both documents from the metadata service, once, with short bounds; `None` when the host has
/// no network yet or the service does not answer (logged: the default then applies).
fn from_service(env: &Env, p: Platform) -> Result<Option<Docs>> {
    if !routes_ipv4(env)? {
        log::info!(
            "{}: no config drive, and no network yet to reach the metadata service; no network kargs from the platform",
            p.id()
        );
        return Ok(None);
    }
    // The command's fetcher is offline (nothing may leave before the initrd network is up);
    // here a route exists, so one bounded attempt is worth it.
    let fetcher = env.fetcher.derive(
        Options {
            connect: Some(Duration::from_secs(1)),
            response_headers: Some(Duration::from_secs(3)),
            total: Some(Duration::from_secs(4)),
            ..Options::default()
        },
        false,
    );
    let base = BASE;
    let get = |path: &str| {
        let url = util::join(base, path);
        fetcher
            .http_get(&url, &[])
            .map(util::non_empty)
            .context(|| format!("fetching {url}"))
    };
    match get(NETWORK_DATA) {
        Ok(network) => {
            // The hostname is a nicety: its absence or failure changes nothing else.
            let meta = get(META_DATA).unwrap_or_else(|e| {
                log::info!("{}: no hostname from the metadata service: {e}", p.id());
                None
            });
            Ok(Some(Docs { network, meta }))
        }
        Err(e) => {
            log::warn!(
                "{}: the metadata service did not give {NETWORK_DATA}: {e}; no network kargs from the platform",
                p.id()
            );
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afterburn::netkargs;
    use crate::providers::testserver::{dead_base, tree_reply, Bench, Reply, Request, Server};
    use std::time::Instant;

    const ROUTE_HEADER: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    /// A host whose main table has a default route (as once the initrd network is up).
    fn with_route(b: &Bench) {
        let p = b.host.path("/proc/net/route");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(
            p,
            format!("{ROUTE_HEADER}eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"),
        )
        .unwrap();
    }

    /// A host in the initrd before networking: the route file has its header only.
    fn without_route(b: &Bench) {
        let p = b.host.path("/proc/net/route");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, ROUTE_HEADER).unwrap();
    }

    fn tree(dir: &'static str) -> Server {
        Server::start(move |r: &Request| tree_reply(dir, &r.target))
    }

    #[test]
    fn config_drive_static_network() {
        let b = Bench::new();
        b.label("config-2", "openstack/config-drive-static");
        with_route(&b);
        let s = tree("openstack/metadata");
        // Offline, as the command runs: the drive needs no network, the service is not asked.
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::OpenStack,
            Sources::Both,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            k,
            "ifname=net0:fa:16:3e:60:32:83 ifname=net1:fa:16:3e:99:59:c6 \
             ip=10.192.35.66::10.192.35.254:255.255.252.0:nestos-static.novalocal:net0:off \
             ip=[2001:db8:9:19::66]::[2001:db8:9:19::1]:64:nestos-static.novalocal:net0:off \
             rd.route=172.16.0.0/12:10.192.35.1:net0 ip=net1:dhcp \
             nameserver=10.255.250.40 nameserver=[2001:4860:4860::8888] nameserver=10.192.35.2"
        );
        netkargs::validate(&k).unwrap();
        assert!(s.requests().is_empty(), "the drive answers");
        let read: Vec<String> = b.mounter.calls().into_iter().map(|c| c.2).collect();
        assert_eq!(read, [NETWORK_DATA, META_DATA]);
    }

    #[test]
    fn drive_without_network_data_gives_none() {
        let b = Bench::new();
        b.label("CONFIG-2", "openstack/config-drive");
        with_route(&b);
        let s = tree("openstack/metadata");
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::OpenStack,
            Sources::Both,
        );
        assert_eq!(k.unwrap(), None);
        assert!(
            s.requests().is_empty(),
            "a drive is the answer, even an empty one"
        );
    }

    #[test]
    fn metadata_service_once_a_network_is_up() {
        let b = Bench::new();
        with_route(&b);
        let s = tree("openstack/metadata");
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::OpenStack,
            Sources::Both,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            k,
            "ifname=net0:fa:16:3e:3c:1d:9e \
             ip=203.0.113.77::203.0.113.1:255.255.255.0:nestos-svc:net0:off \
             nameserver=203.0.113.53"
        );
        netkargs::validate(&k).unwrap();
        let paths: Vec<String> = s.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(paths, [format!("/{NETWORK_DATA}"), format!("/{META_DATA}")]);
        // openstack-metadata pins the service even with a drive attached.
        b.label("config-2", "openstack/config-drive-static");
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::OpenStack,
            Sources::ServiceOnly,
        )
        .unwrap()
        .unwrap();
        assert!(k.starts_with("ifname=net0:fa:16:3e:3c:1d:9e "), "{k}");
    }

    #[test]
    fn no_network_yet_means_no_request() {
        let b = Bench::new();
        let s = tree("openstack/metadata");
        for setup in [without_route as fn(&Bench), |_: &Bench| {}] {
            setup(&b);
            let k = network_kargs(
                &b.offline_env(Some(&s.base)),
                Platform::OpenStack,
                Sources::Both,
            );
            assert_eq!(k.unwrap(), None);
        }
        assert!(s.requests().is_empty());
    }

    #[test]
    fn service_down_or_empty_falls_back_quickly() {
        let b = Bench::new();
        with_route(&b);
        let start = Instant::now();
        let k = network_kargs(
            &b.offline_env(Some(&dead_base())),
            Platform::OpenStack,
            Sources::Both,
        );
        assert_eq!(k.unwrap(), None);
        assert!(start.elapsed() < Duration::from_secs(6));
        let s = Server::start(|_: &Request| Reply::status(404));
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::OpenStack,
            Sources::Both,
        );
        assert_eq!(k.unwrap(), None);
        let s = Server::start(|_: &Request| Reply::ok("not json {"));
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::OpenStack,
            Sources::Both,
        );
        assert!(k.is_err(), "a document that is not JSON is reported");
    }

    #[test]
    fn huaweicloud_serves_the_same_document_dhcp_only() {
        let b = Bench::new();
        with_route(&b);
        let s = tree("huaweicloud/metadata");
        let k = network_kargs(
            &b.offline_env(Some(&s.base)),
            Platform::HuaweiCloud,
            Sources::Both,
        );
        assert_eq!(k.unwrap(), None, "DHCP only: the default does that");
        assert_eq!(s.requests()[0].target, format!("/{NETWORK_DATA}"));
    }
}
