//! Object storage schemes: `s3://bucket/key` and S3 `arn:` URLs (buckets and access points),
//! anonymous or SigV4-signed with AWS instance credentials from IMDS, and `gs://bucket/object`
//! through the GCS JSON API, anonymous or with the GCE service-account token. Each becomes one
//! HTTPS GET that the HTTP fetcher streams (retries, proxy, CAs, hash). Credentials and tokens
//! are never logged.

mod credentials;
mod object;

pub use super::sigv4::{sign_v4, Credentials};
use super::{redact, sigv4, Compression, Fetcher, Sink, Spec};
use crate::config::url;
use crate::error::{Context, Error, Kind, Result};
use credentials::{query_gce_token, query_imds, AwsInstance};
use object::{bucket_name_ok, is_region, S3Object};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// AWS instance metadata service (IMDS).
const AWS_METADATA: &str = "http://169.254.169.254";
/// GCE metadata server: the address of metadata.google.internal, so no DNS is needed in the
/// initramfs.
const GCE_METADATA: &str = "http://169.254.169.254";
/// Google Cloud Storage.
const GCS: &str = "https://storage.googleapis.com";
/// How long a metadata service may take before objects are fetched anonymously.
const METADATA_WAIT: Duration = Duration::from_secs(3);

/// Instance credentials are rotated by AWS well before they expire; asking again after a few
/// minutes keeps long fetch stages safe without asking for every object.
const CREDS_TTL: Duration = Duration::from_secs(300);
/// An absent metadata service is asked again after this long (the network may come up late).
const ABSENT_TTL: Duration = Duration::from_secs(60);

/// Per-fetcher object-store state: what metadata services said.
pub(crate) struct State {
    /// How long a metadata service may take (`METADATA_WAIT`; tests shorten it).
    metadata_wait: Duration,
    memo: Mutex<Memo>,
}

impl Default for State {
    fn default() -> Self {
        State {
            metadata_wait: METADATA_WAIT,
            memo: Mutex::default(),
        }
    }
}

#[derive(Default)]
struct Memo {
    aws: Option<(Instant, AwsInstance)>,
    gce: Option<(Instant, Option<String>)>,
    /// Bucket name -> region, as S3 reported it.
    bucket_regions: HashMap<String, String>,
}

#[cfg(test)]
impl Fetcher {
    /// This fetcher with `wait` for the metadata services instead of `METADATA_WAIT`.
    pub(crate) fn with_metadata_wait(mut self, wait: Duration) -> Fetcher {
        self.objstore.metadata_wait = wait;
        self
    }
}

impl State {
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
        let (v, ttl) = match query_imds(f, AWS_METADATA, self.metadata_wait) {
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
        let (v, ttl) = query_gce_token(f, GCE_METADATA, self.metadata_wait);
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
        let url = obj.bucket_url(hint);
        let reply = f
            .http_exchange("HEAD", &url, &[], None)
            .context(|| format!("finding the region of bucket {:?}", obj.bucket))?;
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
    let url = obj.object_url(&region);
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
        "{GCS}/storage/v1/b/{}/o/{}?alt=media",
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
mod tests;
