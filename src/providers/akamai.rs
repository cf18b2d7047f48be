//! Akamai (Linode): metadata token, then base64 (optionally gzipped) user data.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "akamai provider is not implemented yet in this build",
    ))
}
