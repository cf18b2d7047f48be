//! Decodes a positioned JSON tree into the typed config the way Go's `encoding/json` decodes
//! Ignition's structs: keys match case-insensitively, `null` leaves a field at its zero value,
//! `420.0` is not an integer, and the first type error stops the decode. Keys that do not name a
//! field of the config's spec version become "Unused key" warnings (with a suggestion when a
//! known key is close); fields newer than the version are dropped.

use super::json::{Node, Value};
use super::report::{JsonPath, Level, Seg};
use super::version::{field_since, Version};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use std::cell::RefCell;
use std::fmt;

/// A decode failure: Go's type error, with the path and offset of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError {
    pub msg: String,
    pub path: Option<JsonPath>,
    pub off: usize,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError {
            msg: msg.to_string(),
            path: None,
            off: 0,
        }
    }
}

/// A non-fatal finding made while decoding: level, path, message, byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub path: JsonPath,
    pub message: String,
    pub off: usize,
}

/// What the decoder needs to know and what it collects.
pub struct Ctx {
    pub version: Version,
    /// Whether to report unused keys (off for the version probe).
    pub report_unused: bool,
    pub findings: RefCell<Vec<Finding>>,
}

impl Ctx {
    pub fn new(version: Version) -> Self {
        Ctx {
            version,
            report_unused: true,
            findings: RefCell::new(Vec::new()),
        }
    }

    pub fn quiet(version: Version) -> Self {
        Ctx {
            version,
            report_unused: false,
            findings: RefCell::new(Vec::new()),
        }
    }
}

/// Decodes `node` as a `T`.
pub fn decode<T: de::DeserializeOwned>(node: &Node<'_>, ctx: &Ctx) -> Result<T, DeError> {
    T::deserialize(NodeDe {
        node,
        path: PathLink::ROOT,
        ctx,
    })
}

/// The path to a node as a linked list on the stack: free to extend, built only on error.
#[derive(Clone, Copy)]
struct PathLink<'p> {
    parent: Option<&'p PathLink<'p>>,
    seg: PathSeg<'p>,
}

#[derive(Clone, Copy)]
enum PathSeg<'p> {
    Root,
    Key(&'p str),
    Idx(usize),
}

impl<'p> PathLink<'p> {
    const ROOT: PathLink<'static> = PathLink {
        parent: None,
        seg: PathSeg::Root,
    };

    fn to_path(self) -> JsonPath {
        let mut segs = Vec::new();
        let mut cur = Some(&self);
        while let Some(l) = cur {
            match l.seg {
                PathSeg::Root => {}
                PathSeg::Key(k) => segs.push(Seg::Key(k.to_string())),
                PathSeg::Idx(i) => segs.push(Seg::Index(i)),
            }
            cur = l.parent;
        }
        segs.reverse();
        JsonPath(segs)
    }

    /// The nearest object key above this node (`append` for `$.storage.files.0.append.3`).
    fn parent_key(&self) -> Option<&'p str> {
        let mut cur = Some(*self);
        while let Some(l) = cur {
            if let PathSeg::Key(k) = l.seg {
                return Some(k);
            }
            cur = l.parent.copied();
        }
        None
    }

    /// Go's dotted field name for type errors: keys only (`storage.files.mode`).
    fn go_field(self) -> String {
        self.to_path()
            .0
            .iter()
            .filter_map(|s| match s {
                Seg::Key(k) => Some(k.as_str()),
                Seg::Index(_) => None,
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

struct NodeDe<'n, 'a, 'p, 'c> {
    node: &'n Node<'a>,
    path: PathLink<'p>,
    ctx: &'c Ctx,
}

impl<'n, 'a, 'p, 'c> NodeDe<'n, 'a, 'p, 'c> {
    fn type_error(&self, want: &str) -> DeError {
        let got = match &self.node.v {
            Value::Num(t) => format!("number {t}"),
            _ => self.node.go_kind().to_string(),
        };
        let field = self.path.go_field();
        let msg = if field.is_empty() {
            format!("cannot unmarshal {got} into Go value of type {want}")
        } else {
            format!("cannot unmarshal {got} into Go struct field {field} of type {want}")
        };
        DeError {
            msg,
            path: Some(self.path.to_path()),
            off: self.node.off,
        }
    }

    fn int(&self, want: &str) -> Result<i64, DeError> {
        match &self.node.v {
            Value::Num(t) => {
                if t.contains(['.', 'e', 'E']) {
                    return Err(self.type_error(want));
                }
                t.parse::<i64>().map_err(|_| self.type_error(want))
            }
            _ => Err(self.type_error(want)),
        }
    }
}

/// Go's `EqualFold` for the ASCII names of the spec.
fn eq_fold(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.chars()
            .zip(b.chars())
            .all(|(x, y)| x.to_lowercase().eq(y.to_lowercase()))
}

/// Levenshtein distance, for "did you mean" suggestions on unknown keys.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known key closest to `key`, if close enough to be a likely typo.
fn suggest<'f>(key: &str, fields: &[&'f str]) -> Option<&'f str> {
    let limit = (key.len() / 3).clamp(1, 3);
    fields
        .iter()
        .map(|f| (distance(key, f), *f))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, f)| f)
}

/// The message of an unused-key warning; the suggestion is ignis's addition to Ignition's text.
pub fn unused_key_message(key: &str, suggestion: Option<&str>) -> String {
    match suggestion {
        Some(s) => format!("Unused key {key} (did you mean \"{s}\"?)"),
        None => format!("Unused key {key}"),
    }
}

impl<'de, 'n, 'a, 'p, 'c> de::Deserializer<'de> for NodeDe<'n, 'a, 'p, 'c> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.v {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Num(t) => match t.parse::<i64>() {
                Ok(i) => v.visit_i64(i),
                Err(_) => v.visit_f64(t.parse::<f64>().unwrap_or(f64::NAN)),
            },
            Value::Str(s) => v.visit_str(s),
            Value::Arr(_) => self.deserialize_seq(v),
            Value::Obj(_) => Err(self.type_error("interface")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.v {
            Value::Bool(b) => v.visit_bool(*b),
            Value::Null => v.visit_bool(false),
            _ => Err(self.type_error("bool")),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        if let Value::Null = self.node.v {
            return v.visit_i64(0);
        }
        v.visit_i64(self.int("int")?)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_i64(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.v {
            Value::Str(s) => v.visit_str(s),
            Value::Null => v.visit_str(""),
            _ => Err(self.type_error("string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.v {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match &self.node.v {
            Value::Null => v.visit_seq(SeqDe {
                items: &[],
                i: 0,
                path: self.path,
                ctx: self.ctx,
            }),
            Value::Arr(items) => v.visit_seq(SeqDe {
                items,
                i: 0,
                path: self.path,
                ctx: self.ctx,
            }),
            _ => Err(self.type_error("[]")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        let members = match &self.node.v {
            Value::Null => &[][..],
            Value::Obj(m) => &m[..],
            _ => return Err(self.type_error(&format!("types.{name}"))),
        };
        let parent = self.path.parent_key();
        let allowed = |f: &str| field_since(name, f, parent) <= self.ctx.version;
        // (field, member index); later duplicates replace earlier ones, as Go's decode does.
        let mut chosen: Vec<(&'static str, usize)> = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            let key: &str = &m.key;
            let exact = fields.iter().find(|f| **f == key);
            let field = exact.or_else(|| fields.iter().find(|f| eq_fold(f, key)));
            let usable = field.filter(|f| allowed(f));
            if self.ctx.report_unused && (exact.is_none() || usable.is_none()) {
                let visible: Vec<&str> = fields.iter().copied().filter(|f| allowed(f)).collect();
                let hint = match usable {
                    Some(f) => Some(*f),
                    None => suggest(key, &visible),
                };
                self.ctx.findings.borrow_mut().push(Finding {
                    level: Level::Warning,
                    path: self.path.to_path().key(key),
                    message: unused_key_message(key, hint),
                    off: m.key_off,
                });
            }
            if let Some(f) = usable {
                match chosen.iter_mut().find(|(cf, _)| cf == f) {
                    Some(slot) => slot.1 = i,
                    None => chosen.push((f, i)),
                }
            }
        }
        chosen.sort_by_key(|(_, i)| *i);
        v.visit_map(MapDe {
            members,
            chosen,
            i: 0,
            path: self.path,
            ctx: self.ctx,
        })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u128 f32 f64 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct map enum identifier
    }
}

struct SeqDe<'n, 'a, 'p, 'c> {
    items: &'n [Node<'a>],
    i: usize,
    path: PathLink<'p>,
    ctx: &'c Ctx,
}

impl<'de, 'n, 'a, 'p, 'c> de::SeqAccess<'de> for SeqDe<'n, 'a, 'p, 'c> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(node) = self.items.get(self.i) else {
            return Ok(None);
        };
        let path = PathLink {
            parent: Some(&self.path),
            seg: PathSeg::Idx(self.i),
        };
        self.i += 1;
        seed.deserialize(NodeDe {
            node,
            path,
            ctx: self.ctx,
        })
        .map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.i)
    }
}

struct MapDe<'n, 'a, 'p, 'c> {
    members: &'n [super::json::Member<'a>],
    chosen: Vec<(&'static str, usize)>,
    i: usize,
    path: PathLink<'p>,
    ctx: &'c Ctx,
}

impl<'de, 'n, 'a, 'p, 'c> de::MapAccess<'de> for MapDe<'n, 'a, 'p, 'c> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.chosen.get(self.i) {
            None => Ok(None),
            Some((f, _)) => {
                let d: de::value::StrDeserializer<'_, DeError> = f.into_deserializer();
                seed.deserialize(d).map(Some)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (f, idx) = self.chosen[self.i];
        self.i += 1;
        let path = PathLink {
            parent: Some(&self.path),
            seg: PathSeg::Key(f),
        };
        seed.deserialize(NodeDe {
            node: &self.members[idx].val,
            path,
            ctx: self.ctx,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::json;
    use serde::Deserialize;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, rename_all = "camelCase")]
    struct Inner {
        mode: Option<i64>,
        path: String,
        overwrite: Option<bool>,
    }

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(default, rename_all = "camelCase")]
    struct Outer {
        files: Vec<Inner>,
        name: Option<String>,
    }

    fn dec(src: &str) -> (Result<Outer, DeError>, Vec<Finding>) {
        let n = json::parse(src.as_bytes()).unwrap();
        let ctx = Ctx::new(Version::V3_3);
        let r = decode::<Outer>(&n, &ctx);
        (r, ctx.findings.into_inner())
    }

    #[test]
    fn decodes_and_defaults() {
        let (r, f) =
            dec(r#"{"files":[{"path":"/a","mode":420},{"path":"/b","mode":null}],"name":null}"#);
        let o = r.unwrap();
        assert!(f.is_empty());
        assert_eq!(o.files[0].mode, Some(420));
        assert_eq!(o.files[1].mode, None);
        assert_eq!(o.name, None);
        let (r, _) = dec(r#"{"files":null}"#);
        assert!(r.unwrap().files.is_empty());
    }

    #[test]
    fn case_insensitive_keys_apply_and_warn() {
        let (r, f) = dec(r#"{"Files":[{"PATH":"/a"}]}"#);
        assert_eq!(r.unwrap().files[0].path, "/a");
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].path.to_string(), "$.Files");
        assert_eq!(f[0].message, "Unused key Files (did you mean \"files\"?)");
        assert_eq!(f[1].path.to_string(), "$.files.0.PATH");
    }

    #[test]
    fn unknown_keys_warn_with_suggestion() {
        let (r, f) = dec(r#"{"filez":[], "zzzzzzzz": 1}"#);
        assert!(r.is_ok());
        assert_eq!(f[0].message, "Unused key filez (did you mean \"files\"?)");
        assert_eq!(f[1].message, "Unused key zzzzzzzz");
    }

    #[test]
    fn duplicate_keys_last_wins() {
        let (r, _) = dec(r#"{"name":"a","name":"b"}"#);
        assert_eq!(r.unwrap().name.as_deref(), Some("b"));
    }

    #[test]
    fn type_errors_carry_path_and_go_text() {
        let (r, _) = dec(r#"{"files":[{"path":"/a"},{"mode":420.0}]}"#);
        let e = r.unwrap_err();
        assert_eq!(e.path.unwrap().to_string(), "$.files.1.mode");
        assert_eq!(
            e.msg,
            "cannot unmarshal number 420.0 into Go struct field files.mode of type int"
        );
        let (r, _) = dec(r#"{"files":{}}"#);
        assert_eq!(r.unwrap_err().path.unwrap().to_string(), "$.files");
        let (r, _) = dec(r#"[]"#);
        assert!(r.unwrap_err().path.unwrap().0.is_empty());
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("storagee", &["storage", "systemd"]),
            Some("storage")
        );
        assert_eq!(suggest("xyz", &["storage", "systemd"]), None);
    }
}
