//! TFTP (RFC 1350 with the blksize and tsize options of RFC 2348/2349) for `tftp://` resources.

use super::{Options, Sink, Spec};
use crate::error::{Error, Result};

/// Fetches `spec` (a `tftp://host[:port]/path` URL) into `sink`.
pub fn fetch(spec: &Spec, _opts: &Options, _sink: &mut dyn Sink) -> Result<u64> {
    Err(Error::failed(format!(
        "tftp is not implemented yet in this build: {}",
        spec.url
    )))
}
