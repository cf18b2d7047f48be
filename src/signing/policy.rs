//! The signing policy: signatures are required exactly when trusted keys are baked in; then
//! every config that did not come from the initramfs or the local system dirs must carry a
//! valid signature, and every remote resource of the final config needs `verification.hash`
//! (so that the signature covers its bytes too). Where each signature is found is decided here
//! ([`SigFrom`], [`sibling`]); fetching it is the engine's job.

use super::TrustedKeys;
use crate::config::types::Config;
use crate::error::Kind;
use crate::error::{Context, Error, Result};
use crate::providers::HostPaths;
use crate::resource::{self, Fetcher, Spec};

/// Where a config's detached signature is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigFrom {
    /// The initramfs or the system config dirs: trusted as the keys are (whoever can change
    /// these files can change the keys).
    Local,
    /// A URL: `ignition.config.signature=`, or the config URL's sibling `<url>.sig`.
    Url(String),
    /// `<path>.sig` on the config device.
    Device(std::path::PathBuf, String),
    /// The platform's own place for it (VMware's guestinfo), if it has one.
    Platform,
    /// Nowhere (a `data:` config URL without `ignition.config.signature=`).
    Nowhere,
}

/// The signing policy; `None` from [`Policy::load`] means signatures are not required.
pub struct Policy {
    keys: TrustedKeys,
}

impl Policy {
    pub fn load(host: &HostPaths) -> Result<Option<Policy>> {
        let keys = TrustedKeys::load(host)?;
        if keys.is_empty() {
            return Ok(None);
        }
        log::info!(
            "signed configs required: {} trusted key(s) in {}",
            keys.0.len(),
            super::KEYS_DIR
        );
        Ok(Some(Policy { keys }))
    }

    /// Checks `config` (described as `what`) against its signature, found at `location`
    /// (`None`: there is none). Every failure stops the boot with the reason.
    pub fn verify(&self, what: &str, config: &[u8], sig: Option<(Vec<u8>, String)>) -> Result<()> {
        let Some((sig, location)) = sig else {
            return Err(Error::failed(format!(
                "{what}: not signed, and signed configs are required (trusted keys in {})",
                super::KEYS_DIR
            )));
        };
        let key = self
            .keys
            .verify(config, &sig)
            .context(|| format!("{what}: signature {location}"))?;
        log::info!("{what}: signature {location} by {} verified", key.origin);
        Ok(())
    }

    /// Every remote resource of the final config must carry `verification.hash`: a signed
    /// config vouches for bytes fetched later only through their hash.
    pub fn check_resources(&self, cfg: &Config) -> Result<()> {
        for (path, r) in cfg.resources() {
            let Some(src) = r.source.as_deref() else {
                continue;
            };
            if src.starts_with("data:") || r.verification.hash.is_some() {
                continue;
            }
            return Err(Error::failed(format!(
                "error at {path}: signed configs are required, and {} has no verification.hash, so \
                 the signature would not cover its bytes",
                resource::redact(src)
            )));
        }
        Ok(())
    }
}

/// A signature at a URL: `None` when the server has none (404), else its bytes and the URL as
/// logs may show it.
pub fn fetch(fetcher: &Fetcher, spec: &Spec) -> Result<Option<(Vec<u8>, String)>> {
    let shown = resource::redact(&spec.url);
    match fetcher.fetch_bytes(spec) {
        Ok(b) => Ok(Some((b, shown))),
        Err(e) if e.kind() == Kind::NotFound => Ok(None),
        Err(e) => Err(e.context(format!("fetching signature {shown}"))),
    }
}

/// The sibling signature URL of a config URL: `.sig` appended to its path (before any query
/// or fragment). A `data:` URL has none.
pub fn sibling(url: &str) -> Option<String> {
    if url.starts_with("data:") {
        return None;
    }
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    Some(format!("{}.sig{}", &url[..cut], &url[cut..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sibling_urls() {
        assert_eq!(
            sibling("http://h/c.ign").as_deref(),
            Some("http://h/c.ign.sig")
        );
        assert_eq!(
            sibling("https://h/c.ign?x=1#f").as_deref(),
            Some("https://h/c.ign.sig?x=1#f")
        );
        assert_eq!(sibling("s3://b/k").as_deref(), Some("s3://b/k.sig"));
        assert_eq!(sibling("data:,{}"), None);
    }

    #[test]
    fn remote_resources_need_a_hash() {
        let cfg: Config = serde_json::from_str(
            r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[
              {"path":"/a","contents":{"source":"data:,x"}},
              {"path":"/b","contents":{"source":"http://h/b","verification":{"hash":"sha512-00"}}},
              {"path":"/c","contents":{"source":"http://u:secret@h/c"}}]}}"#,
        )
        .unwrap();
        let p = Policy {
            keys: TrustedKeys::default(),
        };
        let e = p.check_resources(&cfg).unwrap_err().to_string();
        assert!(e.contains("error at $.storage.files.2.contents"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }
}
