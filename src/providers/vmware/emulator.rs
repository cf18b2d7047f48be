//! Tests only: a software VMware host implementing `PortIo`. It plays the hypervisor's side of
//! the backdoor (GETVERSION) and of the RPCI state machine: eight channels, cookies (or an old
//! host without them), SENDSIZE/payload/RECVSIZE/payload/RECVSTATUS/CLOSE, high bandwidth that
//! can be switched off, one-shot injected checkpoints and refusals, and `info-get`/`info-set` on
//! a key-value store. Written from the protocol description rather than from the client, and
//! it records every step and every client mistake so tests can assert on both.

use crate::sys::vmware_backdoor::{PortIo, Regs};
use std::collections::BTreeMap;

const MAGIC: u32 = 0x564D_5868;
const PORT_LB: u32 = 0x5658;
const PORT_HB: u32 = 0x5659;
const MAX_CHANNELS: usize = 8;

/// One step of the protocol, as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    GetVersion,
    Open,
    SendSize,
    SendPayload,
    HbOut,
    RecvSize,
    RecvPayload,
    HbIn,
    RecvStatus,
    Close,
}

/// What an injected fault does to the next matching step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A checkpoint happened: status CPT without SUCCESS.
    Cpt,
    /// The host refuses: no status bits at all.
    Fail,
}

#[derive(Debug)]
enum State {
    Idle,
    Sending {
        want: usize,
        buf: Vec<u8>,
    },
    /// The reply waits for RECVSIZE.
    Ready(Vec<u8>),
    Receiving {
        reply: Vec<u8>,
        pos: usize,
    },
    /// The reply went out; RECVSTATUS is due.
    Acking(Vec<u8>),
}

#[derive(Debug)]
struct Channel {
    cookies: Option<(u32, u32)>,
    state: State,
}

pub struct Host {
    /// Advertise (and serve) the high-bandwidth port.
    pub hb: bool,
    /// Grant cookies; an old host refuses the cookie flag.
    pub cookies: bool,
    /// Answer command 0x1E at all (QEMU's vmport does not).
    pub rpci: bool,
    /// One-shot faults, consumed by the first matching step.
    pub faults: Vec<(Op, Fault)>,
    /// Replaces the reply to the next request.
    pub canned_reply: Option<Vec<u8>>,
    /// Every step seen, in order.
    pub ops: Vec<Op>,
    /// Whether each OPEN asked for cookies.
    pub open_flags: Vec<bool>,
    /// Every complete request dispatched.
    pub requests: Vec<Vec<u8>>,
    /// Replies produced, in order.
    pub replies: Vec<Vec<u8>>,
    /// Client mistakes a real host would reject.
    pub violations: Vec<String>,
    store: BTreeMap<String, Vec<u8>>,
    channels: [Option<Channel>; MAX_CHANNELS],
    /// Where the next channel search starts, so ids vary between requests.
    next_slot: usize,
    next_cookie: u32,
    used: Vec<usize>,
}

impl Host {
    pub fn new() -> Host {
        Host {
            hb: true,
            cookies: true,
            rpci: true,
            faults: Vec::new(),
            canned_reply: None,
            ops: Vec::new(),
            open_flags: Vec::new(),
            requests: Vec::new(),
            replies: Vec::new(),
            violations: Vec::new(),
            store: BTreeMap::new(),
            channels: Default::default(),
            next_slot: 0,
            next_cookie: 0x1234,
            used: Vec::new(),
        }
    }

    /// Sets a guestinfo variable; names are case-insensitive, as on VMware.
    pub fn set(&mut self, key: &str, value: &[u8]) {
        self.store.insert(key.to_ascii_lowercase(), value.to_vec());
    }

    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.store.get(&key.to_ascii_lowercase()).map(|v| &v[..])
    }

    pub fn open_channels(&self) -> usize {
        self.channels.iter().filter(|c| c.is_some()).count()
    }

    /// Distinct channel ids handed out so far.
    pub fn channels_used(&self) -> Vec<usize> {
        let mut v = self.used.clone();
        v.sort_unstable();
        v.dedup();
        v
    }

    pub fn last_reply(&self) -> &[u8] {
        self.replies.last().map_or(&[], |r| &r[..])
    }

    pub fn total_calls(&self) -> usize {
        self.ops.len()
    }

    /// No client mistakes, and every channel closed.
    pub fn assert_clean(&self) {
        assert!(self.violations.is_empty(), "{:?}", self.violations);
        assert_eq!(self.open_channels(), 0, "channels left open");
    }

    fn fault(&mut self, op: Op) -> Option<Fault> {
        let i = self.faults.iter().position(|(o, _)| *o == op)?;
        Some(self.faults.remove(i).1)
    }

    fn violation(&mut self, m: String) {
        self.violations.push(m);
    }

    fn dispatch(&mut self, req: Vec<u8>) -> Vec<u8> {
        let reply = match self.canned_reply.take() {
            Some(r) => r,
            None => self.execute(&req),
        };
        self.requests.push(req);
        self.replies.push(reply.clone());
        reply
    }

    fn execute(&mut self, req: &[u8]) -> Vec<u8> {
        let req = req.strip_suffix(b"\0").unwrap_or(req);
        if let Some(key) = req.strip_prefix(b"info-get ") {
            let key = String::from_utf8_lossy(key).to_ascii_lowercase();
            return match self.store.get(&key) {
                Some(v) => [&b"1 "[..], v].concat(),
                None => b"0 No value found".to_vec(),
            };
        }
        if let Some(rest) = req.strip_prefix(b"info-set ") {
            let (key, value) = match rest.iter().position(|&b| b == b' ') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => return b"0 Two arguments required".to_vec(),
            };
            let key = String::from_utf8_lossy(key).to_ascii_lowercase();
            if !key.starts_with("guestinfo.") {
                return b"0 Permission denied".to_vec();
            }
            self.store.insert(key, value.to_vec());
            return b"1 ".to_vec();
        }
        b"0 Unknown command".to_vec()
    }

    /// Finds the channel named by EDX's high word and checks the cookies the guest presented.
    fn channel(&mut self, dx: u64, hi: u64, lo: u64, op: Op) -> Option<usize> {
        let id = (dx as u32 >> 16) as usize;
        let Some(Some(ch)) = self.channels.get(id) else {
            self.violation(format!("{op:?} on channel {id}, which is not open"));
            return None;
        };
        if let Some((chi, clo)) = ch.cookies {
            if (hi as u32, lo as u32) != (chi, clo) {
                self.violation(format!("{op:?} on channel {id} with wrong cookies"));
                return None;
            }
        }
        Some(id)
    }

    fn open(&mut self, r: &mut Regs) -> u16 {
        let bx = r.bx as u32;
        let want_cookies = bx & 0x8000_0000 != 0;
        self.open_flags.push(want_cookies);
        if bx & 0x7FFF_FFFF != 0x4943_5052 {
            self.violation(format!("OPEN for protocol {bx:#x}"));
            return 0;
        }
        if want_cookies && !self.cookies {
            return 0;
        }
        let Some(id) = (0..MAX_CHANNELS)
            .map(|i| (self.next_slot + i) % MAX_CHANNELS)
            .find(|&i| self.channels[i].is_none())
        else {
            return 0;
        };
        self.next_slot = id + 1;
        self.used.push(id);
        let cookies = want_cookies.then(|| {
            self.next_cookie = self.next_cookie.wrapping_mul(0x9E37_79B1).wrapping_add(7);
            (0xC0DE_0000 | (self.next_cookie >> 16), self.next_cookie)
        });
        self.channels[id] = Some(Channel {
            cookies,
            state: State::Idle,
        });
        let (hi, lo) = cookies.unwrap_or((0, 0));
        r.dx = u64::from((id as u32) << 16 | PORT_LB);
        r.si = hi.into();
        r.di = lo.into();
        1
    }

    /// One LB message step; returns the status for ECX's high word.
    fn message(&mut self, ty: u32, r: &mut Regs) -> u16 {
        let op = match ty {
            0 => Op::Open,
            1 => Op::SendSize,
            2 => Op::SendPayload,
            3 => Op::RecvSize,
            4 => Op::RecvPayload,
            5 => Op::RecvStatus,
            6 => Op::Close,
            _ => {
                self.violation(format!("message type {ty}"));
                return 0;
            }
        };
        self.ops.push(op);
        if op == Op::Open {
            if let Some(f) = self.fault(op) {
                return fault_status(f);
            }
            return self.open(r);
        }
        let Some(id) = self.channel(r.dx, r.si, r.di, op) else {
            return 0;
        };
        if op == Op::Close {
            self.channels[id] = None;
            return 1;
        }
        let hb = if self.hb { 0x80 } else { 0 };
        let bx = r.bx as u32;
        if let Some(f) = self.fault(op) {
            self.interrupt(id, op, f);
            return fault_status(f);
        }
        let Some(ch) = self.channels[id].as_mut() else {
            return 0;
        };
        let state = std::mem::replace(&mut ch.state, State::Idle);
        let (next, status) = match (op, state) {
            (Op::SendSize, State::Idle | State::Sending { .. }) => {
                let want = bx as usize;
                if want == 0 {
                    (State::Ready(self.dispatch(Vec::new())), 1 | hb)
                } else {
                    (
                        State::Sending {
                            want,
                            buf: Vec::new(),
                        },
                        1 | hb,
                    )
                }
            }
            (Op::SendPayload, State::Sending { want, mut buf }) => {
                let n = (want - buf.len()).min(4);
                buf.extend_from_slice(&bx.to_le_bytes()[..n]);
                if buf.len() == want {
                    (State::Ready(self.dispatch(buf)), 1)
                } else {
                    (State::Sending { want, buf }, 1)
                }
            }
            (Op::RecvSize, State::Ready(reply))
            | (Op::RecvSize, State::Receiving { reply, .. })
            | (Op::RecvSize, State::Acking(reply)) => {
                r.bx = reply.len() as u64;
                r.dx = u64::from(1 << 16 | PORT_LB);
                (State::Receiving { reply, pos: 0 }, 1 | 2 | hb)
            }
            (Op::RecvSize, State::Idle) => (State::Idle, 1),
            (Op::RecvPayload, State::Receiving { reply, pos }) if pos < reply.len() => {
                if bx != 1 {
                    self.violation(format!("RECVPAYLOAD with EBX {bx:#x}"));
                }
                let mut w = [0u8; 4];
                let n = (reply.len() - pos).min(4);
                w[..n].copy_from_slice(&reply[pos..pos + n]);
                r.bx = u32::from_le_bytes(w).into();
                r.dx = u64::from(2 << 16 | PORT_LB);
                if pos + n == reply.len() {
                    (State::Acking(reply), 1)
                } else {
                    (
                        State::Receiving {
                            reply,
                            pos: pos + n,
                        },
                        1,
                    )
                }
            }
            (Op::RecvStatus, State::Acking(_)) if bx == 1 => (State::Idle, 1),
            // An empty reply has no payload step: it is acknowledged straight after RECVSIZE.
            (Op::RecvStatus, State::Receiving { reply, pos: 0 }) if bx == 1 && reply.is_empty() => {
                (State::Idle, 1)
            }
            (op, state) => {
                self.violation(format!("{op:?} in state {state:?}"));
                (state, 0)
            }
        };
        if let Some(ch) = self.channels[id].as_mut() {
            ch.state = next;
        }
        status
    }

    /// A checkpoint or refusal: a send in progress is lost; a reply is kept for a new RECVSIZE.
    fn interrupt(&mut self, id: usize, op: Op, f: Fault) {
        let Some(ch) = self.channels[id].as_mut() else {
            return;
        };
        let state = std::mem::replace(&mut ch.state, State::Idle);
        ch.state = match (f, op, state) {
            (Fault::Cpt, Op::RecvSize | Op::RecvPayload | Op::HbIn | Op::RecvStatus, s) => {
                match s {
                    State::Ready(reply) | State::Receiving { reply, .. } | State::Acking(reply) => {
                        State::Ready(reply)
                    }
                    s => s,
                }
            }
            _ => State::Idle,
        };
    }

    fn hb_check(&mut self, r: &Regs, op: Op, hi: u64, lo: u64) -> Option<usize> {
        self.ops.push(op);
        if !self.hb {
            self.violation(format!("{op:?} on a host without high bandwidth"));
            return None;
        }
        if r.ax as u32 != MAGIC || r.dx as u32 & 0xFFFF != PORT_HB || r.bx as u32 != 0x0001_0000 {
            self.violation(format!("{op:?} with bad registers {r:x?}"));
            return None;
        }
        self.channel(r.dx, hi, lo, op)
    }
}

fn fault_status(f: Fault) -> u16 {
    match f {
        Fault::Cpt => 0x10,
        Fault::Fail => 0,
    }
}

fn set_status_hi(reg: &mut u64, status: u16) {
    *reg = u64::from((*reg as u32 & 0xFFFF) | u32::from(status) << 16);
}

impl PortIo for Host {
    fn lb(&mut self, r: &mut Regs) {
        if r.ax as u32 != MAGIC || r.dx as u32 & 0xFFFF != PORT_LB {
            self.violation(format!("LB call with bad registers {r:x?}"));
            r.ax = u32::MAX.into();
            return;
        }
        let cx = r.cx as u32;
        match cx & 0xFFFF {
            0x0A => {
                self.ops.push(Op::GetVersion);
                r.ax = 6;
                r.bx = MAGIC.into();
                r.cx = 2;
            }
            0x1E if self.rpci => {
                let status = self.message(cx >> 16, r);
                set_status_hi(&mut r.cx, status);
            }
            0x1E => {
                // Unknown command, as on QEMU: only EAX changes, so the status stays 0.
                if cx >> 16 == 0 {
                    self.ops.push(Op::Open);
                }
                r.ax = u32::MAX.into();
            }
            c => {
                self.violation(format!("unknown backdoor command {c:#x}"));
                r.ax = u32::MAX.into();
            }
        }
    }

    fn hb_out(&mut self, r: &mut Regs, data: &[u8]) {
        // Cookies: EBP = high, EDI = low; RSI is the buffer.
        let Some(id) = self.hb_check(r, Op::HbOut, r.bp, r.di) else {
            set_status_hi(&mut r.bx, 0);
            return;
        };
        if let Some(f) = self.fault(Op::HbOut) {
            self.interrupt(id, Op::HbOut, f);
            set_status_hi(&mut r.bx, fault_status(f));
            return;
        }
        let Some(ch) = self.channels[id].as_mut() else {
            return;
        };
        let status = match std::mem::replace(&mut ch.state, State::Idle) {
            State::Sending { want, buf } if buf.is_empty() && want == data.len() => {
                let reply = self.dispatch(data.to_vec());
                if let Some(ch) = self.channels[id].as_mut() {
                    ch.state = State::Ready(reply);
                }
                1
            }
            s => {
                self.violation(format!("HbOut of {} bytes in state {s:?}", data.len()));
                0
            }
        };
        set_status_hi(&mut r.bx, status);
    }

    fn hb_in(&mut self, r: &mut Regs, buf: &mut [u8]) {
        // Cookies: ESI = high, EBP = low; RDI is the buffer.
        let Some(id) = self.hb_check(r, Op::HbIn, r.si, r.bp) else {
            set_status_hi(&mut r.bx, 0);
            return;
        };
        if let Some(f) = self.fault(Op::HbIn) {
            self.interrupt(id, Op::HbIn, f);
            set_status_hi(&mut r.bx, fault_status(f));
            return;
        }
        let Some(ch) = self.channels[id].as_mut() else {
            return;
        };
        let status = match std::mem::replace(&mut ch.state, State::Idle) {
            State::Receiving { reply, pos: 0 } if reply.len() == buf.len() => {
                buf.copy_from_slice(&reply);
                ch.state = State::Acking(reply);
                1
            }
            s => {
                ch.state = State::Idle;
                self.violation(format!("HbIn of {} bytes in state {s:?}", buf.len()));
                0
            }
        };
        set_status_hi(&mut r.bx, status);
    }
}
