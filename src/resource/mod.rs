//! Fetching resources: every scheme a config may name (`data:`, `http(s)`, `tftp`, `s3`/`arn`,
//! `gs`), streamed through gzip decompression and hash verification into a `Sink`, with
//! Ignition's retry, timeout, header, proxy and CA semantics. The fetcher decides nothing about
//! where the bytes go: callers hand it a sink (a temp file, a buffer) and commit on success.

mod forward;
pub mod hash;
mod http;
pub mod proxy;
pub mod s3;
pub mod sigv4;
pub mod tftp;
mod tls;

use crate::config::types::{Ignition, Resource};
use crate::config::url;
use crate::error::{Error, Kind, Result};
pub use hash::HashSpec;
pub use proxy::ProxyConfig;
use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;
use std::time::Duration;

/// How a resource's bytes are stored at their source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// One thing to fetch: where, with which extra headers, and how to check it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub url: String,
    /// `httpHeaders` (those with a value), sent on http(s) to the first URL only (every
    /// redirect drops them, as in Ignition).
    pub headers: Vec<(String, String)>,
    pub compression: Compression,
    /// Checked over the decompressed bytes.
    pub hash: Option<HashSpec>,
}

impl Spec {
    pub fn url(url: &str) -> Spec {
        Spec {
            url: url.to_string(),
            headers: Vec::new(),
            compression: Compression::None,
            hash: None,
        }
    }

    /// The spec of a config resource; `None` when it has no source.
    pub fn from_resource(r: &Resource) -> Result<Option<Spec>> {
        let Some(src) = &r.source else {
            return Ok(None);
        };
        let hash = r
            .verification
            .hash
            .as_deref()
            .map(HashSpec::parse)
            .transpose()?;
        Ok(Some(Spec {
            url: src.clone(),
            headers: r
                .http_headers
                .iter()
                .filter_map(|h| h.value.as_ref().map(|v| (h.name.clone(), v.clone())))
                .collect(),
            compression: match r.compression.as_deref() {
                Some("gzip") => Compression::Gzip,
                _ => Compression::None,
            },
            hash,
        }))
    }
}

/// Where fetched bytes go. `reset` discards a failed attempt's bytes before a retry.
pub trait Sink: Write {
    fn reset(&mut self) -> io::Result<()>;
}

impl Sink for Vec<u8> {
    fn reset(&mut self) -> io::Result<()> {
        self.clear();
        Ok(())
    }
}

/// The most a resource held in memory may grow to once decompressed: configs, merge children,
/// CA bundles and key files. Files go to disk and have no such cap. A hostile merge child
/// (a gzip bomb) fails with a clear error instead of taking the machine's memory.
pub const MAX_IN_MEMORY: usize = 256 << 20;

/// A memory sink that refuses to grow past `limit` bytes.
struct Capped {
    buf: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl Write for Capped {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        if self.buf.len() + b.len() > self.limit {
            self.overflowed = true;
            return Err(io::Error::other(format!(
                "larger than {} MiB once decompressed",
                self.limit >> 20
            )));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Sink for Capped {
    fn reset(&mut self) -> io::Result<()> {
        self.buf.clear();
        Ok(())
    }
}

impl Sink for std::fs::File {
    fn reset(&mut self) -> io::Result<()> {
        self.set_len(0)?;
        self.rewind()
    }
}

/// Network behaviour taken from the config's `ignition` section.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per attempt: how long to wait for response headers (None: no limit). Default 10 s.
    pub response_headers: Option<Duration>,
    /// Per attempt: how long to wait for a TCP connection (None: no limit). Default 30 s, Go's
    /// dial timeout; metadata probes for object-store credentials use a few seconds.
    pub connect: Option<Duration>,
    /// Per fetch, retries included (None: no limit). Default none.
    pub total: Option<Duration>,
    pub proxy: ProxyConfig,
    /// Extra trusted CA bundles (PEM), from `ignition.security.tls.certificateAuthorities`.
    pub ca_bundles: Vec<Vec<u8>>,
    /// The system trust store files; the first that exists is used.
    pub system_ca_files: Vec<PathBuf>,
    /// Statuses retried on top of connection errors and 5xx (per provider).
    pub retry_codes: Vec<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            response_headers: Some(Duration::from_secs(10)),
            connect: Some(Duration::from_secs(30)),
            total: None,
            proxy: ProxyConfig::default(),
            ca_bundles: Vec::new(),
            system_ca_files: [
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                "/etc/ssl/cert.pem",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            retry_codes: Vec::new(),
        }
    }
}

impl Options {
    /// Timeouts and proxy of a config (CAs are fetched separately: they are resources too).
    pub fn from_ignition(ign: &Ignition) -> Options {
        let secs = |v: Option<i64>| v.map(|s| Duration::from_secs(s.max(0) as u64));
        let mut o = Options::default();
        if let Some(h) = ign.timeouts.http_response_headers {
            o.response_headers = (h > 0).then(|| Duration::from_secs(h as u64));
        }
        o.total = secs(ign.timeouts.http_total).filter(|d| !d.is_zero());
        o.proxy = ProxyConfig::new(
            ign.proxy.http_proxy.clone(),
            ign.proxy.https_proxy.clone(),
            &ign.proxy.no_proxy,
        );
        o
    }
}

/// Fetches resources. Cheap to share between threads; HTTP connections are pooled.
pub struct Fetcher {
    offline: bool,
    opts: Options,
    http: http::Client,
    /// Object-store endpoints and what their metadata services said (credentials, regions).
    objstore: s3::State,
}

/// A writer that hashes and counts what passes to the sink.
struct Tee<'a> {
    sink: &'a mut dyn Sink,
    hasher: Option<hash::Hasher>,
    n: u64,
}

impl Write for Tee<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.sink.write_all(b)?;
        if let Some(h) = &mut self.hasher {
            h.update(b);
        }
        self.n += b.len() as u64;
        Ok(b.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// Why a delivery failed: reading the source (worth a retry) or the rest (not).
pub(crate) enum DeliverError {
    Source(io::Error),
    Other(Error),
}

thread_local! {
    /// `pump`'s block, kept between calls: a stage writing thousands of small files would
    /// otherwise map and unmap 64 KiB for each.
    static PUMP_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Copies `src` into `out` in 64 KiB blocks, telling read errors (worth a retry) from write
/// errors (not).
fn pump(
    src: &mut dyn Read,
    out: &mut dyn Write,
    total: &mut u64,
    progress: &mut dyn FnMut(u64),
    what: &str,
) -> Result<(), DeliverError> {
    let mut buf = PUMP_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
    buf.resize(64 * 1024, 0);
    let r = pump_with(&mut buf, src, out, total, progress, what);
    PUMP_BUF.with(|b| *b.borrow_mut() = buf);
    r
}

fn pump_with(
    buf: &mut [u8],
    src: &mut dyn Read,
    out: &mut dyn Write,
    total: &mut u64,
    progress: &mut dyn FnMut(u64),
    what: &str,
) -> Result<(), DeliverError> {
    loop {
        let n = match src.read(buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(DeliverError::Source(e)),
        };
        *total += n as u64;
        progress(*total);
        out.write_all(&buf[..n])
            .map_err(|e| DeliverError::Other(Error::failed(format!("{what}: {e}"))))?;
    }
}

/// Copies `src` through decompression and hashing into `sink`; returns the bytes delivered.
pub(crate) fn deliver(
    spec: &Spec,
    src: &mut dyn Read,
    sink: &mut dyn Sink,
    mut progress: impl FnMut(u64),
) -> Result<u64, DeliverError> {
    let tee = Tee {
        sink,
        hasher: spec.hash.as_ref().map(|h| h.hasher()),
        n: 0,
    };
    let bad_data =
        |e: io::Error, what: &str| DeliverError::Other(Error::failed(format!("{what}: {e}")));
    let mut read_total = 0u64;
    let tee = match spec.compression {
        Compression::None => {
            let mut tee = tee;
            pump(src, &mut tee, &mut read_total, &mut progress, "writing")?;
            tee
        }
        Compression::Gzip => {
            let mut gz = flate2::write::GzDecoder::new(tee);
            pump(
                src,
                &mut gz,
                &mut read_total,
                &mut progress,
                "decompressing gzip",
            )?;
            gz.try_finish()
                .map_err(|e| bad_data(e, "decompressing gzip"))?;
            gz.finish().map_err(|e| bad_data(e, "decompressing gzip"))?
        }
    };
    let Tee { sink, hasher, n } = tee;
    sink.flush().map_err(|e| bad_data(e, "writing"))?;
    if let (Some(h), Some(spec_hash)) = (hasher, &spec.hash) {
        spec_hash.check(h).map_err(DeliverError::Other)?;
    }
    Ok(n)
}

/// Reads a data URL's payload, decoding base64 or percent-escapes as it goes.
struct DataReader<'a> {
    payload: &'a [u8],
    base64: bool,
    pending: Vec<u8>,
    pos: usize,
}

impl<'a> DataReader<'a> {
    fn new(s: &'a str) -> Result<Self> {
        let d =
            url::parse_data_url(s).map_err(|e| Error::failed(format!("invalid data URL: {e}")))?;
        Ok(DataReader {
            payload: d.payload.as_bytes(),
            base64: d.base64,
            pending: Vec::new(),
            pos: 0,
        })
    }

    fn refill(&mut self) -> io::Result<()> {
        const CHUNK: usize = 64 * 1024;
        self.pending.clear();
        self.pos = 0;
        if self.payload.is_empty() {
            return Ok(());
        }
        let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
        if self.base64 {
            // Whole quads only, except at the end.
            let take = if self.payload.len() <= CHUNK {
                self.payload.len()
            } else {
                CHUNK
            };
            let (now, rest) = self.payload.split_at(take);
            let text = std::str::from_utf8(now).map_err(|e| bad(e.to_string()))?;
            let pending = &mut self.pending;
            url::base64_decode_into(text, &mut |c| pending.extend_from_slice(c)).map_err(bad)?;
            self.payload = rest;
        } else {
            let mut take = self.payload.len().min(CHUNK);
            // Do not split a %XX escape.
            while take < self.payload.len()
                && take > 0
                && self.payload[take.saturating_sub(2)..take].contains(&b'%')
            {
                take -= 1;
            }
            let (now, rest) = self.payload.split_at(take);
            let text = std::str::from_utf8(now).map_err(|e| bad(e.to_string()))?;
            self.pending = url::percent_decode(text, false).map_err(bad)?;
            self.payload = rest;
        }
        Ok(())
    }
}

impl Read for DataReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.pending.len() {
            if self.payload.is_empty() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.pending.len() - self.pos);
        out[..n].copy_from_slice(&self.pending[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn scheme_of(u: &str) -> String {
    match url::parse(u) {
        Ok(p) => p.scheme.into_owned(),
        Err(_) => String::new(),
    }
}

impl Fetcher {
    pub fn new(opts: Options, offline: bool) -> Fetcher {
        Fetcher {
            offline,
            http: http::Client::new(&opts),
            opts,
            objstore: s3::State::default(),
        }
    }

    /// Uses other object-store and metadata endpoints than the real AWS/GCP ones (tests point
    /// them at loopback servers).
    pub fn with_object_stores(mut self, endpoints: s3::Endpoints) -> Fetcher {
        self.objstore = s3::State::new(endpoints);
        self
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

fn finish(r: Result<u64, DeliverError>) -> Result<u64> {
    match r {
        Ok(n) => Ok(n),
        Err(DeliverError::Source(e)) => Err(Error::failed(format!("reading: {e}"))),
        Err(DeliverError::Other(e)) => Err(e),
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
        use std::io::{BufRead, BufReader, Write as _};
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            (&s).write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .unwrap();
        });
        let opts = Options {
            system_ca_files: vec![],
            ..Options::default()
        };
        let f = Fetcher::new(opts, false);
        let got = f
            .fetch_bytes(&Spec::url(&format!("http://127.0.0.1:{port}/c.ign")))
            .unwrap();
        assert_eq!(got, b"ok");
        t.join().unwrap();
    }

    #[test]
    fn in_memory_fetches_are_capped_after_decompression() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 4 << 20]).unwrap();
        let bomb = gz.finish().unwrap();
        let spec = Spec {
            url: format!("data:;base64,{}", crate::engine::base64_encode(&bomb)),
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
