//! `ignition-rmcfg --platform=ID` (also `ignis rmcfg`): run from the real root after the first
//! boot to delete the config from where the platform keeps it readable by the machine. Only
//! VMware guestinfo is supported, as in Ignition; any other platform is refused with a
//! non-zero exit, and so is a machine that is not VMware. Parsing and dispatch here, the
//! guestinfo work in `providers::vmware::delete`.

use crate::cli::Command;
use crate::error::{Error, Result};
use crate::providers::vmware::delete::{delete_config, Deleted};
use crate::providers::vmware::rpci::Rpci;
use crate::providers::{HostPaths, Platform};
use crate::sys::vmware_backdoor::{self, PortIo};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RmcfgArgs {
    pub platform: String,
    pub log_to_stdout: bool,
}

pub const USAGE: &str = "\
usage: ignition-rmcfg --platform=ID [--log-to-stdout]    (or: ignis rmcfg ...)
       deletes the Ignition config from the platform (vmware: guestinfo)
";

/// Ignition's rmcfg flags: `--platform ID`, `--log-to-stdout`, `--version`, `--help`; one or
/// two dashes, `=value` or a separate value. Empty arguments are skipped, as for the stages.
pub fn parse(args: &[String]) -> Result<Command> {
    let mut platform = None;
    let mut log_to_stdout = false;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg.is_empty() {
            continue;
        }
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .filter(|b| !b.is_empty())
            .ok_or_else(|| Error::usage(format!("rmcfg: unexpected argument {arg:?}")))?;
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        match name {
            "version" => return Ok(Command::Version),
            "help" | "h" => return Ok(Command::Help),
            "log-to-stdout" => {
                log_to_stdout = match inline {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(v) => {
                        return Err(Error::usage(format!(
                            "rmcfg: invalid boolean value {v:?} for --log-to-stdout"
                        )))
                    }
                }
            }
            "platform" => {
                let v = match inline {
                    Some(v) => v.to_string(),
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Error::usage("rmcfg: flag needs an argument: --platform"))?,
                };
                platform = Some(v);
            }
            _ => {
                return Err(Error::usage(format!(
                    "rmcfg: flag provided but not defined: --{name}"
                )))
            }
        }
    }
    let platform = platform
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::usage("'--platform' must be provided"))?;
    Ok(Command::Rmcfg(RmcfgArgs {
        platform,
        log_to_stdout,
    }))
}

/// Deletes the config on a real machine.
pub fn run(a: &RmcfgArgs) -> Result<()> {
    let host = HostPaths::new(crate::distro::host_root());
    run_with(a, || vmware_backdoor::open(&host.root))
}

/// `open` is the VMware detection gate: the backdoor's ports, or `None` when not VMware.
pub fn run_with<P: PortIo>(a: &RmcfgArgs, open: impl FnOnce() -> Result<Option<P>>) -> Result<()> {
    let platform = Platform::parse(&a.platform)?;
    if platform != Platform::Vmware {
        return Err(Error::failed(format!(
            "cannot delete the config on platform {}: only vmware (guestinfo) is supported; nothing was changed",
            platform.id()
        )));
    }
    let ports = open()
        .map_err(|e| e.context("detecting VMware"))?
        .ok_or_else(|| {
            Error::failed(
                "platform vmware, but this machine is not VMware (CPUID, DMI, backdoor): no guestinfo to delete the config from",
            )
        })?;
    let d = delete_config(&mut Rpci::new(ports)).map_err(|e| e.context("deleting the config"))?;
    if d == Deleted::default() {
        log::info!("rmcfg: no config left in guestinfo or the OVF environment: nothing to delete");
    } else {
        log::info!("rmcfg: deleted the config from guestinfo");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::vmware::emulator::Host;
    use crate::providers::vmware::{KEY_DATA, KEY_ENCODING};
    use crate::sys::vmware_backdoor::{open_with, CPUID_VENDOR};
    use std::path::PathBuf;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| a.to_string()).collect()
    }

    fn rm(platform: &str) -> RmcfgArgs {
        RmcfgArgs {
            platform: platform.into(),
            log_to_stdout: false,
        }
    }

    #[test]
    fn flags() {
        let want = Command::Rmcfg(rm("vmware"));
        for a in [
            &["--platform=vmware"][..],
            &["--platform", "vmware"],
            &["-platform=vmware", ""],
            &["", "--platform=vmware"],
        ] {
            assert_eq!(parse(&args(a)).unwrap(), want, "{a:?}");
        }
        let Command::Rmcfg(r) = parse(&args(&["--platform=vmware", "--log-to-stdout"])).unwrap()
        else {
            panic!()
        };
        assert!(r.log_to_stdout);
        assert_eq!(parse(&args(&["--version"])).unwrap(), Command::Version);
        for bad in [
            &[][..],
            &["--platform="],
            &["--platform"],
            &["--platform=vmware", "extra"],
            &["--stage=files", "--platform=vmware"],
            &["--platform=vmware", "--log-to-stdout=maybe"],
        ] {
            let e = parse(&args(bad)).unwrap_err();
            assert_eq!(e.kind().exit_code(), 2, "{bad:?}: {e}");
        }
    }

    #[test]
    fn deletes_on_vmware_through_the_detection_gate() {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("platforms/vmware/hosts/esxi");
        let mut h = Host::new();
        h.set(KEY_DATA, b"{\"ignition\":{\"version\":\"3.3.0\"}}");
        run_with(&rm("vmware"), || {
            open_with(Some(CPUID_VENDOR), &root, || Ok(()), &mut h)
        })
        .unwrap();
        assert_eq!(h.get(KEY_DATA), Some(&b"e30K"[..]));
        assert_eq!(h.get(KEY_ENCODING), Some(&b"base64"[..]));
        h.assert_clean();
    }

    #[test]
    fn refuses_other_platforms_and_non_vmware_machines() {
        let mut h = Host::new();
        h.set(KEY_DATA, b"{}");
        let e = run_with(&rm("aws"), || -> Result<Option<&mut Host>> {
            panic!("no detection for another platform")
        })
        .unwrap_err();
        assert_eq!(e.kind().exit_code(), 1);
        assert!(e.to_string().contains("platform aws"), "{e}");
        let e = run_with(&rm("nonsense"), || -> Result<Option<&mut Host>> {
            Ok(None)
        })
        .unwrap_err();
        assert_eq!(e.kind().exit_code(), 2);
        // Not VMware by CPUID or DMI: the gate returns no ports, the host is never touched.
        let qemu = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("platforms/vmware/hosts/qemu");
        let e = run_with(&rm("vmware"), || {
            open_with(Some(*b"KVMKVMKVM\0\0\0"), &qemu, || Ok(()), &mut h)
        })
        .unwrap_err();
        assert_eq!(e.kind().exit_code(), 1);
        assert!(e.to_string().contains("not VMware"), "{e}");
        assert_eq!(h.total_calls(), 0);
        assert_eq!(h.get(KEY_DATA), Some(&b"{}"[..]));
    }
}
