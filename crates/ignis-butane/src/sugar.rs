//! Butane's sugar over Ignition: inline/local contents as data URLs, local unit contents and
//! SSH keys; the walk that finds every resource, unit and user the sugar applies to.

pub use crate::dataurl::data_url;
use crate::yaml::{Node, Pos, Val};
use crate::Report;
use serde_json::{json, Map, Value};
use std::path::{Component, Path, PathBuf};

pub struct Ctx<'a> {
    pub root: &'a Node,
    pub minor: u8,
    /// fcos (boot_device, grub, its partition rules) rather than flatcar.
    pub fcos: bool,
    pub files_dir: Option<&'a Path>,
}

pub(crate) const NO_FILES_DIR: &str =
    "local file paths are relative to a files directory that must be specified with -d/--files-dir";
pub(crate) const NODE_EXISTS: &str =
    "matching filesystem node has existing contents or different type";

pub fn apply(ctx: &Ctx, out: &mut Map<String, Value>, r: &mut Report) {
    let root = ctx.root;
    // Every place Ignition takes a resource.
    if let Some(cfg) = root.get("ignition").and_then(|n| n.get("config")) {
        for_each(cfg.get("merge"), |i, n| {
            if let Some(j) = slot(out, &["ignition", "config", "merge"], Some(i)) {
                resource(ctx, n, j, &format!("$.ignition.config.merge.{i}"), r);
            }
        });
        if let Some(n) = cfg.get("replace") {
            if let Some(j) = slot(out, &["ignition", "config", "replace"], None) {
                resource(ctx, n, j, "$.ignition.config.replace", r);
            }
        }
    }
    let tls = root
        .get("ignition")
        .and_then(|n| n.get("security"))
        .and_then(|n| n.get("tls"));
    for_each(
        tls.and_then(|n| n.get("certificate_authorities")),
        |i, n| {
            let cas = ["ignition", "security", "tls", "certificateAuthorities"];
            if let Some(j) = slot(out, &cas, Some(i)) {
                let at = format!("$.ignition.security.tls.certificate_authorities.{i}");
                resource(ctx, n, j, &at, r);
            }
        },
    );
    let storage = root.get("storage");
    for_each(storage.and_then(|n| n.get("files")), |i, file| {
        if let Some(n) = file.get("contents") {
            if let Some(j) =
                slot(out, &["storage", "files"], Some(i)).and_then(|f| sub(f, "contents"))
            {
                resource(ctx, n, j, &format!("$.storage.files.{i}.contents"), r);
            }
        }
        for_each(file.get("append"), |k, n| {
            let j = slot(out, &["storage", "files"], Some(i))
                .and_then(|f| f.get_mut("append"))
                .and_then(|a| a.get_mut(k))
                .and_then(Value::as_object_mut);
            if let Some(j) = j {
                resource(ctx, n, j, &format!("$.storage.files.{i}.append.{k}"), r);
            }
        });
    });
    // LUKS volumes exist from fcos 1.2; before, the key is unused and has no resources.
    let luks = storage
        .and_then(|n| n.get("luks"))
        .filter(|_| ctx.minor >= 2);
    for_each(luks, |i, luks| {
        if let Some(n) = luks.get("key_file") {
            if let Some(j) =
                slot(out, &["storage", "luks"], Some(i)).and_then(|l| sub(l, "keyFile"))
            {
                resource(ctx, n, j, &format!("$.storage.luks.{i}.key_file"), r);
            }
        }
    });
    for_each(
        root.get("systemd").and_then(|n| n.get("units")),
        |i, unit| {
            let path = format!("$.systemd.units.{i}");
            if let Some(j) = slot(out, &["systemd", "units"], Some(i)) {
                local_contents(ctx, unit, j, &path, r);
            }
            for_each(unit.get("dropins"), |k, d| {
                let j = slot(out, &["systemd", "units"], Some(i))
                    .and_then(|u| u.get_mut("dropins"))
                    .and_then(|a| a.get_mut(k))
                    .and_then(Value::as_object_mut);
                if let Some(j) = j {
                    local_contents(ctx, d, j, &format!("{path}.dropins.{k}"), r);
                }
            });
        },
    );
    for_each(
        root.get("passwd").and_then(|n| n.get("users")),
        |i, user| {
            if let Some(j) = slot(out, &["passwd", "users"], Some(i)) {
                ssh_keys_local(ctx, user, j, &format!("$.passwd.users.{i}"), r);
            }
        },
    );
    if ctx.minor >= 1 {
        crate::trees::apply(ctx, out, r);
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
            Val::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// The JSON object at `path` (and item `index` of the list there), created when missing;
/// None only if something else than an object or list is in the way (never in what the
/// schema walk produces).
pub fn slot<'m>(
    out: &'m mut Map<String, Value>,
    path: &[&str],
    index: Option<usize>,
) -> Option<&'m mut Map<String, Value>> {
    let (last, parents) = path.split_last()?;
    let mut cur = out;
    for key in parents {
        cur = sub(cur, key)?;
    }
    let Some(i) = index else {
        return sub(cur, last);
    };
    let list = cur
        .entry(*last)
        .or_insert_with(|| Value::Array(Vec::new()))
        .as_array_mut()?;
    while list.len() <= i {
        list.push(Value::Object(Map::new()));
    }
    if list[i].is_null() {
        list[i] = Value::Object(Map::new());
    }
    list[i].as_object_mut()
}

/// The object at `key`, created when missing.
pub(crate) fn sub<'m>(
    m: &'m mut Map<String, Value>,
    key: &str,
) -> Option<&'m mut Map<String, Value>> {
    m.entry(key)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
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
    } else if let Some(Node {
        val: Val::Binary(b),
        ..
    }) = node.get("inline")
    {
        b.clone()
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
