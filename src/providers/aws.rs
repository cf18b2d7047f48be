//! AWS EC2: user data from the instance metadata service, with an IMDSv2 session token when the
//! service hands one out and plain IMDSv1 requests when it does not. 404 means no user data.
//! Metadata (Afterburn's): hostname, public keys and the `AWS_*` attributes from `meta-data`,
//! the region from the instance identity document.

use super::metadata::Service;
use super::util::{self, Http, TokenEndpoint};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const TOKEN_PATH: &str = "latest/api/token";
const USER_DATA_PATH: &str = "2019-10-01/user-data";
const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// Six hours, the TTL the AWS SDKs ask for.
const TTL: &str = "21600";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let base = BASE;
    let http = Http::new(env);
    let token = http.session_token(&TokenEndpoint {
        url: util::join(base, TOKEN_PATH),
        ttl_header: TTL_HEADER,
        ttl_seconds: TTL,
    })?;
    if token.is_none() {
        log::info!("aws: IMDSv2 unavailable; using IMDSv1");
    }
    let headers: Vec<(&str, &str)> = token
        .as_deref()
        .map(|t| vec![(TOKEN_HEADER, t)])
        .unwrap_or_default();
    let url = util::join(base, USER_DATA_PATH);
    log::info!("aws: fetching user data from {url}");
    http.get_user_data(&url, &headers, &[])
}

/// Afterburn reads this API version of the metadata tree.
const META: &str = "2021-01-03/meta-data/";
const IDENTITY: &str = "2021-01-03/dynamic/instance-identity/document";

/// `meta-data` leaf -> attribute.
const ATTRS: [(&str, &str); 9] = [
    ("instance-id", "AWS_INSTANCE_ID"),
    ("instance-type", "AWS_INSTANCE_TYPE"),
    ("local-ipv4", "AWS_IPV4_LOCAL"),
    ("public-ipv4", "AWS_IPV4_PUBLIC"),
    ("ipv6", "AWS_IPV6"),
    ("placement/availability-zone", "AWS_AVAILABILITY_ZONE"),
    ("placement/availability-zone-id", "AWS_AVAILABILITY_ZONE_ID"),
    ("hostname", "AWS_HOSTNAME"),
    ("public-hostname", "AWS_PUBLIC_HOSTNAME"),
];

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc =
        Service::new(env, BASE).with_session_token(TOKEN_PATH, TTL_HEADER, TTL, TOKEN_HEADER)?;
    let mut md = Metadata::default();
    svc.leaves(META, &ATTRS, &mut md.attributes)?;
    if let Some(doc) = svc.json(IDENTITY)? {
        super::metadata::put(&mut md.attributes, "AWS_REGION", doc.get("region"));
    }
    md.hostname = md.attributes.get("AWS_HOSTNAME").cloned();
    md.ssh_keys = svc.ec2_public_keys(META, "public-keys")?;
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};

    fn imds(token_status: u16) -> Server {
        let token = fixture("aws/api-token");
        Server::start(
            move |r: &Request| match (r.method.as_str(), r.target.as_str()) {
                ("PUT", "/latest/api/token") => {
                    if r.header(TTL_HEADER) != Some(TTL) {
                        return Reply::status(400);
                    }
                    if token_status == 200 {
                        Reply::ok(token.clone())
                    } else {
                        Reply::status(token_status)
                    }
                }
                ("GET", "/2019-10-01/user-data") => {
                    let sent = r.header(TOKEN_HEADER).map(str::as_bytes);
                    match (token_status, sent) {
                        (200, Some(t)) if t == token.as_slice() => {
                            Reply::ok(fixture("aws/user-data"))
                        }
                        (200, _) => Reply::status(401),
                        (_, None) => Reply::ok(fixture("aws/user-data")),
                        (_, Some(_)) => Reply::status(400),
                    }
                }
                _ => Reply::status(404),
            },
        )
    }

    #[test]
    fn imdsv2_token_then_user_data() {
        let s = imds(200);
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base))).unwrap();
        assert_eq!(got, Some(fixture("aws/user-data")));
        let reqs = s.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].method, "PUT");
        assert!(reqs[0].body.is_empty());
        // Some IMDS front ends refuse a PUT without a length.
        assert_eq!(reqs[0].header("Content-Length"), Some("0"));
        assert_eq!(reqs[1].method, "GET");
    }

    #[test]
    fn falls_back_to_imdsv1() {
        for status in [403, 404, 405] {
            let s = imds(status);
            let b = Bench::new();
            let got = fetch_config(&b.env(Some(&s.base))).unwrap();
            assert_eq!(got, Some(fixture("aws/user-data")), "token status {status}");
            let reqs = s.requests();
            assert!(reqs[1].header(TOKEN_HEADER).is_none());
        }
    }

    #[test]
    fn other_token_failures_are_errors() {
        let s = imds(400);
        let b = Bench::new();
        let e = fetch_config(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("session token"), "{e}");
    }

    #[test]
    fn server_errors_are_retried() {
        let n = std::sync::atomic::AtomicUsize::new(0);
        let s = Server::start(move |r: &Request| match r.method.as_str() {
            "PUT" => Reply::status(404),
            _ if n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < 2 => Reply::status(503),
            _ => Reply::ok(fixture("aws/user-data")),
        });
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base))).unwrap();
        assert_eq!(got, Some(fixture("aws/user-data")));
        assert_eq!(s.requests().len(), 4);
    }
}
