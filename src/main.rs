//! argv -> cli -> command; an error's kind becomes the exit code. Nothing else lives here.

use ignis::error::{self, Error};
use ignis::{afterburn, cli, engine, log, rmcfg, validate_cmd};

/// A failed command: `logged` when the logger already reported it (journal and console), so
/// that main does not print it a second time.
struct Failure {
    error: Error,
    logged: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            logged: false,
        }
    }
}

fn reported(error: Error) -> Failure {
    Failure {
        error,
        logged: true,
    }
}

fn run(argv0: &str, args: &[String]) -> Result<i32, Failure> {
    match cli::parse_invocation(argv0, args)? {
        cli::Command::Version => {
            println!("ignis {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        cli::Command::Help => {
            print!("{}", cli::USAGE);
            #[cfg(feature = "butane")]
            print!("{}", ignis::butane_cmd::USAGE);
            #[cfg(feature = "plan")]
            print!("{}", ignis::plan_cmd::USAGE);
            Ok(0)
        }
        cli::Command::Validate(v) => Ok(validate_cmd::run(&v)?),
        #[cfg(feature = "butane")]
        cli::Command::Butane(b) => Ok(ignis::butane_cmd::run(&b)?),
        #[cfg(feature = "plan")]
        cli::Command::Plan(p) => Ok(ignis::plan_cmd::run(&p)?),
        cli::Command::Afterburn(a) => {
            log::init_from_env("afterburn", None, false);
            match afterburn::cmd::run(&a) {
                Ok(()) => Ok(0),
                Err(e) => {
                    ::log::error!("afterburn failed: {e}");
                    Err(reported(e))
                }
            }
        }
        cli::Command::Rmcfg(r) => {
            log::init_from_env("ignition", None, r.log_to_stdout);
            match rmcfg::run(&r) {
                Ok(()) => Ok(0),
                Err(e) => {
                    ::log::error!("rmcfg failed: {e}");
                    Err(reported(e))
                }
            }
        }
        cli::Command::Stage(s) => {
            // Ignition's identifier whatever the binary is called: tools query `-t ignition`.
            log::init_from_env("ignition", Some(s.stage.name()), s.log_to_stdout);
            match engine::run(&s) {
                Ok(()) => Ok(0),
                Err(e) => {
                    ::log::error!("{} failed: {e}", s.stage.name());
                    Err(reported(e))
                }
            }
        }
    }
}

fn main() {
    let mut argv = std::env::args();
    let argv0 = argv.next().unwrap_or_default();
    let mut args: Vec<String> = argv.collect();
    // Installed as `ignition-validate` (or `ignis-validate`), behave like Ignition's validator.
    if std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with("-validate"))
    {
        args.insert(0, "validate".into());
    }
    let result = run(&argv0, &args);
    // The logger's batched console lines go before anything printed below, and before exit.
    log::flush();
    let code = match result {
        Ok(c) => c,
        Err(Failure { error: e, logged }) => {
            if !logged {
                eprintln!("ignis: {e}");
            }
            if e.kind() == error::Kind::Usage {
                eprint!("{}", cli::USAGE);
                #[cfg(feature = "butane")]
                eprint!("{}", ignis::butane_cmd::USAGE);
                #[cfg(feature = "plan")]
                eprint!("{}", ignis::plan_cmd::USAGE);
            }
            e.kind().exit_code()
        }
    };
    std::process::exit(code);
}
