//! Instance credentials for object stores: AWS role credentials and region from IMDS (IMDSv2
//! token, IMDSv1 fallback) and the GCE service-account token. Credentials and tokens are never
//! logged.

use super::{is_region, sigv4, Credentials, ABSENT_TTL, CREDS_TTL};
use crate::error::{Error, Result};
use crate::resource::{Fetcher, Options};
use serde::Deserialize;
use std::time::Duration;

#[derive(Clone, Default)]
pub(super) struct AwsInstance {
    pub(super) creds: Option<Credentials>,
    /// `placement/region`: the region hint for buckets.
    pub(super) region: Option<String>,
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
    f.derive(opts, f.is_offline())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ImdsCredentials {
    code: Option<String>,
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
}

/// The IMDSv2 session token: `Some(Some(token))`, or `Some(None)` when the service refuses
/// tokens (IMDSv1 then), or `None` when no metadata service answered at all. Unlike the
/// providers' `util::session_token`, every refusal falls back to IMDSv1 and an unreachable
/// service is not an error: S3 objects can still be fetched anonymously.
fn imds_token(probe: &Fetcher, base: &str) -> Option<Option<String>> {
    match probe.http_exchange(
        "PUT",
        &format!("{base}/latest/api/token"),
        &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        Some(b""),
    ) {
        Err(e) => {
            log::debug!("no AWS instance metadata service ({e}); S3 requests go unsigned");
            None
        }
        Ok(r) if r.status == 200 => Some(Some(String::from_utf8_lossy(&r.body).trim().to_string())),
        Ok(r) => {
            log::debug!("IMDSv2 token refused (HTTP {}); trying IMDSv1", r.status);
            Some(None)
        }
    }
}

/// Asks IMDS (v2 token first, v1 if the token is refused) for the region and the credentials
/// of the instance's role. `None`: no metadata service answered.
pub(super) fn query_imds(f: &Fetcher, base: &str, wait: Duration) -> Option<AwsInstance> {
    let probe = probe_fetcher(f, wait);
    let token = imds_token(&probe, base)?;
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
pub(super) fn query_gce_token(
    f: &Fetcher,
    base: &str,
    wait: Duration,
) -> (Option<String>, Duration) {
    let probe = probe_fetcher(f, wait);
    let url = format!("{base}/computeMetadata/v1/instance/service-accounts/default/token");
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
