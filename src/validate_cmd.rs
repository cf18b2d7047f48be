//! `ignis validate`: reads one config, prints its report in Ignition's form, optionally prints
//! the canonical config. Exit 1 when the report holds an error (or a warning with --strict).

use crate::cli::ValidateArgs;
use crate::config::{self, Failure, Parsed};
use crate::error::{Context, Result};
use std::io::{Read, Write};

/// The outcome of validating one document: exit status, report lines, the parsed config.
pub struct Outcome {
    pub exit: i32,
    pub lines: Vec<String>,
    pub parsed: Option<Parsed>,
}

/// Validates `src` and renders the report lines `ignis validate` prints.
pub fn check(src: &[u8], strict: bool) -> Outcome {
    outcome(config::parse(src), strict)
}

/// [`check`] of a document handed over: a large one's bulk is not copied (config::parse_owned).
pub fn check_owned(src: Vec<u8>, strict: bool) -> Outcome {
    outcome(config::parse_owned(src), strict)
}

fn outcome(parsed: std::result::Result<Parsed, config::ParseError>, strict: bool) -> Outcome {
    let (mut report, failure, parsed) = match parsed {
        Ok(p) => (p.report.clone(), None, Some(p)),
        Err(e) => (e.report, Some(e.failure), None),
    };
    if strict {
        report.make_strict();
    }
    let mut lines: Vec<String> = report.entries.iter().map(|e| e.to_string()).collect();
    let failed = match failure {
        Some(f) if report.entries.is_empty() || f != Failure::Invalid => {
            lines.push(format!("couldn't parse config: {f}"));
            true
        }
        Some(_) => true,
        None => report.is_fatal(),
    };
    Outcome {
        exit: i32::from(failed),
        lines,
        parsed: if failed { None } else { parsed },
    }
}

/// The bytes of a command's input: a file, or standard input for `-`.
pub fn read_input(input: &str) -> Result<Vec<u8>> {
    if input != "-" {
        return std::fs::read(input).context(|| format!("reading {input}"));
    }
    let mut v = Vec::new();
    std::io::stdin()
        .read_to_end(&mut v)
        .context(|| "reading standard input")?;
    Ok(v)
}

pub fn run(a: &ValidateArgs) -> Result<i32> {
    // One document, then exit: nothing parsed here needs freeing before the exit does it.
    config::set_one_shot(true);
    let src = read_input(&a.input)?;
    // Butane is translated first (workstation builds); its diagnostics are the report when
    // that fails.
    #[cfg(feature = "butane")]
    let src = if crate::butane_cmd::is_butane(&a.input, &src) {
        let (lines, json) = crate::butane_cmd::translate_for_validate(&src, a.strict);
        for l in lines {
            println!("{l}");
        }
        match json {
            Some(json) => json,
            None => return Ok(1),
        }
    } else {
        src
    };
    let out = check_owned(src, a.strict);
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::new(stdout.lock());
    for l in &out.lines {
        writeln!(w, "{l}").context(|| "writing output")?;
    }
    if a.print {
        if let Some(p) = &out.parsed {
            writeln!(w, "{}", config::to_canonical_json(&p.config)).context(|| "writing output")?;
        }
    }
    w.flush().context(|| "writing output")?;
    drop(w);
    let exit = out.exit;
    // The process exits next: the config is left to the exit instead of being freed
    // allocation by allocation (see config::set_one_shot).
    std::mem::forget(out);
    Ok(exit)
}
