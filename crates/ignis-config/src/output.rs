//! The config written back out: the compact cache form the stages read (streamed without a
//! second copy of its largest string) and the canonical pretty form `validate -print` shows.

use crate::types::{Config, Strings};
use crate::{STAND_IN, TAKE_OVER_STR};

/// The compact canonical form, for the config cache the stages read.
pub fn to_cache_json(config: &Config) -> String {
    serde_json::to_string(config).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// Writes the compact canonical form to `w` without holding a second copy of the config's
/// largest string (a 64 MiB file as a data URL): that string is serialised as a stand-in, and
/// written from the config where the stand-in's text is. Only a string JSON writes as it is
/// (nothing to escape) is handled so; the config is as it was when this returns.
pub fn write_cache_json(config: &mut Config, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let plain = |s: &str| !s.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20);
    let mut longest = 0;
    let mut clash = false;
    config.each_string_mut(&mut |s| {
        clash |= s == STAND_IN;
        if s.len() >= TAKE_OVER_STR && plain(s) {
            longest = longest.max(s.len());
        }
    });
    if longest == 0 || clash {
        return w.write_all(to_cache_json(config).as_bytes());
    }
    let mut big = String::new();
    config.each_string_mut(&mut |s| {
        if big.is_empty() && s.len() == longest && plain(s) {
            big = std::mem::replace(s, STAND_IN.to_string());
        }
    });
    let json = to_cache_json(config);
    // serde_json writes the stand-in's NULs as \u0000 and the rest as it is.
    let marker = STAND_IN.replace('\0', "\\u0000");
    let written = match json.find(&marker) {
        Some(at) => w
            .write_all(&json.as_bytes()[..at])
            .and_then(|()| w.write_all(big.as_bytes()))
            .and_then(|()| w.write_all(&json.as_bytes()[at + marker.len()..])),
        None => Err(std::io::Error::other("the stand-in is missing")),
    };
    drop(json);
    config.each_string_mut(&mut |s| {
        if s == STAND_IN {
            *s = std::mem::take(&mut big);
        }
    });
    written
}

/// The canonical form of a config: newest version, unset fields left out, pretty-printed.
/// Pretty-printed from the compact form (serde_json's pretty layout: two-space indent, `": "`,
/// empty containers as `{}`/`[]`), so the config's serialiser is compiled once, not once per
/// formatter (the second copy cost about 30 KiB of the binary).
pub fn to_canonical_json(config: &Config) -> String {
    pretty(&to_cache_json(config))
}

/// Re-indents compact JSON (no whitespace outside strings, as serde_json writes it).
pub(crate) fn pretty(compact: &str) -> String {
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    let b = compact.as_bytes();
    let mut out = String::with_capacity(compact.len() * 2);
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if in_str {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_str = false;
            }
            i += 1;
            continue;
        }
        // Everything outside strings is ASCII, so these indices are char boundaries.
        match c {
            b'"' => in_str = true,
            b'{' | b'[' | b'}' | b']' | b',' | b':' => {
                out.push_str(&compact[start..i]);
                match c {
                    b'{' | b'[' if matches!(b.get(i + 1), Some(b'}' | b']')) => {
                        out.push_str(&compact[i..i + 2]);
                        i += 1;
                    }
                    b'{' | b'[' => {
                        out.push(c as char);
                        depth += 1;
                        newline(&mut out, depth);
                    }
                    b'}' | b']' => {
                        depth = depth.saturating_sub(1);
                        newline(&mut out, depth);
                        out.push(c as char);
                    }
                    b',' => {
                        out.push(',');
                        newline(&mut out, depth);
                    }
                    _ => out.push_str(": "),
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&compact[start..]);
    out
}
