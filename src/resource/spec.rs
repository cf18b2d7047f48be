//! What to fetch: `Spec` (URL, first-request headers, compression, expected hash), built from a
//! config `Resource` or a bare URL.

use super::HashSpec;
use crate::config::types::Resource;
use crate::error::Result;

/// How a resource's bytes are stored at their source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
}

/// One thing to fetch: where, with which extra headers, and how to check it.
#[derive(Debug, Clone)]
pub struct Spec {
    pub url: String,
    /// `httpHeaders` (those with a value), sent on http(s) to the first URL only (every
    /// redirect drops them, as in Ignition).
    pub headers: Vec<(String, String)>,
    pub compression: Compression,
    /// Checked over the decompressed bytes.
    pub hash: Option<HashSpec>,
}

impl Spec {
    pub fn url(url: &str) -> Spec {
        Spec {
            url: url.to_string(),
            headers: Vec::new(),
            compression: Compression::None,
            hash: None,
        }
    }

    /// The spec of a config resource; `None` when it has no source.
    pub fn from_resource(r: &Resource) -> Result<Option<Spec>> {
        let Some(src) = &r.source else {
            return Ok(None);
        };
        let hash = r
            .verification
            .hash
            .as_deref()
            .map(HashSpec::parse)
            .transpose()?;
        Ok(Some(Spec {
            url: src.clone(),
            headers: r
                .http_headers
                .iter()
                .filter_map(|h| h.value.as_ref().map(|v| (h.name.clone(), v.clone())))
                .collect(),
            compression: match r.compression.as_deref() {
                Some("gzip") => Compression::Gzip,
                _ => Compression::None,
            },
            hash,
        }))
    }
}
