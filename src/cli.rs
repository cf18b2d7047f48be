//! The command line, compatible with Ignition's: Go-style flags (`-flag value`, `--flag=value`,
//! single or double dash) for the stage runner, plus ignis's own subcommands. Parsing only.

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
}

pub const USAGE: &str = "\
usage: ignis -platform NAME -stage STAGE [-root DIR] [-config-cache PATH] [-neednet PATH]
             [-state-file PATH] [-fetch-timeout DURATION] [-log-to-stdout]
       ignis -version
       ignis validate [--strict] [--print] FILE|-

stages: fetch-offline fetch kargs disks mount files umount
";

/// Parses Go's duration syntax (`90s`, `2m`, `1h30m`, `500ms`).
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += n * mult;
    }
    Some(Duration::from_secs_f64(total))
}

/// Splits `-flag`, `--flag`, `-flag=value` into name and inline value.
fn flag_name(arg: &str) -> Option<(&str, Option<&str>)> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if body.is_empty() || body.starts_with('-') {
        return None;
    }
    Some(match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    })
}

fn parse_bool(v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::usage(format!("invalid boolean value {v:?}"))),
    }
}

pub fn parse(args: &[String]) -> Result<Command> {
    if args.first().map(String::as_str) == Some("validate") {
        return parse_validate(&args[1..]);
    }
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
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn ignition_style_flags() {
        let c = parse(&args(
            "-platform qemu --stage=files -root /sysroot -log-to-stdout --fetch-timeout 30s",
        ))
        .unwrap();
        let Command::Stage(s) = c else { panic!() };
        assert_eq!(s.platform, "qemu");
        assert_eq!(s.stage, Stage::Files);
        assert_eq!(s.root, PathBuf::from("/sysroot"));
        assert!(s.log_to_stdout);
        assert_eq!(s.fetch_timeout, Duration::from_secs(30));
        assert_eq!(s.config_cache, PathBuf::from("/run/ignition.json"));
        assert_eq!(s.neednet, PathBuf::from("/run/ignition/neednet"));
        assert_eq!(s.state_file, PathBuf::from("/run/ignition/state"));
    }

    #[test]
    fn usage_errors() {
        assert_eq!(
            parse(&args("-stage files")).unwrap_err().kind().exit_code(),
            2
        );
        assert_eq!(
            parse(&args("-platform x")).unwrap_err().kind().exit_code(),
            2
        );
        assert_eq!(
            parse(&args("-platform x -stage nope"))
                .unwrap_err()
                .kind()
                .exit_code(),
            2
        );
        assert_eq!(
            parse(&args("-platform x -stage files -bogus 1"))
                .unwrap_err()
                .kind()
                .exit_code(),
            2
        );
        assert_eq!(parse(&args("-version")).unwrap(), Command::Version);
        assert_eq!(parse(&args("--version")).unwrap(), Command::Version);
    }

    #[test]
    fn validate_args() {
        assert_eq!(
            parse(&args("validate --strict f.ign")).unwrap(),
            Command::Validate(ValidateArgs {
                strict: true,
                print: false,
                input: "f.ign".into()
            })
        );
        assert!(parse(&args("validate")).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("x"), None);
    }
}
