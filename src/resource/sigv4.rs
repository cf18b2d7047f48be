//! AWS Signature Version 4 for S3 requests: canonical request, string to sign, HMAC-SHA256 key
//! derivation and the headers that carry the result. Pure functions: no clock (the caller passes
//! the time), no network, and nothing here logs (it handles secrets).

use crate::config::url;
use crate::error::{Error, Result};
use ring::{digest, hmac};
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// SHA-256 of nothing: the payload hash of a request without a body.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// An AWS access key, with the session token of temporary (instance) credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material, not even by accident in a debug log.
        f.write_str("Credentials(<redacted>)")
    }
}

/// HMAC-SHA256 (RFC 2104), ring's (the SHA-2 and HMAC that TLS already links).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, b).as_ref())
}

/// AWS's URI encoding: everything but `A-Za-z0-9-_.~` (and `/` when `keep_slash`) as `%XX`
/// with upper-case digits.
pub fn uri_encode(s: &[u8], keep_slash: bool) -> String {
    use percent_encoding::{percent_encode, AsciiSet, NON_ALPHANUMERIC};
    const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    const UNRESERVED_SLASH: &AsciiSet = &UNRESERVED.remove(b'/');
    let set = if keep_slash {
        UNRESERVED_SLASH
    } else {
        UNRESERVED
    };
    percent_encode(s, set).to_string()
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub fn amz_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (y, mo, d, h, mi, s) = crate::log::civil_utc(secs as i64);
    format!("{y:04}{mo:02}{d:02}T{h:02}{mi:02}{s:02}Z")
}

/// The `Host` header an HTTP client sends for `url`: the port only when not the default.
fn host_header(scheme: &str, authority: &str) -> String {
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let default = match scheme {
        "https" => Some("443"),
        "http" => Some("80"),
        _ => None,
    };
    let split = match hostport.rfind(']') {
        // [v6]:port
        Some(i) => hostport[i..].find(':').map(|j| i + j),
        None => hostport.rfind(':'),
    };
    let host = match split {
        Some(i) if Some(&hostport[i + 1..]) == default || hostport[i + 1..].is_empty() => {
            &hostport[..i]
        }
        _ => hostport,
    };
    host.to_ascii_lowercase()
}

/// S3's canonical URI: each path segment decoded and re-encoded once (no double encoding, no
/// dot-segment removal, unlike other services).
fn canonical_uri(path: &str) -> Result<String> {
    if path.is_empty() {
        return Ok("/".into());
    }
    let segs: Result<Vec<String>> = path
        .split('/')
        .map(|seg| {
            url::percent_decode(seg, false)
                .map(|b| uri_encode(&b, false))
                .map_err(|e| Error::failed(format!("signing: bad path: {e}")))
        })
        .collect();
    Ok(segs?.join("/"))
}

fn canonical_query(raw: &str) -> Result<String> {
    let mut pairs = Vec::new();
    for p in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        let dec = |s: &str| {
            url::percent_decode(s, false)
                .map(|b| uri_encode(&b, false))
                .map_err(|e| Error::failed(format!("signing: bad query: {e}")))
        };
        pairs.push((dec(k)?, dec(v)?));
    }
    pairs.sort();
    Ok(pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&"))
}

/// Signs a request with SigV4 and returns the headers to add to it: `x-amz-date`,
/// `x-amz-content-sha256` (S3 only), `x-amz-security-token` (temporary credentials) and
/// `authorization`. `headers` are further headers the request carries and that must be signed
/// (e.g. `Range`); the `Host` header is derived from `url` the way HTTP clients send it, and any
/// `host`, `authorization` or `x-amz-*` header the signer adds itself is ignored in `headers`.
#[allow(clippy::too_many_arguments)]
pub fn sign_v4(
    method: &str,
    url_str: &str,
    headers: &[(String, String)],
    payload_sha256: &str,
    creds: &Credentials,
    region: &str,
    service: &str,
    timestamp: SystemTime,
) -> Result<Vec<(String, String)>> {
    let u = url::parse(url_str).map_err(|e| Error::failed(format!("signing: bad URL: {e}")))?;
    let amz_date = amz_date(timestamp);
    let date = &amz_date[..8];

    let mut added = vec![("x-amz-date".to_string(), amz_date.clone())];
    if service == "s3" {
        added.push(("x-amz-content-sha256".into(), payload_sha256.to_string()));
    }
    if let Some(t) = &creds.session_token {
        added.push(("x-amz-security-token".into(), t.clone()));
    }

    let ours = |k: &str| {
        matches!(
            k,
            "host"
                | "authorization"
                | "x-amz-date"
                | "x-amz-content-sha256"
                | "x-amz-security-token"
        )
    };
    let mut canon: Vec<(String, String)> = vec![("host".into(), host_header(&u.scheme, u.host))];
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        if !ours(&k) {
            canon.push((k, v.split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    canon.extend(added.iter().cloned());
    canon.sort_by(|a, b| a.0.cmp(&b.0));
    // Repeated names sign as one line with the values joined by commas.
    let mut merged: Vec<(String, String)> = Vec::new();
    for (k, v) in canon {
        match merged.last_mut() {
            Some((lk, lv)) if *lk == k => {
                lv.push(',');
                lv.push_str(&v);
            }
            _ => merged.push((k, v)),
        }
    }
    let signed_headers = merged
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let header_lines: String = merged.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();

    let canonical_request = format!(
        "{method}\n{}\n{}\n{header_lines}\n{signed_headers}\n{payload_sha256}",
        canonical_uri(u.path)?,
        canonical_query(u.raw_query)?,
    );
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", creds.secret_access_key).as_bytes(),
        date.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, string_to_sign.as_bytes()));
    added.push((
        "authorization".into(),
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            creds.access_key_id
        ),
    ));
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn signature_of(headers: &[(String, String)]) -> &str {
        let auth = &headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .unwrap()
            .1;
        auth.rsplit_once("Signature=").unwrap().1
    }

    #[test]
    fn hmac_rfc4231() {
        // Test cases 1, 2 and 6 (a key longer than the block) of RFC 4231.
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(amz_date(at(0)), "19700101T000000Z");
        assert_eq!(amz_date(at(1_369_353_600)), "20130524T000000Z");
        assert_eq!(amz_date(at(1_440_938_160)), "20150830T123600Z");
        assert_eq!(amz_date(at(951_782_400)), "20000229T000000Z");
        assert_eq!(amz_date(at(4_102_444_799)), "20991231T235959Z");
    }

    #[test]
    fn encoding() {
        assert_eq!(uri_encode(b"a b/c~d%\xc3\xa9", true), "a%20b/c~d%25%C3%A9");
        assert_eq!(uri_encode(b"a/b+c=", false), "a%2Fb%2Bc%3D");
        assert_eq!(canonical_uri("/a%2Fb/c d").unwrap(), "/a%2Fb/c%20d");
        assert_eq!(canonical_uri("").unwrap(), "/");
        assert_eq!(
            canonical_query("prefix=J&max-keys=2&a").unwrap(),
            "a=&max-keys=2&prefix=J"
        );
        assert_eq!(
            host_header("https", "Bucket.S3.amazonaws.com:443"),
            "bucket.s3.amazonaws.com"
        );
        assert_eq!(host_header("http", "127.0.0.1:8080"), "127.0.0.1:8080");
        assert_eq!(host_header("http", "[::1]:80"), "[::1]");
        assert_eq!(host_header("http", "[::1]:81"), "[::1]:81");
        assert_eq!(host_header("https", "u:p@h"), "h");
    }

    #[test]
    fn credentials_do_not_print() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "SECRET".into(),
            session_token: Some("TOKEN".into()),
        };
        let s = format!("{c:?}");
        assert!(!s.contains("AKID") && !s.contains("SECRET") && !s.contains("TOKEN"));
    }

    /// The examples of "Signature Calculations for the Authorization Header" in the S3 docs.
    #[test]
    fn s3_documentation_examples() {
        let creds = Credentials {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let t = at(1_369_353_600);
        let sign = |url: &str, extra: &[(String, String)]| {
            sign_v4(
                "GET",
                url,
                extra,
                EMPTY_SHA256,
                &creds,
                "us-east-1",
                "s3",
                t,
            )
            .unwrap()
        };
        // GET Object with a range.
        let h = sign(
            "https://examplebucket.s3.amazonaws.com/test.txt",
            &[("Range".into(), "bytes=0-9".into())],
        );
        assert_eq!(
            signature_of(&h),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            h.iter().find(|(k, _)| k == "authorization").unwrap().1,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(h[0], ("x-amz-date".into(), "20130524T000000Z".into()));
        assert_eq!(h[1], ("x-amz-content-sha256".into(), EMPTY_SHA256.into()));
        // GET Bucket lifecycle: a query parameter without a value.
        assert_eq!(
            signature_of(&sign(
                "https://examplebucket.s3.amazonaws.com/?lifecycle",
                &[]
            )),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        // GET Bucket (list objects): parameters sorted.
        assert_eq!(
            signature_of(&sign(
                "https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J",
                &[]
            )),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    /// get-vanilla and get-vanilla-query-order-key-case of the SigV4 test suite.
    #[test]
    fn sigv4_test_suite() {
        let creds = Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        };
        let t = at(1_440_938_160);
        let sign = |url: &str| {
            sign_v4(
                "GET",
                url,
                &[],
                EMPTY_SHA256,
                &creds,
                "us-east-1",
                "service",
                t,
            )
            .unwrap()
        };
        let h = sign("https://example.amazonaws.com/");
        assert_eq!(
            h.last().unwrap().1,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
        assert_eq!(h.len(), 2, "no content hash header outside S3");
        assert_eq!(
            signature_of(&sign(
                "https://example.amazonaws.com/?Param2=value2&Param1=value1"
            )),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn session_tokens_are_signed() {
        let creds = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: Some("tok".into()),
        };
        let h = sign_v4(
            "GET",
            "https://b.s3.eu-west-1.amazonaws.com/k",
            &[("X-Amz-Date".into(), "ignored".into())],
            EMPTY_SHA256,
            &creds,
            "eu-west-1",
            "s3",
            at(1_700_000_000),
        )
        .unwrap();
        assert_eq!(h[2], ("x-amz-security-token".into(), "tok".into()));
        assert!(h[3].1.contains(
            "/eu-west-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"
        ));
    }
}
