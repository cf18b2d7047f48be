//! Exoscale metadata (Afterburn's): the CloudStack-style tree at `1.0/meta-data/` gives the
//! `EXOSCALE_*` attributes, the local hostname and the public keys (served as the keys
//! themselves). User data is in `simple`.

use super::metadata::Service;
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const META: &str = "1.0/meta-data/";

const ATTRS: [(&str, &str); 9] = [
    ("availability-zone", "EXOSCALE_AVAILABILITY_ZONE"),
    ("cloud-identifier", "EXOSCALE_CLOUD_IDENTIFIER"),
    ("instance-id", "EXOSCALE_INSTANCE_ID"),
    ("local-hostname", "EXOSCALE_LOCAL_HOSTNAME"),
    ("local-ipv4", "EXOSCALE_LOCAL_IPV4"),
    ("public-hostname", "EXOSCALE_PUBLIC_HOSTNAME"),
    ("public-ipv4", "EXOSCALE_PUBLIC_IPV4"),
    ("service-offering", "EXOSCALE_SERVICE_OFFERING"),
    ("vm-id", "EXOSCALE_VM_ID"),
];

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc = Service::new(env, BASE);
    let mut md = Metadata::default();
    svc.leaves(META, &ATTRS, &mut md.attributes)?;
    md.hostname = md.attributes.get("EXOSCALE_LOCAL_HOSTNAME").cloned();
    md.ssh_keys = svc.ec2_public_keys(META, "public-keys")?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{tree_reply, Bench, Request, Server};

    #[test]
    fn deliberate_difference_public_keys_404_is_no_keys() {
        // Afterburn retries a 404 here for 42 s and then fails; the service answers 404 when
        // the instance was started without a key, so that means no keys.
        let s = Server::start(|r: &Request| {
            if r.target.contains("public-keys") {
                return crate::providers::testserver::Reply::status(404);
            }
            tree_reply("exoscale/metadata", &r.target)
        });
        let b = Bench::new();
        let t = std::time::Instant::now();
        let md = metadata(&b.env(Some(&s.base))).unwrap();
        assert!(md.ssh_keys.is_empty());
        assert_eq!(md.hostname.as_deref(), Some("nestos-exo"));
        assert!(t.elapsed() < std::time::Duration::from_secs(5));
    }
}
