//! Shared by the integration tests: test servers on 127.0.0.1 (a scripted HTTP/1.1 server
//! with fault injection, optionally behind TLS with a CA generated in the test) and the small
//! helpers every stage test needs (a run's whole output, "are we root").
#![allow(dead_code)]

pub mod skip;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the server does for one request.
#[derive(Clone, Debug)]
pub enum Reply {
    Body(Vec<u8>),
    Status(u16),
    Redirect(String),
    /// Send headers for `total` bytes, then `partial` bytes, then drop the connection.
    Reset {
        partial: Vec<u8>,
        total: usize,
    },
    /// Wait before sending anything.
    Delay(Duration, Box<Reply>),
    /// Send headers for `total` bytes and `partial` of them, then keep the connection open
    /// without sending anything for `stall`.
    Stall {
        partial: Vec<u8>,
        total: usize,
        stall: Duration,
    },
    /// Send headers for `total` bytes, then one byte every `every`.
    Trickle {
        total: usize,
        every: Duration,
    },
    /// Any status with extra headers and a body.
    Full {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
}

/// Answers requests instead of the route table (`serve_on`).
pub type Handler = Arc<dyn Fn(&Seen) -> Reply + Send + Sync>;

#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

type Routes = Arc<Mutex<HashMap<String, Vec<Reply>>>>;

pub struct Server {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    routes: Routes,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Replies for `path`, in order; the last one repeats.
    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), replies);
    }

    /// `IGNIS_HTTP_REROUTE`'s value that sends every provider's metadata origin
    /// (`providers::METADATA_ORIGINS`) to this server: the binary builds its real URLs and
    /// only the connections come here.
    pub fn reroute_metadata(&self) -> String {
        ignis::providers::METADATA_ORIGINS
            .iter()
            .map(|o| format!("{o}={}", self.url("")))
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path == path)
            .count()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut r = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn respond<W: Write>(w: &mut W, reply: &Reply) {
    match reply {
        Reply::Body(b) => {
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                b.len()
            );
            let _ = w.write_all(b);
        }
        Reply::Status(c) => {
            let _ = write!(
                w,
                "HTTP/1.1 {c} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                reason(*c)
            );
        }
        Reply::Redirect(to) => {
            let _ = write!(w, "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
        Reply::Reset { partial, total } => {
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
            );
            let _ = w.write_all(partial);
        }
        Reply::Delay(d, inner) => {
            std::thread::sleep(*d);
            respond(w, inner);
        }
        Reply::Stall {
            partial,
            total,
            stall,
        } => {
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
            );
            let _ = w.write_all(partial);
            let _ = w.flush();
            std::thread::sleep(*stall);
        }
        Reply::Full {
            status,
            headers,
            body,
        } => {
            let _ = write!(w, "HTTP/1.1 {status} {}\r\n", reason(*status));
            for (k, v) in headers {
                let _ = write!(w, "{k}: {v}\r\n");
            }
            let _ = write!(
                w,
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = w.write_all(body);
        }
        Reply::Trickle { total, every } => {
            let _ = write!(
                w,
                "HTTP/1.1 200 OK\r\nContent-Length: {total}\r\nConnection: close\r\n\r\n"
            );
            for _ in 0..*total {
                if w.write_all(b"x").and_then(|_| w.flush()).is_err() {
                    return;
                }
                std::thread::sleep(*every);
            }
        }
    }
    let _ = w.flush();
}

fn next_reply(routes: &Routes, seen: &Seen) -> Reply {
    let mut routes = routes.lock().unwrap();
    // An absolute-form request (we are acting as a forwarding proxy) routes by its path.
    let target = match seen.path.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => seen.path.as_str(),
    };
    let path = target.split('?').next().unwrap_or("").to_string();
    match routes.get_mut(&path) {
        Some(v) if v.len() > 1 => v.remove(0),
        Some(v) if v.len() == 1 => v[0].clone(),
        _ => Reply::Status(404),
    }
}

/// Starts an HTTP server on 127.0.0.1 (or `tls` on top of it).
pub fn serve(tls: Option<Arc<rustls::ServerConfig>>) -> Server {
    serve_on(TcpListener::bind("127.0.0.1:0").unwrap(), tls, None)
}

/// Serves on `listener` (a loopback socket the caller bound), answering through `handler`
/// when given, else through the route table.
pub fn serve_on(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Option<Handler>,
) -> Server {
    let port = listener.local_addr().unwrap().port();
    let routes: Routes = Arc::new(Mutex::new(HashMap::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (r2, s2) = (routes.clone(), seen.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut stream) = conn else { continue };
            let (routes, seen, tls) = (r2.clone(), s2.clone(), tls.clone());
            let handler = handler.clone();
            let table = routes.clone();
            let answer = move |req: &Seen| match &handler {
                Some(h) => h(req),
                None => next_reply(&table, req),
            };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                match tls {
                    None => {
                        let Some(mut req) = read_request(&mut stream) else {
                            return;
                        };
                        if req.method == "CONNECT" {
                            // Acting as a forwarding proxy: accept the tunnel and answer the
                            // request inside it ourselves, unless a "CONNECT" route says
                            // otherwise (a proxy that refuses tunnels).
                            seen.lock().unwrap().push(req.clone());
                            let refusal = routes.lock().unwrap().get("CONNECT").cloned();
                            if let Some(r) = refusal {
                                respond(&mut stream, &r[0]);
                                return;
                            }
                            let _ =
                                stream.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
                            let Some(inner) = read_request(&mut stream) else {
                                return;
                            };
                            req = inner;
                        }
                        seen.lock().unwrap().push(req.clone());
                        let reply = answer(&req);
                        respond(&mut stream, &reply);
                    }
                    Some(cfg) => {
                        let Ok(conn) = rustls::ServerConnection::new(cfg) else {
                            return;
                        };
                        let mut tls = rustls::StreamOwned::new(conn, stream);
                        let Some(req) = read_tls_request(&mut tls) else {
                            return;
                        };
                        seen.lock().unwrap().push(req.clone());
                        let reply = answer(&req);
                        respond(&mut tls, &reply);
                        tls.conn.send_close_notify();
                        let _ = tls.flush();
                    }
                }
            });
        }
    });
    Server { port, seen, routes }
}

fn read_tls_request(
    s: &mut rustls::StreamOwned<rustls::ServerConnection, TcpStream>,
) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).ok()? == 0 {
            return None;
        }
        buf.push(b[0]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut lines = text.split("\r\n");
    let first = lines.next()?;
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Seen {
        method,
        path,
        headers,
        body: Vec::new(),
    })
}

/// A CA and a server certificate for 127.0.0.1 signed by it; returns (server config, CA PEM).
pub fn test_tls() -> (Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ignis test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (Arc::new(cfg), ca.pem())
}

/// A self-signed server certificate for `names` marked CA:TRUE (what `openssl req -x509` makes
/// with OpenSSL 3), valid until `not_after`; returns (server config, certificate PEM).
pub fn test_tls_self_signed_ca(
    names: &[&str],
    not_after: (i32, u8, u8),
) -> (Arc<rustls::ServerConfig>, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "self-signed test server");
    let cert = params.self_signed(&key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (Arc::new(cfg), cert.pem())
}

/// stdout then stderr of a finished run, as one text for assertions and failure messages.
pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Whether the tests run as root (loop devices, chown, mounts need it).
pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}
