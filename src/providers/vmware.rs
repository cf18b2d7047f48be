//! VMware: guestinfo over the backdoor (and the OVF environment).

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "vmware provider is not implemented yet in this build",
    ))
}
