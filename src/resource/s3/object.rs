//! S3 objects as `s3://` URLs and `arn:` names (buckets and access points) and the HTTPS URLs
//! that address them: bucket and region checks, virtual-host or path style.

use super::sigv4;
use crate::config::url;
use crate::error::{Error, Result};
use crate::resource::redact;

pub(super) fn is_region(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 32
        && r.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// One S3 object as a URL or ARN names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct S3Object {
    /// The bucket, or for an access point its host label `<name>-<account>`.
    pub(super) bucket: String,
    pub(super) access_point: bool,
    pub(super) key: Vec<u8>,
    pub(super) version_id: Option<String>,
    /// Known for access points (their ARN names it).
    pub(super) region: Option<String>,
    /// From an ARN's partition: where to ask for the bucket's region.
    pub(super) region_hint: Option<&'static str>,
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

pub(super) fn bucket_name_ok(b: &str) -> bool {
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
    pub(super) fn parse(u: &str) -> Result<S3Object> {
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

    pub(super) fn object_url(&self, region: &str) -> String {
        let key = sigv4::uri_encode(&self.key, true);
        let query = self
            .version_id
            .as_ref()
            .map(|v| format!("?versionId={}", sigv4::uri_encode(v.as_bytes(), false)))
            .unwrap_or_default();
        let (b, d) = (&self.bucket, aws_domain(region));
        if self.access_point {
            format!("https://{b}.s3-accesspoint.{region}.{d}/{key}{query}")
        } else if virtual_hostable(b) {
            format!("https://{b}.s3.{region}.{d}/{key}{query}")
        } else {
            format!("https://s3.{region}.{d}/{b}/{key}{query}")
        }
    }

    pub(super) fn bucket_url(&self, region: &str) -> String {
        let (b, d) = (&self.bucket, aws_domain(region));
        if virtual_hostable(b) {
            format!("https://{b}.s3.{region}.{d}/")
        } else {
            format!("https://s3.{region}.{d}/{b}")
        }
    }
}
