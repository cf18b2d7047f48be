//! The RPCI guest-to-host message protocol over a [`PortIo`]: one channel per request (OPEN with
//! cookies, or without them on old hosts), SENDSIZE then the payload by high bandwidth when the
//! host offers it and 4 bytes at a time otherwise, RECVSIZE, the reply likewise, the RECVSTATUS
//! acknowledgement, and CLOSE on every path through a guard. It formats `info-get`/`info-set` and
//! splits `"1 "`/`"0 "` replies; it knows nothing of hardware, detection or config keys.
//!
//! Checkpoints: a step whose status carries the CPT bit instead of SUCCESS was interrupted by a
//! snapshot, suspend or migration. As open-vm-tools and Linux's vmwgfx do, the send restarts
//! from SENDSIZE and the receive from RECVSIZE (the host keeps the reply), so a command is never
//! executed twice. Values are never logged.

use crate::error::{Context, Error, Result};
use crate::sys::vmware_backdoor::{PortIo, Regs, MAGIC, PORT_HB, PORT_LB};

/// Backdoor command carrying RPCI messages; the message type is in ECX's high word.
const CMD_MESSAGE: u32 = 0x1E;
/// High-bandwidth command number (EBX low word).
const HB_CMD_MESSAGE: u32 = 0;
/// "RPCI": the protocol a channel is opened for.
const PROTO_RPCI: u32 = 0x4943_5052;
/// Asks the host for per-channel cookies (all current hosts).
const FLAG_COOKIE: u32 = 0x8000_0000;

const TYPE_OPEN: u32 = 0;
const TYPE_SENDSIZE: u32 = 1;
const TYPE_SENDPAYLOAD: u32 = 2;
const TYPE_RECVSIZE: u32 = 3;
const TYPE_RECVPAYLOAD: u32 = 4;
const TYPE_RECVSTATUS: u32 = 5;
const TYPE_CLOSE: u32 = 6;

const STATUS_SUCCESS: u16 = 0x01;
const STATUS_DORECV: u16 = 0x02;
const STATUS_CPT: u16 = 0x10;
const STATUS_HB: u16 = 0x80;

/// Guest-to-host messages above this are refused by the host (`GUESTMSG_MAX_IN_SIZE`).
pub const MAX_REQUEST: usize = 64 * 1024;
/// A sanity bound on replies: guestinfo values live in the .vmx (1 MiB by default), so a larger
/// size means a broken host, not a config.
const MAX_REPLY: usize = 64 * 1024 * 1024;
/// Checkpoints are rare; a host that reports one on every try is broken.
const MAX_ATTEMPTS: usize = 8;

/// How one phase of a request failed.
enum Step {
    /// Interrupted by a checkpoint: redo the phase.
    Cpt,
    /// Refused or malformed: give up.
    Fail(String),
}

fn lb_status(r: &Regs) -> u16 {
    (r.cx as u32 >> 16) as u16
}

fn hb_status(r: &Regs) -> u16 {
    (r.bx as u32 >> 16) as u16
}

fn check(status: u16, what: &str) -> std::result::Result<(), Step> {
    if status & STATUS_SUCCESS != 0 {
        Ok(())
    } else if status & STATUS_CPT != 0 {
        Err(Step::Cpt)
    } else {
        Err(Step::Fail(format!("{what} refused (status {status:#04x})")))
    }
}

/// An open channel; dropping it closes it, whatever happened before.
struct Channel<'a> {
    io: &'a mut dyn PortIo,
    id: u16,
    cookie_hi: u32,
    cookie_lo: u32,
}

impl<'a> Channel<'a> {
    fn open(io: &'a mut dyn PortIo) -> Result<Channel<'a>> {
        for flags in [FLAG_COOKIE, 0] {
            let mut r = Regs {
                ax: MAGIC.into(),
                bx: (PROTO_RPCI | flags).into(),
                cx: (TYPE_OPEN << 16 | CMD_MESSAGE).into(),
                dx: PORT_LB.into(),
                ..Regs::default()
            };
            io.lb(&mut r);
            if lb_status(&r) & STATUS_SUCCESS != 0 {
                let id = (r.dx as u32 >> 16) as u16;
                log::debug!(
                    "vmware: opened RPCI channel {id} ({})",
                    if flags == 0 { "no cookies" } else { "cookies" }
                );
                return Ok(Channel {
                    io,
                    id,
                    cookie_hi: r.si as u32,
                    cookie_lo: r.di as u32,
                });
            }
            if flags != 0 {
                log::debug!("vmware: RPCI open with cookies refused; retrying without");
            }
        }
        Err(Error::failed(
            "opening an RPCI channel: the host refused (no VMware RPC behind the backdoor)",
        ))
    }

    /// One low-bandwidth message step on this channel.
    fn lb(&mut self, ty: u32, bx: u32) -> Regs {
        let mut r = Regs {
            ax: MAGIC.into(),
            bx: bx.into(),
            cx: (ty << 16 | CMD_MESSAGE).into(),
            dx: (u32::from(self.id) << 16 | u32::from(PORT_LB)).into(),
            si: self.cookie_hi.into(),
            di: self.cookie_lo.into(),
            bp: 0,
        };
        self.io.lb(&mut r);
        r
    }

    /// Registers common to both high-bandwidth directions; the caller places the cookies.
    fn hb_regs(&self) -> Regs {
        Regs {
            ax: MAGIC.into(),
            bx: (u32::from(STATUS_SUCCESS) << 16 | HB_CMD_MESSAGE).into(),
            dx: (u32::from(self.id) << 16 | u32::from(PORT_HB)).into(),
            ..Regs::default()
        }
    }

    /// Runs a phase, redoing it after checkpoints.
    fn retrying<T>(
        &mut self,
        what: &str,
        mut phase: impl FnMut(&mut Self) -> std::result::Result<T, Step>,
    ) -> Result<T> {
        for attempt in 1..=MAX_ATTEMPTS {
            match phase(self) {
                Ok(v) => return Ok(v),
                Err(Step::Cpt) => {
                    log::debug!("vmware: checkpoint while {what} (attempt {attempt}); retrying")
                }
                Err(Step::Fail(m)) => {
                    return Err(Error::failed(format!(
                        "{what} on RPCI channel {}: {m}",
                        self.id
                    )))
                }
            }
        }
        Err(Error::failed(format!(
            "{what} on RPCI channel {}: interrupted by checkpoints {MAX_ATTEMPTS} times",
            self.id
        )))
    }

    fn send(&mut self, msg: &[u8]) -> Result<()> {
        self.retrying("sending", |ch| ch.send_once(msg))
    }

    fn send_once(&mut self, msg: &[u8]) -> std::result::Result<(), Step> {
        let len = u32::try_from(msg.len()).map_err(|_| Step::Fail("message too long".into()))?;
        let status = lb_status(&self.lb(TYPE_SENDSIZE, len));
        check(status, "SENDSIZE")?;
        if msg.is_empty() {
            return Ok(());
        }
        if status & STATUS_HB != 0 {
            let mut r = self.hb_regs();
            r.bp = self.cookie_hi.into();
            r.di = self.cookie_lo.into();
            self.io.hb_out(&mut r, msg);
            return check(hb_status(&r), "high-bandwidth send");
        }
        for chunk in msg.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            let r = self.lb(TYPE_SENDPAYLOAD, u32::from_le_bytes(word));
            check(lb_status(&r), "SENDPAYLOAD")?;
        }
        Ok(())
    }

    fn receive(&mut self) -> Result<Vec<u8>> {
        self.retrying("receiving", Self::receive_once)
    }

    fn receive_once(&mut self) -> std::result::Result<Vec<u8>, Step> {
        let r = self.lb(TYPE_RECVSIZE, 0);
        let status = lb_status(&r);
        check(status, "RECVSIZE")?;
        if status & STATUS_DORECV == 0 {
            return Err(Step::Fail("the host has no reply".into()));
        }
        if r.dx as u32 >> 16 != TYPE_SENDSIZE {
            return Err(Step::Fail(
                "protocol error: RECVSIZE not answered by a size".into(),
            ));
        }
        let len = r.bx as u32 as usize;
        if len > MAX_REPLY {
            return Err(Step::Fail(format!("reply of {len} bytes is too large")));
        }
        let mut buf = vec![0u8; len];
        if len > 0 && status & STATUS_HB != 0 {
            let mut r = self.hb_regs();
            r.si = self.cookie_hi.into();
            r.bp = self.cookie_lo.into();
            self.io.hb_in(&mut r, &mut buf);
            check(hb_status(&r), "high-bandwidth receive")?;
        } else {
            for chunk in buf.chunks_mut(4) {
                let r = self.lb(TYPE_RECVPAYLOAD, STATUS_SUCCESS.into());
                check(lb_status(&r), "RECVPAYLOAD")?;
                if r.dx as u32 >> 16 != TYPE_SENDPAYLOAD {
                    return Err(Step::Fail(
                        "protocol error: RECVPAYLOAD not answered by a payload".into(),
                    ));
                }
                chunk.copy_from_slice(&(r.bx as u32).to_le_bytes()[..chunk.len()]);
            }
        }
        let r = self.lb(TYPE_RECVSTATUS, STATUS_SUCCESS.into());
        check(lb_status(&r), "RECVSTATUS")?;
        Ok(buf)
    }
}

impl Drop for Channel<'_> {
    fn drop(&mut self) {
        // At most 8 channels exist per VM: leaking one on an error path would starve later
        // requests (and the VMware tools once the system is up).
        let status = lb_status(&self.lb(TYPE_CLOSE, 0));
        if status & STATUS_SUCCESS == 0 {
            log::debug!(
                "vmware: closing RPCI channel {} failed (status {status:#04x})",
                self.id
            );
        }
    }
}

/// An RPCI client: each call opens, uses and closes its own channel.
pub struct Rpci<P: PortIo> {
    io: P,
}

impl<P: PortIo> Rpci<P> {
    pub fn new(io: P) -> Rpci<P> {
        Rpci { io }
    }

    pub fn into_inner(self) -> P {
        self.io
    }

    /// Sends one request and returns the raw reply (`"1 ..."` or `"0 ..."`).
    pub fn call(&mut self, request: &[u8]) -> Result<Vec<u8>> {
        if request.len() > MAX_REQUEST {
            return Err(Error::failed(format!(
                "RPCI request of {} bytes exceeds the host's {MAX_REQUEST}-byte limit",
                request.len()
            )));
        }
        let mut ch = Channel::open(&mut self.io)?;
        ch.send(request)?;
        ch.receive()
    }

    /// `info-get <key>`: the value as bytes, or None when the host has none (`"0 ..."`).
    pub fn info_get_bytes(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        check_key(key)?;
        let reply = self
            .call(format!("info-get {key}").as_bytes())
            .context(|| format!("reading {key}"))?;
        match split_reply(&reply).context(|| format!("reading {key}"))? {
            (true, value) => {
                log::debug!("vmware: {key}: {} bytes", value.len());
                Ok(Some(value.to_vec()))
            }
            (false, msg) => {
                log::debug!("vmware: {key}: {}", String::from_utf8_lossy(msg));
                Ok(None)
            }
        }
    }

    /// `info-get <key>` as UTF-8 text.
    pub fn info_get(&mut self, key: &str) -> Result<Option<String>> {
        self.info_get_bytes(key)?
            .map(|v| {
                String::from_utf8(v)
                    .map_err(|_| Error::failed(format!("reading {key}: value is not UTF-8")))
            })
            .transpose()
    }

    /// `info-set <key> <value>`; the host's refusal is an error.
    pub fn info_set(&mut self, key: &str, value: &str) -> Result<()> {
        check_key(key)?;
        let reply = self
            .call(format!("info-set {key} {value}").as_bytes())
            .context(|| format!("setting {key}"))?;
        match split_reply(&reply).context(|| format!("setting {key}"))? {
            (true, _) => Ok(()),
            (false, msg) => Err(Error::failed(format!(
                "setting {key}: the host refused: {}",
                String::from_utf8_lossy(msg)
            ))),
        }
    }
}

/// Keys travel inside a space-separated command line.
fn check_key(key: &str) -> Result<()> {
    if key.is_empty()
        || key
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
    {
        return Err(Error::failed(format!("invalid guestinfo key {key:?}")));
    }
    Ok(())
}

/// `"1 value"` -> (true, value); `"0 error"` -> (false, error).
fn split_reply(reply: &[u8]) -> Result<(bool, &[u8])> {
    let ok = match reply.first() {
        Some(b'1') => true,
        Some(b'0') => false,
        _ => return Err(Error::failed("malformed RPCI reply")),
    };
    match &reply[1..] {
        [] => Ok((ok, &[])),
        [b' ', rest @ ..] => Ok((ok, rest)),
        _ => Err(Error::failed("malformed RPCI reply")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::emulator::{Fault, Host, Op};
    use super::*;

    fn host() -> Host {
        let mut h = Host::new();
        h.set("guestinfo.a", b"hello world");
        h
    }

    #[test]
    fn info_get_over_high_bandwidth() {
        let mut h = host();
        let v = Rpci::new(&mut h).info_get("guestinfo.a").unwrap();
        assert_eq!(v.as_deref(), Some("hello world"));
        assert_eq!(
            h.ops,
            [
                Op::Open,
                Op::SendSize,
                Op::HbOut,
                Op::RecvSize,
                Op::HbIn,
                Op::RecvStatus,
                Op::Close
            ]
        );
        h.assert_clean();
    }

    #[test]
    fn info_get_low_bandwidth_only_host() {
        // Every remainder of 4, and a value far larger than one register.
        for len in [0usize, 1, 2, 3, 4, 5, 7, 8, 9, 100_001] {
            let value: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let mut h = Host::new();
            h.hb = false;
            h.set("guestinfo.k", &value);
            let got = Rpci::new(&mut h).info_get_bytes("guestinfo.k").unwrap();
            assert_eq!(got.as_deref(), Some(&value[..]), "len {len}");
            assert!(!h.ops.contains(&Op::HbOut) && !h.ops.contains(&Op::HbIn));
            assert!(h.ops.contains(&Op::SendPayload) && h.ops.contains(&Op::RecvPayload));
            h.assert_clean();
        }
    }

    #[test]
    fn large_value_over_high_bandwidth() {
        let value = vec![b'x'; 900_000];
        let mut h = Host::new();
        h.set("guestinfo.big", &value);
        let got = Rpci::new(&mut h).info_get_bytes("guestinfo.big").unwrap();
        assert_eq!(got.unwrap().len(), value.len());
        assert!(!h.ops.contains(&Op::RecvPayload));
        h.assert_clean();
    }

    #[test]
    fn missing_key_is_none() {
        let mut h = host();
        assert_eq!(Rpci::new(&mut h).info_get("guestinfo.nope").unwrap(), None);
        assert_eq!(h.last_reply(), b"0 No value found");
        h.assert_clean();
    }

    #[test]
    fn keys_are_case_insensitive_on_the_host() {
        let mut h = Host::new();
        h.set("guestinfo.ovfEnv", b"<x/>");
        let v = Rpci::new(&mut h).info_get("guestinfo.ovfenv").unwrap();
        assert_eq!(v.as_deref(), Some("<x/>"));
    }

    #[test]
    fn cookies_are_sent_back() {
        let mut h = host();
        let mut c = Rpci::new(&mut h);
        // Several requests: channel ids and cookies change each time, and the host checks them.
        for _ in 0..5 {
            assert!(c.info_get("guestinfo.a").unwrap().is_some());
        }
        assert_eq!(h.ops.iter().filter(|o| **o == Op::Open).count(), 5);
        assert!(h.channels_used().len() > 1, "{:?}", h.channels_used());
        h.assert_clean();
    }

    #[test]
    fn host_without_cookies() {
        let mut h = host();
        h.cookies = false;
        let v = Rpci::new(&mut h).info_get("guestinfo.a").unwrap();
        assert_eq!(v.as_deref(), Some("hello world"));
        assert_eq!(&h.ops[..2], [Op::Open, Op::Open]);
        assert_eq!(h.open_flags, [true, false]);
        h.assert_clean();
    }

    #[test]
    fn host_without_rpci_fails_cleanly() {
        // QEMU's vmport: GETVERSION works, command 0x1E is unknown.
        let mut h = host();
        h.rpci = false;
        let e = Rpci::new(&mut h).info_get("guestinfo.a").unwrap_err();
        assert!(e.to_string().contains("opening an RPCI channel"), "{e}");
        assert_eq!(h.ops, [Op::Open, Op::Open]);
    }

    #[test]
    fn checkpoint_retries_each_phase() {
        for hb in [true, false] {
            let mut fired = 0;
            for op in [
                Op::SendSize,
                Op::SendPayload,
                Op::HbOut,
                Op::RecvSize,
                Op::RecvPayload,
                Op::HbIn,
                Op::RecvStatus,
            ] {
                let mut h = host();
                h.hb = hb;
                h.faults.push((op, Fault::Cpt));
                let v = Rpci::new(&mut h).info_get("guestinfo.a").unwrap();
                assert_eq!(v.as_deref(), Some("hello world"), "{op:?} hb={hb}");
                h.assert_clean();
                let injected = h.faults.is_empty();
                let sends = h.ops.iter().filter(|o| **o == Op::SendSize).count();
                let recvs = h.ops.iter().filter(|o| **o == Op::RecvSize).count();
                // The command ran once: a checkpoint never causes a second execution.
                assert_eq!(h.requests.len(), 1, "{op:?} hb={hb}");
                if injected {
                    fired += 1;
                    let send_phase = matches!(op, Op::SendSize | Op::SendPayload | Op::HbOut);
                    assert_eq!(
                        (sends, recvs),
                        if send_phase { (2, 1) } else { (1, 2) },
                        "{op:?} hb={hb}"
                    );
                } else {
                    // The fault was for the other bandwidth mode and never fired.
                    assert_eq!((sends, recvs), (1, 1));
                }
            }
            // SENDSIZE, RECVSIZE, RECVSTATUS, and the two payload steps of this mode.
            assert_eq!(fired, 5, "hb={hb}");
        }
    }

    #[test]
    fn endless_checkpoints_give_up_and_close() {
        let mut h = host();
        for _ in 0..20 {
            h.faults.push((Op::HbOut, Fault::Cpt));
        }
        let e = Rpci::new(&mut h).info_get("guestinfo.a").unwrap_err();
        assert!(e.to_string().contains("checkpoints"), "{e}");
        assert_eq!(h.ops.last(), Some(&Op::Close));
        assert_eq!(h.open_channels(), 0);
    }

    #[test]
    fn channel_closed_on_every_error() {
        for op in [
            Op::SendSize,
            Op::HbOut,
            Op::RecvSize,
            Op::HbIn,
            Op::RecvStatus,
        ] {
            let mut h = host();
            h.faults.push((op, Fault::Fail));
            let e = Rpci::new(&mut h).info_get("guestinfo.a").unwrap_err();
            assert!(e.to_string().contains("refused"), "{op:?}: {e}");
            assert_eq!(h.ops.last(), Some(&Op::Close), "{op:?}");
            assert_eq!(h.open_channels(), 0, "{op:?}");
        }
        let mut h = host();
        h.hb = false;
        h.faults.push((Op::RecvPayload, Fault::Fail));
        assert!(Rpci::new(&mut h).info_get("guestinfo.a").is_err());
        assert_eq!(h.open_channels(), 0);
    }

    #[test]
    fn malformed_replies_are_errors() {
        for canned in [&b""[..], b"x", b"1x", b"2 value"] {
            let mut h = host();
            h.canned_reply = Some(canned.to_vec());
            let r = Rpci::new(&mut h).info_get("guestinfo.a");
            assert!(r.is_err(), "{canned:?}");
            assert_eq!(h.open_channels(), 0);
        }
        let mut h = host();
        h.canned_reply = Some(b"1".to_vec());
        assert_eq!(
            Rpci::new(&mut h)
                .info_get("guestinfo.a")
                .unwrap()
                .as_deref(),
            Some("")
        );
    }

    #[test]
    fn info_set_round_trip_and_refusal() {
        let mut h = Host::new();
        let mut c = Rpci::new(&mut h);
        c.info_set("guestinfo.ignition.config.data", "e30K")
            .unwrap();
        let v = c.info_get("guestinfo.ignition.config.data").unwrap();
        assert_eq!(v.as_deref(), Some("e30K"));
        let e = c.info_set("tools.something", "x").unwrap_err();
        assert!(e.to_string().contains("refused"), "{e}");
        c.info_set("guestinfo.empty", "").unwrap();
        assert_eq!(h.get("guestinfo.empty"), Some(&b""[..]));
        assert_eq!(h.get("tools.something"), None);
        h.assert_clean();
    }

    #[test]
    fn oversized_request_and_bad_keys_touch_no_port() {
        let mut h = Host::new();
        let mut c = Rpci::new(&mut h);
        assert!(c.info_set("guestinfo.x", &"a".repeat(MAX_REQUEST)).is_err());
        assert!(c.info_get("guestinfo.a b").is_err());
        assert!(c.info_get("").is_err());
        assert!(h.ops.is_empty());
    }

    #[test]
    fn non_utf8_value_is_an_error_as_text_only() {
        let mut h = Host::new();
        h.set("guestinfo.bin", &[0x1f, 0x8b, 0xff]);
        let mut c = Rpci::new(&mut h);
        assert!(c.info_get("guestinfo.bin").is_err());
        assert_eq!(
            c.info_get_bytes("guestinfo.bin").unwrap().as_deref(),
            Some(&[0x1f, 0x8b, 0xff][..])
        );
    }
}
