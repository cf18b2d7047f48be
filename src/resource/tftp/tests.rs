//! The TFTP client against a scriptable TFTP server on loopback (lost packets, refused options,
//! wrong sizes, silence, IPv6, block-number wrap-around), plus URL and packet parsing.

use super::packet::*;
use super::*;
use crate::error::Kind;
use crate::resource::{Compression, HashSpec};
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, UdpSocket};
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
        // Each attempt binds a fresh client port; a second request from a port already served
        // is the client resending its RRQ (its packet timer ran out on a loaded machine), not a
        // new transfer: the transfer in progress answers it.
        let mut clients = std::collections::HashSet::new();
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
            if !clients.insert(client) {
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
