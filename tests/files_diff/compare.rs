//! Comparing the two trees: every path's type, mode, owner, content, link target and
//! hard-link identity, with what is not part of the contract normalised or left out.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) kind: char,
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// File contents (normalised where noted) or link target.
    pub(crate) data: Vec<u8>,
    /// For a file with other names in the tree: the first of its names.
    pub(crate) hard_group: Option<String>,
}

impl Entry {
    fn show(&self) -> String {
        let data = match self.kind {
            'f' => {
                let mut preview: String = String::from_utf8_lossy(&self.data)
                    .chars()
                    .take(60)
                    .collect::<String>()
                    .escape_debug()
                    .to_string();
                if self.data.len() > 60 {
                    preview.push_str("...");
                }
                format!(
                    "{} bytes sha256:{} \"{preview}\"",
                    self.data.len(),
                    &hex(&sha2::Sha256::digest(&self.data))[..12]
                )
            }
            'l' => format!("-> {}", String::from_utf8_lossy(&self.data)),
            _ => String::new(),
        };
        let hard = self
            .hard_group
            .as_ref()
            .map(|h| format!(" (hard link of {h})"))
            .unwrap_or_default();
        format!(
            "{} {:04o} {}:{} {data}{hard}",
            self.kind, self.mode, self.uid, self.gid
        )
    }
}

/// shadow-utils' by-products in /etc that are not part of the contract, and ignis's
/// in-progress marker (see the top of the file).
pub(crate) fn ignored(rel: &str) -> bool {
    matches!(
        rel,
        "/etc/.ignition-in-progress.json"
            | "/etc/passwd-"
            | "/etc/shadow-"
            | "/etc/group-"
            | "/etc/gshadow-"
            | "/etc/subuid-"
            | "/etc/subgid-"
            | "/etc/.pwd.lock"
    )
}

pub(crate) fn normalise(rel: &str, data: Vec<u8>) -> Vec<u8> {
    match rel {
        // The boot id and the date are the run's, not the config's.
        "/etc/.ignition-result.json" => match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(serde_json::Value::Object(mut m)) => {
                for k in ["provisioningDate", "provisioningBootID"] {
                    if m.contains_key(k) {
                        m.insert(k.into(), serde_json::Value::String("<run>".into()));
                    }
                }
                serde_json::to_vec(&m).unwrap()
            }
            _ => data,
        },
        // Ignition 2.14 writes preset lines in Go map order (random); newer Ignition sorts them.
        "/etc/systemd/system-preset/20-ignition.preset" => {
            let text = String::from_utf8_lossy(&data);
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            lines.sort_unstable();
            lines.concat().into_bytes()
        }
        // The last-change day is today's, whichever day the agents ran on.
        "/etc/shadow" => {
            let text = String::from_utf8_lossy(&data);
            let mut out = String::new();
            for line in text.split_inclusive('\n') {
                let mut f: Vec<&str> = line.split(':').collect();
                if f.len() > 2 && !f[2].is_empty() && f[2].chars().all(|c| c.is_ascii_digit()) {
                    f[2] = "<day>";
                }
                out.push_str(&f.join(":"));
            }
            out.into_bytes()
        }
        _ => data,
    }
}

pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(
        root: &Path,
        dir: &Path,
        out: &mut BTreeMap<String, Entry>,
        inodes: &mut BTreeMap<(u64, u64), Vec<String>>,
    ) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = format!("/{}", path.strip_prefix(root).unwrap().to_string_lossy());
            if ignored(&rel) {
                continue;
            }
            let m = fs::symlink_metadata(&path).unwrap();
            let ft = m.file_type();
            let (kind, data) = if ft.is_symlink() {
                (
                    'l',
                    fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes(),
                )
            } else if ft.is_dir() {
                ('d', Vec::new())
            } else if ft.is_file() {
                ('f', normalise(&rel, fs::read(&path).unwrap()))
            } else {
                ('o', Vec::new())
            };
            if !ft.is_dir() && m.nlink() > 1 {
                inodes
                    .entry((m.dev(), m.ino()))
                    .or_default()
                    .push(rel.clone());
            }
            out.insert(
                rel,
                Entry {
                    kind,
                    mode: m.mode() & 0o7777,
                    uid: m.uid(),
                    gid: m.gid(),
                    data,
                    hard_group: None,
                },
            );
            if ft.is_dir() {
                walk(root, &path, out, inodes);
            }
        }
    }
    let mut out = BTreeMap::new();
    let mut inodes = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    for names in inodes.values() {
        if names.len() > 1 {
            let first = names.iter().min().unwrap().clone();
            for n in names {
                if let Some(e) = out.get_mut(n) {
                    e.hard_group = Some(first.clone());
                }
            }
        }
    }
    out
}

/// (key, description) for every difference; the key is a path in the target or `verdict`.
pub(crate) fn compare(
    ign: &RunOut,
    ignis: &RunOut,
    a: &BTreeMap<String, Entry>,
    b: &BTreeMap<String, Entry>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if ign.ok != ignis.ok {
        out.push((
            "verdict".to_string(),
            format!(
                "verdict: Ignition {}, ignis {}",
                if ign.ok { "succeeded" } else { "failed" },
                if ignis.ok { "succeeded" } else { "failed" }
            ),
        ));
    }
    for k in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
        match (a.get(k), b.get(k)) {
            (Some(x), Some(y)) if x == y => {}
            (Some(x), Some(y)) => out.push((
                k.clone(),
                format!("{k}: Ignition {} | ignis {}", x.show(), y.show()),
            )),
            (Some(x), None) => out.push((
                k.clone(),
                format!("{k}: only after Ignition ({})", x.show()),
            )),
            (None, Some(y)) => {
                out.push((k.clone(), format!("{k}: only after ignis ({})", y.show())))
            }
            (None, None) => {}
        }
    }
    out
}

/// The lines of a log that say what went wrong (Ignition dumps the whole config after them).
pub(crate) fn error_lines(log: &str) -> String {
    let picked: Vec<String> = log
        .lines()
        .filter(|l| {
            l.starts_with("---")
                || l.contains("CRITICAL")
                || l.contains("failed")
                || l.contains("ERROR")
                || l.contains("WARNING")
                || l.starts_with("ignis:")
        })
        .take(12)
        .map(|l| format!("         | {l}"))
        .collect();
    picked.join("\n")
}
