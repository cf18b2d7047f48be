//! Unit tests of the key and signature parsing, against fixtures made by OpenSSH.

use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/signing");
    std::fs::read(p.join(name)).unwrap()
}

fn key(name: &str) -> TrustedKey {
    let line = String::from_utf8(fixture(name)).unwrap();
    TrustedKey {
        key: parse_public_key_line(line.trim()).unwrap(),
        origin: name.into(),
    }
}

fn trusted(names: &[&str]) -> TrustedKeys {
    TrustedKeys(names.iter().map(|n| key(n)).collect())
}

#[test]
fn a_signature_by_ssh_keygen_verifies() {
    let config = fixture("config.ign");
    let keys = trusted(&["other-key.pub", "test-key.pub"]);
    let k = keys.verify(&config, &fixture("config.ign.sig")).unwrap();
    assert_eq!(k.origin, "test-key.pub");
    // sha256 as the signature's hash is accepted too.
    keys.verify(&config, &fixture("sha256.sig")).unwrap();
}

#[test]
fn tampered_config_untrusted_key_and_other_namespace_are_refused() {
    let config = fixture("config.ign");
    let keys = trusted(&["test-key.pub"]);
    let mut tampered = config.clone();
    tampered[10] ^= 1;
    let e = keys
        .verify(&tampered, &fixture("config.ign.sig"))
        .unwrap_err();
    assert!(e.to_string().contains("does not match"), "{e}");
    let e = trusted(&["other-key.pub"])
        .verify(&config, &fixture("config.ign.sig"))
        .unwrap_err();
    assert!(e.to_string().contains("not trusted"), "{e}");
    let e = keys
        .verify(&config, &fixture("wrong-namespace.sig"))
        .unwrap_err();
    assert!(e.to_string().contains("namespace \"file\""), "{e}");
}

#[test]
fn malformed_signatures_are_clear_errors() {
    let keys = trusted(&["test-key.pub"]);
    let good = String::from_utf8(fixture("config.ign.sig")).unwrap();
    let cases = [
        (String::new(), "not an armored"),
        ("{\"not\":\"a sig\"}".to_string(), "not an armored"),
        (good.replace("U1NIU0lH", "U1NIU0lI"), "magic"),
        (
            good.replace("-----END", "AAAA\n-----END"),
            "malformed signature",
        ),
        (good.replace("U1NIU0lH", "U1NI!0lH"), "illegal base64"),
    ];
    for (sig, want) in cases {
        let e = keys.verify(b"x", sig.as_bytes()).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
    // Truncation anywhere is an error, never a panic.
    let body: String = good.lines().filter(|l| !l.starts_with("-----")).collect();
    let blob = b64(&body).unwrap();
    for n in 0..blob.len() {
        let armored = format!(
            "{ARMOR_BEGIN}\n{}\n{ARMOR_END}\n",
            base64::Engine::encode(&base64::prelude::BASE64_STANDARD, &blob[..n])
        );
        assert!(keys.verify(b"x", armored.as_bytes()).is_err(), "{n}");
    }
}

#[test]
fn key_lines() {
    assert!(
        parse_public_key_line(String::from_utf8(fixture("test-key.pub")).unwrap().trim()).is_ok()
    );
    let rsa = String::from_utf8(fixture("rsa-key.pub")).unwrap();
    let e = parse_public_key_line(rsa.trim()).unwrap_err();
    assert!(e.contains("only ssh-ed25519"), "{e}");
    assert!(parse_public_key_line("ssh-ed25519").is_err());
    assert!(parse_public_key_line("ssh-ed25519 AAAA").is_err());
    assert!(parse_public_key_line("ssh-ed25519 !!!").is_err());
}

#[test]
fn load_reads_pub_files_in_order_and_refuses_bad_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let host = HostPaths { root: dir.clone() };
    // No directory: no keys, nothing required.
    assert!(TrustedKeys::load(&host).unwrap().is_empty());
    let kd = host.path(KEYS_DIR);
    std::fs::create_dir_all(&kd).unwrap();
    assert!(TrustedKeys::load(&host).unwrap().is_empty());
    std::fs::write(kd.join("b.pub"), fixture("test-key.pub")).unwrap();
    let mut a = b"# ops team\n\n".to_vec();
    a.extend(fixture("other-key.pub"));
    std::fs::write(kd.join("a.pub"), a).unwrap();
    std::fs::write(kd.join("README"), "not a key").unwrap();
    let keys = TrustedKeys::load(&host).unwrap();
    let origins: Vec<_> = keys.0.iter().map(|k| k.origin.as_str()).collect();
    assert_eq!(
        origins,
        [
            "/etc/ignis/trusted-keys.d/a.pub:3",
            "/etc/ignis/trusted-keys.d/b.pub:1"
        ]
    );
    std::fs::write(kd.join("c.pub"), fixture("rsa-key.pub")).unwrap();
    let e = TrustedKeys::load(&host).unwrap_err().to_string();
    assert!(e.contains("c.pub:1: only ssh-ed25519"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
