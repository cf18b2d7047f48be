//! OpenStack and Huawei Cloud: the config drive (`config-2`/`CONFIG-2`) raced against the
//! metadata service, first answer wins, as in Ignition; and the race itself, which cloudstack
//! shares. Offline the provider always needs the network (Ignition's choice: the drive may be
//! absent, and only the fetch stage can tell). Metadata (Afterburn's `OPENSTACK_*`, or
//! `HUAWEICLOUD_*` on Huawei Cloud) comes from the config drive when one is attached
//! (`meta_data.json`, plus `ec2/latest/meta-data.json` when present), else from the EC2-style
//! metadata service.

use super::cloudinit::{keys_of, parse_doc};
use super::configdrive;
use super::metadata::{put, Service, Sources};
use super::util::{self, Deadline};
use super::{Env, Platform};
use crate::afterburn::Metadata;
use crate::error::{Context, Error, Kind, Result};
use crate::resource::Fetcher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

const BASE: &str = "http://169.254.169.254";
const METADATA_PATH: &str = "openstack/latest/user_data";
/// How long failure reports are still collected after the deadline.
const GRACE: Duration = Duration::from_secs(1);

pub fn fetch_config(env: &Env, p: Platform) -> Result<Option<Vec<u8>>> {
    if env.fetcher.is_offline() {
        return Err(Error::new(
            Kind::NeedNet,
            format!(
                "{}: the config drive races the metadata service, which needs networking",
                p.id()
            ),
        ));
    }
    let url = util::join(BASE, METADATA_PATH);
    race(
        env,
        p.id(),
        &configdrive::CONFIG_2,
        configdrive::OPENSTACK_USER_DATA,
        move |f: &Fetcher, _: &AtomicBool| {
            log::info!("fetching user data from {url}");
            let d = f
                .http_request("GET", &url, &[], None, &[])
                .context(|| format!("fetching {url}"))?;
            Ok(util::non_empty(d))
        },
    )
}

pub fn metadata(env: &Env, p: Platform) -> Result<Metadata> {
    metadata_from(env, p, Sources::Both)
}

/// Metadata from the config drive if one is attached now (udev has long settled when
/// Afterburn's units run), else from the metadata service; `sources` pins one.
pub fn metadata_from(env: &Env, p: Platform, sources: Sources) -> Result<Metadata> {
    let prefix = match p {
        Platform::HuaweiCloud => "HUAWEICLOUD",
        _ => "OPENSTACK",
    };
    if sources != Sources::ServiceOnly {
        match super::label::find(env.host, &configdrive::CONFIG_2) {
            Some((_, dev)) => return from_drive(env, &dev, prefix),
            None if sources == Sources::DriveOnly => {
                return Err(Error::failed(
                    "no config drive labelled config-2 or CONFIG-2",
                ))
            }
            None => log::info!("{}: no config drive; using the metadata service", p.id()),
        }
    }
    from_service(env, prefix)
}

fn from_drive(env: &Env, dev: &std::path::Path, prefix: &str) -> Result<Metadata> {
    let meta = configdrive::read(env, dev, "openstack/latest/meta_data.json")?
        .ok_or_else(|| Error::failed("the config drive has no openstack/latest/meta_data.json"))?;
    let meta = parse_doc(&meta, "meta_data.json")?;
    let mut md = Metadata {
        hostname: meta.get("hostname").and_then(super::cloudinit::text),
        ssh_keys: meta.get("public_keys").map(keys_of).unwrap_or_default(),
        ..Default::default()
    };
    let a = &mut md.attributes;
    put(a, &format!("{prefix}_HOSTNAME"), meta.get("hostname"));
    put(a, &format!("{prefix}_INSTANCE_UUID"), meta.get("uuid"));
    if let Some(ec2) = configdrive::read(env, dev, "ec2/latest/meta-data.json")? {
        let ec2 = parse_doc(&ec2, "ec2/latest/meta-data.json")?;
        for (key, name) in EC2_ATTRS.iter().skip(1) {
            // A key that is present with an empty value is written empty, as Afterburn does
            // (`public-ipv4: ""` on a VM without a floating IP).
            match ec2.get(*key) {
                Some(serde_json::Value::String(v)) if v.trim().is_empty() => {
                    a.insert(format!("{prefix}_{name}"), String::new());
                }
                v => put(a, &format!("{prefix}_{name}"), v),
            }
        }
    }
    Ok(md)
}

/// EC2-style leaf -> attribute suffix.
const EC2_ATTRS: [(&str, &str); 5] = [
    ("hostname", "HOSTNAME"),
    ("instance-id", "INSTANCE_ID"),
    ("instance-type", "INSTANCE_TYPE"),
    ("local-ipv4", "IPV4_LOCAL"),
    ("public-ipv4", "IPV4_PUBLIC"),
];

fn from_service(env: &Env, prefix: &str) -> Result<Metadata> {
    let svc = Service::new(env, BASE);
    let names: Vec<(&str, String)> = EC2_ATTRS
        .iter()
        .map(|(k, n)| (*k, format!("{prefix}_{n}")))
        .collect();
    let table: Vec<(&str, &str)> = names.iter().map(|(k, n)| (*k, n.as_str())).collect();
    let mut md = Metadata::default();
    // Leaves the service answers empty are written empty, as Afterburn does.
    for (path, name) in &table {
        if let Some(v) = svc.text_keep_empty(&format!("latest/meta-data/{path}"))? {
            md.attributes.insert((*name).to_string(), v);
        }
    }
    md.ssh_keys = svc.ec2_public_keys("latest/meta-data/", "public-keys")?;
    // The OpenStack document has the instance UUID (and the keys when the EC2 tree is off).
    if let Some(meta) = svc.json("openstack/latest/meta_data.json")? {
        put(
            &mut md.attributes,
            &format!("{prefix}_INSTANCE_UUID"),
            meta.get("uuid"),
        );
        if !md.attributes.contains_key(&format!("{prefix}_HOSTNAME")) {
            put(
                &mut md.attributes,
                &format!("{prefix}_HOSTNAME"),
                meta.get("hostname"),
            );
        }
        if md.ssh_keys.is_empty() {
            md.ssh_keys = meta.get("public_keys").map(keys_of).unwrap_or_default();
        }
    }
    md.hostname = md.attributes.get(&format!("{prefix}_HOSTNAME")).cloned();
    Ok(md)
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Drive,
    Metadata,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Drive => "config drive",
            Source::Metadata => "metadata service",
        })
    }
}

/// Races a config drive (the first of `labels` to appear, file `drive_file`) against a
/// metadata source. The first source to answer wins, "no user data" included, as in Ignition;
/// failures are logged and the other source still gets its chance. Gives up with an error
/// after the fetch timeout, or when both sources failed.
///
/// The metadata source runs on a detached thread with its own fetcher bounded by the same
/// timeout: a blocked HTTP request cannot be interrupted, and the winner must not wait for it.
/// It gets a flag that is set once the race is decided.
pub(crate) fn race(
    env: &Env,
    name: &str,
    labels: &[&str],
    drive_file: &str,
    metadata: impl FnOnce(&Fetcher, &AtomicBool) -> Result<Option<Vec<u8>>> + Send + 'static,
) -> Result<Option<Vec<u8>>> {
    let limit = util::wait_limit(env);
    let deadline = Deadline::after(limit);
    let decided = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<(Source, Result<Option<Vec<u8>>>)>();

    let fetcher = util::bounded(env.fetcher, limit)
        .unwrap_or_else(|| env.fetcher.derive(env.fetcher.options().clone(), false));
    let (mtx, mdecided) = (tx.clone(), decided.clone());
    std::thread::Builder::new()
        .name("ignis-metadata".into())
        .spawn(move || {
            let r = metadata(&fetcher, &mdecided);
            let _ = mtx.send((Source::Metadata, r));
        })
        .context(|| "starting the metadata thread")?;

    std::thread::scope(|s| {
        let drive_decided = &*decided;
        let spawned = std::thread::Builder::new()
            .name("ignis-config-drive".into())
            .spawn_scoped(s, move || {
                let r = match configdrive::wait_for_label(env, labels, limit, drive_decided) {
                    Some((_, dev)) => configdrive::read(env, &dev, drive_file),
                    None => Err(Error::failed(format!(
                        "no drive labelled {} appeared",
                        labels.join(" or ")
                    ))),
                };
                let _ = tx.send((Source::Drive, r));
            });
        let outcome = match spawned {
            Ok(_) => decide(name, &rx, deadline, limit),
            Err(e) => Err(Error::failed(format!(
                "starting the config drive thread: {e}"
            ))),
        };
        // Stops the drive thread's wait; the scope then joins it.
        decided.store(true, Ordering::Relaxed);
        outcome
    })
}

fn decide(
    name: &str,
    rx: &mpsc::Receiver<(Source, Result<Option<Vec<u8>>>)>,
    deadline: Deadline,
    limit: Duration,
) -> Result<Option<Vec<u8>>> {
    let mut failures = Vec::new();
    // After the deadline the sources give up on their own bounds too; a short grace lets
    // their reasons (no lease, no drive, connection refused) into the error.
    let grace = Deadline::after(limit + GRACE);
    let mut timed_out = false;
    while failures.len() < 2 {
        let wait = if timed_out {
            grace.remaining()
        } else {
            deadline.remaining()
        };
        match rx.recv_timeout(wait) {
            Ok((src, Ok(d))) => {
                match &d {
                    Some(_) => log::info!("{name}: got user data from the {src}"),
                    None => log::info!("{name}: the {src} has no user data; no config"),
                }
                return Ok(d);
            }
            Ok((src, Err(e))) => {
                log::warn!("{name}: {src}: {e}");
                failures.push(format!("{src}: {e}"));
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !timed_out => timed_out = true,
            Err(_) => break,
        }
    }
    let reasons = if failures.is_empty() {
        String::new()
    } else {
        format!(": {}", failures.join("; "))
    };
    if failures.len() < 2 {
        return Err(Error::failed(format!(
            "{name}: neither a config drive nor the metadata service answered within {:.1} s{reasons}",
            limit.as_secs_f64()
        )));
    }
    Err(Error::failed(format!(
        "{name}: no source of user data{reasons}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::{
        dead_base, fixture, tree_reply, Bench, Reply, Request, Server,
    };
    use std::time::Instant;

    fn metadata(dir: &'static str, delay: Duration) -> Server {
        Server::start(move |r: &Request| {
            if r.method == "GET" && r.target == "/openstack/latest/user_data" {
                Reply::ok(fixture(&format!("{dir}/user_data"))).after(delay)
            } else {
                Reply::status(404)
            }
        })
    }

    #[test]
    fn config_drive_beats_a_slow_metadata_service() {
        let s = metadata("openstack", Duration::from_secs(3));
        let b = Bench::new();
        b.label("config-2", "openstack/config-drive");
        let start = Instant::now();
        let got = fetch_config(&b.env(Some(&s.base)), Platform::OpenStack).unwrap();
        assert_eq!(
            got,
            Some(fixture("openstack/config-drive/openstack/latest/user_data"))
        );
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "the winner waited for the loser"
        );
        let calls = b.mounter.calls();
        assert_eq!(calls[0].2, "openstack/latest/user_data");
    }

    #[test]
    fn config_drive_with_the_service_down() {
        let b = Bench::new();
        b.label("CONFIG-2", "huaweicloud/config-drive");
        let got = fetch_config(&b.env(Some(&dead_base())), Platform::HuaweiCloud).unwrap();
        assert_eq!(
            got,
            Some(fixture(
                "huaweicloud/config-drive/openstack/latest/user_data"
            ))
        );
    }

    #[test]
    fn nothing_answers() {
        let mut b = Bench::new();
        b.fetch_timeout = Duration::from_millis(600);
        let start = Instant::now();
        let e = fetch_config(&b.env(Some(&dead_base())), Platform::OpenStack).unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(e.to_string().contains("openstack: "), "{e}");
    }

    #[test]
    fn offline_needs_net_even_with_a_drive() {
        let b = Bench::new();
        b.label("config-2", "openstack/config-drive");
        let e = fetch_config(&b.offline_env(None), Platform::OpenStack).unwrap_err();
        assert_eq!(e.kind(), Kind::NeedNet);
        assert!(b.mounter.calls().is_empty());
    }

    #[test]
    fn metadata_from_the_config_drive() {
        let b = Bench::new();
        b.label("config-2", "openstack/config-drive");
        // The service must not be asked when a drive is attached.
        let md = super::metadata(&b.env(Some(&dead_base())), Platform::OpenStack).unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-0"));
        let a = &md.attributes;
        assert_eq!(
            a["OPENSTACK_INSTANCE_UUID"],
            "d8e02d56-2648-49a3-bf97-6be8f1204f38"
        );
        assert_eq!(a["OPENSTACK_INSTANCE_ID"], "i-00000a1b");
        assert_eq!(a["OPENSTACK_INSTANCE_TYPE"], "m1.small");
        assert_eq!(a["OPENSTACK_IPV4_LOCAL"], "10.0.0.12");
        // openstack_empty_values_written (#16 item 10)
        assert_eq!(a["OPENSTACK_IPV4_PUBLIC"], "");
        assert_eq!(
            md.ssh_keys,
            ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5OpenStackDrive drive@example"]
        );
        let e = metadata_from(
            &Bench::new().env(None),
            Platform::OpenStack,
            Sources::DriveOnly,
        );
        assert!(e.unwrap_err().to_string().contains("config-2"));
    }

    #[test]
    fn empty_service_values_are_written_empty() {
        // openstack_empty_values_written (#16 item 10): an empty leaf is an empty value.
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/latest/meta-data/public-ipv4" => Reply::ok(""),
            _ => tree_reply("openstack/metadata", &r.target),
        });
        let b = Bench::new();
        let md = super::metadata(&b.env(Some(&s.base)), Platform::OpenStack).unwrap();
        assert_eq!(md.attributes["OPENSTACK_IPV4_PUBLIC"], "");
        let text = crate::afterburn::attributes_text(&md.attributes);
        assert!(
            text.contains("AFTERBURN_OPENSTACK_IPV4_PUBLIC=\n"),
            "{text}"
        );
    }

    #[test]
    fn service_without_ec2_tree() {
        let s = Server::start(|r: &Request| match r.target.as_str() {
            "/openstack/latest/meta_data.json" => Reply::ok(fixture(
                "openstack/config-drive/openstack/latest/meta_data.json",
            )),
            _ => Reply::status(404),
        });
        let b = Bench::new();
        let md = metadata_from(
            &b.env(Some(&s.base)),
            Platform::OpenStack,
            Sources::ServiceOnly,
        )
        .unwrap();
        assert_eq!(md.hostname.as_deref(), Some("nestos-0"));
        assert_eq!(md.ssh_keys.len(), 1);
    }
}
