//! The Butane fcos schema (Ignition's objects with snake_case keys, plus Butane's sugar) and the
//! generic walk that turns a YAML tree into Ignition JSON, warning about unused keys.

use crate::yaml::{parse_bool, parse_int, Node, Val};
use crate::Report;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Config,
    Ignition,
    IgnConfig,
    Proxy,
    Security,
    Tls,
    Timeouts,
    KArgs,
    Passwd,
    User,
    Group,
    Storage,
    Owner,
    File,
    Dir,
    Link,
    Tree,
    Resource,
    Header,
    Verification,
    Disk,
    Partition,
    Filesystem,
    Luks,
    Clevis,
    ClevisCustom,
    Tang,
    Cex,
    Raid,
    Systemd,
    Unit,
    Dropin,
    BootDevice,
    BootLuks,
    Mirror,
    Grub,
    GrubUser,
}

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Str,
    Int,
    Bool,
    Obj(Ty),
    List(&'static Kind),
}

/// A field: its YAML key, its kind, the first fcos minor version (1.N) that has it, and
/// whether it is Butane sugar (read by the sugar passes, never copied as is).
type Field = (&'static str, Kind, u8, bool);

use Kind::*;

const STRS: &Kind = &Str;

const fn f(k: &'static str, kind: Kind) -> Field {
    (k, kind, 0, false)
}
const fn since(k: &'static str, kind: Kind, v: u8) -> Field {
    (k, kind, v, false)
}
const fn sugar(k: &'static str, kind: Kind, v: u8) -> Field {
    (k, kind, v, true)
}

const NODE: [Field; 4] = [
    f("group", Obj(Ty::Owner)),
    f("overwrite", Bool),
    f("path", Str),
    f("user", Obj(Ty::Owner)),
];

pub fn fields(ty: Ty) -> Vec<Field> {
    let own: &[Field] = match ty {
        Ty::Config => &[
            sugar("variant", Str, 0),
            sugar("version", Str, 0),
            f("ignition", Obj(Ty::Ignition)),
            since("kernel_arguments", Obj(Ty::KArgs), 4),
            f("passwd", Obj(Ty::Passwd)),
            f("storage", Obj(Ty::Storage)),
            f("systemd", Obj(Ty::Systemd)),
            sugar("boot_device", Obj(Ty::BootDevice), 3),
            sugar("grub", Obj(Ty::Grub), 5),
        ],
        Ty::Ignition => &[
            f("config", Obj(Ty::IgnConfig)),
            since("proxy", Obj(Ty::Proxy), 1),
            f("security", Obj(Ty::Security)),
            f("timeouts", Obj(Ty::Timeouts)),
        ],
        Ty::IgnConfig => &[
            f("merge", List(&Obj(Ty::Resource))),
            f("replace", Obj(Ty::Resource)),
        ],
        Ty::Proxy => &[
            f("http_proxy", Str),
            f("https_proxy", Str),
            f("no_proxy", List(STRS)),
        ],
        Ty::Security => &[f("tls", Obj(Ty::Tls))],
        Ty::Tls => &[f("certificate_authorities", List(&Obj(Ty::Resource)))],
        Ty::Timeouts => &[f("http_response_headers", Int), f("http_total", Int)],
        Ty::KArgs => &[
            f("should_exist", List(STRS)),
            f("should_not_exist", List(STRS)),
        ],
        Ty::Passwd => &[
            f("users", List(&Obj(Ty::User))),
            f("groups", List(&Obj(Ty::Group))),
        ],
        Ty::User => &[
            f("name", Str),
            f("password_hash", Str),
            f("ssh_authorized_keys", List(STRS)),
            sugar("ssh_authorized_keys_local", List(STRS), 5),
            f("uid", Int),
            f("gecos", Str),
            f("home_dir", Str),
            f("no_create_home", Bool),
            f("primary_group", Str),
            f("groups", List(STRS)),
            f("no_user_group", Bool),
            f("no_log_init", Bool),
            f("shell", Str),
            since("should_exist", Bool, 2),
            f("system", Bool),
        ],
        Ty::Group => &[
            f("name", Str),
            f("gid", Int),
            f("password_hash", Str),
            since("should_exist", Bool, 2),
            f("system", Bool),
        ],
        Ty::Storage => &[
            f("directories", List(&Obj(Ty::Dir))),
            f("disks", List(&Obj(Ty::Disk))),
            f("files", List(&Obj(Ty::File))),
            f("filesystems", List(&Obj(Ty::Filesystem))),
            f("links", List(&Obj(Ty::Link))),
            since("luks", List(&Obj(Ty::Luks)), 2),
            f("raid", List(&Obj(Ty::Raid))),
            sugar("trees", List(&Obj(Ty::Tree)), 1),
        ],
        Ty::Owner => &[f("id", Int), f("name", Str)],
        Ty::File => &[
            f("append", List(&Obj(Ty::Resource))),
            f("contents", Obj(Ty::Resource)),
            f("mode", Int),
        ],
        Ty::Dir => &[f("mode", Int)],
        Ty::Link => &[f("hard", Bool), f("target", Str)],
        Ty::Tree => &[
            f("local", Str),
            f("path", Str),
            since("user", Obj(Ty::Owner), 7),
            since("group", Obj(Ty::Owner), 7),
            since("file_mode", Int, 7),
            since("dir_mode", Int, 7),
        ],
        Ty::Resource => &[
            f("compression", Str),
            since("http_headers", List(&Obj(Ty::Header)), 1),
            f("source", Str),
            f("verification", Obj(Ty::Verification)),
            sugar("inline", Str, 0),
            sugar("local", Str, 1),
        ],
        Ty::Header => &[f("name", Str), f("value", Str)],
        Ty::Verification => &[f("hash", Str)],
        Ty::Disk => &[
            f("device", Str),
            f("partitions", List(&Obj(Ty::Partition))),
            f("wipe_table", Bool),
        ],
        Ty::Partition => &[
            f("guid", Str),
            f("label", Str),
            f("number", Int),
            since("resize", Bool, 2),
            f("should_exist", Bool),
            f("size_mib", Int),
            f("start_mib", Int),
            f("type_guid", Str),
            f("wipe_partition_entry", Bool),
        ],
        Ty::Filesystem => &[
            f("device", Str),
            f("format", Str),
            f("label", Str),
            since("mount_options", List(STRS), 1),
            f("options", List(STRS)),
            f("path", Str),
            f("uuid", Str),
            f("wipe_filesystem", Bool),
            sugar("with_mount_unit", Bool, 1),
        ],
        Ty::Luks => &[
            since("cex", Obj(Ty::Cex), 6),
            f("clevis", Obj(Ty::Clevis)),
            f("device", Str),
            since("discard", Bool, 5),
            f("key_file", Obj(Ty::Resource)),
            f("label", Str),
            f("name", Str),
            since("open_options", List(STRS), 5),
            f("options", List(STRS)),
            f("uuid", Str),
            f("wipe_volume", Bool),
        ],
        Ty::Clevis => &[
            f("custom", Obj(Ty::ClevisCustom)),
            f("tang", List(&Obj(Ty::Tang))),
            f("threshold", Int),
            f("tpm2", Bool),
        ],
        Ty::ClevisCustom => &[f("config", Str), f("needs_network", Bool), f("pin", Str)],
        Ty::Tang => &[
            since("advertisement", Str, 5),
            f("thumbprint", Str),
            f("url", Str),
        ],
        Ty::Cex => &[f("enabled", Bool)],
        Ty::Raid => &[
            f("devices", List(STRS)),
            f("level", Str),
            f("name", Str),
            f("options", List(STRS)),
            f("spares", Int),
        ],
        Ty::Systemd => &[f("units", List(&Obj(Ty::Unit)))],
        Ty::Unit => &[
            f("contents", Str),
            sugar("contents_local", Str, 5),
            f("dropins", List(&Obj(Ty::Dropin))),
            f("enabled", Bool),
            f("mask", Bool),
            f("name", Str),
        ],
        Ty::Dropin => &[
            f("contents", Str),
            sugar("contents_local", Str, 5),
            f("name", Str),
        ],
        Ty::BootDevice => &[
            f("layout", Str),
            f("luks", Obj(Ty::BootLuks)),
            f("mirror", Obj(Ty::Mirror)),
        ],
        Ty::BootLuks => &[
            since("cex", Obj(Ty::Cex), 6),
            since("device", Str, 6),
            since("discard", Bool, 5),
            f("tang", List(&Obj(Ty::Tang))),
            f("threshold", Int),
            f("tpm2", Bool),
        ],
        Ty::Mirror => &[f("devices", List(STRS))],
        Ty::Grub => &[f("users", List(&Obj(Ty::GrubUser)))],
        Ty::GrubUser => &[f("name", Str), f("password_hash", Str)],
    };
    let mut v = Vec::new();
    if matches!(ty, Ty::File | Ty::Dir | Ty::Link) {
        v.extend_from_slice(&NODE);
    }
    v.extend_from_slice(own);
    v
}

/// Ignition's JSON name for a Butane key.
pub fn json_key(yaml: &str) -> String {
    let mut out = String::new();
    for (i, part) in yaml.split('_').enumerate() {
        if i > 0 && part == "mib" {
            out.push_str("MiB");
        } else if i == 0 {
            out.push_str(part);
        } else {
            let mut c = part.chars();
            if let Some(first) = c.next() {
                out.extend(first.to_uppercase());
                out.push_str(c.as_str());
            }
        }
    }
    out
}

/// The Go type yaml.v3 names when a value does not fit.
fn go_type(kind: &Kind) -> &'static str {
    match kind {
        Str => "string",
        Int => "int",
        Bool => "bool",
        Obj(_) => "struct",
        List(_) => "slice",
    }
}

fn mismatch(r: &mut Report, node: &Node, path: &str, kind: &Kind) {
    let shown = match &node.val {
        Val::Scalar(s, _) => format!("{} `{s}`", node.tag()),
        _ => node.tag().to_string(),
    };
    r.error(
        path,
        Some(node.pos),
        format!("cannot unmarshal {shown} into {}", go_type(kind)),
    );
}

/// Which schema: the base level (fcos 1.`minor`'s; flatcar 1.0 and 1.1 share fcos 1.4's and
/// 1.5's) and whether fcos's own sections (`boot_device`, `grub`) exist.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub minor: u8,
    pub fcos: bool,
}

/// Walks `node` as a `kind` value at JSON-ish `path` ($.a.0.b) for `spec`. Returns
/// None for nulls, type mismatches (reported) and empty objects/lists (Go's omitempty).
pub fn walk(node: &Node, kind: &Kind, path: &str, spec: Spec, r: &mut Report) -> Option<Value> {
    if node.is_null() {
        return None;
    }
    match (kind, &node.val) {
        (Str, Val::Scalar(s, _)) => Some(Value::String(s.clone())),
        // Raw bytes in a Go string; JSON encoding replaces what is not UTF-8.
        (Str, Val::Binary(b)) => Some(Value::String(String::from_utf8_lossy(b).into_owned())),
        (Int, Val::Scalar(s, true)) if parse_int(s).is_some() => parse_int(s).map(Value::from),
        (Bool, Val::Scalar(s, true)) if parse_bool(s).is_some() => parse_bool(s).map(Value::Bool),
        (List(item), Val::Seq(items)) => {
            let out: Vec<Value> = items
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    let v = walk(n, item, &format!("{path}.{i}"), spec, r);
                    // An item whose keys are all sugar is still an item.
                    v.unwrap_or(if matches!(n.val, Val::Map(_)) {
                        Value::Object(Map::new())
                    } else {
                        Value::Null
                    })
                })
                .collect();
            (!out.is_empty()).then_some(Value::Array(out))
        }
        (Obj(ty), Val::Map(entries)) => {
            let known = fields(*ty);
            let mut out = Map::new();
            for (k, kpos, v) in entries {
                let sub = format!("{path}.{k}");
                match known
                    .iter()
                    .find(|(name, _, min, _)| name == k && spec.minor >= *min)
                    .filter(|_| {
                        spec.fcos
                            || !(*ty == Ty::Config && matches!(k.as_str(), "boot_device" | "grub"))
                    }) {
                    Some((_, kind, _, false)) => {
                        if let Some(val) = walk(v, kind, &sub, spec, r) {
                            out.insert(json_key(k), val);
                        }
                    }
                    Some((_, kind, _, true)) => {
                        // Sugar is read by its own pass; still check its shape here.
                        let _ = walk(v, kind, &sub, spec, r);
                    }
                    None => r.warn(&sub, Some(*kpos), format!("unused key {k}")),
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        }
        _ => {
            mismatch(r, node, path, kind);
            None
        }
    }
}
