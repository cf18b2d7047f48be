//! Metadata services that serve user data with one GET: DigitalOcean, Hetzner, Exoscale, Vultr, UpCloud, Scaleway, Packet.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env, _p: super::Platform) -> Result<Option<Vec<u8>>> {
    Err(Error::failed(
        "simple provider is not implemented yet in this build",
    ))
}
