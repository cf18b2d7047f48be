//! Alibaba Cloud (aliyun): user data from the metadata service, including the hardened-mode token flow.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "aliyun provider is not implemented yet in this build",
    ))
}
