//! YAML text -> a tree of nodes that remember their line and column, for Butane's diagnostics.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// Where a node starts: 1-based line and column, as Butane prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// Keys keep their own position (unused-key warnings point at the key).
    Map(Vec<(String, Pos, Node)>),
    Seq(Vec<Node>),
    /// The text, and whether it was plain (unquoted, untagged): only plain scalars are
    /// resolved to null, booleans and numbers.
    Scalar(String, bool),
    /// A `!!binary` scalar, base64-decoded (yaml.v3 decodes it into a string's raw bytes).
    Binary(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub val: Val,
    pub pos: Pos,
}

impl Node {
    /// YAML's core-schema null: `~`, `null`, or nothing at all.
    pub fn is_null(&self) -> bool {
        matches!(&self.val, Val::Scalar(s, true) if matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The short tag of the node's resolved type, as yaml.v3 names it in its errors.
    pub fn tag(&self) -> &'static str {
        match &self.val {
            Val::Map(_) => "!!map",
            Val::Seq(_) => "!!seq",
            Val::Binary(_) => "!!binary",
            Val::Scalar(_, _) if self.is_null() => "!!null",
            Val::Scalar(s, true) if parse_bool(s).is_some() && !is_legacy_bool(s) => "!!bool",
            Val::Scalar(s, true) if parse_int(s).is_some() => "!!int",
            Val::Scalar(s, true) if s.parse::<f64>().is_ok() && !s.starts_with(['+', '.']) => {
                "!!float"
            }
            Val::Scalar(_, _) => "!!str",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.val {
            Val::Map(m) => m.iter().find(|(k, _, _)| k == key).map(|(_, _, n)| n),
            _ => None,
        }
    }
}

/// yaml.v3 decodes these into a bool field, but tags them as strings.
fn is_legacy_bool(s: &str) -> bool {
    matches!(
        s,
        "y" | "Y"
            | "yes"
            | "Yes"
            | "YES"
            | "n"
            | "N"
            | "no"
            | "No"
            | "NO"
            | "on"
            | "On"
            | "ON"
            | "off"
            | "Off"
            | "OFF"
    )
}

pub fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ if is_legacy_bool(s) => {
            Some(matches!(s.as_bytes()[0], b'y' | b'Y') || s.eq_ignore_ascii_case("on"))
        }
        _ => None,
    }
}

/// Integers as yaml.v3 resolves them: decimal, 0x hex, 0o or leading-zero octal, 0b binary,
/// `_` separators allowed.
pub fn parse_int(s: &str) -> Option<i64> {
    let t = s.replace('_', "");
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    if body.is_empty() {
        return None;
    }
    let v = if let Some(h) = body.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else if body.bytes().all(|b| b.is_ascii_digit()) {
        body.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -v } else { v })
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub msg: String,
}

struct Builder {
    /// The text, as chars (the parser's marks count chars), to find block scalars' indicators.
    src: Vec<char>,
    stack: Vec<(Node, usize)>,
    pending_key: Vec<Option<(String, Pos)>>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    error: Option<SyntaxError>,
}

fn pos(m: Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

impl Builder {
    fn push_value(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.push((anchor, node.clone()));
        }
        let Some((parent, _)) = self.stack.last_mut() else {
            if self.root.is_none() {
                self.root = Some(node);
            }
            return;
        };
        match &mut parent.val {
            Val::Seq(items) => items.push(node),
            Val::Map(entries) => {
                let Some(slot) = self.pending_key.last_mut() else {
                    return;
                };
                match slot.take() {
                    Some((k, kpos)) => {
                        // yaml.v3 refuses a key given twice in one mapping.
                        if let Some((_, first, _)) = entries.iter().find(|(e, _, _)| *e == k) {
                            self.error.get_or_insert(SyntaxError {
                                pos: kpos,
                                msg: format!(
                                    "mapping key \"{k}\" already defined at line {}",
                                    first.line
                                ),
                            });
                        }
                        entries.push((k, kpos, node))
                    }
                    None => match &node.val {
                        Val::Scalar(s, _) => *slot = Some((s.clone(), node.pos)),
                        _ => {
                            self.error.get_or_insert(SyntaxError {
                                pos: node.pos,
                                msg: "mapping keys must be scalars".into(),
                            });
                            *slot = Some((String::new(), node.pos));
                        }
                    },
                }
            }
            Val::Scalar(..) | Val::Binary(_) => {}
        }
    }
}

impl Builder {
    /// yaml.v3 places a literal or folded scalar at its `|`/`>` indicator; the parser's mark is
    /// where the content starts. Look back for the indicator.
    fn indicator_pos(&self, content: Marker) -> Option<Pos> {
        let end = content.index().min(self.src.len());
        let at = self.src[..end]
            .iter()
            .rposition(|&c| c == '|' || c == '>')?;
        let line = 1 + self.src[..at].iter().filter(|&&c| c == '\n').count();
        let line_start = self.src[..at]
            .iter()
            .rposition(|&c| c == '\n')
            .map_or(0, |i| i + 1);
        Some(Pos {
            line,
            col: at - line_start + 1,
        })
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let p = pos(mark);
        match ev {
            Event::Scalar(s, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain && tag.is_none();
                let p = match style {
                    TScalarStyle::Literal | TScalarStyle::Folded => {
                        self.indicator_pos(mark).unwrap_or(p)
                    }
                    _ => p,
                };
                let binary = tag.as_ref().is_some_and(|t| {
                    t.suffix == "binary" && matches!(t.handle.as_str(), "!!" | "tag:yaml.org,2002:")
                });
                let val = match binary.then(|| decode_base64(&s)) {
                    Some(Some(bytes)) => Val::Binary(bytes),
                    Some(None) => {
                        self.error.get_or_insert(SyntaxError {
                            pos: p,
                            msg: "!!binary value contains invalid base64 data".into(),
                        });
                        Val::Scalar(s, false)
                    }
                    None => Val::Scalar(s, plain),
                };
                self.push_value(Node { val, pos: p }, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                self.stack.push((
                    Node {
                        val: Val::Seq(Vec::new()),
                        pos: p,
                    },
                    anchor,
                ));
                self.pending_key.push(None);
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push((
                    Node {
                        val: Val::Map(Vec::new()),
                        pos: p,
                    },
                    anchor,
                ));
                self.pending_key.push(None);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                self.pending_key.pop();
                if let Some((mut node, anchor)) = self.stack.pop() {
                    // A block mapping's start mark comes after its first key; Butane points at
                    // the first key.
                    if let Val::Map(entries) = &node.val {
                        if let Some((_, kpos, _)) = entries.first() {
                            if (kpos.line, kpos.col) < (node.pos.line, node.pos.col) {
                                node.pos = *kpos;
                            }
                        }
                    }
                    if let Val::Map(entries) = &mut node.val {
                        merge_keys(entries);
                    }
                    self.push_value(node, anchor);
                }
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .iter()
                    .rev()
                    .find(|(a, _)| *a == id)
                    .map(|(_, n)| n.clone());
                match node {
                    Some(n) => self.push_value(Node { val: n.val, pos: p }, 0),
                    None => {
                        self.error.get_or_insert(SyntaxError {
                            pos: p,
                            msg: "unknown anchor".into(),
                        });
                    }
                }
            }
            _ => {}
        }
    }
}

/// Standard base64, whitespace ignored (YAML folds long `!!binary` values over lines).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if clean.len() % 4 != 0 {
        return None;
    }
    let body = clean
        .strip_suffix(b"==")
        .or_else(|| clean.strip_suffix(b"="))
        .unwrap_or(&clean);
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in body {
        let v = T.iter().position(|&t| t == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`), as yaml.v3 applies them: the merged
/// mappings' keys are added unless the mapping has them itself (earlier sources win). The
/// `<<` entry stays, so it is reported as an unused key as Butane does.
fn merge_keys(entries: &mut Vec<(String, Pos, Node)>) {
    let sources: Vec<Node> = entries
        .iter()
        .filter(|(k, _, _)| k == "<<")
        .flat_map(|(_, _, n)| match &n.val {
            Val::Map(_) => vec![n.clone()],
            Val::Seq(items) => items.clone(),
            Val::Scalar(..) | Val::Binary(_) => Vec::new(),
        })
        .collect();
    for src in sources {
        if let Val::Map(merged) = src.val {
            for (k, p, n) in merged {
                if k != "<<" && !entries.iter().any(|(e, _, _)| *e == k) {
                    entries.push((k, p, n));
                }
            }
        }
    }
}

/// Parses the first YAML document of `src`. An empty document is an empty map.
pub fn parse(src: &str) -> Result<Node, SyntaxError> {
    let mut b = Builder {
        src: src.chars().collect(),
        stack: Vec::new(),
        pending_key: Vec::new(),
        anchors: Vec::new(),
        root: None,
        error: None,
    };
    let mut parser = Parser::new_from_str(src);
    parser.load(&mut b, false).map_err(|e| SyntaxError {
        pos: pos(*e.marker()),
        msg: format!("yaml: {}", e.info()),
    })?;
    if let Some(e) = b.error {
        return Err(e);
    }
    Ok(b.root.unwrap_or(Node {
        val: Val::Map(Vec::new()),
        pos: Pos { line: 1, col: 1 },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_scalars() {
        let n = parse("a: 1\nb:\n  - x\n  - 'y'\nc: 0644\n").unwrap();
        let Val::Map(m) = &n.val else { panic!() };
        assert_eq!(m[0].1, Pos { line: 1, col: 1 });
        assert_eq!(m[1].2.pos.line, 3);
        let Val::Seq(s) = &m[1].2.val else { panic!() };
        assert_eq!(s[1].val, Val::Scalar("y".into(), false));
        assert_eq!(s[1].pos, Pos { line: 4, col: 5 });
        assert_eq!(parse_int("0644"), Some(420));
        assert_eq!(parse_int("0o755"), Some(493));
        assert_eq!(parse_int("12a"), None);
        assert_eq!(m[2].2.tag(), "!!int");
    }

    #[test]
    fn binary_scalars() {
        let n = parse("a: !!binary aGVs\n  bG8=\nb: !!binary '@@'\n");
        assert!(n.is_err(), "bad base64 is an error");
        let n = parse("a: !!binary aGVsbG8=\n").unwrap();
        assert_eq!(n.get("a").unwrap().val, Val::Binary(b"hello".to_vec()));
        assert_eq!(decode_base64("/w=="), Some(vec![0xff]));
    }

    #[test]
    fn merge_keys_add_what_is_missing() {
        let n = parse("a: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\n").unwrap();
        let c = n.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().val, Val::Scalar("1".into(), true));
        assert_eq!(c.get("y").unwrap().val, Val::Scalar("3".into(), true));
        assert!(c.get("<<").is_some());
    }

    #[test]
    fn anchors_and_errors() {
        let n = parse("a: &x {k: v}\nb: *x\n").unwrap();
        assert_eq!(
            n.get("b").unwrap().get("k").unwrap().val,
            Val::Scalar("v".into(), true)
        );
        let e = parse("a: [\n").unwrap_err();
        assert!(e.pos.line >= 1, "{e:?}");
    }
}
