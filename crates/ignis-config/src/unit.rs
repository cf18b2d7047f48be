//! systemd unit-file syntax as Ignition checks it (go-systemd's deserializer): sections,
//! `Name=value` options with backslash continuations, `#`/`;` comments. It accepts what that
//! lexer accepts, so the same unit contents pass or fail in ignis and in Ignition.

/// systemd's LINE_MAX: a longer line is refused rather than silently truncated.
const LINE_MAX: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitOption {
    pub section: String,
    pub name: String,
    pub value: String,
}

fn is_comment(c: char) -> bool {
    c == '#' || c == ';'
}

/// Parses unit contents into options, or returns the lexer's error text.
pub fn parse(s: &str) -> Result<Vec<UnitOption>, String> {
    if s.split('\n').any(|l| l.len() >= LINE_MAX) {
        return Err("line too long".into());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut opts = Vec::new();
    let mut section: Option<String> = None;
    let skip_line = |i: &mut usize| {
        while *i < chars.len() && chars[*i] != '\n' {
            *i += 1;
        }
        if *i < chars.len() {
            *i += 1;
        }
    };
    loop {
        let Some(&c) = chars.get(i) else {
            return Ok(opts);
        };
        i += 1;
        if section.is_none() {
            // Before the first section, anything but '[' or a comment is skipped.
            if c == '[' {
                section = Some(section_name(&chars, &mut i)?);
            } else if is_comment(c) {
                skip_line(&mut i);
            }
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        if c == '[' {
            section = Some(section_name(&chars, &mut i)?);
            continue;
        }
        if is_comment(c) {
            skip_line(&mut i);
            continue;
        }
        // Option name up to '='.
        i -= 1;
        let mut name = String::new();
        loop {
            let Some(&c) = chars.get(i) else {
                // go-systemd reports the reader's EOF here.
                return Err("EOF".into());
            };
            i += 1;
            if c == '\n' || c == '\r' {
                return Err("unexpected newline encountered while parsing option name".into());
            }
            if c == '=' {
                break;
            }
            name.push(c);
        }
        // Value lines, joined while a line ends in a backslash.
        let mut value = String::new();
        loop {
            let start = i;
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
            let line: String = chars[start..i].iter().collect();
            let eof = i >= chars.len();
            if !eof {
                i += 1;
            }
            if line.trim().is_empty() {
                break;
            }
            value.push_str(&line);
            if !line.ends_with('\\') {
                break;
            }
            if eof {
                break;
            }
            value.push('\n');
        }
        if value.ends_with('\n') {
            value.pop();
        }
        opts.push(UnitOption {
            section: section.clone().unwrap_or_default(),
            name: name.trim().to_string(),
            value,
        });
    }
}

fn section_name(chars: &[char], i: &mut usize) -> Result<String, String> {
    let start = *i;
    while *i < chars.len() && chars[*i] != ']' {
        *i += 1;
    }
    if *i >= chars.len() {
        return Err("unable to find end of section".into());
    }
    let name: String = chars[start..*i].iter().collect();
    *i += 1;
    let rest_start = *i;
    while *i < chars.len() && chars[*i] != '\n' {
        *i += 1;
    }
    let garbage: String = chars[rest_start..*i].iter().collect();
    if *i < chars.len() {
        *i += 1;
    }
    if !garbage.trim().is_empty() {
        return Err(format!(
            "found garbage after section name {name}: {:?}",
            garbage.trim()
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_sections() {
        let o = parse("# c\n[Unit]\nDescription=x y\n; c\n[Install]\nWantedBy=multi-user.target\n")
            .unwrap();
        assert_eq!(o.len(), 2);
        assert_eq!(o[1].section, "Install");
        assert_eq!(o[1].name, "WantedBy");
        assert_eq!(o[0].value, "x y");
    }

    #[test]
    fn continuation_lines() {
        let o = parse("[Service]\nExecStart=/bin/a \\\n  b\nX=1\n").unwrap();
        assert_eq!(o[0].value, "/bin/a \\\n  b");
        assert_eq!(o[1].name, "X");
    }

    #[test]
    fn garbage_before_first_section_is_skipped() {
        assert!(parse("this is not a unit").unwrap().is_empty());
    }

    #[test]
    fn errors() {
        assert_eq!(parse("[Unit").unwrap_err(), "unable to find end of section");
        assert!(parse("[Unit] x\n")
            .unwrap_err()
            .starts_with("found garbage after section name"));
        assert_eq!(
            parse("[Unit]\nnovalue\n").unwrap_err(),
            "unexpected newline encountered while parsing option name"
        );
        assert_eq!(parse("[Unit]\nnovalue").unwrap_err(), "EOF");
        assert!(parse("[Unit]\n  \n").unwrap().is_empty());
        assert_eq!(
            parse(&format!("[Unit]\nA={}\n", "x".repeat(3000))).unwrap_err(),
            "line too long"
        );
    }
}
