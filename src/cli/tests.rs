//! Tests of the command line: Ignition's stage flags, `validate`, durations, the afterburn
//! forms and invocation by argv[0].

use super::*;
use std::path::PathBuf;
use std::time::Duration;

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
