//! Hostname, SSH keys and attributes from the platforms' metadata services, and their failures.

use super::*;

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
