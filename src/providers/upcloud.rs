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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{tree_reply, Bench, Request, Server};

    #[test]
    fn metadata_leaves() {
        let s = Server::start(|r: &Request| tree_reply("upcloud/metadata", &r.target));
        let b = Bench::new();
        let md = metadata(&b.env(Some(&s.base))).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-upcloud"));
        assert_eq!(
            md.attributes["UPCLOUD_INSTANCE_ID"],
            "00a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b"
        );
        assert_eq!(md.attributes["UPCLOUD_REGION"], "fi-hel1");
        assert_eq!(md.ssh_keys.len(), 2);
    }
}
