//! TFTP client for `tftp://` resources: RFC 1350 read requests in octet mode with option
//! negotiation (RFC 2347 OACK, RFC 2348 blksize, RFC 2349 tsize), per-packet retransmission and
//! whole-transfer retries. It only reads: it never writes files to a server, and it decides
//! nothing about the bytes beyond handing them to `deliver` (gzip, hash, sink).

use super::{deliver, redact, DeliverError, Options, Sink, Spec};
use crate::config::url;
use crate::error::{Error, Kind, Result};
use std::fmt;
use std::io::{self, Read};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, Instant};

const DEFAULT_PORT: u16 = 69;
/// Without a negotiated blksize every DATA packet but the last carries 512 bytes.
const PLAIN_BLKSIZE: usize = 512;
/// Largest blocks that fit a 1500-byte Ethernet frame: 1500 - IP header - 8 (UDP) - 4 (TFTP).
const BLKSIZE_V4: u16 = 1468;
const BLKSIZE_V6: u16 = 1448;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

const OP_RRQ: u16 = 1;
const OP_DATA: u16 = 3;
const OP_ACK: u16 = 4;
const OP_ERROR: u16 = 5;
const OP_OACK: u16 = 6;

const ERR_NOT_DEFINED: u16 = 0;
const ERR_NOT_FOUND: u16 = 1;
const ERR_DISK_FULL: u16 = 3;
const ERR_ILLEGAL_OP: u16 = 4;
const ERR_UNKNOWN_TID: u16 = 5;
const ERR_OPTIONS: u16 = 8;

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
        .map_err(|e| Error::failed(format!("resolving {}: {e}", t.host)))?
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
                .map_err(|e| Error::failed(format!("{what}: resetting output: {e}")))?;
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
        let wait = super::http::backoff(attempt, 1.0);
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

/// One packet as received.
#[derive(Debug, PartialEq, Eq)]
enum Packet<'a> {
    Data(u16, &'a [u8]),
    Ack(u16),
    Error(u16, String),
    Oack(Vec<(String, String)>),
    /// RRQ/WRQ or an unknown opcode: nothing a reading client expects.
    Other(u16),
}

fn parse_packet(b: &[u8]) -> Option<Packet<'_>> {
    if b.len() < 2 {
        return None;
    }
    let op = u16::from_be_bytes([b[0], b[1]]);
    let rest = &b[2..];
    let num = || (rest.len() >= 2).then(|| u16::from_be_bytes([rest[0], rest[1]]));
    Some(match op {
        OP_DATA => Packet::Data(num()?, &rest[2..]),
        OP_ACK => Packet::Ack(num()?),
        OP_ERROR => {
            let code = num()?;
            let msg = &rest[2..];
            let msg = msg.split(|&c| c == 0).next().unwrap_or(&[]);
            Packet::Error(code, String::from_utf8_lossy(msg).into_owned())
        }
        OP_OACK => {
            let mut fields: Vec<&[u8]> = rest.split(|&c| c == 0).collect();
            // A well-formed OACK ends with NUL, leaving one empty piece after it.
            if fields.last().is_some_and(|f| f.is_empty()) {
                fields.pop();
            }
            if fields.len() % 2 != 0 {
                return None;
            }
            Packet::Oack(
                fields
                    .chunks(2)
                    .map(|kv| {
                        (
                            String::from_utf8_lossy(kv[0]).to_ascii_lowercase(),
                            String::from_utf8_lossy(kv[1]).into_owned(),
                        )
                    })
                    .collect(),
            )
        }
        other => Packet::Other(other),
    })
}

fn rrq(filename: &[u8], blksize: Option<u16>) -> Vec<u8> {
    let mut p = OP_RRQ.to_be_bytes().to_vec();
    p.extend_from_slice(filename);
    p.push(0);
    p.extend_from_slice(b"octet\0");
    if let Some(b) = blksize {
        for field in ["blksize", &b.to_string(), "tsize", "0"] {
            p.extend_from_slice(field.as_bytes());
            p.push(0);
        }
    }
    p
}

fn ack(block: u16) -> Vec<u8> {
    let mut p = OP_ACK.to_be_bytes().to_vec();
    p.extend_from_slice(&block.to_be_bytes());
    p
}

fn error_packet(code: u16, msg: &str) -> Vec<u8> {
    let mut p = OP_ERROR.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(msg.as_bytes());
    p.push(0);
    p
}

/// The meaning of a server's ERROR packet for this transfer.
fn server_error(code: u16, msg: &str, asked_options: bool) -> Failure {
    let text = format!("server error {code}: {msg}");
    match code {
        ERR_NOT_FOUND => Failure::Fatal(Error::new(Kind::NotFound, text)),
        ERR_OPTIONS if asked_options => Failure::OptionsRefused(text),
        // Code 0 carries free text ("server busy", "timeout"), 3 is a full disk on the server
        // side, 5 a confused TID: all may pass.
        ERR_NOT_DEFINED | ERR_DISK_FULL | ERR_UNKNOWN_TID => Failure::Retry(text),
        _ => Failure::Fatal(Error::failed(text)),
    }
}

/// One transfer in progress; reading it pulls DATA blocks and acknowledges them.
struct Session<'t> {
    sock: UdpSocket,
    /// The server: its well-known port until it answers, then its transfer ID (port).
    peer: SocketAddr,
    tid_known: bool,
    asked_options: bool,
    blksize: usize,
    tsize: Option<u64>,
    /// The next block number wanted (wraps from 65535 to 0, as common servers do).
    expect: u16,
    /// What to send again when the server goes quiet.
    last_sent: Vec<u8>,
    recv_buf: Vec<u8>,
    block: Vec<u8>,
    pos: usize,
    received: u64,
    done: bool,
    deadline: Option<Instant>,
    tuning: &'t Tuning,
    /// Why `read` failed, for the caller to classify.
    failure: Option<Failure>,
}

impl<'t> Session<'t> {
    /// Sends the request and handles the first answer (OACK or DATA 1).
    fn open(
        server: SocketAddr,
        filename: &[u8],
        blksize: Option<u16>,
        deadline: Option<Instant>,
        tuning: &'t Tuning,
    ) -> Result<Session<'t>, Failure> {
        let local: SocketAddr = if server.is_ipv4() {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local)
            .map_err(|e| Failure::Fatal(Error::failed(format!("binding a UDP socket: {e}"))))?;
        let buf_len = usize::from(blksize.unwrap_or(0)).max(PLAIN_BLKSIZE) + 4;
        let mut s = Session {
            sock,
            peer: server,
            tid_known: false,
            asked_options: blksize.is_some(),
            blksize: PLAIN_BLKSIZE,
            tsize: None,
            expect: 1,
            last_sent: rrq(filename, blksize),
            recv_buf: vec![0; buf_len + 1],
            block: Vec::new(),
            pos: 0,
            received: 0,
            done: false,
            deadline,
            tuning,
            failure: None,
        };
        s.send_last()?;
        loop {
            let (len, from) = s.receive("waiting for the server to answer the read request")?;
            let pkt = s.recv_buf[..len].to_vec();
            match parse_packet(&pkt) {
                Some(Packet::Oack(opts)) if s.asked_options => {
                    s.lock_tid(from);
                    if let Err(why) = s.accept_oack(&opts, blksize.unwrap_or(0)) {
                        s.send_to(&error_packet(ERR_OPTIONS, &why), s.peer);
                        return Err(Failure::OptionsRefused(format!("unacceptable OACK: {why}")));
                    }
                    s.last_sent = ack(0);
                    s.send_last()?;
                    return Ok(s);
                }
                Some(Packet::Data(1, payload)) => {
                    // The server ignored our options (or we sent none): plain RFC 1350.
                    s.lock_tid(from);
                    s.take_block(payload)?;
                    return Ok(s);
                }
                Some(Packet::Error(code, msg)) => {
                    return Err(server_error(code, &msg, s.asked_options))
                }
                Some(Packet::Data(..)) => {} // stale, from an earlier transfer
                Some(other) => {
                    s.send_to(&error_packet(ERR_ILLEGAL_OP, "unexpected packet"), from);
                    return Err(Failure::Retry(format!(
                        "unexpected answer to the read request: {other:?}"
                    )));
                }
                None => {
                    return Err(Failure::Retry("malformed answer from the server".into()));
                }
            }
        }
    }

    fn lock_tid(&mut self, from: SocketAddr) {
        self.peer = from;
        self.tid_known = true;
    }

    /// Checks an OACK against what we asked; sets the block size and expected size.
    fn accept_oack(&mut self, opts: &[(String, String)], asked: u16) -> Result<(), String> {
        for (k, v) in opts {
            match k.as_str() {
                "blksize" => {
                    let b: u16 = v.parse().map_err(|_| format!("bad blksize {v:?}"))?;
                    if !(8..=asked).contains(&b) {
                        return Err(format!("blksize {b} outside 8..={asked}"));
                    }
                    self.blksize = usize::from(b);
                }
                "tsize" => {
                    self.tsize = Some(v.parse().map_err(|_| format!("bad tsize {v:?}"))?);
                }
                other => return Err(format!("option {other:?} was not asked for")),
            }
        }
        if let Some(t) = self.tsize {
            log::debug!("TFTP: server announces {t} bytes");
        }
        Ok(())
    }

    fn send_to(&self, pkt: &[u8], to: SocketAddr) {
        // Best effort: a lost packet is recovered by retransmission like any other.
        if let Err(e) = self.sock.send_to(pkt, to) {
            log::debug!("TFTP: sending to {to}: {e}");
        }
    }

    fn send_last(&self) -> Result<(), Failure> {
        self.sock
            .send_to(&self.last_sent, self.peer)
            .map(|_| ())
            .map_err(|e| Failure::Retry(format!("sending to {}: {e}", self.peer)))
    }

    /// Waits for a packet from the server, retransmitting our last packet on silence.
    fn receive(&mut self, waiting_for: &str) -> Result<(usize, SocketAddr), Failure> {
        let mut timeout = self.tuning.packet_timeout;
        let mut resent = 0u32;
        let mut quiet_since = Instant::now();
        loop {
            let now = Instant::now();
            let mut wait = timeout.saturating_sub(now - quiet_since);
            if let Some(d) = self.deadline {
                if now >= d {
                    return Err(Failure::Fatal(Error::failed(format!(
                        "total time limit reached while {waiting_for}"
                    ))));
                }
                wait = wait.min(d - now);
            }
            if wait.is_zero() {
                if resent >= self.tuning.retransmits {
                    return Err(Failure::Retry(format!(
                        "timed out {waiting_for} ({resent} retransmissions)"
                    )));
                }
                resent += 1;
                timeout = (timeout * 2).min(self.tuning.max_timeout);
                quiet_since = Instant::now();
                self.send_last()?;
                continue;
            }
            self.sock
                .set_read_timeout(Some(wait))
                .map_err(|e| Failure::Fatal(Error::failed(format!("socket timeout: {e}"))))?;
            let (len, from) = match self.sock.recv_from(&mut self.recv_buf) {
                Ok(r) => r,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    continue
                }
                // ICMP errors surface here on some systems; silence handles them the same way.
                Err(e) => {
                    log::debug!("TFTP: receiving: {e}");
                    continue;
                }
            };
            if from.ip() != self.peer.ip() {
                continue;
            }
            if self.tid_known && from.port() != self.peer.port() {
                // RFC 1350: tell the stranger, keep the transfer going.
                self.send_to(&error_packet(ERR_UNKNOWN_TID, "unknown transfer ID"), from);
                continue;
            }
            return Ok((len, from));
        }
    }

    /// Accepts the payload of block `self.expect` and acknowledges it.
    fn take_block(&mut self, payload: &[u8]) -> Result<(), Failure> {
        if payload.len() > self.blksize {
            self.send_to(
                &error_packet(ERR_ILLEGAL_OP, "block larger than blksize"),
                self.peer,
            );
            return Err(Failure::Retry(format!(
                "block {} carries {} bytes, more than blksize {}",
                self.expect,
                payload.len(),
                self.blksize
            )));
        }
        self.block.clear();
        self.block.extend_from_slice(payload);
        self.pos = 0;
        self.received += payload.len() as u64;
        self.last_sent = ack(self.expect);
        self.send_last()?;
        self.expect = self.expect.wrapping_add(1);
        if payload.len() < self.blksize {
            // The short block ends the transfer; RFC 1350 lets the receiver stop after the
            // final ACK (a lost final ACK only makes the server retransmit and time out).
            self.done = true;
            if let Some(t) = self.tsize.filter(|&t| t != self.received) {
                return Err(Failure::Retry(format!(
                    "received {} bytes but the server announced {t}",
                    self.received
                )));
            }
        }
        Ok(())
    }

    /// Gets the next DATA block from the server.
    fn next_block(&mut self) -> Result<(), Failure> {
        loop {
            let what = format!("waiting for block {}", self.expect);
            let (len, _) = self.receive(&what)?;
            let pkt = self.recv_buf[..len].to_vec();
            match parse_packet(&pkt) {
                Some(Packet::Data(n, payload)) if n == self.expect => {
                    return self.take_block(payload)
                }
                Some(Packet::Data(n, _)) if n == self.expect.wrapping_sub(1) => {
                    // Our ACK was lost and the server sent the block again: acknowledge again.
                    self.send_to(&ack(n), self.peer);
                }
                // Our ACK of the OACK was lost.
                Some(Packet::Oack(_)) if self.expect == 1 => self.send_to(&ack(0), self.peer),
                Some(Packet::Data(..)) | Some(Packet::Oack(_)) => {}
                Some(Packet::Error(code, msg)) => {
                    return Err(server_error(code, &msg, false));
                }
                Some(other) => {
                    self.send_to(
                        &error_packet(ERR_ILLEGAL_OP, "unexpected packet"),
                        self.peer,
                    );
                    return Err(Failure::Retry(format!("unexpected packet {other:?}")));
                }
                None => return Err(Failure::Retry("malformed packet from the server".into())),
            }
        }
    }
}

impl Read for Session<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.block.len() {
            if self.done {
                return Ok(0);
            }
            if let Err(f) = self.next_block() {
                let msg = f.to_string();
                self.failure = Some(f);
                return Err(io::Error::other(msg));
            }
        }
        let n = out.len().min(self.block.len() - self.pos);
        out[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{Compression, HashSpec};
    use std::collections::HashMap;
    use std::io::Write;
    use std::net::IpAddr;
    use std::sync::{Arc, Mutex};

    /// How the test server misbehaves.
    #[derive(Clone, Default)]
    struct Behaviour {
        /// Answer option requests with an OACK (otherwise ignore options, RFC 1350 only).
        options: bool,
        /// Refuse any request carrying options with ERROR 8.
        refuse_options: bool,
        /// Do not answer the first RRQ at all.
        drop_first_rrq: bool,
        /// Swallow the first transmission of this DATA block.
        drop_block_once: Option<u16>,
        /// On the first transfer, send ERROR 0 instead of this block.
        abort_at_block: Option<u16>,
        /// Announce a wrong tsize.
        lie_about_size: bool,
        /// Never answer anything.
        mute: bool,
    }

    /// A request as the server saw it: file name and options.
    type Request = (Vec<u8>, Vec<(String, String)>);

    #[derive(Default)]
    struct Seen {
        requests: Vec<Request>,
        transfers: u32,
    }

    struct Server {
        addr: SocketAddr,
        seen: Arc<Mutex<Seen>>,
    }

    fn start(ip: IpAddr, files: &[(&str, Vec<u8>)], b: Behaviour) -> Server {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        let addr = sock.local_addr().unwrap();
        let files: Arc<HashMap<Vec<u8>, Vec<u8>>> = Arc::new(
            files
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        );
        let seen = Arc::new(Mutex::new(Seen::default()));
        let seen2 = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let mut rrqs = 0;
            loop {
                let Ok((n, client)) = sock.recv_from(&mut buf) else {
                    return;
                };
                if b.mute || u16::from_be_bytes([buf[0], buf[1]]) != OP_RRQ {
                    continue;
                }
                rrqs += 1;
                if b.drop_first_rrq && rrqs == 1 {
                    continue;
                }
                let fields: Vec<&[u8]> = buf[2..n].split(|&c| c == 0).collect();
                let name = fields[0].to_vec();
                let opts: Vec<(String, String)> = fields[2..]
                    .chunks(2)
                    .filter(|kv| kv.len() == 2)
                    .map(|kv| {
                        (
                            String::from_utf8_lossy(kv[0]).into_owned(),
                            String::from_utf8_lossy(kv[1]).into_owned(),
                        )
                    })
                    .collect();
                let transfer = {
                    let mut s = seen2.lock().unwrap();
                    s.requests.push((name.clone(), opts.clone()));
                    s.transfers += 1;
                    s.transfers
                };
                let (files, b) = (files.clone(), b.clone());
                std::thread::spawn(move || {
                    serve(ip, client, &files, &name, &opts, &b, transfer);
                });
            }
        });
        Server { addr, seen }
    }

    /// One transfer from a fresh port (the server's TID).
    fn serve(
        ip: IpAddr,
        client: SocketAddr,
        files: &HashMap<Vec<u8>, Vec<u8>>,
        name: &[u8],
        opts: &[(String, String)],
        b: &Behaviour,
        transfer: u32,
    ) {
        let sock = UdpSocket::bind((ip, 0)).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let Some(data) = files.get(name) else {
            sock.send_to(&error_packet(ERR_NOT_FOUND, "File not found"), client)
                .unwrap();
            return;
        };
        if !opts.is_empty() && b.refuse_options {
            sock.send_to(&error_packet(ERR_OPTIONS, "no options here"), client)
                .unwrap();
            return;
        }
        let mut blksize = PLAIN_BLKSIZE;
        let mut buf = [0u8; 2048];
        // Sends `pkt` and waits for ACK `want`, resending when the client asks again.
        let exchange = |pkt: &[u8], want: u16, drop: bool, buf: &mut [u8]| -> bool {
            if !drop {
                sock.send_to(pkt, client).unwrap();
            }
            for _ in 0..20 {
                match sock.recv_from(buf) {
                    Ok((n, from)) if from == client => match parse_packet(&buf[..n]) {
                        Some(Packet::Ack(a)) if a == want => return true,
                        // The client retransmitted its previous ACK: it lost our packet.
                        Some(Packet::Ack(_)) => {
                            sock.send_to(pkt, client).unwrap();
                        }
                        _ => return false,
                    },
                    Ok(_) => {}
                    Err(_) => {
                        sock.send_to(pkt, client).unwrap();
                    }
                }
            }
            false
        };
        if b.options && !opts.is_empty() {
            let mut oack = OP_OACK.to_be_bytes().to_vec();
            for (k, v) in opts {
                let v = match k.as_str() {
                    "blksize" => {
                        blksize = v.parse().unwrap();
                        v.clone()
                    }
                    "tsize" if b.lie_about_size => (data.len() + 1).to_string(),
                    "tsize" => data.len().to_string(),
                    _ => continue,
                };
                oack.extend_from_slice(k.as_bytes());
                oack.push(0);
                oack.extend_from_slice(v.as_bytes());
                oack.push(0);
            }
            if !exchange(&oack, 0, false, &mut buf) {
                return;
            }
        }
        let mut block: u16 = 1;
        let mut dropped = false;
        // A file of whole blocks ends with an empty one.
        let tail = (data.len() % blksize == 0).then_some(&[][..]);
        for chunk in data.chunks(blksize).chain(tail) {
            if transfer == 1 && b.abort_at_block == Some(block) {
                sock.send_to(&error_packet(ERR_NOT_DEFINED, "server busy"), client)
                    .unwrap();
                return;
            }
            let mut pkt = OP_DATA.to_be_bytes().to_vec();
            pkt.extend_from_slice(&block.to_be_bytes());
            pkt.extend_from_slice(chunk);
            let drop = !dropped && b.drop_block_once == Some(block);
            dropped |= drop;
            if !exchange(&pkt, block, drop, &mut buf) {
                return;
            }
            block = block.wrapping_add(1);
        }
    }

    fn quick() -> Tuning {
        Tuning {
            packet_timeout: Duration::from_millis(150),
            max_timeout: Duration::from_millis(300),
            retransmits: 4,
            attempts: 3,
            blksize: None,
        }
    }

    fn get(url: &str, spec_mod: impl FnOnce(&mut Spec), t: &Tuning) -> Result<Vec<u8>> {
        let mut spec = Spec::url(url);
        spec_mod(&mut spec);
        let mut out = Vec::new();
        fetch_tuned(&spec, &Options::default(), &mut out, t)?;
        Ok(out)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    const LOCAL: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn urls() {
        let t = parse_target("tftp://10.0.0.1/boot/config.ign").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("10.0.0.1", 69));
        assert_eq!(t.filename, b"/boot/config.ign");
        let t = parse_target("tftp://[fe80::1]:6969/a%20b").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("fe80::1", 6969));
        assert_eq!(t.filename, b"/a b");
        let t = parse_target("tftp://[::1]/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 69));
        let t = parse_target("tftp://user@boot.example:70/x").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("boot.example", 70));
        assert!(parse_target("tftp://host/").is_err());
        assert!(parse_target("tftp:///x").is_err());
        assert!(parse_target("tftp://host:0/x").is_err());
        assert!(parse_target("tftp://host/a%00b").is_err());
        assert!(parse_target("tftp://[fe80::1%25eth0]/x").is_err());
    }

    #[test]
    fn packets() {
        assert_eq!(
            rrq(b"/f", Some(1468)),
            b"\0\x01/f\0octet\0blksize\x001468\0tsize\x000\0"
        );
        assert_eq!(rrq(b"/f", None), b"\0\x01/f\0octet\0");
        assert_eq!(
            parse_packet(b"\0\x06BLKSIZE\x00512\0tsize\x009\0"),
            Some(Packet::Oack(vec![
                ("blksize".into(), "512".into()),
                ("tsize".into(), "9".into())
            ]))
        );
        assert_eq!(parse_packet(b"\0\x06blksize\0"), None);
        assert_eq!(
            parse_packet(b"\0\x05\0\x01nope\0"),
            Some(Packet::Error(1, "nope".into()))
        );
        assert_eq!(
            parse_packet(b"\0\x03\0\x02ab"),
            Some(Packet::Data(2, b"ab"))
        );
        assert_eq!(parse_packet(b"\0\x03\0"), None);
    }

    #[test]
    fn negotiates_options_and_streams_blocks() {
        let big = pattern(10 * 1468 + 17);
        let exact = pattern(3 * 1468);
        let s = start(
            LOCAL,
            &[("/big", big.clone()), ("/exact", exact.clone())],
            Behaviour {
                options: true,
                ..Default::default()
            },
        );
        let url = |f: &str| format!("tftp://127.0.0.1:{}{f}", s.addr.port());
        assert_eq!(get(&url("/big"), |_| {}, &quick()).unwrap(), big);
        assert_eq!(get(&url("/exact"), |_| {}, &quick()).unwrap(), exact);
        let seen = s.seen.lock().unwrap();
        assert_eq!(seen.requests[0].0, b"/big");
        assert_eq!(
            seen.requests[0].1,
            vec![
                ("blksize".to_string(), "1468".to_string()),
                ("tsize".to_string(), "0".to_string())
            ]
        );
    }

    #[test]
    fn plain_servers_that_ignore_options() {
        let data = pattern(5 * 512 + 100);
        let s = start(LOCAL, &[("/f", data.clone())], Behaviour::default());
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        assert_eq!(get(&url, |_| {}, &quick()).unwrap(), data);
        // Tiny and empty files are one short block.
        let s = start(
            LOCAL,
            &[("/tiny", b"hi".to_vec()), ("/empty", vec![])],
            Behaviour::default(),
        );
        let url = |f: &str| format!("tftp://127.0.0.1:{}{f}", s.addr.port());
        assert_eq!(get(&url("/tiny"), |_| {}, &quick()).unwrap(), b"hi");
        assert_eq!(get(&url("/empty"), |_| {}, &quick()).unwrap(), b"");
    }

    #[test]
    fn refused_options_fall_back_to_a_plain_request() {
        let data = pattern(2000);
        let s = start(
            LOCAL,
            &[("/f", data.clone())],
            Behaviour {
                refuse_options: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        assert_eq!(get(&url, |_| {}, &quick()).unwrap(), data);
        let seen = s.seen.lock().unwrap();
        assert_eq!(seen.requests.len(), 2);
        assert!(!seen.requests[0].1.is_empty());
        assert!(seen.requests[1].1.is_empty());
    }

    #[test]
    fn lost_packets_are_retransmitted() {
        let data = pattern(4 * 1468 + 3);
        let s = start(
            LOCAL,
            &[("/f", data.clone())],
            Behaviour {
                options: true,
                drop_first_rrq: true,
                drop_block_once: Some(3),
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        assert_eq!(get(&url, |_| {}, &quick()).unwrap(), data);
        // One transfer: the retransmitted RRQ and ACK recovered without starting over.
        assert_eq!(s.seen.lock().unwrap().transfers, 1);
    }

    #[test]
    fn a_failed_transfer_restarts_with_a_clean_sink() {
        let data = pattern(6 * 1468);
        let s = start(
            LOCAL,
            &[("/f", data.clone())],
            Behaviour {
                options: true,
                abort_at_block: Some(4),
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        assert_eq!(get(&url, |_| {}, &quick()).unwrap(), data);
        assert_eq!(s.seen.lock().unwrap().transfers, 2);
    }

    #[test]
    fn gzip_and_hash_apply() {
        let plain = pattern(20_000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        let s = start(
            LOCAL,
            &[("/c.gz", gz)],
            Behaviour {
                options: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/c.gz", s.addr.port());
        let hex: String = {
            ring::digest::digest(&ring::digest::SHA256, &plain)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        let good = format!("sha256-{hex}");
        let got = get(
            &url,
            |sp| {
                sp.compression = Compression::Gzip;
                sp.hash = Some(HashSpec::parse(&good).unwrap());
            },
            &quick(),
        )
        .unwrap();
        assert_eq!(got, plain);
        let bad = format!("sha256-{}", "0".repeat(64));
        let e = get(
            &url,
            |sp| {
                sp.compression = Compression::Gzip;
                sp.hash = Some(HashSpec::parse(&bad).unwrap());
            },
            &quick(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), Kind::HashMismatch);
    }

    #[test]
    fn missing_files_are_not_found() {
        let s = start(
            LOCAL,
            &[],
            Behaviour {
                options: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/nope", s.addr.port());
        let e = get(&url, |_| {}, &quick()).unwrap_err();
        assert_eq!(e.kind(), Kind::NotFound, "{e}");
        assert!(e.to_string().contains("File not found"), "{e}");
        // Not retried.
        assert_eq!(s.seen.lock().unwrap().transfers, 1);
    }

    #[test]
    fn a_wrong_announced_size_fails_the_transfer() {
        let s = start(
            LOCAL,
            &[("/f", pattern(3000))],
            Behaviour {
                options: true,
                lie_about_size: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        let e = get(&url, |_| {}, &quick()).unwrap_err();
        assert!(e.to_string().contains("announced 3001"), "{e}");
        assert_eq!(s.seen.lock().unwrap().transfers, 3);
    }

    #[test]
    fn silent_servers_time_out_within_bounds() {
        let s = start(
            LOCAL,
            &[],
            Behaviour {
                mute: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        let t = Tuning {
            packet_timeout: Duration::from_millis(40),
            max_timeout: Duration::from_millis(80),
            retransmits: 2,
            attempts: 2,
            blksize: None,
        };
        let started = Instant::now();
        let e = get(&url, |_| {}, &t).unwrap_err();
        assert!(e.to_string().contains("giving up after 2 attempt"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(3));
        // With a total limit, the limit wins over the retry budget.
        let opts = Options {
            total: Some(Duration::from_millis(300)),
            ..Options::default()
        };
        let started = Instant::now();
        let e = fetch_tuned(&Spec::url(&url), &opts, &mut Vec::new(), &quick()).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(2), "{e}");
    }

    #[test]
    fn ipv6_literals() {
        let Ok(probe) = UdpSocket::bind("[::1]:0") else {
            eprintln!("no IPv6 loopback here; skipping");
            return;
        };
        drop(probe);
        let data = pattern(3000);
        let s = start(
            IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            &[("/f", data.clone())],
            Behaviour {
                options: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://[::1]:{}/f", s.addr.port());
        assert_eq!(get(&url, |_| {}, &quick()).unwrap(), data);
        assert_eq!(s.seen.lock().unwrap().requests[0].1[0].1, "1448");
    }

    #[test]
    fn block_numbers_wrap_around() {
        // 8-byte blocks make the 16-bit block counter roll over after 512 KiB.
        let data = pattern(65_536 * 8 + 100);
        let s = start(
            LOCAL,
            &[("/f", data.clone())],
            Behaviour {
                options: true,
                ..Default::default()
            },
        );
        let url = format!("tftp://127.0.0.1:{}/f", s.addr.port());
        let t = Tuning {
            blksize: Some(8),
            ..quick()
        };
        assert_eq!(get(&url, |_| {}, &t).unwrap(), data);
    }
}
