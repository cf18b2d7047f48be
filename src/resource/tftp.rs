//! TFTP client for `tftp://` resources: RFC 1350 read requests in octet mode with option
//! negotiation (RFC 2347 OACK, RFC 2348 blksize, RFC 2349 tsize), per-packet retransmission and
//! whole-transfer retries. It only reads: it never writes files to a server, and it decides
//! nothing about the bytes beyond handing them to `deliver` (gzip, hash, sink).

mod packet;
mod session;

use super::{deliver, redact, DeliverError, Options, Sink, Spec};
use crate::config::url;
use crate::error::{Context, Error, Result};
use session::Session;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

const DEFAULT_PORT: u16 = 69;
/// Without a negotiated blksize every DATA packet but the last carries 512 bytes.
const PLAIN_BLKSIZE: usize = 512;
/// Largest blocks that fit a 1500-byte Ethernet frame: 1500 - IP header - 8 (UDP) - 4 (TFTP).
const BLKSIZE_V4: u16 = 1468;
const BLKSIZE_V6: u16 = 1448;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Timing knobs. The defaults suit a LAN boot server; tests shorten them.
#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    /// Wait for the first answer to a packet; doubled per retransmission up to `max_timeout`.
    pub packet_timeout: Duration,
    pub max_timeout: Duration,
    /// Retransmissions of one packet before the transfer is abandoned.
    pub retransmits: u32,
    /// Whole transfers tried (each from the start) before giving up.
    pub attempts: u32,
    /// Block size asked for; `None`: the largest that fits an Ethernet frame.
    pub blksize: Option<u16>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            packet_timeout: Duration::from_secs(1),
            max_timeout: Duration::from_secs(4),
            retransmits: 4,
            attempts: 3,
            blksize: None,
        }
    }
}

/// Fetches `spec` (a `tftp://host[:port]/path` URL) into `sink`.
pub fn fetch(spec: &Spec, opts: &Options, sink: &mut dyn Sink) -> Result<u64> {
    fetch_tuned(spec, opts, sink, &Tuning::default())
}

/// Where to ask and what for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// The URL's path, percent-decoded, leading `/` kept (what Ignition sends).
    filename: Vec<u8>,
}

fn parse_target(u: &str) -> Result<Target> {
    let bad = |why: &str| Error::failed(format!("invalid TFTP URL {}: {why}", redact(u)));
    let p = url::parse(u).map_err(|e| bad(&e))?;
    if p.host.is_empty() {
        return Err(bad("no host"));
    }
    // Userinfo means nothing to TFTP; drop it like the host parser of any client would.
    let hostport = p.host.rsplit_once('@').map_or(p.host, |(_, h)| h);
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        if h.contains('%') {
            return Err(bad("IPv6 zone identifiers are not supported"));
        }
        (h, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, port)) => (h, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None | Some("") => DEFAULT_PORT,
        Some(s) => s
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| bad("invalid port"))?,
    };
    let filename = url::percent_decode(p.path, false).map_err(|e| bad(&e))?;
    if filename.is_empty() || filename == b"/" {
        return Err(bad("no file name"));
    }
    if filename.contains(&0) {
        return Err(bad("NUL in file name"));
    }
    Ok(Target {
        host: host.to_string(),
        port,
        filename,
    })
}

fn resolve(t: &Target) -> Result<SocketAddr> {
    (t.host.as_str(), t.port)
        .to_socket_addrs()
        .context(|| format!("resolving {}", t.host))?
        .next()
        .ok_or_else(|| Error::failed(format!("resolving {}: no addresses", t.host)))
}

/// How an attempt ended when it did not deliver.
#[derive(Debug)]
enum Failure {
    /// Timeouts, a server error that may pass, a transfer that came out wrong: try again.
    Retry(String),
    /// The server does not want our options: ask again without them.
    OptionsRefused(String),
    Fatal(Error),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Retry(s) | Failure::OptionsRefused(s) => f.write_str(s),
            Failure::Fatal(e) => write!(f, "{e}"),
        }
    }
}

pub(crate) fn fetch_tuned(
    spec: &Spec,
    opts: &Options,
    sink: &mut dyn Sink,
    tuning: &Tuning,
) -> Result<u64> {
    let what = format!("TFTP {}", redact(&spec.url));
    let target = parse_target(&spec.url)?;
    let server = resolve(&target).map_err(|e| e.context(what.clone()))?;
    let start = Instant::now();
    let deadline = opts.total.map(|t| start + t);
    let blksize = tuning.blksize.unwrap_or(if server.is_ipv4() {
        BLKSIZE_V4
    } else {
        BLKSIZE_V6
    });
    let mut with_options = true;
    let mut attempt = 0u32;
    let mut dirty = false;
    loop {
        attempt += 1;
        if dirty {
            sink.reset()
                .context(|| "resetting output")
                .context(|| what.as_str())?;
            dirty = false;
        }
        let outcome = Session::open(
            server,
            &target.filename,
            with_options.then_some(blksize),
            deadline,
            tuning,
        )
        .and_then(|mut session| {
            dirty = true;
            let mut last = Instant::now();
            let progress = |bytes: u64| {
                if last.elapsed() >= PROGRESS_EVERY {
                    last = Instant::now();
                    log::info!(
                        "{what}: {:.1} MiB so far (attempt {attempt})",
                        bytes as f64 / 1048576.0
                    );
                }
            };
            match deliver(spec, &mut session, sink, progress) {
                Ok(n) => Ok(n),
                Err(DeliverError::Source(e)) => Err(session
                    .failure
                    .take()
                    .unwrap_or_else(|| Failure::Retry(e.to_string()))),
                Err(DeliverError::Other(e)) => Err(Failure::Fatal(e)),
            }
        });
        let reason = match outcome {
            Ok(n) => return Ok(n),
            Err(Failure::Fatal(e)) => return Err(e.context(what)),
            Err(Failure::OptionsRefused(reason)) if with_options => {
                // RFC 2347: a server may refuse options with error 8; the plain request is
                // still a valid request. This does not count as an attempt.
                log::info!("{what}: options refused ({reason}); asking without options");
                with_options = false;
                attempt -= 1;
                continue;
            }
            Err(f) => f.to_string(),
        };
        let wait = super::retry::backoff(attempt, 1.0);
        let out_of_time = deadline.is_some_and(|d| Instant::now() + wait >= d);
        if attempt >= tuning.attempts || out_of_time {
            return Err(Error::failed(format!(
                "{what}: giving up after {attempt} attempt(s) in {:.1} s: {reason}",
                start.elapsed().as_secs_f64()
            )));
        }
        log::warn!(
            "{what}: attempt {attempt} failed: {reason}; retrying in {:.1} s",
            wait.as_secs_f64()
        );
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests;
