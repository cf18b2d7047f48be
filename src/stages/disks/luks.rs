//! LUKS2 volumes with cryptsetup (and Clevis when configured and installed): key from
//! `keyFile` or a random one, Ignition's reuse rules, format and open, and the record the
//! files stage turns into /etc/crypttab lines and /etc/luks/<name> keyfiles (`persist`).
//! Key material is never logged.

use super::{kernel, Env};
use crate::config::types::{Config, Luks};
use crate::error::{Context, Error, Result};
use crate::resource::{Fetcher, Spec};
use crate::stages::util::devices;
use crate::state::{LuksVolume, State};
use crate::sys::cmd::Cmd;
use crate::sys::probe;
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

fn has_clevis(l: &Luks) -> bool {
    !l.clevis.tang.is_empty()
        || l.clevis.tpm2 == Some(true)
        || l.clevis
            .custom
            .as_ref()
            .is_some_and(|c| c.pin.as_deref().is_some_and(|p| !p.is_empty()))
}

fn needs_network(l: &Luks) -> bool {
    !l.clevis.tang.is_empty()
        || l.clevis
            .custom
            .as_ref()
            .is_some_and(|c| c.needs_network == Some(true))
}

/// The Clevis pin and its JSON config (`sss` over tang/tpm2, or the custom pin).
pub fn clevis_pin(l: &Luks) -> (String, String) {
    if let Some(c) = l.clevis.custom.as_ref().filter(|c| c.pin.is_some()) {
        return (
            c.pin.clone().unwrap_or_default(),
            c.config.clone().unwrap_or_default(),
        );
    }
    let mut pins = serde_json::Map::new();
    if !l.clevis.tang.is_empty() {
        let tang: Vec<serde_json::Value> = l
            .clevis
            .tang
            .iter()
            .map(|t| {
                let mut o = serde_json::Map::new();
                o.insert("url".into(), t.url.clone().into());
                if let Some(th) = &t.thumbprint {
                    o.insert("thp".into(), th.clone().into());
                }
                if let Some(adv) = &t.advertisement {
                    // An offline advertisement: a JSON document, passed through as such.
                    let v = serde_json::from_str(adv).unwrap_or_else(|_| adv.clone().into());
                    o.insert("adv".into(), v);
                }
                serde_json::Value::Object(o)
            })
            .collect();
        pins.insert("tang".into(), tang.into());
    }
    if l.clevis.tpm2 == Some(true) {
        pins.insert("tpm2".into(), serde_json::json!({}));
    }
    let cfg = serde_json::json!({"t": l.clevis.threshold.unwrap_or(1), "pins": pins});
    ("sss".into(), cfg.to_string())
}

fn random_key() -> Result<Vec<u8>> {
    let mut b = vec![0u8; 4096];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .context(|| "reading /dev/urandom")?;
    Ok(b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<String>()
        .into_bytes())
}

/// Writes the key to a private file under the run directory for cryptsetup.
fn write_key(dir: &Path, name: &str, key: &[u8]) -> Result<PathBuf> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .context(|| format!("creating {}", dir.display()))?;
    let p = dir.join(name);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&p)
        .context(|| format!("creating {}", p.display()))?;
    std::io::Write::write_all(&mut f, key).context(|| format!("writing {}", p.display()))?;
    Ok(p)
}

fn cryptsetup(env: &Env, args: &[&std::ffi::OsStr]) -> Result<Vec<u8>> {
    env.runner.run(&Cmd::new("cryptsetup").args(args))
}

/// Creates or reuses one volume; returns what the files stage needs.
fn one(env: &Env, fetcher: &Fetcher, path: &str, l: &Luks) -> Result<LuksVolume> {
    let device = l
        .device
        .as_deref()
        .ok_or_else(|| Error::failed("device is not set"))?;
    if l.cex.enabled == Some(true) {
        return Err(Error::failed(
            "cex (IBM Crypto Express keys) is not supported by ignis",
        ));
    }
    let clevis = has_clevis(l);
    if clevis && !env.runner.exists("clevis") {
        return Err(Error::failed(format!(
            "{path}.clevis needs the clevis tool, which is not installed (add clevis, clevis-luks and the pins' tools to the initramfs)"
        )));
    }
    let dev = devices::wait(env, device, path)?;
    let given_key = match Spec::from_resource(&l.key_file)? {
        Some(spec) => Some(
            fetcher
                .fetch_bytes(&spec)
                .context(|| format!("{path}.keyFile: fetching the key file"))?,
        ),
        None => None,
    };
    let key = match &given_key {
        Some(k) => k.clone(),
        None => random_key()?,
    };
    let keyfile = write_key(&env.run_dir.join("luks-keyfiles"), &l.name, &key)?;
    let kf = keyfile.as_os_str();
    let d = dev.as_os_str();
    let mapper = PathBuf::from(format!("/dev/mapper/{}", l.name));

    let info = probe::probe(&dev)?;
    let mut reuse = false;
    if l.wipe_volume != Some(true) && !info.is_blank() {
        if info.fstype != "crypto_LUKS" {
            return Err(Error::failed(format!(
                "{device} holds {} and wipeVolume is false",
                if info.fstype.is_empty() {
                    format!("a {} partition table", info.pttype)
                } else {
                    format!("an existing {} filesystem", info.fstype)
                }
            )));
        }
        if cryptsetup(
            env,
            &["isLuks".as_ref(), "--type".as_ref(), "luks2".as_ref(), d],
        )
        .is_err()
        {
            return Err(Error::failed(format!(
                "{device} holds a LUKS1 volume, which cannot be reused (set wipeVolume to replace it)"
            )));
        }
        let label_ok = l.label.as_ref().is_none_or(|x| *x == info.label);
        let uuid_ok = l
            .uuid
            .as_ref()
            .is_none_or(|u| u.eq_ignore_ascii_case(&info.uuid));
        if given_key.is_none() || clevis || !label_ok || !uuid_ok {
            return Err(Error::failed(format!(
                "{device} holds a LUKS2 volume (label {:?}, UUID {}) that cannot be reused: reuse needs a keyFile, no Clevis and a matching label and UUID; set wipeVolume to replace it",
                info.label, info.uuid
            )));
        }
        log::info!("{path}: reusing the LUKS2 volume on {device}");
        reuse = true;
    }
    if !reuse {
        if l.wipe_volume == Some(true) {
            env.runner
                .run(&Cmd::new("wipefs").arg("-a").arg(d))
                .context(|| format!("wiping {device}"))?;
        }
        let mut c = Cmd::new("cryptsetup")
            .args(["luksFormat", "--type", "luks2", "--key-file"])
            .arg(kf);
        if let Some(lb) = &l.label {
            c = c.args(["--label", lb]);
        }
        if let Some(u) = &l.uuid {
            c = c.args(["--uuid", u]);
        }
        c = c.args(l.options.iter()).arg(d);
        crate::log::op(
            &format!("formatting LUKS2 volume {} on {device}", l.name),
            || env.runner.run(&c).map(|_| ()),
        )?;
    }
    if !env.host.path(&mapper.to_string_lossy()).exists() {
        let mut c = Cmd::new("cryptsetup")
            .arg("luksOpen")
            .arg(d)
            .arg(&l.name)
            .arg("--key-file")
            .arg(kf)
            .arg("--persistent");
        if l.discard == Some(true) {
            c = c.arg("--allow-discards");
        }
        c = c.args(l.open_options.iter());
        env.runner
            .run(&c)
            .context(|| format!("opening {device} as {}", l.name))?;
    }
    if clevis && !reuse {
        let (pin, cfg) = clevis_pin(l);
        env.runner
            .run(
                &Cmd::new("clevis")
                    .args(["luks", "bind", "-f", "-k"])
                    .arg(kf)
                    .arg("-d")
                    .arg(d)
                    .args([pin.as_str(), cfg.as_str()]),
            )
            .context(|| format!("binding {device} with Clevis"))?;
        // Prove the binding unlocks the volume before the only other key is dropped.
        cryptsetup(env, &["luksClose".as_ref(), l.name.as_ref()])?;
        env.runner
            .run(
                &Cmd::new("clevis")
                    .args(["luks", "unlock", "-d"])
                    .arg(d)
                    .args(["-n", l.name.as_str()]),
            )
            .context(|| format!("unlocking {device} with Clevis"))?;
        if given_key.is_none() {
            cryptsetup(env, &["luksRemoveKey".as_ref(), d, kf])?;
        }
    }
    let uuid = String::from_utf8_lossy(&cryptsetup(env, &["luksUUID".as_ref(), d])?)
        .trim()
        .to_string();
    kernel::trigger(env, &dev);
    let _ = std::fs::remove_file(&keyfile);
    let mut options = Vec::new();
    if needs_network(l) {
        options.push("_netdev".to_string());
    }
    if l.discard == Some(true) {
        options.push("discard".to_string());
    }
    Ok(LuksVolume {
        name: l.name.clone(),
        uuid,
        key_file: if clevis {
            None
        } else {
            Some(crate::resource::data_url(&key))
        },
        options,
    })
}

/// Creates every LUKS volume of the config and records them in the state.
pub fn apply(env: &Env, cfg: &Config, st: &mut State) -> Result<()> {
    if cfg.storage.luks.is_empty() {
        return Ok(());
    }
    let fetcher = Fetcher::new(crate::resource::fetch_options(cfg)?, false);
    for (i, l) in cfg.storage.luks.iter().enumerate() {
        let path = format!("$.storage.luks.{i}");
        let vol = one(env, &fetcher, &path, l).context(|| path.clone())?;
        st.luks.retain(|v| v.name != vol.name);
        st.luks.push(vol);
    }
    Ok(())
}
