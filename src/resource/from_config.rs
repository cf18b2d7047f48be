//! The fetch options a config asks for: its timeouts, proxies and headers, plus its CA bundles
//! fetched once (by the fetch stages; a cached config's CAs are data URLs by then).

use super::{Fetcher, Options, Spec};
use crate::config::types::{Config, Ignition};
use crate::error::{Context, Result};

/// Fetch options for `ign`, CA bundles included (they are fetched here, without extra CAs).
pub fn options_for(ign: &Ignition, offline: bool) -> Result<Options> {
    let mut opts = Options::from_ignition(ign);
    if !ign.security.tls.certificate_authorities.is_empty() {
        let plain = Fetcher::new(opts.clone(), offline);
        for (i, ca) in ign.security.tls.certificate_authorities.iter().enumerate() {
            let Some(spec) = Spec::from_resource(ca)? else {
                continue;
            };
            let pem = plain.fetch_bytes(&spec).context(|| {
                format!("fetching CA $.ignition.security.tls.certificateAuthorities.{i}")
            })?;
            opts.ca_bundles.push(pem);
        }
    }
    Ok(opts)
}

/// Fetch options for applying a cached config (its CAs are inlined data URLs by then).
pub fn fetch_options(cfg: &Config) -> Result<Options> {
    options_for(&cfg.ignition, false)
}
