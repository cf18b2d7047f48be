//! Object-store fetches against fake IMDS, GCE metadata, S3 and GCS servers on 127.0.0.1 (the
//! real origins rerouted to them: the URLs, Host headers and signatures are production's), and
//! S3 URL/ARN parsing.

use super::*;
use crate::resource::{HashSpec, Options, Reroutes};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

/// A request as a fake server saw it (header names lowercased).
#[derive(Debug, Clone)]
struct Req {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn resp(status: u16, body: impl Into<Vec<u8>>) -> Resp {
    Resp {
        status,
        headers: vec![],
        body: body.into(),
    }
}

type Seen = Arc<Mutex<Vec<Req>>>;

/// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1; returns its base URL.
fn serve(handler: impl Fn(&Req) -> Resp + Send + 'static) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut rd = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if rd.read_line(&mut line).is_err() || line.is_empty() {
                continue;
            }
            let mut it = line.split_whitespace();
            let (method, target) = (
                it.next().unwrap_or("").to_string(),
                it.next().unwrap_or("").to_string(),
            );
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                if rd.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                }
            }
            let req = Req {
                method,
                target,
                headers,
            };
            let len: u64 = req
                .header("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            std::io::copy(&mut (&mut rd).take(len), &mut std::io::sink()).unwrap();
            let r = handler(&req);
            seen2.lock().unwrap().push(req.clone());
            let mut out = format!(
                "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                r.status,
                r.body.len()
            );
            for (k, v) in &r.headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            let mut bytes = out.into_bytes();
            if req.method != "HEAD" {
                bytes.extend_from_slice(&r.body);
            }
            let _ = stream.write_all(&bytes);
        }
    });
    (base, seen)
}

/// A base URL where nothing listens.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

const AKID: &str = "ASIAEXAMPLEINSTANCE";
const SECRET: &str = "instance/secret/KEY";
const SESSION: &str = "session-token-xyz";

/// A fake IMDS: v2 tokens (or v1 only), one role, a region.
fn fake_imds(v2: bool) -> (String, Seen) {
    serve(move |r| {
        if r.method == "PUT" && r.target == "/latest/api/token" {
            if !v2 {
                return resp(403, "");
            }
            assert_eq!(
                r.header("x-aws-ec2-metadata-token-ttl-seconds"),
                Some("21600")
            );
            return resp(200, "imds-token");
        }
        if v2 && r.header("x-aws-ec2-metadata-token") != Some("imds-token") {
            return resp(401, "");
        }
        match r.target.as_str() {
            "/latest/meta-data/placement/region" => resp(200, "eu-west-1"),
            "/latest/meta-data/iam/security-credentials/" => resp(200, "ignis-role\n"),
            "/latest/meta-data/iam/security-credentials/ignis-role" => resp(
                200,
                format!(
                    r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"{AKID}","SecretAccessKey":"{SECRET}","Token":"{SESSION}","Expiration":"2099-01-01T00:00:00Z"}}"#
                ),
            ),
            _ => resp(404, ""),
        }
    })
}

/// Checks a request's SigV4 signature from what actually arrived (Host header, request
/// target), the way S3 does.
fn signature_ok(r: &Req, region: &str) -> bool {
    let creds = Credentials {
        access_key_id: AKID.into(),
        secret_access_key: SECRET.into(),
        session_token: Some(SESSION.into()),
    };
    let (Some(date), Some(host), Some(auth)) = (
        r.header("x-amz-date"),
        r.header("host"),
        r.header("authorization"),
    ) else {
        return false;
    };
    // Signed for S3's real host, as production does: the reroute moved only the connection.
    if !host.ends_with(".amazonaws.com") {
        return false;
    }
    if r.header("x-amz-security-token") != Some(SESSION)
        || r.header("x-amz-content-sha256") != Some(sigv4::EMPTY_SHA256)
    {
        return false;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let Some(t) = (now - 300..now + 300)
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
        .find(|t| sigv4::amz_date(*t) == date)
    else {
        return false;
    };
    let url = format!("http://{host}{}", r.target);
    let want = sign_v4(
        &r.method,
        &url,
        &[],
        sigv4::EMPTY_SHA256,
        &creds,
        region,
        "s3",
        t,
    )
    .unwrap();
    want.last().map(|(_, v)| v.as_str()) == Some(auth)
}

fn sha512_spec(data: &[u8]) -> HashSpec {
    let hex: String = ring::digest::digest(&ring::digest::SHA512, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    HashSpec::parse(&format!("sha512-{hex}")).unwrap()
}

/// The real metadata, S3 and GCS origins.
const METADATA: &str = "http://169.254.169.254";
const S3: &str = "https://*.amazonaws.com";
const GCS_ORIGIN: &str = "https://storage.googleapis.com";

/// A fetcher whose connections for each `(origin, server)` go to that loopback server.
fn fetcher(routes: &[(&str, &str)]) -> Fetcher {
    let reroutes = routes
        .iter()
        .fold(Reroutes::default(), |r, (o, t)| r.with(o, t).unwrap());
    Fetcher::new(
        Options {
            total: Some(Duration::from_secs(5)),
            ..Options::default()
        },
        false,
    )
    .with_reroutes(reroutes)
}

/// The request's `(method, Host, target)`.
fn route(r: &Req) -> (&str, &str, &str) {
    (
        r.method.as_str(),
        r.header("host").unwrap_or_default(),
        r.target.as_str(),
    )
}

const CONFIG: &[u8] = br#"{"ignition":{"version":"3.4.0"}}"#;

#[test]
fn s3_objects_are_signed_with_instance_credentials() {
    let (imds, imds_seen) = fake_imds(true);
    let (s3, s3_seen) = serve(|r| match route(r) {
        // S3's answer for a bucket asked at the wrong region (the instance's): no Location,
        // just the header.
        ("HEAD", "my-bucket.s3.eu-west-1.amazonaws.com", "/") => Resp {
            status: 301,
            headers: vec![("x-amz-bucket-region", "eu-central-1".into())],
            body: vec![],
        },
        (
            "GET",
            "my-bucket.s3.eu-central-1.amazonaws.com",
            "/dir/my%20config.ign?versionId=3HL4kqtJ%2Brm",
        ) => {
            if signature_ok(r, "eu-central-1") {
                resp(200, CONFIG)
            } else {
                resp(403, "SignatureDoesNotMatch")
            }
        }
        ("GET", "ap-123456789012.s3-accesspoint.us-west-2.amazonaws.com", "/k.ign")
            if signature_ok(r, "us-west-2") =>
        {
            resp(200, CONFIG)
        }
        _ => resp(404, "NoSuchKey"),
    });
    let f = fetcher(&[(METADATA, &imds), (S3, &s3)]).with_metadata_wait(Duration::from_secs(2));
    let mut spec = Spec::url("s3://my-bucket/dir/my%20config.ign?versionId=3HL4kqtJ%2Brm");
    spec.hash = Some(sha512_spec(CONFIG));
    assert_eq!(f.fetch_bytes(&spec).unwrap(), CONFIG);
    // The instance's region was the hint; the bucket's own region won.
    let get = s3_seen.lock().unwrap()[1].clone();
    assert!(get
        .header("authorization")
        .unwrap()
        .contains("/eu-central-1/s3/aws4_request"));

    // A second object: credentials and bucket region come from the memo.
    let imds_calls = imds_seen.lock().unwrap().len();
    let e = f
        .fetch_bytes(&Spec::url("s3://my-bucket/missing"))
        .unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    assert!(e.to_string().starts_with("s3://my-bucket/missing: "), "{e}");
    assert_eq!(imds_seen.lock().unwrap().len(), imds_calls);
    assert_eq!(
        s3_seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.method == "HEAD")
            .count(),
        1
    );

    // Access point ARNs carry their region: no bucket lookup.
    let arn = "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k.ign";
    assert_eq!(f.fetch_bytes(&Spec::url(arn)).unwrap(), CONFIG);
    let imds = imds_seen.lock().unwrap();
    assert_eq!(imds[0].method, "PUT");
    assert!(imds
        .iter()
        .all(|r| r.method == "PUT" || r.header("x-aws-ec2-metadata-token") == Some("imds-token")));
}

#[test]
fn imdsv1_when_tokens_are_refused() {
    let (imds, _) = fake_imds(false);
    let (s3, _) = serve(|r| match r.method.as_str() {
        "HEAD" => Resp {
            status: 200,
            headers: vec![("x-amz-bucket-region", "eu-west-1".into())],
            body: vec![],
        },
        _ if signature_ok(r, "eu-west-1") => resp(200, CONFIG),
        _ => resp(403, ""),
    });
    let f = fetcher(&[(METADATA, &imds), (S3, &s3)]);
    assert_eq!(
        f.fetch_bytes(&Spec::url("arn:aws:s3:::b/c.ign")).unwrap(),
        CONFIG
    );
}

#[test]
fn bucket_arns_with_a_region_sign_for_it_without_a_bucket_lookup() {
    let (imds, _) = fake_imds(true);
    let (s3, seen) = serve(|r| match route(r) {
        ("GET", "bucket-name.s3.us-west-2.amazonaws.com", "/object-key?versionId=abc123")
            if signature_ok(r, "us-west-2") =>
        {
            resp(200, CONFIG)
        }
        _ => resp(403, ""),
    });
    let f = fetcher(&[(METADATA, &imds), (S3, &s3)]);
    let arn = "arn:aws:s3:us-west-2:123456789012:bucket-name/object-key?versionId=abc123";
    assert_eq!(f.fetch_bytes(&Spec::url(arn)).unwrap(), CONFIG);
    assert!(seen.lock().unwrap().iter().all(|r| r.method == "GET"));
}

#[test]
fn s3_anonymous_without_a_metadata_service() {
    let (s3, seen) = serve(|r| {
        assert!(r.header("authorization").is_none());
        assert!(r.header("x-amz-security-token").is_none());
        match route(r) {
            // A private bucket answers 403 but still names its region.
            ("HEAD", "pub.s3.us-east-1.amazonaws.com", "/") => Resp {
                status: 403,
                headers: vec![("x-amz-bucket-region", "us-east-1".into())],
                body: vec![],
            },
            ("HEAD", _, _) => resp(404, ""),
            ("GET", "pub.s3.us-east-1.amazonaws.com", "/c.ign") => resp(200, CONFIG),
            _ => resp(404, ""),
        }
    });
    let f = fetcher(&[(METADATA, &closed_port()), (S3, &s3)])
        .with_metadata_wait(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(f.fetch_bytes(&Spec::url("s3://pub/c.ign")).unwrap(), CONFIG);
    assert!(started.elapsed() < Duration::from_secs(3));
    let e = f
        .fetch_bytes(&Spec::url("s3://nobucket/c.ign"))
        .unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    assert!(e.to_string().contains("does not exist"), "{e}");
    // Ignition refuses compressed S3 sources.
    let mut gz = Spec::url("s3://pub/c.ign");
    gz.compression = Compression::Gzip;
    assert!(f
        .fetch_bytes(&gz)
        .unwrap_err()
        .to_string()
        .contains("compression is not supported"));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gcs_with_the_metadata_token() {
    let (meta, meta_seen) = serve(|r| {
        if r.header("metadata-flavor") != Some("Google") {
            return resp(403, "");
        }
        match r.target.as_str() {
            "/computeMetadata/v1/instance/service-accounts/default/token" => Resp {
                status: 200,
                headers: vec![("metadata-flavor", "Google".into())],
                body:
                    br#"{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}"#
                        .to_vec(),
            },
            _ => resp(404, ""),
        }
    });
    let (gcs, gcs_seen) = serve(|r| {
        if r.header("authorization") != Some("Bearer ya29.test-token") {
            return resp(401, "");
        }
        match r.target.as_str() {
            "/storage/v1/b/bkt/o/dir%2Fconfig.ign.gz?alt=media" => resp(200, gz(CONFIG)),
            _ => resp(404, ""),
        }
    });
    let f = fetcher(&[(METADATA, &meta), (GCS_ORIGIN, &gcs)]);
    let mut spec = Spec::url("gs://bkt/dir/config.ign.gz");
    spec.compression = Compression::Gzip;
    spec.hash = Some(sha512_spec(CONFIG));
    assert_eq!(f.fetch_bytes(&spec).unwrap(), CONFIG);
    let e = f.fetch_bytes(&Spec::url("gs://bkt/nope")).unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    // The token was asked for once.
    assert_eq!(meta_seen.lock().unwrap().len(), 1);
    assert_eq!(gcs_seen.lock().unwrap().len(), 2);
}

#[test]
fn gcs_anonymous_off_gce() {
    let (gcs, seen) = serve(|r| {
        assert!(r.header("authorization").is_none());
        assert_eq!(r.header("host"), Some("storage.googleapis.com"));
        resp(200, CONFIG)
    });
    // No metadata server at all.
    let f = fetcher(&[(METADATA, &closed_port()), (GCS_ORIGIN, &gcs)])
        .with_metadata_wait(Duration::from_millis(300));
    assert_eq!(f.fetch_bytes(&Spec::url("gs://bkt//a b")).unwrap(), CONFIG);
    assert_eq!(
        seen.lock().unwrap()[0].target,
        "/storage/v1/b/bkt/o/a%20b?alt=media"
    );
    // A metadata server without a service account, and one that is not Google's.
    for flavor in [Some("Google"), None] {
        let (meta, _) = serve(move |_| Resp {
            status: if flavor.is_some() { 404 } else { 200 },
            headers: flavor
                .map(|v| ("metadata-flavor", v.to_string()))
                .into_iter()
                .collect(),
            body: br#"{"access_token":"stolen"}"#.to_vec(),
        });
        let f = fetcher(&[(METADATA, &meta), (GCS_ORIGIN, &gcs)]);
        assert_eq!(f.fetch_bytes(&Spec::url("gs://bkt/x")).unwrap(), CONFIG);
    }
}

#[test]
fn parsing_s3_urls_and_arns() {
    let o = S3Object::parse("s3://bucket/a/b%20c?versionId=v1").unwrap();
    assert_eq!(
        (o.bucket.as_str(), o.key.as_slice(), o.version_id.as_deref()),
        ("bucket", &b"a/b c"[..], Some("v1"))
    );
    assert_eq!(
        (o.region, o.region_hint, o.access_point),
        (None, None, false)
    );
    let o = S3Object::parse("arn:aws-cn:s3:::bucket/k%20ey").unwrap();
    assert_eq!(o.key, b"k%20ey", "ARN keys are used as written");
    assert_eq!(o.region_hint, Some("cn-north-1"));
    let o =
        S3Object::parse("arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/d/k?versionId=x")
            .unwrap();
    assert_eq!(o.bucket, "ap-123456789012");
    assert_eq!(o.key, b"d/k");
    assert_eq!(o.region.as_deref(), Some("us-west-2"));
    assert_eq!(o.version_id.as_deref(), Some("x"));
    // Shapes Ignition v2.26.0 accepts and fetches: a bucket ARN with a region and an
    // account (the bucket is the text after the last ':'), with a versionId, a region
    // without an account, an empty partition.
    let o = S3Object::parse("arn:aws:s3:us-west-2:123456789012:bucket-name/object-key").unwrap();
    assert_eq!(
        (o.bucket.as_str(), o.key.as_slice(), o.region.as_deref()),
        ("bucket-name", &b"object-key"[..], Some("us-west-2"))
    );
    assert!(!o.access_point);
    let o = S3Object::parse(
        "arn:aws:s3:us-west-2:123456789012:bucket-name/object-key?versionId=abc123",
    )
    .unwrap();
    assert_eq!(o.version_id.as_deref(), Some("abc123"));
    let o = S3Object::parse("arn:aws:s3:us-west-2::bucket/key").unwrap();
    assert_eq!(
        (o.bucket.as_str(), o.region.as_deref()),
        ("bucket", Some("us-west-2"))
    );
    let o = S3Object::parse("arn::s3:::bucket/key").unwrap();
    assert_eq!(
        (o.bucket.as_str(), o.region, o.region_hint),
        ("bucket", None, None)
    );
    for bad in [
        "s3://bucket",
        "s3://bucket/",
        "s3://bu:cket/k",
        "arn:aws:s3:::bucket",
        "arn:aws:s3:::bucket/",
        "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/",
        "arn:aws:s3:us-west-2:123456789012:accesspoint/ap-name/some/nested/object",
        "arn:aws:iam:::bucket/key",
        "arn:aws:s3:us-west-2::accesspoint/ap/object/k",
        "arn:aws:s3:us-west-2:1234:accesspoint/ap/obj/k",
        "arn:aws:s3:US_WEST:1234:accesspoint/ap/object/k",
        "gs://bucket/key",
    ] {
        assert!(S3Object::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn s3_endpoints() {
    let url = |u: &str, region: &str| S3Object::parse(u).unwrap().object_url(region);
    assert_eq!(
        url("s3://my-bucket/a b/c+d?versionId=a+b", "eu-west-1"),
        "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c%2Bd?versionId=a%20b"
    );
    // Dotted names do not fit the wildcard certificate: path style.
    assert_eq!(
        url("s3://my.bucket/k", "us-east-1"),
        "https://s3.us-east-1.amazonaws.com/my.bucket/k"
    );
    assert_eq!(
        url("s3://Legacy_Bucket/k", "us-east-1"),
        "https://s3.us-east-1.amazonaws.com/Legacy_Bucket/k"
    );
    assert_eq!(
        url("s3://b-cn/k", "cn-north-1"),
        "https://b-cn.s3.cn-north-1.amazonaws.com.cn/k"
    );
    assert_eq!(
        url(
            "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k",
            "us-west-2"
        ),
        "https://ap-123456789012.s3-accesspoint.us-west-2.amazonaws.com/k"
    );
    let o = S3Object::parse("s3://my-bucket/k").unwrap();
    assert_eq!(
        o.bucket_url("eu-west-1"),
        "https://my-bucket.s3.eu-west-1.amazonaws.com/"
    );
    assert_eq!(
        S3Object::parse("s3://my.bucket/k")
            .unwrap()
            .bucket_url("eu-west-1"),
        "https://s3.eu-west-1.amazonaws.com/my.bucket"
    );
}
