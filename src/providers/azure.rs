//! Azure and Azure Stack. Azure: the base64 `userData` from IMDS, then (when that is empty)
//! CustomData from the provisioning CD-ROM. Azure Stack: the CD-ROM only. The CD-ROM (UDF or
//! iso9660) carries `CustomData.bin` (raw) and `ovf-env.xml` (CustomData in base64).
//! Metadata (Afterburn's, from IMDS `metadata/instance`): the VM name as hostname, the VM size,
//! the first private address as `AZURE_IPV4_DYNAMIC` (Afterburn reads the same address from the
//! wireserver), and the provisioned SSH keys. No boot check-in (the wireserver health report).

use super::metadata::{put, Service};
use super::mounter;
use super::util::{self, Deadline, Http};
use super::Env;
use crate::afterburn::Metadata;
use crate::error::{Error, Result};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const BASE: &str = "http://169.254.169.254";
const IMDS_PATH: &str = "metadata/instance/compute/userData?api-version=2021-01-01&format=text";
/// Retried by the fetcher besides 5xx; 404 is retried here (the fetcher maps it to "absent").
const IMDS_RETRY: [u16; 2] = [410, 429];
/// The provisioning CD-ROM on Gen1 VMs; Gen2 VMs show it as a SCSI `sr` device.
const CDROM_BY_ID: &str = "/dev/disk/by-id/ata-Virtual_CD";
const CDROM_FSTYPES: [&str; 2] = ["udf", "iso9660"];
/// How long Azure waits for the CD-ROM after IMDS had no user data (Azure Stack has no other
/// source and waits the whole fetch timeout).
const CDROM_WAIT_AFTER_IMDS: Duration = Duration::from_secs(30);

pub fn fetch_config(env: &Env, stack: bool) -> Result<Option<Vec<u8>>> {
    let limit = util::wait_limit(env);
    if stack {
        return from_cdrom(env, limit, true);
    }
    if let Some(d) = from_imds(env, Deadline::after(limit))? {
        return Ok(Some(d));
    }
    log::info!("azure: no user data in IMDS; looking for CustomData on the provisioning CD-ROM");
    from_cdrom(env, limit.min(CDROM_WAIT_AFTER_IMDS), false)
}

const INSTANCE_PATH: &str = "metadata/instance?api-version=2021-02-01";

pub fn metadata(env: &Env) -> Result<Metadata> {
    let svc = Service::new(env, BASE)
        .header("Metadata", "true")
        .retrying(&IMDS_RETRY);
    let doc = svc.required_json(INSTANCE_PATH)?;
    let mut md = Metadata {
        hostname: doc
            .pointer("/compute/name")
            .and_then(super::cloudinit::text),
        ..Default::default()
    };
    put(
        &mut md.attributes,
        "AZURE_VMSIZE",
        doc.pointer("/compute/vmSize"),
    );
    let private = doc.pointer("/network/interface/0/ipv4/ipAddress/0/privateIpAddress");
    put(&mut md.attributes, "AZURE_IPV4_DYNAMIC", private);
    md.ssh_keys = doc
        .pointer("/compute/publicKeys")
        .and_then(|k| k.as_array())
        .into_iter()
        .flatten()
        .filter_map(|k| k.get("keyData").and_then(super::cloudinit::text))
        .collect();
    Ok(md)
}

/// IMDS `userData`, base64-decoded; `None` when it is empty or IMDS keeps answering 404.
fn from_imds(env: &Env, deadline: Deadline) -> Result<Option<Vec<u8>>> {
    let url = util::join(BASE, IMDS_PATH);
    let http = Http::new(env);
    log::info!("azure: fetching user data from IMDS");
    let mut wait = Duration::from_millis(250);
    loop {
        let r = http
            .fetcher()
            .http_request("GET", &url, &[("Metadata", "true")], None, &IMDS_RETRY)
            .map_err(|e| e.context("fetching user data from Azure IMDS"))?;
        match r {
            Some(body) => {
                let data = util::decode_base64(&body, "IMDS userData")?;
                return Ok(util::non_empty(Some(data)));
            }
            None if deadline.passed() => {
                log::warn!("azure: IMDS still answers 404 for userData; giving up on it");
                return Ok(None);
            }
            None => {
                log::info!("azure: IMDS userData not there yet (HTTP 404); retrying");
                std::thread::sleep(wait.min(deadline.remaining()));
                wait = (wait * 2).min(Duration::from_secs(4));
            }
        }
    }
}

/// The CD-ROM device nodes present now: the by-id link first, then `sr*` in name order.
fn cdroms(env: &Env) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let by_id = env.host.path(CDROM_BY_ID);
    if by_id.exists() {
        out.push(by_id);
    }
    let mut srs: Vec<PathBuf> = std::fs::read_dir(env.host.path("/dev"))
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("sr"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default();
    srs.sort();
    // The by-id link usually points at one of the srN nodes: mount each device once.
    let same = |a: &PathBuf, b: &PathBuf| match (std::fs::canonicalize(a), std::fs::canonicalize(b))
    {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    for s in srs {
        if !out.iter().any(|o| same(o, &s)) {
            out.push(s);
        }
    }
    out
}

fn wait_for_cdroms(env: &Env, timeout: Duration) -> Vec<PathBuf> {
    let deadline = Deadline::after(timeout);
    let never = AtomicBool::new(false);
    loop {
        let found = cdroms(env);
        if !found.is_empty() || deadline.passed() {
            return found;
        }
        // Poll in short steps; a by-id or sr node showing up ends the wait.
        let probe = [env.host.path(CDROM_BY_ID), env.host.path("/dev/sr0")];
        mounter::wait_for_any(
            &probe,
            deadline.remaining().min(Duration::from_secs(1)),
            &never,
        );
    }
}

fn from_cdrom(env: &Env, wait: Duration, required: bool) -> Result<Option<Vec<u8>>> {
    let devices = wait_for_cdroms(env, wait);
    if devices.is_empty() {
        let msg = format!(
            "no provisioning CD-ROM appeared within {} s",
            wait.as_secs()
        );
        if required {
            return Err(Error::failed(msg));
        }
        log::info!("azure: {msg}; no config");
        return Ok(None);
    }
    let mut errors = Vec::new();
    let mut readable = false;
    for dev in &devices {
        match custom_data(env, dev) {
            Ok(Some(d)) => {
                log::info!("azure: read CustomData from {}", dev.display());
                return Ok(Some(d));
            }
            Ok(None) => readable = true,
            Err(e) => {
                log::warn!("azure: {e}");
                errors.push(e.to_string());
            }
        }
    }
    if readable {
        log::info!("azure: the provisioning CD-ROM has no CustomData; no config");
        return Ok(None);
    }
    Err(Error::failed(format!(
        "reading the provisioning CD-ROM: {}",
        errors.join("; ")
    )))
}

/// CustomData of one device: `CustomData.bin`, else the element in `ovf-env.xml`.
fn custom_data(env: &Env, dev: &std::path::Path) -> Result<Option<Vec<u8>>> {
    if let Some(d) = env
        .mounter
        .read_file(dev, &CDROM_FSTYPES, "CustomData.bin")?
    {
        if !d.is_empty() {
            return Ok(Some(d));
        }
    }
    let Some(xml) = env.mounter.read_file(dev, &CDROM_FSTYPES, "ovf-env.xml")? else {
        return Ok(None);
    };
    let xml = String::from_utf8_lossy(&xml);
    match ovf_custom_data(&xml) {
        Some(b64) => Ok(util::non_empty(Some(util::decode_base64(
            b64.as_bytes(),
            "CustomData in ovf-env.xml",
        )?))),
        None => Ok(None),
    }
}

/// The text of the first element whose local name is `CustomData` (any namespace prefix);
/// `Some("")` for an empty or self-closing one.
fn ovf_custom_data(xml: &str) -> Option<&str> {
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with(['/', '?', '!']) {
            continue;
        }
        let name_end = rest.find(|c: char| c.is_whitespace() || c == '>' || c == '/')?;
        let name = &rest[..name_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        if local != "CustomData" {
            continue;
        }
        let tag_end = rest.find('>')?;
        if rest[..tag_end].ends_with('/') {
            return Some("");
        }
        let body = &rest[tag_end + 1..];
        let close = format!("</{name}>");
        let end = body.find(&close)?;
        return Some(body[..end].trim());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{fixture, fixture_path, Bench, Reply, Request, Server};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const TARGET: &str = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text";

    /// IMDS that answers `fails` with the given statuses first, then `body`.
    fn imds(fails: Vec<u16>, body: Vec<u8>) -> (Server, Arc<AtomicUsize>) {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = n.clone();
        let s = Server::start(move |r: &Request| {
            if r.header("Metadata") != Some("true") || r.target != TARGET {
                return Reply::status(400);
            }
            let i = n.fetch_add(1, Ordering::SeqCst);
            match fails.get(i) {
                Some(&st) => Reply::status(st),
                None => Reply::ok(body.clone()),
            }
        });
        (s, seen)
    }

    #[test]
    fn imds_user_data_is_base64() {
        let (s, _) = imds(vec![], fixture("azure/imds-userdata.txt"));
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base)), false).unwrap().unwrap();
        assert!(String::from_utf8(got).unwrap().contains("azure-imds"));
        assert!(b.mounter.calls().is_empty());
    }

    #[test]
    fn imds_retries_404_410_429() {
        let (s, n) = imds(vec![404, 410, 429, 500], fixture("azure/imds-userdata.txt"));
        let b = Bench::new();
        let got = fetch_config(&b.env(Some(&s.base)), false).unwrap().unwrap();
        assert!(String::from_utf8(got).unwrap().contains("azure-imds"));
        assert_eq!(n.load(Ordering::SeqCst), 5);
    }

    #[test]
    fn empty_imds_falls_back_to_custom_data_bin() {
        let (s, _) = imds(vec![], Vec::new());
        let b = Bench::new();
        b.device("/dev/sr0");
        b.mounter
            .add(b.host.path("/dev/sr0"), fixture_path("azure/cdrom"));
        let got = fetch_config(&b.env(Some(&s.base)), false).unwrap();
        assert_eq!(got, Some(fixture("azure/cdrom/CustomData.bin")));
        let calls = b.mounter.calls();
        assert_eq!(calls[0].1, vec!["udf", "iso9660"]);
        assert_eq!(calls[0].2, "CustomData.bin");
    }

    #[test]
    fn ovf_env_custom_data() {
        let (s, _) = imds(vec![], Vec::new());
        let b = Bench::new();
        b.device(CDROM_BY_ID);
        b.mounter.add(
            b.host.path(CDROM_BY_ID),
            fixture_path("azure/cdrom-ovf-only"),
        );
        let got = fetch_config(&b.env(Some(&s.base)), false).unwrap().unwrap();
        assert!(String::from_utf8(got).unwrap().contains("azure-ovf"));
    }

    #[test]
    fn nothing_anywhere_is_no_config() {
        let (s, _) = imds(vec![], Vec::new());
        let mut b = Bench::new();
        b.fetch_timeout = Duration::from_millis(300);
        assert_eq!(fetch_config(&b.env(Some(&s.base)), false).unwrap(), None);
        // A CD-ROM that cannot be mounted is an error, not silence.
        b.device("/dev/sr0");
        let e = fetch_config(&b.env(Some(&s.base)), false).unwrap_err();
        assert!(e.to_string().contains("bad superblock"), "{e}");
    }

    #[test]
    fn persistent_404_gives_up_on_imds() {
        let (s, _) = imds(vec![404; 1000], Vec::new());
        let mut b = Bench::new();
        b.fetch_timeout = Duration::from_millis(800);
        b.device("/dev/sr1");
        b.mounter
            .add(b.host.path("/dev/sr1"), fixture_path("azure/cdrom"));
        let got = fetch_config(&b.env(Some(&s.base)), false).unwrap();
        assert_eq!(got, Some(fixture("azure/cdrom/CustomData.bin")));
    }

    #[test]
    fn azure_stack_reads_the_cdrom_offline() {
        let b = Bench::new();
        b.device("/dev/sr0");
        b.mounter
            .add(b.host.path("/dev/sr0"), fixture_path("azurestack/cdrom"));
        let got = fetch_config(&b.offline_env(None), true).unwrap();
        assert_eq!(got, Some(fixture("azurestack/cdrom/CustomData.bin")));
        let mut empty = Bench::new();
        empty.fetch_timeout = Duration::from_millis(200);
        let e = fetch_config(&empty.offline_env(None), true).unwrap_err();
        assert!(e.to_string().contains("no provisioning CD-ROM"), "{e}");
    }

    #[test]
    fn ovf_parsing() {
        let xml = String::from_utf8(fixture("azure/cdrom-ovf-only/ovf-env.xml")).unwrap();
        let b64 = ovf_custom_data(&xml).unwrap();
        let d = util::decode_base64(b64.as_bytes(), "x").unwrap();
        assert!(String::from_utf8(d).unwrap().contains("azure-ovf"));
        assert_eq!(ovf_custom_data("<a><CustomData/></a>"), Some(""));
        assert_eq!(
            ovf_custom_data(
                "<x:CustomDataX>no</x:CustomDataX><y:CustomData a='1'> aGk= </y:CustomData>"
            ),
            Some("aGk=")
        );
        assert_eq!(ovf_custom_data("<a><b>c</b></a>"), None);
    }

    #[test]
    fn imds_metadata() {
        let n = Arc::new(AtomicUsize::new(0));
        let seen = n.clone();
        let s = Server::start(move |r: &Request| {
            if r.header("Metadata") != Some("true") {
                return Reply::status(400);
            }
            if r.target != "/metadata/instance?api-version=2021-02-01" {
                return Reply::status(404);
            }
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::status(429);
            }
            Reply::ok(fixture("azure/imds-instance.json"))
        });
        let b = Bench::new();
        let md = metadata(&b.env(Some(&s.base))).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-vm"));
        assert_eq!(md.attributes["AZURE_VMSIZE"], "Standard_B2s");
        assert_eq!(md.attributes["AZURE_IPV4_DYNAMIC"], "10.1.0.4");
        assert_eq!(md.ssh_keys.len(), 2);
        assert!(md.ssh_keys[0].starts_with("ssh-rsa "));
        assert_eq!(n.load(Ordering::SeqCst), 2, "429 is retried");
        let s = Server::start(|_: &Request| Reply::status(404));
        let e = metadata(&b.env(Some(&s.base))).unwrap_err();
        assert!(e.to_string().contains("no metadata document"), "{e}");
    }
}
