//! Google Cloud: the `user-data` instance attribute from the metadata server, which answers
//! only requests carrying `Metadata-Flavor: Google`. 404 means no user data.
//! Metadata (Afterburn's): hostname, machine type and addresses, and SSH keys from the
//! instance and project `ssh-keys` attributes, as Google's guest agent reads them: the legacy
//! instance `sshKeys` and `block-project-ssh-keys: true` both shut the project's keys out, and
//! keys whose `google-ssh` `expireOn` has passed are dropped.

use super::metadata::{looks_like_key, put, Service};
use super::util::{self, Http};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::Result;

const BASE: &str = "http://169.254.169.254";
const PATH: &str = "computeMetadata/v1/instance/attributes/user-data";

pub fn fetch_config(env: &Env) -> Result<Option<Vec<u8>>> {
    let url = util::join(BASE, PATH);
    log::info!("gcp: fetching user data from {url}");
    Http::new(env).get_user_data(&url, &[("Metadata-Flavor", "Google")], &[])
}

const META: &str = "computeMetadata/v1/";

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc = Service::new(env, BASE).header("Metadata-Flavor", "Google");
    let mut md = Metadata {
        hostname: svc.text(&format!("{META}instance/hostname"))?,
        ..Default::default()
    };
    if let Some(h) = &md.hostname {
        md.attributes.insert("GCP_HOSTNAME".into(), h.clone());
    }
    if let Some(t) = svc.text(&format!("{META}instance/machine-type"))? {
        // The whole `projects/<number>/machineTypes/<type>`, as Afterburn writes it.
        md.attributes.insert("GCP_MACHINE_TYPE".into(), t);
    }
    let nics = svc.json(&format!(
        "{META}instance/network-interfaces/?recursive=true&alt=json"
    ))?;
    for (i, nic) in nics.iter().flat_map(|v| v.as_array()).flatten().enumerate() {
        put(
            &mut md.attributes,
            &format!("GCP_IP_LOCAL_{i}"),
            nic.get("ip"),
        );
        let external = nic.pointer("/accessConfigs/0/externalIp");
        put(
            &mut md.attributes,
            &format!("GCP_IP_EXTERNAL_{i}"),
            external,
        );
    }
    md.ssh_keys = ssh_keys(&svc)?;
    Ok(md)
}

fn ssh_keys(svc: &Service) -> Result<Vec<String>> {
    let attr = |scope: &str, k: &str| svc.text(&format!("{META}{scope}/attributes/{k}"));
    let legacy = attr("instance", "sshKeys")?;
    let blocked =
        attr("instance", "block-project-ssh-keys")?.is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut docs = vec![attr("instance", "ssh-keys")?, legacy.clone()];
    if blocked || legacy.is_some() {
        log::info!("gcp: project SSH keys are blocked for this instance");
    } else {
        docs.push(attr("project", "ssh-keys")?);
        docs.push(attr("project", "sshKeys")?);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let mut keys: Vec<String> = Vec::new();
    for line in docs.iter().flatten().flat_map(|d| d.lines()) {
        if let Some(k) = key_of_line(line, now) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
    }
    Ok(keys)
}

/// The key of a `user:key` line; `None` for blank, malformed or expired entries.
fn key_of_line(line: &str, now: i64) -> Option<String> {
    let line = line.trim();
    if line.is_empty() {
        return None;
    }
    let Some((_, key)) = line.split_once(':').filter(|(_, k)| looks_like_key(k)) else {
        log::warn!("gcp: skipping an ssh-keys entry that is not `user:key`");
        return None;
    };
    let key = key.trim();
    if let Some(json) = key.split_once("google-ssh ").map(|(_, j)| j) {
        let expiry = serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|v| {
                v.get("expireOn")
                    .and_then(|e| e.as_str())
                    .and_then(epoch_seconds)
            });
        if expiry.is_some_and(|t| t <= now) {
            log::info!("gcp: skipping an expired SSH key");
            return None;
        }
    }
    Some(key.to_string())
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|+hhmm|+hh:mm)`.
fn epoch_seconds(s: &str) -> Option<i64> {
    let num = |a: usize, b: usize| s.get(a..b).and_then(|x| x.parse::<i64>().ok());
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, sec) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if s.get(4..5) != Some("-") || s.get(10..11).is_none_or(|t| t != "T" && t != " ") {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" | "" => 0,
        z => {
            let sign = match z.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = z[1..].chars().filter(|c| *c != ':').collect();
            let hh: i64 = digits.get(0..2)?.parse().ok()?;
            let mm: i64 = digits.get(2..4).unwrap_or("00").parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{tree_reply, Bench, Reply, Request, Server};

    fn metadata_server(block: bool, legacy: bool) -> Server {
        Server::start(move |r: &Request| {
            if r.header("Metadata-Flavor") != Some("Google") {
                return Reply::status(403);
            }
            match r.target.as_str() {
                "/computeMetadata/v1/instance/attributes/block-project-ssh-keys" if block => {
                    Reply::ok("TRUE")
                }
                "/computeMetadata/v1/instance/attributes/sshKeys" if legacy => {
                    Reply::ok("core:ssh-rsa AAAAB3NzaLegacyInstanceKey legacy@example\n")
                }
                t => tree_reply("gcp/metadata", t),
            }
        })
    }

    #[test]
    fn project_keys_blocked() {
        for (block, legacy, n) in [(true, false, 1), (false, true, 2)] {
            let s = metadata_server(block, legacy);
            let b = Bench::new();
            let md = metadata(&b.env(Some(&s.base))).unwrap();
            assert_eq!(md.ssh_keys.len(), n, "block {block} legacy {legacy}");
            assert!(md.ssh_keys.iter().all(|k| !k.contains("ProjectKey")));
            assert!(s.requests().iter().all(|r| !r.target.contains("/project/")));
        }
    }

    #[test]
    fn expiry_dates() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            epoch_seconds("2018-04-05T20:57:40+0000"),
            Some(1_522_961_860)
        );
        assert_eq!(
            epoch_seconds("2018-04-05T22:57:40+02:00"),
            Some(1_522_961_860)
        );
        assert_eq!(epoch_seconds("2000-02-29T00:00:00.123Z"), Some(951_782_400));
        assert_eq!(epoch_seconds("garbage"), None);
        let line =
            r#"u:ssh-rsa AAAA google-ssh {"userName":"u","expireOn":"2018-04-05T20:57:40+0000"}"#;
        assert_eq!(key_of_line(line, 1_600_000_000), None);
        assert!(key_of_line(line, 1_500_000_000).is_some());
        assert_eq!(key_of_line("no key here", 0), None);
    }
}
