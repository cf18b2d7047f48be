//! Packet (Equinix Metal) metadata (Afterburn's): the `metadata` document gives the hostname,
//! plan, SSH keys and addresses (`PACKET_IPV4_PUBLIC_0`, `..._GATEWAY_0`, ...), and the
//! phone-home URL the boot check-in posts to. User data is in `simple`.

use super::cloudinit::text;
use super::metadata::{put, Service};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;
use serde_json::Value;

const BASE: &str = "https://metadata.packet.net";
const PATH: &str = "metadata";

pub fn metadata(env: &Env) -> Result<Metadata> {
    let doc = Service::new(env, BASE).required_json(PATH)?;
    let mut md = Metadata {
        hostname: doc.get("hostname").and_then(text),
        ssh_keys: doc
            .get("ssh_keys")
            .map(super::cloudinit::keys_of)
            .unwrap_or_default(),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(a, "PACKET_HOSTNAME", doc.get("hostname"));
    put(a, "PACKET_PLAN", doc.get("plan"));
    put(a, "PACKET_PHONE_HOME_URL", doc.get("phone_home_url"));
    let mut counts = std::collections::HashMap::new();
    let addrs = doc.pointer("/network/addresses").and_then(Value::as_array);
    for addr in addrs.into_iter().flatten() {
        let family = match addr.get("address_family").and_then(text).as_deref() {
            Some("4") => "IPV4",
            Some("6") => "IPV6",
            _ => continue,
        };
        let public = addr.get("public").and_then(Value::as_bool).unwrap_or(false);
        let kind = format!("{family}_{}", if public { "PUBLIC" } else { "PRIVATE" });
        let n = counts.entry(kind.clone()).or_insert(0usize);
        put(a, &format!("PACKET_{kind}_{n}"), addr.get("address"));
        put(
            a,
            &format!("PACKET_{kind}_GATEWAY_{n}"),
            addr.get("gateway"),
        );
        *n += 1;
    }
    Ok(md)
}

/// The boot check-in: an empty `POST` to the metadata's `phone_home_url`, which tells the
/// provisioning service the machine has booted.
pub fn check_in(env: &Env) -> Result<()> {
    let doc = Service::new(env, BASE).required_json(PATH)?;
    let url = doc
        .get("phone_home_url")
        .and_then(text)
        .ok_or_else(|| crate::error::Error::failed("packet: the metadata has no phone_home_url"))?;
    let http = super::util::Http::new(env);
    http.fetcher()
        .http_request(
            "POST",
            &url,
            &[("Content-Type", "application/json")],
            Some(b""),
            &[],
        )?
        .ok_or_else(|| crate::error::Error::failed(format!("POST {url}: HTTP 404")))?;
    log::info!("packet: phoned home to {url}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{Bench, Reply, Request, Server};

    #[test]
    fn packet_phone_home_check_in() {
        let s = Server::start(|r: &Request| match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/metadata") => {
                let port = r.header("host").unwrap_or_default().to_string();
                Reply::ok(format!(
                    r#"{{"hostname": "m", "phone_home_url": "http://{port}/phone-home"}}"#
                ))
            }
            ("POST", "/phone-home") => Reply::ok(""),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        check_in(&b.env(Some(&s.base))).unwrap();
        let post = s
            .requests()
            .into_iter()
            .find(|r| r.method == "POST")
            .unwrap();
        assert_eq!(post.target, "/phone-home");
        assert_eq!(post.header("content-type"), Some("application/json"));
        // No URL: a clear error, nothing posted.
        let s = Server::start(|_: &Request| Reply::ok(r#"{"hostname": "m"}"#));
        let e = check_in(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("phone_home_url"), "{e}");
    }
}
