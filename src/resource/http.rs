//! HTTP(S) for the fetcher: ureq with rustls/ring (our own verifier and TLS connector,
//! `tls.rs`), the system trust store plus the config's CAs, per-URL proxy choice (plain http in
//! absolute form, `forward.rs`; https through CONNECT), manual redirects (config headers are
//! sent to the first URL only, as Ignition), Ignition's retry policy (connection errors, 5xx
//! and per-provider codes; backoff from 200 ms doubling to 5 s with jitter) with `httpTotal`
//! bounding the whole fetch (headers, body, retries) and progress lines for slow transfers.
//! Every agent resolves and connects through the reroute table (`reroute.rs`), the one place
//! tests send an origin's connections to a loopback server.

use super::forward::{self, AbsoluteForm};
#[cfg(any(test, feature = "testing"))]
use super::reroute::SkipTls;
use super::reroute::{self, Reroutes};
use super::retry::{backoff, Jitter};
use super::tls::{self, TlsConnector};
use super::{deliver, redact, DeliverError, Options, Sink, Spec};
use crate::error::{Error, Kind, Result};
use base64::Engine as _;
use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use ureq::unversioned::transport::{ConnectProxyConnector, Connector, TcpConnector};
use ureq::Agent;

/// Config servers key on Ignition's agent (`Ignition/<version>`, Ignition's own test servers
/// check that prefix), so ignis announces itself as the Ignition release whose behaviour it
/// follows, and names itself in the comment part so that logs still tell the two apart.
const USER_AGENT: &str = concat!(
    "Ignition/2.14.0 (compatible; ignis/",
    env!("CARGO_PKG_VERSION"),
    ")"
);
const ACCEPT: &str = "application/vnd.coreos.ignition+json;version=3.6.0, */*;q=0.1";
const MAX_REDIRECTS: usize = 10;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub struct Client {
    tls: OnceLock<std::result::Result<Arc<rustls::ClientConfig>, String>>,
    /// One agent per route ("" = direct, "CONNECT <proxy>", "ABSOLUTE <proxy>"), built on
    /// first use.
    agents: Mutex<HashMap<String, Agent>>,
    /// Origins whose connections go to loopback servers (tests); empty in production.
    reroutes: Arc<Reroutes>,
}

enum Attempt {
    /// Worth retrying: connection failure, 5xx, a retry code, a broken or stalled body; with
    /// the HTTP status when there was an answer.
    Retry(String, Option<u16>),
    Fatal(Error),
}

fn scheme_of(u: &str) -> String {
    u.split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The `user:password` part of a URL's authority, if any.
fn userinfo(u: &str) -> Option<&str> {
    let rest = u.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rfind('@').map(|i| &authority[..i])
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

/// Percent-decoding of a proxy URL's userinfo (Go decodes it before building the header).
fn unescape(s: &str) -> String {
    crate::config::url::percent_decode(s, false)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| s.to_string())
}

impl Client {
    pub fn new(reroutes: Arc<Reroutes>) -> Client {
        Client {
            tls: OnceLock::new(),
            agents: Mutex::new(HashMap::new()),
            reroutes,
        }
    }

    /// The TLS client configuration: the system bundle plus the config's CAs, the latter also
    /// accepted as pinned self-signed server certificates (`tls.rs`).
    fn tls(&self, opts: &Options) -> Result<Arc<rustls::ClientConfig>> {
        self.tls
            .get_or_init(|| {
                let pem_certs = |pem: &[u8]| {
                    ureq::tls::parse_pem(pem)
                        .flatten()
                        .filter_map(|item| match item {
                            ureq::tls::PemItem::Certificate(c) => {
                                Some(rustls::pki_types::CertificateDer::from(c.der().to_vec()))
                            }
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                };
                let mut roots = opts
                    .system_ca_files
                    .iter()
                    .find_map(|p| std::fs::read(p).ok())
                    .map(|b| pem_certs(&b))
                    .unwrap_or_default();
                let pinned: Vec<_> = opts.ca_bundles.iter().flat_map(|b| pem_certs(b)).collect();
                roots.extend(pinned.iter().cloned());
                tls::client_config(&roots, pinned)
            })
            .clone()
            .map_err(|e| Error::failed(format!("TLS setup: {e}")))
    }

    /// The agent for `url`: direct, through a CONNECT tunnel (https via a proxy) or to the
    /// proxy in absolute form (plain http via a proxy).
    fn agent(&self, url: &str, opts: &Options) -> Result<(Agent, Option<String>)> {
        let parsed = crate::config::url::parse(url)
            .map_err(|e| Error::failed(format!("invalid URL: {e}")))?;
        let (host, port) = split_host_port(parsed.host, &parsed.scheme);
        let proxy = opts
            .proxy
            .proxy_for(&parsed.scheme, &host, port)
            .unwrap_or("");
        let absolute = !proxy.is_empty() && parsed.scheme == "http";
        // Go sends a proxy URL's credentials as Proxy-Authorization on absolute-form requests.
        let proxy_auth = if absolute {
            userinfo(proxy).map(|ui| {
                let (u, p) = ui.split_once(':').unwrap_or((ui, ""));
                let pair = format!("{}:{}", unescape(u), unescape(p));
                format!("Basic {}", base64::prelude::BASE64_STANDARD.encode(pair))
            })
        } else {
            None
        };
        let key = match (proxy.is_empty(), absolute) {
            (true, _) => String::new(),
            (false, true) => format!("ABSOLUTE {proxy}"),
            (false, false) => format!("CONNECT {proxy}"),
        };
        let mut agents = self
            .agents
            .lock()
            .map_err(|_| Error::failed("HTTP client state poisoned"))?;
        if let Some(a) = agents.get(&key) {
            return Ok((a.clone(), proxy_auth));
        }
        let tls = self.tls(opts)?;
        let tunnel = if proxy.is_empty() || absolute {
            None
        } else {
            Some(
                ureq::Proxy::new(proxy)
                    .map_err(|e| Error::failed(format!("invalid proxy {}: {e}", redact(proxy))))?,
            )
        };
        let mut cfg = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(USER_AGENT)
            .accept(ACCEPT)
            .accept_encoding("identity")
            .proxy(tunnel)
            .timeout_connect(opts.connect)
            .timeout_recv_response(opts.response_headers)
            // A body that sends nothing for the response-header timeout is a failed attempt
            // (retried), never a hang.
            .timeout_per_read(opts.response_headers)
            .timeout_recv_body(None);
        if absolute {
            // One request per connection: the request-line rewrite happens once per
            // connection (forward.rs).
            cfg = cfg.max_idle_connections(0).max_idle_connections_per_host(0);
        }
        let agent = if absolute {
            let resolver =
                forward::resolver(proxy, self.reroutes.clone()).map_err(Error::failed)?;
            Agent::with_parts(
                cfg.build(),
                ().chain(TcpConnector::default()).chain(AbsoluteForm),
                resolver,
            )
        } else {
            let connector =
                ().chain(ConnectProxyConnector::default())
                    .chain(TcpConnector::default());
            // Test builds only: an https origin rerouted to a plain loopback server skips TLS.
            #[cfg(any(test, feature = "testing"))]
            let connector = connector.chain(SkipTls(self.reroutes.clone()));
            Agent::with_parts(
                cfg.build(),
                connector.chain(TlsConnector(tls)),
                reroute::Resolve::new(self.reroutes.clone()),
            )
        };
        agents.insert(key, agent.clone());
        Ok((agent, proxy_auth))
    }

    /// One request, following redirects unless `follow` is off. Config headers go to the
    /// first URL only: like Ignition, every redirect drops them, same host or not. A redirect
    /// from https to http is refused when the request carries credentials (config headers or
    /// URL userinfo), so they can never end up in clear text.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<&[u8]>,
        opts: &Options,
        follow: bool,
        deadline: Option<Instant>,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, Attempt> {
        let credentials = !headers.is_empty() || userinfo(url).is_some();
        let mut cur = url.to_string();
        for hop in 0..=MAX_REDIRECTS {
            let (agent, proxy_auth) = self.agent(&cur, opts).map_err(Attempt::Fatal)?;
            let mut req = ureq::http::Request::builder().method(method).uri(&cur);
            if hop == 0 {
                for (k, v) in headers {
                    req = req.header(k.as_str(), v.as_str());
                }
            }
            if let Some(auth) = &proxy_auth {
                req = req.header("Proxy-Authorization", auth.as_str());
            }
            let remaining = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(r) if !r.is_zero() => Some(r),
                    _ => return Err(Attempt::Retry("httpTotal reached".into(), None)),
                },
                None => None,
            };
            let result = match body {
                Some(b) => req.body(b.to_vec()).map(|r| {
                    let r = agent.configure_request(r).timeout_global(remaining).build();
                    agent.run(r)
                }),
                None => req.body(()).map(|r| {
                    let r = agent.configure_request(r).timeout_global(remaining).build();
                    agent.run(r)
                }),
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
                let next = resolve_location(&cur, loc);
                if scheme_of(&cur) == "https"
                    && scheme_of(&next) == "http"
                    && (credentials || userinfo(&next).is_some())
                {
                    return Err(Attempt::Fatal(Error::failed(format!(
                        "refusing to follow a redirect from {} to plain http {}: the request carries credentials",
                        redact(&cur),
                        redact(&next)
                    ))));
                }
                cur = next;
                continue;
            }
            return Ok(resp);
        }
        Err(Attempt::Fatal(Error::failed(format!(
            "more than {MAX_REDIRECTS} redirects"
        ))))
    }

    /// Runs attempts until one succeeds, fails for good, or `httpTotal` is spent. Each attempt
    /// gets the deadline (None without httpTotal) to bound its request, body included.
    fn with_retries<T>(
        &self,
        what: &str,
        opts: &Options,
        mut attempt: impl FnMut(u32, Option<Instant>) -> std::result::Result<T, Attempt>,
    ) -> Result<T> {
        let start = Instant::now();
        let deadline = opts.total.map(|t| start + t);
        let mut jitter = Jitter::new();
        let mut n = 0u32;
        loop {
            n += 1;
            match attempt(n, deadline) {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry(reason, status)) => {
                    let wait = backoff(n, jitter.factor());
                    if let (Some(total), Some(d)) = (opts.total, deadline) {
                        if Instant::now() + wait >= d {
                            let e = Error::failed(format!(
                                "{what}: giving up after {n} attempts in {:.1} s (httpTotal {} s): {reason}",
                                start.elapsed().as_secs_f64(),
                                total.as_secs()
                            ));
                            return Err(match status {
                                Some(s) => e.with_status(s),
                                None => e,
                            });
                        }
                    }
                    // Info, as Ignition logs its attempts: a retry that later succeeds is not a
                    // warning, and `journalctl -t ignition -p warning` (NestOS's issue file)
                    // must show only what needs a look. A final failure is an error.
                    log::info!(
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
        self.with_retries(&what, opts, |n, deadline| {
            let resp = self.send("GET", &spec.url, &spec.headers, None, opts, true, deadline)?;
            let status = resp.status().as_u16();
            match status {
                200 | 204 => {}
                404 => {
                    return Err(Attempt::Fatal(
                        Error::new(Kind::NotFound, format!("{what}: HTTP 404 Not Found"))
                            .with_status(404),
                    ))
                }
                s if s >= 500 || opts.retry_codes.contains(&s) => {
                    return Err(Attempt::Retry(format!("HTTP {s}"), Some(s)))
                }
                s => {
                    return Err(Attempt::Fatal(
                        Error::failed(format!("{what}: HTTP {s}")).with_status(s),
                    ))
                }
            }
            if n > 1 {
                sink.reset()
                    .map_err(|e| Attempt::Fatal(Error::from(e).context("resetting output")))?;
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
                    sink.reset()
                        .map_err(|e| Attempt::Fatal(Error::from(e).context("resetting output")))?;
                    Err(Attempt::Retry(format!("reading body: {e}"), None))
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
        self.with_retries(&what, opts, |_, deadline| {
            let resp = self.send(method, url, &headers, body, opts, true, deadline)?;
            let status = resp.status().as_u16();
            match status {
                200..=299 => {}
                404 => return Ok(None),
                s if s >= 500 || retry_codes.contains(&s) || opts.retry_codes.contains(&s) => {
                    return Err(Attempt::Retry(format!("HTTP {s}"), Some(s)))
                }
                s => {
                    return Err(Attempt::Fatal(
                        Error::failed(format!("{what}: HTTP {s}")).with_status(s),
                    ))
                }
            }
            let mut v = Vec::new();
            resp.into_body()
                .into_reader()
                .read_to_end(&mut v)
                .map_err(|e| Attempt::Retry(format!("reading body: {e}"), None))?;
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
        self.with_retries(&what, opts, |_, deadline| {
            let resp = self.send(method, url, &headers, body, opts, false, deadline)?;
            let status = resp.status().as_u16();
            if status >= 500 {
                return Err(Attempt::Retry(format!("HTTP {status}"), Some(status)));
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
                .map_err(|e| Attempt::Retry(format!("reading body: {e}"), None))?;
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

/// Connection-level failures and timeouts are retried; a bad URL or a failed TLS handshake (a
/// refused certificate does not fix itself; tls.rs reports handshake failures as
/// `Error::Rustls`) fails at once. A TLS error in the middle of a body is an I/O error: retried.
fn classify(e: ureq::Error) -> Attempt {
    let tls_fatal = |r: &dyn std::fmt::Display| {
        Attempt::Fatal(Error::failed(format!(
            "TLS: {r} (not retried: check the server certificate and ignition.security.tls.certificateAuthorities)"
        )))
    };
    match e {
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::InvalidProxyUrl => {
            Attempt::Fatal(Error::failed(e.to_string()))
        }
        ureq::Error::Rustls(r) => tls_fatal(&r),
        ureq::Error::Tls(r) => tls_fatal(&r),
        other => Attempt::Retry(other.to_string(), None),
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
