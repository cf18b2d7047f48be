//! Afterburn's side of the providers: what each platform's metadata says about the machine
//! (hostname, SSH keys, `AFTERBURN_*` attributes, initrd network kargs), dispatched by an
//! exhaustive match, plus the HTTP helper the metadata services share. Each platform's reading
//! lives in its provider module; docs/afterburn.md lists every attribute and its source.
//! Metadata bodies and keys are never logged, only what was found.

use super::util::{self, Http, TokenEndpoint};
use super::{Env, Platform};
use crate::afterburn::Metadata;
use crate::error::{Context, Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the platform's metadata says about this machine. Platforms without metadata (metal,
/// file, qemu) give `Metadata::default()`.
pub fn metadata(p: Platform, env: &Env) -> Result<Metadata> {
    let md = match p {
        Platform::Metal | Platform::File | Platform::Qemu => Ok(Metadata::default()),
        Platform::AzureStack => super::wireserver::azurestack_metadata(env),
        Platform::Vmware => Ok(Metadata {
            network_kargs: super::vmware::network_kargs(env)?,
            ..Default::default()
        }),
        Platform::Aws => super::aws::metadata(env),
        Platform::Gcp => super::gcp::metadata(env),
        Platform::Azure => super::azure::metadata(env),
        Platform::OpenStack | Platform::HuaweiCloud => super::openstack::metadata(env, p),
        Platform::Aliyun => super::aliyun::metadata(env),
        Platform::TencentCloud => super::tencentcloud::metadata(env),
        Platform::DigitalOcean => super::digitalocean::metadata(env),
        Platform::Hetzner => super::hetzner::metadata(env),
        Platform::Exoscale => super::exoscale::metadata(env),
        Platform::Vultr => super::vultr::metadata(env),
        Platform::UpCloud => super::upcloud::metadata(env),
        Platform::OracleCloud => super::oraclecloud::metadata(env),
        Platform::Scaleway => super::scaleway::metadata(env),
        Platform::Akamai => super::akamai::metadata(env),
        Platform::Packet => super::packet::metadata(env),
        Platform::CloudStack => super::cloudstack::metadata(env, Sources::Both),
        Platform::IbmCloud
        | Platform::KubeVirt
        | Platform::Nutanix
        | Platform::PowerVs
        | Platform::ProxmoxVe => super::drives::metadata(env, p),
    }
    .context(|| format!("{}: reading metadata", p.id()))?;
    let md = normalised(md);
    log::info!(
        "{}: metadata has {} hostname, {} SSH key(s), {} attribute(s){}",
        p.id(),
        if md.hostname.is_some() { "a" } else { "no" },
        md.ssh_keys.len(),
        md.attributes.len(),
        if md.network_kargs.is_some() {
            ", initrd network kargs"
        } else {
            ""
        }
    );
    Ok(md)
}

/// The boot check-in (`--check-in`): Azure and Azure Stack report "ready" to the WireServer,
/// Packet posts to its phone-home URL, Scaleway sets its state detail to `booted`. Other platforms have none (Afterburn only warns there);
/// this logs that and succeeds, so one unit fits every platform.
pub fn check_in_for_id(id: &str, env: &Env) -> Result<()> {
    let p = platform_for_id(id)?;
    match p {
        Platform::Azure | Platform::AzureStack => super::wireserver::report_ready(env),
        Platform::Packet => super::packet::check_in(env),
        Platform::Scaleway => super::scaleway::check_in(env),
        _ => {
            log::info!("{id}: the platform has no boot check-in; nothing to report");
            Ok(())
        }
    }
    .context(|| format!("{id}: boot check-in"))
}

/// The initrd network kargs alone, as early as the initrd needs them: before networking, so
/// platforms answer from local sources (VMware guestinfo; KubeVirt, Proxmox VE, OpenStack and
/// Huawei Cloud config drives), OpenStack and Huawei Cloud from their metadata service only
/// when a network is already up; every other platform has none and does no I/O.
pub fn network_kargs(p: Platform, env: &Env) -> Result<Option<String>> {
    network_kargs_from(p, env, Sources::Both)
}

fn network_kargs_from(p: Platform, env: &Env, sources: Sources) -> Result<Option<String>> {
    match p {
        Platform::Vmware => super::vmware::network_kargs(env),
        Platform::KubeVirt | Platform::ProxmoxVe => super::drives::network_kargs(env, p),
        Platform::OpenStack | Platform::HuaweiCloud => {
            super::openstack_net::network_kargs(env, p, sources)
        }
        _ => Ok(None),
    }
    .context(|| format!("{}: reading initrd network kargs", p.id()))
}

/// [`network_kargs`] for an id as Afterburn spells it (`openstack-metadata` pins the
/// metadata service).
pub fn network_kargs_for_id(id: &str, env: &Env) -> Result<Option<String>> {
    let sources = if id == "openstack-metadata" {
        Sources::ServiceOnly
    } else {
        Sources::Both
    };
    network_kargs_from(platform_for_id(id)?, env, sources)
}

/// Which source a provider with two (a config drive and a metadata service) may use:
/// Afterburn's `cloudstack-configdrive` / `cloudstack-metadata` / `openstack-metadata` ids
/// pin one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    Both,
    DriveOnly,
    ServiceOnly,
}

/// Metadata for an id as Afterburn spells it: ignis's platform ids, plus Afterburn's own
/// source-pinning ids. Unknown ids are a usage error.
pub fn metadata_for_id(id: &str, env: &Env) -> Result<Metadata> {
    if id == "ibmcloud-classic" {
        return super::ibmcloud::classic_metadata(env)
            .map(normalised)
            .context(|| format!("{id}: reading metadata"));
    }
    let pinned = match id {
        "openstack-metadata" => Some((Platform::OpenStack, Sources::ServiceOnly)),
        "cloudstack-metadata" => Some((Platform::CloudStack, Sources::ServiceOnly)),
        "cloudstack-configdrive" => Some((Platform::CloudStack, Sources::DriveOnly)),
        _ => None,
    };
    match pinned {
        None => metadata(platform_for_id(id)?, env),
        Some((Platform::OpenStack, s)) => {
            super::openstack::metadata_from(env, Platform::OpenStack, s)
                .map(normalised)
                .context(|| format!("{id}: reading metadata"))
        }
        Some((_, s)) => super::cloudstack::metadata(env, s)
            .map(normalised)
            .context(|| format!("{id}: reading metadata")),
    }
}

/// The platform for an id, Afterburn's source-pinning ids mapped to their platform.
pub fn platform_for_id(id: &str) -> Result<Platform> {
    match id {
        "openstack-metadata" => Ok(Platform::OpenStack),
        "cloudstack-metadata" | "cloudstack-configdrive" => Ok(Platform::CloudStack),
        // Afterburn's provider for IBM Cloud's Classic infrastructure; Ignition has one
        // platform id for both.
        "ibmcloud-classic" => Ok(Platform::IbmCloud),
        _ => Platform::parse(id),
    }
}

/// A metadata service: base URL, fixed headers, the bounded fetcher. 404 and empty bodies
/// mean "absent"; anything else that fails is an error.
pub(crate) struct Service<'a> {
    http: Http<'a>,
    base: String,
    headers: Vec<(String, String)>,
    retry: &'static [u16],
}

impl<'a> Service<'a> {
    pub(crate) fn new(env: &Env<'a>, base: &str) -> Service<'a> {
        Service {
            http: Http::new(env),
            base: base.to_string(),
            headers: Vec::new(),
            retry: &[],
        }
    }

    /// A service at an explicit base (CloudStack's DHCP server).
    pub(crate) fn at(env: &Env<'a>, base: String) -> Service<'a> {
        Service {
            http: Http::new(env),
            base,
            headers: Vec::new(),
            retry: &[],
        }
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Statuses retried besides 5xx (429 on rate-limited services).
    pub(crate) fn retrying(mut self, codes: &'static [u16]) -> Self {
        self.retry = codes;
        self
    }

    /// Adds the session token a `PUT` to `path` hands out (sent with `ttl_header: ttl`) as
    /// `header`, when the service has a token endpoint (AWS IMDSv2, aliyun hardened mode).
    /// The token is never logged.
    pub(crate) fn with_session_token(
        self,
        path: &str,
        ttl_header: &str,
        ttl: &str,
        header: &str,
    ) -> Result<Self> {
        let ep = TokenEndpoint {
            url: util::join(&self.base, path),
            ttl_header,
            ttl_seconds: ttl,
        };
        Ok(match self.http.session_token(&ep)? {
            Some(t) => self.header(header, &t),
            None => self,
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        util::join(&self.base, path)
    }

    pub(crate) fn bytes(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let url = self.url(path);
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        // The fetcher's errors name the method and URL already.
        let body = self
            .http
            .fetcher()
            .http_request("GET", &url, &headers, None, self.retry)?;
        Ok(util::non_empty(body))
    }

    /// A text value, trimmed; absent when 404 or blank.
    pub(crate) fn text(&self, path: &str) -> Result<Option<String>> {
        let Some(b) = self.bytes(path)? else {
            return Ok(None);
        };
        let s = String::from_utf8(b)
            .map_err(|_| Error::failed(format!("{}: the value is not UTF-8", self.url(path))))?;
        let s = s.trim();
        Ok((!s.is_empty()).then(|| s.to_string()))
    }

    /// A text value, trimmed; absent only when 404 (an empty answer is an empty value).
    pub(crate) fn text_keep_empty(&self, path: &str) -> Result<Option<String>> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let Some(b) =
            self.http
                .fetcher()
                .http_request("GET", &self.url(path), &headers, None, self.retry)?
        else {
            return Ok(None);
        };
        let s = String::from_utf8(b)
            .map_err(|_| Error::failed(format!("{}: the value is not UTF-8", self.url(path))))?;
        Ok(Some(s.trim().to_string()))
    }

    /// `POST` of `body` (as `content_type`) to `path`; a 404 is an error here.
    pub(crate) fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Result<()> {
        self.send("POST", path, content_type, body)
    }

    /// `method` (`POST`, `PATCH`) of `body` to `path`; a 404 is an error here.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<()> {
        let mut headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        headers.push(("Content-Type", content_type));
        let url = self.url(path);
        self.http
            .fetcher()
            .http_request(method, &url, &headers, Some(body), self.retry)?
            .map(|_| ())
            .ok_or_else(|| Error::failed(format!("{method} {url}: HTTP 404")))
    }

    pub(crate) fn json(&self, path: &str) -> Result<Option<Value>> {
        let Some(b) = self.bytes(path)? else {
            return Ok(None);
        };
        serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Error::failed(format!("{}: not JSON: {e}", self.url(path))))
    }

    /// A JSON document the platform must serve.
    pub(crate) fn required_json(&self, path: &str) -> Result<Value> {
        self.json(path)?.ok_or_else(|| {
            Error::failed(format!(
                "{}: no metadata document (HTTP 404 or empty)",
                self.url(path)
            ))
        })
    }

    /// EC2-style `path -> ATTRIBUTE` leaves under `prefix`; absent leaves are skipped.
    pub(crate) fn leaves(
        &self,
        prefix: &str,
        table: &[(&str, &str)],
        attrs: &mut BTreeMap<String, String>,
    ) -> Result<()> {
        for (path, name) in table {
            if let Some(v) = self.text(&format!("{prefix}{path}"))? {
                attrs.insert((*name).to_string(), v);
            }
        }
        Ok(())
    }

    /// EC2-style public keys under `prefix`: `public-keys` lists `0=name` (or `0/`) entries
    /// whose `<i>/openssh-key` holds the keys; some services (Exoscale, CloudStack) answer
    /// the listing with the keys themselves.
    pub(crate) fn ec2_public_keys(&self, prefix: &str, listing: &str) -> Result<Vec<String>> {
        let Some(list) = self.text(&format!("{prefix}{listing}"))? else {
            return Ok(Vec::new());
        };
        let mut keys = Vec::new();
        for entry in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if looks_like_key(entry) {
                keys.push(entry.to_string());
                continue;
            }
            let index = entry.split(['=', '/']).next().unwrap_or_default().trim();
            let safe = |b: u8| b.is_ascii_alphanumeric() || b"-_.".contains(&b);
            if index.is_empty() || index.contains("..") || !index.bytes().all(safe) {
                log::warn!("skipping a public-keys entry that is neither an index nor a key");
                continue;
            }
            if let Some(k) = self.text(&format!("{prefix}public-keys/{index}/openssh-key"))? {
                keys.extend(super::cloudinit::key_lines(&k));
            }
        }
        Ok(keys)
    }
}

/// Whether a line is an OpenSSH public key (possibly after options), not an index.
pub(crate) fn looks_like_key(line: &str) -> bool {
    line.split_whitespace().any(|t| {
        ["ssh-", "ecdsa-sha2-", "sk-ssh-", "sk-ecdsa-"]
            .iter()
            .any(|p| t.starts_with(p))
    })
}

/// `map[name] = text(v)` when `v` is a non-empty scalar.
pub(crate) fn put(attrs: &mut BTreeMap<String, String>, name: &str, v: Option<&Value>) {
    if let Some(s) = v.and_then(super::cloudinit::text) {
        attrs.insert(name.to_string(), s);
    }
}

/// Every attribute whose value is an IP address (optionally `/prefix`) in its canonical text
/// (RFC 5952 for IPv6: lowercase, leading zeros dropped, the longest zero run as `::`), as
/// Afterburn writes the addresses it parses; services send `2604:A880:0800:0010:...` or
/// `2604:1380::0`, and scripts compare these values as strings.
fn normalised(mut md: Metadata) -> Metadata {
    for v in md.attributes.values_mut() {
        if let Some(n) = canonical_address(v) {
            *v = n;
        }
    }
    md
}

/// `addr` or `addr/len` in canonical form; `None` when `s` is not an address.
pub(crate) fn canonical_address(s: &str) -> Option<String> {
    let (addr, len) = match s.split_once('/') {
        Some((a, l)) if !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()) => (a, Some(l)),
        Some(_) => return None,
        None => (s, None),
    };
    let ip: std::net::IpAddr = addr.parse().ok()?;
    Some(match len {
        Some(l) => format!("{ip}/{l}"),
        None => ip.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{Bench, Reply, Request, Server};

    #[test]
    fn addresses_normalised_rfc5952() {
        for (a, b) in [
            (
                "2604:A880:0800:0010:0000:0000:017D:2001",
                "2604:a880:800:10::17d:2001",
            ),
            ("2604:1380::0", "2604:1380::"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2600:3C04::1/128", "2600:3c04::1/128"),
            ("10.0.0.1", "10.0.0.1"),
        ] {
            assert_eq!(canonical_address(a).as_deref(), Some(b), "{a}");
        }
        for s in ["nestos", "10.0.0.1/", "1.2.3", "e2-medium", ""] {
            assert_eq!(canonical_address(s), None, "{s}");
        }
    }

    #[test]
    fn key_detection() {
        assert!(looks_like_key("ssh-ed25519 AAAA c"));
        assert!(looks_like_key("command=\"x\" ecdsa-sha2-nistp256 AAAA"));
        assert!(!looks_like_key("0=my-key"));
        assert!(!looks_like_key("0/"));
    }

    #[test]
    fn platforms_without_metadata() {
        let b = Bench::new();
        for p in [Platform::Metal, Platform::File, Platform::Qemu] {
            assert_eq!(
                metadata(p, &b.env(None)).unwrap(),
                Metadata::default(),
                "{}",
                p.id()
            );
        }
        // Network platforms have no initrd kargs and touch nothing to say so.
        let e = b.offline_env(Some("http://127.0.0.1:9"));
        for p in [
            Platform::Aws,
            Platform::Gcp,
            Platform::OpenStack,
            Platform::Qemu,
        ] {
            assert_eq!(network_kargs(p, &e).unwrap(), None);
        }
    }

    #[test]
    fn ids_as_afterburn_spells_them() {
        assert_eq!(
            platform_for_id("openstack-metadata").unwrap(),
            Platform::OpenStack
        );
        assert_eq!(
            platform_for_id("cloudstack-configdrive").unwrap(),
            Platform::CloudStack
        );
        assert_eq!(platform_for_id("gcp").unwrap(), Platform::Gcp);
        assert_eq!(platform_for_id("ec2").unwrap_err().kind().exit_code(), 2);
    }

    #[test]
    fn service_absent_and_failing_values() {
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/a" => Reply::ok("  value\n"),
            "/blank" => Reply::ok(" \n"),
            "/json" => Reply::ok("{\"k\": 1}"),
            "/bad" => Reply::ok("{"),
            "/boom" => Reply::status(403),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        let env = b.env_rerouted(&["http://metadata.test"], &s.base);
        let svc = Service::new(&env, "http://metadata.test");
        assert_eq!(svc.text("a").unwrap().as_deref(), Some("value"));
        assert_eq!(svc.text("blank").unwrap(), None);
        assert_eq!(svc.text("missing").unwrap(), None);
        assert_eq!(svc.json("json").unwrap().unwrap()["k"], 1);
        assert!(svc
            .json("bad")
            .unwrap_err()
            .to_string()
            .contains("not JSON"));
        assert!(svc
            .required_json("missing")
            .unwrap_err()
            .to_string()
            .contains("404"));
        assert!(svc
            .text("boom")
            .unwrap_err()
            .to_string()
            .contains("HTTP 403"));
    }
}
