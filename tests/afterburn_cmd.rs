//! `ignis afterburn ...` run as the real binary against fixture host roots (`IGNIS_HOST_ROOT`:
//! /proc/cmdline, /sys, /dev), fixture target roots and loopback metadata servers
//! (`IGNIS_HTTP_REROUTE` sends the metadata origins there) serving the recorded trees under
//! `platforms/`: what lands where, with which modes and owners, the exit codes, Afterburn's
//! own spellings, and that no key material or token reaches the logs.

mod common;

use common::{serve, text, Reply, Server};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Case {
    dir: PathBuf,
}

impl Case {
    fn new(name: &str, cmdline: &str) -> Case {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("afterburn-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("host/proc")).unwrap();
        std::fs::create_dir_all(dir.join("target/etc")).unwrap();
        std::fs::write(dir.join("host/proc/cmdline"), format!("{cmdline}\n")).unwrap();
        Case { dir }
    }

    fn target(&self) -> PathBuf {
        self.dir.join("target")
    }

    fn run(&self, args: &[&str], base: Option<&Server>) -> Output {
        self.run_as(Path::new(env!("CARGO_BIN_EXE_ignis")), args, base)
    }

    fn run_as(&self, bin: &Path, args: &[&str], base: Option<&Server>) -> Output {
        let mut c = Command::new(bin);
        c.args(args)
            .env("IGNIS_HOST_ROOT", self.dir.join("host"))
            .env_remove("IGNIS_HTTP_REROUTE");
        if let Some(s) = base {
            c.env("IGNIS_HTTP_REROUTE", s.reroute_metadata());
        }
        c.output().unwrap()
    }

    /// A target with the `core` user (uid 1000) whose home is reached through /home -> var/home.
    fn with_core_user(&self) {
        let t = self.target();
        std::fs::write(
            t.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\ncore:x:1000:1000:CoreOS Admin:/home/core:/bin/bash\n",
        )
        .unwrap();
        std::fs::write(t.join("etc/group"), "root:x:0:\ncore:x:1000:\n").unwrap();
        std::fs::create_dir_all(t.join("var/home/core")).unwrap();
        std::os::unix::fs::symlink("var/home", t.join("home")).unwrap();
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("platforms")
}

/// A loopback server answering with the fixture tree `platforms/<dir>`: files by path, a
/// directory by its `_index` file (with and without the trailing slash).
fn tree_server(dir: &str) -> Server {
    let s = serve(None);
    fn walk(s: &Server, root: &Path, d: &Path) {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(s, root, &p);
                continue;
            }
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let body = std::fs::read(&p).unwrap();
            match rel.strip_suffix("_index") {
                Some(d) => {
                    s.route(&format!("/{d}"), vec![Reply::Body(body.clone())]);
                    s.route(
                        &format!("/{}", d.trim_end_matches('/')),
                        vec![Reply::Body(body)],
                    );
                }
                None => s.route(&format!("/{rel}"), vec![Reply::Body(body)]),
            }
        }
    }
    let root = fixtures().join(dir);
    walk(&s, &root, &root);
    s
}

#[test]
fn hostname_from_aws_imds_into_the_target() {
    let c = Case::new(
        "hostname-aws",
        "BOOT_IMAGE=/vmlinuz ignition.platform.id=aws",
    );
    let s = tree_server("aws/imds");
    s.route(
        "/latest/api/token",
        vec![Reply::Body(b"imds-token-secret".to_vec())],
    );
    let o = c.run(&["afterburn", "hostname", "--cmdline", "--root"], Some(&s));
    // --root needs its value: a usage error, exit 2.
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let root = c.target();
    let o = c.run(
        &[
            "afterburn",
            "hostname",
            "--cmdline",
            "--root",
            root.to_str().unwrap(),
        ],
        Some(&s),
    );
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(root.join("etc/hostname")).unwrap();
    assert_eq!(written, "ip-10-0-0-5.eu-west-1.compute.internal\n");
    let m = std::fs::metadata(root.join("etc/hostname")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o644);
    // IMDSv2: every metadata request carried the session token, which is never logged.
    let seen = s.seen.lock().unwrap().clone();
    assert!(seen.iter().filter(|r| r.method == "GET").all(|r| r
        .headers
        .get("x-aws-ec2-metadata-token")
        .map(String::as_str)
        == Some("imds-token-secret")));
    assert!(!text(&o).contains("imds-token-secret"));
}

#[test]
fn hostname_path_flag_and_platforms_without_metadata() {
    let c = Case::new("hostname-metal", "ignition.platform.id=metal");
    let root = c.target();
    let o = c.run(
        &[
            "afterburn",
            "hostname",
            "--cmdline",
            "--root",
            root.to_str().unwrap(),
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        !root.join("etc/hostname").exists(),
        "metal has no hostname to write"
    );

    let s = serve(None);
    let long = format!("{}.example.com", "n".repeat(70));
    s.route(
        "/metadata/v1/hostname",
        vec![Reply::Body(long.into_bytes())],
    );
    let o = c.run(
        &[
            "afterburn",
            "hostname",
            "--provider",
            "upcloud",
            "--root",
            root.to_str().unwrap(),
            "--path",
            "/etc/hostname.afterburn",
        ],
        Some(&s),
    );
    assert!(o.status.success(), "{}", text(&o));
    let written = std::fs::read_to_string(root.join("etc/hostname.afterburn")).unwrap();
    assert_eq!(
        written,
        format!("{}\n", "n".repeat(64)),
        "cut at the first dot, then at 64"
    );
}

#[test]
fn ssh_keys_from_gcp_for_core_then_removed() {
    let c = Case::new("ssh-gcp", "ignition.platform.id=gcp");
    c.with_core_user();
    let s = tree_server("gcp/metadata");
    let root = c.target();
    let args = [
        "afterburn",
        "ssh-keys",
        "--cmdline",
        "--user",
        "core",
        "--root",
        root.to_str().unwrap(),
    ];
    let o = c.run(&args, Some(&s));
    assert!(o.status.success(), "{}", text(&o));
    let frag = root.join("var/home/core/.ssh/authorized_keys.d/afterburn");
    let body = std::fs::read_to_string(&frag).unwrap();
    assert_eq!(body.lines().count(), 3, "{body}");
    assert!(body.contains("InstanceKey") && body.contains("ProjectKey"));
    assert!(!body.contains("ExpiredKey"));
    let m = std::fs::metadata(&frag).unwrap();
    assert_eq!(
        (m.uid(), m.gid(), m.permissions().mode() & 0o777),
        (1000, 1000, 0o600)
    );
    let d = std::fs::metadata(root.join("var/home/core/.ssh")).unwrap();
    assert_eq!((d.uid(), d.permissions().mode() & 0o777), (1000, 0o700));
    assert!(s.seen.lock().unwrap().iter().all(|r| r
        .headers
        .get("metadata-flavor")
        .map(String::as_str)
        == Some("Google")));
    assert!(
        !text(&o).contains("AAAA"),
        "key material must not be logged"
    );

    // No keys any more: the fragment goes away.
    let empty = serve(None);
    let o = c.run(&args, Some(&empty));
    assert!(o.status.success(), "{}", text(&o));
    assert!(!frag.exists());
}

#[test]
fn ssh_keys_for_an_unknown_user_fail() {
    let c = Case::new("ssh-nouser", "ignition.platform.id=digitalocean");
    c.with_core_user();
    let s = serve(None);
    let doc = std::fs::read(fixtures().join("digitalocean/v1.json")).unwrap();
    s.route("/metadata/v1.json", vec![Reply::Body(doc)]);
    let root = c.target();
    let o = c.run(
        &[
            "afterburn",
            "ssh-keys",
            "--cmdline",
            "--user",
            "nobody",
            "--root",
            root.to_str().unwrap(),
        ],
        Some(&s),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("\"nobody\" not found"), "{}", text(&o));
}

#[test]
fn attributes_for_several_platforms() {
    let c = Case::new("attributes", "quiet");
    let out = c.dir.join("run/metadata/afterburn");
    for (id, tree, expect) in [
        ("aws", "aws/imds", "AFTERBURN_AWS_REGION=eu-west-1\n"),
        (
            "exoscale",
            "exoscale/metadata",
            "AFTERBURN_EXOSCALE_AVAILABILITY_ZONE=ch-gva-2\n",
        ),
        (
            "openstack-metadata",
            "openstack/metadata",
            "AFTERBURN_OPENSTACK_INSTANCE_ID=i-0000002a\n",
        ),
        (
            "huaweicloud",
            "huaweicloud/metadata",
            "AFTERBURN_HUAWEICLOUD_IPV4_LOCAL=10.0.0.42\n",
        ),
        (
            "aliyun",
            "aliyun/metadata",
            "AFTERBURN_ALIYUN_ZONE_ID=cn-hangzhou-i\n",
        ),
    ] {
        let s = tree_server(tree);
        let o = c.run(
            &[
                "afterburn",
                "attributes",
                "--provider",
                id,
                "--output",
                out.to_str().unwrap(),
            ],
            Some(&s),
        );
        assert!(o.status.success(), "{id}: {}", text(&o));
        let body = std::fs::read_to_string(&out).unwrap();
        assert!(body.contains(expect), "{id}: {body}");
        assert!(body
            .lines()
            .all(|l| l.starts_with("AFTERBURN_") && l.contains('=')));
        let m = std::fs::metadata(&out).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o644);
    }
    let s = serve(None);
    let doc = std::fs::read(fixtures().join("digitalocean/v1.json")).unwrap();
    s.route("/metadata/v1.json", vec![Reply::Body(doc)]);
    let o = c.run(
        &[
            "afterburn",
            "attributes",
            "--provider=digitalocean",
            "--output",
            out.to_str().unwrap(),
        ],
        Some(&s),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "AFTERBURN_DIGITALOCEAN_HOSTNAME=nestos-droplet\n\
         AFTERBURN_DIGITALOCEAN_IPV4_ANCHOR_0=10.18.0.5\n\
         AFTERBURN_DIGITALOCEAN_IPV4_PRIVATE_0=10.133.0.2\n\
         AFTERBURN_DIGITALOCEAN_IPV4_PUBLIC_0=188.166.0.10\n\
         AFTERBURN_DIGITALOCEAN_IPV6_PUBLIC_0=2a03:b0c0:2:d0::a4d:f001\n\
         AFTERBURN_DIGITALOCEAN_REGION=ams3\n"
    );
}

#[test]
fn metadata_service_failures_exit_1() {
    let c = Case::new("failing", "ignition.platform.id=vultr");
    let s = serve(None);
    s.route("/v1.json", vec![Reply::Status(500)]);
    let out = c.dir.join("attrs");
    let o = c.run(
        &[
            "afterburn",
            "attributes",
            "--cmdline",
            "--fetch-timeout",
            "1s",
            "--output",
            out.to_str().unwrap(),
        ],
        Some(&s),
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("vultr: reading metadata"), "{}", text(&o));
    assert!(text(&o).contains("HTTP 500"), "{}", text(&o));
    assert!(!out.exists());
}

#[test]
fn network_kargs_default_cmdline_ip_and_validation() {
    let c = Case::new("netkargs", "BOOT_IMAGE=/vmlinuz ignition.platform.id=qemu");
    let out = c.dir.join("etc/cmdline.d/50-afterburn-network-kargs.conf");
    let o_str = out.to_str().unwrap();
    let o = c.run(
        &[
            "afterburn",
            "network-kargs",
            "--cmdline",
            "--default-value",
            "ip=auto",
            "--output",
            o_str,
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ip=auto\n");
    std::fs::remove_file(&out).unwrap();
    // network_generator_env_written (#16 item 13): the command line plus our kargs, for
    // systemd-network-generator, as Afterburn 5.11 writes it.
    let env_file = c.dir.join("host/run/afterburn/network-generator.env");
    assert_eq!(
        std::fs::read_to_string(&env_file).unwrap(),
        "SYSTEMD_PROC_CMDLINE=BOOT_IMAGE=/vmlinuz ignition.platform.id=qemu ip=auto\n"
    );
    std::fs::remove_file(&env_file).unwrap();

    // No default and nothing from the platform: fail, on purpose (as Afterburn's unit does).
    let o = c.run(
        &["afterburn", "network-kargs", "--cmdline", "--output", o_str],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A default that is not a dracut network argument is refused.
    let o = c.run(
        &[
            "afterburn",
            "network-kargs",
            "--cmdline",
            "--default-value",
            "ip=auto;reboot",
            "--output",
            o_str,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(!out.exists());

    // ip= already on the command line: nothing is written, whatever the default.
    let c2 = Case::new("netkargs-ip", "ignition.platform.id=proxmoxve ip=dhcp");
    let o = c2.run(
        &[
            "afterburn",
            "exp",
            "rd-network-kargs",
            "--cmdline",
            "--default-value",
            "ip=auto",
            "--output",
            o_str,
        ],
        None,
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(!out.exists());
    assert!(text(&o).contains("already configures ip="));
}

#[test]
fn network_kargs_without_a_drive_or_off_vmware_use_the_default() {
    let real_vmware =
        std::fs::read_to_string("/sys/class/dmi/id/sys_vendor").is_ok_and(|v| v.contains("VMware"));
    let mut ids = vec!["proxmoxve", "kubevirt", "aws", "openstack", "huaweicloud"];
    if !real_vmware {
        // On a real VMware host this would read the host's actual guestinfo.
        ids.push("vmware");
    }
    for id in ids {
        let c = Case::new(&format!("netkargs-{id}"), "quiet");
        let out = c.dir.join("kargs.conf");
        // A dead metadata base: nothing may be fetched in the initrd.
        let o = c.run(
            &[
                "afterburn",
                "network-kargs",
                "--provider",
                id,
                "--default-value",
                "ip=dhcp,dhcp6",
                "--output",
                out.to_str().unwrap(),
            ],
            None,
        );
        assert!(o.status.success(), "{id}: {}", text(&o));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "ip=dhcp,dhcp6\n",
            "{id}"
        );
    }
}

#[test]
fn network_kargs_from_openstack_network_data_once_a_network_is_up() {
    let s = tree_server("openstack/metadata");
    let c = Case::new(
        "netkargs-openstack-svc",
        "quiet ignition.platform.id=openstack",
    );
    let out = c.dir.join("kargs.conf");
    let run = |c: &Case| {
        c.run(
            &[
                "afterburn",
                "network-kargs",
                "--cmdline",
                "--default-value",
                "ip=dhcp",
                "--output",
                out.to_str().unwrap(),
            ],
            Some(&s),
        )
    };
    // In the initrd before networking the main table is empty: the service is not asked.
    std::fs::create_dir_all(c.dir.join("host/proc/net")).unwrap();
    let header =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";
    std::fs::write(c.dir.join("host/proc/net/route"), header).unwrap();
    let o = run(&c);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "ip=dhcp\n");
    assert!(
        s.seen.lock().unwrap().is_empty(),
        "no request without a network"
    );
    // With a route, the metadata service's network_data.json becomes the kargs.
    std::fs::write(
        c.dir.join("host/proc/net/route"),
        format!("{header}eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"),
    )
    .unwrap();
    let o = run(&c);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "ifname=net0:fa:16:3e:3c:1d:9e ip=203.0.113.77::203.0.113.1:255.255.255.0:nestos-svc:net0:off \
         nameserver=203.0.113.53\n"
    );
}

#[test]
fn usage_and_setup_errors() {
    let c = Case::new("errors", "quiet");
    for (args, code) in [
        (vec!["afterburn", "hostname"], 2),
        (vec!["afterburn", "hostname", "--provider", "nope"], 2),
        (vec!["afterburn", "ssh-keys", "--provider", "aws"], 2),
        (
            vec![
                "afterburn",
                "multi",
                "--provider",
                "aws",
                "--network-units",
                "/x",
            ],
            2,
        ),
        (
            vec!["afterburn", "hostname", "--provider", "aws", "--check-in"],
            2,
        ),
        (vec!["afterburn", "frobnicate", "--cmdline"], 2),
        // --cmdline without ignition.platform.id=: the machine is not set up for it.
        (vec!["afterburn", "attributes", "--cmdline"], 3),
    ] {
        let o = c.run(&args, None);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", text(&o));
    }
    let c = Case::new("errors-unknown", "ignition.platform.id=mystery");
    let o = c.run(&["afterburn", "attributes", "--cmdline"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("mystery"));
    // A target root that does not exist is a setup problem.
    let o = c.run(
        &[
            "afterburn",
            "hostname",
            "--provider",
            "metal",
            "--root",
            "/nonexistent/ignis-root",
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
}

#[test]
fn afterburn_legacy_spellings_and_argv0() {
    let c = Case::new("legacy", "ignition.platform.id=vultr");
    let s = serve(None);
    let doc = std::fs::read(fixtures().join("vultr/v1.json")).unwrap();
    s.route("/v1.json", vec![Reply::Body(doc)]);
    let hostname = c.dir.join("sysroot/etc/hostname");
    let attrs = c.dir.join("run/metadata/afterburn");
    // `afterburn --provider=vultr --hostname=PATH --attributes=PATH` (flag-only legacy form).
    let o = c.run(
        &[
            "afterburn",
            "--provider=vultr",
            &format!("--hostname={}", hostname.display()),
            &format!("-attributes={}", attrs.display()),
        ],
        Some(&s),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&hostname).unwrap(),
        "nestos-vultr\n"
    );
    assert!(std::fs::read_to_string(&attrs)
        .unwrap()
        .contains("AFTERBURN_VULTR_REGION_CODE=AMS\n"));
    std::fs::remove_file(&hostname).unwrap();

    // Called as `afterburn` through a symlink, as Afterburn's own units would.
    let link = c.dir.join("afterburn");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ignis"), &link).unwrap();
    let o = c.run_as(
        &link,
        &[
            "multi",
            "--cmdline",
            &format!("--hostname={}", hostname.display()),
        ],
        Some(&s),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(&hostname).unwrap(),
        "nestos-vultr\n"
    );
}

#[test]
fn check_in_as_the_units_run_it() {
    // afterburn-firstboot-checkin.service's command line on Packet: phone home once.
    let c = Case::new("checkin-packet", "ignition.platform.id=packet");
    let s = serve(None);
    let doc = format!(
        r#"{{"hostname": "m", "phone_home_url": "{}"}}"#,
        s.url("/phone-home")
    );
    s.route("/metadata", vec![Reply::Body(doc.into_bytes())]);
    s.route("/phone-home", vec![Reply::Body(Vec::new())]);
    let o = c.run(&["afterburn", "--cmdline", "--check-in"], Some(&s));
    assert!(o.status.success(), "{}", text(&o));
    let seen = s.seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|r| r.method == "POST" && r.path.starts_with("/phone-home")),
        "{seen:?}"
    );
    // A platform without a check-in: nothing is asked, exit 0.
    let c = Case::new("checkin-aws", "ignition.platform.id=aws");
    let s = serve(None);
    let o = c.run(&["afterburn", "multi", "--cmdline", "--check-in"], Some(&s));
    assert!(o.status.success(), "{}", text(&o));
    assert!(s.seen.lock().unwrap().is_empty());
}
