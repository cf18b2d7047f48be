//! A stand-in for systemd's private D-Bus socket. With an enabled or disabled template
//! instance, Ignition 2.14 asks the running systemd for its version over /run/systemd/private
//! (to warn below 240) and fails without one. Ignition runs in a mount namespace of its own
//! where this socket is bind-mounted at /run/systemd/private; it answers the Properties.Get of
//! `Version` with "252" and every other call with an empty reply.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

pub fn serve(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let listener = UnixListener::bind(dir.join("private")).unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            std::thread::spawn(move || {
                let _ = session(conn);
            });
        }
    });
}

fn session(conn: UnixStream) -> std::io::Result<()> {
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    let mut nul = [0u8; 1];
    r.read_exact(&mut nul)?;
    // The SASL exchange, line by line, up to BEGIN.
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        if line.starts_with("AUTH EXTERNAL") {
            w.write_all(b"OK 0123456789abcdef0123456789abcdef\r\n")?;
        } else if line.starts_with("AUTH") {
            w.write_all(b"REJECTED EXTERNAL\r\n")?;
        } else if line == "NEGOTIATE_UNIX_FD" {
            w.write_all(b"AGREE_UNIX_FD\r\n")?;
        } else if line == "BEGIN" {
            break;
        } else {
            w.write_all(b"ERROR\r\n")?;
        }
    }
    let mut serial = 0u32;
    loop {
        let mut head = [0u8; 16];
        if r.read_exact(&mut head).is_err() {
            return Ok(());
        }
        let u32_at = |b: &[u8], i: usize| {
            let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
            if head[0] == b'B' {
                u32::from_be_bytes(x)
            } else {
                u32::from_le_bytes(x)
            }
        };
        let (kind, flags) = (head[1], head[2]);
        let body_len = u32_at(&head, 4) as usize;
        let their_serial = u32_at(&head, 8);
        let fields_len = u32_at(&head, 12) as usize;
        let padded = (16 + fields_len).div_ceil(8) * 8 - 16;
        let mut rest = vec![0u8; padded + body_len];
        r.read_exact(&mut rest)?;
        let mut msg = head.to_vec();
        msg.extend_from_slice(&rest);
        if kind != 1 || flags & 1 != 0 {
            continue; // not a method call, or no reply expected
        }
        let member = member_of(&msg, fields_len, &u32_at);
        serial += 1;
        let body = if member.as_deref() == Some("Get") {
            // a variant holding the string "252"
            let mut b = vec![1, b's', 0, 0];
            b.extend_from_slice(&3u32.to_le_bytes());
            b.extend_from_slice(b"252\0");
            Some(b)
        } else {
            None
        };
        w.write_all(&reply(serial, their_serial, body.as_deref()))?;
    }
}

/// The MEMBER header field of a message.
fn member_of(
    msg: &[u8],
    fields_len: usize,
    u32_at: &dyn Fn(&[u8], usize) -> u32,
) -> Option<String> {
    let end = 16 + fields_len;
    let mut i = 16;
    while i < end {
        i = i.div_ceil(8) * 8;
        let code = *msg.get(i)?;
        let sig_len = *msg.get(i + 1)? as usize;
        let sig = *msg.get(i + 2)?;
        i += 2 + sig_len + 1;
        match sig {
            b's' | b'o' => {
                i = i.div_ceil(4) * 4;
                let n = u32_at(msg, i) as usize;
                let v = String::from_utf8_lossy(msg.get(i + 4..i + 4 + n)?).into_owned();
                i += 4 + n + 1;
                if code == 3 {
                    return Some(v);
                }
            }
            b'g' => i += 1 + *msg.get(i)? as usize + 1,
            b'u' => i = i.div_ceil(4) * 4 + 4,
            _ => return None,
        }
    }
    None
}

/// A METHOD_RETURN for `reply_to`, with a body of signature "v" when given.
fn reply(serial: u32, reply_to: u32, body: Option<&[u8]>) -> Vec<u8> {
    let mut m = vec![b'l', 2, 0, 1];
    m.extend_from_slice(&(body.map_or(0, <[u8]>::len) as u32).to_le_bytes());
    m.extend_from_slice(&serial.to_le_bytes());
    let mut fields = vec![5, 1, b'u', 0];
    fields.extend_from_slice(&reply_to.to_le_bytes());
    if body.is_some() {
        fields.extend_from_slice(&[8, 1, b'g', 0, 1, b'v', 0]);
    }
    m.extend_from_slice(&(fields.len() as u32).to_le_bytes());
    m.extend_from_slice(&fields);
    while m.len() % 8 != 0 {
        m.push(0);
    }
    if let Some(b) = body {
        m.extend_from_slice(b);
    }
    m
}
