//! Butane's sugar over Ignition: inline/local contents as data URLs, local unit contents and
//! SSH keys, trees from the files directory, and mount units for filesystems.

use crate::yaml::{Node, Pos, Val};
use crate::Report;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

pub struct Ctx<'a> {
    pub root: &'a Node,
    pub minor: u8,
    /// fcos (boot_device, grub, its partition rules) rather than flatcar.
    pub fcos: bool,
    pub files_dir: Option<&'a Path>,
}

const NO_FILES_DIR: &str =
    "local file paths are relative to a files directory that must be specified with -d/--files-dir";
const NODE_EXISTS: &str = "matching filesystem node has existing contents or different type";

pub fn apply(ctx: &Ctx, out: &mut Map<String, Value>, r: &mut Report) {
    let root = ctx.root;
    // Every place Ignition takes a resource.
    if let Some(cfg) = root.get("ignition").and_then(|n| n.get("config")) {
        for_each(cfg.get("merge"), |i, n| {
            let j = slot(out, &["ignition", "config", "merge"], Some(i));
            resource(ctx, n, j, &format!("$.ignition.config.merge.{i}"), r);
        });
        if let Some(n) = cfg.get("replace") {
            let j = slot(out, &["ignition", "config", "replace"], None);
            resource(ctx, n, j, "$.ignition.config.replace", r);
        }
    }
    let cas = root
        .get("ignition")
        .and_then(|n| n.get("security"))
        .and_then(|n| n.get("tls"));
    for_each(
        cas.and_then(|n| n.get("certificate_authorities")),
        |i, n| {
            let j = slot(
                out,
                &["ignition", "security", "tls", "certificateAuthorities"],
                Some(i),
            );
            resource(
                ctx,
                n,
                j,
                &format!("$.ignition.security.tls.certificate_authorities.{i}"),
                r,
            );
        },
    );
    let storage = root.get("storage");
    for_each(storage.and_then(|n| n.get("files")), |i, file| {
        if let Some(n) = file.get("contents") {
            let j = slot(out, &["storage", "files"], Some(i));
            let j = sub(j, "contents");
            resource(ctx, n, j, &format!("$.storage.files.{i}.contents"), r);
        }
        for_each(file.get("append"), |k, n| {
            let j = slot(out, &["storage", "files"], Some(i));
            let j = match j.get_mut("append").and_then(|a| a.get_mut(k)) {
                Some(Value::Object(m)) => m,
                _ => return,
            };
            resource(ctx, n, j, &format!("$.storage.files.{i}.append.{k}"), r);
        });
    });
    for_each(storage.and_then(|n| n.get("luks")), |i, luks| {
        if let Some(n) = luks.get("key_file") {
            let j = sub(slot(out, &["storage", "luks"], Some(i)), "keyFile");
            resource(ctx, n, j, &format!("$.storage.luks.{i}.key_file"), r);
        }
    });
    for_each(
        root.get("systemd").and_then(|n| n.get("units")),
        |i, unit| {
            let path = format!("$.systemd.units.{i}");
            local_contents(
                ctx,
                unit,
                slot(out, &["systemd", "units"], Some(i)),
                &path,
                r,
            );
            for_each(unit.get("dropins"), |k, d| {
                let j = slot(out, &["systemd", "units"], Some(i));
                if let Some(Value::Object(m)) = j.get_mut("dropins").and_then(|a| a.get_mut(k)) {
                    local_contents(ctx, d, m, &format!("{path}.dropins.{k}"), r);
                }
            });
        },
    );
    for_each(
        root.get("passwd").and_then(|n| n.get("users")),
        |i, user| {
            ssh_keys_local(
                ctx,
                user,
                slot(out, &["passwd", "users"], Some(i)),
                &format!("$.passwd.users.{i}"),
                r,
            );
        },
    );
    if ctx.minor >= 1 {
        trees(ctx, out, r);
        crate::fcos::mount_units(ctx, out, r);
    }
    prune(out);
}

/// Calls `f` on each item of a YAML sequence.
pub fn for_each<'n>(node: Option<&'n Node>, mut f: impl FnMut(usize, &'n Node)) {
    if let Some(Node {
        val: Val::Seq(items),
        ..
    }) = node
    {
        for (i, n) in items.iter().enumerate() {
            f(i, n);
        }
    }
}

/// The position of the value at `key` in a YAML map: Butane points its errors at values
/// (unused-key warnings alone point at the key).
pub fn key_pos(node: &Node, key: &str) -> Option<Pos> {
    node.get(key).map(|n| n.pos)
}

/// The YAML scalar at `key`, if set and not null.
pub fn text(node: &Node, key: &str) -> Option<String> {
    match node.get(key) {
        Some(n) if !n.is_null() => match &n.val {
            Val::Scalar(s, _) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON object at `path` (and item `index` of the list there), created when missing.
pub fn slot<'m>(
    out: &'m mut Map<String, Value>,
    path: &[&str],
    index: Option<usize>,
) -> &'m mut Map<String, Value> {
    let mut cur = out;
    for (n, key) in path.iter().enumerate() {
        let last = n + 1 == path.len();
        let entry = cur.entry(*key).or_insert_with(|| {
            if last && index.is_some() {
                Value::Array(Vec::new())
            } else {
                Value::Object(Map::new())
            }
        });
        if last {
            if let Some(i) = index {
                if !entry.is_array() {
                    *entry = Value::Array(Vec::new());
                }
                let Value::Array(a) = entry else {
                    unreachable!()
                };
                while a.len() <= i {
                    a.push(Value::Object(Map::new()));
                }
                if !a[i].is_object() {
                    a[i] = Value::Object(Map::new());
                }
                let Value::Object(m) = &mut a[i] else {
                    unreachable!()
                };
                return m;
            }
        }
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(m) = entry else {
            unreachable!()
        };
        cur = m;
    }
    cur
}

fn sub<'m>(m: &'m mut Map<String, Value>, key: &str) -> &'m mut Map<String, Value> {
    let e = m.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    let Value::Object(o) = e else { unreachable!() };
    o
}

/// Drops the empty objects and lists the slots may have created (Go's omitempty).
pub fn prune(m: &mut Map<String, Value>) {
    for v in m.values_mut() {
        prune_value(v);
    }
    m.retain(|_, v| {
        !matches!(v, Value::Object(o) if o.is_empty())
            && !matches!(v, Value::Array(a) if a.is_empty())
    });
}

fn prune_value(v: &mut Value) {
    match v {
        Value::Object(o) => prune(o),
        Value::Array(a) => a.iter_mut().for_each(prune_value),
        _ => {}
    }
}

fn resource(ctx: &Ctx, node: &Node, out: &mut Map<String, Value>, path: &str, r: &mut Report) {
    // `local` exists from fcos 1.1; before, it is an unused key and nothing else.
    let set =
        |k: &str| (k != "local" || ctx.minor >= 1) && node.get(k).is_some_and(|n| !n.is_null());
    let fields: Vec<&str> = ["local", "inline", "source"]
        .into_iter()
        .filter(|k| set(k))
        .collect();
    if fields.len() > 1 {
        let last = fields[fields.len() - 1];
        r.error(
            &format!("{path}.{last}"),
            key_pos(node, last),
            "only one of the following can be set: inline, local, source",
        );
        return;
    }
    let contents = if let Some(local) = text(node, "local").filter(|_| ctx.minor >= 1) {
        match read_local(ctx, &local) {
            Ok(c) => c,
            Err(e) => {
                r.error(&format!("{path}.local"), key_pos(node, "local"), e);
                return;
            }
        }
    } else if let Some(inline) = text(node, "inline") {
        inline.into_bytes()
    } else {
        return;
    };
    // Only inline children: Butane means to check local ones too, but its check compares a
    // path that never matches, so local children pass unchecked there; do the same.
    let inline = node.get("inline").is_some_and(|n| !n.is_null());
    let child = path.starts_with("$.ignition.config") && ctx.minor >= 1 && inline;
    if child && !child_config(ctx.root, node, "inline", &contents, path, r) {
        return;
    }
    let user_compression = out
        .get("compression")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.is_empty());
    // fcos 1.0 (Ignition 3.0.0) never compresses nor records a compression.
    let auto = !user_compression && ctx.minor >= 1;
    let (url, compression) = data_url(&contents, auto);
    out.insert("source".into(), Value::String(url));
    if auto {
        out.insert("compression".into(), Value::String(compression.into()));
    }
}

/// An inline merge/replace child must itself be a valid Ignition config, as Butane
/// checks: its findings are reported under the child's own JSON paths. False when it cannot
/// even be read.
fn child_config(
    root: &Node,
    node: &Node,
    field: &str,
    contents: &[u8],
    path: &str,
    r: &mut Report,
) -> bool {
    use ignis_config::{report::Level, Failure};
    let (entries, failure) = match ignis_config::parse(contents) {
        Ok(p) => (p.report.entries, None),
        Err(e) => (e.report.entries, Some(e.failure)),
    };
    match failure {
        Some(Failure::InvalidVersion | Failure::UnknownVersion) => {
            r.warn(
                &format!("{path}.version"),
                Some(node.pos),
                "skipping validation for the merge/replace ignition config due to an unkown version",
            );
            return true;
        }
        Some(_) if entries.iter().all(|e| e.path.is_none()) => {
            for e in &entries {
                r.error("", Some(root.pos), e.message.clone());
            }
            r.error(
                &format!("{path}.{field}"),
                key_pos(node, field),
                "config is not valid",
            );
            return false;
        }
        _ => {}
    }
    for e in entries {
        let at = e.path.map(|p| p.to_string()).unwrap_or_default();
        match e.level {
            Level::Error => r.error(&at, Some(root.pos), e.message),
            _ => r.warn(&at, Some(root.pos), e.message),
        }
    }
    true
}

/// Reads `local` under the files directory, refusing paths that climb out of it.
pub fn read_local(ctx: &Ctx, local: &str) -> Result<Vec<u8>, String> {
    let path = local_path(ctx, local)?;
    // Go opens, then reads: a directory fails at the read.
    std::fs::read(&path).map_err(|e| {
        let op = if e.raw_os_error() == Some(21) {
            "read"
        } else {
            "open"
        };
        format!("{op} {}: {}", path.display(), io_text(&e))
    })
}

pub fn local_path(ctx: &Ctx, local: &str) -> Result<PathBuf, String> {
    let Some(dir) = ctx.files_dir else {
        return Err(NO_FILES_DIR.into());
    };
    let base = clean(dir);
    let joined = clean(&base.join(local.trim_start_matches('/')));
    if !joined.starts_with(&base) {
        return Err("local file path traverses outside the files directory".into());
    }
    Ok(joined)
}

/// Go's error texts for the common cases, so messages read like Butane's.
pub fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ if e.raw_os_error() == Some(21) => "is a directory".into(),
        _ => e.to_string(),
    }
}

/// Lexical path cleaning (no symlinks followed), like Go's filepath.Clean.
fn clean(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The shortest of a percent-encoded, base64 and (when allowed) gzip+base64 data URL, and
/// the compression to record ("" or "gzip").
pub fn data_url(contents: &[u8], allow_gzip: bool) -> (String, &'static str) {
    let mut opaque = String::from(",");
    for &b in contents {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            opaque.push(b as char);
        } else {
            opaque.push_str(&format!("%{b:02X}"));
        }
    }
    let b64 = format!(";base64,{}", base64(contents));
    if b64.len() < opaque.len() {
        opaque = b64;
    }
    let mut compression = "";
    if allow_gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        if enc.write_all(contents).is_ok() {
            if let Ok(gz) = enc.finish() {
                let gz = format!(";base64,{}", base64(&gz));
                if gz.len() + "gzip".len() < opaque.len() {
                    opaque = gz;
                    compression = "gzip";
                }
            }
        }
    }
    (format!("data:{opaque}"), compression)
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                s.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

fn local_contents(
    ctx: &Ctx,
    node: &Node,
    out: &mut Map<String, Value>,
    path: &str,
    r: &mut Report,
) {
    // From fcos 1.5 (flatcar 1.1); before, an unused key.
    let Some(local) = text(node, "contents_local").filter(|_| ctx.minor >= 5) else {
        return;
    };
    let at = format!("{path}.contents_local");
    if node.get("contents").is_some_and(|n| !n.is_null()) {
        r.error(
            &at,
            key_pos(node, "contents_local"),
            "only one of the following can be set: contents, contents_local",
        );
        return;
    }
    match read_local(ctx, &local) {
        Ok(c) => {
            out.insert(
                "contents".into(),
                Value::String(String::from_utf8_lossy(&c).into_owned()),
            );
        }
        Err(e) => r.error(&at, key_pos(node, "contents_local"), e),
    }
}

fn ssh_keys_local(
    ctx: &Ctx,
    node: &Node,
    out: &mut Map<String, Value>,
    path: &str,
    r: &mut Report,
) {
    if ctx.minor < 5 {
        return;
    }
    let Some(Node {
        val: Val::Seq(files),
        ..
    }) = node.get("ssh_authorized_keys_local")
    else {
        return;
    };
    if files.is_empty() {
        return;
    }
    let at = format!("{path}.ssh_authorized_keys_local");
    if ctx.files_dir.is_none() {
        r.error(
            &at,
            key_pos(node, "ssh_authorized_keys_local"),
            NO_FILES_DIR,
        );
        return;
    }
    let keys = out.entry("sshAuthorizedKeys").or_insert_with(|| json!([]));
    let Value::Array(keys) = keys else { return };
    for (i, f) in files.iter().enumerate() {
        let Val::Scalar(name, _) = &f.val else {
            continue;
        };
        match read_local(ctx, name) {
            Ok(c) => {
                let c = String::from_utf8_lossy(&c);
                for line in c.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)) {
                    if !line.is_empty() {
                        keys.push(Value::String(line.to_string()));
                    }
                }
            }
            Err(e) => r.error(&format!("{at}.{i}"), Some(f.pos), e),
        }
    }
}

/// `storage.trees`: every regular file and symlink under each tree becomes a file (mode 0644,
/// or 0755 when any execute bit is set, unless the config gives one) or a link.
fn trees(ctx: &Ctx, out: &mut Map<String, Value>, r: &mut Report) {
    let Some(Node {
        val: Val::Seq(list),
        ..
    }) = ctx.root.get("storage").and_then(|s| s.get("trees"))
    else {
        return;
    };
    for (i, tree) in list.iter().enumerate() {
        let at = format!("$.storage.trees.{i}");
        let pos = Some(tree.pos);
        if ctx.files_dir.is_none() {
            r.error(&at, pos, NO_FILES_DIR);
            return;
        }
        let Some(local) = text(tree, "local").filter(|l| !l.is_empty()) else {
            r.error(&at, pos, "local is required");
            continue;
        };
        let src = match local_path(ctx, &local) {
            Ok(p) => p,
            Err(e) => {
                r.error(&at, pos, e);
                continue;
            }
        };
        match std::fs::metadata(&src) {
            Err(e) => {
                r.error(&at, pos, format!("stat {}: {}", src.display(), io_text(&e)));
                continue;
            }
            Ok(m) if !m.is_dir() => {
                r.error(&at, pos, "root of tree must be a directory");
                continue;
            }
            Ok(_) => {}
        }
        let dest = text(tree, "path")
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        let opts = tree_options(ctx, tree);
        if opts.dirs_wanted() {
            add_dir(out, &dest, &opts, &at, pos, r);
        }
        walk_tree(&src, &dest, out, &opts, &at, pos, r);
    }
}

/// fcos 1.7's per-tree settings: owner and modes of what the tree creates.
#[derive(Default)]
struct TreeOpts {
    owner: Map<String, Value>,
    file_mode: Option<i64>,
    dir_mode: Option<i64>,
}

impl TreeOpts {
    /// Directories are only listed when something about them differs from the default.
    fn dirs_wanted(&self) -> bool {
        self.dir_mode.is_some() || !self.owner.is_empty()
    }
}

fn tree_options(ctx: &Ctx, tree: &Node) -> TreeOpts {
    let mut o = TreeOpts::default();
    if ctx.minor < 7 {
        return o;
    }
    let spec = crate::schema::Spec {
        minor: ctx.minor,
        fcos: ctx.fcos,
    };
    let mut scratch = Report::default();
    for key in ["user", "group"] {
        if let Some(n) = tree.get(key) {
            let kind = crate::schema::Kind::Obj(crate::schema::Ty::Owner);
            if let Some(v) = crate::schema::walk(n, &kind, "", spec, &mut scratch) {
                o.owner.insert(key.into(), v);
            }
        }
    }
    let int = |k: &str| match tree.get(k) {
        Some(Node {
            val: Val::Scalar(s, true),
            ..
        }) => crate::yaml::parse_int(s),
        _ => None,
    };
    o.file_mode = int("file_mode");
    o.dir_mode = int("dir_mode");
    o
}

fn add_dir(
    out: &mut Map<String, Value>,
    path: &str,
    opts: &TreeOpts,
    at: &str,
    pos: Option<Pos>,
    r: &mut Report,
) {
    let storage = sub(out, "storage");
    let exists = ["files", "directories", "links"].into_iter().any(|k| {
        storage.get(k).and_then(Value::as_array).is_some_and(|a| {
            a.iter()
                .any(|n| n.get("path").and_then(Value::as_str) == Some(path))
        })
    });
    if exists {
        r.error(at, pos, NODE_EXISTS);
        return;
    }
    let mut dir = opts.owner.clone();
    dir.insert("path".into(), json!(path));
    dir.insert("mode".into(), json!(opts.dir_mode.unwrap_or(0o755)));
    if let Value::Array(list) = storage.entry("directories").or_insert_with(|| json!([])) {
        list.push(Value::Object(dir));
    }
}

fn walk_tree(
    dir: &Path,
    dest: &str,
    out: &mut Map<String, Value>,
    opts: &TreeOpts,
    at: &str,
    pos: Option<Pos>,
    r: &mut Report,
) {
    let mut names: Vec<_> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok()).map(|e| e.file_name()).collect(),
        Err(e) => {
            r.error(at, pos, format!("open {}: {}", dir.display(), io_text(&e)));
            return;
        }
    };
    names.sort();
    for name in names {
        let src = dir.join(&name);
        let target = format!("{}/{}", dest.trim_end_matches('/'), name.to_string_lossy());
        let meta = match std::fs::symlink_metadata(&src) {
            Ok(m) => m,
            Err(e) => {
                r.error(at, pos, format!("lstat {}: {}", src.display(), io_text(&e)));
                continue;
            }
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            if opts.dirs_wanted() {
                add_dir(out, &target, opts, at, pos, r);
            }
            walk_tree(&src, &target, out, opts, at, pos, r);
        } else if ft.is_file() {
            let Some(file) = node_slot(out, "files", &target, &opts.owner, at, pos, r) else {
                continue;
            };
            if file.get("contents").and_then(|c| c.get("source")).is_some() {
                r.error(at, pos, NODE_EXISTS);
                continue;
            }
            let contents = match std::fs::read(&src) {
                Ok(c) => c,
                Err(e) => {
                    r.error(at, pos, format!("open {}: {}", src.display(), io_text(&e)));
                    continue;
                }
            };
            let c = sub(file, "contents");
            let user_compression = c
                .get("compression")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty());
            let (url, comp) = data_url(&contents, !user_compression);
            c.insert("source".into(), Value::String(url));
            if !user_compression {
                c.insert("compression".into(), Value::String(comp.into()));
            }
            if !file.contains_key("mode") {
                use std::os::unix::fs::PermissionsExt;
                let exec = meta.permissions().mode() & 0o111 != 0;
                let mode = opts.file_mode.unwrap_or(if exec { 0o755 } else { 0o644 });
                file.insert("mode".into(), json!(mode));
            }
        } else if ft.is_symlink() {
            let Some(link) = node_slot(out, "links", &target, &opts.owner, at, pos, r) else {
                continue;
            };
            if link.get("target").is_some() {
                r.error(at, pos, NODE_EXISTS);
                continue;
            }
            match std::fs::read_link(&src) {
                Ok(t) => {
                    link.insert(
                        "target".into(),
                        Value::String(t.to_string_lossy().into_owned()),
                    );
                }
                Err(e) => r.error(
                    at,
                    pos,
                    format!("readlink {}: {}", src.display(), io_text(&e)),
                ),
            }
        } else {
            r.error(
                at,
                pos,
                "trees may only contain files, directories, and symlinks",
            );
        }
    }
}

/// The storage entry of `kind` (files or links) for `path`: the config's own, or a new one;
/// None (reported) when another kind of node already has that path.
fn node_slot<'m>(
    out: &'m mut Map<String, Value>,
    kind: &str,
    path: &str,
    owner: &Map<String, Value>,
    at: &str,
    pos: Option<Pos>,
    r: &mut Report,
) -> Option<&'m mut Map<String, Value>> {
    let storage = sub(out, "storage");
    let has = |k: &str, s: &Map<String, Value>| {
        s.get(k).and_then(Value::as_array).is_some_and(|a| {
            a.iter()
                .any(|n| n.get("path").and_then(Value::as_str) == Some(path))
        })
    };
    let other = ["files", "directories", "links"]
        .into_iter()
        .any(|k| k != kind && has(k, storage));
    if other {
        r.error(at, pos, NODE_EXISTS);
        return None;
    }
    let list = storage.entry(kind).or_insert_with(|| json!([]));
    let Value::Array(list) = list else {
        return None;
    };
    let i = match list
        .iter()
        .position(|n| n.get("path").and_then(Value::as_str) == Some(path))
    {
        Some(i) => i,
        None => {
            let mut node = owner.clone();
            node.insert("path".into(), json!(path));
            list.push(Value::Object(node));
            list.len() - 1
        }
    };
    list[i].as_object_mut()
}
