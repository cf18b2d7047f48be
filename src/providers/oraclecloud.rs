//! Oracle Cloud: base64 user data from the v2 metadata service.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "oraclecloud provider is not implemented yet in this build",
    ))
}
