//! `ignis afterburn`'s command line: the subcommands, Afterburn's own spellings (`multi`,
//! `exp rd-network-kargs`, the legacy flag-only form) and what each resolves to.

use super::flags::{flag_name, parse_bool};
use super::{parse_duration, Command};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// Where `ignis afterburn` takes the platform from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderArg {
    /// `--provider ID` (ignis's platform ids, plus Afterburn's `openstack-metadata`,
    /// `cloudstack-metadata`, `cloudstack-configdrive`).
    Id(String),
    /// `--cmdline`: `ignition.platform.id=` on the kernel command line.
    Cmdline,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterburnAction {
    /// Write the hostname to `path` inside the target `root`.
    Hostname { root: PathBuf, path: String },
    /// Write `~user/.ssh/authorized_keys.d/afterburn` inside the target `root`.
    SshKeys { user: String, root: PathBuf },
    /// Write `AFTERBURN_*` lines to `output`.
    Attributes { output: PathBuf },
    /// Write the initrd network kargs (or the default) to `output`, unless the kernel
    /// command line already has `ip=`.
    NetworkKargs {
        default: Option<String>,
        output: PathBuf,
    },
    /// Afterburn's `multi`: any of its three jobs at once, on the running system's root.
    Multi {
        hostname: Option<String>,
        ssh_keys: Option<String>,
        attributes: Option<PathBuf>,
        /// `--check-in`: the platform's boot check-in (Azure's ready report, Packet's
        /// phone-home).
        check_in: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterburnArgs {
    pub provider: ProviderArg,
    pub action: AfterburnAction,
    pub fetch_timeout: Duration,
}

/// Which `ignis afterburn` form is being parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AbForm {
    Hostname,
    SshKeys,
    Attributes,
    NetworkKargs,
    Multi,
}

/// `ignis afterburn <subcommand> [flags]`, Afterburn's `multi` and `exp rd-network-kargs`, and
/// its legacy flag-only form (`--provider=aws --ssh-keys=core`).
pub fn parse_afterburn(args: &[String]) -> Result<Command> {
    let (form, flags) = match args.first().map(String::as_str) {
        Some("hostname") => (AbForm::Hostname, &args[1..]),
        Some("ssh-keys") => (AbForm::SshKeys, &args[1..]),
        Some("attributes") => (AbForm::Attributes, &args[1..]),
        Some("network-kargs") => (AbForm::NetworkKargs, &args[1..]),
        Some("multi") => (AbForm::Multi, &args[1..]),
        Some("exp") if args.get(1).map(String::as_str) == Some("rd-network-kargs") => {
            (AbForm::NetworkKargs, &args[2..])
        }
        Some(a) if a.starts_with('-') => (AbForm::Multi, args),
        Some(other) => {
            return Err(Error::usage(format!(
                "afterburn: unknown subcommand {other:?}; expected hostname, ssh-keys, attributes or network-kargs"
            )))
        }
        None => return Err(Error::usage("afterburn: a subcommand is required")),
    };
    let mut values: Vec<(String, String)> = Vec::new();
    let mut cmdline = false;
    let mut check_in = false;
    let mut i = 0;
    while i < flags.len() {
        let arg = &flags[i];
        i += 1;
        let Some((name, inline)) = flag_name(arg) else {
            return Err(Error::usage(format!(
                "afterburn: unexpected argument {arg:?}"
            )));
        };
        match name {
            "cmdline" => {
                cmdline = inline.map(parse_bool).transpose()?.unwrap_or(true);
                continue;
            }
            // Afterburn's legacy rewriting marker: nothing to do here.
            "legacy-cli" => continue,
            "check-in" if form == AbForm::Multi => {
                check_in = inline.map(parse_bool).transpose()?.unwrap_or(true);
                continue;
            }
            "network-units" | "netplan-config" | "networkmanager-profiles" => {
                return Err(Error::usage(format!(
                    "afterburn: --{name} is not supported by ignis"
                )))
            }
            _ => {}
        }
        let allowed: &[&str] = match form {
            AbForm::Hostname => &["root", "path"],
            AbForm::SshKeys => &["user", "root"],
            AbForm::Attributes => &["output"],
            AbForm::NetworkKargs => &["default-value", "output"],
            AbForm::Multi => &["hostname", "ssh-keys", "attributes"],
        };
        if name != "provider" && name != "fetch-timeout" && !allowed.contains(&name) {
            return Err(Error::usage(format!(
                "afterburn: flag provided but not defined: --{name}"
            )));
        }
        let value = match inline {
            Some(v) => v.to_string(),
            None => {
                let v = flags.get(i).ok_or_else(|| {
                    Error::usage(format!("afterburn: flag needs an argument: --{name}"))
                })?;
                i += 1;
                v.clone()
            }
        };
        values.push((name.to_string(), value));
    }
    let get = |n: &str| {
        values
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    let provider = match (get("provider"), cmdline) {
        (Some(id), false) => ProviderArg::Id(id),
        (None, true) => ProviderArg::Cmdline,
        _ => {
            return Err(Error::usage(
                "afterburn: exactly one of --provider ID and --cmdline is required",
            ))
        }
    };
    let fetch_timeout = match get("fetch-timeout") {
        Some(v) => parse_duration(&v)
            .ok_or_else(|| Error::usage(format!("invalid duration {v:?} for --fetch-timeout")))?,
        None => Duration::from_secs(120),
    };
    let root = || PathBuf::from(get("root").unwrap_or_else(|| "/".into()));
    let action = match form {
        AbForm::Hostname => AfterburnAction::Hostname {
            root: root(),
            path: get("path").unwrap_or_else(|| "/etc/hostname".into()),
        },
        AbForm::SshKeys => AfterburnAction::SshKeys {
            user: get("user")
                .ok_or_else(|| Error::usage("afterburn ssh-keys: --user is required"))?,
            root: root(),
        },
        AbForm::Attributes => AfterburnAction::Attributes {
            output: PathBuf::from(
                get("output").unwrap_or_else(|| "/run/metadata/afterburn".into()),
            ),
        },
        AbForm::NetworkKargs => AfterburnAction::NetworkKargs {
            default: get("default-value"),
            output: PathBuf::from(
                get("output").unwrap_or_else(|| crate::afterburn::netkargs::KARGS_FILE.into()),
            ),
        },
        AbForm::Multi => {
            let (hostname, ssh_keys) = (get("hostname"), get("ssh-keys"));
            let attributes = get("attributes").map(PathBuf::from);
            if hostname.is_none() && ssh_keys.is_none() && attributes.is_none() && !check_in {
                return Err(Error::usage(
                    "afterburn multi: nothing to do (give --hostname, --ssh-keys, --attributes or --check-in)",
                ));
            }
            AfterburnAction::Multi {
                hostname,
                ssh_keys,
                attributes,
                check_in,
            }
        }
    };
    Ok(Command::Afterburn(AfterburnArgs {
        provider,
        action,
        fetch_timeout,
    }))
}
