//! Alibaba Cloud (aliyun): user data from the ECS metadata service. Instances in hardened mode
//! answer only requests carrying a session token (`PUT latest/api/token` first); where the
//! token endpoint is absent the plain GET is used. 404 means no user data.
//! Metadata (Afterburn's `ALIYUN_*` attributes, hostname, `public-keys/`) comes from
//! `latest/meta-data/` the same way, token included.

use super::metadata::Service;
use super::util::{self, Http, TokenEndpoint};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://100.100.100.200";
const TOKEN_PATH: &str = "latest/api/token";
const USER_DATA_PATH: &str = "latest/user-data";
const TTL_HEADER: &str = "X-aliyun-ecs-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aliyun-ecs-metadata-token";
/// Long enough for the one request that follows; the service accepts 1 to 21600.
const TTL: &str = "300";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let base = BASE;
    let http = Http::new(env);
    let token = http.session_token(&TokenEndpoint {
        url: util::join(base, TOKEN_PATH),
        ttl_header: TTL_HEADER,
        ttl_seconds: TTL,
    })?;
    let headers: Vec<(&str, &str)> = token
        .as_deref()
        .map(|t| vec![(TOKEN_HEADER, t)])
        .unwrap_or_default();
    let url = util::join(base, USER_DATA_PATH);
    log::info!(
        "aliyun: fetching user data from {url}{}",
        if token.is_some() {
            " (hardened mode)"
        } else {
            ""
        }
    );
    http.get_user_data(&url, &headers, &[])
}

const META: &str = "latest/meta-data/";

const ATTRS: [(&str, &str); 10] = [
    ("eipv4", "ALIYUN_EIPV4"),
    ("hostname", "ALIYUN_HOSTNAME"),
    ("image-id", "ALIYUN_IMAGE_ID"),
    ("instance-id", "ALIYUN_INSTANCE_ID"),
    ("instance/instance-type", "ALIYUN_INSTANCE_TYPE"),
    ("private-ipv4", "ALIYUN_IPV4_PRIVATE"),
    ("public-ipv4", "ALIYUN_IPV4_PUBLIC"),
    ("region-id", "ALIYUN_REGION_ID"),
    ("vpc-id", "ALIYUN_VPC_ID"),
    ("zone-id", "ALIYUN_ZONE_ID"),
];

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc =
        Service::new(env, BASE).with_session_token(TOKEN_PATH, TTL_HEADER, TTL, TOKEN_HEADER)?;
    let mut md = Metadata::default();
    svc.leaves(META, &ATTRS, &mut md.attributes)?;
    md.hostname = md.attributes.get("ALIYUN_HOSTNAME").cloned();
    md.ssh_keys = svc.ec2_public_keys(META, "public-keys/")?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};

    /// `hardened`: the service hands out tokens and requires one; otherwise it has no token
    /// endpoint at all.
    fn ecs(hardened: bool) -> Server {
        let token = fixture("aliyun/api-token");
        Server::start(
            move |r: &Request| match (r.method.as_str(), r.target.as_str()) {
                ("PUT", "/latest/api/token") if hardened => match r.header(TTL_HEADER) {
                    Some(ttl) if ttl.parse::<u32>().is_ok_and(|t| (1..=21600).contains(&t)) => {
                        Reply::ok(token.clone())
                    }
                    _ => Reply::status(400),
                },
                ("GET", "/latest/user-data") => {
                    let sent = r.header(TOKEN_HEADER).map(str::as_bytes);
                    if hardened && sent != Some(token.as_slice()) {
                        Reply::status(403)
                    } else {
                        Reply::ok(fixture("aliyun/user-data"))
                    }
                }
                _ => Reply::status(404),
            },
        )
    }

    #[test]
    fn normal_mode_falls_back_to_a_plain_get() {
        let s = ecs(false);
        let b = Bench::new();
        assert_eq!(
            fetch_config(&b.env(Some(&s.base))).unwrap(),
            Some(fixture("aliyun/user-data"))
        );
        let reqs = s.requests();
        assert_eq!(reqs.len(), 2);
        assert!(reqs[1].header(TOKEN_HEADER).is_none());
    }
}
