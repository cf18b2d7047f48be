//! Config acquisition for the fetch stages: the user config from the kernel command line, the
//! system config dirs (or the config embedded in the initramfs) or the platform, rendered with
//! its merge/replace children, merged under the base configs, validated, ready to cache.
//! Owns the order of sources and the rendering rules; fetching is the resource module's job.

use super::user::{user_config, user_signature, UserConfig};
use crate::config::merge::merge;
use crate::config::types::{Config, Ignition, Resource};
use crate::config::{self, Failure};
use crate::error::{Context, Error, Kind, Result};
use crate::merged::{self, Provenance};
use crate::providers::{HostPaths, Mounter, Platform};
use crate::resource::{self, hash, options_for, Fetcher, Options, Spec};
use crate::signing::policy::{self, Policy, SigFrom};
use crate::state::FetchedConfig;
use std::path::PathBuf;
use std::time::Duration;

/// How deep merge/replace children may nest (a config that merges itself must not loop).
const MAX_DEPTH: usize = 10;

/// Everything acquisition reads from.
pub struct Sources<'a> {
    pub host: &'a HostPaths,
    pub platform: Platform,
    pub mounter: &'a dyn Mounter,
    pub fetch_timeout: Duration,
}

/// The result of acquisition.
pub struct Acquired {
    pub config: Config,
    pub fetched: Vec<FetchedConfig>,
    pub user_config_provided: bool,
}

/// The system config directories, highest priority first (Ignition 2.27's list; the
/// `IGNITION_SYSTEM*_CONFIG_DIR` variables override them, as in Ignition: `crate::distro`).
pub(super) fn system_dirs(host: &HostPaths) -> Vec<PathBuf> {
    crate::distro::system_config_dirs()
        .iter()
        .map(|d| host.path(d))
        .collect()
}

pub(super) fn read_opt(p: &std::path::Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::failed(format!("reading {}: {e}", p.display()))),
    }
}

/// Parses and validates one fetched config, logging its report (never its body).
pub fn parse_checked(bytes: &[u8], origin: &str) -> Result<Option<Config>> {
    checked(config::parse(bytes), origin, &|| hash::sha512_hex(bytes))
}

/// [`parse_checked`] of a document handed over, whose sha512 is known: a large one's bulk
/// becomes the config's instead of being copied (config::parse_owned).
fn parse_checked_owned(bytes: Vec<u8>, origin: &str, sha512: &str) -> Result<Option<Config>> {
    checked(config::parse_owned(bytes), origin, &|| sha512.to_string())
}

fn checked(
    parsed: std::result::Result<config::Parsed, config::ParseError>,
    origin: &str,
    sha512: &dyn Fn() -> String,
) -> Result<Option<Config>> {
    match parsed {
        Ok(p) => {
            for e in &p.report.entries {
                log::warn!("{origin}: {e}");
            }
            Ok(Some(p.config))
        }
        Err(e) if e.failure == Failure::Empty => Ok(None),
        Err(e) => {
            for entry in &e.report.entries {
                log::error!("{origin}: {entry}");
            }
            log::error!("{origin}: config sha512 {}", sha512());
            Err(Error::new(Kind::Config, format!("{origin}: {}", e.failure)))
        }
    }
}

/// The settings a config's children and resources are fetched with: its own over the
/// inherited ones.
fn effective(inherited: &Ignition, own: &Ignition) -> Ignition {
    let parent = Config {
        ignition: inherited.clone(),
        ..Default::default()
    };
    let child = Config {
        ignition: own.clone(),
        ..Default::default()
    };
    merge(parent, child).ignition
}

struct Renderer<'a> {
    offline: bool,
    fetched: &'a mut Vec<FetchedConfig>,
    provenance: &'a mut Provenance,
    policy: Option<&'a Policy>,
}

impl Renderer<'_> {
    fn fetch_child(
        &mut self,
        fetcher: &Fetcher,
        res: &Resource,
        kind: &str,
        path: &str,
    ) -> Result<Option<Config>> {
        let Some(spec) = Spec::from_resource(res)? else {
            return Ok(None);
        };
        let what = format!("{kind} config {} ({path})", resource::redact(&spec.url));
        let bytes = fetcher
            .fetch_bytes(&spec)
            .context(|| format!("fetching {what}"))?;
        self.fetched.push(FetchedConfig {
            kind: kind.to_string(),
            source: resource::redact(&spec.url),
            sha512: hash::sha512_hex(&bytes),
        });
        log::info!("fetched {what}");
        if let Some(p) = self.policy {
            if res.verification.hash.is_some() || spec.url.starts_with("data:") {
                // The parent's signature covers it: through its hash, or by containing it.
                log::info!("{what}: covered by its parent's signature");
            } else {
                let sig = policy::sibling(&spec.url)
                    .map(|u| {
                        let sig_spec = Spec {
                            url: u.clone(),
                            headers: spec.headers.clone(),
                            ..Spec::url(&u)
                        };
                        policy::fetch(fetcher, &sig_spec)
                    })
                    .transpose()?
                    .flatten();
                p.verify(&what, &bytes, sig)?;
            }
        }
        // A referenced config that is empty is an error, unlike a provider's "no config".
        let cfg = parse_checked(&bytes, &what)?
            .ok_or_else(|| Error::failed(format!("{what}: config is empty")))?;
        self.provenance.record(&what, &cfg);
        Ok(Some(cfg))
    }

    /// Renders `cfg`: replace wins over merge; merge children are merged in order.
    fn render(&mut self, cfg: Config, inherited: &Ignition, depth: usize) -> Result<Config> {
        if depth > MAX_DEPTH {
            return Err(Error::failed(format!(
                "configs nest deeper than {MAX_DEPTH} levels (a config merging itself?)"
            )));
        }
        let settings = effective(inherited, &cfg.ignition);
        let fetcher = Fetcher::new(options_for(&settings, self.offline)?, self.offline);
        if let Some(repl) = self.fetch_child(
            &fetcher,
            &cfg.ignition.config.replace,
            "replace",
            "$.ignition.config.replace",
        )? {
            return self.render(repl, &settings, depth + 1);
        }
        let children = cfg.ignition.config.merge.clone();
        let mut result = cfg;
        result.ignition.config.merge.clear();
        result.ignition.config.replace = Resource::default();
        for (i, m) in children.iter().enumerate() {
            let path = format!("$.ignition.config.merge.{i}");
            if let Some(child) = self.fetch_child(&fetcher, m, "merge", &path)? {
                let rendered = self.render(child, &settings, depth + 1)?;
                result = merge(result, rendered);
                result.ignition.config.merge.clear();
                result.ignition.config.replace = Resource::default();
            }
        }
        Ok(result)
    }
}

/// The base configs: `base.d/*.ign`, then `base.platform.d/<platform>/*.ign`; each sorted by
/// name, a name in a higher-priority dir shadowing the same name below it.
fn base_configs(src: &Sources) -> Result<Vec<(String, Vec<u8>)>> {
    let dirs = system_dirs(src.host);
    let mut out = Vec::new();
    for sub in [
        "base.d".to_string(),
        format!("base.platform.d/{}", src.platform.id()),
    ] {
        let mut by_name: std::collections::BTreeMap<String, PathBuf> =
            std::collections::BTreeMap::new();
        for d in dirs.iter().rev() {
            let dir = d.join(&sub);
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.ends_with(".ign") {
                    by_name.insert(name, e.path());
                }
            }
        }
        for p in by_name.into_values() {
            let b = std::fs::read(&p).context(|| format!("reading {}", p.display()))?;
            out.push((p.display().to_string(), b));
        }
    }
    Ok(out)
}

/// Acquires, renders and merges the config. `offline` refuses the network (fetch-offline):
/// anything that needs it fails with `Kind::NeedNet`.
pub fn acquire(src: &Sources, offline: bool) -> Result<Acquired> {
    let policy = Policy::load(src.host)?;
    let mut fetched = Vec::new();
    let mut provenance = Provenance::default();
    let none = Ignition::default();
    let mut base = Config::default();
    for (origin, bytes) in base_configs(src)? {
        fetched.push(FetchedConfig {
            kind: "base".into(),
            source: origin.clone(),
            sha512: hash::sha512_hex(&bytes),
        });
        if let Some(c) = parse_checked(&bytes, &origin)? {
            provenance.record(&origin, &c);
            let rendered = Renderer {
                offline,
                fetched: &mut fetched,
                provenance: &mut provenance,
                policy: policy.as_ref(),
            }
            .render(c, &none, 0)?;
            base = merge(base, rendered);
        }
    }
    let mut user_config_provided = false;
    let mut user = Config::default();
    if let Some(uc) = user_config(src, offline)? {
        if let Some(p) = &policy {
            if uc.sig == SigFrom::Local {
                log::info!("{}: local, trusted as the keys are", uc.origin);
            } else {
                let sig = user_signature(src, offline, &uc)?;
                p.verify(&uc.origin, &uc.bytes, sig)?;
            }
        }
        let UserConfig { bytes, origin, .. } = uc;
        // The digest is computed beside the parse when the parse only reads the document.
        let (sha512, parsed) = match config::takes_buffer(bytes.len()) {
            true => (hash::sha512_hex(&bytes), None),
            false => std::thread::scope(|sc| {
                let digest = sc.spawn(|| hash::sha512_hex(&bytes));
                let parsed = config::parse(&bytes);
                let sha512 = digest
                    .join()
                    .map_err(|_| Error::failed("the digest thread panicked"))?;
                Ok::<_, Error>((sha512, Some(parsed)))
            })?,
        };
        log::info!(
            "user config from {origin} ({} bytes, sha512 {})",
            bytes.len(),
            &sha512[..16]
        );
        fetched.push(FetchedConfig {
            kind: "user".into(),
            source: origin.clone(),
            sha512: sha512.clone(),
        });
        let parsed = match parsed {
            Some(p) => checked(p, &origin, &|| sha512.clone())?,
            None => parse_checked_owned(bytes, &origin, &sha512)?,
        };
        if let Some(c) = parsed {
            user_config_provided = true;
            provenance.record(&origin, &c);
            user = Renderer {
                offline,
                fetched: &mut fetched,
                provenance: &mut provenance,
                policy: policy.as_ref(),
            }
            .render(c, &none, 0)?;
        } else {
            log::info!("{origin}: empty config, treated as no config");
        }
    } else {
        log::info!("no user config found: using an empty config");
    }
    let mut config = merge(base, user);
    let mut version = config::Version::NEWEST_STABLE;
    if config
        .storage
        .filesystems
        .iter()
        .any(|f| f.format.as_deref() == Some("virtiofs"))
    {
        version = config::Version::V3_7Exp;
    }
    config.ignition.version = version.as_str().to_string();
    // Each document was valid alone; together they may not be (a child's link under a
    // parent's file, a file and a directory on one path): check the whole, as Ignition does.
    merged::check(&config, version, &provenance)?;
    if let Some(p) = &policy {
        p.check_resources(&config)?;
    }
    inline_cas(&mut config, offline)?;
    Ok(Acquired {
        config,
        fetched,
        user_config_provided,
    })
}

/// Rewrites CA sources as data URLs so later stages never fetch them again.
fn inline_cas(config: &mut Config, offline: bool) -> Result<()> {
    let opts = Options::from_ignition(&config.ignition);
    let fetcher = Fetcher::new(opts, offline);
    for ca in &mut config.ignition.security.tls.certificate_authorities {
        let Some(spec) = Spec::from_resource(ca)? else {
            continue;
        };
        if spec.url.starts_with("data:") && spec.compression == resource::Compression::None {
            continue;
        }
        let pem = fetcher.fetch_bytes(&spec)?;
        *ca = Resource {
            source: Some(resource::data_url(&pem)),
            ..Default::default()
        };
    }
    Ok(())
}

/// Whether applying `config` will need the network: any resource that is not a data URL,
/// Tang servers without an advertisement, custom Clevis pins that say so.
pub fn needs_network(config: &Config) -> bool {
    let remote = |r: &Resource| {
        r.source.as_deref().is_some_and(|s| {
            !s.is_empty() && !s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("data:"))
        })
    };
    config.resources().iter().any(|(_, r)| remote(r))
        || config.storage.luks.iter().any(|l| {
            l.clevis
                .tang
                .iter()
                .any(|t| t.advertisement.as_deref().unwrap_or("").is_empty())
                || l.clevis
                    .custom
                    .as_ref()
                    .is_some_and(|c| c.needs_network == Some(true))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_needs() {
        let c = |s: &str| config::parse(s.as_bytes()).unwrap().config;
        assert!(!needs_network(&c(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","contents":{"source":"data:,x"}}]}}"#
        )));
        assert!(needs_network(&c(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/a","append":[{"source":"http://x/a"}]}]}}"#
        )));
        assert!(needs_network(&c(
            r#"{"ignition":{"version":"3.3.0"},"storage":{"luks":[{"name":"a","device":"/dev/a","clevis":{"tang":[{"url":"http://t","thumbprint":"x"}]}}]}}"#
        )));
    }
}
