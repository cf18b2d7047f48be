//! TFTP packets: opcodes and error codes, parsing what arrives, building RRQ/ACK/ERROR, and
//! what a server's ERROR means for the transfer.

use super::Failure;
use crate::error::{Error, Kind};

pub(super) const OP_RRQ: u16 = 1;
pub(super) const OP_DATA: u16 = 3;
pub(super) const OP_ACK: u16 = 4;
pub(super) const OP_ERROR: u16 = 5;
pub(super) const OP_OACK: u16 = 6;

pub(super) const ERR_NOT_DEFINED: u16 = 0;
pub(super) const ERR_NOT_FOUND: u16 = 1;
pub(super) const ERR_DISK_FULL: u16 = 3;
pub(super) const ERR_ILLEGAL_OP: u16 = 4;
pub(super) const ERR_UNKNOWN_TID: u16 = 5;
pub(super) const ERR_OPTIONS: u16 = 8;

/// One packet as received.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Packet<'a> {
    Data(u16, &'a [u8]),
    Ack(u16),
    Error(u16, String),
    Oack(Vec<(String, String)>),
    /// RRQ/WRQ or an unknown opcode: nothing a reading client expects.
    Other(u16),
}

pub(super) fn parse_packet(b: &[u8]) -> Option<Packet<'_>> {
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

pub(super) fn rrq(filename: &[u8], blksize: Option<u16>) -> Vec<u8> {
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

pub(super) fn ack(block: u16) -> Vec<u8> {
    let mut p = OP_ACK.to_be_bytes().to_vec();
    p.extend_from_slice(&block.to_be_bytes());
    p
}

pub(super) fn error_packet(code: u16, msg: &str) -> Vec<u8> {
    let mut p = OP_ERROR.to_be_bytes().to_vec();
    p.extend_from_slice(&code.to_be_bytes());
    p.extend_from_slice(msg.as_bytes());
    p.push(0);
    p
}

/// The meaning of a server's ERROR packet for this transfer.
pub(super) fn server_error(code: u16, msg: &str, asked_options: bool) -> Failure {
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
