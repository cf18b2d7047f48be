//! Butane to Ignition translation (variants `fcos` 1.0.0-1.7.0 and `flatcar` 1.0.0-1.1.0): parse YAML with positions,
//! walk the schema, apply Butane's sugar, report warnings and errors at YAML line:column.

mod checks;
mod dataurl;
mod fcos;
mod schema;
mod sugar;
mod trees;
pub mod yaml;

use serde_json::Value;
use std::fmt;
use std::path::PathBuf;
use yaml::Pos;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-d/--files-dir`: where `local` paths are resolved; none given means they are errors.
    pub files_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
}

/// One diagnostic: its level, the Butane path ($.storage.files.0.mode) and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub level: Level,
    pub path: String,
    pub pos: Option<Pos>,
    pub message: String,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "{level}")?;
        if !self.path.is_empty() {
            write!(f, " at {}", self.path)?;
        }
        if let Some(p) = self.pos {
            write!(f, ", line {} col {}", p.line, p.col)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub entries: Vec<Entry>,
}

impl Report {
    pub fn error(&mut self, path: &str, pos: Option<Pos>, message: impl Into<String>) {
        self.push(Level::Error, path, pos, message.into());
    }
    pub fn warn(&mut self, path: &str, pos: Option<Pos>, message: impl Into<String>) {
        self.push(Level::Warning, path, pos, message.into());
    }
    fn push(&mut self, level: Level, path: &str, pos: Option<Pos>, message: String) {
        self.entries.push(Entry {
            level,
            path: path.to_string(),
            pos,
            message,
        });
    }
    pub fn has_errors(&self) -> bool {
        self.entries.iter().any(|e| e.level == Level::Error)
    }
    pub fn has_warnings(&self) -> bool {
        self.entries.iter().any(|e| e.level == Level::Warning)
    }
}

/// The result of a translation: the Ignition config (None when an error was reported) and
/// every diagnostic.
#[derive(Debug)]
pub struct Translation {
    pub config: Option<Value>,
    pub report: Report,
}

/// Ignition spec version produced for each fcos 1.N (Butane's table: 1.2 and 1.3 share 3.2.0).
/// flatcar 1.0 and 1.1 are fcos 1.4's and 1.5's schema without fcos's sections.
const FCOS_SPEC: [&str; 8] = [
    "3.0.0", "3.1.0", "3.2.0", "3.2.0", "3.3.0", "3.4.0", "3.5.0", "3.6.0",
];

/// Does this look like a Butane config rather than Ignition JSON (for `ignis validate`)?
pub fn looks_like_butane(name: &str, src: &[u8]) -> bool {
    if name.ends_with(".bu") || name.ends_with(".yaml") || name.ends_with(".yml") {
        return true;
    }
    let first = src.iter().find(|b| !b.is_ascii_whitespace());
    first.is_some() && first != Some(&b'{')
}

/// Translates a Butane config to Ignition JSON.
pub fn translate(src: &[u8], opts: &Options) -> Translation {
    let mut report = Report::default();
    let fail = |report: Report| Translation {
        config: None,
        report,
    };
    let Ok(text) = std::str::from_utf8(src) else {
        report.error("", None, "config is not valid UTF-8");
        return fail(report);
    };
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            report.error("", Some(e.pos), e.msg);
            return fail(report);
        }
    };
    if !matches!(root.val, yaml::Val::Map(_)) {
        report.error(
            "$",
            Some(root.pos),
            format!("cannot unmarshal {} into the config", root.tag()),
        );
        return fail(report);
    }
    let variant = root.get("variant").and_then(scalar);
    let version = root.get("version").and_then(scalar);
    let Some(variant) = variant.filter(|v| !v.is_empty()) else {
        report.error(
            "$.variant",
            None,
            "error parsing variant; must be specified",
        );
        return fail(report);
    };
    let Some(version) = version else {
        report.error(
            "$.version",
            None,
            "error parsing version; must be a valid semver",
        );
        return fail(report);
    };
    let Some(minor) = parse_semver(&version) else {
        report.error(
            "$.version",
            root.get("version").map(|n| n.pos),
            "error parsing version; must be a valid semver",
        );
        return fail(report);
    };
    let (minor, fcos) = match (variant.as_str(), minor) {
        ("fcos", (1, m, 0, false)) if m <= 7 => (m as u8, true),
        ("flatcar", (1, m, 0, false)) if m <= 1 => (m as u8 + 4, false),
        _ => {
            report.error(
                "",
                None,
                format!("No translator exists for variant {variant} with version {version}"),
            );
            return fail(report);
        }
    };
    let kind = schema::Kind::Obj(schema::Ty::Config);
    let spec = schema::Spec { minor, fcos };
    let mut out = schema::walk(&root, &kind, "$", spec, &mut report)
        .unwrap_or(Value::Object(Default::default()));
    checks::run(&root, minor, fcos, &mut report);
    if report.has_errors() {
        return fail(report);
    }
    let Value::Object(map) = &mut out else {
        return fail(report);
    };
    let ctx = sugar::Ctx {
        root: &root,
        minor,
        fcos,
        files_dir: opts.files_dir.as_deref(),
    };
    sugar::apply(&ctx, map, &mut report);
    if !report.has_errors() {
        fcos::apply(&ctx, map, &mut report);
    }
    let ignition = map
        .entry("ignition")
        .or_insert_with(|| Value::Object(Default::default()));
    if let Value::Object(ign) = ignition {
        ign.insert(
            "version".into(),
            Value::String(FCOS_SPEC[minor as usize].into()),
        );
    }
    if report.has_errors() {
        return fail(report);
    }
    validate_output(&root, &out, &mut report);
    if report.has_errors() {
        return fail(report);
    }
    Translation {
        config: Some(out),
        report,
    }
}

/// Validates the generated config with ignis's engine (Butane does so with Ignition's) and
/// reports its findings at the YAML they came from, when that exists.
fn validate_output(root: &yaml::Node, out: &Value, report: &mut Report) {
    let json = out.to_string();
    let found = match ignis_config::parse(json.as_bytes()) {
        Ok(p) => p.report,
        Err(e) => e.report,
    };
    for e in found.entries {
        let (path, pos) = match &e.path {
            Some(p) => yaml_place(root, p).unwrap_or_else(|| (p.to_string(), None)),
            None => (String::new(), None),
        };
        match e.level {
            ignis_config::report::Level::Error => report.error(&path, pos, e.message),
            _ => report.warn(&path, pos, e.message),
        }
    }
}

/// The Butane path and position of the YAML node a JSON path was translated from; for what
/// Butane generated, the path as far as the YAML has it and the position of that part.
fn yaml_place(
    root: &yaml::Node,
    path: &ignis_config::report::JsonPath,
) -> Option<(String, Option<Pos>)> {
    use ignis_config::report::Seg;
    let mut node = Some(root);
    let mut pos = root.pos;
    let mut text = String::from("$");
    for seg in &path.0 {
        let next = match (seg, node.map(|n| &n.val)) {
            (Seg::Key(k), Some(yaml::Val::Map(entries))) => entries
                .iter()
                .find(|(name, _, _)| schema::json_key(name) == *k)
                .map(|(name, _, n)| (name.clone(), n)),
            (Seg::Index(i), Some(yaml::Val::Seq(items))) => {
                items.get(*i).map(|n| (i.to_string(), n))
            }
            _ => None,
        };
        text.push('.');
        match next {
            Some((name, n)) => {
                text.push_str(&name);
                pos = n.pos;
                node = Some(n);
            }
            None => {
                match seg {
                    Seg::Key(k) => text.push_str(k),
                    Seg::Index(i) => text.push_str(&i.to_string()),
                }
                node = None;
            }
        }
    }
    Some((text, Some(pos)))
}

fn scalar(n: &yaml::Node) -> Option<String> {
    match &n.val {
        yaml::Val::Scalar(s, _) => Some(s.clone()),
        _ => None,
    }
}

/// major, minor, patch, and whether there is a pre-release part (`1.8.0-experimental`).
fn parse_semver(v: &str) -> Option<(u64, u64, u64, bool)> {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, !p.is_empty()),
        None => (v, false),
    };
    let mut it = core.split('.').map(|p| p.parse::<u64>().ok());
    let t = (it.next()??, it.next()??, it.next()??, pre);
    it.next().is_none().then_some(t)
}
