//! Tencent Cloud: user data from the metadata service.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "tencentcloud provider is not implemented yet in this build",
    ))
}
