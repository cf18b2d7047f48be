//! Config-drive platforms: IBM Cloud, KubeVirt, Nutanix, PowerVS, Proxmox VE (cidata / config-2).

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env, _p: super::Platform) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "configdrive provider is not implemented yet in this build",
    ))
}
