//! The stage runner's command line: the stages and Ignition's flags for a stage run
//! (`-platform`, `-stage`, `-root`, ...), with Ignition's defaults.

use super::flags::{flag_name, parse_bool};
use super::{parse_duration, Command};
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::time::Duration;

/// The stages of a first boot, in the order the dracut units run them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    FetchOffline,
    Fetch,
    Kargs,
    Disks,
    Mount,
    Files,
    Umount,
}

impl Stage {
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "fetch-offline" => Stage::FetchOffline,
            "fetch" => Stage::Fetch,
            "kargs" => Stage::Kargs,
            "disks" => Stage::Disks,
            "mount" => Stage::Mount,
            "files" => Stage::Files,
            "umount" => Stage::Umount,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Stage::FetchOffline => "fetch-offline",
            Stage::Fetch => "fetch",
            Stage::Kargs => "kargs",
            Stage::Disks => "disks",
            Stage::Mount => "mount",
            Stage::Files => "files",
            Stage::Umount => "umount",
        }
    }
}

/// Flags of a stage run, with Ignition's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageArgs {
    pub platform: String,
    pub stage: Stage,
    pub root: PathBuf,
    pub config_cache: PathBuf,
    pub neednet: PathBuf,
    pub state_file: PathBuf,
    pub fetch_timeout: Duration,
    pub log_to_stdout: bool,
}

/// Ignition's stage-run flags, Go-style, after any subcommand was ruled out.
pub(super) fn parse_stage(args: &[String]) -> Result<Command> {
    let mut platform = None;
    let mut stage = None;
    let mut root = PathBuf::from("/");
    let mut config_cache = PathBuf::from("/run/ignition.json");
    let mut neednet = PathBuf::from("/run/ignition/neednet");
    let mut state_file = PathBuf::from("/run/ignition/state");
    let mut fetch_timeout = Duration::from_secs(120);
    let mut log_to_stdout = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        // systemd expands an unset `${IGNITION_ARGS}` to one empty argument, and Ignition's
        // units end with it; Go's flag parser stops there without complaint. Skip it.
        if arg.is_empty() {
            continue;
        }
        let Some((name, inline)) = flag_name(arg) else {
            return Err(Error::usage(format!("unexpected argument {arg:?}")));
        };
        match name {
            "version" => return Ok(Command::Version),
            "help" | "h" => return Ok(Command::Help),
            "log-to-stdout" => {
                log_to_stdout = inline.map(parse_bool).transpose()?.unwrap_or(true);
                continue;
            }
            _ => {}
        }
        let value = match inline {
            Some(v) => v.to_string(),
            None => {
                let v = args
                    .get(i)
                    .ok_or_else(|| Error::usage(format!("flag needs an argument: -{name}")))?;
                i += 1;
                v.clone()
            }
        };
        match name {
            "platform" => platform = Some(value),
            "stage" => {
                stage = Some(Stage::parse(&value).ok_or_else(|| {
                    Error::usage(format!(
                        "invalid stage {value:?}: expected one of fetch-offline, fetch, kargs, disks, mount, files, umount"
                    ))
                })?)
            }
            "root" => root = PathBuf::from(value),
            "config-cache" => config_cache = PathBuf::from(value),
            "neednet" => neednet = PathBuf::from(value),
            "state-file" => state_file = PathBuf::from(value),
            "fetch-timeout" => {
                fetch_timeout = parse_duration(&value)
                    .ok_or_else(|| Error::usage(format!("invalid duration {value:?} for -fetch-timeout")))?
            }
            _ => return Err(Error::usage(format!("flag provided but not defined: -{name}"))),
        }
    }
    let platform = platform.ok_or_else(|| Error::usage("'--platform' must be provided"))?;
    let stage = stage.ok_or_else(|| Error::usage("'--stage' must be provided"))?;
    Ok(Command::Stage(StageArgs {
        platform,
        stage,
        root,
        config_cache,
        neednet,
        state_file,
        fetch_timeout,
        log_to_stdout,
    }))
}
