//! `ignis butane`: Butane YAML to Ignition JSON on a workstation (cargo feature `butane`; the
//! initramfs build leaves this module out entirely). Also the Butane step of `ignis validate`.

use crate::cli::Command;

/// The usage lines this feature adds to ignis's.
pub const USAGE: &str = concat!(
    "workstation build (feature `butane`):\n",
    "       ignis butane [--strict] [--pretty] [--check] [-d FILES_DIR] [-o FILE] [FILE|-]\n",
    "       ignis validate also takes Butane (a .bu/.yaml/.yml file, or YAML naming a variant)\n",
);
use crate::error::{Context, Error, Result};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButaneArgs {
    /// Warnings are fatal.
    pub strict: bool,
    pub pretty: bool,
    /// `-c/--check`: report only, no output.
    pub check: bool,
    /// `-d/--files-dir`: where `local`, `contents_local` and `trees` are read from.
    pub files_dir: Option<PathBuf>,
    /// `-o/--output`; standard output when unset.
    pub output: Option<PathBuf>,
    /// The Butane config; standard input when unset or `-`.
    pub input: Option<String>,
}

/// Parses Butane's own flags (short and long forms, `--flag=value` too).
pub fn parse(args: &[String]) -> Result<Command> {
    let mut a = ButaneArgs {
        strict: false,
        pretty: false,
        check: false,
        files_dir: None,
        output: None,
        input: None,
    };
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        i += 1;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with('-') => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = || -> Result<String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or_else(|| Error::usage(format!("butane: flag needs an argument: {name}")))?;
            i += 1;
            Ok(v)
        };
        match name {
            "-s" | "--strict" => a.strict = true,
            "-p" | "--pretty" => a.pretty = true,
            "-c" | "--check" => a.check = true,
            // Butane's "never wrap in a MachineConfig": fcos and flatcar never are.
            "-r" | "--raw" => {}
            "-d" | "--files-dir" => a.files_dir = Some(PathBuf::from(value()?)),
            "-o" | "--output" => a.output = Some(PathBuf::from(value()?)),
            "-" => a.input = None,
            s if s.starts_with('-') => {
                return Err(Error::usage(format!("butane: unknown flag {s}")))
            }
            s => {
                if a.input.replace(s.to_string()).is_some() {
                    return Err(Error::usage("butane: only one config file may be given"));
                }
            }
        }
    }
    Ok(Command::Butane(a))
}

fn read_input(input: Option<&str>) -> Result<Vec<u8>> {
    crate::validate_cmd::read_input(input.unwrap_or("-"))
}

/// Is this input Butane rather than Ignition JSON? A `.bu`/`.yaml`/`.yml` name, or a document
/// that does not start with `{` and names a variant.
pub fn is_butane(name: &str, src: &[u8]) -> bool {
    if [".bu", ".yaml", ".yml"].iter().any(|s| name.ends_with(s)) {
        return true;
    }
    let first = src.iter().find(|b| !b.is_ascii_whitespace());
    first.is_some() && first != Some(&b'{') && src.windows(8).any(|w| w == b"variant:")
}

/// Translates for `ignis validate`: the Butane report lines, and the JSON unless translation
/// failed (or warned, with `strict`).
pub fn translate_for_validate(src: &[u8], strict: bool) -> (Vec<String>, Option<Vec<u8>>) {
    let t = ignis_butane::translate(src, &ignis_butane::Options::default());
    let lines: Vec<String> = t.report.entries.iter().map(|e| e.to_string()).collect();
    let json = t
        .config
        .filter(|_| !(strict && t.report.has_warnings()))
        .map(|c| c.to_string().into_bytes());
    (lines, json)
}

pub fn run(a: &ButaneArgs) -> Result<i32> {
    use std::io::Write;
    let src = read_input(a.input.as_deref())?;
    let opts = ignis_butane::Options {
        files_dir: a.files_dir.clone(),
    };
    let t = ignis_butane::translate(&src, &opts);
    let name = a.input.as_deref().unwrap_or("<stdin>");
    for e in &t.report.entries {
        eprintln!("{name}: {e}");
    }
    let Some(config) = t.config else {
        eprintln!("Error translating config");
        return Ok(1);
    };
    // The library validated the result with ignis's engine; its findings are in the report.
    if a.strict && t.report.has_warnings() {
        eprintln!("Config produced warnings and --strict was specified");
        return Ok(1);
    }
    let json = config.to_string();
    if a.check {
        return Ok(0);
    }
    let mut text = if a.pretty {
        serde_json::to_string_pretty(&config)
            .map_err(|e| Error::failed(format!("encoding JSON: {e}")))?
    } else {
        json
    };
    text.push('\n');
    match &a.output {
        Some(p) => std::fs::write(p, text).context(|| format!("writing {}", p.display()))?,
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .context(|| "writing output")?,
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn flags() {
        let Command::Butane(a) =
            parse(&args("--pretty -s -r -c -d dir --output=o.ign c.bu")).unwrap()
        else {
            panic!()
        };
        assert!(a.pretty && a.strict && a.check);
        assert_eq!(a.files_dir, Some(PathBuf::from("dir")));
        assert_eq!(a.output, Some(PathBuf::from("o.ign")));
        assert_eq!(a.input.as_deref(), Some("c.bu"));
        assert!(parse(&args("-d")).is_err());
        assert!(parse(&args("--bogus")).is_err());
        assert!(parse(&args("a.bu b.bu")).is_err());
    }

    #[test]
    fn detects_butane() {
        assert!(is_butane("config.bu", b"{}"));
        assert!(is_butane("-", b"variant: fcos\nversion: 1.6.0\n"));
        assert!(!is_butane("-", b"{\"ignition\":{}}"));
    }
}
