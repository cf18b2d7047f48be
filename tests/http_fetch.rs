//! The fetcher against loopback servers with injected faults: retries on 5xx and on a body cut
//! short, slow headers, redirects (config headers dropped on every hop), a forwarding proxy
//! (absolute form for http, CONNECT for https), hash mismatches, truncated
//! gzip, custom CAs over TLS, and the streaming memory bound.

mod common;

use common::{serve, test_tls, Reply};
use ignis::error::Kind;
use ignis::resource::{Compression, Fetcher, HashSpec, Options, ProxyConfig, Spec};
use std::time::{Duration, Instant};

fn spec(url: &str) -> Spec {
    Spec::url(url)
}

fn fast() -> Options {
    Options {
        total: Some(Duration::from_secs(20)),
        ..Options::default()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!(
        "sha256-{}",
        ignis::resource::hash::encode_hex(&sha2::Sha256::digest(data))
    )
}

#[test]
fn retries_5xx_then_succeeds() {
    let s = serve(None);
    s.route(
        "/c",
        vec![
            Reply::Status(503),
            Reply::Status(500),
            Reply::Body(b"ok".to_vec()),
        ],
    );
    let got = Fetcher::new(fast(), false)
        .fetch_bytes(&spec(&s.url("/c")))
        .unwrap();
    assert_eq!(got, b"ok");
    assert_eq!(s.hits("/c"), 3);
}

#[test]
fn not_found_is_not_retried() {
    let s = serve(None);
    let e = Fetcher::new(fast(), false)
        .fetch_bytes(&spec(&s.url("/missing")))
        .unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound);
    assert_eq!(s.hits("/missing"), 1);
}

#[test]
fn client_errors_fail_at_once() {
    let s = serve(None);
    s.route("/forbidden", vec![Reply::Status(403)]);
    let e = Fetcher::new(fast(), false)
        .fetch_bytes(&spec(&s.url("/forbidden")))
        .unwrap_err();
    assert!(e.to_string().contains("HTTP 403"), "{e}");
    assert_eq!(s.hits("/forbidden"), 1);
}

#[test]
fn body_cut_short_is_retried_from_scratch() {
    let s = serve(None);
    let full = vec![7u8; 100_000];
    s.route(
        "/f",
        vec![
            Reply::Reset {
                partial: full[..1000].to_vec(),
                total: full.len(),
            },
            Reply::Body(full.clone()),
        ],
    );
    let got = Fetcher::new(fast(), false)
        .fetch_bytes(&spec(&s.url("/f")))
        .unwrap();
    assert_eq!(
        got, full,
        "the partial first attempt must not leak into the result"
    );
}

#[test]
fn slow_headers_time_out_per_attempt_and_retry() {
    let s = serve(None);
    s.route(
        "/slow",
        vec![
            Reply::Delay(
                Duration::from_secs(3),
                Box::new(Reply::Body(b"late".to_vec())),
            ),
            Reply::Body(b"fast".to_vec()),
        ],
    );
    let opts = Options {
        response_headers: Some(Duration::from_secs(1)),
        total: Some(Duration::from_secs(20)),
        ..Options::default()
    };
    let got = Fetcher::new(opts, false)
        .fetch_bytes(&spec(&s.url("/slow")))
        .unwrap();
    assert_eq!(got, b"fast");
}

#[test]
fn total_timeout_gives_up() {
    let s = serve(None);
    s.route("/down", vec![Reply::Status(503)]);
    let opts = Options {
        total: Some(Duration::from_secs(2)),
        ..Options::default()
    };
    let t = Instant::now();
    let e = Fetcher::new(opts, false)
        .fetch_bytes(&spec(&s.url("/down")))
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(e.to_string().contains("giving up"), "{e}");
    assert!(s.hits("/down") >= 3);
}

#[test]
fn headers_sent_to_the_first_url_only() {
    let a = serve(None);
    let b = serve(None);
    // localhost and 127.0.0.1 are different hosts to the fetcher.
    a.route(
        "/start",
        vec![Reply::Redirect(format!("http://localhost:{}/end", b.port))],
    );
    a.route("/same", vec![Reply::Redirect("/end".into())]);
    a.route("/end", vec![Reply::Body(b"a".to_vec())]);
    b.route("/end", vec![Reply::Body(b"b".to_vec())]);
    let mut sp = spec(&a.url("/start"));
    sp.headers = vec![("Authorization".into(), "Bearer secret".into())];
    let f = Fetcher::new(fast(), false);
    assert_eq!(f.fetch_bytes(&sp).unwrap(), b"b");
    let seen_b = b.seen.lock().unwrap().clone();
    assert!(
        !seen_b[0].headers.contains_key("authorization"),
        "header leaked to another host"
    );
    let seen_a = a.seen.lock().unwrap().clone();
    assert_eq!(
        seen_a[0].headers.get("authorization").map(String::as_str),
        Some("Bearer secret")
    );
    // Ignition's agent prefix, which config servers key on, with ignis named after it.
    let ua = seen_a[0].headers.get("user-agent").unwrap();
    assert!(ua.starts_with("Ignition/") && ua.contains("ignis/"), "{ua}");
    assert!(seen_a[0]
        .headers
        .get("accept")
        .unwrap()
        .contains("vnd.coreos.ignition+json"));
    // Like Ignition, a redirect to the same host drops config headers too.
    let mut sp = spec(&a.url("/same"));
    sp.headers = vec![("X-Token".into(), "t".into())];
    assert_eq!(f.fetch_bytes(&sp).unwrap(), b"a");
    let seen = a.seen.lock().unwrap().clone();
    let (first, last) = (&seen[seen.len() - 2], &seen[seen.len() - 1]);
    assert_eq!(first.headers.get("x-token").map(String::as_str), Some("t"));
    assert_eq!(last.path, "/end");
    assert!(
        !last.headers.contains_key("x-token"),
        "same-host redirect must drop config headers"
    );
    assert!(last
        .headers
        .get("user-agent")
        .unwrap()
        .starts_with("Ignition/"));
}

#[test]
fn config_headers_override_the_defaults() {
    let s = serve(None);
    s.route("/o", vec![Reply::Body(b"o".to_vec())]);
    let mut sp = spec(&s.url("/o"));
    sp.headers = vec![
        ("User-Agent".into(), "MyUA".into()),
        ("Accept".into(), "application/json".into()),
        ("Accept-Encoding".into(), "identity, compress".into()),
    ];
    assert_eq!(Fetcher::new(fast(), false).fetch_bytes(&sp).unwrap(), b"o");
    let seen = s.seen.lock().unwrap()[0].clone();
    assert_eq!(seen.headers.get("user-agent").unwrap(), "MyUA");
    assert_eq!(seen.headers.get("accept").unwrap(), "application/json");
    assert_eq!(
        seen.headers.get("accept-encoding").unwrap(),
        "identity, compress"
    );
}

#[test]
fn gzip_hash_and_mismatch() {
    let s = serve(None);
    let data = b"hello over http\n".repeat(1000);
    s.route("/gz", vec![Reply::Body(gzip(&data))]);
    let mut sp = spec(&s.url("/gz"));
    sp.compression = Compression::Gzip;
    sp.hash = Some(HashSpec::parse(&sha256(&data)).unwrap());
    let f = Fetcher::new(fast(), false);
    assert_eq!(f.fetch_bytes(&sp).unwrap(), data);
    sp.hash = Some(HashSpec::parse(&sha256(b"something else")).unwrap());
    assert_eq!(f.fetch_bytes(&sp).unwrap_err().kind(), Kind::HashMismatch);
    assert_eq!(s.hits("/gz"), 2, "a hash mismatch is not retried");
}

#[test]
fn truncated_gzip_fails() {
    let s = serve(None);
    let z = gzip(&vec![1u8; 50_000]);
    s.route("/tgz", vec![Reply::Body(z[..z.len() / 2].to_vec())]);
    let mut sp = spec(&s.url("/tgz"));
    sp.compression = Compression::Gzip;
    let e = Fetcher::new(fast(), false).fetch_bytes(&sp).unwrap_err();
    assert!(e.to_string().contains("gzip"), "{e}");
}

#[test]
fn custom_ca_is_trusted_and_default_trust_is_not() {
    let (tls, ca_pem) = test_tls();
    let s = serve(Some(tls));
    s.route("/secure", vec![Reply::Body(b"tls ok".to_vec())]);
    let url = format!("https://127.0.0.1:{}/secure", s.port);
    let no_retry = Options {
        total: Some(Duration::from_secs(5)),
        ..Options::default()
    };
    let e = Fetcher::new(no_retry.clone(), false)
        .fetch_bytes(&spec(&url))
        .unwrap_err();
    assert!(
        e.to_string().contains("TLS") || e.to_string().contains("certificate"),
        "{e}"
    );
    let with_ca = Options {
        ca_bundles: vec![ca_pem.into_bytes()],
        ..no_retry
    };
    assert_eq!(
        Fetcher::new(with_ca, false)
            .fetch_bytes(&spec(&url))
            .unwrap(),
        b"tls ok"
    );
}

#[test]
fn plain_http_goes_to_the_proxy_in_absolute_form() {
    // The scripted server acts as a proxy that refuses CONNECT (Squid's default for port 80)
    // and answers absolute-form requests itself.
    let proxy = serve(None);
    proxy.route("CONNECT", vec![Reply::Status(403)]);
    proxy.route("/cfg", vec![Reply::Body(b"via proxy".to_vec())]);
    let with_auth = proxy.url("").replace("http://", "http://user:p%40ss@");
    let opts = Options {
        proxy: ProxyConfig::new(Some(with_auth), None, &[]),
        ..fast()
    };
    let mut sp = spec("http://example.invalid:8080/cfg?x=1");
    sp.headers = vec![("X-Auth".into(), "a".into())];
    let f = Fetcher::new(opts, false);
    assert_eq!(f.fetch_bytes(&sp).unwrap(), b"via proxy");
    // Twice: every request gets its own connection and its own absolute-form line.
    assert_eq!(f.fetch_bytes(&sp).unwrap(), b"via proxy");
    let seen = proxy.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("GET", "http://example.invalid:8080/cfg?x=1")
        );
        assert_eq!(r.headers.get("host").unwrap(), "example.invalid:8080");
        assert_eq!(r.headers.get("x-auth").unwrap(), "a");
        // base64("user:p@ss")
        assert_eq!(
            r.headers.get("proxy-authorization").unwrap(),
            "Basic dXNlcjpwQHNz"
        );
    }
    let direct = serve(None);
    direct.route("/d", vec![Reply::Body(b"direct".to_vec())]);
    let opts = Options {
        proxy: ProxyConfig::new(Some(proxy.url("")), None, &["127.0.0.1".to_string()]),
        ..fast()
    };
    assert_eq!(
        Fetcher::new(opts, false)
            .fetch_bytes(&spec(&direct.url("/d")))
            .unwrap(),
        b"direct"
    );
}

#[test]
fn https_goes_through_a_connect_tunnel() {
    let proxy = serve(None);
    proxy.route("/cfg", vec![Reply::Body(b"tunnelled".to_vec())]);
    let opts = Options {
        proxy: ProxyConfig::new(None, Some(proxy.url("")), &[]),
        total: Some(Duration::from_secs(2)),
        ..Options::default()
    };
    // The scripted proxy answers inside the tunnel in plain text, so the TLS handshake
    // fails; what matters here is that the proxy was asked for a tunnel.
    let _ = Fetcher::new(opts, false).fetch_bytes(&spec("https://example.invalid/cfg"));
    let first = proxy.seen.lock().unwrap()[0].clone();
    assert_eq!(
        (first.method.as_str(), first.path.as_str()),
        ("CONNECT", "example.invalid:443")
    );
}

#[test]
fn metadata_requests() {
    let s = serve(None);
    s.route("/latest/api/token", vec![Reply::Body(b"tok".to_vec())]);
    s.route(
        "/user-data",
        vec![Reply::Status(429), Reply::Body(b"{}".to_vec())],
    );
    let f = Fetcher::new(fast(), false);
    let t = f
        .http_request(
            "PUT",
            &s.url("/latest/api/token"),
            &[("X-Ttl", "60")],
            Some(b""),
            &[],
        )
        .unwrap();
    assert_eq!(t.as_deref(), Some(&b"tok"[..]));
    assert_eq!(s.seen.lock().unwrap()[0].method, "PUT");
    let u = f
        .http_request("GET", &s.url("/user-data"), &[], None, &[429])
        .unwrap();
    assert_eq!(u.as_deref(), Some(&b"{}"[..]));
    assert_eq!(f.http_get(&s.url("/nothing"), &[]).unwrap(), None);
}
