//! Azure and Azure Stack: IMDS userData, then CustomData on the provisioning CD-ROM.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env, _stack: bool) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "azure provider is not implemented yet in this build",
    ))
}
