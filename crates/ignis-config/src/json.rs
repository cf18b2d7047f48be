//! A JSON reader that keeps byte offsets and follows Go's `encoding/json` where Ignition users rely
//! on it: the same syntax errors (text and offset), invalid UTF-8 replaced instead of rejected,
//! duplicate keys kept in order for the decoder to resolve. Strings borrow from the input when
//! they have no escapes, so a 90 MB data URL is never copied here.

use std::borrow::Cow;

/// Nesting deeper than this is refused (Go refuses at 10000; no valid config nests past 10,
/// and a bound this low keeps the recursive reader and decoder far from the stack limit).
const MAX_DEPTH: usize = 256;

#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    /// The number's literal text, checked against JSON's grammar.
    Num(Cow<'a, str>),
    Str(Cow<'a, str>),
    Arr(Vec<Node<'a>>),
    Obj(Vec<Member<'a>>),
}

/// A value and the byte offsets where it starts and ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    pub off: usize,
    /// Offset just past the value.
    pub end: usize,
    pub v: Value<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Member<'a> {
    pub key: Cow<'a, str>,
    pub key_off: usize,
    pub val: Node<'a>,
}

impl<'a> Node<'a> {
    /// Go's name for the JSON type, as used in its type errors.
    pub fn go_kind(&self) -> &'static str {
        match self.v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Num(_) => "number",
            Value::Str(_) => "string",
            Value::Arr(_) => "array",
            Value::Obj(_) => "object",
        }
    }

    /// The same tree, owning its strings (for a tree that must outlive its document).
    pub fn into_owned(self) -> Node<'static> {
        let own = |c: Cow<'a, str>| Cow::Owned(c.into_owned());
        Node {
            off: self.off,
            end: self.end,
            v: match self.v {
                Value::Null => Value::Null,
                Value::Bool(b) => Value::Bool(b),
                Value::Num(t) => Value::Num(own(t)),
                Value::Str(s) => Value::Str(own(s)),
                Value::Arr(items) => Value::Arr(items.into_iter().map(Node::into_owned).collect()),
                Value::Obj(members) => Value::Obj(
                    members
                        .into_iter()
                        .map(|m| Member {
                            key: own(m.key),
                            key_off: m.key_off,
                            val: m.val.into_owned(),
                        })
                        .collect(),
                ),
            },
        }
    }

    /// Object member by exact key; the last one wins, as in Go.
    pub fn get(&self, key: &str) -> Option<&Node<'a>> {
        match &self.v {
            Value::Obj(m) => m.iter().rev().find(|m| m.key == key).map(|m| &m.val),
            _ => None,
        }
    }
}

/// A syntax error: Go's message and Go's offset (bytes consumed, counting the bad byte).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub msg: String,
    pub offset: usize,
}

/// Parses a whole document: exactly one value with optional surrounding white space.
pub fn parse(src: &[u8]) -> Result<Node<'_>, SyntaxError> {
    let mut p = Parser { s: src, i: 0 };
    p.ws();
    let v = p.value(0)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.bad("after top-level value"));
    }
    Ok(v)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// Go's `quoteChar`: the offending byte as a quoted character.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        b'\\' => "'\\\\'".to_string(),
        b'\n' => "'\\n'".to_string(),
        b'\r' => "'\\r'".to_string(),
        b'\t' => "'\\t'".to_string(),
        0x20..=0x7e => format!("'{}'", c as char),
        0x00..=0x1f | 0x7f => format!("'\\x{c:02x}'"),
        // Go decodes the byte as part of a UTF-8 sequence; a lone high byte prints as U+FFFD.
        _ => "'\u{fffd}'".to_string(),
    }
}

impl<'a> Parser<'a> {
    fn bad(&self, context: &str) -> SyntaxError {
        match self.s.get(self.i) {
            Some(&c) => SyntaxError {
                msg: format!("invalid character {} {context}", quote_char(c)),
                offset: self.i + 1,
            },
            None => self.eof(),
        }
    }

    fn eof(&self) -> SyntaxError {
        SyntaxError {
            msg: "unexpected end of JSON input".into(),
            offset: self.s.len(),
        }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.s.get(self.i) {
            self.i += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node<'a>, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError {
                msg: "exceeded max depth".into(),
                offset: self.i + 1,
            });
        }
        let off = self.i;
        let v = match self.s.get(self.i) {
            None => return Err(self.eof()),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::Str(self.string()?),
            Some(b't') => self.literal(b"true", Value::Bool(true))?,
            Some(b'f') => self.literal(b"false", Value::Bool(false))?,
            Some(b'n') => self.literal(b"null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.bad("looking for beginning of value")),
        };
        Ok(Node {
            off,
            end: self.i,
            v,
        })
    }

    fn literal(&mut self, word: &'static [u8], v: Value<'a>) -> Result<Value<'a>, SyntaxError> {
        let name = std::str::from_utf8(word).unwrap_or("literal");
        for (k, &want) in word.iter().enumerate() {
            match self.s.get(self.i) {
                None => return Err(self.eof()),
                Some(&c) if c == want => self.i += 1,
                Some(_) if k == 0 => return Err(self.bad("looking for beginning of value")),
                Some(_) => {
                    return Err(self.bad(&format!(
                        "in literal {name} (expecting {})",
                        quote_char(want)
                    )))
                }
            }
        }
        Ok(v)
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while let Some(b'0'..=b'9') = self.s.get(self.i) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Result<Value<'a>, SyntaxError> {
        let start = self.i;
        if self.s[self.i] == b'-' {
            self.i += 1;
            match self.s.get(self.i) {
                Some(b'0'..=b'9') => {}
                None => return Err(self.eof()),
                Some(_) => return Err(self.bad("in numeric literal")),
            }
        }
        if self.s.get(self.i) == Some(&b'0') {
            self.i += 1;
        } else {
            self.digits();
        }
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return Err(self.bad("after decimal point in numeric literal"));
            }
        }
        if let Some(b'e' | b'E') = self.s.get(self.i) {
            self.i += 1;
            if let Some(b'+' | b'-') = self.s.get(self.i) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return Err(self.bad("in exponent of numeric literal"));
            }
        }
        // The slice holds only ASCII digits, signs, '.', 'e' and 'E'.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("0");
        Ok(Value::Num(Cow::Borrowed(text)))
    }

    fn string(&mut self) -> Result<Cow<'a, str>, SyntaxError> {
        self.i += 1; // opening quote
        let start = self.i;
        // Fast path: no escapes, valid UTF-8: borrow. Skip in 16-byte blocks while no byte can
        // end the string or be refused (a 64 MiB data URL is one string).
        let special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
        while let Some(block) = self.s.get(self.i..self.i + 16) {
            if block.iter().any(|&b| special(b)) {
                break;
            }
            self.i += 16;
        }
        loop {
            match self.s.get(self.i) {
                None => return Err(self.eof()),
                Some(b'"') => {
                    let raw = &self.s[start..self.i];
                    self.i += 1;
                    return Ok(match std::str::from_utf8(raw) {
                        Ok(s) => Cow::Borrowed(s),
                        Err(_) => Cow::Owned(String::from_utf8_lossy(raw).into_owned()),
                    });
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => return Err(self.bad("in string literal")),
                Some(_) => self.i += 1,
            }
        }
        // Slow path: escapes present.
        let mut buf: Vec<u8> = self.s[start..self.i].to_vec();
        loop {
            match self.s.get(self.i) {
                None => return Err(self.eof()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(Cow::Owned(match String::from_utf8(buf) {
                        Ok(s) => s,
                        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
                    }));
                }
                Some(b'\\') => {
                    self.i += 1;
                    let c = match self.s.get(self.i) {
                        None => return Err(self.eof()),
                        Some(&c) => c,
                    };
                    let out = match c {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b'f' => 0x0c,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            self.i += 1;
                            let ch = self.unicode_escape()?;
                            let mut tmp = [0u8; 4];
                            buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                            continue;
                        }
                        _ => return Err(self.bad("in string escape code")),
                    };
                    buf.push(out);
                    self.i += 1;
                }
                Some(&c) if c < 0x20 => return Err(self.bad("in string literal")),
                Some(&c) => {
                    buf.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// Reads XXXX after `\u` (and a following `\uXXXX` low surrogate); leaves `i` after them.
    fn unicode_escape(&mut self) -> Result<char, SyntaxError> {
        let hi = self.hex4()?;
        if (0xD800..0xDC00).contains(&hi) {
            // A high surrogate: pair it when a low surrogate escape follows, as Go does.
            if self.s.get(self.i) == Some(&b'\\') && self.s.get(self.i + 1) == Some(&b'u') {
                let save = self.i;
                self.i += 2;
                let lo = self.hex4()?;
                if (0xDC00..0xE000).contains(&lo) {
                    let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                    return Ok(char::from_u32(c).unwrap_or('\u{fffd}'));
                }
                self.i = save;
            }
            return Ok('\u{fffd}');
        }
        Ok(char::from_u32(hi).unwrap_or('\u{fffd}'))
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.s.get(self.i) {
                None => return Err(self.eof()),
                Some(&c) => match (c as char).to_digit(16) {
                    Some(d) => d,
                    None => return Err(self.bad("in \\u hexadecimal character escape")),
                },
            };
            v = v * 16 + d;
            self.i += 1;
        }
        Ok(v)
    }

    fn array(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Value::Arr(items));
        }
        loop {
            self.ws();
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Value::Arr(items));
                }
                None => return Err(self.eof()),
                Some(_) => return Err(self.bad("after array element")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value<'a>, SyntaxError> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Value::Obj(members));
        }
        loop {
            self.ws();
            match self.s.get(self.i) {
                Some(b'"') => {}
                None => return Err(self.eof()),
                Some(_) => return Err(self.bad("looking for beginning of object key string")),
            }
            let key_off = self.i;
            let key = self.string()?;
            self.ws();
            match self.s.get(self.i) {
                Some(b':') => self.i += 1,
                None => return Err(self.eof()),
                Some(_) => return Err(self.bad("after object key")),
            }
            self.ws();
            let val = self.value(depth + 1)?;
            members.push(Member { key, key_off, val });
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Value::Obj(members));
                }
                None => return Err(self.eof()),
                Some(_) => return Err(self.bad("after object key:value pair")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> SyntaxError {
        parse(s.as_bytes()).unwrap_err()
    }

    #[test]
    fn parses_values_with_offsets() {
        let n = parse(br#" {"a": [1, -2.5e3, "x"], "b": {"c": null, "d": true}} "#).unwrap();
        assert_eq!(n.off, 1);
        let a = n.get("a").unwrap();
        assert_eq!(a.off, 7);
        match &a.v {
            Value::Arr(items) => {
                assert_eq!(items[0].v, Value::Num("1".into()));
                assert_eq!(items[1].v, Value::Num("-2.5e3".into()));
                assert_eq!(items[2].v, Value::Str(Cow::Borrowed("x")));
            }
            _ => panic!("not an array"),
        }
        assert_eq!(n.get("b").unwrap().get("d").unwrap().v, Value::Bool(true));
    }

    #[test]
    fn escapes_and_unicode() {
        let n = parse(br#""a\"b\\c\/\n\u00e9\ud83d\ude00\ud800x""#).unwrap();
        assert_eq!(
            n.v,
            Value::Str(Cow::Owned("a\"b\\c/\né\u{1f600}\u{fffd}x".into()))
        );
        // invalid UTF-8 is replaced, not rejected
        let n = parse(b"\"a\xffb\"").unwrap();
        assert_eq!(n.v, Value::Str(Cow::Owned("a\u{fffd}b".into())));
    }

    #[test]
    fn duplicate_keys_last_wins_on_get() {
        let n = parse(br#"{"a":1,"a":2}"#).unwrap();
        assert_eq!(n.get("a").unwrap().v, Value::Num("2".into()));
    }

    #[test]
    fn go_syntax_errors() {
        assert_eq!(
            err(""),
            SyntaxError {
                msg: "unexpected end of JSON input".into(),
                offset: 0
            }
        );
        assert_eq!(err("   ").msg, "unexpected end of JSON input");
        let e = err("{\"a\":1}x");
        assert_eq!(e.msg, "invalid character 'x' after top-level value");
        assert_eq!(e.offset, 8);
        assert_eq!(
            err("{\"a\" 1}").msg,
            "invalid character '1' after object key"
        );
        assert_eq!(
            err("{\"a\":1 \"b\"}").msg,
            "invalid character '\"' after object key:value pair"
        );
        assert_eq!(
            err("{,}").msg,
            "invalid character ',' looking for beginning of object key string"
        );
        assert_eq!(
            err("[1 2]").msg,
            "invalid character '2' after array element"
        );
        assert_eq!(
            err("[tru]").msg,
            "invalid character ']' in literal true (expecting 'e')"
        );
        assert_eq!(err("01").msg, "invalid character '1' after top-level value");
        assert_eq!(
            err("1.").msg,
            "unexpected end of JSON input",
            "Go reports EOF when the number is cut short"
        );
        assert_eq!(
            err("1.x").msg,
            "invalid character 'x' after decimal point in numeric literal"
        );
        assert_eq!(
            err("\"a\nb\"").msg,
            "invalid character '\\n' in string literal"
        );
        assert_eq!(
            err("\"\\q\"").msg,
            "invalid character 'q' in string escape code"
        );
        assert_eq!(
            err("x").msg,
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            err("[1,]").msg,
            "invalid character ']' looking for beginning of value"
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "[".repeat(5000);
        assert_eq!(err(&deep).msg, "exceeded max depth");
    }
}
