//! Network behaviour of a fetch (`Options`): timeouts, proxy, trusted CAs and retried statuses,
//! with Ignition's defaults and those a config's `ignition` section sets.

use super::ProxyConfig;
use crate::config::types::Ignition;
use std::path::PathBuf;
use std::time::Duration;

/// Network behaviour taken from the config's `ignition` section.
#[derive(Debug, Clone)]
pub struct Options {
    /// Per attempt: how long to wait for response headers (None: no limit). Default 10 s.
    pub response_headers: Option<Duration>,
    /// Per attempt: how long to wait for a TCP connection (None: no limit). Default 30 s, Go's
    /// dial timeout; metadata probes for object-store credentials use a few seconds.
    pub connect: Option<Duration>,
    /// Per fetch, retries included (None: no limit). Default none.
    pub total: Option<Duration>,
    pub proxy: ProxyConfig,
    /// Extra trusted CA bundles (PEM), from `ignition.security.tls.certificateAuthorities`.
    pub ca_bundles: Vec<Vec<u8>>,
    /// The system trust store files; the first that exists is used.
    pub system_ca_files: Vec<PathBuf>,
    /// Statuses retried on top of connection errors and 5xx (per provider).
    pub retry_codes: Vec<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            response_headers: Some(Duration::from_secs(10)),
            connect: Some(Duration::from_secs(30)),
            total: None,
            proxy: ProxyConfig::default(),
            ca_bundles: Vec::new(),
            system_ca_files: [
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
                "/etc/ssl/cert.pem",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
            retry_codes: Vec::new(),
        }
    }
}

impl Options {
    /// Timeouts and proxy of a config (CAs are fetched separately: they are resources too).
    pub fn from_ignition(ign: &Ignition) -> Options {
        let secs = |v: Option<i64>| v.map(|s| Duration::from_secs(s.max(0) as u64));
        let mut o = Options::default();
        if let Some(h) = ign.timeouts.http_response_headers {
            o.response_headers = (h > 0).then(|| Duration::from_secs(h as u64));
        }
        o.total = secs(ign.timeouts.http_total).filter(|d| !d.is_zero());
        o.proxy = ProxyConfig::new(
            ign.proxy.http_proxy.clone(),
            ign.proxy.https_proxy.clone(),
            &ign.proxy.no_proxy,
        );
        o
    }
}
