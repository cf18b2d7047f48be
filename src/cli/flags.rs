//! Go's `flag` package conventions shared by the stage and afterburn parsers: `-flag`,
//! `--flag`, `-flag=value`, and Go's boolean spellings.

use crate::error::{Error, Result};

/// Splits `-flag`, `--flag`, `-flag=value` into name and inline value.
pub(super) fn flag_name(arg: &str) -> Option<(&str, Option<&str>)> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    if body.is_empty() || body.starts_with('-') {
        return None;
    }
    Some(match body.split_once('=') {
        Some((n, v)) => (n, Some(v)),
        None => (body, None),
    })
}

/// A boolean flag's inline value, as Go's `strconv.ParseBool` reads it.
pub(super) fn parse_bool(v: &str) -> Result<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(Error::usage(format!("invalid boolean value {v:?}"))),
    }
}
