//! Tests of the VMware provider, against the software guestinfo host in `emulator`.
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
fn signature_inline_or_beside_the_config_url() {
    // #13 item 3: the armored signature in guestinfo (spaces for line breaks, as a .vmx
    // value holds one line), else the config URL's sibling.
    let mut h = Host::new();
    h.set(
        KEY_SIGNATURE,
        b"-----BEGIN SSH SIGNATURE----- AAAA -----END SSH SIGNATURE-----",
    );
    assert!(matches!(
        find_signature(&mut Rpci::new(&mut h)).unwrap(),
        Some(SigFound::Inline(_))
    ));
    let mut h = Host::new();
    h.set(KEY_URL, b"http://h/c.ign?v=1");
    assert_eq!(
        find_signature(&mut Rpci::new(&mut h)).unwrap(),
        Some(SigFound::Url("http://h/c.ign.sig?v=1".into()))
    );
    let mut h = Host::new();
    h.set(KEY_DATA, b"{}");
    assert_eq!(find_signature(&mut Rpci::new(&mut h)).unwrap(), None);
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
