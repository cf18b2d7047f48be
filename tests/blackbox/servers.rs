//! The servers of Ignition's blackbox suite, on loopback only: the fixed HTTP server
//! (127.0.0.1:8080: routes, served bodies, header checks, redirects) and TFTP server
//! (127.0.0.1:69) from `fixed_servers.json`, and each case's own static/throttle servers
//! (plain or TLS with the case's certificate) on random ports.

use crate::common::{serve_on, Handler, Reply, Seen, Server};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Whether `seen` passes the named check of the fixed server.
fn check_passes(checks: &Value, name: &str, seen: &Seen) -> bool {
    let Some(c) = checks.get(name) else {
        return false;
    };
    let header = |k: &str| seen.headers.get(&k.to_ascii_lowercase());
    if let Some(req) = c.get("required").and_then(Value::as_object) {
        for (k, v) in req {
            if header(k).map(String::as_str) != v.as_str() {
                return false;
            }
        }
    }
    if let Some(p) = c.get("user_agent_prefix").and_then(Value::as_str) {
        if !header("User-Agent").is_some_and(|ua| ua.starts_with(p)) {
            return false;
        }
    }
    if let Some(forbidden) = c.get("forbidden").and_then(Value::as_array) {
        if forbidden
            .iter()
            .filter_map(Value::as_str)
            .any(|k| header(k).is_some())
        {
            return false;
        }
    }
    true
}

/// The fixed HTTP server's answers, from `fixed_servers.json`'s `http` section.
fn fixed_handler(fixed: &Value) -> Handler {
    let http = fixed["http"].clone();
    let bodies = fixed["bodies"].clone();
    Arc::new(move |seen: &Seen| {
        let path = seen.path.split('?').next().unwrap_or("");
        let route = http["routes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["path"].as_str() == Some(path));
        let Some(r) = route else {
            return Reply::Status(404);
        };
        if let Some(to) = r["redirect"].as_str() {
            return Reply::Full {
                status: r["status"].as_u64().unwrap_or(302) as u16,
                headers: vec![("Location".into(), to.into())],
                body: Vec::new(),
            };
        }
        if let Some(check) = r["check"].as_str() {
            if !check_passes(&http["checks"], check, seen) {
                return Reply::Status(400);
            }
        }
        let body = bodies[r["body"].as_str().unwrap_or("")]
            .as_str()
            .unwrap_or("")
            .as_bytes()
            .to_vec();
        if r["gzip"].as_bool() == Some(true) {
            Reply::Body(gzip(&body))
        } else {
            Reply::Body(body)
        }
    })
}

/// Binds a fixed loopback port. Another run of this suite on the machine holds it until it
/// ends, so wait for it a while (BLACKBOX_PORT_WAIT seconds, 300 by default), then explain.
fn bind_fixed<T>(what: &str, addr: &str, bind: impl Fn(&str) -> std::io::Result<T>) -> T {
    let wait: u64 = std::env::var("BLACKBOX_PORT_WAIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let until = Instant::now() + Duration::from_secs(wait);
    let mut told = false;
    loop {
        match bind(addr) {
            Ok(t) => return t,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && Instant::now() < until => {
                if !told {
                    crate::say(&format!(
                        "blackbox: {addr} ({what}) is in use, waiting up to {wait} s for it"
                    ));
                    told = true;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            Err(e) => panic!(
                "blackbox: cannot bind the suite's fixed {what} server on {addr}: {e}. \
                 The corpus' configs name this address literally; stop whatever holds it \
                 (another run of this test?) and run again."
            ),
        }
    }
}

pub struct Fixed {
    pub _http: Server,
}

/// Starts the fixed HTTP and TFTP servers.
pub fn start_fixed(fixed: &Value) -> Fixed {
    let addr = fixed["http"]["listen"].as_str().unwrap_or("127.0.0.1:8080");
    let listener = bind_fixed("HTTP", addr, |a| TcpListener::bind(a));
    let http = serve_on(listener, None, Some(fixed_handler(fixed)));
    let taddr = fixed["tftp"]["listen"].as_str().unwrap_or("127.0.0.1:69");
    let sock = bind_fixed("TFTP", taddr, |a| UdpSocket::bind(a));
    let bodies = fixed["bodies"].clone();
    std::thread::spawn(move || tftp_serve(sock, bodies));
    Fixed { _http: http }
}

/// A read-only TFTP server (RFC 1350, 512-byte blocks; options ignored, which RFC 2347
/// allows): a file name containing "contents" gets the contents body, else one containing
/// "config" the config body, else an error.
fn tftp_serve(sock: UdpSocket, bodies: Value) {
    let mut buf = [0u8; 1024];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let req = buf[..n].to_vec();
        let bodies = bodies.clone();
        std::thread::spawn(move || {
            if req.get(..2) != Some(&[0, 1]) {
                return;
            }
            let name = String::from_utf8_lossy(req[2..].split(|&b| b == 0).next().unwrap_or(&[]))
                .into_owned();
            let Ok(s) = UdpSocket::bind("127.0.0.1:0") else {
                return;
            };
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let body = if name.contains("contents") {
                bodies["contents"].as_str()
            } else if name.contains("config") {
                bodies["config"].as_str()
            } else {
                None
            };
            let Some(body) = body else {
                let mut e = vec![0, 5, 0, 1];
                e.extend_from_slice(b"File not found\0");
                let _ = s.send_to(&e, peer);
                return;
            };
            let data = body.as_bytes();
            let mut block: u16 = 1;
            let mut off = 0;
            loop {
                let end = (off + 512).min(data.len());
                let mut pkt = vec![0, 3];
                pkt.extend_from_slice(&block.to_be_bytes());
                pkt.extend_from_slice(&data[off..end]);
                let mut acked = false;
                for _ in 0..10 {
                    if s.send_to(&pkt, peer).is_err() {
                        return;
                    }
                    let mut ack = [0u8; 516];
                    if let Ok((n, _)) = s.recv_from(&mut ack) {
                        if n >= 4 && ack[..2] == [0, 4] && ack[2..4] == block.to_be_bytes() {
                            acked = true;
                            break;
                        }
                    }
                }
                if !acked || end - off < 512 {
                    return;
                }
                off = end;
                block = block.wrapping_add(1);
            }
        });
    }
}

/// A case's own servers, started; `urls` maps each `{{URL:...}}` placeholder to its URL.
pub struct CaseServers {
    pub urls: Vec<(String, String)>,
    _servers: Vec<Server>,
}

impl CaseServers {
    pub fn substitute(&self, text: &str) -> String {
        let mut t = text.to_string();
        for (k, v) in &self.urls {
            t = t.replace(k, v);
        }
        t
    }
}

fn tls_config(tls: &Value) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let cert_pem = tls["cert_pem"].as_str().unwrap_or("");
    let key_pem = tls["key_pem"].as_str().unwrap_or("");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .expect("case certificate PEM");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("case key PEM");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("case certificate and key"),
    )
}

/// Binds every server first (their URLs may appear in each other's bodies), then serves.
pub fn start_case(servers: &[Value]) -> CaseServers {
    let mut bound = Vec::new();
    let mut urls = Vec::new();
    for s in servers {
        let l = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let scheme = if s["tls"].is_object() {
            "https"
        } else {
            "http"
        };
        let url = format!("{scheme}://127.0.0.1:{}", l.local_addr().unwrap().port());
        urls.push((s["url_placeholder"].as_str().unwrap_or("").to_string(), url));
        bound.push(l);
    }
    let mut started = Vec::new();
    for (s, l) in servers.iter().zip(bound) {
        let mut body = s["body"].as_str().unwrap_or("").to_string();
        for (k, v) in &urls {
            body = body.replace(k, v);
        }
        let body = body.into_bytes();
        let handler: Handler = match s["kind"].as_str() {
            Some("throttle") => {
                let fail = s["fail_status"].as_u64().unwrap_or(500) as u16;
                let ok = s["ok_status"].as_u64().unwrap_or(200) as u16;
                let quiet = Duration::from_secs_f64(s["quiet_s"].as_f64().unwrap_or(0.0));
                let last: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
                Arc::new(move |seen: &Seen| {
                    let mut last = last.lock().unwrap();
                    let pass = last.get(&seen.path).is_some_and(|t| t.elapsed() > quiet);
                    if pass {
                        reply(ok, &body)
                    } else {
                        last.insert(seen.path.clone(), Instant::now());
                        reply(fail, &body)
                    }
                })
            }
            _ => {
                let status = s["status"].as_u64().unwrap_or(200) as u16;
                let delay = Duration::from_secs_f64(s["delay_s"].as_f64().unwrap_or(0.0));
                Arc::new(move |_: &Seen| {
                    std::thread::sleep(delay);
                    reply(status, &body)
                })
            }
        };
        let tls = s["tls"].is_object().then(|| tls_config(&s["tls"]));
        started.push(serve_on(l, tls, Some(handler)));
    }
    CaseServers {
        urls,
        _servers: started,
    }
}

fn reply(status: u16, body: &[u8]) -> Reply {
    Reply::Full {
        status,
        headers: Vec::new(),
        body: body.to_vec(),
    }
}
