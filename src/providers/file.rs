//! The `file` platform (tests and manual runs): the config is the file named by
//! `IGNITION_CONFIG_FILE`, or `config.ign` in the working directory, as in Ignition.

use super::Env;
use crate::error::{Error, Result};

fn config_path() -> String {
    crate::distro::config_file()
}

pub fn fetch_config(_env: &Env) -> Result<Option<Vec<u8>>> {
    read(&config_path())
}

/// The config file's detached signature, `<file>.sig`.
pub fn fetch_signature(_env: &Env) -> Result<Option<(Vec<u8>, String)>> {
    let path = format!("{}.sig", config_path());
    Ok(read(&path)?.map(|b| (b, path)))
}

fn read(path: &str) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failed(format!("reading config file {path}: {e}"))),
    }
}
