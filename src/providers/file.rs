//! The `file` platform (tests and manual runs): the config is the file named by
//! `IGNITION_CONFIG_FILE`, or `config.ign` in the working directory, as in Ignition.

use super::Env;
use crate::error::{Error, Result};

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    let path = std::env::var("IGNITION_CONFIG_FILE").unwrap_or_else(|_| "config.ign".to_string());
    match std::fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failed(format!("reading config file {path}: {e}"))),
    }
}
