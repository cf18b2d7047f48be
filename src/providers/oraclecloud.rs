//! Oracle Cloud: base64 user data from the v2 instance metadata service, which requires
//! `Authorization: Bearer Oracle` and rate-limits with 429. 404 means no user data.
//! Metadata (Afterburn's `ORACLECLOUD_*` attributes, hostname, `ssh_authorized_keys`) comes
//! from the `opc/v2/instance/` document.

use super::metadata::{put, Service};
use super::util::{self, Http};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const PATH: &str = "opc/v2/instance/metadata/user_data";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let url = util::join(BASE, PATH);
    log::info!("oraclecloud: fetching user data from {url}");
    let Some(b64) =
        Http::new(env).get_user_data(&url, &[("Authorization", "Bearer Oracle")], &[429])?
    else {
        return Ok(None);
    };
    Ok(util::non_empty(Some(util::decode_base64(
        &b64,
        "oraclecloud user data",
    )?)))
}

pub fn metadata(env: &Env) -> Result<Metadata> {
    let doc = Service::new(env, BASE)
        .header("Authorization", "Bearer Oracle")
        .retrying(&[429])
        .required_json("opc/v2/instance/")?;
    let mut md = Metadata {
        hostname: doc.get("hostname").and_then(super::cloudinit::text),
        ssh_keys: doc
            .pointer("/metadata/ssh_authorized_keys")
            .map(super::cloudinit::keys_of)
            .unwrap_or_default(),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(
        a,
        "ORACLECLOUD_AVAILABILITY_DOMAIN",
        doc.get("availabilityDomain"),
    );
    put(a, "ORACLECLOUD_COMPARTMENT_ID", doc.get("compartmentId"));
    put(a, "ORACLECLOUD_FAULT_DOMAIN", doc.get("faultDomain"));
    put(a, "ORACLECLOUD_HOSTNAME", doc.get("hostname"));
    put(a, "ORACLECLOUD_INSTANCE_ID", doc.get("id"));
    put(a, "ORACLECLOUD_INSTANCE_SHAPE", doc.get("shape"));
    put(a, "ORACLECLOUD_REGION_ID", doc.get("canonicalRegionName"));
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn decodes_and_retries_429() {
        let n = AtomicUsize::new(0);
        let s = Server::start(move |r: &Request| {
            if r.header("Authorization") != Some("Bearer Oracle") {
                return Reply::status(401);
            }
            if r.target != "/opc/v2/instance/metadata/user_data" {
                return Reply::status(404);
            }
            if n.fetch_add(1, Ordering::SeqCst) < 2 {
                return Reply::status(429);
            }
            Reply::ok(fixture("oraclecloud/user_data.b64"))
        });
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base))).unwrap().unwrap();
        assert!(String::from_utf8(got).unwrap().contains("oraclecloud"));
        assert_eq!(s.requests().len(), 3);
    }

    #[test]
    fn garbage_is_an_error() {
        let s = Server::start(|_: &Request| Reply::ok("{not base64}"));
        let b = Bench::new();
        let e = fetch_config(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("base64"), "{e}");
    }
}
