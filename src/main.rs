//! argv -> cli -> command; an error's kind becomes the exit code. Nothing else lives here.

use ignis::error::{self, Error, Result};
use ignis::{cli, log, validate_cmd};

fn run(args: &[String]) -> Result<i32> {
    match cli::parse(args)? {
        cli::Command::Version => {
            println!("ignis {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        cli::Command::Help => {
            print!("{}", cli::USAGE);
            Ok(0)
        }
        cli::Command::Validate(v) => validate_cmd::run(&v),
        cli::Command::Stage(s) => {
            log::init(s.log_to_stdout, false);
            Err(Error::failed(format!(
                "stage {} is not implemented yet in this build of ignis",
                s.stage.name()
            )))
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match run(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ignis: {e}");
            if e.kind() == error::Kind::Usage {
                eprint!("{}", cli::USAGE);
            }
            e.kind().exit_code()
        }
    };
    std::process::exit(code);
}
