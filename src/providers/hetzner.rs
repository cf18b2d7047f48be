//! Hetzner Cloud metadata (Afterburn's): the YAML document at `hetzner/v1/metadata` gives the
//! hostname, instance id, public IPv4, region, zone and public keys; the private networks
//! document adds `HETZNER_PRIVATE_IPV4_<n>`. User data is in `simple`.

use super::cloudinit::{keys_of, text};
use super::metadata::{put, Service};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::{Error, Result};
use serde_json::Value;

const BASE: &str = "http://169.254.169.254";
const PATH: &str = "hetzner/v1/metadata";
const PRIVATE_NETWORKS: &str = "hetzner/v1/metadata/private-networks";

fn yaml(svc: &Service, path: &str) -> Result<Option<Value>> {
    let Some(b) = svc.bytes(path)? else {
        return Ok(None);
    };
    let t =
        String::from_utf8(b).map_err(|_| Error::failed(format!("{}: not UTF-8", svc.url(path))))?;
    super::yaml::parse(&t)
        .map(Some)
        .map_err(|e| e.context(svc.url(path)))
}

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc = Service::new(env, BASE);
    let doc = yaml(&svc, PATH)?.ok_or_else(|| {
        Error::failed(format!(
            "{}: no metadata document (HTTP 404 or empty)",
            svc.url(PATH)
        ))
    })?;
    let mut md = Metadata {
        hostname: doc.get("hostname").and_then(text),
        ssh_keys: doc.get("public-keys").map(keys_of).unwrap_or_default(),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(a, "HETZNER_AVAILABILITY_ZONE", doc.get("availability-zone"));
    put(a, "HETZNER_HOSTNAME", doc.get("hostname"));
    put(a, "HETZNER_INSTANCE_ID", doc.get("instance-id"));
    put(a, "HETZNER_PUBLIC_IPV4", doc.get("public-ipv4"));
    put(a, "HETZNER_REGION", doc.get("region"));
    if let Some(v6) = public_ipv6(&doc) {
        a.insert("HETZNER_PUBLIC_IPV6".into(), v6);
    }
    let private = yaml(&svc, PRIVATE_NETWORKS)?;
    for (i, net) in private
        .iter()
        .filter_map(Value::as_array)
        .flatten()
        .enumerate()
    {
        put(a, &format!("HETZNER_PRIVATE_IPV4_{i}"), net.get("ip"));
    }
    Ok(md)
}

/// Afterburn 5.11's public IPv6: the first static `ipv6: true` subnet of the first physical
/// `network-config` entry, its prefix length cut (the address is normalised on the way out).
fn public_ipv6(doc: &Value) -> Option<String> {
    let entries = doc.pointer("/network-config/config")?.as_array()?;
    let nic = entries
        .iter()
        .find(|e| e.get("type").and_then(text).as_deref() == Some("physical"))?;
    let subnet = nic.get("subnets")?.as_array()?.iter().find(|s| {
        s.get("ipv6").and_then(Value::as_bool) == Some(true)
            && s.get("type").and_then(text).as_deref() == Some("static")
    })?;
    let addr = subnet.get("address").and_then(text)?;
    let addr = addr.split('/').next().unwrap_or_default();
    addr.parse::<std::net::Ipv6Addr>()
        .ok()
        .map(|a| a.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{Bench, Reply, Request, Server};

    #[test]
    fn no_private_networks_and_bad_yaml() {
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/hetzner/v1/metadata" => Reply::ok("hostname: h\npublic-keys: []\n"),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        let md = metadata(&b.env(Some(&s.base))).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("h"));
        assert!(md.ssh_keys.is_empty());
        let s = Server::start(|_: &Request| Reply::ok("a: &anchor x\n"));
        let e = metadata(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("YAML line 1"), "{e}");
    }
}
