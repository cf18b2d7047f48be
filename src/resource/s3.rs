//! Object storage schemes: `s3://bucket/key` and S3 `arn:` URLs (buckets and access points),
//! anonymous or SigV4-signed with AWS instance credentials from IMDS, and `gs://bucket/object`
//! through the GCS JSON API, anonymous or with the GCE service-account token. Each becomes one
//! HTTPS GET that the HTTP fetcher streams (retries, proxy, CAs, hash). Credentials and tokens
//! are never logged.

pub use super::sigv4::{sign_v4, Credentials};
use super::{redact, sigv4, Compression, Fetcher, Options, Sink, Spec};
use crate::config::url;
use crate::error::{Error, Kind, Result};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Where the object stores and the metadata services that lend them credentials are. The
/// defaults are the real services.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// AWS instance metadata service (IMDS).
    pub aws_metadata: String,
    /// An S3 endpoint instead of AWS's regional ones; objects are then addressed path-style,
    /// `<endpoint>/<bucket>/<key>` (an access point as `<name>-<account>` in place of a bucket).
    pub s3: Option<String>,
    /// GCE metadata server (`metadata.google.internal`).
    pub gce_metadata: String,
    /// Google Cloud Storage.
    pub gcs: String,
    /// How long a metadata service may take before objects are fetched anonymously.
    pub metadata_wait: Duration,
}

impl Default for Endpoints {
    fn default() -> Self {
        Endpoints {
            aws_metadata: "http://169.254.169.254".into(),
            s3: None,
            // The address of metadata.google.internal: no DNS needed in the initramfs.
            gce_metadata: "http://169.254.169.254".into(),
            gcs: "https://storage.googleapis.com".into(),
            metadata_wait: Duration::from_secs(3),
        }
    }
}

/// Instance credentials are rotated by AWS well before they expire; asking again after a few
/// minutes keeps long fetch stages safe without asking for every object.
const CREDS_TTL: Duration = Duration::from_secs(300);
/// An absent metadata service is asked again after this long (the network may come up late).
const ABSENT_TTL: Duration = Duration::from_secs(60);

/// Per-fetcher object-store state: endpoints, and what metadata services said.
#[derive(Default)]
pub(crate) struct State {
    endpoints: Endpoints,
    memo: Mutex<Memo>,
}

#[derive(Default)]
struct Memo {
    aws: Option<(Instant, AwsInstance)>,
    gce: Option<(Instant, Option<String>)>,
    /// Bucket name -> region, as S3 reported it.
    bucket_regions: HashMap<String, String>,
}

#[derive(Clone, Default)]
struct AwsInstance {
    creds: Option<Credentials>,
    /// `placement/region`: the region hint for buckets.
    region: Option<String>,
}

impl State {
    pub(crate) fn new(endpoints: Endpoints) -> State {
        State {
            endpoints,
            memo: Mutex::default(),
        }
    }

    /// The memo; a poisoned lock only costs a cache miss.
    fn memo(&self) -> Option<MutexGuard<'_, Memo>> {
        self.memo.lock().ok()
    }

    fn aws_instance(&self, f: &Fetcher) -> AwsInstance {
        if let Some(m) = self.memo() {
            if let Some((until, v)) = &m.aws {
                if Instant::now() < *until {
                    return v.clone();
                }
            }
        }
        let (v, ttl) = match query_imds(f, &self.endpoints) {
            Some(v) => (v, CREDS_TTL),
            None => (AwsInstance::default(), ABSENT_TTL),
        };
        if let Some(mut m) = self.memo() {
            m.aws = Some((Instant::now() + ttl, v.clone()));
        }
        v
    }

    fn gce_token(&self, f: &Fetcher) -> Option<String> {
        if let Some(m) = self.memo() {
            if let Some((until, v)) = &m.gce {
                if Instant::now() < *until {
                    return v.clone();
                }
            }
        }
        let (v, ttl) = query_gce_token(f, &self.endpoints);
        if let Some(mut m) = self.memo() {
            m.gce = Some((Instant::now() + ttl, v.clone()));
        }
        v
    }

    /// The bucket's region, from the `x-amz-bucket-region` header S3 puts on HEAD answers
    /// (200, 301 and 403 alike), asked anonymously at the hint region's endpoint.
    fn bucket_region(&self, f: &Fetcher, obj: &S3Object, hint: &str) -> Result<String> {
        if let Some(r) = self
            .memo()
            .and_then(|m| m.bucket_regions.get(&obj.bucket).cloned())
        {
            return Ok(r);
        }
        let url = obj.bucket_url(hint, self.endpoints.s3.as_deref());
        let reply = f
            .http_exchange("HEAD", &url, &[], None)
            .map_err(|e| e.context(format!("finding the region of bucket {:?}", obj.bucket)))?;
        let region = match reply.header("x-amz-bucket-region") {
            Some(r) if is_region(r) => r.to_string(),
            _ if reply.status == 404 => {
                return Err(Error::new(
                    Kind::NotFound,
                    format!("bucket {:?} does not exist", obj.bucket),
                ))
            }
            _ => {
                log::debug!(
                    "S3 did not name the region of bucket {:?} (HTTP {}); using {hint}",
                    obj.bucket,
                    reply.status
                );
                hint.to_string()
            }
        };
        if let Some(mut m) = self.memo() {
            m.bucket_regions.insert(obj.bucket.clone(), region.clone());
        }
        Ok(region)
    }
}

/// A fetcher for metadata services: short timeouts, never a proxy (the services are link-local
/// and their tokens must not pass through one).
fn probe_fetcher(f: &Fetcher, wait: Duration) -> Fetcher {
    let opts = Options {
        response_headers: Some(wait),
        connect: Some(wait),
        total: Some(wait),
        ..Options::default()
    };
    Fetcher::new(opts, f.is_offline())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImdsCredentials {
    code: Option<String>,
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

/// Asks IMDS (v2 token first, v1 if the token is refused) for the region and the credentials
/// of the instance's role. `None`: no metadata service answered.
fn query_imds(f: &Fetcher, ep: &Endpoints) -> Option<AwsInstance> {
    let probe = probe_fetcher(f, ep.metadata_wait);
    let base = ep.aws_metadata.trim_end_matches('/');
    let token = match probe.http_exchange(
        "PUT",
        &format!("{base}/latest/api/token"),
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        Some(b""),
    ) {
        Err(e) => {
            log::debug!("no AWS instance metadata service ({e}); S3 requests go unsigned");
            return None;
        }
        Ok(r) if r.status == 200 => Some(String::from_utf8_lossy(&r.body).trim().to_string()),
        Ok(r) => {
            log::debug!("IMDSv2 token refused (HTTP {}); trying IMDSv1", r.status);
            None
        }
    };
    let headers: Vec<(&str, &str)> = token
        .as_deref()
        .map(|t| ("X-aws-ec2-metadata-token", t))
        .into_iter()
        .collect();
    let get = |path: &str| -> Result<Option<String>> {
        let body = probe.http_get(&format!("{base}/latest/meta-data/{path}"), &headers)?;
        Ok(body.map(|b| String::from_utf8_lossy(&b).trim().to_string()))
    };
    let region = match get("placement/region") {
        Ok(r) => r.filter(|r| is_region(r)),
        Err(e) => {
            log::debug!("reading the instance's region: {e}");
            None
        }
    };
    let creds = match instance_credentials(&get) {
        Ok(c) => c,
        // With a token this is surely AWS and the failure worth a warning; without one it may
        // be another cloud's metadata service at the same address.
        Err(e) if token.is_some() => {
            log::warn!("reading the instance's credentials: {e}; S3 requests go unsigned");
            None
        }
        Err(e) => {
            log::debug!("reading instance credentials over IMDSv1: {e}; S3 requests go unsigned");
            None
        }
    };
    Some(AwsInstance { creds, region })
}

fn instance_credentials(
    get: &dyn Fn(&str) -> Result<Option<String>>,
) -> Result<Option<Credentials>> {
    let Some(roles) = get("iam/security-credentials/")? else {
        log::info!("no IAM role on this instance; S3 requests go unsigned");
        return Ok(None);
    };
    let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
        return Ok(None);
    };
    let path = format!(
        "iam/security-credentials/{}",
        sigv4::uri_encode(role.as_bytes(), false)
    );
    let Some(body) = get(&path)? else {
        return Ok(None);
    };
    // The body holds the secret: errors must not quote it.
    let c: ImdsCredentials = serde_json::from_str(&body).map_err(|e| {
        Error::failed(format!(
            "malformed credentials of role {role:?} (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if let Some(code) = c.code.as_deref().filter(|c| *c != "Success") {
        return Err(Error::failed(format!(
            "credentials of role {role:?} unavailable: {code}"
        )));
    }
    log::info!("signing S3 requests with the credentials of instance role {role:?}");
    Ok(Some(Credentials {
        access_key_id: c.access_key_id,
        secret_access_key: c.secret_access_key,
        session_token: c.token.filter(|t| !t.is_empty()),
    }))
}

#[derive(Deserialize)]
struct GceToken {
    access_token: String,
    expires_in: Option<u64>,
}

/// The default service account's access token and how long to keep it; `None` when this is not
/// GCE or the instance has no service account.
fn query_gce_token(f: &Fetcher, ep: &Endpoints) -> (Option<String>, Duration) {
    let probe = probe_fetcher(f, ep.metadata_wait);
    let url = format!(
        "{}/computeMetadata/v1/instance/service-accounts/default/token",
        ep.gce_metadata.trim_end_matches('/')
    );
    let reply = match probe.http_exchange("GET", &url, &[("Metadata-Flavor", "Google")], None) {
        Ok(r) => r,
        Err(e) => {
            log::debug!("no GCE metadata server ({e}); GCS requests go anonymous");
            return (None, ABSENT_TTL);
        }
    };
    // The real server stamps every answer; anything else at this address is not GCE's.
    if reply.status != 200 || reply.header("metadata-flavor") != Some("Google") {
        log::debug!(
            "no GCE service-account token (HTTP {}); GCS requests go anonymous",
            reply.status
        );
        return (None, ABSENT_TTL);
    }
    match serde_json::from_slice::<GceToken>(&reply.body) {
        Ok(t) if !t.access_token.is_empty() => {
            let life = Duration::from_secs(t.expires_in.unwrap_or(0).saturating_sub(60));
            log::debug!("using the GCE service-account token for GCS");
            (Some(t.access_token), life.min(CREDS_TTL))
        }
        _ => {
            log::warn!("malformed GCE service-account token; GCS requests go anonymous");
            (None, ABSENT_TTL)
        }
    }
}

fn is_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// One S3 object as a URL or ARN names it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct S3Object {
    /// The bucket, or for an access point its host label `<name>-<account>`.
    bucket: String,
    access_point: bool,
    key: Vec<u8>,
    version_id: Option<String>,
    /// Known for access points (their ARN names it).
    region: Option<String>,
    /// From an ARN's partition: where to ask for the bucket's region.
    region_hint: Option<&'static str>,
}

/// Where to start looking for a bucket of an ARN partition.
fn partition_region(partition: &str) -> Option<&'static str> {
    match partition {
        "aws" => Some("us-east-1"),
        "aws-cn" => Some("cn-north-1"),
        "aws-us-gov" => Some("us-gov-west-1"),
        _ => None,
    }
}

fn bucket_name_ok(b: &str) -> bool {
    // Legacy us-east-1 names allow upper case and underscores; nothing may break a host name
    // or a path.
    !b.is_empty()
        && b.len() <= 255
        && b.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'_'))
}

/// A bucket name usable as a TLS-safe host label (no dots: the wildcard certificate covers one
/// label only).
fn virtual_hostable(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !b.starts_with('-')
        && !b.ends_with('-')
}

fn aws_domain(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

impl S3Object {
    fn parse(u: &str) -> Result<S3Object> {
        let bad = |why: &str| Error::failed(format!("invalid S3 URL {}: {why}", redact(u)));
        let p = url::parse(u).map_err(|e| bad(&e))?;
        let version_id = url::query_values(p.raw_query, "versionId")
            .into_iter()
            .next()
            .filter(|v| !v.is_empty());
        let obj = match p.scheme.as_ref() {
            "s3" => {
                let key = url::percent_decode(p.path, false).map_err(|e| bad(&e))?;
                // The SDK cleans the leading slash of the URL path off the key.
                let key = key.strip_prefix(b"/").unwrap_or(&key).to_vec();
                S3Object {
                    bucket: p.host.to_string(),
                    access_point: false,
                    key,
                    version_id,
                    region: None,
                    region_hint: None,
                }
            }
            "arn" => {
                // One grammar with validation (config::url::parse_s3_arn).
                let arn = url::parse_s3_arn(u).map_err(bad)?;
                let region_hint = partition_region(arn.partition);
                if arn.access_point {
                    let name_ok = arn
                        .bucket
                        .bytes()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
                    if !name_ok || !arn.account.bytes().all(|c| c.is_ascii_digit()) {
                        return Err(bad("bad access point name or account"));
                    }
                }
                // A region in the ARN is the request's region (bucket ARNs may carry one).
                if !arn.region.is_empty() && !is_region(arn.region) {
                    return Err(bad("bad region"));
                }
                S3Object {
                    bucket: if arn.access_point {
                        format!("{}-{}", arn.bucket, arn.account)
                    } else {
                        arn.bucket.to_string()
                    },
                    access_point: arn.access_point,
                    key: arn.key.as_bytes().to_vec(),
                    version_id,
                    region: (!arn.region.is_empty()).then(|| arn.region.to_string()),
                    region_hint,
                }
            }
            _ => return Err(bad("not s3:// or arn:")),
        };
        if !bucket_name_ok(&obj.bucket) {
            return Err(bad("bad bucket name"));
        }
        if obj.key.is_empty() {
            return Err(bad("no object key"));
        }
        Ok(obj)
    }

    fn object_url(&self, region: &str, endpoint: Option<&str>) -> String {
        let key = sigv4::uri_encode(&self.key, true);
        let query = self
            .version_id
            .as_ref()
            .map(|v| format!("?versionId={}", sigv4::uri_encode(v.as_bytes(), false)))
            .unwrap_or_default();
        let (b, d) = (&self.bucket, aws_domain(region));
        match endpoint {
            Some(e) => format!("{}/{b}/{key}{query}", e.trim_end_matches('/')),
            None if self.access_point => {
                format!("https://{b}.s3-accesspoint.{region}.{d}/{key}{query}")
            }
            None if virtual_hostable(b) => format!("https://{b}.s3.{region}.{d}/{key}{query}"),
            None => format!("https://s3.{region}.{d}/{b}/{key}{query}"),
        }
    }

    fn bucket_url(&self, region: &str, endpoint: Option<&str>) -> String {
        let (b, d) = (&self.bucket, aws_domain(region));
        match endpoint {
            Some(e) => format!("{}/{b}", e.trim_end_matches('/')),
            None if virtual_hostable(b) => format!("https://{b}.s3.{region}.{d}/"),
            None => format!("https://s3.{region}.{d}/{b}"),
        }
    }
}

/// Fetches an `s3://` or `arn:` object into `sink`: signed when the instance has a role,
/// anonymous otherwise.
pub fn fetch(f: &Fetcher, spec: &Spec, sink: &mut dyn Sink) -> Result<u64> {
    fetch_s3(f, spec, sink).map_err(|e| e.context(redact(&spec.url)))
}

fn fetch_s3(f: &Fetcher, spec: &Spec, sink: &mut dyn Sink) -> Result<u64> {
    if spec.compression != Compression::None {
        // Ignition refuses this combination at fetch time (ErrCompressionUnsupported).
        return Err(Error::failed(
            "compression is not supported with that scheme",
        ));
    }
    let obj = S3Object::parse(&spec.url)?;
    let st = &f.objstore;
    let instance = st.aws_instance(f);
    let region = match &obj.region {
        Some(r) => r.clone(),
        None => {
            let hint = obj
                .region_hint
                .or(instance.region.as_deref())
                .unwrap_or("us-east-1");
            st.bucket_region(f, &obj, hint)?
        }
    };
    let url = obj.object_url(&region, st.endpoints.s3.as_deref());
    let headers = match &instance.creds {
        Some(c) => sign_v4(
            "GET",
            &url,
            &[],
            sigv4::EMPTY_SHA256,
            c,
            &region,
            "s3",
            SystemTime::now(),
        )?,
        None => Vec::new(),
    };
    log::debug!(
        "fetching {} as {} ({})",
        redact(&spec.url),
        redact(&url),
        if headers.is_empty() {
            "anonymous"
        } else {
            "signed"
        }
    );
    let get = Spec {
        url,
        headers,
        compression: Compression::None,
        hash: spec.hash.clone(),
    };
    f.http.fetch(&get, &f.opts, sink)
}

/// Fetches a `gs://bucket/object` into `sink` through the GCS JSON API, with the GCE
/// service-account token when there is one.
pub fn fetch_gcs(f: &Fetcher, spec: &Spec, sink: &mut dyn Sink) -> Result<u64> {
    fetch_gcs_inner(f, spec, sink).map_err(|e| e.context(redact(&spec.url)))
}

fn fetch_gcs_inner(f: &Fetcher, spec: &Spec, sink: &mut dyn Sink) -> Result<u64> {
    let bad = |why: &str| Error::failed(format!("invalid GCS URL: {why}"));
    let p = url::parse(&spec.url).map_err(|e| bad(&e))?;
    if p.host.is_empty() || !bucket_name_ok(p.host) {
        return Err(bad("bad bucket name"));
    }
    let object = url::percent_decode(p.path, false).map_err(|e| bad(&e))?;
    // Ignition trims every leading slash off the object name.
    let start = object
        .iter()
        .position(|&c| c != b'/')
        .unwrap_or(object.len());
    let object = &object[start..];
    if object.is_empty() {
        return Err(bad("no object name"));
    }
    let st = &f.objstore;
    let url = format!(
        "{}/storage/v1/b/{}/o/{}?alt=media",
        st.endpoints.gcs.trim_end_matches('/'),
        sigv4::uri_encode(p.host.as_bytes(), false),
        sigv4::uri_encode(object, false)
    );
    let headers = st
        .gce_token(f)
        .map(|t| vec![("Authorization".to_string(), format!("Bearer {t}"))])
        .unwrap_or_default();
    let get = Spec {
        url,
        headers,
        compression: spec.compression,
        hash: spec.hash.clone(),
    };
    f.http.fetch(&get, &f.opts, sink)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::HashSpec;
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

    fn fetcher(ep: Endpoints) -> Fetcher {
        Fetcher::new(
            Options {
                total: Some(Duration::from_secs(5)),
                ..Options::default()
            },
            false,
        )
        .with_object_stores(ep)
    }

    const CONFIG: &[u8] = br#"{"ignition":{"version":"3.4.0"}}"#;

    #[test]
    fn s3_objects_are_signed_with_instance_credentials() {
        let (imds, imds_seen) = fake_imds(true);
        let (s3, s3_seen) = serve(|r| match (r.method.as_str(), r.target.as_str()) {
            // S3's answer for a bucket asked at the wrong region: no Location, just the header.
            ("HEAD", "/my-bucket") => Resp {
                status: 301,
                headers: vec![("x-amz-bucket-region", "eu-central-1".into())],
                body: vec![],
            },
            ("GET", "/my-bucket/dir/my%20config.ign?versionId=3HL4kqtJ%2Brm") => {
                if signature_ok(r, "eu-central-1") {
                    resp(200, CONFIG)
                } else {
                    resp(403, "SignatureDoesNotMatch")
                }
            }
            ("GET", "/ap-123456789012/k.ign") if signature_ok(r, "us-west-2") => resp(200, CONFIG),
            _ => resp(404, "NoSuchKey"),
        });
        let f = fetcher(Endpoints {
            aws_metadata: imds,
            s3: Some(s3),
            metadata_wait: Duration::from_secs(2),
            ..Endpoints::default()
        });
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
        assert!(imds.iter().all(
            |r| r.method == "PUT" || r.header("x-aws-ec2-metadata-token") == Some("imds-token")
        ));
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
        let f = fetcher(Endpoints {
            aws_metadata: imds,
            s3: Some(s3),
            ..Endpoints::default()
        });
        assert_eq!(
            f.fetch_bytes(&Spec::url("arn:aws:s3:::b/c.ign")).unwrap(),
            CONFIG
        );
    }

    #[test]
    fn bucket_arns_with_a_region_sign_for_it_without_a_bucket_lookup() {
        let (imds, _) = fake_imds(true);
        let (s3, seen) = serve(|r| match (r.method.as_str(), r.target.as_str()) {
            ("GET", "/bucket-name/object-key?versionId=abc123") if signature_ok(r, "us-west-2") => {
                resp(200, CONFIG)
            }
            _ => resp(403, ""),
        });
        let f = fetcher(Endpoints {
            aws_metadata: imds,
            s3: Some(s3),
            ..Endpoints::default()
        });
        let arn = "arn:aws:s3:us-west-2:123456789012:bucket-name/object-key?versionId=abc123";
        assert_eq!(f.fetch_bytes(&Spec::url(arn)).unwrap(), CONFIG);
        assert!(seen.lock().unwrap().iter().all(|r| r.method == "GET"));
    }

    #[test]
    fn s3_anonymous_without_a_metadata_service() {
        let (s3, seen) = serve(|r| {
            assert!(r.header("authorization").is_none());
            assert!(r.header("x-amz-security-token").is_none());
            match (r.method.as_str(), r.target.as_str()) {
                // A private bucket answers 403 but still names its region.
                ("HEAD", "/pub") => Resp {
                    status: 403,
                    headers: vec![("x-amz-bucket-region", "us-east-1".into())],
                    body: vec![],
                },
                ("HEAD", _) => resp(404, ""),
                ("GET", "/pub/c.ign") => resp(200, CONFIG),
                _ => resp(404, ""),
            }
        });
        let f = fetcher(Endpoints {
            aws_metadata: closed_port(),
            s3: Some(s3),
            metadata_wait: Duration::from_millis(300),
            ..Endpoints::default()
        });
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
                    body: br#"{"access_token":"ya29.test-token","expires_in":3599,"token_type":"Bearer"}"#.to_vec(),
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
        let f = fetcher(Endpoints {
            gce_metadata: meta,
            gcs,
            ..Endpoints::default()
        });
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
            resp(200, CONFIG)
        });
        // No metadata server at all.
        let f = fetcher(Endpoints {
            gce_metadata: closed_port(),
            gcs: gcs.clone(),
            metadata_wait: Duration::from_millis(300),
            ..Endpoints::default()
        });
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
            let f = fetcher(Endpoints {
                gce_metadata: meta,
                gcs: gcs.clone(),
                ..Endpoints::default()
            });
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
        let o = S3Object::parse(
            "arn:aws:s3:us-west-2:123456789012:accesspoint/ap/object/d/k?versionId=x",
        )
        .unwrap();
        assert_eq!(o.bucket, "ap-123456789012");
        assert_eq!(o.key, b"d/k");
        assert_eq!(o.region.as_deref(), Some("us-west-2"));
        assert_eq!(o.version_id.as_deref(), Some("x"));
        // Shapes Ignition v2.26.0 accepts and fetches: a bucket ARN with a region and an
        // account (the bucket is the text after the last ':'), with a versionId, a region
        // without an account, an empty partition.
        let o =
            S3Object::parse("arn:aws:s3:us-west-2:123456789012:bucket-name/object-key").unwrap();
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
        let url = |u: &str, region: &str| S3Object::parse(u).unwrap().object_url(region, None);
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
            o.bucket_url("eu-west-1", None),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/"
        );
        assert_eq!(
            o.bucket_url("x", Some("http://h:1/")),
            "http://h:1/my-bucket"
        );
        assert_eq!(
            o.object_url("x", Some("http://h:1")),
            "http://h:1/my-bucket/k"
        );
    }
}
