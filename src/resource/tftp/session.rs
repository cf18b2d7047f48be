//! One TFTP transfer: the request, option negotiation, the server's transfer ID, per-packet
//! retransmission and the DATA/ACK exchange, read as a byte stream.

use super::packet::*;
use super::{Failure, Tuning, PLAIN_BLKSIZE};
use crate::error::Error;
use std::io::{self, Read};
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

/// One transfer in progress; reading it pulls DATA blocks and acknowledges them.
pub(super) struct Session<'t> {
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
    pub(super) failure: Option<Failure>,
}

impl<'t> Session<'t> {
    /// Sends the request and handles the first answer (OACK or DATA 1).
    pub(super) fn open(
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
            .map_err(|e| Failure::Fatal(Error::from(e).context("binding a UDP socket")))?;
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
                .map_err(|e| Failure::Fatal(Error::from(e).context("socket timeout")))?;
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
