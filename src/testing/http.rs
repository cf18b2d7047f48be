//! The one loopback HTTP/1.1 test server (unit tests and the `testing` feature only): an accept
//! loop on a socket bound to 127.0.0.1, one thread per connection, request parsing (absolute
//! form and CONNECT tunnels included, so it can stand in for a forwarding proxy), replies from
//! a handler with fault injection (delays, cut and stalled bodies, trickled bytes), optionally
//! behind TLS with a server config the test built. It records every request and stops when
//! dropped. It must never talk to anything but loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query (or the absolute URL a proxy is asked for, or CONNECT's host:port), as
    /// sent.
    pub target: String,
    /// Header names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How a reply's body goes out.
#[derive(Debug, Clone, Default)]
pub enum Fault {
    /// Whole, with its true Content-Length.
    #[default]
    None,
    /// Content-Length says `total`, the body is sent, the connection is held silent for
    /// `hold`, then dropped (a reset when `hold` is zero, a stall otherwise).
    Cut { total: usize, hold: Duration },
    /// The body one byte at a time, one every `every`.
    Trickle(Duration),
}

/// What the handler answers.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    /// Headers on top of Content-Length and Connection.
    pub headers: Vec<(String, String)>,
    /// Not sent to a HEAD request (its Content-Length still is).
    pub body: Vec<u8>,
    /// Wait this long before answering (slow services in races).
    pub delay: Duration,
    pub fault: Fault,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            delay: Duration::ZERO,
            fault: Fault::None,
        }
    }

    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(200, body)
    }

    pub fn status(status: u16) -> Reply {
        Reply::new(status, Vec::new())
    }

    /// A 302 to `to`.
    pub fn redirect(to: &str) -> Reply {
        Reply::status(302).header("Location", to)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits `d` more before answering.
    pub fn after(mut self, d: Duration) -> Reply {
        self.delay += d;
        self
    }

    /// Declares `total` bytes, sends the body, holds the connection silent for `hold` and
    /// drops it.
    pub fn cut(mut self, total: usize, hold: Duration) -> Reply {
        self.fault = Fault::Cut { total, hold };
        self
    }

    /// Sends the body one byte every `every`.
    pub fn trickle(mut self, every: Duration) -> Reply {
        self.fault = Fault::Trickle(every);
        self
    }
}

/// Answers each request. A reply with status 200 to a CONNECT opens the tunnel (the request
/// inside it is read and answered through the handler too); any other is sent as a refusal.
pub type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A loopback HTTP server; stops when dropped.
pub struct Server {
    /// `http://127.0.0.1:PORT` (`https` with TLS).
    pub base: String,
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
}

impl Server {
    /// Plain HTTP on a fresh port of 127.0.0.1.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("binding a loopback port: {e}"));
        Server::start_on(listener, None, Arc::new(handler))
    }

    /// Serves on `listener` (a loopback socket the caller bound), behind `tls` when given.
    pub fn start_on(
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
        handler: Arc<Handler>,
    ) -> Server {
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("the test server's address: {e}"));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, stopping) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (reqs, handler, tls) = (reqs.clone(), handler.clone(), tls.clone());
                // One thread per connection: a slow reply must not hold up the next request.
                std::thread::spawn(move || connection(conn, tls, &reqs, &*handler));
            }
        });
        Server {
            base: format!("{scheme}://{addr}"),
            port: addr.port(),
            requests,
            stop,
            addr,
        }
    }

    /// Every request so far, in arrival order (a CONNECT and the request inside its tunnel
    /// are two).
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn connection(
    conn: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    reqs: &Mutex<Vec<Request>>,
    handler: &Handler,
) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    match tls {
        None => {
            exchange(conn, reqs, handler);
        }
        Some(cfg) => {
            let Ok(server) = rustls::ServerConnection::new(cfg) else {
                return;
            };
            if let Some(mut s) = exchange(rustls::StreamOwned::new(server, conn), reqs, handler) {
                s.conn.send_close_notify();
                let _ = s.flush();
            }
        }
    }
}

/// Reads one request from `stream` and answers it (following a CONNECT into its tunnel);
/// gives the stream back when an answer went out.
fn exchange<S: Read + Write>(
    stream: S,
    reqs: &Mutex<Vec<Request>>,
    handler: &Handler,
) -> Option<S> {
    let mut r = BufReader::new(stream);
    let mut req = read_request(&mut r)?;
    let mut reply = answer(&req, reqs, handler);
    if req.method == "CONNECT" && reply.status == 200 {
        // Acting as a forwarding proxy: accept the tunnel and answer the request inside it.
        let w = r.get_mut();
        w.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .ok()?;
        w.flush().ok()?;
        req = read_request(&mut r)?;
        reply = answer(&req, reqs, handler);
    }
    std::thread::sleep(reply.delay);
    respond(r.get_mut(), &reply, req.method == "HEAD");
    Some(r.into_inner())
}

fn answer(req: &Request, reqs: &Mutex<Vec<Request>>, handler: &Handler) -> Reply {
    reqs.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(req.clone());
    handler(req)
}

fn read_request<R: BufRead>(r: &mut R) -> Option<Request> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
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

fn respond<W: Write>(w: &mut W, reply: &Reply, head_only: bool) {
    let length = match reply.fault {
        Fault::Cut { total, .. } => total,
        _ => reply.body.len(),
    };
    let mut head = format!("HTTP/1.1 {} {}\r\n", reply.status, reason(reply.status));
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {length}\r\nConnection: close\r\n\r\n"
    ));
    if w.write_all(head.as_bytes()).is_err() || head_only {
        let _ = w.flush();
        return;
    }
    match reply.fault {
        Fault::None => {
            let _ = w.write_all(&reply.body);
        }
        Fault::Cut { hold, .. } => {
            let _ = w.write_all(&reply.body);
            let _ = w.flush();
            std::thread::sleep(hold);
        }
        Fault::Trickle(every) => {
            for b in &reply.body {
                if w.write_all(&[*b]).and_then(|_| w.flush()).is_err() {
                    return;
                }
                std::thread::sleep(every);
            }
        }
    }
    let _ = w.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(base: &str, raw: &str) -> String {
        let addr = base.trim_start_matches("http://");
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn a_cut_body_declares_more_than_it_sends() {
        let s = Server::start(|_| Reply::ok("abc").cut(10, Duration::ZERO));
        let out = get(&s.base, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(out.contains("Content-Length: 10\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\nabc"), "{out}");
    }

    #[test]
    fn a_head_gets_the_length_but_no_body() {
        let s = Server::start(|_| Reply::ok("abc"));
        let out = get(&s.base, "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(out.contains("Content-Length: 3\r\n"), "{out}");
        assert!(out.ends_with("\r\n\r\n"), "{out}");
    }

    #[test]
    fn a_connect_opens_a_tunnel_answered_by_the_handler() {
        let s = Server::start(|r| match r.method.as_str() {
            "CONNECT" => Reply::ok(""),
            _ => Reply::ok(r.target.clone()),
        });
        let out = get(
            &s.base,
            "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\nGET /in HTTP/1.1\r\nHost: h\r\n\r\n",
        );
        assert!(
            out.starts_with("HTTP/1.1 200 Connection established\r\n\r\n"),
            "{out}"
        );
        assert!(out.ends_with("/in"), "{out}");
        let seen: Vec<_> = s.requests().into_iter().map(|r| r.target).collect();
        assert_eq!(seen, ["h:443", "/in"]);
    }
}
