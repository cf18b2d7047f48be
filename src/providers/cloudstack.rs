//! CloudStack: config drive, or the metadata service on the DHCP server.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "cloudstack provider is not implemented yet in this build",
    ))
}
