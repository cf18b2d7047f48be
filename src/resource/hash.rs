//! `verification.hash`: parsing `sha512-<hex>`/`sha256-<hex>` and hashing a stream as it passes.

use crate::error::{Error, Kind, Result};
use ring::digest::{self, Context, SHA256, SHA512};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

/// An expected digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashSpec {
    pub alg: Algorithm,
    pub digest: Vec<u8>,
    /// The text as written in the config, for messages.
    pub text: String,
}

impl HashSpec {
    /// Parses a validated `verification.hash` value.
    pub fn parse(s: &str) -> Result<HashSpec> {
        let (func, hex) = s
            .split_once('-')
            .ok_or_else(|| Error::failed(format!("malformed hash specifier {s:?}")))?;
        let alg = match func {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => {
                return Err(Error::failed(format!(
                    "unrecognized hash function {func:?}"
                )))
            }
        };
        let digest =
            decode_hex(hex).ok_or_else(|| Error::failed(format!("hash sum is not hex: {s:?}")))?;
        let want = match alg {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        };
        if digest.len() != want {
            return Err(Error::failed(format!("incorrect size for hash sum {s:?}")));
        }
        Ok(HashSpec {
            alg,
            digest,
            text: s.to_string(),
        })
    }

    pub fn hasher(&self) -> Hasher {
        match self.alg {
            Algorithm::Sha256 => Hasher(Context::new(&SHA256)),
            Algorithm::Sha512 => Hasher(Context::new(&SHA512)),
        }
    }

    /// Compares a finished hash with the expected one.
    pub fn check(&self, h: Hasher) -> Result<()> {
        let got = h.finish();
        if got == self.digest {
            return Ok(());
        }
        let prefix = match self.alg {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        };
        Err(Error::new(
            Kind::HashMismatch,
            format!(
                "hash mismatch: expected {}, got {prefix}-{}",
                self.text,
                encode_hex(&got)
            ),
        ))
    }
}

/// A running digest (ring's, the SHA-2 that TLS already links).
pub struct Hasher(Context);

impl Hasher {
    pub fn update(&mut self, b: &[u8]) {
        self.0.update(b);
    }

    pub fn finish(self) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

pub fn encode_hex(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

/// The sha512 of some bytes as lowercase hex (used to name configs in logs).
pub fn sha512_hex(b: &[u8]) -> String {
    encode_hex(digest::digest(&SHA512, b).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_check() {
        let h = HashSpec::parse(
            "sha256-2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        )
        .unwrap();
        let mut x = h.hasher();
        x.update(b"hel");
        x.update(b"lo");
        h.check(x).unwrap();
        let mut y = h.hasher();
        y.update(b"other");
        assert_eq!(h.check(y).unwrap_err().kind(), Kind::HashMismatch);
        assert!(HashSpec::parse("md5-00").is_err());
        assert!(HashSpec::parse("sha512-00").is_err());
        assert!(HashSpec::parse("sha512").is_err());
    }

    #[test]
    fn hex() {
        assert_eq!(decode_hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(decode_hex("0g"), None);
        assert_eq!(encode_hex(&[0, 255, 16]), "00ff10");
    }
}
