//! Fetching resources: every scheme a config may name (`data:`, `http(s)`, `tftp`, `s3`/`arn`,
//! `gs`), streamed through gzip decompression and hash verification into a `Sink`, with
//! Ignition's retry, timeout, header, proxy and CA semantics. The fetcher decides nothing about
//! where the bytes go: callers hand it a sink (a temp file, a buffer) and commit on success.

mod data;
mod deliver;
mod forward;
mod from_config;
mod gunzip;
pub mod hash;
mod http;
mod options;
pub mod proxy;
mod reroute;
mod retry;
pub mod s3;
pub mod sigv4;
mod sink;
mod spec;
pub mod tftp;
mod tls;

use crate::config::url;
use crate::error::{Error, Kind, Result};
pub use data::data_url;
use data::DataReader;
pub(crate) use deliver::{deliver, finish, DeliverError};
pub use from_config::{fetch_options, options_for};
pub use hash::HashSpec;
pub use options::Options;
pub use proxy::ProxyConfig;
pub use reroute::Reroutes;
use sink::Capped;
pub use sink::{Sink, MAX_IN_MEMORY};
pub use spec::{Compression, Spec};
use std::sync::Arc;

fn scheme_of(u: &str) -> String {
    match url::parse(u) {
        Ok(p) => p.scheme.into_owned(),
        Err(_) => String::new(),
    }
}

/// Fetches resources. Cheap to share between threads; HTTP connections are pooled.
pub struct Fetcher {
    offline: bool,
    opts: Options,
    http: http::Client,
    /// What the object stores' metadata services said (credentials, regions).
    objstore: s3::State,
    /// Origins whose connections go to loopback servers (tests); empty in production.
    reroutes: Arc<Reroutes>,
}

impl Fetcher {
    /// A fetcher with `opts`; its reroute table is the process's (`IGNIS_HTTP_REROUTE`, unset
    /// in production).
    pub fn new(opts: Options, offline: bool) -> Fetcher {
        Fetcher::build(opts, offline, Reroutes::from_distro())
    }

    fn build(opts: Options, offline: bool, reroutes: Arc<Reroutes>) -> Fetcher {
        Fetcher {
            offline,
            http: http::Client::new(reroutes.clone()),
            opts,
            objstore: s3::State::default(),
            reroutes,
        }
    }

    /// This fetcher with `reroutes` as its reroute table: the connections for those origins
    /// go to loopback servers while every URL stays the real one (tests).
    pub fn with_reroutes(self, reroutes: Reroutes) -> Fetcher {
        Fetcher::build(self.opts, self.offline, Arc::new(reroutes))
    }

    /// A fetcher with other options and the same reroute table (a provider's bounded retries,
    /// a metadata probe's short timeouts).
    pub fn derive(&self, opts: Options, offline: bool) -> Fetcher {
        Fetcher::build(opts, offline, self.reroutes.clone())
    }

    /// A fetcher with the defaults, for fetching before any config is known.
    pub fn plain(offline: bool) -> Fetcher {
        Fetcher::new(Options::default(), offline)
    }

    pub fn is_offline(&self) -> bool {
        self.offline
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    fn need_net(&self, u: &str) -> Result<()> {
        if self.offline {
            return Err(Error::new(
                Kind::NeedNet,
                format!("resource requires networking: {}", redact(u)),
            ));
        }
        Ok(())
    }

    /// Fetches `spec` into `sink`, retrying as configured; returns the bytes delivered.
    pub fn fetch(&self, spec: &Spec, sink: &mut dyn Sink) -> Result<u64> {
        if spec.url.is_empty() {
            // An empty source is an empty resource (its hash, if any, must be of nothing).
            let mut empty: &[u8] = &[];
            return finish(deliver(spec, &mut empty, sink, |_| {}));
        }
        let scheme = scheme_of(&spec.url);
        match scheme.as_str() {
            "data" => self.fetch_data(&spec.url, spec, sink),
            "http" | "https" => {
                self.need_net(&spec.url)?;
                self.http.fetch(spec, &self.opts, sink)
            }
            "tftp" => {
                self.need_net(&spec.url)?;
                tftp::fetch(spec, &self.opts, sink)
            }
            "s3" | "arn" => {
                self.need_net(&spec.url)?;
                s3::fetch(self, spec, sink)
            }
            "gs" => {
                self.need_net(&spec.url)?;
                s3::fetch_gcs(self, spec, sink)
            }
            other => Err(Error::failed(format!("unsupported url scheme {other:?}"))),
        }
    }

    /// Decodes data URL `url` into `sink` with `spec`'s compression and hash (`spec.url` is not
    /// read): a caller holding a large data URL in the config need not copy it into a spec.
    pub fn fetch_data(&self, url: &str, spec: &Spec, sink: &mut dyn Sink) -> Result<u64> {
        let mut r = DataReader::new(url)?;
        finish(deliver(spec, &mut r, sink, |_| {}))
    }

    /// Fetches into memory (configs, CA bundles, key files).
    pub fn fetch_bytes(&self, spec: &Spec) -> Result<Vec<u8>> {
        self.fetch_bytes_capped(spec, MAX_IN_MEMORY)
    }

    /// `fetch_bytes` with its own cap on the (decompressed) size.
    pub fn fetch_bytes_capped(&self, spec: &Spec, limit: usize) -> Result<Vec<u8>> {
        let mut sink = Capped {
            buf: Vec::new(),
            limit,
            overflowed: false,
        };
        match self.fetch(spec, &mut sink) {
            Err(_) if sink.overflowed => Err(Error::failed(format!(
                "{}: larger than {} MiB once decompressed, the limit for what is held in memory \
                 (configs, CA bundles, key files)",
                redact(&spec.url),
                limit >> 20
            ))),
            Err(e) => Err(e),
            Ok(_) => Ok(sink.buf),
        }
    }

    /// An HTTP request for a metadata service: `Ok(None)` on 404. `retry_codes` are retried on
    /// top of connection errors and 5xx.
    pub fn http_request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        retry_codes: &[u16],
    ) -> Result<Option<Vec<u8>>> {
        self.need_net(url)?;
        self.http
            .request(method, url, headers, body, retry_codes, &self.opts)
    }

    pub fn http_get(&self, url: &str, headers: &[(&str, &str)]) -> Result<Option<Vec<u8>>> {
        self.http_request("GET", url, headers, None, &[])
    }

    /// One HTTP request whose status and headers the caller interprets (no redirects followed;
    /// connection errors and 5xx retried). For the object-store code.
    fn http_exchange(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<http::Reply> {
        self.need_net(url)?;
        self.http.exchange(method, url, headers, body, &self.opts)
    }
}

/// A URL fit for logs: data URLs, userinfo (`user:password@`) and query strings (tokens,
/// signatures) are cut.
pub fn redact(u: &str) -> String {
    if u.len() >= 5 && u[..5].eq_ignore_ascii_case("data:") {
        return format!("data URL ({} bytes)", u.len());
    }
    let base = match u.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => u.to_string(),
    };
    // `scheme://user:password@host/...`: the userinfo is a credential, never logged.
    if let Some(i) = base.find("://") {
        let auth_end = base[i + 3..]
            .find(['/', '?', '#'])
            .map_or(base.len(), |j| i + 3 + j);
        if let Some(at) = base[i + 3..auth_end].rfind('@') {
            return format!("{}***@{}", &base[..i + 3], &base[i + 3 + at + 1..]);
        }
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetch(url: &str, gz: bool, hash: Option<&str>) -> Result<Vec<u8>> {
        let spec = Spec {
            url: url.into(),
            headers: vec![],
            compression: if gz {
                Compression::Gzip
            } else {
                Compression::None
            },
            hash: hash.map(|h| HashSpec::parse(h).unwrap()),
        };
        Fetcher::plain(true).fetch_bytes(&spec)
    }

    #[test]
    fn redact_hides_queries_userinfo_and_data() {
        assert_eq!(
            redact("http://user:pass@host:8080/a/b?token=x"),
            "http://***@host:8080/a/b?…"
        );
        assert_eq!(redact("https://u@h"), "https://***@h");
        assert_eq!(redact("http://h/p@q"), "http://h/p@q");
        assert_eq!(redact("tftp://h/f"), "tftp://h/f");
        assert_eq!(redact("data:,secret"), "data URL (12 bytes)");
    }

    #[test]
    fn data_urls_stream_through_the_pipeline() {
        assert_eq!(
            fetch("data:,hello%20world", false, None).unwrap(),
            b"hello world"
        );
        assert_eq!(
            fetch("data:;base64,aGVsbG8=", false, None).unwrap(),
            b"hello"
        );
        let big = "A".repeat(300_000);
        let enc = format!("data:,{big}");
        assert_eq!(fetch(&enc, false, None).unwrap().len(), 300_000);
        let pct = format!("data:,{}", "%41".repeat(100_000));
        assert_eq!(fetch(&pct, false, None).unwrap(), vec![b'A'; 100_000]);
    }

    #[test]
    fn plain_http_works_without_any_trusted_certificate() {
        // An initrd without a CA bundle and a config listing none: plain http must still work
        // (the TLS configuration is built for every agent).
        let s = crate::providers::testserver::Server::start(|_| {
            crate::providers::testserver::Reply::ok("ok")
        });
        let opts = Options {
            system_ca_files: vec![],
            ..Options::default()
        };
        let f = Fetcher::new(opts, false);
        let got = f
            .fetch_bytes(&Spec::url(&format!("{}/c.ign", s.base)))
            .unwrap();
        assert_eq!(got, b"ok");
        assert_eq!(s.requests()[0].target, "/c.ign");
    }

    #[test]
    fn in_memory_fetches_are_capped_after_decompression() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 4 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        let spec = Spec {
            url: data_url(&bomb),
            headers: vec![],
            compression: Compression::Gzip,
            hash: None,
        };
        let f = Fetcher::plain(true);
        let e = f
            .fetch_bytes_capped(&spec, 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(e.contains("larger than 1 MiB once decompressed"), "{e}");
        assert_eq!(f.fetch_bytes_capped(&spec, 8 << 20).unwrap().len(), 4 << 20);
    }

    #[test]
    fn gzip_and_hash() {
        // gzip of "hello\n"
        let gz = "data:;base64,H4sIAAAAAAAAA8tIzcnJ5wIAIDA6NgYAAAA=";
        assert_eq!(fetch(gz, true, None).unwrap(), b"hello\n");
        let sha = "sha256-5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert_eq!(fetch(gz, true, Some(sha)).unwrap(), b"hello\n");
        let wrong = "sha256-0000000000000000000000000000000000000000000000000000000000000000";
        assert_eq!(
            fetch(gz, true, Some(wrong)).unwrap_err().kind(),
            Kind::HashMismatch
        );
        // truncated gzip
        assert!(fetch("data:;base64,H4sIAAAAAAAAA8tIzcnJ5wIA", true, None).is_err());
    }

    #[test]
    fn offline_refuses_network() {
        let e = fetch("http://127.0.0.1:1/x", false, None).unwrap_err();
        assert_eq!(e.kind(), Kind::NeedNet);
        assert_eq!(
            fetch("tftp://127.0.0.1/x", false, None).unwrap_err().kind(),
            Kind::NeedNet
        );
    }

    #[test]
    fn empty_source_is_empty() {
        assert_eq!(fetch("", false, None).unwrap(), b"");
    }

    #[test]
    fn redaction() {
        assert_eq!(redact("data:,secret"), "data URL (12 bytes)");
        assert_eq!(redact("https://x/a?sig=1"), "https://x/a?…");
        assert_eq!(
            redact("http://user:pa%40ss@host:8080/a@b?t=1"),
            "http://***@host:8080/a@b?…"
        );
        assert_eq!(redact("http://host/a@b"), "http://host/a@b");
    }
}
