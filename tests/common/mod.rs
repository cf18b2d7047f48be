//! Shared by the integration tests: test servers on 127.0.0.1 (the library's loopback HTTP/1.1
//! server, `ignis::testing::http`, scripted by a route table of replies with fault injection,
//! optionally behind TLS with a CA generated in the test) and the small helpers every stage
//! test needs (a run's whole output, "are we root").
#![allow(dead_code)]

pub mod skip;

use ignis::testing::http;
use std::collections::HashMap;
use std::net::TcpListener;
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

impl Reply {
    /// The library server's form of this reply.
    fn to_http(&self) -> http::Reply {
        match self {
            Reply::Body(b) => http::Reply::ok(b.clone()),
            Reply::Status(c) => http::Reply::status(*c),
            Reply::Redirect(to) => http::Reply::redirect(to),
            Reply::Reset { partial, total } => {
                http::Reply::ok(partial.clone()).cut(*total, Duration::ZERO)
            }
            Reply::Delay(d, inner) => inner.to_http().after(*d),
            Reply::Stall {
                partial,
                total,
                stall,
            } => http::Reply::ok(partial.clone()).cut(*total, *stall),
            Reply::Trickle { total, every } => http::Reply::ok(vec![b'x'; *total]).trickle(*every),
            Reply::Full {
                status,
                headers,
                body,
            } => {
                let mut r = http::Reply::new(*status, body.clone());
                r.headers = headers.clone();
                r
            }
        }
    }
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

impl From<&http::Request> for Seen {
    fn from(r: &http::Request) -> Seen {
        Seen {
            method: r.method.clone(),
            path: r.target.clone(),
            headers: r.headers.iter().cloned().collect(),
            body: r.body.clone(),
        }
    }
}

type Routes = Arc<Mutex<HashMap<String, Vec<Reply>>>>;

/// The library's loopback server (`ignis::testing::http`, feature `testing`) with a route
/// table of scripted replies; stops when dropped.
pub struct Server {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    routes: Routes,
    _http: http::Server,
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
/// when given, else through the route table. Asked to CONNECT (acting as a forwarding
/// proxy), it opens the tunnel and answers the request inside it the same way, unless a
/// "CONNECT" route says otherwise (a proxy that refuses tunnels).
pub fn serve_on(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Option<Handler>,
) -> Server {
    let routes: Routes = Arc::new(Mutex::new(HashMap::new()));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (table, log) = (routes.clone(), seen.clone());
    let answer = move |req: &http::Request| {
        let req = Seen::from(req);
        log.lock().unwrap().push(req.clone());
        if req.method == "CONNECT" {
            let refusal = table
                .lock()
                .unwrap()
                .get("CONNECT")
                .and_then(|r| r.first().cloned());
            return refusal.map_or_else(|| http::Reply::ok(Vec::new()), |r| r.to_http());
        }
        match &handler {
            Some(h) => h(&req),
            None => next_reply(&table, &req),
        }
        .to_http()
    };
    let http = http::Server::start_on(listener, tls, Arc::new(answer));
    Server {
        port: http.port,
        seen,
        routes,
        _http: http,
    }
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
    (server_config(&cert, &key), ca.pem())
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
    (server_config(&cert, &key), cert.pem())
}

/// A TLS server config (ring, default protocol versions) presenting `cert`.
fn server_config(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> Arc<rustls::ServerConfig> {
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
    Arc::new(cfg)
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
