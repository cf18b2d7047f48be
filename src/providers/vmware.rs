//! VMware: the Ignition config (`guestinfo.ignition.config.data` + `.encoding`, or a URL in
//! `guestinfo.ignition.config.url`) and the initrd network kargs (`guestinfo.afterburn.initrd.network-kargs`) from guestinfo, falling back to
//! the OVF environment (`guestinfo.ovfEnv`) key by key. The logic runs against [`GuestInfo`], so
//! tests drive it with the software host in `emulator`; only [`fetch_config`] and
//! [`network_kargs`] reach the real backdoor, and only after `sys::vmware_backdoor::open` has
//! said this is VMware. Config bodies and karg values are never logged.

pub mod delete;
mod ovf;
pub mod rpci;

#[cfg(test)]
pub(crate) mod emulator;

use super::Env;
use crate::config::url::base64_decode_into;
use crate::error::{Context, Error, Result};
use crate::sys::vmware_backdoor::{self, PortIo};
use rpci::Rpci;
use std::io::Read;

pub const KEY_DATA: &str = "guestinfo.ignition.config.data";
pub const KEY_ENCODING: &str = "guestinfo.ignition.config.data.encoding";
/// Where to fetch the config from when no data is given (Flatcar's key; Ignition has none).
pub const KEY_URL: &str = "guestinfo.ignition.config.url";
/// The config's detached signature (ignis's, see `crate::signing`).
pub const KEY_SIGNATURE: &str = "guestinfo.ignition.config.signature";
/// Ignition asks for `guestinfo.ovfenv`; the host matches names case-insensitively.
pub const KEY_OVF_ENV: &str = "guestinfo.ovfEnv";
pub const KEY_NETWORK_KARGS: &str = "guestinfo.afterburn.initrd.network-kargs";

/// Reads guestinfo variables: `Ok(None)` when the host has no such key. Values are bytes, not
/// text: Ignition's `gz` encoding carries raw gzip, which is not UTF-8.
pub trait GuestInfo {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Sets a variable (only `ignition-rmcfg` writes); read-only sources refuse.
    fn set(&mut self, key: &str, _value: &str) -> Result<()> {
        Err(Error::failed(format!("setting {key}: read-only guestinfo")))
    }
}

impl<P: PortIo> GuestInfo for Rpci<P> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.info_get_bytes(key)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        self.info_set(key, value)
    }
}

/// The user config from guestinfo on a real boot: `Ok(None)` when this is not VMware or no
/// config is set. A config URL is fetched like `ignition.config.url` (so in fetch-offline it
/// asks for the network).
pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let found = through_backdoor(vmware_backdoor::open(&env.host.root), find_config)?;
    resolve(env, found)
}

/// The config's detached signature: `guestinfo.ignition.config.signature` (the armored text;
/// its line breaks may be spaces, as a .vmx value is one line), else, for a config URL, the
/// URL's sibling `<url>.sig`. `Ok(None)` when there is none.
pub fn fetch_signature(env: &Env) -> Result<Option<(Vec<u8>, String)>> {
    let found = through_backdoor(vmware_backdoor::open(&env.host.root), find_signature)?;
    resolve_signature(env, found)
}

/// Where the signature is: inline, or at a URL.
#[derive(Debug, PartialEq, Eq)]
pub enum SigFound {
    Inline(Vec<u8>),
    Url(String),
}

/// The signature's place per guestinfo (or the OVF environment).
pub fn find_signature(gi: &mut dyn GuestInfo) -> Result<Option<SigFound>> {
    let mut src = Sources::new(gi);
    if let Some((sig, _)) = src.get(KEY_SIGNATURE)?.filter(|(s, _)| !s.is_empty()) {
        return Ok(Some(SigFound::Inline(sig)));
    }
    drop(src);
    Ok(match find_config(gi)? {
        Some(Found::Url(u)) => crate::signing::policy::sibling(&u).map(SigFound::Url),
        _ => None,
    })
}

fn resolve_signature(env: &Env, found: Option<SigFound>) -> Result<Option<(Vec<u8>, String)>> {
    match found {
        None => Ok(None),
        Some(SigFound::Inline(s)) => Ok(Some((s, KEY_SIGNATURE.to_string()))),
        Some(SigFound::Url(u)) => {
            crate::signing::policy::fetch(env.fetcher, &crate::resource::Spec::url(&u))
        }
    }
}

/// What guestinfo holds: the config itself, or where to fetch it.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Data(Vec<u8>),
    Url(String),
}

/// Turns what guestinfo held into config bytes, fetching a URL through the stage's fetcher.
fn resolve(env: &Env, found: Option<Found>) -> Result<Option<Vec<u8>>> {
    match found {
        None => Ok(None),
        Some(Found::Data(d)) => Ok(Some(d)),
        Some(Found::Url(url)) => {
            let shown = crate::resource::redact(&url);
            log::info!("vmware: fetching the config from {KEY_URL} {shown}");
            env.fetcher
                .fetch_bytes(&crate::resource::Spec::url(&url))
                .map(Some)
                .context(|| format!("fetching {KEY_URL} {shown}"))
        }
    }
}

/// The dracut network kargs (`ip=...`) for the initrd, from guestinfo or the OVF environment:
/// `Ok(None)` when this is not VMware or none are set.
pub fn network_kargs(env: &Env) -> Result<Option<String>> {
    through_backdoor(vmware_backdoor::open(&env.host.root), network_kargs_from)
}

/// Runs `f` over RPCI on the ports the detection gate returned; no ports means not VMware.
fn through_backdoor<P: PortIo, T>(
    ports: Result<Option<P>>,
    f: impl FnOnce(&mut dyn GuestInfo) -> Result<Option<T>>,
) -> Result<Option<T>> {
    let Some(ports) = ports.map_err(|e| e.context("detecting VMware"))? else {
        log::warn!("vmware: this machine is not VMware (CPUID, DMI, backdoor); no guestinfo");
        return Ok(None);
    };
    f(&mut Rpci::new(ports))
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Direct,
    Ovf,
}

impl Source {
    fn describe(self) -> &'static str {
        match self {
            Source::Direct => "guestinfo",
            Source::Ovf => "the OVF environment",
        }
    }
}

/// Direct keys first, then the OVF environment, which is fetched and parsed at most once and
/// only when a direct key is missing.
struct Sources<'a> {
    gi: &'a mut dyn GuestInfo,
    ovf: Option<Vec<(String, String)>>,
}

impl<'a> Sources<'a> {
    fn new(gi: &'a mut dyn GuestInfo) -> Sources<'a> {
        Sources { gi, ovf: None }
    }

    fn ovf(&mut self, key: &str) -> Option<String> {
        let gi = &mut *self.gi;
        let props = self.ovf.get_or_insert_with(|| load_ovf(gi));
        ovf::lookup(props, key).map(str::to_owned)
    }

    /// The direct value when the host has the key (even empty, as in Ignition, whose lookup
    /// falls back only on "no value"), else the OVF property.
    fn get(&mut self, key: &str) -> Result<Option<(Vec<u8>, Source)>> {
        if let Some(v) = self.gi.get(key)? {
            return Ok(Some((v, Source::Direct)));
        }
        Ok(self.ovf(key).map(|v| (v.into_bytes(), Source::Ovf)))
    }
}

/// The OVF properties; any failure is a warning and means "no properties", as in Ignition.
fn load_ovf(gi: &mut dyn GuestInfo) -> Vec<(String, String)> {
    let doc = match gi.get(KEY_OVF_ENV) {
        Ok(Some(doc)) if !doc.is_empty() => doc,
        Ok(_) => return Vec::new(),
        Err(e) => {
            log::warn!("vmware: {e}; continuing without the OVF environment");
            return Vec::new();
        }
    };
    let parsed = std::str::from_utf8(&doc)
        .map_err(|_| "not UTF-8".to_string())
        .and_then(ovf::properties);
    match parsed {
        Ok(p) => {
            log::debug!("vmware: OVF environment has {} properties", p.len());
            p
        }
        Err(e) => {
            log::warn!("vmware: parsing the OVF environment: {e}; continuing without it");
            Vec::new()
        }
    }
}

/// The config data, else the config URL (each from guestinfo or else the OVF environment).
/// Data wins when both are set, as on Flatcar: the URL is then ignored with a warning, since
/// an operator who set both meant one of them and the inline one is what the VM carries.
pub fn find_config(gi: &mut dyn GuestInfo) -> Result<Option<Found>> {
    let mut src = Sources::new(gi);
    let data = data_from(&mut src)?;
    // With data present, only the direct key is asked (for the warning): the OVF environment
    // is not fetched for a value that would be ignored anyway.
    let url = if data.is_some() {
        src.gi.get(KEY_URL)?.map(|u| (u, Source::Direct))
    } else {
        src.get(KEY_URL)?
    };
    let url = match url {
        None => None,
        Some((u, from)) => {
            let u = String::from_utf8(u)
                .map_err(|_| Error::failed(format!("{KEY_URL} is not UTF-8")))?;
            let u = u.trim().to_string();
            (!u.is_empty()).then_some((u, from))
        }
    };
    match (data, url) {
        (Some(d), Some(_)) => {
            log::warn!(
                "vmware: both {KEY_DATA} and {KEY_URL} are set; using the data, ignoring the URL"
            );
            Ok(Some(Found::Data(d)))
        }
        (Some(d), None) => Ok(Some(Found::Data(d))),
        (None, Some((u, from))) => {
            log::info!("vmware: config URL from {}", from.describe());
            Ok(Some(Found::Url(u)))
        }
        (None, None) => {
            log::info!("vmware: no config in guestinfo or the OVF environment");
            Ok(None)
        }
    }
}

/// `guestinfo.ignition.config.data` decoded per `.encoding`, each taken from guestinfo or else
/// from the OVF environment. An empty or absent value means no data.
fn data_from(src: &mut Sources) -> Result<Option<Vec<u8>>> {
    let Some((data, from)) = src.get(KEY_DATA)?.filter(|(d, _)| !d.is_empty()) else {
        return Ok(None);
    };
    let encoding = match src.get(KEY_ENCODING)? {
        None => String::new(),
        Some((e, _)) => String::from_utf8(e)
            .map_err(|_| Error::failed(format!("{KEY_ENCODING} is not UTF-8")))?,
    };
    let config = decode(&data, &encoding)
        .context(|| format!("decoding {KEY_DATA} (encoding {encoding:?})"))?;
    log::info!(
        "vmware: read {} bytes of config from {} (encoding {encoding:?})",
        config.len(),
        from.describe()
    );
    Ok(Some(config))
}

/// The network kargs: guestinfo first, then (unlike Afterburn, which ignores vApp properties)
/// the OVF environment. Empty or blank values count as absent, as Afterburn treats empty ones.
pub fn network_kargs_from(gi: &mut dyn GuestInfo) -> Result<Option<String>> {
    let mut src = Sources::new(gi);
    let blank = |v: &[u8]| v.iter().all(u8::is_ascii_whitespace);
    let (value, from) = match src.gi.get(KEY_NETWORK_KARGS)? {
        Some(v) if !blank(&v) => (v, Source::Direct),
        _ => match src.ovf(KEY_NETWORK_KARGS) {
            Some(v) if !blank(v.as_bytes()) => (v.into_bytes(), Source::Ovf),
            _ => return Ok(None),
        },
    };
    let value = String::from_utf8(value)
        .map_err(|_| Error::failed(format!("{KEY_NETWORK_KARGS} is not UTF-8")))?;
    log::info!("vmware: initrd network kargs from {}", from.describe());
    Ok(Some(value.trim().to_string()))
}

/// Decodes per Ignition's encoding names (`vmware.go` `decodeData`); the spellings are exact.
pub fn decode(data: &[u8], encoding: &str) -> Result<Vec<u8>> {
    match encoding {
        "" => Ok(data.to_vec()),
        "b64" | "base64" => base64(data),
        "gz" | "gzip" => gunzip(data),
        "gz+base64" | "gzip+base64" | "gz+b64" | "gzip+b64" => gunzip(&base64(data)?),
        other => Err(Error::failed(format!("unsupported encoding {other:?}"))),
    }
}

/// Standard base64 with padding; CR and LF are skipped, like Go's `StdEncoding`.
fn base64(data: &[u8]) -> Result<Vec<u8>> {
    let s = std::str::from_utf8(data).map_err(|_| Error::failed("illegal base64 data"))?;
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    base64_decode_into(s, &mut |c| out.extend_from_slice(c))
        .map_err(|e| Error::failed(format!("decoding base64: {e}")))?;
    Ok(out)
}

/// gzip, concatenated members included (Go's reader is multistream by default).
fn gunzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_end(&mut out)
        .context(|| "decompressing gzip")?;
    Ok(out)
}

/// The inline config only, for tests that set no URL.
#[cfg(test)]
pub(crate) fn config_from(gi: &mut dyn GuestInfo) -> Result<Option<Vec<u8>>> {
    Ok(match find_config(gi)? {
        None => None,
        Some(Found::Data(d)) => Some(d),
        Some(Found::Url(u)) => panic!("unexpected URL {u}"),
    })
}

#[cfg(test)]
mod tests;
