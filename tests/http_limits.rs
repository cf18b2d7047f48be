//! The fetcher's hard edges against loopback servers: TLS with a pinned self-signed `CA:TRUE`
//! server certificate (accepted only when listed, for the right name, within its validity),
//! certificate failures that are not retried, `httpTotal` bounding headers, stalled and
//! trickling bodies, a stalled body retried without `httpTotal`, and https→http redirects
//! refused while the request carries credentials.

mod common;

use common::{serve, test_tls, test_tls_self_signed_ca, Reply};
use ignis::resource::{Fetcher, Options, Spec};
use std::time::{Duration, Instant};

/// Far more than any of these requests should take, far less than a hang.
const GENEROUS: Duration = Duration::from_secs(15);

fn with_ca(pem: &str, total: u64) -> Options {
    Options {
        ca_bundles: vec![pem.as_bytes().to_vec()],
        total: Some(Duration::from_secs(total)),
        ..Options::default()
    }
}

#[test]
fn pinned_self_signed_ca_true_certificate_is_accepted() {
    let (tls, pem) = test_tls_self_signed_ca(&["127.0.0.1"], (2099, 1, 1));
    let s = serve(Some(tls));
    s.route("/c", vec![Reply::Body(b"pinned".to_vec())]);
    let url = format!("https://127.0.0.1:{}/c", s.port);
    let got = Fetcher::new(with_ca(&pem, 20), false)
        .fetch_bytes(&Spec::url(&url))
        .unwrap();
    assert_eq!(got, b"pinned");
}

/// Fetches `url` trusting `pem`; the error must come at once (a refused certificate is not
/// retried even with 60 s of httpTotal) and name TLS.
fn refused(url: &str, pem: &str) -> String {
    let t = Instant::now();
    let e = Fetcher::new(with_ca(pem, 60), false)
        .fetch_bytes(&Spec::url(url))
        .unwrap_err()
        .to_string();
    assert!(
        t.elapsed() < GENEROUS,
        "certificate failure was retried: {e}"
    );
    assert!(e.contains("TLS"), "{e}");
    e
}

#[test]
fn unlisted_wrong_name_or_expired_ca_true_certificates_are_refused() {
    // Another CA:TRUE certificate is trusted, not the one the server presents.
    let (tls, _) = test_tls_self_signed_ca(&["127.0.0.1"], (2099, 1, 1));
    let (_, other) = test_tls_self_signed_ca(&["127.0.0.1"], (2099, 1, 1));
    let s = serve(Some(tls));
    let e = refused(&format!("https://127.0.0.1:{}/x", s.port), &other);
    assert!(e.contains("CA:TRUE"), "{e}");
    // Listed, but for another name.
    let (tls, pem) = test_tls_self_signed_ca(&["10.9.8.7", "example.com"], (2099, 1, 1));
    let s = serve(Some(tls));
    let e = refused(&format!("https://127.0.0.1:{}/x", s.port), &pem);
    assert!(e.contains("name") || e.contains("Name"), "{e}");
    // Listed, right name, expired.
    let (tls, pem) = test_tls_self_signed_ca(&["127.0.0.1"], (2021, 1, 1));
    let s = serve(Some(tls));
    let e = refused(&format!("https://127.0.0.1:{}/x", s.port), &pem);
    assert!(e.to_lowercase().contains("expired"), "{e}");
}

#[test]
fn ordinary_chains_still_work_and_untrusted_ones_fail_at_once() {
    let (tls, ca) = test_tls();
    let s = serve(Some(tls));
    s.route("/c", vec![Reply::Body(b"chain".to_vec())]);
    let url = format!("https://127.0.0.1:{}/c", s.port);
    let got = Fetcher::new(with_ca(&ca, 20), false)
        .fetch_bytes(&Spec::url(&url))
        .unwrap();
    assert_eq!(got, b"chain");
    let (_, other) = test_tls_self_signed_ca(&["127.0.0.1"], (2099, 1, 1));
    refused(&url, &other);
}

#[test]
fn http_total_is_a_deadline_for_slow_headers() {
    let s = serve(None);
    s.route(
        "/late",
        vec![Reply::Delay(
            Duration::from_secs(30),
            Box::new(Reply::Body(b"late".to_vec())),
        )],
    );
    // The per-attempt header timeout is far longer than httpTotal: the deadline wins.
    let opts = Options {
        response_headers: Some(Duration::from_secs(60)),
        total: Some(Duration::from_secs(1)),
        ..Options::default()
    };
    let t = Instant::now();
    let e = Fetcher::new(opts, false)
        .fetch_bytes(&Spec::url(&s.url("/late")))
        .unwrap_err();
    assert!(t.elapsed() < GENEROUS, "{e}");
    assert!(e.to_string().contains("httpTotal"), "{e}");
}

#[test]
fn http_total_bounds_stalled_and_trickling_bodies() {
    let s = serve(None);
    s.route(
        "/stall",
        vec![Reply::Stall {
            partial: vec![b'x'; 10],
            total: 1000,
            stall: Duration::from_secs(60),
        }],
    );
    s.route(
        "/trickle",
        vec![Reply::Trickle {
            total: 100_000,
            every: Duration::from_millis(100),
        }],
    );
    for path in ["/stall", "/trickle"] {
        let opts = Options {
            response_headers: Some(Duration::from_secs(60)),
            total: Some(Duration::from_secs(2)),
            ..Options::default()
        };
        let t = Instant::now();
        let e = Fetcher::new(opts, false)
            .fetch_bytes(&Spec::url(&s.url(path)))
            .unwrap_err();
        assert!(t.elapsed() < GENEROUS, "{path}: {e}");
        assert!(e.to_string().contains("httpTotal"), "{path}: {e}");
    }
}

#[test]
fn stalled_body_without_http_total_is_retried() {
    let s = serve(None);
    s.route(
        "/s",
        vec![
            Reply::Stall {
                partial: vec![b'x'; 10],
                total: 1000,
                stall: Duration::from_secs(60),
            },
            Reply::Body(b"second try".to_vec()),
        ],
    );
    let opts = Options {
        response_headers: Some(Duration::from_secs(1)),
        total: None,
        ..Options::default()
    };
    let got = Fetcher::new(opts, false)
        .fetch_bytes(&Spec::url(&s.url("/s")))
        .unwrap();
    assert_eq!(got, b"second try");
    assert_eq!(s.hits("/s"), 2);
}

#[test]
fn https_to_http_redirect_with_credentials_is_refused() {
    let (tls, ca) = test_tls();
    let secure = serve(Some(tls));
    let plain = serve(None);
    plain.route("/p", vec![Reply::Body(b"plain".to_vec())]);
    secure.route("/r", vec![Reply::Redirect(plain.url("/p"))]);
    let url = format!("https://127.0.0.1:{}/r", secure.port);
    let f = Fetcher::new(with_ca(&ca, 20), false);
    let mut sp = Spec::url(&url);
    sp.headers = vec![("Authorization".into(), "Bearer secret".into())];
    let e = f.fetch_bytes(&sp).unwrap_err().to_string();
    assert!(e.contains("refusing"), "{e}");
    assert_eq!(plain.hits("/p"), 0, "nothing may reach the plain-http URL");
    // URL credentials count too.
    let with_user = url.replace("https://", "https://user:pw@");
    let e = f
        .fetch_bytes(&Spec::url(&with_user))
        .unwrap_err()
        .to_string();
    assert!(e.contains("refusing"), "{e}");
    assert!(!e.contains("pw"), "a password in an error message: {e}");
    assert_eq!(plain.hits("/p"), 0);
    // Without credentials the downgrade is followed, as Ignition does.
    assert_eq!(f.fetch_bytes(&Spec::url(&url)).unwrap(), b"plain");
}
