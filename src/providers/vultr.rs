//! Vultr metadata (Afterburn's): `v1.json` gives the hostname, instance id, region code and
//! public keys. User data is in `simple`.

use super::cloudinit::{keys_of, text};
use super::metadata::{put, Service};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const PATH: &str = "v1.json";

pub fn metadata(env: &Env) -> Result<Metadata> {
    let doc = Service::new(env, BASE).required_json(PATH)?;
    let mut md = Metadata {
        hostname: doc.get("hostname").and_then(text),
        ssh_keys: doc.get("public-keys").map(keys_of).unwrap_or_default(),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(a, "VULTR_HOSTNAME", doc.get("hostname"));
    put(a, "VULTR_INSTANCE_ID", doc.get("instanceid"));
    put(a, "VULTR_REGION_CODE", doc.pointer("/region/regioncode"));
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};

    #[test]
    fn v1_json() {
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/v1.json" => Reply::ok(fixture("vultr/v1.json")),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        let md = metadata(&b.env(Some(&s.base))).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-vultr"));
        assert_eq!(md.attributes["VULTR_INSTANCE_ID"], "a747bfz6385e");
        assert_eq!(md.attributes["VULTR_REGION_CODE"], "AMS");
        assert_eq!(md.ssh_keys.len(), 1);
    }
}
