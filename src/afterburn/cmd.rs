//! The `ignis afterburn ...` commands: find the platform (the flag, or `ignition.platform.id`
//! on the kernel command line), read its metadata through the providers and hand it to the
//! writers. Host files (/proc/cmdline, devices) are read under `IGNIS_HOST_ROOT`, as the
//! stages do; `IGNIS_METADATA_BASE` replaces the metadata services' base URL (tests).

use super::{attributes_text, netkargs, network_kargs_file, write_hostname, write_ssh_keys};
use crate::cli::{AfterburnAction, AfterburnArgs, ProviderArg};
use crate::error::{Error, Result};
use crate::providers::metadata::{metadata_for_id, platform_for_id};
use crate::providers::mounter::RealMounter;
use crate::providers::{Env, HostPaths};
use crate::resource::Fetcher;
use crate::sys::root::Root;
use std::path::Path;

/// The SSH keys fragment name, as Afterburn's.
pub const SSH_FRAGMENT: &str = "afterburn";

pub fn run(args: &AfterburnArgs) -> Result<()> {
    let host = HostPaths::new(std::env::var("IGNIS_HOST_ROOT").unwrap_or_else(|_| "/".into()));
    let id = match &args.provider {
        ProviderArg::Id(id) => id.clone(),
        ProviderArg::Cmdline => platform_from_cmdline(&host)?,
    };
    let mounter = RealMounter::new();
    // The network kargs are decided before the initrd has a network: no request may leave.
    let offline = matches!(args.action, AfterburnAction::NetworkKargs { .. });
    let fetcher = Fetcher::plain(offline);
    let env = Env {
        host: &host,
        fetcher: &fetcher,
        mounter: &mounter,
        fetch_timeout: args.fetch_timeout,
        metadata_base: std::env::var("IGNIS_METADATA_BASE").ok(),
    };
    match &args.action {
        AfterburnAction::NetworkKargs { default, output } => {
            network_kargs(&env, &id, default.as_deref(), output)
        }
        action => {
            let md = metadata_for_id(&id, &env)?;
            match action {
                AfterburnAction::Hostname { root, path } => {
                    write_hostname(&Root::open(root)?, path, &md)?;
                }
                AfterburnAction::SshKeys { user, root } => {
                    write_ssh_keys(&Root::open(root)?, user, SSH_FRAGMENT, &md.ssh_keys)?;
                }
                AfterburnAction::Attributes { output } => write_attributes(output, &md)?,
                AfterburnAction::Multi {
                    hostname,
                    ssh_keys,
                    attributes,
                } => {
                    if let Some(a) = attributes {
                        write_attributes(a, &md)?;
                    }
                    // Afterburn's paths are the running system's: the root is `/`.
                    if let Some(p) = hostname {
                        write_hostname(&Root::open(Path::new("/"))?, p, &md)?;
                    }
                    if let Some(u) = ssh_keys {
                        write_ssh_keys(
                            &Root::open(Path::new("/"))?,
                            u,
                            SSH_FRAGMENT,
                            &md.ssh_keys,
                        )?;
                    }
                }
                AfterburnAction::NetworkKargs { .. } => {}
            }
            Ok(())
        }
    }
}

fn write_attributes(output: &Path, md: &super::Metadata) -> Result<()> {
    crate::state::write_atomic(output, attributes_text(&md.attributes).as_bytes(), 0o644)?;
    log::info!(
        "attributes: wrote {} attribute(s) to {}",
        md.attributes.len(),
        output.display()
    );
    Ok(())
}

fn read_cmdline(host: &HostPaths) -> Result<String> {
    let b = host
        .read_opt("/proc/cmdline")?
        .ok_or_else(|| Error::setup("reading /proc/cmdline: no such file"))?;
    Ok(String::from_utf8_lossy(&b).into_owned())
}

/// `ignition.platform.id=` of the kernel command line; its absence is a setup problem.
fn platform_from_cmdline(host: &HostPaths) -> Result<String> {
    let cmdline = read_cmdline(host)?;
    let id = crate::cmdline::parse(&cmdline)
        .platform_id
        .ok_or_else(|| Error::setup("the kernel command line has no ignition.platform.id="))?;
    // An id the kernel command line names but ignis does not know is the machine's problem,
    // not the caller's usage.
    platform_for_id(&id).map_err(|e| Error::setup(format!("/proc/cmdline: {e}")))?;
    log::info!("platform {id} (from the kernel command line)");
    Ok(id)
}

fn network_kargs(env: &Env, id: &str, default: Option<&str>, output: &Path) -> Result<()> {
    let cmdline = read_cmdline(env.host)?;
    if netkargs::has_ip(&cmdline) {
        log::info!("network kargs: the command line already configures ip=, nothing to add");
        return Ok(());
    }
    let from_platform = crate::providers::metadata::network_kargs_for_id(id, env)?;
    let Some(body) = network_kargs_file(&cmdline, from_platform.as_deref(), default)? else {
        return Ok(());
    };
    crate::state::write_atomic(output, body.as_bytes(), 0o644)?;
    log::info!(
        "network kargs: wrote {} kargs to {}",
        if from_platform.is_some() {
            "the platform's"
        } else {
            "the default"
        },
        output.display()
    );
    Ok(())
}
