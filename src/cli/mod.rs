//! The command line, compatible with Ignition's: Go-style flags (`-flag value`, `--flag=value`,
//! single or double dash) for the stage runner, plus ignis's own subcommands (`validate`,
//! `afterburn ...`, which also takes Afterburn's own spellings). Parsing only.
//!
//! This file holds the commands and their dispatch; the stage runner's flags are in `stage`,
//! `ignis afterburn`'s forms in `afterburn`, the Go flag primitives in `flags` and Go's
//! duration syntax in `duration`.

mod afterburn;
mod duration;
mod flags;
mod stage;

pub use afterburn::{parse_afterburn, AfterburnAction, AfterburnArgs, ProviderArg};
pub use duration::parse_duration;
pub use stage::{Stage, StageArgs};

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateArgs {
    pub strict: bool,
    /// Print the translated, newest-version config when valid.
    pub print: bool,
    /// A file path, or `-` for standard input.
    pub input: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Version,
    Help,
    Stage(StageArgs),
    Validate(ValidateArgs),
    Afterburn(AfterburnArgs),
    Rmcfg(crate::rmcfg::RmcfgArgs),
    /// Only in workstation builds: the initramfs binary must not grow by a byte.
    #[cfg(feature = "butane")]
    Butane(crate::butane_cmd::ButaneArgs),
    /// `ignis plan`: workstation builds only, like `butane`.
    #[cfg(feature = "plan")]
    Plan(crate::plan_cmd::PlanArgs),
}

pub const USAGE: &str = "\
usage: ignis -platform NAME -stage STAGE [-root DIR] [-config-cache PATH] [-neednet PATH]
             [-state-file PATH] [-fetch-timeout DURATION] [-log-to-stdout]
       ignis -version
       ignis validate [--strict] [--print] FILE|-
       ignis rmcfg --platform=vmware [--log-to-stdout]   (argv[0] `ignition-rmcfg`)
       ignis afterburn hostname (--provider ID | --cmdline) [--root DIR] [--path /etc/hostname]
       ignis afterburn ssh-keys (--provider ID | --cmdline) --user NAME [--root DIR]
       ignis afterburn attributes (--provider ID | --cmdline) [--output /run/metadata/afterburn]
       ignis afterburn network-kargs (--provider ID | --cmdline) [--default-value ARGS]
                      [--output /etc/cmdline.d/50-afterburn-network-kargs.conf]
       (afterburn commands also take [--fetch-timeout DURATION], and Afterburn's own forms:
        `multi (--provider ID | --cmdline) [--hostname PATH] [--ssh-keys USER] [--attributes PATH]`,
        `exp rd-network-kargs ...`, the flag-only legacy form, and argv[0] `afterburn`)

stages: fetch-offline fetch kargs disks mount files umount
";

/// Parses argv as invoked: under the name `afterburn` (a symlink to ignis) the arguments are
/// Afterburn's, under `ignition-rmcfg` those of Ignition's config remover.
pub fn parse_invocation(argv0: &str, args: &[String]) -> Result<Command> {
    let name = std::path::Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.as_str() {
        "afterburn" => parse_afterburn(args),
        "ignition-rmcfg" | "ignis-rmcfg" => crate::rmcfg::parse(args),
        _ => parse(args),
    }
}

/// Parses the arguments after the program name: a subcommand, or Ignition's stage-run flags.
pub fn parse(args: &[String]) -> Result<Command> {
    match args.first().map(String::as_str) {
        Some("validate") => parse_validate(&args[1..]),
        Some("afterburn") => parse_afterburn(&args[1..]),
        Some("rmcfg") => crate::rmcfg::parse(&args[1..]),
        #[cfg(feature = "butane")]
        Some("butane") => crate::butane_cmd::parse(&args[1..]),
        #[cfg(feature = "plan")]
        Some("plan") => crate::plan_cmd::parse(&args[1..]),
        _ => stage::parse_stage(args),
    }
}

fn parse_validate(args: &[String]) -> Result<Command> {
    let mut strict = false;
    let mut print = false;
    let mut input = None;
    for a in args {
        match a.as_str() {
            "--strict" | "-strict" => strict = true,
            "--print" | "-print" => print = true,
            "-" => input = Some("-".to_string()),
            s if s.starts_with('-') => {
                return Err(Error::usage(format!("validate: unknown flag {s}")))
            }
            s => {
                if input.replace(s.to_string()).is_some() {
                    return Err(Error::usage("validate: only one config file may be given"));
                }
            }
        }
    }
    let input = input
        .ok_or_else(|| Error::usage("validate: a config file (or - for stdin) is required"))?;
    Ok(Command::Validate(ValidateArgs {
        strict,
        print,
        input,
    }))
}

#[cfg(test)]
mod tests;
