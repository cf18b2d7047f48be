//! Scaleway metadata (Afterburn's): `conf?format=json` at 169.254.42.42 gives the hostname,
//! instance id and type, addresses, zone and the account's SSH keys, plus keys set as
//! `AUTHORIZED_KEY=` tags (spaces written as `_`). The boot check-in sets the server's state
//! detail to `booted` (`PATCH state`). User data is in `simple`.

use super::cloudinit::text;
use super::metadata::{put, Service};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;
use serde_json::Value;

const BASE: &str = "http://169.254.42.42";
const PATH: &str = "conf?format=json";

pub fn metadata(env: &Env) -> Result<Metadata> {
    let doc = Service::new(env, BASE).required_json(PATH)?;
    let mut md = Metadata {
        hostname: doc.get("hostname").and_then(text),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(a, "SCALEWAY_HOSTNAME", doc.get("hostname"));
    put(a, "SCALEWAY_INSTANCE_ID", doc.get("id"));
    put(a, "SCALEWAY_INSTANCE_TYPE", doc.get("commercial_type"));
    // Afterburn's binary writes `IPV4_PRIVATE` etc.; its documentation says `PRIVATE_IPV4`.
    // Both spellings are written: units written against either find their variable.
    for (v, names) in [
        (
            doc.get("private_ip"),
            ["SCALEWAY_IPV4_PRIVATE", "SCALEWAY_PRIVATE_IPV4"],
        ),
        (
            doc.pointer("/public_ip/address"),
            ["SCALEWAY_IPV4_PUBLIC", "SCALEWAY_PUBLIC_IPV4"],
        ),
        (
            doc.pointer("/ipv6/address"),
            ["SCALEWAY_IPV6_PUBLIC", "SCALEWAY_PUBLIC_IPV6"],
        ),
    ] {
        for n in names {
            put(a, n, v);
        }
    }
    put(a, "SCALEWAY_ZONE_ID", doc.pointer("/location/zone_id"));
    let account = doc.get("ssh_public_keys").and_then(Value::as_array);
    for k in account.into_iter().flatten() {
        md.ssh_keys.extend(k.get("key").and_then(text));
    }
    let tags = doc.get("tags").and_then(Value::as_array);
    for t in tags.into_iter().flatten().filter_map(text) {
        if let Some(k) = t.strip_prefix("AUTHORIZED_KEY=") {
            md.ssh_keys.push(k.replace('_', " "));
        }
    }
    Ok(md)
}

/// The boot check-in: tells the Scaleway API the server has booted.
pub fn check_in(env: &Env) -> Result<()> {
    Service::new(env, BASE).send(
        "PATCH",
        "state",
        "application/json",
        br#"{"state_detail":"booted"}"#,
    )?;
    log::info!("scaleway: reported the state detail \"booted\"");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{Bench, Reply, Request, Server};

    #[test]
    fn scaleway_check_in_patches_state() {
        let s = Server::start(|r: &Request| match (r.method.as_str(), r.target.as_str()) {
            ("PATCH", "/state") => Reply::ok(""),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        check_in(&b.env(Some(&s.base))).unwrap();
        let r = &s.requests()[0];
        assert_eq!(r.body, br#"{"state_detail":"booted"}"#);
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
}
