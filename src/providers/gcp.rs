//! Google Cloud: the user-data attribute of the metadata service.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "gcp provider is not implemented yet in this build",
    ))
}
