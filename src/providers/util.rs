//! Small helpers the metadata-service providers share: URL joining, the fetch-timeout bound on
//! HTTP retries, base64 user data, "empty means no config", and reading an HTTP status back out
//! of a fetcher error. No I/O of its own beyond building a bounded `Fetcher`.

use super::Env;
use crate::error::{Context, Error, Kind, Result};
use crate::resource::Fetcher;
use std::time::{Duration, Instant};

/// `base` + `/` + `path`, whatever slashes either side brings.
pub(crate) fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}

/// The fetcher to use for the provider config: the caller's, with its total retry time cut to
/// `-fetch-timeout` (Ignition bounds the provider fetch the same way). Without the bound an
/// unreachable metadata service would be retried forever.
pub(crate) struct Http<'a> {
    owned: Option<Fetcher>,
    shared: &'a Fetcher,
}

impl<'a> Http<'a> {
    pub(crate) fn new(env: &Env<'a>) -> Http<'a> {
        Http {
            owned: bounded(env.fetcher, env.fetch_timeout),
            shared: env.fetcher,
        }
    }

    pub(crate) fn fetcher(&self) -> &Fetcher {
        self.owned.as_ref().unwrap_or(self.shared)
    }

    /// A GET that maps 404 and an empty body to "no config".
    pub(crate) fn get_user_data(
        &self,
        url: &str,
        headers: &[(&str, &str)],
        retry_codes: &[u16],
    ) -> Result<Option<Vec<u8>>> {
        let body = self
            .fetcher()
            .http_request("GET", url, headers, None, retry_codes)
            .context(|| format!("fetching user data from {url}"))?;
        Ok(non_empty(body))
    }
}

/// A session-token endpoint (AWS IMDSv2, aliyun hardened mode): `PUT` with a TTL header returns
/// a token for the following requests.
pub(crate) struct TokenEndpoint<'s> {
    pub url: String,
    pub ttl_header: &'s str,
    pub ttl_seconds: &'s str,
}

impl Http<'_> {
    /// The session token, or `None` when the service has no token endpoint (404, or 403/405 from
    /// services and proxies that refuse the `PUT`): the caller then goes on without one. Any
    /// other failure, including `NeedNet`, is returned.
    pub(crate) fn session_token(&self, ep: &TokenEndpoint) -> Result<Option<String>> {
        let r = self.fetcher().http_request(
            "PUT",
            &ep.url,
            &[(ep.ttl_header, ep.ttl_seconds)],
            Some(b""),
            &[],
        );
        let body = match r {
            Ok(Some(b)) => b,
            Ok(None) => {
                log::info!(
                    "{}: no token endpoint (HTTP 404); going on without a token",
                    ep.url
                );
                return Ok(None);
            }
            Err(e) => match http_status(&e) {
                Some(s @ (403 | 405)) => {
                    log::info!(
                        "{}: token refused (HTTP {s}); going on without a token",
                        ep.url
                    );
                    return Ok(None);
                }
                _ => return Err(e.context(format!("requesting a session token from {}", ep.url))),
            },
        };
        let token = String::from_utf8(body)
            .map_err(|_| Error::failed(format!("{}: the session token is not text", ep.url)))?;
        let token = token.trim();
        if token.is_empty() {
            log::warn!("{}: empty session token; going on without a token", ep.url);
            return Ok(None);
        }
        Ok(Some(token.to_string()))
    }
}

/// A fetcher like `f` whose retries stop after `limit`; `None` when `f` is already bounded as
/// tightly (or `limit` is zero, meaning no bound).
pub(crate) fn bounded(f: &Fetcher, limit: Duration) -> Option<Fetcher> {
    if limit.is_zero() {
        return None;
    }
    let mut opts = f.options().clone();
    match opts.total {
        Some(t) if t <= limit => None,
        _ => {
            opts.total = Some(limit);
            Some(f.derive(opts, f.is_offline()))
        }
    }
}

/// Ignition treats empty user data as no config.
pub(crate) fn non_empty(data: Option<Vec<u8>>) -> Option<Vec<u8>> {
    data.filter(|d| !d.is_empty())
}

/// Decodes standard base64 user data; surrounding and embedded ASCII whitespace is ignored.
pub(crate) fn decode_base64(data: &[u8], what: &str) -> Result<Vec<u8>> {
    let text: String = data
        .iter()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|&b| b as char)
        .collect();
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    crate::config::url::base64_decode_into(&text, &mut |c| out.extend_from_slice(c))
        .map_err(|e| Error::failed(format!("decoding {what} as base64: {e}")))?;
    Ok(out)
}

/// The HTTP status of a failed metadata request, when the failure was a status other than
/// 404 (the token flows of AWS and aliyun decide on the number whether to fall back to
/// token-less requests). The fetcher records it on the error; it is never read from the text.
pub(crate) fn http_status(e: &Error) -> Option<u16> {
    if e.kind() != Kind::Failed {
        return None;
    }
    e.status()
}

/// A point in time after which a provider stops waiting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Instant);

impl Deadline {
    pub(crate) fn after(d: Duration) -> Deadline {
        Deadline(Instant::now() + d)
    }

    pub(crate) fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub(crate) fn passed(&self) -> bool {
        self.remaining().is_zero()
    }
}

/// How long a provider waits for its sources: `-fetch-timeout`, or a long day when it is zero.
pub(crate) fn wait_limit(env: &Env) -> Duration {
    if env.fetch_timeout.is_zero() {
        Duration::from_secs(24 * 3600)
    } else {
        env.fetch_timeout
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins() {
        assert_eq!(join("http://a/", "/b/c"), "http://a/b/c");
        assert_eq!(join("http://a", "b"), "http://a/b");
    }

    #[test]
    fn base64_with_whitespace() {
        assert_eq!(decode_base64(b" aGVs\nbG8=\r\n", "x").unwrap(), b"hello");
        assert!(decode_base64(b"not base64!", "x")
            .unwrap_err()
            .to_string()
            .contains("decoding x as base64"));
        assert_eq!(decode_base64(b"", "x").unwrap(), b"");
    }

    #[test]
    fn statuses() {
        assert_eq!(
            http_status(
                &Error::failed("PUT http://x/y: HTTP 405")
                    .with_status(405)
                    .context("token")
            ),
            Some(405)
        );
        assert_eq!(http_status(&Error::failed("connection refused")), None);
        // The text is not parsed: only the recorded status counts.
        assert_eq!(
            http_status(&Error::failed("PUT http://x/y: HTTP 405")),
            None
        );
        assert_eq!(
            http_status(&Error::new(Kind::NotFound, "HTTP 404").with_status(404)),
            None
        );
    }

    #[test]
    fn bounds() {
        let f = Fetcher::plain(false);
        let b = bounded(&f, Duration::from_secs(3)).unwrap();
        assert_eq!(b.options().total, Some(Duration::from_secs(3)));
        assert!(bounded(&b, Duration::from_secs(10)).is_none());
        assert!(bounded(&f, Duration::ZERO).is_none());
        assert!(bounded(&Fetcher::plain(true), Duration::from_secs(1))
            .unwrap()
            .is_offline());
    }

    #[test]
    fn empties() {
        assert_eq!(non_empty(Some(vec![])), None);
        assert_eq!(non_empty(Some(vec![1])), Some(vec![1]));
        assert_eq!(non_empty(None), None);
    }
}
