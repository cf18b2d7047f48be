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
