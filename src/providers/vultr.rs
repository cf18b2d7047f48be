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
