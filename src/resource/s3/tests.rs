//! Object-store fetches against fake IMDS, GCE metadata, S3 and GCS servers on 127.0.0.1 (the
//! real origins rerouted to them: the URLs, Host headers and signatures are production's), and
//! S3 URL/ARN parsing.

use super::*;
use crate::providers::testserver::{dead_base, Reply, Request, Server};
use crate::resource::{HashSpec, Options, Reroutes};
use std::io::Write;
use std::time::UNIX_EPOCH;

const AKID: &str = "ASIAEXAMPLEINSTANCE";
const SECRET: &str = "instance/secret/KEY";
const SESSION: &str = "session-token-xyz";

/// A fake IMDS: v2 tokens (or v1 only), one role, a region.
fn fake_imds(v2: bool) -> Server {
    Server::start(move |r: &Request| {
        if r.method == "PUT" && r.target == "/latest/api/token" {
            if !v2 {
                return Reply::new(403, "");
            }
            assert_eq!(
                r.header("x-aws-ec2-metadata-token-ttl-seconds"),
                Some("21600")
            );
            return Reply::new(200, "imds-token");
        }
        if v2 && r.header("x-aws-ec2-metadata-token") != Some("imds-token") {
            return Reply::new(401, "");
        }
        match r.target.as_str() {
            "/latest/meta-data/placement/region" => Reply::new(200, "eu-west-1"),
            "/latest/meta-data/iam/security-credentials/" => Reply::new(200, "ignis-role\n"),
            "/latest/meta-data/iam/security-credentials/ignis-role" => Reply::new(
                200,
                format!(
                    r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"{AKID}","SecretAccessKey":"{SECRET}","Token":"{SESSION}","Expiration":"2099-01-01T00:00:00Z"}}"#
                ),
            ),
            _ => Reply::new(404, ""),
        }
    })
}

/// Checks a request's SigV4 signature from what actually arrived (Host header, request
/// target), the way S3 does.
fn signature_ok(r: &Request, region: &str) -> bool {
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
fn route(r: &Request) -> (&str, &str, &str) {
    (
        r.method.as_str(),
        r.header("host").unwrap_or_default(),
        r.target.as_str(),
    )
}

const CONFIG: &[u8] = br#"{"ignition":{"version":"3.4.0"}}"#;

#[test]
fn s3_objects_are_signed_with_instance_credentials() {
    let imds = fake_imds(true);
    let s3 = Server::start(|r: &Request| match route(r) {
        // S3's answer for a bucket asked at the wrong region (the instance's): no Location,
        // just the header.
        ("HEAD", "my-bucket.s3.eu-west-1.amazonaws.com", "/") => {
            Reply::status(301).header("x-amz-bucket-region", "eu-central-1")
        }
        (
            "GET",
            "my-bucket.s3.eu-central-1.amazonaws.com",
            "/dir/my%20config.ign?versionId=3HL4kqtJ%2Brm",
        ) => {
            if signature_ok(r, "eu-central-1") {
                Reply::new(200, CONFIG)
            } else {
                Reply::new(403, "SignatureDoesNotMatch")
            }
        }
        ("GET", "ap-123456789012.s3-accesspoint.us-west-2.amazonaws.com", "/k.ign")
            if signature_ok(r, "us-west-2") =>
        {
            Reply::new(200, CONFIG)
        }
        _ => Reply::new(404, "NoSuchKey"),
    });
    let f = fetcher(&[(METADATA, &imds.base), (S3, &s3.base)])
        .with_metadata_wait(Duration::from_secs(2));
    let mut spec = Spec::url("s3://my-bucket/dir/my%20config.ign?versionId=3HL4kqtJ%2Brm");
    spec.hash = Some(sha512_spec(CONFIG));
    assert_eq!(f.fetch_bytes(&spec).unwrap(), CONFIG);
    // The instance's region was the hint; the bucket's own region won.
    let get = s3.requests()[1].clone();
    assert!(get
        .header("authorization")
        .unwrap()
        .contains("/eu-central-1/s3/aws4_request"));

    // A second object: credentials and bucket region come from the memo.
    let imds_calls = imds.requests().len();
    let e = f
        .fetch_bytes(&Spec::url("s3://my-bucket/missing"))
        .unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    assert!(e.to_string().starts_with("s3://my-bucket/missing: "), "{e}");
    assert_eq!(imds.requests().len(), imds_calls);
    assert_eq!(
        s3.requests().iter().filter(|r| r.method == "HEAD").count(),
        1
    );

    // Access point ARNs carry their region: no bucket lookup.
    let arn = "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/k.ign";
    assert_eq!(f.fetch_bytes(&Spec::url(arn)).unwrap(), CONFIG);
    let imds = imds.requests();
    assert_eq!(imds[0].method, "PUT");
    assert!(imds
        .iter()
        .all(|r| r.method == "PUT" || r.header("x-aws-ec2-metadata-token") == Some("imds-token")));
}

#[test]
fn imdsv1_when_tokens_are_refused() {
    let imds = fake_imds(false);
    let s3 = Server::start(|r: &Request| match r.method.as_str() {
        "HEAD" => Reply::status(200).header("x-amz-bucket-region", "eu-west-1"),
        _ if signature_ok(r, "eu-west-1") => Reply::new(200, CONFIG),
        _ => Reply::new(403, ""),
    });
    let f = fetcher(&[(METADATA, &imds.base), (S3, &s3.base)]);
    assert_eq!(
        f.fetch_bytes(&Spec::url("arn:aws:s3:::b/c.ign")).unwrap(),
        CONFIG
    );
}

#[test]
fn bucket_arns_with_a_region_sign_for_it_without_a_bucket_lookup() {
    let imds = fake_imds(true);
    let s3 = Server::start(|r: &Request| match route(r) {
        ("GET", "bucket-name.s3.us-west-2.amazonaws.com", "/object-key?versionId=abc123")
            if signature_ok(r, "us-west-2") =>
        {
            Reply::new(200, CONFIG)
        }
        _ => Reply::new(403, ""),
    });
    let f = fetcher(&[(METADATA, &imds.base), (S3, &s3.base)]);
    let arn = "arn:aws:s3:us-west-2:123456789012:bucket-name/object-key?versionId=abc123";
    assert_eq!(f.fetch_bytes(&Spec::url(arn)).unwrap(), CONFIG);
    assert!(s3.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn s3_anonymous_without_a_metadata_service() {
    let s3 = Server::start(|r: &Request| {
        assert!(r.header("authorization").is_none());
        assert!(r.header("x-amz-security-token").is_none());
        match route(r) {
            // A private bucket answers 403 but still names its region.
            ("HEAD", "pub.s3.us-east-1.amazonaws.com", "/") => {
                Reply::status(403).header("x-amz-bucket-region", "us-east-1")
            }
            ("HEAD", _, _) => Reply::new(404, ""),
            ("GET", "pub.s3.us-east-1.amazonaws.com", "/c.ign") => Reply::new(200, CONFIG),
            _ => Reply::new(404, ""),
        }
    });
    let f = fetcher(&[(METADATA, &dead_base()), (S3, &s3.base)])
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
    assert_eq!(s3.requests().len(), 3);
}

fn gz(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn gcs_with_the_metadata_token() {
    let meta = Server::start(|r: &Request| {
        if r.header("metadata-flavor") != Some("Google") {
            return Reply::new(403, "");
        }
        match r.target.as_str() {
            "/computeMetadata/v1/instance/service-accounts/default/token" => Reply::ok(
                &br#"{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}"#[..],
            )
            .header("metadata-flavor", "Google"),
            _ => Reply::new(404, ""),
        }
    });
    let gcs = Server::start(|r: &Request| {
        if r.header("authorization") != Some("Bearer ya29.test-token") {
            return Reply::new(401, "");
        }
        match r.target.as_str() {
            "/storage/v1/b/bkt/o/dir%2Fconfig.ign.gz?alt=media" => Reply::new(200, gz(CONFIG)),
            _ => Reply::new(404, ""),
        }
    });
    let f = fetcher(&[(METADATA, &meta.base), (GCS_ORIGIN, &gcs.base)]);
    let mut spec = Spec::url("gs://bkt/dir/config.ign.gz");
    spec.compression = Compression::Gzip;
    spec.hash = Some(sha512_spec(CONFIG));
    assert_eq!(f.fetch_bytes(&spec).unwrap(), CONFIG);
    let e = f.fetch_bytes(&Spec::url("gs://bkt/nope")).unwrap_err();
    assert_eq!(e.kind(), Kind::NotFound, "{e}");
    // The token was asked for once.
    assert_eq!(meta.requests().len(), 1);
    assert_eq!(gcs.requests().len(), 2);
}

#[test]
fn gcs_anonymous_off_gce() {
    let gcs = Server::start(|r: &Request| {
        assert!(r.header("authorization").is_none());
        assert_eq!(r.header("host"), Some("storage.googleapis.com"));
        Reply::new(200, CONFIG)
    });
    // No metadata server at all.
    let f = fetcher(&[(METADATA, &dead_base()), (GCS_ORIGIN, &gcs.base)])
        .with_metadata_wait(Duration::from_millis(300));
    assert_eq!(f.fetch_bytes(&Spec::url("gs://bkt//a b")).unwrap(), CONFIG);
    assert_eq!(
        gcs.requests()[0].target,
        "/storage/v1/b/bkt/o/a%20b?alt=media"
    );
    // A metadata server without a service account, and one that is not Google's.
    for flavor in [Some("Google"), None] {
        let meta = Server::start(move |_: &Request| {
            let r = Reply::new(
                if flavor.is_some() { 404 } else { 200 },
                &br#"{"access_token":"stolen"}"#[..],
            );
            match flavor {
                Some(v) => r.header("metadata-flavor", v),
                None => r,
            }
        });
        let f = fetcher(&[(METADATA, &meta.base), (GCS_ORIGIN, &gcs.base)]);
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
