//! The command line, compatible with Ignition's: Go-style flags (`-flag value`, `--flag=value`,
//! single or double dash) for the stage runner, plus ignis's own subcommands (`validate`,
//! `afterburn ...`, which also takes Afterburn's own spellings). Parsing only.

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

pub fn parse(args: &[String]) -> Result<Command> {
    match args.first().map(String::as_str) {
        Some("validate") => return parse_validate(&args[1..]),
        Some("afterburn") => return parse_afterburn(&args[1..]),
        Some("rmcfg") => return crate::rmcfg::parse(&args[1..]),
        #[cfg(feature = "butane")]
        Some("butane") => return crate::butane_cmd::parse(&args[1..]),
        #[cfg(feature = "plan")]
        Some("plan") => return crate::plan_cmd::parse(&args[1..]),
        _ => {}
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
    fn empty_arguments_are_ignored() {
        let base = args("--root=/sysroot --platform=qemu --stage=fetch-offline");
        let want = parse(&base).unwrap();
        // `${IGNITION_ARGS}` unset: one empty trailing argument, or several.
        for extra in [vec![""], vec!["", ""]] {
            let mut a = base.clone();
            a.extend(extra.iter().map(|s| s.to_string()));
            assert_eq!(parse(&a).unwrap(), want);
        }
        // Anywhere between the flags, too, without swallowing a flag's value.
        let a: Vec<String> = ["", "-platform", "qemu", "", "-stage", "kargs", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let Command::Stage(s) = parse(&a).unwrap() else {
            panic!()
        };
        assert_eq!((s.platform.as_str(), s.stage), ("qemu", Stage::Kargs));
        // An empty value given to a flag is still that flag's value, not skipped.
        let a: Vec<String> = ["-platform", "qemu", "-stage", "files", "-root", ""]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let Command::Stage(s) = parse(&a).unwrap() else {
            panic!()
        };
        assert_eq!(s.root, PathBuf::new());
        // A non-empty stray argument is still an error.
        let mut a = base.clone();
        a.push("stray".into());
        assert_eq!(parse(&a).unwrap_err().kind().exit_code(), 2);
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

    fn ab(s: &str) -> AfterburnArgs {
        match parse(&args(s)).unwrap() {
            Command::Afterburn(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn afterburn_subcommands() {
        let a = ab("afterburn hostname --provider aws --root /sysroot");
        assert_eq!(a.provider, ProviderArg::Id("aws".into()));
        assert_eq!(
            a.action,
            AfterburnAction::Hostname {
                root: "/sysroot".into(),
                path: "/etc/hostname".into()
            }
        );
        assert_eq!(a.fetch_timeout, Duration::from_secs(120));
        let a = ab("afterburn ssh-keys --cmdline --user=core -fetch-timeout 5s");
        assert_eq!(a.provider, ProviderArg::Cmdline);
        assert_eq!(a.fetch_timeout, Duration::from_secs(5));
        assert_eq!(
            a.action,
            AfterburnAction::SshKeys {
                user: "core".into(),
                root: "/".into()
            }
        );
        let a = ab("afterburn attributes --provider=gcp");
        assert_eq!(
            a.action,
            AfterburnAction::Attributes {
                output: "/run/metadata/afterburn".into()
            }
        );
        let a = ab("afterburn network-kargs --cmdline --default-value ip=auto");
        assert_eq!(
            a.action,
            AfterburnAction::NetworkKargs {
                default: Some("ip=auto".into()),
                output: "/etc/cmdline.d/50-afterburn-network-kargs.conf".into()
            }
        );
    }

    #[test]
    fn afterburn_own_spellings() {
        let a = ab("afterburn exp rd-network-kargs --provider vmware --default-value=ip=dhcp");
        assert!(matches!(a.action, AfterburnAction::NetworkKargs { .. }));
        let a = ab("afterburn multi --cmdline --hostname=/sysroot/etc/hostname");
        assert_eq!(
            a.action,
            AfterburnAction::Multi {
                hostname: Some("/sysroot/etc/hostname".into()),
                ssh_keys: None,
                attributes: None,
                check_in: false,
            }
        );
        // The legacy form: flags only, single dashes allowed.
        let a = ab("afterburn --provider=aws -ssh-keys=core --attributes /run/metadata/afterburn");
        assert_eq!(a.provider, ProviderArg::Id("aws".into()));
        assert!(matches!(
            a.action,
            AfterburnAction::Multi {
                ssh_keys: Some(_),
                ..
            }
        ));
        // The check-in units' command line (the legacy form) and `multi --check-in`.
        for line in [
            "afterburn --cmdline --check-in",
            "afterburn multi --provider azure --check-in",
        ] {
            assert!(matches!(
                ab(line).action,
                AfterburnAction::Multi { check_in: true, .. }
            ));
        }
        // Invoked as `afterburn` through a symlink.
        let c = parse_invocation(
            "/usr/bin/afterburn",
            &args("multi --cmdline --ssh-keys core"),
        )
        .unwrap();
        assert!(matches!(c, Command::Afterburn(_)));
        assert_eq!(
            parse_invocation("ignis", &args("-version")).unwrap(),
            Command::Version
        );
        // Ignition's config remover, by name and as a subcommand.
        let rm = Command::Rmcfg(crate::rmcfg::RmcfgArgs {
            platform: "vmware".into(),
            log_to_stdout: false,
        });
        assert_eq!(
            parse_invocation("/usr/libexec/ignition-rmcfg", &args("--platform=vmware")).unwrap(),
            rm
        );
        assert_eq!(parse(&args("rmcfg --platform vmware")).unwrap(), rm);
    }

    #[test]
    fn afterburn_usage_errors() {
        for bad in [
            "afterburn",
            "afterburn nope --cmdline",
            "afterburn hostname",
            "afterburn hostname --cmdline --provider aws",
            "afterburn ssh-keys --cmdline",
            "afterburn attributes --cmdline --user core",
            "afterburn attributes --cmdline --output",
            "afterburn multi --cmdline",
            "afterburn hostname --cmdline --check-in",
            "afterburn multi --cmdline --network-units /run/x",
            "afterburn hostname --cmdline --fetch-timeout soon",
            "afterburn hostname --cmdline stray",
        ] {
            let e = parse(&args(bad)).unwrap_err();
            assert_eq!(e.kind().exit_code(), 2, "{bad}: {e}");
        }
    }
}
