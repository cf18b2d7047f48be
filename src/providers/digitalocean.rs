//! DigitalOcean metadata (Afterburn's): `metadata/v1.json` gives the hostname, region, public
//! keys and the addresses of the public and private interfaces (`DIGITALOCEAN_IPV4_PUBLIC_0`,
//! `..._IPV4_ANCHOR_0`, `..._IPV6_PRIVATE_0`, ...). User data is in `simple`.

use super::metadata::{put, Service};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;
use serde_json::Value;

const BASE: &str = "http://169.254.169.254";
const PATH: &str = "metadata/v1.json";

pub fn metadata(env: &Env) -> Result<Metadata> {
    let doc = Service::new(env, BASE).required_json(PATH)?;
    let mut md = Metadata {
        hostname: doc.get("hostname").and_then(super::cloudinit::text),
        ssh_keys: doc
            .get("public_keys")
            .map(super::cloudinit::keys_of)
            .unwrap_or_default(),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(a, "DIGITALOCEAN_HOSTNAME", doc.get("hostname"));
    put(a, "DIGITALOCEAN_REGION", doc.get("region"));
    for kind in ["public", "private"] {
        let list = doc
            .pointer(&format!("/interfaces/{kind}"))
            .and_then(Value::as_array);
        for (i, nic) in list.into_iter().flatten().enumerate() {
            let up = kind.to_ascii_uppercase();
            put(
                a,
                &format!("DIGITALOCEAN_IPV4_{up}_{i}"),
                nic.pointer("/ipv4/ip_address"),
            );
            put(
                a,
                &format!("DIGITALOCEAN_IPV6_{up}_{i}"),
                nic.pointer("/ipv6/ip_address"),
            );
            if kind == "public" {
                let anchor = nic.pointer("/anchor_ipv4/ip_address");
                put(a, &format!("DIGITALOCEAN_IPV4_ANCHOR_{i}"), anchor);
            }
        }
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::providers::testserver::{Bench, Reply, Request, Server};

    #[test]
    fn missing_document_is_an_error() {
        let s = Server::start(|_: &Request| Reply::status(404));
        let b = Bench::new();
        assert!(metadata(&b.env(Some(&s.base))).is_err());
        assert_eq!(
            metadata(&b.offline_env(None)).unwrap_err().kind(),
            Kind::NeedNet
        );
    }

    #[test]
    fn deliberate_difference_malformed_json_fails_at_once() {
        // Afterburn retries a document it cannot parse as if the service were down; ignis
        // names the URL and stops: a malformed document does not heal by asking again.
        let s = Server::start(|_: &Request| Reply::ok("{\"hostname\": "));
        let b = Bench::new();
        let t = std::time::Instant::now();
        let e = metadata(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("metadata/v1.json: not JSON"), "{e}");
        assert_eq!(s.requests().len(), 1, "not retried");
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
}
