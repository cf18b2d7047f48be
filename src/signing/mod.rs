//! Signed configs: the trusted keys baked into the initramfs (`/etc/ignis/trusted-keys.d/*.pub`,
//! OpenSSH `ssh-ed25519` public-key lines) and the check of a detached OpenSSH signature
//! (`ssh-keygen -Y sign -n ignition-config`, the armored SSHSIG format) over a config's bytes.
//! `policy` says which configs need one and where it is found; the engine fetches it.

pub mod policy;

use crate::config::url::base64_decode_into;
use crate::error::{Context, Error, Result};
use crate::providers::HostPaths;
use ring::digest;

/// Where the trusted keys live, relative to the host root (the initramfs).
pub const KEYS_DIR: &str = "/etc/ignis/trusted-keys.d";
/// The SSHSIG namespace a config signature must carry: a signature made for another purpose
/// (a git commit, a file) cannot be replayed as a config signature.
pub const NAMESPACE: &str = "ignition-config";

const KEY_TYPE: &str = "ssh-ed25519";
const MAGIC: &[u8] = b"SSHSIG";
const ARMOR_BEGIN: &str = "-----BEGIN SSH SIGNATURE-----";
const ARMOR_END: &str = "-----END SSH SIGNATURE-----";

/// One trusted key: its raw 32 bytes and where it was read from (for messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKey {
    pub key: [u8; 32],
    pub origin: String,
}

/// The trusted keys; an empty set means signatures are not required.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys(pub Vec<TrustedKey>);

impl TrustedKeys {
    /// Reads every `*.pub` file of [`KEYS_DIR`] in name order. A missing directory means no
    /// keys; a line that is not an `ssh-ed25519` key is an error (a key the operator meant to
    /// trust must not be dropped silently).
    pub fn load(host: &HostPaths) -> Result<TrustedKeys> {
        let dir = host.path(KEYS_DIR);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(TrustedKeys::default()),
            Err(e) => return Err(Error::failed(format!("reading {KEYS_DIR}: {e}"))),
        };
        let mut names = Vec::new();
        for e in entries {
            let e = e.context(|| format!("reading {KEYS_DIR}"))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".pub") {
                names.push(name);
            }
        }
        names.sort();
        let mut keys = Vec::new();
        for name in names {
            let text = std::fs::read_to_string(dir.join(&name))
                .context(|| format!("reading {KEYS_DIR}/{name}"))?;
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let origin = format!("{KEYS_DIR}/{name}:{}", i + 1);
                let key = parse_public_key_line(line)
                    .map_err(|e| Error::failed(format!("{origin}: {e}")))?;
                keys.push(TrustedKey { key, origin });
            }
        }
        Ok(TrustedKeys(keys))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Checks `armored` (an armored SSHSIG) over `message`: the signature's key must be one of
    /// ours, its namespace [`NAMESPACE`], and the Ed25519 signature must verify. Returns the
    /// key that signed.
    pub fn verify(&self, message: &[u8], armored: &[u8]) -> Result<&TrustedKey> {
        let sig = Sshsig::parse(armored)?;
        if sig.namespace != NAMESPACE.as_bytes() {
            return Err(Error::failed(format!(
                "signature is for namespace {:?}, not {NAMESPACE:?}",
                String::from_utf8_lossy(&sig.namespace)
            )));
        }
        let key = self
            .0
            .iter()
            .find(|k| k.key == sig.public_key)
            .ok_or_else(|| Error::failed("signed by a key that is not trusted"))?;
        let digest = match sig.hash_algorithm.as_slice() {
            b"sha512" => digest::digest(&digest::SHA512, message).as_ref().to_vec(),
            b"sha256" => digest::digest(&digest::SHA256, message).as_ref().to_vec(),
            other => {
                return Err(Error::failed(format!(
                    "unsupported signature hash {:?}",
                    String::from_utf8_lossy(other)
                )))
            }
        };
        let mut signed = Vec::with_capacity(96 + sig.namespace.len());
        signed.extend_from_slice(MAGIC);
        put_string(&mut signed, &sig.namespace);
        put_string(&mut signed, &sig.reserved);
        put_string(&mut signed, &sig.hash_algorithm);
        put_string(&mut signed, &digest);
        ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, &key.key)
            .verify(&signed, &sig.signature)
            .map_err(|_| Error::failed("signature does not match the config"))?;
        Ok(key)
    }
}

/// `ssh-ed25519 AAAA… [comment]` → the raw key.
fn parse_public_key_line(line: &str) -> std::result::Result<[u8; 32], String> {
    let mut parts = line.split_whitespace();
    let kind = parts.next().unwrap_or_default();
    if kind != KEY_TYPE {
        return Err(format!(
            "only {KEY_TYPE} keys can be trusted, found {:?}",
            kind.chars().take(32).collect::<String>()
        ));
    }
    let blob = b64(parts.next().ok_or("no key after the key type")?)?;
    let mut r = Reader(&blob);
    let (t, k) = (r.string()?, r.string()?);
    if t != KEY_TYPE.as_bytes() || !r.0.is_empty() {
        return Err("malformed ssh-ed25519 key".into());
    }
    k.try_into()
        .map_err(|_| "an ssh-ed25519 key has 32 bytes".to_string())
}

fn b64(s: &str) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    base64_decode_into(s, &mut |c| out.extend_from_slice(c))?;
    Ok(out)
}

/// A parsed SSHSIG blob (OpenSSH's PROTOCOL.sshsig), Ed25519 only.
#[derive(Debug)]
struct Sshsig {
    public_key: [u8; 32],
    namespace: Vec<u8>,
    reserved: Vec<u8>,
    hash_algorithm: Vec<u8>,
    signature: [u8; 64],
}

impl Sshsig {
    fn parse(armored: &[u8]) -> Result<Sshsig> {
        let bad = |why: &str| Error::failed(format!("malformed signature: {why}"));
        let text = std::str::from_utf8(armored).map_err(|_| bad("not text"))?;
        let body = text
            .trim()
            .strip_prefix(ARMOR_BEGIN)
            .and_then(|t| t.strip_suffix(ARMOR_END))
            .ok_or_else(|| bad("not an armored SSH signature"))?;
        let body: String = body.split_whitespace().collect();
        let blob = b64(&body).map_err(|e| bad(&e))?;
        let mut r = Reader(&blob);
        let magic = r.take(MAGIC.len()).map_err(|e| bad(&e))?;
        if magic != MAGIC {
            return Err(bad("no SSHSIG magic"));
        }
        if r.u32().map_err(|e| bad(&e))? != 1 {
            return Err(bad("unsupported SSHSIG version"));
        }
        let pk = r.string().map_err(|e| bad(&e))?;
        let namespace = r.string().map_err(|e| bad(&e))?.to_vec();
        let reserved = r.string().map_err(|e| bad(&e))?.to_vec();
        let hash_algorithm = r.string().map_err(|e| bad(&e))?.to_vec();
        let sig = r.string().map_err(|e| bad(&e))?;
        if !r.0.is_empty() {
            return Err(bad("trailing bytes"));
        }
        let mut pk = Reader(pk);
        let (t, k) = (pk.string(), pk.string());
        let public_key = match (t, k) {
            (Ok(t), Ok(k)) if t == KEY_TYPE.as_bytes() && pk.0.is_empty() => {
                k.try_into().map_err(|_| bad("bad ed25519 key length"))?
            }
            _ => return Err(Error::failed("only ssh-ed25519 signatures are accepted")),
        };
        let mut s = Reader(sig);
        let (t, v) = (s.string(), s.string());
        let signature = match (t, v) {
            (Ok(t), Ok(v)) if t == KEY_TYPE.as_bytes() && s.0.is_empty() => v
                .try_into()
                .map_err(|_| bad("bad ed25519 signature length"))?,
            _ => return Err(Error::failed("only ssh-ed25519 signatures are accepted")),
        };
        Ok(Sshsig {
            public_key,
            namespace,
            reserved,
            hash_algorithm,
            signature,
        })
    }
}

/// SSH wire format reader: big-endian u32 lengths, length-prefixed strings.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> std::result::Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }

    fn u32(&mut self) -> std::result::Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self) -> std::result::Result<&'a [u8], String> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    // Lengths here are a namespace, a hash name and a digest: far below u32::MAX.
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests;
