//! `ignis validate`: reads one config, prints its report in Ignition's form, optionally prints
//! the canonical config. Exit 1 when the report holds an error (or a warning with --strict).

use crate::cli::ValidateArgs;
use crate::config::{self, report::Report, Failure};
use crate::error::{Error, Result};
use std::io::{Read, Write};

pub fn run(a: &ValidateArgs) -> Result<i32> {
    let src = if a.input == "-" {
        let mut v = Vec::new();
        std::io::stdin()
            .read_to_end(&mut v)
            .map_err(|e| Error::failed(format!("reading standard input: {e}")))?;
        v
    } else {
        std::fs::read(&a.input).map_err(|e| Error::failed(format!("reading {}: {e}", a.input)))?
    };
    let (mut report, failure, parsed) = match config::parse(&src) {
        Ok(p) => (p.report.clone(), None, Some(p)),
        Err(e) => (e.report, Some(e.failure), None),
    };
    if a.strict {
        report.make_strict();
    }
    print_report(&report);
    let out = std::io::stdout();
    let mut out = out.lock();
    match failure {
        // An empty file is "no config" to a machine, but never a valid config file to check.
        Some(f) if report.entries.is_empty() || f != Failure::Invalid => {
            let _ = writeln!(out, "error: {f}");
            return Ok(1);
        }
        Some(_) => return Ok(1),
        None => {}
    }
    if report.is_fatal() {
        return Ok(1);
    }
    if a.print {
        if let Some(p) = parsed {
            let _ = writeln!(out, "{}", config::to_canonical_json(&p.config));
        }
    }
    Ok(0)
}

fn print_report(r: &Report) {
    let out = std::io::stdout();
    let mut out = out.lock();
    for e in &r.entries {
        let _ = writeln!(out, "{e}");
    }
}
