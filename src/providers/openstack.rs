//! OpenStack and Huawei Cloud: config drive raced with the metadata service.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env, _p: super::Platform) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "openstack provider is not implemented yet in this build",
    ))
}
