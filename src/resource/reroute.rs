//! The HTTP layer's one test seam: a table that sends the connections for an origin
//! (`scheme://host[:port]`) to a loopback server instead. Production code always builds the
//! real URL (`http://169.254.169.254/latest/...`, `https://bucket.s3.region.amazonaws.com/...`);
//! only where the TCP connection goes changes. The request itself is the one production sends
//! (request target, `Host` header, SigV4 signature over the real host), and an `https` origin
//! rerouted to a plain `http` loopback server skips TLS. The table is empty in production: it
//! is set by tests through `Fetcher::with_reroutes`, or for a whole process by
//! `IGNIS_HTTP_REROUTE` (`crate::distro::HTTP_REROUTE`); no config can set it, and its targets
//! can only be loopback addresses.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;
#[cfg(any(test, feature = "testing"))]
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, Either, Transport};

/// Origins and the loopback addresses their connections go to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reroutes {
    routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Route {
    /// `http` or `https`.
    scheme: String,
    /// Lowercase; `*.example.com` stands for every host below `example.com`.
    host: String,
    port: u16,
    to: SocketAddr,
}

impl Route {
    fn matches(&self, scheme: &str, host: &str, port: u16) -> bool {
        let host_ok = match self.host.strip_prefix('*') {
            Some(suffix) => host.ends_with(suffix) && host.len() > suffix.len(),
            None => self.host == host,
        };
        self.scheme == scheme && self.port == port && host_ok
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// `scheme://host[:port]`: nothing after the authority, no userinfo.
fn parse_origin(origin: &str) -> Result<(String, String, u16), String> {
    let bad = |why: &str| format!("origin {origin:?}: {why}");
    let (scheme, rest) = origin
        .split_once("://")
        .ok_or_else(|| bad("not scheme://host[:port]"))?;
    let scheme = scheme.to_ascii_lowercase();
    let default = default_port(&scheme).ok_or_else(|| bad("the scheme is not http or https"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad("not scheme://host[:port]"));
    }
    let (host, port) = match rest.strip_prefix('[') {
        Some(v6) => {
            let (h, p) = v6.split_once(']').ok_or_else(|| bad("unclosed ["))?;
            (h, p.strip_prefix(':'))
        }
        None => match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        },
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| bad("bad port"))?,
        None => default,
    };
    if host.is_empty() || host.strip_prefix("*.").is_some_and(str::is_empty) {
        return Err(bad("no host"));
    }
    if host.contains('*') && !host.starts_with("*.") {
        return Err(bad(
            "a wildcard is only allowed as the first label (*.example.com)",
        ));
    }
    Ok((scheme, host.to_ascii_lowercase(), port))
}

/// `http://<loopback address>:<port>`.
fn parse_target(target: &str) -> Result<SocketAddr, String> {
    let bad = |why: &str| format!("target {target:?}: {why}");
    let addr = target
        .strip_prefix("http://")
        .ok_or_else(|| bad("not http://ADDRESS:PORT"))?;
    let addr = addr.strip_suffix('/').unwrap_or(addr);
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| bad("not http://ADDRESS:PORT with an IP address"))?;
    if !addr.ip().is_loopback() {
        return Err(bad("not a loopback address"));
    }
    Ok(addr)
}

impl Reroutes {
    /// The table `spec` describes: `ORIGIN=TARGET` entries separated by commas, as in
    /// `http://169.254.169.254=http://127.0.0.1:4567,https://*.amazonaws.com=http://127.0.0.1:4568`.
    pub fn parse(spec: &str) -> Result<Reroutes, String> {
        let mut r = Reroutes::default();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (from, to) = entry
                .split_once('=')
                .ok_or_else(|| format!("{entry:?}: not ORIGIN=TARGET"))?;
            r = r.with(from.trim(), to.trim())?;
        }
        Ok(r)
    }

    /// This table plus `origin` sent to `target` (an earlier entry for the same origin wins).
    pub fn with(mut self, origin: &str, target: &str) -> Result<Reroutes, String> {
        let (scheme, host, port) = parse_origin(origin)?;
        let to = parse_target(target)?;
        self.routes.push(Route {
            scheme,
            host,
            port,
            to,
        });
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The loopback address the connections for `uri`'s origin go to, if it is rerouted.
    pub(crate) fn target(&self, uri: &Uri) -> Option<SocketAddr> {
        if self.routes.is_empty() {
            return None;
        }
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let host = uri.host()?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        let port = uri.port_u16().or_else(|| default_port(&scheme))?;
        self.routes
            .iter()
            .find(|r| r.matches(&scheme, &host, port))
            .map(|r| r.to)
    }

    /// The process's table, from `IGNIS_HTTP_REROUTE` (read once; unset in production). A
    /// value that does not parse is ignored with a warning.
    /// The process's table: `IGNIS_HTTP_REROUTE` in test builds (the unit tests, and the
    /// binary the integration tests run, built with the `testing` feature); always empty in
    /// the shipped binary, which neither reads the variable nor carries its parser.
    #[cfg(not(any(test, feature = "testing")))]
    pub(crate) fn from_distro() -> Arc<Reroutes> {
        static TABLE: OnceLock<Arc<Reroutes>> = OnceLock::new();
        TABLE.get_or_init(Arc::default).clone()
    }

    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn from_distro() -> Arc<Reroutes> {
        static TABLE: OnceLock<Arc<Reroutes>> = OnceLock::new();
        TABLE
            .get_or_init(|| {
                let spec = crate::distro::http_reroute().unwrap_or_default();
                Arc::new(Reroutes::parse(&spec).unwrap_or_else(|e| {
                    log::warn!("{}: {e}; ignored", crate::distro::HTTP_REROUTE.var);
                    Reroutes::default()
                }))
            })
            .clone()
    }
}

/// Resolves a rerouted origin to its loopback address, anything else as usual. Used for the
/// request's own host and for a proxy's (ureq resolves a CONNECT proxy through it too).
#[derive(Debug)]
pub(crate) struct Resolve {
    pub reroutes: Arc<Reroutes>,
    pub inner: DefaultResolver,
}

impl Resolve {
    pub(crate) fn new(reroutes: Arc<Reroutes>) -> Resolve {
        Resolve {
            reroutes,
            inner: DefaultResolver::default(),
        }
    }
}

impl Resolver for Resolve {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        match self.reroutes.target(uri) {
            Some(addr) => {
                let mut v = self.empty();
                v.push(addr);
                Ok(v)
            }
            None => self.inner.resolve(uri, config, timeout),
        }
    }
}

/// Placed before the TLS connector: a direct connection to a rerouted `https` origin reached
/// the plain-http loopback server, so it is marked as secured and the TLS connector (and
/// ureq's "TLS required" check) let it through unwrapped.
/// Test builds only: the connector that lets a rerouted `https` origin talk plain HTTP to its
/// loopback server (the shipped binary always speaks TLS to an https origin).
#[cfg(any(test, feature = "testing"))]
#[derive(Debug)]
pub(crate) struct SkipTls(pub Arc<Reroutes>);

#[cfg(any(test, feature = "testing"))]
impl<In: Transport> Connector<In> for SkipTls {
    type Out = Either<In, Loopback>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        let direct = details.config.proxy().is_none();
        if direct && details.needs_tls() && self.0.target(details.uri).is_some() {
            return Ok(Some(Either::B(Loopback(transport.boxed()))));
        }
        Ok(Some(Either::A(transport)))
    }
}

/// A plain connection to a loopback server standing in for an `https` origin.
#[cfg(any(test, feature = "testing"))]
#[derive(Debug)]
pub(crate) struct Loopback(Box<dyn Transport>);

#[cfg(any(test, feature = "testing"))]
impl Transport for Loopback {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.0.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.0.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.0.await_input(timeout)
    }

    fn is_open(&mut self) -> bool {
        self.0.is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(u: &str) -> Uri {
        u.parse().unwrap()
    }

    #[test]
    fn origins_match_by_scheme_host_and_port() {
        let r = Reroutes::parse(
            "http://169.254.169.254=http://127.0.0.1:4567, https://*.amazonaws.com=http://[::1]:4568,\
             http://Metadata.Example:8080/=http://127.0.0.1:9",
        )
        .unwrap();
        let at = |u: &str| r.target(&uri(u)).map(|a| a.to_string());
        assert_eq!(
            at("http://169.254.169.254/latest/meta-data").as_deref(),
            Some("127.0.0.1:4567")
        );
        assert_eq!(
            at("http://169.254.169.254:80/").as_deref(),
            Some("127.0.0.1:4567")
        );
        assert_eq!(at("https://169.254.169.254/"), None);
        assert_eq!(at("http://169.254.169.254:81/"), None);
        assert_eq!(
            at("https://b.s3.eu-west-1.amazonaws.com/k").as_deref(),
            Some("[::1]:4568")
        );
        assert_eq!(at("https://amazonaws.com/k"), None);
        assert_eq!(at("https://evilamazonaws.com/k"), None);
        assert_eq!(
            at("http://metadata.example:8080/x").as_deref(),
            Some("127.0.0.1:9")
        );
        let v6 = Reroutes::parse("http://[FD00:EC2::254]=http://127.0.0.1:1").unwrap();
        assert!(v6.target(&uri("http://[fd00:ec2::254]/latest")).is_some());
        assert!(Reroutes::default().target(&uri("http://a/")).is_none());
        assert!(Reroutes::parse("").unwrap().is_empty());
    }

    #[test]
    fn only_loopback_targets_and_plain_origins() {
        for bad in [
            "http://a=http://10.0.0.1:80",
            "http://a=https://127.0.0.1:80",
            "http://a=http://localhost:80",
            "http://a=http://127.0.0.1",
            "ftp://a=http://127.0.0.1:1",
            "http://a/path=http://127.0.0.1:1",
            "http://u@a=http://127.0.0.1:1",
            "http://a:x=http://127.0.0.1:1",
            "http://*=http://127.0.0.1:1",
            "http://a.*.b=http://127.0.0.1:1",
            "http://a",
        ] {
            assert!(Reroutes::parse(bad).is_err(), "{bad}");
        }
    }
}
