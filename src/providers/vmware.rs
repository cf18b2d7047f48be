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
use crate::error::{Error, Result};
use crate::sys::vmware_backdoor::{self, PortIo};
use rpci::Rpci;
use std::io::Read;

pub const KEY_DATA: &str = "guestinfo.ignition.config.data";
pub const KEY_ENCODING: &str = "guestinfo.ignition.config.data.encoding";
/// Where to fetch the config from when no data is given (Flatcar's key; Ignition has none).
pub const KEY_URL: &str = "guestinfo.ignition.config.url";
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
                .map_err(|e| e.context(format!("fetching {KEY_URL} {shown}")))
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
        .map_err(|e| e.context(format!("decoding {KEY_DATA} (encoding {encoding:?})")))?;
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
        .map_err(|e| Error::failed(format!("decompressing gzip: {e}")))?;
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
mod tests {
    use super::emulator::{Host, Op};
    use super::*;
    use crate::sys::vmware_backdoor::{open_with, CPUID_VENDOR};
    use std::collections::HashMap;
    use std::path::PathBuf;

    fn fixture(name: &str) -> Vec<u8> {
        let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("platforms/vmware");
        std::fs::read(p.join(name)).unwrap()
    }

    fn host_root(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("platforms/vmware/hosts")
            .join(name)
    }

    fn asked_for(h: &Host, key: &str) -> bool {
        let req = format!("info-get {key}");
        h.requests.iter().any(|r| r == req.as_bytes())
    }

    fn config(h: &mut Host) -> Result<Option<Vec<u8>>> {
        config_from(&mut Rpci::new(h))
    }

    #[test]
    fn every_encoding() {
        let want = fixture("config.ign");
        let cases = [
            ("", "config.ign"),
            ("base64", "config.ign.b64"),
            ("b64", "config.ign.b64"),
            ("gzip", "config.ign.gz"),
            ("gz", "config.ign.gz"),
            ("gz+base64", "config.ign.gz.b64"),
            ("gzip+base64", "config.ign.gz.b64"),
            ("gz+b64", "config.ign.gz.b64"),
            ("gzip+b64", "config.ign.gz.b64"),
            ("gzip+base64", "config.ign.gz.b64-wrapped"),
        ];
        for (encoding, file) in cases {
            for hb in [true, false] {
                let mut h = Host::new();
                h.hb = hb;
                h.set(KEY_DATA, &fixture(file));
                h.set(KEY_ENCODING, encoding.as_bytes());
                assert_eq!(config(&mut h).unwrap(), Some(want.clone()), "{encoding}");
                // Both direct keys present: the OVF environment is not even fetched.
                assert!(!asked_for(&h, KEY_OVF_ENV));
                h.assert_clean();
            }
        }
    }

    #[test]
    fn absent_encoding_means_raw() {
        let mut h = Host::new();
        h.set(KEY_DATA, &fixture("config.ign"));
        assert_eq!(config(&mut h).unwrap(), Some(fixture("config.ign")));
        assert!(asked_for(&h, KEY_OVF_ENV));
        h.assert_clean();
    }

    #[test]
    fn bad_encodings_and_bodies_are_errors() {
        let cases: [(&str, &[u8], &str); 6] = [
            ("BASE64", b"e30K", "unsupported encoding \"BASE64\""),
            ("gzip+base", b"e30K", "unsupported encoding"),
            (" base64", b"e30K", "unsupported encoding"),
            ("base64", b"e30K!", "illegal base64"),
            ("gzip", b"{}", "decompressing gzip"),
            ("gz+b64", b"e30K", "decompressing gzip"),
        ];
        for (encoding, data, msg) in cases {
            let mut h = Host::new();
            h.set(KEY_DATA, data);
            h.set(KEY_ENCODING, encoding.as_bytes());
            let e = config(&mut h).unwrap_err().to_string();
            assert!(e.contains(msg), "{encoding}: {e}");
            assert!(e.contains(KEY_DATA), "{e}");
            h.assert_clean();
        }
    }

    fn find(h: &mut Host) -> Result<Option<Found>> {
        find_config(&mut Rpci::new(h))
    }

    #[test]
    fn config_url_from_guestinfo_or_ovf() {
        // #13 item 4: a URL instead of the whole config.
        let mut h = Host::new();
        h.set(KEY_URL, b" http://192.0.2.1/c.ign\n");
        assert_eq!(
            find(&mut h).unwrap(),
            Some(Found::Url("http://192.0.2.1/c.ign".into()))
        );
        h.assert_clean();

        // From the OVF environment when the direct key is missing.
        let ovf = String::from_utf8(fixture("ovf-env.xml")).unwrap();
        let start = ovf
            .find("<Property oe:key=\"guestinfo.ignition.config.data\"")
            .unwrap();
        let end = start + ovf[start..].find("/>").unwrap() + 2;
        let ovf = ovf.replace(
            &ovf[start..end],
            "<Property oe:key=\"guestinfo.ignition.config.url\" oe:value=\"http://h/x.ign\"/>",
        );
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, ovf.as_bytes());
        assert_eq!(
            find(&mut h).unwrap(),
            Some(Found::Url("http://h/x.ign".into()))
        );

        // Data wins over a URL; an empty or blank URL means none.
        let mut h = Host::new();
        h.set(KEY_DATA, b"{}");
        h.set(KEY_URL, b"http://h/x.ign");
        assert_eq!(find(&mut h).unwrap(), Some(Found::Data(b"{}".to_vec())));
        let mut h = Host::new();
        h.set(KEY_URL, b"  ");
        assert_eq!(find(&mut h).unwrap(), None);
        let mut h = Host::new();
        h.set(KEY_URL, &[0xff, 0xfe]);
        assert!(find(&mut h).unwrap_err().to_string().contains(KEY_URL));
    }

    #[test]
    fn config_url_is_fetched_and_needs_the_network_offline() {
        use crate::error::Kind;
        use crate::providers::testserver::{Bench, Reply, Request, Server};
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/c.ign" => Reply::ok(b"{\"ignition\":{\"version\":\"3.4.0\"}}".to_vec()),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        let url = format!("{}/c.ign", s.base);
        let got = resolve(&b.env(None), Some(Found::Url(url.clone()))).unwrap();
        assert_eq!(
            got.as_deref(),
            Some(&b"{\"ignition\":{\"version\":\"3.4.0\"}}"[..])
        );
        let e = resolve(&b.offline_env(None), Some(Found::Url(url))).unwrap_err();
        assert_eq!(e.kind(), Kind::NeedNet);
        let e = resolve(&b.env(None), Some(Found::Url(format!("{}/gone", s.base)))).unwrap_err();
        assert!(e.to_string().contains(KEY_URL), "{e}");
    }

    #[test]
    fn no_config_anywhere() {
        let mut h = Host::new();
        assert_eq!(config(&mut h).unwrap(), None);
        assert_eq!(h.last_reply(), b"0 No value found");
        assert!(asked_for(&h, KEY_OVF_ENV));
        h.assert_clean();
    }

    #[test]
    fn config_from_ovf_environment() {
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        assert_eq!(config(&mut h).unwrap(), Some(fixture("ovf-config.ign")));
        // One fetch of the OVF environment serves both keys.
        let n = h.requests.iter().filter(|r| r.ends_with(b"ovfEnv")).count();
        assert_eq!(n, 1);
        h.assert_clean();
    }

    #[test]
    fn direct_keys_win_over_ovf_key_by_key() {
        // Both direct: OVF ignored.
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        h.set(KEY_DATA, &fixture("config.ign.gz.b64"));
        h.set(KEY_ENCODING, b"gzip+base64");
        assert_eq!(config(&mut h).unwrap(), Some(fixture("config.ign")));

        // Direct data, OVF encoding (base64), as Ignition combines them.
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        h.set(KEY_DATA, &fixture("config.ign.b64"));
        assert_eq!(config(&mut h).unwrap(), Some(fixture("config.ign")));

        // OVF data, direct encoding: the direct "" (raw) beats the OVF "base64".
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        h.set(KEY_ENCODING, b"");
        let raw_b64 = config(&mut h).unwrap().unwrap();
        assert_eq!(base64(&raw_b64).unwrap(), fixture("ovf-config.ign"));

        // A direct but empty config means "no config", even with one in the OVF environment.
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        h.set(KEY_DATA, b"");
        assert_eq!(config(&mut h).unwrap(), None);
        h.assert_clean();
    }

    #[test]
    fn broken_ovf_environment_is_only_a_warning() {
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env-broken.xml"));
        h.set(KEY_DATA, &fixture("config.ign"));
        assert_eq!(config(&mut h).unwrap(), Some(fixture("config.ign")));

        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env-broken.xml"));
        assert_eq!(config(&mut h).unwrap(), None);

        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &[0xff, 0xfe, b'<']);
        assert_eq!(config(&mut h).unwrap(), None);
        h.assert_clean();
    }

    /// A map-backed GuestInfo whose listed keys fail, for paths the emulator cannot fail alone.
    struct Flaky {
        values: HashMap<&'static str, &'static [u8]>,
        failing: Vec<&'static str>,
    }

    impl GuestInfo for Flaky {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
            if self.failing.contains(&key) {
                return Err(Error::failed(format!("reading {key}: RPCI broke")));
            }
            Ok(self.values.get(key).map(|v| v.to_vec()))
        }
    }

    #[test]
    fn ovf_fetch_failure_is_a_warning_but_direct_failures_are_errors() {
        let mut gi = Flaky {
            values: HashMap::from([(KEY_DATA, &b"{}"[..])]),
            failing: vec![KEY_OVF_ENV],
        };
        assert_eq!(config_from(&mut gi).unwrap(), Some(b"{}".to_vec()));

        let mut gi = Flaky {
            values: HashMap::new(),
            failing: vec![KEY_DATA],
        };
        let e = config_from(&mut gi).unwrap_err();
        assert!(e.to_string().contains("RPCI broke"), "{e}");

        let mut gi = Flaky {
            values: HashMap::from([(KEY_DATA, &b"{}"[..])]),
            failing: vec![KEY_ENCODING],
        };
        assert!(config_from(&mut gi).is_err());
    }

    fn kargs(h: &mut Host) -> Result<Option<String>> {
        network_kargs_from(&mut Rpci::new(h))
    }

    #[test]
    fn network_kargs_direct_ovf_and_none() {
        let direct = "ip=192.168.1.9::192.168.1.1:24:web:ens192:none";
        let from_ovf = "ip=10.0.0.5::10.0.0.1:255.255.255.0:node1:ens192:off nameserver=10.0.0.1";

        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        h.set(KEY_NETWORK_KARGS, format!("{direct}\n").as_bytes());
        assert_eq!(kargs(&mut h).unwrap().as_deref(), Some(direct));
        assert!(!asked_for(&h, KEY_OVF_ENV));

        // Upstream ignores vApp properties (fedora-coreos-tracker#642); we read them.
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        assert_eq!(kargs(&mut h).unwrap().as_deref(), Some(from_ovf));

        // A blank direct value counts as absent.
        h.set(KEY_NETWORK_KARGS, b"  ");
        assert_eq!(kargs(&mut h).unwrap().as_deref(), Some(from_ovf));

        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env-broken.xml"));
        assert_eq!(kargs(&mut h).unwrap(), None);
        let mut h = Host::new();
        assert_eq!(kargs(&mut h).unwrap(), None);
        h.assert_clean();
    }

    #[test]
    fn not_vmware_touches_no_port() {
        let mut h = Host::new();
        h.set(KEY_DATA, b"{}");
        for (cpu, root) in [(None, "qemu"), (Some(*b"KVMKVMKVM\0\0\0"), "no-dmi")] {
            let gate = open_with(cpu, &host_root(root), || panic!("no iopl"), &mut h);
            assert_eq!(through_backdoor(gate, config_from).unwrap(), None);
            let gate = open_with(cpu, &host_root(root), || panic!("no iopl"), &mut h);
            assert_eq!(through_backdoor(gate, network_kargs_from).unwrap(), None);
        }
        assert_eq!(h.total_calls(), 0);
    }

    #[test]
    fn vmware_end_to_end_through_the_gate() {
        let mut h = Host::new();
        h.set(KEY_DATA, &fixture("config.ign.gz.b64"));
        h.set(KEY_ENCODING, b"gzip+base64");
        let eperm = || Err(std::io::Error::from_raw_os_error(1));
        let gate = open_with(Some(CPUID_VENDOR), &host_root("no-dmi"), eperm, &mut h);
        let got = through_backdoor(gate, config_from).unwrap();
        assert_eq!(got, Some(fixture("config.ign")));
        assert_eq!(h.ops[..2], [Op::GetVersion, Op::Open]);
        h.assert_clean();

        // DMI alone without I/O privilege: an error, and still no port touched.
        let mut h = Host::new();
        let gate = open_with(None, &host_root("esxi"), eperm, &mut h);
        let e = through_backdoor(gate, config_from).unwrap_err();
        assert!(e.to_string().starts_with("detecting VMware: "), "{e}");
        assert_eq!(h.total_calls(), 0);
    }

    #[test]
    fn qemu_vmport_is_not_a_config_source() {
        // GETVERSION answers (vmport is on by default), RPCI does not: a clean error.
        let mut h = Host::new();
        h.rpci = false;
        let gate = open_with(None, &host_root("esxi"), || Ok(()), &mut h);
        let e = through_backdoor(gate, config_from).unwrap_err();
        assert!(e.to_string().contains("opening an RPCI channel"), "{e}");
    }
}
