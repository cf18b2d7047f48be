//! The YAML subset that cloud-init data is written in (NoCloud `meta-data` and
//! `network-config`, `#cloud-config` user data, Hetzner's metadata document), parsed into
//! `serde_json::Value` so the providers read it like JSON. Block mappings and sequences,
//! plain and quoted scalars, plain scalars folded over more-indented lines (IBM Cloud's
//! vendor-data wraps long SSH keys so), one-line flow collections, literal and folded block
//! scalars, comments. Not supported (an error, never a guess): anchors, aliases, tags,
//! multi-line quoted scalars, flow collections across lines. Pure; no input makes it panic.

use crate::error::{Error, Result};
use serde_json::{Map, Value};

/// Parses the first document of `text`. Plain scalars stay strings (`"42"`), except `null`,
/// `~`, an empty value (null) and `true`/`false` (booleans).
pub fn parse(text: &str) -> Result<Value> {
    let mut lines = Vec::new();
    let mut started = false;
    for raw in text.trim_start_matches('\u{feff}').lines() {
        let t = raw.trim_end();
        if !started && (t.starts_with('%') || t == "---") {
            started = t == "---";
            continue;
        }
        if t == "---" || t == "..." {
            break;
        }
        if !t.trim().is_empty() && !t.trim_start().starts_with('#') {
            started = true;
        }
        lines.push(raw.trim_end_matches('\r').to_string());
    }
    let mut p = Parser { lines, pos: 0 };
    let v = p.block(0)?;
    if let Some((i, _)) = p.peek() {
        return Err(p.err(i, "unexpected content after the document"));
    }
    Ok(v)
}

struct Parser {
    lines: Vec<String>,
    pos: usize,
}

fn indent_of(s: &str) -> usize {
    s.len() - s.trim_start_matches(' ').len()
}

fn is_blank(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t.starts_with('#')
}

fn is_seq_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ") || content.starts_with("-\t")
}

impl Parser {
    fn err(&self, line: usize, msg: &str) -> Error {
        Error::failed(format!("YAML line {}: {msg}", line + 1))
    }

    /// The next line with content (skipping blank and comment lines) and its indentation.
    fn peek(&mut self) -> Option<(usize, usize)> {
        while self.pos < self.lines.len() {
            let l = &self.lines[self.pos];
            if !is_blank(l) {
                return Some((self.pos, indent_of(l)));
            }
            self.pos += 1;
        }
        None
    }

    fn content(&self, i: usize, indent: usize) -> &str {
        self.lines[i].get(indent..).unwrap_or("")
    }

    /// A block node whose lines are indented at least `min`.
    fn block(&mut self, min: usize) -> Result<Value> {
        let Some((i, ind)) = self.peek() else {
            return Ok(Value::Null);
        };
        if ind < min {
            return Ok(Value::Null);
        }
        let content = self.content(i, ind).to_string();
        if content.starts_with('\t') {
            return Err(self.err(i, "tabs are not allowed in indentation"));
        }
        if is_seq_item(&content) {
            self.seq(ind)
        } else if split_key(&content).is_some() {
            self.map(ind)
        } else {
            self.pos = i + 1;
            inline(strip_comment(&content)).map_err(|e| self.err(i, &e))
        }
    }

    fn map(&mut self, ind: usize) -> Result<Value> {
        let mut m = Map::new();
        while let Some((i, n)) = self.peek() {
            if n < ind {
                break;
            }
            if n > ind {
                return Err(self.err(i, "unexpected indentation"));
            }
            let content = self.content(i, ind).to_string();
            if is_seq_item(&content) {
                return Err(self.err(i, "a sequence item where a mapping key was expected"));
            }
            let Some((key, rest)) = split_key(&content) else {
                return Err(self.err(i, "expected `key: value`"));
            };
            let key = key.map_err(|e| self.err(i, &e))?;
            self.pos = i + 1;
            let rest = strip_comment(rest).trim().to_string();
            let v = self.value_after(i, ind, &rest, true)?;
            if m.insert(key, v).is_some() {
                return Err(self.err(i, "duplicate key"));
            }
        }
        Ok(Value::Object(m))
    }

    /// The value following `key:` or `-` on line `i` (indented `ind`), given the rest of
    /// the line. A sequence may sit at the key's own indentation (`key:\n- a`).
    fn value_after(
        &mut self,
        i: usize,
        ind: usize,
        rest: &str,
        seq_at_same: bool,
    ) -> Result<Value> {
        if rest.is_empty() {
            return match self.peek() {
                Some((_, n)) if n > ind => self.block(n),
                Some((j, n)) if n == ind && seq_at_same && is_seq_item(self.content(j, n)) => {
                    self.seq(n)
                }
                _ => Ok(Value::Null),
            };
        }
        if let Some(header) = block_scalar_header(rest) {
            return self.block_scalar(ind, header);
        }
        if rest.starts_with('&') || rest.starts_with('*') || rest.starts_with('!') {
            return Err(self.err(i, "anchors, aliases and tags are not supported"));
        }
        if rest.starts_with(['[', '{', '"', '\'']) {
            return inline(rest).map_err(|e| self.err(i, &e));
        }
        // A plain scalar goes on over the directly following lines indented deeper than its
        // key or item, folded with spaces; a line that reads as `key: value` is not a
        // continuation (YAML forbids ": " in plain scalars) and stays an error below.
        let mut text = rest.to_string();
        while let Some(l) = self.lines.get(self.pos) {
            let t = l.trim();
            if t.is_empty()
                || t.starts_with('#')
                || indent_of(l) <= ind
                || split_key(t).is_some()
                || t.contains(" #")
            {
                break;
            }
            text.push(' ');
            text.push_str(t);
            self.pos += 1;
        }
        inline(&text).map_err(|e| self.err(i, &e))
    }

    fn seq(&mut self, ind: usize) -> Result<Value> {
        let mut items = Vec::new();
        while let Some((i, n)) = self.peek() {
            if n < ind {
                break;
            }
            if n > ind {
                return Err(self.err(i, "unexpected indentation"));
            }
            let content = self.content(i, ind).to_string();
            if !is_seq_item(&content) {
                break;
            }
            let after = &content[1..];
            let item = after.trim_start_matches([' ', '\t']);
            let col = ind + 1 + (after.len() - item.len());
            if strip_comment(item).trim().is_empty() {
                self.pos = i + 1;
                items.push(self.value_after(i, ind, "", false)?);
            } else if is_seq_item(item) || (split_key(item).is_some()) {
                // `- key: v` or `- - x`: the item is a block starting at the item's column;
                // re-indent this line so the nested block parser sees it that way.
                self.lines[i] = format!("{}{item}", " ".repeat(col));
                items.push(self.block(col)?);
            } else {
                self.pos = i + 1;
                let rest = strip_comment(item).trim().to_string();
                items.push(self.value_after(i, ind, &rest, false)?);
            }
        }
        Ok(Value::Array(items))
    }

    /// `|` or `>` content: the following lines indented deeper than `ind` (blank lines
    /// included), with YAML's chomping (`-` strip, `+` keep, default one newline).
    fn block_scalar(&mut self, ind: usize, header: (bool, char)) -> Result<Value> {
        let (literal, chomp) = header;
        let mut body: Vec<String> = Vec::new();
        let mut content_indent = None;
        while self.pos < self.lines.len() {
            let l = &self.lines[self.pos];
            if l.trim().is_empty() {
                body.push(String::new());
                self.pos += 1;
                continue;
            }
            let n = indent_of(l);
            if n <= ind {
                break;
            }
            let ci = *content_indent.get_or_insert(n);
            if n < ci {
                break;
            }
            body.push(l[ci..].to_string());
            self.pos += 1;
        }
        let trailing = body.iter().rev().take_while(|l| l.is_empty()).count();
        let kept = body.len() - trailing;
        let mut text = String::new();
        for (k, l) in body[..kept].iter().enumerate() {
            if k > 0 {
                let folded_join = !literal && !l.is_empty() && !body[k - 1].is_empty();
                text.push(if folded_join { ' ' } else { '\n' });
            }
            text.push_str(l);
        }
        match chomp {
            '-' => {}
            '+' => text.push_str(&"\n".repeat(trailing + usize::from(kept > 0))),
            _ if kept > 0 => text.push('\n'),
            _ => {}
        }
        Ok(Value::String(text))
    }
}

/// `|`, `>`, with an optional chomping indicator and indentation digit: (literal, chomp).
fn block_scalar_header(rest: &str) -> Option<(bool, char)> {
    let mut chars = rest.chars();
    let literal = match chars.next()? {
        '|' => true,
        '>' => false,
        _ => return None,
    };
    let mut chomp = ' ';
    for c in chars {
        match c {
            '-' | '+' if chomp == ' ' => chomp = c,
            '1'..='9' => {}
            _ => return None,
        }
    }
    Some((literal, chomp))
}

/// Splits `key: rest` (or `key:` at the end of the line); the key may be quoted. `None` when
/// the line is not a mapping entry.
fn split_key(content: &str) -> Option<(std::result::Result<String, String>, &str)> {
    if content.starts_with(['[', '{', '|', '>', '&', '*', '!']) {
        return None;
    }
    if content.starts_with(['"', '\'']) {
        let (key, used) = quoted(content).ok()?;
        let rest = content[used..].trim_start();
        let rest = rest.strip_prefix(':')?;
        if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
            return None;
        }
        return Some((Ok(key), rest));
    }
    let bytes = content.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'#' && i > 0 && bytes[i - 1] == b' ' {
            return None;
        }
        if b == b':' && (i + 1 == bytes.len() || bytes[i + 1] == b' ' || bytes[i + 1] == b'\t') {
            let key = content[..i].trim_end();
            if key.is_empty() {
                return None;
            }
            return Some((Ok(key.to_string()), &content[i + 1..]));
        }
    }
    None
}

/// Drops a trailing `# comment` (a `#` at the start or after whitespace, outside quotes).
fn strip_comment(s: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' && (prev == ' ' || prev == '\t') => return s[..i].trim_end(),
            None if (c == '"' || c == '\'') && (prev == ' ' || i == 0 || "[{,:".contains(prev)) => {
                quote = Some(c)
            }
            None => {}
        }
        prev = c;
    }
    s.trim_end()
}

fn plain(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => Value::String(s.to_string()),
    }
}

/// A scalar or flow collection that must fill `s` entirely.
fn inline(s: &str) -> std::result::Result<Value, String> {
    let s = s.trim();
    if s.starts_with(['[', '{', '"', '\'']) {
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        let v = flow(&chars, &mut i, false)?;
        skip_ws(&chars, &mut i);
        if i != chars.len() {
            return Err("unexpected text after a quoted scalar or flow collection".into());
        }
        return Ok(v);
    }
    if s.starts_with(['&', '*', '!']) {
        return Err("anchors, aliases and tags are not supported".into());
    }
    Ok(plain(s))
}

fn skip_ws(c: &[char], i: &mut usize) {
    while *i < c.len() && c[*i].is_whitespace() {
        *i += 1;
    }
}

/// One flow node at `c[*i..]`; `key` stops plain scalars at `: ` as well.
fn flow(c: &[char], i: &mut usize, key: bool) -> std::result::Result<Value, String> {
    skip_ws(c, i);
    match c.get(*i) {
        None => Err("unexpected end of a flow collection".into()),
        Some('[') => {
            *i += 1;
            let mut items = Vec::new();
            loop {
                skip_ws(c, i);
                match c.get(*i) {
                    Some(']') => {
                        *i += 1;
                        return Ok(Value::Array(items));
                    }
                    None => return Err("unterminated flow sequence".into()),
                    _ => {}
                }
                items.push(flow(c, i, false)?);
                skip_ws(c, i);
                match c.get(*i) {
                    Some(',') => *i += 1,
                    Some(']') => {}
                    _ => return Err("expected `,` or `]` in a flow sequence".into()),
                }
            }
        }
        Some('{') => {
            *i += 1;
            let mut m = Map::new();
            loop {
                skip_ws(c, i);
                match c.get(*i) {
                    Some('}') => {
                        *i += 1;
                        return Ok(Value::Object(m));
                    }
                    None => return Err("unterminated flow mapping".into()),
                    _ => {}
                }
                let k = match flow(c, i, true)? {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                skip_ws(c, i);
                let v = if c.get(*i) == Some(&':') {
                    *i += 1;
                    flow(c, i, false)?
                } else {
                    Value::Null
                };
                m.insert(k, v);
                skip_ws(c, i);
                match c.get(*i) {
                    Some(',') => *i += 1,
                    Some('}') => {}
                    _ => return Err("expected `,` or `}` in a flow mapping".into()),
                }
            }
        }
        Some('"') | Some('\'') => {
            let rest: String = c[*i..].iter().collect();
            let (s, used) = quoted(&rest)?;
            *i += rest[..used].chars().count();
            Ok(Value::String(s))
        }
        Some(_) => {
            let start = *i;
            while let Some(&ch) = c.get(*i) {
                let next = c.get(*i + 1).copied();
                if ch == ',' || ch == ']' || ch == '}' {
                    break;
                }
                if ch == ':' && (key || next.is_none_or(|n| n.is_whitespace() || ",]}".contains(n)))
                {
                    break;
                }
                *i += 1;
            }
            let s: String = c[start..*i].iter().collect();
            Ok(plain(s.trim()))
        }
    }
}

/// A quoted scalar at the start of `s`: its value and the bytes it used.
fn quoted(s: &str) -> std::result::Result<(String, usize), String> {
    let mut chars = s.char_indices();
    let Some((_, q)) = chars.next() else {
        return Err("empty scalar".into());
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if q == '\'' {
            if c == '\'' {
                if s[i + 1..].starts_with('\'') {
                    chars.next();
                    out.push('\'');
                    continue;
                }
                return Ok((out, i + 1));
            }
            out.push(c);
            continue;
        }
        match c {
            '"' => return Ok((out, i + 1)),
            '\\' => {
                let Some((_, e)) = chars.next() else { break };
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '0' => out.push('\0'),
                    '"' | '\\' | '/' | ' ' => out.push(e),
                    'x' | 'u' | 'U' => {
                        let len = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = chars.by_ref().take(len).map(|(_, h)| h).collect();
                        let ch = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or_else(|| format!("bad escape \\{e}{hex}"))?;
                        out.push(ch);
                    }
                    other => return Err(format!("unknown escape \\{other}")),
                }
            }
            c => out.push(c),
        }
    }
    Err("unterminated quoted scalar".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nocloud_meta_data() {
        let v = parse("instance-id: iid-1 # comment\nlocal-hostname: 'node-1'\n").unwrap();
        assert_eq!(
            v,
            json!({"instance-id": "iid-1", "local-hostname": "node-1"})
        );
    }

    #[test]
    fn cloud_config() {
        let text = "#cloud-config\nhostname: pve\nuser: core\nssh_authorized_keys:\n  - ssh-ed25519 AAAA k1@h\n  - \"ssh-rsa BBBB k2@h\"\nchpasswd:\n  expire: False\nwrite_files:\n- path: /x\n  content: |\n    line # not a comment\n\n    two\n- path: /y\n  content: >-\n    folded\n    text\n";
        let v = parse(text).unwrap();
        assert_eq!(v["hostname"], "pve");
        assert_eq!(
            v["ssh_authorized_keys"],
            json!(["ssh-ed25519 AAAA k1@h", "ssh-rsa BBBB k2@h"])
        );
        assert_eq!(v["chpasswd"]["expire"], false);
        assert_eq!(
            v["write_files"][0]["content"],
            "line # not a comment\n\ntwo\n"
        );
        assert_eq!(v["write_files"][1]["content"], "folded text");
        assert_eq!(v["write_files"][1]["path"], "/y");
    }

    #[test]
    fn network_config_v1_and_v2() {
        let v1 = "version: 1\nconfig:\n    - type: physical\n      name: eth0\n      mac_address: 'bc:24:11:00:00:01'\n      subnets:\n      - type: static\n        address: '10.0.0.5'\n        netmask: '255.255.255.0'\n        gateway: '10.0.0.1'\n    - type: nameserver\n      address:\n      - '10.0.0.2'\n      search: [example.com, \"b.example\"]\n";
        let v = parse(v1).unwrap();
        assert_eq!(v["config"][0]["subnets"][0]["gateway"], "10.0.0.1");
        assert_eq!(v["config"][1]["address"], json!(["10.0.0.2"]));
        assert_eq!(
            v["config"][1]["search"],
            json!(["example.com", "b.example"])
        );
        let v2 = "network:\n  version: 2\n  ethernets:\n    id0:\n      match: {macaddress: \"52:54:00:12:34:56\"}\n      addresses: [192.168.1.10/24, \"fd00::10/64\"]\n      routes:\n        - to: default\n          via: 192.168.1.1\n      dhcp6: true\n";
        let v = parse(v2).unwrap();
        let e = &v["network"]["ethernets"]["id0"];
        assert_eq!(e["match"]["macaddress"], "52:54:00:12:34:56");
        assert_eq!(e["addresses"], json!(["192.168.1.10/24", "fd00::10/64"]));
        assert_eq!(e["routes"][0]["via"], "192.168.1.1");
        assert_eq!(e["dhcp6"], true);
    }

    #[test]
    fn scalars_and_quotes() {
        let v = parse(
            "a: ''\nb: 'it''s'\nc: \"tab\\tq\\\"\\u00e9\"\nd: ~\ne:\nf: http://x:8080/p\ng: 42\n",
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"a": "", "b": "it's", "c": "tab\tq\"é", "d": null, "e": null, "f": "http://x:8080/p", "g": "42"})
        );
        assert_eq!(parse("--- \n").unwrap(), Value::Null);
        assert_eq!(
            parse("---\n- a\n- - b\n  - c\n").unwrap(),
            json!(["a", ["b", "c"]])
        );
        assert_eq!(parse("plain text").unwrap(), json!("plain text"));
        assert_eq!(parse("k: |+\n  a\n\nz: 1\n").unwrap()["k"], "a\n\n");
        // Plain scalars folded over deeper lines (IBM Cloud vendor-data's wrapped keys).
        assert_eq!(
            parse("keys:\n- ssh-rsa AAAA\n  user@host\n- b\nk: one\n   two\n").unwrap(),
            json!({"keys": ["ssh-rsa AAAA user@host", "b"], "k": "one two"})
        );
    }

    #[test]
    fn refuses_what_it_does_not_know() {
        for bad in [
            "a: 1\n  b: 2\n",
            "a: &x 1\n",
            "a: [1, 2\n",
            "a: \"open\n",
            "a: 1\na: 2\n",
            "- a\nb: 1\n",
            "a:\n\t- x\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        // Garbage never panics.
        for s in [
            "-",
            ":",
            "- :",
            "{",
            "[}",
            "'",
            "a: 'x' y",
            "? x",
            "- - - -",
            "\u{feff}é: é",
        ] {
            let _ = parse(s);
        }
    }
}
