//! Decodes a positioned JSON tree into the typed config the way Go's `encoding/json` decodes
//! Ignition's structs: keys match case-insensitively, `null` leaves a field at its zero value,
//! `420.0` is not an integer, and the first type error stops the decode. Keys that do not name a
//! field of the config's spec version become "unused key" warnings (with a suggestion when a
//! known key is close); fields newer than the version are dropped.

use super::json::{Member, Node, Value};
use super::report::{JsonPath, Level, Seg};
use super::version::{since_in, Version};
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
        occ: Occ::One(node),
        path: PathLink::ROOT,
        ctx,
        field_of: "Config",
        elem_go: None,
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
                PathSeg::Key(k) => segs.push(Seg::Key(k.to_string().into())),
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
                Seg::Key(k) => Some(k.as_ref()),
                Seg::Index(_) => None,
            })
            .collect::<Vec<_>>()
            .join(".")
    }
}

/// Every occurrence of one value in document order. A key repeated in an object decodes, as in
/// Go, into the same field again: objects merge, arrays overlay element by element, `null`
/// resets pointers and lists but leaves structs and plain values alone.
enum Occ<'n, 'a> {
    One(&'n Node<'a>),
    Many(Vec<&'n Node<'a>>),
}

impl<'n, 'a> Occ<'n, 'a> {
    fn all(&self) -> &[&'n Node<'a>] {
        match self {
            Occ::One(n) => std::slice::from_ref(n),
            Occ::Many(v) => v,
        }
    }

    fn from_vec(mut v: Vec<&'n Node<'a>>) -> Self {
        if v.len() == 1 {
            Occ::One(v.remove(0))
        } else {
            Occ::Many(v)
        }
    }
}

struct NodeDe<'n, 'a, 'p, 'c> {
    occ: Occ<'n, 'a>,
    path: PathLink<'p>,
    ctx: &'c Ctx,
    /// The struct whose field this value is (Go's type errors name it).
    field_of: &'static str,
    /// For list elements: Go's element type name (`SSHAuthorizedKey`).
    elem_go: Option<&'static str>,
}

/// Go's name for one of the spec structs.
fn go_name(rust: &str) -> &str {
    match rust {
        "Tls" => "TLS",
        "HttpHeader" => "HTTPHeader",
        other => other,
    }
}

/// Go's element type of a list field, for type errors.
fn go_elem(strukt: &str, field: &str) -> &'static str {
    match (strukt, field) {
        ("Storage", "directories") => "Directory",
        ("Storage", "disks") => "Disk",
        ("Storage", "files") => "File",
        ("Storage", "filesystems") => "Filesystem",
        ("Storage", "links") => "Link",
        ("Storage", "luks") => "Luks",
        ("Storage", "raid") => "Raid",
        ("Disk", "partitions") => "Partition",
        ("Passwd", "users") => "PasswdUser",
        ("Passwd", "groups") => "PasswdGroup",
        ("Systemd", "units") => "Unit",
        ("Unit", "dropins") => "Dropin",
        ("Clevis", "tang") => "Tang",
        ("Resource", "httpHeaders") => "HTTPHeader",
        ("PasswdUser", "sshAuthorizedKeys") => "SSHAuthorizedKey",
        ("PasswdUser", "groups") => "Group",
        ("Proxy", "noProxy") => "NoProxyItem",
        ("KernelArguments", _) => "KernelArgument",
        ("Raid", "devices") => "Device",
        ("Raid", "options") => "RaidOption",
        ("Filesystem", "options") => "FilesystemOption",
        ("Filesystem", "mountOptions") => "MountOption",
        ("Luks", "options") => "LuksOption",
        ("Luks", "openOptions") => "OpenOption",
        _ => "Resource",
    }
}

impl<'n, 'a, 'p, 'c> NodeDe<'n, 'a, 'p, 'c> {
    /// Go's `UnmarshalTypeError` for `node`: its text and its offset (just past a literal, just
    /// inside an object or array).
    fn type_error(&self, node: &Node<'_>, want: &str) -> DeError {
        let got = match &node.v {
            Value::Num(t) if want == "int" => format!("number {t}"),
            _ => node.go_kind().to_string(),
        };
        let want = self
            .elem_go
            .map(|e| format!("types.{e}"))
            .unwrap_or_else(|| want.to_string());
        let field = self.path.go_field();
        let msg = if field.is_empty() {
            format!("json: cannot unmarshal {got} into Go value of type {want}")
        } else {
            format!(
                "json: cannot unmarshal {got} into Go struct field {}.{field} of type {want}",
                go_name(self.field_of)
            )
        };
        let off = match node.v {
            Value::Arr(_) | Value::Obj(_) => node.off + 1,
            _ => node.end,
        };
        DeError {
            msg,
            path: Some(self.path.to_path()),
            off,
        }
    }

    /// The last non-null occurrence after checking every occurrence with `ok`.
    fn last_plain(
        &self,
        want: &str,
        ok: impl Fn(&Value<'_>) -> bool,
    ) -> Result<Option<&'n Node<'a>>, DeError> {
        let mut last = None;
        for n in self.occ.all() {
            match &n.v {
                Value::Null => {}
                v if ok(v) => last = Some(*n),
                _ => return Err(self.type_error(n, want)),
            }
        }
        Ok(last)
    }

    fn with_occ(&self, occ: Occ<'n, 'a>) -> NodeDe<'n, 'a, 'p, 'c> {
        NodeDe {
            occ,
            path: self.path,
            ctx: self.ctx,
            field_of: self.field_of,
            elem_go: self.elem_go,
        }
    }

    /// The members a struct decodes from: every occurrence's object, matched to the struct's
    /// fields (Go's case-insensitive rule, version gates), with unused-key warnings recorded.
    #[allow(clippy::type_complexity)]
    fn struct_members(
        &self,
        name: &'static str,
        fields: &'static [&'static str],
    ) -> Result<
        (
            Members<'n, 'a>,
            Vec<(&'static str, usize, Option<Vec<usize>>)>,
        ),
        DeError,
    > {
        let objects: Vec<&'n [Member<'a>]> = {
            let mut v = Vec::new();
            for n in self.occ.all() {
                match &n.v {
                    Value::Null => {}
                    Value::Obj(m) => v.push(&m[..]),
                    _ => return Err(self.type_error(n, &format!("types.{}", go_name(name)))),
                }
            }
            v
        };
        // The common case, one object, borrows its members; repeated keys concatenate.
        let members: Members<'n, 'a> = match objects.as_slice() {
            [] => Members::Slice(&[]),
            [one] => Members::Slice(one),
            many => Members::Many(many.iter().flat_map(|m| m.iter()).collect()),
        };
        let parent = self.path.parent_key();
        let gates = crate::types::gates_of(name);
        let allowed = |f: &str| since_in(gates, name, f, parent) <= self.ctx.version;
        // Each field with the index of the first member that sets it and, when a key repeats,
        // all of them in document order.
        let mut chosen: Vec<(&'static str, usize, Option<Vec<usize>>)> =
            Vec::with_capacity(members.len());
        for i in 0..members.len() {
            let m = members.get(i);
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
                    path: self.path.to_path().key_owned(key),
                    message: unused_key_message(key, hint, usable.is_some()),
                    off: m.key_off,
                });
            }
            if let Some(f) = usable {
                match chosen.iter_mut().find(|(cf, _, _)| cf == f) {
                    Some((_, first, more)) => more.get_or_insert_with(|| vec![*first]).push(i),
                    None => chosen.push((f, i, None)),
                }
            }
        }
        Ok((members, chosen))
    }

    fn field_name(&self) -> &'p str {
        match self.path.seg {
            PathSeg::Key(k) => k,
            _ => "",
        }
    }
}

/// Go's `EqualFold` for ASCII field names, including the two non-ASCII letters that fold onto
/// ASCII ones (U+017F long s, U+212A Kelvin sign).
fn eq_fold(field: &str, key: &str) -> bool {
    let mut k = key.chars();
    for f in field.chars() {
        let Some(c) = k.next() else { return false };
        let fl = f.to_ascii_lowercase();
        let ok = c.to_ascii_lowercase() == fl
            || (c == '\u{17f}' && fl == 's')
            || (c == '\u{212a}' && fl == 'k');
        if !ok {
            return false;
        }
    }
    k.next().is_none()
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

/// The message of an unused-key warning. Ignition's text, plus ignis's hint: the key a typo
/// probably meant, or, for a key that differs only in case (Go applies it anyway), that it was
/// applied under its real name.
pub fn unused_key_message(key: &str, suggestion: Option<&str>, applied: bool) -> String {
    match (suggestion, applied) {
        (Some(s), true) => {
            format!("unused key {key} (applied as \"{s}\"; key names are case-sensitive)")
        }
        (Some(s), false) => format!("unused key {key} (did you mean \"{s}\"?)"),
        (None, _) => format!("unused key {key}"),
    }
}

impl<'de, 'n, 'a, 'p, 'c> de::Deserializer<'de> for NodeDe<'n, 'a, 'p, 'c> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let n = self.occ.all()[self.occ.all().len() - 1];
        match &n.v {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Num(t) => match t.parse::<i64>() {
                Ok(i) => v.visit_i64(i),
                Err(_) => v.visit_f64(t.parse::<f64>().unwrap_or(f64::NAN)),
            },
            Value::Str(s) => v.visit_str(s),
            Value::Arr(_) => self.deserialize_seq(v),
            Value::Obj(_) => Err(self.type_error(n, "interface")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self.last_plain("bool", |v| matches!(v, Value::Bool(_)))? {
            Some(Node {
                v: Value::Bool(b), ..
            }) => v.visit_bool(*b),
            _ => v.visit_bool(false),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let mut last = 0;
        for n in self.occ.all() {
            match &n.v {
                Value::Null => {}
                Value::Num(t) if !t.contains(['.', 'e', 'E']) => {
                    last = t.parse::<i64>().map_err(|_| self.type_error(n, "int"))?;
                }
                _ => return Err(self.type_error(n, "int")),
            }
        }
        v.visit_i64(last)
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
        match self.last_plain("string", |v| matches!(v, Value::Str(_)))? {
            Some(Node {
                v: Value::Str(s), ..
            }) => v.visit_str(s),
            _ => v.visit_str(""),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        // null sets a pointer to nil; decoding after it starts from a fresh value.
        let all = self.occ.all();
        match all.iter().rposition(|n| matches!(n.v, Value::Null)) {
            Some(k) if k == all.len() - 1 => v.visit_none(),
            Some(k) => {
                let rest = all[k + 1..].to_vec();
                let d = self.with_occ(Occ::from_vec(rest));
                v.visit_some(d)
            }
            None => v.visit_some(self),
        }
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        let elem = go_elem(self.field_of, self.field_name());
        let mut arrays: Vec<&'n [Node<'a>]> = Vec::new();
        for n in self.occ.all() {
            match &n.v {
                // null and [] both leave a fresh, empty slice behind.
                Value::Null => arrays.clear(),
                Value::Arr(items) if items.is_empty() => arrays.clear(),
                Value::Arr(items) => arrays.push(items),
                _ => return Err(self.type_error(n, &format!("[]types.{elem}"))),
            }
        }
        v.visit_seq(SeqDe {
            arrays,
            i: 0,
            path: self.path,
            ctx: self.ctx,
            field_of: self.field_of,
            elem,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        // The work is in a non-generic function: this one is instantiated once per spec type.
        let (members, chosen) = self.struct_members(name, fields)?;
        v.visit_map(MapDe {
            members,
            chosen,
            i: 0,
            path: self.path,
            ctx: self.ctx,
            name,
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

mod access;
use access::{MapDe, Members, SeqDe};

#[cfg(test)]
mod tests;
