//! HTTP(S) for the fetcher: ureq with rustls/ring, the system trust store plus the config's
//! CAs, per-URL proxy choice, manual redirects (custom headers stay on the original host),
//! Ignition's retry policy (connection errors, 5xx and per-provider codes; backoff from 200 ms
//! doubling to 5 s with jitter, bounded by `httpTotal`) and progress lines for slow transfers.

use super::{deliver, redact, DeliverError, Options, Sink, Spec};
use crate::error::{Error, Kind, Result};
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use ureq::tls::{Certificate, RootCerts, TlsConfig};
use ureq::Agent;

const USER_AGENT: &str = concat!("ignis/", env!("CARGO_PKG_VERSION"));
const ACCEPT: &str = "application/vnd.coreos.ignition+json;version=3.6.0, */*;q=0.1";
const MAX_REDIRECTS: usize = 10;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub struct Client {
    roots: OnceLock<RootCerts>,
    /// One agent per proxy URL ("" = direct), built on first use.
    agents: Mutex<HashMap<String, Agent>>,
}

enum Attempt {
    /// Worth retrying: connection failure, 5xx, a retry code, a broken body.
    Retry(String),
    Fatal(Error),
}

/// A small xorshift generator for backoff jitter, seeded from the clock and the pid: a fleet
/// booting at the same instant must not retry in lockstep.
struct Jitter(u64);

impl Jitter {
    fn new() -> Jitter {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Jitter(t ^ (u64::from(std::process::id()) << 32) | 1)
    }

    /// A factor in [0.5, 1.5).
    fn factor(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        0.5 + (self.0 % 1000) as f64 / 1000.0
    }
}

/// Backoff before retry `n` (1-based): 200 ms doubling, capped at 5 s, times a jitter factor.
pub fn backoff(n: u32, jitter: f64) -> Duration {
    let base = 200u64.saturating_mul(1 << (n.saturating_sub(1)).min(10));
    Duration::from_millis(base.min(5000)).mul_f64(jitter)
}

fn host_of(u: &str) -> String {
    crate::config::url::parse(u)
        .map(|p| p.host.to_ascii_lowercase())
        .unwrap_or_default()
}

fn resolve_location(base: &str, loc: &str) -> String {
    if loc.contains("://") {
        return loc.to_string();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let authority = rest.split('/').next().unwrap_or("");
    if let Some(stripped) = loc.strip_prefix("//") {
        return format!("{scheme}://{stripped}");
    }
    if loc.starts_with('/') {
        return format!("{scheme}://{authority}{loc}");
    }
    let path = rest[authority.len()..].split('?').next().unwrap_or("/");
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "/",
    };
    format!("{scheme}://{authority}{dir}{loc}")
}

impl Client {
    pub fn new(_opts: &Options) -> Client {
        Client {
            roots: OnceLock::new(),
            agents: Mutex::new(HashMap::new()),
        }
    }

    /// The trust store: the system bundle plus the config's CAs.
    fn roots(&self, opts: &Options) -> RootCerts {
        self.roots
            .get_or_init(|| {
                let mut certs: Vec<Certificate<'static>> = Vec::new();
                let mut add = |pem: &[u8]| {
                    for item in ureq::tls::parse_pem(pem).flatten() {
                        if let ureq::tls::PemItem::Certificate(c) = item {
                            certs.push(c);
                        }
                    }
                };
                if let Some(bundle) = opts
                    .system_ca_files
                    .iter()
                    .find_map(|p| std::fs::read(p).ok())
                {
                    add(&bundle);
                }
                for b in &opts.ca_bundles {
                    add(b);
                }
                RootCerts::Specific(Arc::new(certs))
            })
            .clone()
    }

    fn agent(&self, url: &str, opts: &Options) -> Result<Agent> {
        let parsed = crate::config::url::parse(url)
            .map_err(|e| Error::failed(format!("invalid URL: {e}")))?;
        let (host, port) = split_host_port(parsed.host, &parsed.scheme);
        let proxy = opts
            .proxy
            .proxy_for(&parsed.scheme, &host, port)
            .unwrap_or("");
        let mut agents = self
            .agents
            .lock()
            .map_err(|_| Error::failed("HTTP client state poisoned"))?;
        if let Some(a) = agents.get(proxy) {
            return Ok(a.clone());
        }
        let tls = TlsConfig::builder().root_certs(self.roots(opts)).build();
        let proxy_cfg = if proxy.is_empty() {
            None
        } else {
            Some(
                ureq::Proxy::new(proxy)
                    .map_err(|e| Error::failed(format!("invalid proxy {proxy}: {e}")))?,
            )
        };
        let cfg = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(USER_AGENT)
            .accept(ACCEPT)
            .accept_encoding("identity")
            .tls_config(tls)
            .proxy(proxy_cfg)
            .timeout_connect(opts.connect)
            .timeout_recv_response(opts.response_headers)
            .timeout_recv_body(None)
            .build();
        let agent: Agent = cfg.into();
        agents.insert(proxy.to_string(), agent.clone());
        Ok(agent)
    }

    /// One request, following redirects unless `follow` is off; custom headers are dropped when
    /// the host changes.
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        opts: &Options,
        follow: bool,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, Attempt> {
        let origin = host_of(url);
        let mut cur = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let agent = self.agent(&cur, opts).map_err(Attempt::Fatal)?;
            let same_host = host_of(&cur) == origin;
            let mut req = ureq::http::Request::builder().method(method).uri(&cur);
            if same_host {
                for (k, v) in headers {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            let result = match body {
                Some(b) => req.body(b.to_vec()).map(|r| agent.run(r)),
                None => req.body(()).map(|r| agent.run(r)),
            };
            let resp = match result {
                Err(e) => {
                    return Err(Attempt::Fatal(Error::failed(format!(
                        "building request: {e}"
                    ))))
                }
                Ok(Err(e)) => return Err(classify(e)),
                Ok(Ok(r)) => r,
            };
            let status = resp.status().as_u16();
            if follow && (300..400).contains(&status) && status != 304 {
                let Some(loc) = resp.headers().get("location").and_then(|v| v.to_str().ok()) else {
                    return Err(Attempt::Fatal(Error::failed(format!(
                        "HTTP {status} without a Location"
                    ))));
                };
                cur = resolve_location(&cur, loc);
                continue;
            }
            return Ok(resp);
        }
        Err(Attempt::Fatal(Error::failed(format!(
            "more than {MAX_REDIRECTS} redirects"
        ))))
    }

    /// Runs attempts until one succeeds, fails for good, or the total time is spent.
    fn with_retries<T>(
        &self,
        what: &str,
        opts: &Options,
        mut attempt: impl FnMut(u32) -> std::result::Result<T, Attempt>,
    ) -> Result<T> {
        let start = Instant::now();
        let mut jitter = Jitter::new();
        let mut n = 0u32;
        loop {
            n += 1;
            match attempt(n) {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(reason)) => {
                    let wait = backoff(n, jitter.factor());
                    if let Some(total) = opts.total {
                        if start.elapsed() + wait >= total {
                            return Err(Error::failed(format!(
                                "{what}: giving up after {n} attempts in {:.1} s (httpTotal {} s): {reason}",
                                start.elapsed().as_secs_f64(),
                                total.as_secs()
                            )));
                        }
                    }
                    log::warn!(
                        "{what}: attempt {n} failed: {reason}; retrying in {:.1} s{}",
                        wait.as_secs_f64(),
                        if opts.total.is_none() {
                            " (no httpTotal: retrying until it works)"
                        } else {
                            ""
                        }
                    );
                    std::thread::sleep(wait);
                }
            }
        }
    }

    /// Fetches a resource over HTTP(S) into `sink`, streaming.
    pub fn fetch(&self, spec: &Spec, opts: &Options, sink: &mut dyn Sink) -> Result<u64> {
        let what = format!("GET {}", redact(&spec.url));
        self.with_retries(&what, opts, |n| {
            let resp = self.send("GET", &spec.url, &spec.headers, None, opts, true)?;
            let status = resp.status().as_u16();
            match status {
                200 | 204 => {}
                404 => {
                    return Err(Attempt::Fatal(Error::new(
                        Kind::NotFound,
                        format!("{what}: HTTP 404 Not Found"),
                    )))
                }
                s if s >= 500 || opts.retry_codes.contains(&s) => {
                    return Err(Attempt::Retry(format!("HTTP {s}")))
                }
                s => return Err(Attempt::Fatal(Error::failed(format!("{what}: HTTP {s}")))),
            }
            if n > 1 {
                sink.reset()
                    .map_err(|e| Attempt::Fatal(Error::failed(format!("resetting output: {e}"))))?;
            }
            let mut body: Box<dyn Read> = Box::new(resp.into_body().into_reader());
            let mut last = Instant::now();
            let progress = |bytes: u64| {
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    log::info!(
                        "{what}: {:.1} MiB so far (attempt {n})",
                        bytes as f64 / 1048576.0
                    );
                }
            };
            match deliver(spec, &mut body, sink, progress) {
                Ok(b) => Ok(b),
                Err(DeliverError::Source(e)) => {
                    // A body cut short is worth another attempt; start the output over.
                    sink.reset().map_err(|e| {
                        Attempt::Fatal(Error::failed(format!("resetting output: {e}")))
                    })?;
                    Err(Attempt::Retry(format!("reading body: {e}")))
                }
                Err(DeliverError::Other(e)) => Err(Attempt::Fatal(e.context(what.clone()))),
            }
        })
    }

    /// A small request for metadata services; `Ok(None)` on 404.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        retry_codes: &[u16],
        opts: &Options,
    ) -> Result<Option<Vec<u8>>> {
        let what = format!("{method} {}", redact(url));
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.with_retries(&what, opts, |_| {
            let resp = self.send(method, url, &headers, body, opts, true)?;
            let status = resp.status().as_u16();
            match status {
                200..=299 => {}
                404 => return Ok(None),
                s if s >= 500 || retry_codes.contains(&s) || opts.retry_codes.contains(&s) => {
                    return Err(Attempt::Retry(format!("HTTP {s}")))
                }
                s => return Err(Attempt::Fatal(Error::failed(format!("{what}: HTTP {s}")))),
            }
            let mut v = Vec::new();
            resp.into_body()
                .into_reader()
                .read_to_end(&mut v)
                .map_err(|e| Attempt::Retry(format!("reading body: {e}")))?;
            Ok(Some(v))
        })
    }
}

/// A whole answer, whatever its status: for callers that read meaning from statuses and
/// headers themselves (S3 names a bucket's region in a header of its 301 and 403 answers).
pub struct Reply {
    pub status: u16,
    /// Names lowercased.
    pub headers: Vec<(String, String)>,
    /// At most `Reply::BODY_LIMIT` bytes.
    pub body: Vec<u8>,
}

impl Reply {
    pub const BODY_LIMIT: u64 = 64 * 1024;

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl Client {
    /// One request without following redirects. Connection errors and 5xx are retried like
    /// every request; any other status is the caller's to judge.
    pub fn exchange(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        opts: &Options,
    ) -> Result<Reply> {
        let what = format!("{method} {}", redact(url));
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.with_retries(&what, opts, |_| {
            let resp = self.send(method, url, &headers, body, opts, false)?;
            let status = resp.status().as_u16();
            if status >= 500 {
                return Err(Attempt::Retry(format!("HTTP {status}")));
            }
            let headers = resp
                .headers()
                .iter()
                .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
                .collect();
            let mut body = Vec::new();
            resp.into_body()
                .into_reader()
                .take(Reply::BODY_LIMIT)
                .read_to_end(&mut body)
                .map_err(|e| Attempt::Retry(format!("reading body: {e}")))?;
            Ok(Reply {
                status,
                headers,
                body,
            })
        })
    }
}

fn split_host_port(host: &str, scheme: &str) -> (String, u16) {
    let default = if scheme == "https" { 443 } else { 80 };
    if let Some(rest) = host.strip_prefix('[') {
        let (h, p) = rest.split_once(']').unwrap_or((rest, ""));
        return (
            h.to_string(),
            p.strip_prefix(':')
                .and_then(|p| p.parse().ok())
                .unwrap_or(default),
        );
    }
    match host.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse().unwrap_or(default)),
        None => (host.to_string(), default),
    }
}

/// Connection-level failures are retried; a bad URL or TLS trust failure is not.
fn classify(e: ureq::Error) -> Attempt {
    match e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::InvalidProxyUrl => {
            Attempt::Fatal(Error::failed(e.to_string()))
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) => {
            Attempt::Fatal(Error::failed(format!("TLS: {e}")))
        }
        other => Attempt::Retry(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_schedule() {
        assert_eq!(backoff(1, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(2, 1.0), Duration::from_millis(400));
        assert_eq!(backoff(5, 1.0), Duration::from_millis(3200));
        assert_eq!(backoff(6, 1.0), Duration::from_millis(5000));
        assert_eq!(backoff(60, 1.0), Duration::from_millis(5000));
        let mut j = Jitter::new();
        for _ in 0..100 {
            let f = j.factor();
            assert!((0.5..1.5).contains(&f));
        }
    }

    #[test]
    fn redirects_resolve() {
        assert_eq!(resolve_location("http://a/b/c?x", "d"), "http://a/b/d");
        assert_eq!(resolve_location("http://a/b/c", "/d"), "http://a/d");
        assert_eq!(
            resolve_location("http://a/b/c", "https://e/f"),
            "https://e/f"
        );
        assert_eq!(resolve_location("https://a:8443/b", "//e/f"), "https://e/f");
    }

    #[test]
    fn host_ports() {
        assert_eq!(split_host_port("a:8080", "http"), ("a".into(), 8080));
        assert_eq!(split_host_port("a", "https"), ("a".into(), 443));
        assert_eq!(split_host_port("[::1]:69", "http"), ("::1".into(), 69));
    }
}
