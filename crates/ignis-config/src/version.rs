//! Spec versions: which ones exist, how a document's version is read, and the version gates
//! (the spec version that introduced each field). One set of types serves every version.

use std::fmt;

/// The spec versions ignis accepts, oldest first. Ordering follows the spec history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    V3_0,
    V3_1,
    V3_2,
    V3_3,
    V3_4,
    V3_5,
    V3_6,
    V3_7Exp,
}

impl Version {
    pub const ALL: [Version; 8] = [
        Version::V3_0,
        Version::V3_1,
        Version::V3_2,
        Version::V3_3,
        Version::V3_4,
        Version::V3_5,
        Version::V3_6,
        Version::V3_7Exp,
    ];

    /// The newest stable version: what canonical output and the config cache carry.
    pub const NEWEST_STABLE: Version = Version::V3_6;

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V3_0 => "3.0.0",
            Version::V3_1 => "3.1.0",
            Version::V3_2 => "3.2.0",
            Version::V3_3 => "3.3.0",
            Version::V3_4 => "3.4.0",
            Version::V3_5 => "3.5.0",
            Version::V3_6 => "3.6.0",
            Version::V3_7Exp => "3.7.0-experimental",
        }
    }

    pub fn from_str_exact(s: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed semantic version (`MAJOR.MINOR.PATCH[-pre][+build]`), as go-semver accepts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Semver {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub build: String,
}

impl Semver {
    /// go-semver's `NewVersion`: build metadata split off at the first `+`, then the
    /// pre-release at the first `-`, then exactly three dot-separated integers (`strconv.ParseInt`
    /// rules, so leading zeros and a sign are accepted).
    pub fn parse(s: &str) -> Option<Semver> {
        let (rest, meta) = match s.split_once('+') {
            Some((r, m)) => (r, m),
            None => (s, ""),
        };
        let (core, pre) = match rest.split_once('-') {
            Some((c, p)) => (c, p),
            None => (rest, ""),
        };
        let ident_ok = |id: &str| {
            id.is_empty()
                || id.split('.').all(|p| {
                    !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        if !ident_ok(pre) || !ident_ok(meta) {
            return None;
        }
        let parts: Vec<&str> = core.splitn(3, '.').collect();
        if parts.len() != 3 {
            return None;
        }
        let num = |p: &str| -> Option<u64> {
            let digits = p.strip_prefix('+').unwrap_or(p);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                // A negative number parses in Go, but no spec version is negative.
                return if p.starts_with('-') {
                    Some(u64::MAX)
                } else {
                    None
                };
            }
            digits.parse().ok()
        };
        Some(Semver {
            major: num(parts[0])?,
            minor: num(parts[1])?,
            patch: num(parts[2])?,
            pre: pre.to_string(),
            build: meta.to_string(),
        })
    }
}

/// Why a document's version could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// `ignition.version` missing or not a semantic version.
    Invalid,
    /// A well-formed version that no parser accepts (3.x unknown, or experimental of another release).
    Unknown,
}

/// Maps a version string to a supported version.
pub fn classify(s: &str) -> Result<Version, VersionError> {
    let sv = Semver::parse(s).ok_or(VersionError::Invalid)?;
    // Versions compare as values (so "03.3.0" is 3.3.0), including pre-release and build.
    Version::ALL
        .into_iter()
        .find(|v| {
            let (num, pre) = v.as_str().split_once('-').unwrap_or((v.as_str(), ""));
            let mut it = num.split('.').map(|n| n.parse::<u64>().unwrap_or(0));
            let want = (it.next(), it.next(), it.next());
            want == (Some(sv.major), Some(sv.minor), Some(sv.patch))
                && pre == sv.pre
                && sv.build.is_empty()
        })
        .ok_or(VersionError::Unknown)
}

/// The version that introduced a field (its serde name) of a spec struct (its Rust name):
/// the `since(...)` mark on the field's declaration in `types`, 3.0.0 when it has none.
/// `parent` is the key under which the struct sits, for the one field whose gate depends on it
/// (3.0.0 allowed `compression` only on file contents and appends).
pub fn field_since(strukt: &str, field: &str, parent: Option<&str>) -> Version {
    since_in(crate::types::gates_of(strukt), strukt, field, parent)
}

/// [`field_since`] with the struct's gates already looked up (the decoder asks per key).
pub fn since_in(
    gates: &[(&str, Version)],
    strukt: &str,
    field: &str,
    parent: Option<&str>,
) -> Version {
    if gates.is_empty() {
        return Version::V3_0;
    }
    if strukt == "Resource"
        && field == "compression"
        && matches!(parent, Some("contents" | "append"))
    {
        return Version::V3_0;
    }
    gates
        .iter()
        .find(|(rust, _)| snake_is_camel(rust, field))
        .map_or(Version::V3_0, |(_, v)| *v)
}

/// `http_headers` names `httpHeaders` (serde's camelCase renaming), without allocating.
fn snake_is_camel(snake: &str, camel: &str) -> bool {
    let mut c = camel.bytes();
    let mut upper = false;
    for b in snake.bytes() {
        if b == b'_' {
            upper = true;
            continue;
        }
        let want = if upper { b.to_ascii_uppercase() } else { b };
        upper = false;
        if c.next() != Some(want) {
            return false;
        }
    }
    c.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_versions() {
        assert_eq!(classify("3.0.0"), Ok(Version::V3_0));
        assert_eq!(classify("3.6.0"), Ok(Version::V3_6));
        assert_eq!(classify("3.7.0-experimental"), Ok(Version::V3_7Exp));
        assert_eq!(classify("3.6.0-experimental"), Err(VersionError::Unknown));
        assert_eq!(classify("3.8.0"), Err(VersionError::Unknown));
        assert_eq!(classify("2.2.0"), Err(VersionError::Unknown));
        assert_eq!(classify("1.0.0"), Err(VersionError::Unknown));
        assert_eq!(classify("3.0"), Err(VersionError::Invalid));
        assert_eq!(classify("banana"), Err(VersionError::Invalid));
        assert_eq!(classify("03.0.0"), Ok(Version::V3_0));
        assert_eq!(classify("3.0.0-"), Ok(Version::V3_0));
        assert_eq!(classify("+3.0.0"), Err(VersionError::Invalid));
        assert_eq!(classify("-3.0.0"), Err(VersionError::Invalid));
        assert_eq!(classify("3.0.0.0"), Err(VersionError::Invalid));
        assert_eq!(classify("3.0.0+build"), Err(VersionError::Unknown));
    }

    #[test]
    fn gates() {
        assert_eq!(
            field_since("Resource", "compression", Some("contents")),
            Version::V3_0
        );
        assert_eq!(
            field_since("Resource", "compression", Some("merge")),
            Version::V3_1
        );
        assert_eq!(
            field_since("Config", "kernelArguments", None),
            Version::V3_3
        );
        assert_eq!(field_since("File", "path", None), Version::V3_0);
        assert_eq!(field_since("Luks", "openOptions", None), Version::V3_4);
        assert_eq!(field_since("Luks", "open_options", None), Version::V3_0);
        assert_eq!(
            field_since("PasswdGroup", "shouldExist", None),
            Version::V3_2
        );
        assert_eq!(field_since("Nope", "shouldExist", None), Version::V3_0);
        assert!(snake_is_camel("http_headers", "httpHeaders"));
        assert!(snake_is_camel("cex", "cex"));
        assert!(!snake_is_camel("http_headers", "httpHeader"));
        assert!(!snake_is_camel("http_header", "httpHeaders"));
        assert!(Version::V3_5 < Version::V3_6 && Version::V3_6 < Version::V3_7Exp);
    }
}
