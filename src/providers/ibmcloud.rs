//! IBM Cloud's Afterburn side beyond the generic `cidata` reading in `drives`: the VPC SSH keys,
//! which live in the drive's `vendor-data` (a MIME multipart whose `text/cloud-config` parts
//! carry `ssh_authorized_keys`), and the Classic infrastructure (`ibmcloud-classic`, an
//! Afterburn provider id): a `config-2` drive with `openstack/latest/meta_data.json`.

use super::cloudinit::{self, field, keys_of, parse_doc};
use super::{configdrive, label, Env};
use crate::afterburn::Metadata;
use crate::error::{Error, Result};

/// The SSH keys of every `text/cloud-config` part of a MIME multipart `vendor-data`; a body
/// that is itself `#cloud-config` (no MIME wrapper) counts as one such part.
pub fn vendor_data_keys(bytes: &[u8]) -> Result<Vec<String>> {
    let text = String::from_utf8_lossy(bytes);
    let mut keys = Vec::new();
    let mut add = |part: &str| -> Result<()> {
        if let Some((_, ks)) = cloudinit::cloud_config(part.as_bytes())
            .map_err(|e| e.context("vendor-data cloud-config part"))?
        {
            for k in ks {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        Ok(())
    };
    let Some(boundary) = boundary(&text) else {
        add(text.trim_start())?;
        return Ok(keys);
    };
    let delimiter = format!("--{boundary}");
    // The preamble (the top-level headers) comes before the first delimiter.
    for part in text.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break; // the closing delimiter
        }
        let part = part
            .strip_prefix("\r\n")
            .or(part.strip_prefix('\n'))
            .unwrap_or(part);
        let (head, body) = split_head(part);
        let is_cloud_config = head.lines().any(|h| {
            h.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("content-type")
                    && v.split(';')
                        .next()
                        .unwrap_or_default()
                        .trim()
                        .eq_ignore_ascii_case("text/cloud-config")
            })
        });
        if is_cloud_config {
            add(body)?;
        }
    }
    Ok(keys)
}

/// The `boundary=` parameter of the top-level `Content-Type`, unquoted.
fn boundary(text: &str) -> Option<String> {
    let (head, _) = split_head(text);
    let ct = head.lines().find_map(|h| {
        let (k, v) = h.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-type").then_some(v)
    })?;
    ct.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        (k.trim().eq_ignore_ascii_case("boundary") && !v.is_empty()).then(|| v.to_string())
    })
}

/// Headers and body of a MIME entity, split at the first blank line.
fn split_head(s: &str) -> (&str, &str) {
    for sep in ["\r\n\r\n", "\n\n"] {
        if let Some(i) = s.find(sep) {
            return (&s[..i], &s[i + sep.len()..]);
        }
    }
    (s, "")
}

/// The Classic infrastructure's lower-case `config-2` drive (vfat).
const CLASSIC_LABEL: [&str; 1] = ["config-2"];
const CLASSIC_META: &str = "openstack/latest/meta_data.json";

/// `ibmcloud-classic`: hostname and `IBMCLOUD_CLASSIC_LOCAL_HOSTNAME` from `name` (the short
/// name; `hostname` is the FQDN), `IBMCLOUD_CLASSIC_INSTANCE_ID` from `uuid`, SSH keys from
/// `public_keys` (Afterburn reads none there; docs/afterburn.md lists the difference).
pub fn classic_metadata(env: &Env) -> Result<Metadata> {
    let (_, dev) = label::find(env.host, &CLASSIC_LABEL).ok_or_else(|| {
        Error::failed("no config drive labelled config-2 is attached (ibmcloud-classic)")
    })?;
    let meta = configdrive::read(env, &dev, CLASSIC_META)?
        .ok_or_else(|| Error::failed(format!("the config drive has no {CLASSIC_META}")))?;
    let meta = parse_doc(&meta, CLASSIC_META)?;
    let name = field(&meta, &["name"]);
    let mut md = Metadata {
        hostname: name.clone(),
        ssh_keys: meta.get("public_keys").map(keys_of).unwrap_or_default(),
        ..Default::default()
    };
    if let Some(n) = name {
        md.attributes
            .insert("IBMCLOUD_CLASSIC_LOCAL_HOSTNAME".into(), n);
    }
    if let Some(id) = field(&meta, &["uuid"]) {
        md.attributes
            .insert("IBMCLOUD_CLASSIC_INSTANCE_ID".into(), id);
    }
    Ok(md)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, Bench};

    #[test]
    fn ibmcloud_vpc_vendor_data_ssh_keys() {
        // #16 item 1: the keys of the cloud-config parts, not the script's text.
        let keys = vendor_data_keys(&fixture("ibmcloud/cidata/vendor-data")).unwrap();
        assert_eq!(
            keys,
            [
                "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5IbmVpcOne vpc-one@example",
                "ssh-rsa AAAAB3NzaC1yc2EIbmVpcTwo vpc-two@example",
            ]
        );
        // CRLF line ends and an unquoted boundary.
        let crlf = "Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/cloud-config\r\n\r\n#cloud-config\r\nssh_authorized_keys:\r\n- ssh-ed25519 AAAAcrlf c@x\r\n--b1--\r\n";
        assert_eq!(
            vendor_data_keys(crlf.as_bytes()).unwrap(),
            ["ssh-ed25519 AAAAcrlf c@x"]
        );
        // No MIME wrapper: a plain #cloud-config document.
        let plain = b"#cloud-config\nssh_authorized_keys: [ssh-ed25519 AAAAplain p@x]\n";
        assert_eq!(
            vendor_data_keys(plain).unwrap(),
            ["ssh-ed25519 AAAAplain p@x"]
        );
        // Only other parts: no keys.
        let none = b"Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/x-shellscript\n\n#cloud-config\nssh_authorized_keys: [ssh-ed25519 AAAA s]\n--x--\n";
        assert!(vendor_data_keys(none).unwrap().is_empty());
    }

    #[test]
    fn ibmcloud_classic_config_drive() {
        let b = Bench::new();
        let e = classic_metadata(&b.env(None)).unwrap_err();
        assert!(e.to_string().contains("config-2"), "{e}");
        b.label("config-2", "ibmcloud-classic/config-2");
        let md = classic_metadata(&b.env(None)).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-classic"));
        assert_eq!(
            md.attributes["IBMCLOUD_CLASSIC_INSTANCE_ID"],
            "5d2c7e1a-8b3f-4c6d-9e0a-1b2c3d4e5f60"
        );
        assert_eq!(
            md.attributes["IBMCLOUD_CLASSIC_LOCAL_HOSTNAME"],
            "nestos-classic"
        );
        assert_eq!(md.attributes.len(), 2);
        assert_eq!(
            md.ssh_keys,
            ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5IbmClassic classic@example"]
        );
        assert_eq!(md.network_kargs, None);
    }
}
