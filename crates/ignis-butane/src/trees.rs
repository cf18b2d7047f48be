//! `storage.trees`: a directory under the files directory becomes files, links (and, with
//! fcos 1.7's owner or dir_mode, directories) in the config.

use crate::sugar::{data_url, io_text, local_path, sub, text, Ctx, NODE_EXISTS, NO_FILES_DIR};
use crate::yaml::{Node, Pos, Val};
use crate::Report;
use serde_json::{json, Map, Value};
use std::path::Path;

/// `storage.trees`: every regular file and symlink under each tree becomes a file (mode 0644,
/// or 0755 when any execute bit is set, unless the config gives one) or a link.
pub fn apply(ctx: &Ctx, out: &mut Map<String, Value>, r: &mut Report) {
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
    let Some(storage) = sub(out, "storage") else {
        return;
    };
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
            let Some(c) = sub(file, "contents") else {
                continue;
            };
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
    let storage = sub(out, "storage")?;
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
