//! SELinux file contexts as libselinux's file backend reads them for setfiles: the
//! `file_contexts` specs with their `.homedirs` and `.local` companions, the `.subs` and
//! `.subs_dist` path aliases, and the lookup of a path's context (last matching spec wins,
//! exact paths after patterns, a spec's fixed first component as its stem).

pub mod regex;

use crate::error::Result;
use regex::{Regex, Vm};
use std::collections::HashMap;

/// One line of a file_contexts file.
struct Spec {
    /// The spec's fixed first component (`/usr` of `/usr/bin/x`): the pattern is matched
    /// against the rest of a path with the same first component.
    stem: Option<String>,
    /// `S_IFMT` bits the entry must have; 0 for any.
    file_type: u32,
    context: Box<str>,
    re: Regex,
}

/// A policy's file contexts, ready for lookups.
pub struct Labels {
    specs: Vec<Spec>,
    /// Spec indices by stem, ascending; specs without a stem in `no_stem`.
    by_stem: HashMap<String, Vec<u32>>,
    no_stem: Vec<u32>,
    /// Aliases (`.subs`, then `.subs_dist`), each list last line first.
    subs: Vec<(String, String)>,
    dist_subs: Vec<(String, String)>,
}

/// Why a policy is left to setfiles: a file it cannot read as libselinux would.
pub type Unsupported = String;

/// A context as libselinux stores it in `security.selinux`: the text and a NUL.
pub fn xattr_value(context: &str) -> Vec<u8> {
    let mut value = Vec::with_capacity(context.len() + 1);
    value.extend_from_slice(context.as_bytes());
    value.push(0);
    value
}

fn file_type(t: &str) -> Option<u32> {
    Some(match t {
        "--" => 0o100000,
        "-d" => 0o040000,
        "-l" => 0o120000,
        "-c" => 0o020000,
        "-b" => 0o060000,
        "-p" => 0o010000,
        "-s" => 0o140000,
        _ => return None,
    })
}

/// Whether the pattern has a regex meta character (outside an escape): libselinux sorts the
/// specs without one (exact paths) after all others.
fn has_meta(re: &[u8]) -> bool {
    let mut i = 0;
    while i < re.len() {
        match re[i] {
            b'.' | b'^' | b'$' | b'?' | b'*' | b'+' | b'|' | b'[' | b'(' | b'{' => return true,
            b'\\' => i += 1,
            _ => {}
        }
        i += 1;
    }
    false
}

/// The spec's stem: up to the second slash, when nothing before it is a meta character.
fn spec_stem(re: &str) -> Option<&str> {
    let end = 1 + re.get(1..)?.find('/')?;
    let stem = &re[..end];
    if stem.contains(['.', '^', '$', '?', '*', '+', '|', '[', '(', '{']) {
        return None;
    }
    Some(stem)
}

fn parse_subs(text: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for line in String::from_utf8_lossy(text).lines() {
        let line = line.trim_start();
        if line.starts_with('#') {
            continue;
        }
        let mut f = line.split_ascii_whitespace();
        if let (Some(src), Some(dst)) = (f.next(), f.next()) {
            out.push((src.to_string(), dst.to_string()));
        }
    }
    out.reverse();
    out
}

fn apply_subs(subs: &[(String, String)], key: &str) -> Option<String> {
    for (src, dst) in subs {
        let Some(rest) = key.strip_prefix(src.as_str()) else {
            continue;
        };
        if rest.is_empty() || rest.starts_with('/') {
            let rest = if dst == "/" && rest.starts_with('/') {
                &rest[1..]
            } else {
                rest
            };
            return Some(format!("{dst}{rest}"));
        }
    }
    None
}

impl Labels {
    /// Loads the policy whose file_contexts is at `fc`, reading files with `read` (`None`:
    /// missing). The inner error says why the policy must be left to setfiles.
    pub fn load(
        read: &mut dyn FnMut(&str) -> Result<Option<Vec<u8>>>,
        fc: &str,
    ) -> Result<std::result::Result<Labels, Unsupported>> {
        // Patterns first, then exact paths, each group in file order.
        let (mut specs, mut exact) = (Vec::new(), Vec::new());
        // The patterns of file_contexts itself with their file types, then spec indices by
        // stem (one map type for both).
        let mut map: HashMap<String, Vec<u32>> = HashMap::new();
        for suffix in ["", ".homedirs", ".local"] {
            let path = format!("{fc}{suffix}");
            let Some(text) = read(&path)? else {
                if suffix.is_empty() {
                    return Ok(Err(format!("{path} is missing")));
                }
                continue;
            };
            for (n, line) in text.split(|&c| c == b'\n').enumerate() {
                let (meta, spec, re) = match parse_line(line) {
                    Ok(Some(x)) => x,
                    Ok(None) => continue,
                    Err(why) => return Ok(Err(format!("{path} line {}: {why}", n + 1))),
                };
                // libselinux refuses a pattern twice in file_contexts itself (for overlapping
                // file types): setfiles fails, and says so.
                if suffix.is_empty() {
                    let types = map.entry(re).or_default();
                    let t = spec.file_type;
                    if types.iter().any(|&u| u == 0 || t == 0 || u == t) {
                        return Ok(Err(format!("{path} line {}: repeated pattern", n + 1)));
                    }
                    types.push(t);
                }
                if meta {
                    specs.push(spec);
                } else {
                    exact.push(spec);
                }
            }
        }
        specs.extend(exact);
        map.clear();
        let mut no_stem = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            match &s.stem {
                Some(st) => map.entry(st.clone()).or_default().push(i as u32),
                None => no_stem.push(i as u32),
            }
        }
        let subs = read(&format!("{fc}.subs"))?.map_or_else(Vec::new, |t| parse_subs(&t));
        let dist_subs = read(&format!("{fc}.subs_dist"))?.map_or_else(Vec::new, |t| parse_subs(&t));
        Ok(Ok(Labels {
            specs,
            by_stem: map,
            no_stem,
            subs,
            dist_subs,
        }))
    }

    pub fn len(&self) -> usize {
        self.specs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// The context for `path` (inside the target, absolute) of file type `file_type`
    /// (`S_IFMT` bits): the spec index and context, or `None` when no spec matches or the
    /// matching one says `<<none>>`.
    pub fn lookup(&self, path: &str, file_type: u32, vm: &mut Vm) -> Option<(usize, &str)> {
        let subbed = match apply_subs(&self.subs, path) {
            Some(p) => apply_subs(&self.dist_subs, &p).or(Some(p)),
            None => apply_subs(&self.dist_subs, path),
        };
        let mut key = subbed.as_deref().unwrap_or(path);
        let cleaned;
        if key.contains("//") || (key.len() > 1 && key.ends_with('/')) {
            let mut c = String::with_capacity(key.len());
            for ch in key.chars() {
                if !(ch == '/' && c.ends_with('/')) {
                    c.push(ch);
                }
            }
            if c.len() > 1 && c.ends_with('/') {
                c.pop();
            }
            cleaned = c;
            key = &cleaned;
        }
        let stem_len = key.get(1..).and_then(|k| k.find('/')).map(|p| p + 1);
        let stemmed = stem_len.and_then(|l| self.by_stem.get(&key[..l]).map(|v| (l, v)));
        let (with_stem, l): (&[u32], usize) = match stemmed {
            Some((l, v)) => (v, l),
            None => (&[], 0),
        };
        let key = key.as_bytes();
        // Both index lists ascend: walk them from the end, merged, as libselinux walks its
        // one array from the last spec back.
        let (mut a, mut b) = (with_stem.len(), self.no_stem.len());
        while a > 0 || b > 0 {
            let take_a = b == 0 || (a > 0 && with_stem[a - 1] > self.no_stem[b - 1]);
            let (idx, subject) = if take_a {
                a -= 1;
                (with_stem[a] as usize, &key[l..])
            } else {
                b -= 1;
                (self.no_stem[b] as usize, key)
            };
            let s = &self.specs[idx];
            if file_type != 0 && s.file_type != 0 && s.file_type != file_type {
                continue;
            }
            if s.re.is_match(subject, vm) {
                if &*s.context == "<<none>>" {
                    return None;
                }
                return Some((idx, &s.context));
            }
        }
        None
    }
}

/// One file_contexts line: `None` for a blank line or a comment; `(has meta, spec, pattern)`.
fn parse_line(line: &[u8]) -> std::result::Result<Option<(bool, Spec, String)>, String> {
    let line = String::from_utf8_lossy(line);
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    let (re, ty, ctx) = match f[..] {
        [re, ctx] => (re, None, ctx),
        [re, ty, ctx] => (re, Some(ty), ctx),
        _ => return Err(format!("{} fields", f.len())),
    };
    let file_type = match ty {
        None => 0,
        Some(t) => file_type(t).ok_or_else(|| format!("file type {t:?}"))?,
    };
    let stem = spec_stem(re);
    let rest = &re[stem.map_or(0, str::len)..];
    let compiled =
        Regex::new(format!("^{rest}$").as_bytes()).map_err(|e| format!("pattern: {e}"))?;
    Ok(Some((
        has_meta(re.as_bytes()),
        Spec {
            stem: stem.map(str::to_string),
            file_type,
            context: ctx.into(),
            re: compiled,
        },
        re.to_string(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(files: &[(&str, &str)]) -> Labels {
        let map: HashMap<String, Vec<u8>> = files
            .iter()
            .map(|(p, t)| (format!("/fc{p}"), t.as_bytes().to_vec()))
            .collect();
        Labels::load(&mut |p| Ok(map.get(p).cloned()), "/fc")
            .unwrap()
            .unwrap()
    }

    fn get<'a>(l: &'a Labels, p: &str, t: u32) -> Option<&'a str> {
        l.lookup(p, t, &mut Vm::default()).map(|x| x.1)
    }

    const REG: u32 = 0o100000;
    const DIR: u32 = 0o040000;

    #[test]
    fn last_match_wins_and_exact_paths_come_last() {
        let l = labels(&[(
            "",
            "/etc/x\tu:r:exact_t:s0\n/.*\tu:r:default_t:s0\n/etc(/.*)?\tu:r:etc_t:s0\n\
             /etc/y(/.*)?\t<<none>>\n/etc/d\t-d\tu:r:dir_t:s0\n",
        )]);
        assert_eq!(get(&l, "/etc/x", REG), Some("u:r:exact_t:s0"));
        assert_eq!(get(&l, "/etc/z", REG), Some("u:r:etc_t:s0"));
        assert_eq!(get(&l, "/var/z", REG), Some("u:r:default_t:s0"));
        assert_eq!(get(&l, "/etc/y/z", REG), None);
        assert_eq!(get(&l, "/etc/d", DIR), Some("u:r:dir_t:s0"));
        assert_eq!(get(&l, "/etc/d", REG), Some("u:r:etc_t:s0"));
        assert_eq!(get(&l, "/etc//z/", REG), Some("u:r:etc_t:s0"));
    }

    #[test]
    fn local_and_homedirs_follow_and_aliases_apply() {
        let l = labels(&[
            (
                "",
                "/home(/.*)?\tu:r:home_t:s0\n/usr/lib(/.*)?\tu:r:lib_t:s0\n",
            ),
            (".homedirs", "/home/core(/.*)?\tu:r:user_home_t:s0\n"),
            (".local", "/home/core/x\tu:r:local_t:s0\n"),
            (".subs_dist", "# c\n/lib64 /usr/lib\n/var/home /home\n"),
            (".subs", "/var/home /srv\n"),
        ]);
        assert_eq!(get(&l, "/home/core/a", REG), Some("u:r:user_home_t:s0"));
        assert_eq!(get(&l, "/home/core/x", REG), Some("u:r:local_t:s0"));
        assert_eq!(get(&l, "/lib64/libc.so", REG), Some("u:r:lib_t:s0"));
        assert_eq!(get(&l, "/lib64x", REG), None);
        // .subs first; its result then goes through .subs_dist.
        assert_eq!(get(&l, "/var/home/core/a", REG), None);
    }

    #[test]
    fn unsupported_lines_are_reported_with_their_place() {
        let map: HashMap<String, Vec<u8>> = [(
            "/fc".to_string(),
            b"/a\tu:r:a_t\n/(?=x)\tu:r:b_t\n".to_vec(),
        )]
        .into();
        let e = Labels::load(&mut |p| Ok(map.get(p).cloned()), "/fc")
            .unwrap()
            .err()
            .unwrap();
        assert!(e.contains("/fc line 2: pattern: group extension"), "{e}");
        // A pattern twice, for overlapping file types: setfiles refuses the policy.
        let map: HashMap<String, Vec<u8>> = [(
            "/fc".to_string(),
            b"/a\t-d\tu:r:a_t\n/a\t--\tu:r:b_t\n/a\tu:r:c_t\n".to_vec(),
        )]
        .into();
        let e = Labels::load(&mut |p| Ok(map.get(p).cloned()), "/fc")
            .unwrap()
            .err()
            .unwrap();
        assert!(e.contains("/fc line 3: repeated pattern"), "{e}");
    }
}
