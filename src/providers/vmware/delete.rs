//! Deleting the Ignition config from VMware guestinfo after the first boot (what
//! `ignition-rmcfg --platform=vmware` does): guestinfo variables cannot be removed, nor set to
//! an empty value, so the config becomes the base64 of `{}` with encoding `base64`, as Ignition
//! leaves it, and the two properties are cut out of the OVF environment. Never logs values.

use super::{ovf, GuestInfo, KEY_DATA, KEY_ENCODING, KEY_OVF_ENV};
use crate::error::{Error, Result};

/// What a deleted config reads as: base64 of `{}` and a newline (Ignition's marker).
pub const DELETED_DATA: &str = "e30K";
pub const DELETED_ENCODING: &str = "base64";

/// What the deletion changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub data: bool,
    pub encoding: bool,
    pub ovf: bool,
}

/// Replaces the config with the deletion marker (when the host has one and it is not the
/// marker already) and removes the config properties from the OVF environment. Unlike the
/// fetch, a broken OVF environment is an error here: a config could stay behind in it.
pub fn delete_config(gi: &mut dyn GuestInfo) -> Result<Deleted> {
    let mut out = Deleted::default();
    let data = gi.get(KEY_DATA)?;
    if data
        .as_deref()
        .is_some_and(|d| d != DELETED_DATA.as_bytes())
    {
        log::info!("vmware: replacing {KEY_DATA} with an empty config");
        gi.set(KEY_DATA, DELETED_DATA)?;
        out.data = true;
        if gi.get(KEY_ENCODING)?.as_deref() != Some(DELETED_ENCODING.as_bytes()) {
            gi.set(KEY_ENCODING, DELETED_ENCODING)?;
            out.encoding = true;
        }
    }
    let doc = gi.get(KEY_OVF_ENV)?.unwrap_or_default();
    if !doc.is_empty() {
        let text = std::str::from_utf8(&doc)
            .map_err(|_| Error::failed(format!("{KEY_OVF_ENV} is not UTF-8")))?;
        let pruned = ovf::remove_properties(text, &[KEY_DATA, KEY_ENCODING])
            .map_err(|e| Error::failed(format!("parsing {KEY_OVF_ENV}: {e}")))?;
        if let Some(pruned) = pruned {
            log::info!("vmware: removing the config from {KEY_OVF_ENV}");
            gi.set(KEY_OVF_ENV, &pruned)?;
            out.ovf = true;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::emulator::Host;
    use super::super::rpci::Rpci;
    use super::super::{config_from, decode};
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let p = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("platforms/vmware");
        std::fs::read(p.join(name)).unwrap()
    }

    fn sets(h: &Host) -> Vec<String> {
        h.requests
            .iter()
            .filter(|r| r.starts_with(b"info-set "))
            .map(|r| {
                let r = String::from_utf8_lossy(r);
                r.split(' ').take(2).collect::<Vec<_>>().join(" ")
            })
            .collect()
    }

    #[test]
    fn replaces_the_config_and_is_idempotent() {
        let mut h = Host::new();
        h.set(KEY_DATA, &fixture("config.ign.gz.b64"));
        h.set(KEY_ENCODING, b"gzip+base64");
        let d = delete_config(&mut Rpci::new(&mut h)).unwrap();
        assert_eq!(
            d,
            Deleted {
                data: true,
                encoding: true,
                ovf: false
            }
        );
        assert_eq!(h.get(KEY_DATA), Some(&b"e30K"[..]));
        assert_eq!(h.get(KEY_ENCODING), Some(&b"base64"[..]));
        assert_eq!(
            sets(&h),
            [
                "info-set guestinfo.ignition.config.data",
                "info-set guestinfo.ignition.config.data.encoding"
            ]
        );
        h.assert_clean();
        // What a later fetch would read: `{}`.
        let got = config_from(&mut Rpci::new(&mut h)).unwrap().unwrap();
        assert_eq!(got, b"{}\n");
        assert_eq!(decode(b"e30K", "base64").unwrap(), b"{}\n");
        // Run again: nothing left to change, nothing written.
        let before = sets(&h).len();
        let d = delete_config(&mut Rpci::new(&mut h)).unwrap();
        assert_eq!(d, Deleted::default());
        assert_eq!(sets(&h).len(), before);
        h.assert_clean();
    }

    #[test]
    fn encoding_already_base64_and_no_config_at_all() {
        let mut h = Host::new();
        h.set(KEY_DATA, &fixture("config.ign.b64"));
        h.set(KEY_ENCODING, b"base64");
        let d = delete_config(&mut Rpci::new(&mut h)).unwrap();
        assert!(d.data && !d.encoding);
        let mut h = Host::new();
        assert_eq!(
            delete_config(&mut Rpci::new(&mut h)).unwrap(),
            Deleted::default()
        );
        assert!(
            sets(&h).is_empty(),
            "nothing set on a host without a config"
        );
        h.assert_clean();
    }

    #[test]
    fn prunes_the_ovf_environment() {
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env.xml"));
        assert!(config_from(&mut Rpci::new(&mut h)).unwrap().is_some());
        let d = delete_config(&mut Rpci::new(&mut h)).unwrap();
        assert_eq!(
            d,
            Deleted {
                data: false,
                encoding: false,
                ovf: true
            }
        );
        h.assert_clean();
        // The config is gone from the OVF environment; the network kargs are still there.
        assert_eq!(config_from(&mut Rpci::new(&mut h)).unwrap(), None);
        let doc = String::from_utf8(h.get(KEY_OVF_ENV).unwrap().to_vec()).unwrap();
        assert!(doc.contains("guestinfo.afterburn.initrd.network-kargs"));
        assert!(!doc.contains("guestinfo.ignition.config.data"));
    }

    #[test]
    fn failures_are_errors() {
        // The host refuses the write (its reply, through the real info-set path).
        let mut h = Host::new();
        h.set(KEY_DATA, b"{}");
        let e = delete_config(&mut RefuseWrites(&mut h))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "setting guestinfo.ignition.config.data: the host refused: Permission denied"
            ),
            "{e}"
        );
        h.assert_clean();
        // A broken OVF environment fails rather than leaving a config behind.
        let mut h = Host::new();
        h.set(KEY_OVF_ENV, &fixture("ovf-env-broken.xml"));
        let e = delete_config(&mut Rpci::new(&mut h))
            .unwrap_err()
            .to_string();
        assert!(e.contains("parsing guestinfo.ovfEnv"), "{e}");
        h.assert_clean();
    }

    /// Reads through RPCI; the host answers every write with a refusal.
    struct RefuseWrites<'a>(&'a mut Host);

    impl GuestInfo for RefuseWrites<'_> {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
            Rpci::new(&mut *self.0).get(key)
        }

        fn set(&mut self, key: &str, value: &str) -> Result<()> {
            self.0.canned_reply = Some(b"0 Permission denied".to_vec());
            Rpci::new(&mut *self.0).set(key, value)
        }
    }
}
