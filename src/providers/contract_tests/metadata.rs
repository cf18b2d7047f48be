//! The metadata side of the contract: hostname, attributes (as written, addresses
//! normalised) and SSH keys, per platform.

use super::*;

struct Meta {
    /// The id as Afterburn spells it.
    id: &'static str,
    origin: &'static str,
    service: Service<'static>,
    hostname: Option<&'static str>,
    /// Attributes and their values as written (addresses normalised).
    attrs: &'static [(&'static str, &'static str)],
    /// Attributes that must not be there (absent leaves are skipped).
    absent: &'static [&'static str],
    /// How many attributes there are, where every one is known.
    count: Option<usize>,
    /// One fragment per SSH key, in order.
    keys: &'static [&'static str],
    /// Request targets (fragments) the provider must have asked for.
    asked: &'static [&'static str],
}

const fn tree(dir: &'static str) -> Service<'static> {
    Service {
        token: None,
        headers: &[],
        served: Served::Tree(dir),
    }
}

const fn files(files: &'static [(&'static str, &'static str)]) -> Service<'static> {
    Service {
        token: None,
        headers: &[],
        served: Served::Files(files),
    }
}

const fn meta(id: &'static str, origin: &'static str, service: Service<'static>) -> Meta {
    Meta {
        id,
        origin,
        service,
        hostname: None,
        attrs: &[],
        absent: &[],
        count: None,
        keys: &[],
        asked: &[],
    }
}

/// Aliyun's metadata, served by `service`.
const fn aliyun(service: Service<'static>) -> Meta {
    Meta {
        hostname: Some("iZbp1nestos"),
        attrs: &[
            ("ALIYUN_INSTANCE_TYPE", "ecs.g6.large"),
            ("ALIYUN_REGION_ID", "cn-hangzhou"),
            ("ALIYUN_ZONE_ID", "cn-hangzhou-i"),
        ],
        absent: &["ALIYUN_EIPV4"],
        count: Some(9),
        keys: &["ssh-rsa AAAAB3NzaC1yc2EAliyunKey nestos@example"],
        ..meta("aliyun", "http://100.100.100.200", service)
    }
}

/// OpenStack's metadata service (Huawei Cloud runs the same), the tree `dir`.
const fn openstack(
    id: &'static str,
    dir: &'static str,
    attrs: &'static [(&'static str, &'static str)],
) -> Meta {
    Meta {
        hostname: Some("nestos-svc.novalocal"),
        attrs,
        keys: &["ssh-"],
        ..meta(id, LINK_LOCAL, tree(dir))
    }
}

const METADATA: &[Meta] = &[
    Meta {
        hostname: Some("ip-10-0-0-5.eu-west-1.compute.internal"),
        attrs: &[
            ("AWS_INSTANCE_ID", "i-0123456789abcdef0"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_AVAILABILITY_ZONE", "eu-west-1b"),
            // aws_availability_zone_id (#16 item 4)
            ("AWS_AVAILABILITY_ZONE_ID", "euw1-az2"),
            ("AWS_IPV4_PUBLIC", "203.0.113.5"),
        ],
        absent: &["AWS_IPV6"],
        keys: &["ssh-ed25519 ", "ssh-rsa "],
        ..meta(
            "aws",
            LINK_LOCAL,
            Service {
                token: AWS_TOKEN,
                ..tree("aws/imds")
            },
        )
    },
    // Both of Aliyun's modes: hardened (a token required) and normal.
    aliyun(Service {
        token: ALIYUN_TOKEN,
        ..tree("aliyun/metadata")
    }),
    aliyun(tree("aliyun/metadata")),
    Meta {
        // Afterburn gives no hostname on akamai.
        hostname: None,
        attrs: &[
            ("AKAMAI_INSTANCE_ID", "12345678"),
            ("AKAMAI_INSTANCE_LABEL", "nestos-linode"),
            // akamai_tags_colon_and_prefixes_kept (#16 item 8)
            ("AKAMAI_INSTANCE_TAGS", "k8s:prod"),
            ("AKAMAI_PUBLIC_IPV4_0", "172.105.0.10/32"),
            ("AKAMAI_PRIVATE_IPV4_0", "192.168.130.5/17"),
            ("AKAMAI_IPV6_SLAAC", "2600:3c04::f03c:93ff:fe00:1/128"),
            ("AKAMAI_IPV6_RANGE_0", "2600:3c04:e001:1::/64"),
        ],
        absent: &["AKAMAI_SHARED_IPV4_0"],
        keys: &["ssh-", "ssh-", "ssh-"],
        ..meta(
            "akamai",
            LINK_LOCAL,
            Service {
                token: AKAMAI_TOKEN,
                headers: &[("Accept", "application/json")],
                ..files(&[
                    ("/v1/instance", "akamai/instance.json"),
                    ("/v1/network", "akamai/network.json"),
                    ("/v1/ssh-keys", "akamai/ssh-keys.json"),
                ])
            },
        )
    },
    Meta {
        hostname: Some("nestos-droplet"),
        attrs: &[
            ("DIGITALOCEAN_REGION", "ams3"),
            ("DIGITALOCEAN_IPV4_PUBLIC_0", "188.166.0.10"),
            ("DIGITALOCEAN_IPV4_ANCHOR_0", "10.18.0.5"),
            // #16 item 9: served upper-case and zero-padded, written canonically.
            ("DIGITALOCEAN_IPV6_PUBLIC_0", "2a03:b0c0:2:d0::a4d:f001"),
            ("DIGITALOCEAN_IPV4_PRIVATE_0", "10.133.0.2"),
        ],
        absent: &["DIGITALOCEAN_IPV6_PRIVATE_0"],
        count: Some(6),
        keys: &["ssh-", "ssh-"],
        ..meta(
            "digitalocean",
            LINK_LOCAL,
            files(&[("/metadata/v1.json", "digitalocean/v1.json")]),
        )
    },
    Meta {
        hostname: Some("nestos-exo"),
        attrs: &[
            ("EXOSCALE_AVAILABILITY_ZONE", "ch-gva-2"),
            ("EXOSCALE_SERVICE_OFFERING", "standard.medium"),
        ],
        count: Some(9),
        keys: &["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5ExoscaleKey exo@example"],
        ..meta("exoscale", LINK_LOCAL, tree("exoscale/metadata"))
    },
    Meta {
        hostname: Some("nestos-1.c.project.internal"),
        attrs: &[
            ("GCP_HOSTNAME", "nestos-1.c.project.internal"),
            // gcp_machine_type_in_full (#16 item 7)
            (
                "GCP_MACHINE_TYPE",
                "projects/123456789012/machineTypes/e2-medium",
            ),
            ("GCP_IP_LOCAL_0", "10.128.0.7"),
            ("GCP_IP_EXTERNAL_0", "198.51.100.7"),
            ("GCP_IP_LOCAL_1", "10.129.0.3"),
        ],
        absent: &["GCP_IP_EXTERNAL_1"],
        // Instance key, then project keys; the expired one and the garbage line are dropped.
        keys: &["InstanceKey", "ProjectKey", "NotExpiredYet"],
        asked: &["recursive=true&alt=json"],
        ..meta(
            "gcp",
            LINK_LOCAL,
            Service {
                headers: &[("Metadata-Flavor", "Google")],
                ..tree("gcp/metadata")
            },
        )
    },
    Meta {
        hostname: Some("nestos-hel1"),
        attrs: &[
            ("HETZNER_INSTANCE_ID", "42424242"),
            ("HETZNER_PUBLIC_IPV4", "95.217.0.10"),
            ("HETZNER_REGION", "eu-central"),
            ("HETZNER_AVAILABILITY_ZONE", "hel1-dc2"),
            ("HETZNER_PRIVATE_IPV4_0", "10.0.0.2"),
            ("HETZNER_PRIVATE_IPV4_1", "10.1.0.2"),
            // hetzner_public_ipv6 (#16 item 5)
            ("HETZNER_PUBLIC_IPV6", "2a01:4f9:c010::1"),
        ],
        keys: &["ssh-", "ssh-"],
        ..meta("hetzner", LINK_LOCAL, tree("hetzner/metadata"))
    },
    Meta {
        hostname: Some("nestos-oci"),
        attrs: &[
            ("ORACLECLOUD_REGION_ID", "eu-frankfurt-1"),
            ("ORACLECLOUD_INSTANCE_SHAPE", "VM.Standard.E4.Flex"),
        ],
        count: Some(7),
        keys: &["ssh-", "ssh-"],
        ..meta(
            "oraclecloud",
            LINK_LOCAL,
            Service {
                headers: &[("Authorization", "Bearer Oracle")],
                ..files(&[("/opc/v2/instance/", "oraclecloud/instance.json")])
            },
        )
    },
    Meta {
        hostname: Some("nestos-metal"),
        attrs: &[
            ("PACKET_PLAN", "c3.small.x86"),
            ("PACKET_IPV4_PUBLIC_0", "147.75.0.10"),
            ("PACKET_IPV4_PUBLIC_GATEWAY_0", "147.75.0.9"),
            ("PACKET_IPV6_PUBLIC_0", "2604:1380:1::1"),
            // #16 item 9: served as `2604:1380:1::0`, written canonically.
            ("PACKET_IPV6_PUBLIC_GATEWAY_0", "2604:1380:1::"),
            // packet_phone_home_url (#16 item 6)
            (
                "PACKET_PHONE_HOME_URL",
                "http://tinkerbell.am6.packet.net/phone-home",
            ),
            ("PACKET_IPV4_PRIVATE_0", "10.70.0.3"),
            ("PACKET_IPV4_PRIVATE_GATEWAY_0", "10.70.0.2"),
        ],
        keys: &["ssh-"],
        ..meta(
            "packet",
            "https://metadata.packet.net",
            files(&[("/metadata", "packet/metadata.json")]),
        )
    },
    Meta {
        hostname: Some("nestos-scw"),
        attrs: &[
            ("SCALEWAY_INSTANCE_TYPE", "DEV1-S"),
            ("SCALEWAY_PUBLIC_IPV4", "51.15.0.10"),
            ("SCALEWAY_ZONE_ID", "fr-par-1"),
            // scaleway_binary_attribute_names (#16 item 3): the binary's names and the
            // documented ones.
            ("SCALEWAY_IPV4_PUBLIC", "51.15.0.10"),
            ("SCALEWAY_IPV4_PRIVATE", "10.64.0.2"),
            ("SCALEWAY_PRIVATE_IPV4", "10.64.0.2"),
            ("SCALEWAY_IPV6_PUBLIC", "2001:bc8:1200::10"),
            ("SCALEWAY_PUBLIC_IPV6", "2001:bc8:1200::10"),
        ],
        count: Some(10),
        keys: &[
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5ScalewayKey account@example",
            "ssh-rsa AAAAB3NzaC1yc2ETagKey tag@example",
        ],
        ..meta(
            "scaleway",
            "http://169.254.42.42",
            files(&[("/conf?format=json", "scaleway/conf.json")]),
        )
    },
    Meta {
        hostname: Some("VM-0-5-nestos"),
        attrs: &[
            ("TENCENTCLOUD_INSTANCE_ID", "ins-nestos01"),
            ("TENCENTCLOUD_REGION", "ap-guangzhou"),
        ],
        keys: &["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5TencentKey nestos@example"],
        ..meta(
            "tencentcloud",
            "http://metadata.tencentyun.com",
            tree("tencentcloud/metadata"),
        )
    },
    Meta {
        hostname: Some("nestos-upcloud"),
        attrs: &[
            (
                "UPCLOUD_INSTANCE_ID",
                "00a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b",
            ),
            ("UPCLOUD_REGION", "fi-hel1"),
        ],
        keys: &["ssh-", "ssh-"],
        ..meta("upcloud", LINK_LOCAL, tree("upcloud/metadata"))
    },
    Meta {
        hostname: Some("nestos-vultr"),
        attrs: &[
            ("VULTR_INSTANCE_ID", "a747bfz6385e"),
            ("VULTR_REGION_CODE", "AMS"),
        ],
        keys: &["ssh-"],
        ..meta("vultr", LINK_LOCAL, files(&[("/v1.json", "vultr/v1.json")]))
    },
    Meta {
        hostname: Some("nestos-vm"),
        attrs: &[
            ("AZURE_VMSIZE", "Standard_B2s"),
            ("AZURE_IPV4_DYNAMIC", "10.1.0.4"),
        ],
        keys: &["ssh-rsa ", "ssh-"],
        ..meta(
            "azure",
            LINK_LOCAL,
            Service {
                headers: &[("Metadata", "true")],
                ..files(&[(
                    "/metadata/instance?api-version=2021-02-01",
                    "azure/imds-instance.json",
                )])
            },
        )
    },
    // The metadata service alone (no config drive attached).
    openstack(
        "openstack",
        "openstack/metadata",
        &[
            ("OPENSTACK_INSTANCE_ID", "i-0000002a"),
            (
                "OPENSTACK_INSTANCE_UUID",
                "3f9a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            ),
            ("OPENSTACK_IPV4_PUBLIC", "203.0.113.77"),
        ],
    ),
    openstack(
        "huaweicloud",
        "huaweicloud/metadata",
        &[
            ("HUAWEICLOUD_INSTANCE_ID", "i-0000002a"),
            (
                "HUAWEICLOUD_INSTANCE_UUID",
                "3f9a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
            ),
            ("HUAWEICLOUD_IPV4_PUBLIC", "203.0.113.77"),
        ],
    ),
];

#[test]
fn metadata_hostname_attributes_and_keys() {
    for c in METADATA {
        let id = c.id;
        let s = c.service.start();
        let b = Bench::new();
        let md = metadata_for_id(id, &b.env_rerouted(&[c.origin], &s.base))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(md.hostname.as_deref(), c.hostname, "{id}");
        let a = &md.attributes;
        for (k, v) in c.attrs {
            assert_eq!(a.get(*k).map(String::as_str), Some(*v), "{id}: {k}");
        }
        for k in c.absent {
            assert!(!a.contains_key(*k), "{id}: {k} is absent");
        }
        if let Some(n) = c.count {
            assert_eq!(a.len(), n, "{id}: {a:?}");
        }
        assert_eq!(md.ssh_keys.len(), c.keys.len(), "{id}: {:?}", md.ssh_keys);
        for (key, want) in md.ssh_keys.iter().zip(c.keys) {
            assert!(key.contains(want), "{id}: {key} lacks {want}");
        }
        assert!(md.network_kargs.is_none(), "{id}");
        let reqs = s.requests();
        for want in c.asked {
            assert!(reqs.iter().any(|r| r.target.contains(want)), "{id}: {want}");
        }
    }
}
