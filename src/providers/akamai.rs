//! Akamai (Linode): a metadata token (`PUT v1/token`), then the user data (`GET v1/user-data`),
//! which Linode stores base64-encoded and which may be gzipped inside. 404 on the user data
//! means none; the token is required. Metadata (Afterburn's `AKAMAI_*` attributes and SSH
//! keys) comes from `v1/instance`, `v1/network` and `v1/ssh-keys` with the same token.

use super::cloudinit::text;
use super::metadata::{put, Service};
use super::util::{self, Http};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::{Context, Error, Result};
use serde_json::Value;
use std::io::Read;

const BASE: &str = "http://169.254.169.254";
const TOKEN_PATH: &str = "v1/token";
const USER_DATA_PATH: &str = "v1/user-data";
const TTL_HEADER: &str = "Metadata-Token-Expiry-Seconds";
const TOKEN_HEADER: &str = "Metadata-Token";
const TTL: &str = "300";
/// Decompressed user data above this is refused (a gzip bomb is cheap to send).
const MAX_USER_DATA: u64 = 64 << 20;

/// A metadata token (`PUT v1/token`); required by every other endpoint.
fn token(http: &Http, base: &str) -> Result<String> {
    let token_url = util::join(base, TOKEN_PATH);
    // The service refuses Ignition's default Accept header; it serves the token as text.
    let token = http
        .fetcher()
        .http_request(
            "PUT",
            &token_url,
            &[("Accept", "text/plain"), (TTL_HEADER, TTL)],
            Some(b""),
            &[],
        )
        .context(|| format!("requesting a metadata token from {token_url}"))?
        .ok_or_else(|| Error::failed(format!("{token_url}: no token endpoint (HTTP 404)")))?;
    let token = String::from_utf8(token)
        .map_err(|_| Error::failed("akamai: the metadata token is not text"))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Error::failed("akamai: received an empty metadata token"));
    }
    Ok(token.to_string())
}

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let base = BASE;
    let http = Http::new(env);
    let token = token(&http, base)?;
    let url = util::join(base, USER_DATA_PATH);
    log::info!("akamai: fetching user data from {url}");
    let Some(b64) = http.get_user_data(&url, &[("Accept", "*/*"), (TOKEN_HEADER, &token)], &[])?
    else {
        return Ok(None);
    };
    let data = util::decode_base64(&b64, "akamai user data")?;
    if data.starts_with(&[0x1f, 0x8b]) {
        return gunzip(&data).map(|d| util::non_empty(Some(d)));
    }
    Ok(util::non_empty(Some(data)))
}

pub fn metadata(env: &Env) -> Result<Metadata> {
    let token = token(&Http::new(env), BASE)?;
    let svc = Service::new(env, BASE)
        .header("Accept", "application/json")
        .header(TOKEN_HEADER, &token);
    let instance = svc.required_json("v1/instance")?;
    let network = svc.json("v1/network")?.unwrap_or(Value::Null);
    let mut md = Metadata::default();
    let a = &mut md.attributes;
    put(a, "AKAMAI_INSTANCE_ID", instance.get("id"));
    put(a, "AKAMAI_INSTANCE_HOST_UUID", instance.get("host_uuid"));
    put(a, "AKAMAI_INSTANCE_LABEL", instance.get("label"));
    put(a, "AKAMAI_INSTANCE_REGION", instance.get("region"));
    put(a, "AKAMAI_INSTANCE_TYPE", instance.get("type"));
    let tags: Vec<String> = instance
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(text)
        .collect();
    if !tags.is_empty() {
        // Joined with ':' as Afterburn writes them (tags may hold commas).
        a.insert("AKAMAI_INSTANCE_TAGS".into(), tags.join(":"));
    }
    // Addresses as the service returns them, prefixes kept (`/32`, `/128`), as Afterburn.
    let list = |ptr: &str| -> Vec<String> {
        network
            .pointer(ptr)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect()
    };
    for (ptr, name) in [
        ("/ipv4/public", "AKAMAI_PUBLIC_IPV4"),
        ("/ipv4/private", "AKAMAI_PRIVATE_IPV4"),
        ("/ipv4/shared", "AKAMAI_SHARED_IPV4"),
        ("/ipv6/ranges", "AKAMAI_IPV6_RANGE"),
        ("/ipv6/shared_ranges", "AKAMAI_IPV6_SHARED_RANGE"),
    ] {
        for (i, v) in list(ptr).iter().enumerate() {
            a.insert(format!("{name}_{i}"), v.to_string());
        }
    }
    for (ptr, name) in [
        ("/ipv6/slaac", "AKAMAI_IPV6_SLAAC"),
        ("/ipv6/link_local", "AKAMAI_IPV6_LINK_LOCAL"),
    ] {
        if let Some(v) = network.pointer(ptr).and_then(text) {
            a.insert(name.into(), v);
        }
    }
    if let Some(keys) = svc.json("v1/ssh-keys")? {
        if let Some(users) = keys.get("users").and_then(Value::as_object) {
            // Every user's keys, in user-name order.
            let mut names: Vec<&String> = users.keys().collect();
            names.sort();
            for n in names {
                md.ssh_keys.extend(super::cloudinit::keys_of(&users[n]));
            }
        }
    }
    Ok(md)
}

fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .take(MAX_USER_DATA + 1)
        .read_to_end(&mut out)
        .context(|| "akamai: decompressing gzipped user data")?;
    if out.len() as u64 > MAX_USER_DATA {
        return Err(Error::failed(format!(
            "akamai: user data is larger than {MAX_USER_DATA} bytes decompressed"
        )));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench, Reply, Request, Server};

    fn linode(user_data: Option<&'static str>) -> Server {
        let token = String::from_utf8(fixture("akamai/token")).unwrap();
        Server::start(
            move |r: &Request| match (r.method.as_str(), r.target.as_str()) {
                ("PUT", "/v1/token") => {
                    if r.header(TTL_HEADER) != Some(TTL) || r.header("Accept") != Some("text/plain")
                    {
                        return Reply::status(400);
                    }
                    Reply::ok(token.clone())
                }
                ("GET", "/v1/user-data") => {
                    if r.header(TOKEN_HEADER) != Some(token.trim()) {
                        return Reply::status(401);
                    }
                    if r.header("Accept") != Some("*/*") {
                        return Reply::status(406);
                    }
                    match user_data {
                        Some(f) => Reply::ok(fixture(f)),
                        None => Reply::status(404),
                    }
                }
                _ => Reply::status(404),
            },
        )
    }

    #[test]
    fn token_then_base64_user_data() {
        let s = linode(Some("akamai/user-data.b64"));
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base))).unwrap().unwrap();
        let text = String::from_utf8(got).unwrap();
        assert!(text.contains("data:,akamai%0A"), "{text}");
    }

    #[test]
    fn gzipped_user_data() {
        let s = linode(Some("akamai/user-data-gzip.b64"));
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base))).unwrap().unwrap();
        assert!(String::from_utf8(got).unwrap().contains("akamai-gzip"));
    }

    #[test]
    fn the_token_is_required() {
        let s = Server::start(|_: &Request| Reply::status(404));
        let b = Bench::new();
        let e = fetch_config(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("no token endpoint"), "{e}");
        let s = Server::start(|_: &Request| Reply::status(403));
        let e = fetch_config(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("HTTP 403"), "{e}");
    }

    #[test]
    fn bad_gzip_is_an_error() {
        assert!(gunzip(&[0x1f, 0x8b, 0, 0]).is_err());
    }
}
