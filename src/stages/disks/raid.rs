//! Software RAID: `mdadm --create` with Ignition's argv for each `storage.raid` entry, after
//! its member devices appear, then a wait for `/dev/md/NAME`.

use super::{kernel, Env};
use crate::config::types::Raid;
use crate::error::{Context, Error, Result};
use crate::stages::util::devices;
use crate::sys::cmd::Cmd;
use std::path::PathBuf;

/// The device an array appears as: `/dev/md/NAME`, or NAME itself when it is a /dev path.
pub fn array_path(name: &str) -> String {
    if name.starts_with("/dev/") {
        name.to_string()
    } else {
        format!("/dev/md/{name}")
    }
}

/// `mdadm --create NAME --force --run --homehost any --level L --raid-devices N
/// [--spare-devices S] [options...] DEVICES...` (members by their resolved nodes).
pub fn create_cmd(md: &Raid, members: &[PathBuf]) -> Result<Cmd> {
    let spares = md.spares.unwrap_or(0);
    let total = i64::try_from(md.devices.len()).unwrap_or(i64::MAX);
    if spares < 0 || spares >= total {
        return Err(Error::failed(format!(
            "{spares} spares leave no active device among {total}"
        )));
    }
    let level = md
        .level
        .as_deref()
        .ok_or_else(|| Error::failed("raid level is not set"))?;
    let mut c = Cmd::new("mdadm").args([
        "--create",
        &md.name,
        "--force",
        "--run",
        "--homehost",
        "any",
        "--level",
        level,
        "--raid-devices",
        &(total - spares).to_string(),
    ]);
    if spares > 0 {
        c = c.args(["--spare-devices", &spares.to_string()]);
    }
    Ok(c.args(md.options.iter()).args(members))
}

pub fn apply(env: &Env, raids: &[Raid]) -> Result<()> {
    for (i, md) in raids.iter().enumerate() {
        let path = format!("$.storage.raid.{i}");
        let wanted: Vec<(String, String)> = md
            .devices
            .iter()
            .map(|d| (d.clone(), path.clone()))
            .collect();
        let members = devices::wait_all(env, &wanted).context(|| path.clone())?;
        let cmd = create_cmd(md, &members).context(|| path.clone())?;
        crate::log::op(&format!("creating RAID array {}", md.name), || {
            env.runner.run(&cmd).map(|_| ())
        })
        .context(|| path.clone())?;
        kernel::settle(env);
        devices::wait(env, &array_path(&md.name), &path)?;
    }
    Ok(())
}
