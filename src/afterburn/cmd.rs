//! The `ignis afterburn ...` commands: find the platform (the flag, or `ignition.platform.id`
//! on the kernel command line), read its metadata through the providers and hand it to the
//! writers. Host files (/proc/cmdline, devices) are read under `IGNIS_HOST_ROOT`, as the
//! stages do; tests reroute the metadata services' origins to loopback servers
//! (`IGNIS_HTTP_REROUTE`, `resource::Reroutes`).

use super::{attributes_text, netkargs, network_kargs_file, write_hostname, write_ssh_keys};
use crate::cli::{AfterburnAction, AfterburnArgs, ProviderArg};
use crate::error::{Context, Error, Result};
use crate::providers::metadata::{check_in_for_id, metadata_for_id, platform_for_id};
use crate::providers::mounter::RealMounter;
use crate::providers::{Env, HostPaths};
use crate::resource::Fetcher;
use crate::sys::root::Root;
use std::path::Path;

/// The SSH keys fragment name, as Afterburn's.
pub const SSH_FRAGMENT: &str = "afterburn";

pub fn run(args: &AfterburnArgs) -> Result<()> {
    let host = HostPaths::new(crate::distro::host_root());
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
        runner: &crate::sys::cmd::RealRunner,
        fetch_timeout: args.fetch_timeout,
    };
    match &args.action {
        AfterburnAction::NetworkKargs { default, output } => {
            network_kargs(&env, &id, default.as_deref(), output)
        }
        action => {
            let md = || metadata_for_id(&id, &env);
            match action {
                AfterburnAction::Hostname { root, path } => {
                    write_hostname(&Root::open(root)?, path, &md()?)?;
                }
                AfterburnAction::SshKeys { user, root } => {
                    write_ssh_keys(&Root::open(root)?, user, SSH_FRAGMENT, &md()?.ssh_keys)?;
                }
                AfterburnAction::Attributes { output } => write_attributes(output, &md()?)?,
                AfterburnAction::Multi {
                    hostname,
                    ssh_keys,
                    attributes,
                    check_in,
                } => {
                    // A check-in alone reads no metadata it does not need.
                    if hostname.is_some() || ssh_keys.is_some() || attributes.is_some() {
                        let md = md()?;
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
                    if *check_in {
                        check_in_for_id(&id, &env)?;
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

/// The environment file for systemd-network-generator (under `IGNIS_HOST_ROOT`).
pub const GENERATOR_ENV: &str = "/run/afterburn/network-generator.env";

/// `SYSTEMD_PROC_CMDLINE=<the kernel command line> <kargs>` and a newline.
fn generator_env(cmdline: &str, kargs: &str) -> String {
    let (base, kargs) = (cmdline.trim(), kargs.trim());
    if base.is_empty() {
        format!("SYSTEMD_PROC_CMDLINE={kargs}\n")
    } else {
        format!("SYSTEMD_PROC_CMDLINE={base} {kargs}\n")
    }
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
    // systemd-network-generator reads only the kernel command line (or SYSTEMD_PROC_CMDLINE),
    // never dracut's cmdline.d: hand it the command line with our kargs, as Afterburn 5.11
    // does, for a generator drop-in's EnvironmentFile=.
    let env_file = env.host.path(GENERATOR_ENV);
    if let Some(dir) = env_file.parent() {
        std::fs::create_dir_all(dir).context(|| format!("creating {}", dir.display()))?;
    }
    crate::state::write_atomic(&env_file, generator_env(&cmdline, &body).as_bytes(), 0o644)?;
    log::info!(
        "network kargs: wrote {} kargs to {} and {GENERATOR_ENV}",
        if from_platform.is_some() {
            "the platform's"
        } else {
            "the default"
        },
        output.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_env_joins_cmdline_and_kargs() {
        assert_eq!(
            generator_env("root=/dev/vda1 console=ttyS0\n", "ip=dhcp,dhcp6\n"),
            "SYSTEMD_PROC_CMDLINE=root=/dev/vda1 console=ttyS0 ip=dhcp,dhcp6\n"
        );
        assert_eq!(
            generator_env("", "ip=dhcp"),
            "SYSTEMD_PROC_CMDLINE=ip=dhcp\n"
        );
    }
}
