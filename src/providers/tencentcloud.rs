//! Tencent Cloud: user data from the EC2-style metadata service at metadata.tencentyun.com
//! (neither Ignition nor Afterburn has this platform; the paths follow cloud-init's datasource).
//! 404 means no user data. Metadata (ignis's own `TENCENTCLOUD_*` attributes, hostname,
//! `public-keys/`) comes from the same service's EC2-style `latest/meta-data/` tree.

use super::metadata::Service;
use super::util::{self, Http};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://metadata.tencentyun.com";
const PATH: &str = "latest/user-data";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let url = util::join(BASE, PATH);
    log::info!("tencentcloud: fetching user data from {url}");
    Http::new(env).get_user_data(&url, &[], &[])
}

const META: &str = "latest/meta-data/";

const ATTRS: [(&str, &str); 7] = [
    ("hostname", "TENCENTCLOUD_HOSTNAME"),
    ("instance-id", "TENCENTCLOUD_INSTANCE_ID"),
    ("instance/instance-type", "TENCENTCLOUD_INSTANCE_TYPE"),
    ("local-ipv4", "TENCENTCLOUD_IPV4_LOCAL"),
    ("public-ipv4", "TENCENTCLOUD_IPV4_PUBLIC"),
    ("placement/region", "TENCENTCLOUD_REGION"),
    ("placement/zone", "TENCENTCLOUD_ZONE"),
];

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc = Service::new(env, BASE);
    let mut md = Metadata::default();
    svc.leaves(META, &ATTRS, &mut md.attributes)?;
    md.hostname = md.attributes.get("TENCENTCLOUD_HOSTNAME").cloned();
    md.ssh_keys = svc.ec2_public_keys(META, "public-keys/")?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::providers::testserver::{fixture, tree_reply, Bench, Reply, Request, Server};

    #[test]
    fn fetches_user_data() {
        let s = Server::start(|r: &Request| match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/latest/user-data") => Reply::ok(fixture("tencentcloud/user-data")),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.env(Some(&s.base))).unwrap(),
            Some(fixture("tencentcloud/user-data"))
        );
    }

    #[test]
    fn no_user_data_is_no_config() {
        let s = Server::start(|_: &Request| Reply::status(404));
        let b = Bench::new();
        assert_eq!(fetch_config(&b.env(Some(&s.base))).unwrap(), None);
    }

    #[test]
    fn offline_needs_net() {
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.offline_env(None)).unwrap_err().kind(),
            Kind::NeedNet
        );
    }

    #[test]
    fn metadata_tree() {
        let s = Server::start(|r: &Request| tree_reply("tencentcloud/metadata", &r.target));
        let b = Bench::new();
        let md = metadata(&b.env(Some(&s.base))).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("VM-0-5-nestos"));
        assert_eq!(md.attributes["TENCENTCLOUD_INSTANCE_ID"], "ins-nestos01");
        assert_eq!(md.attributes["TENCENTCLOUD_REGION"], "ap-guangzhou");
        assert_eq!(
            md.ssh_keys,
            ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5TencentKey nestos@example"]
        );
    }
}
