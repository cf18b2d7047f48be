//! UpCloud metadata (Afterburn's): `metadata/v1/{hostname,instance_id,region}` for the
//! `UPCLOUD_*` attributes and hostname, `metadata/v1/public_keys` for the keys (one a line).
//! User data is in `simple`.

use super::metadata::Service;
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const META: &str = "metadata/v1/";

const ATTRS: [(&str, &str); 3] = [
    ("hostname", "UPCLOUD_HOSTNAME"),
    ("instance_id", "UPCLOUD_INSTANCE_ID"),
    ("region", "UPCLOUD_REGION"),
];

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc = Service::new(env, BASE);
    let mut md = Metadata::default();
    svc.leaves(META, &ATTRS, &mut md.attributes)?;
    md.hostname = md.attributes.get("UPCLOUD_HOSTNAME").cloned();
    md.ssh_keys = svc
        .text(&format!("{META}public_keys"))?
        .map(|k| super::cloudinit::key_lines(&k))
        .unwrap_or_default();
    Ok(md)
}
