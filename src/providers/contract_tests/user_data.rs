//! The user-data side of the contract: for each platform, served means the config, absent
//! means none, offline means "needs the network".

use super::*;

/// What the user data must become.
#[derive(Clone, Copy)]
enum Expect {
    /// The served file, as it is.
    Same,
    /// Decoded (base64, gzip): a text that contains this.
    Contains(&'static str),
}

struct UserData {
    platform: Platform,
    origin: &'static str,
    token: Option<Token>,
    headers: &'static [(&'static str, &'static str)],
    /// The request target (path and query) the user data is asked at, and the fixture there.
    target: &'static str,
    file: &'static str,
    expect: Expect,
    /// Whether a 404 and an empty body are "no config" (Azure retries 404 and then looks for
    /// its CD-ROM: its module tests that).
    absent_is_none: bool,
}

const fn plain(
    platform: Platform,
    origin: &'static str,
    target: &'static str,
    file: &'static str,
) -> UserData {
    UserData {
        platform,
        origin,
        token: None,
        headers: &[],
        target,
        file,
        expect: Expect::Same,
        absent_is_none: true,
    }
}

const USER_DATA: &[UserData] = &[
    UserData {
        token: AWS_TOKEN,
        ..plain(
            Platform::Aws,
            LINK_LOCAL,
            "/2019-10-01/user-data",
            "aws/user-data",
        )
    },
    // Aliyun's hardened mode (a token required) and its normal mode (no token endpoint).
    UserData {
        token: ALIYUN_TOKEN,
        ..plain(
            Platform::Aliyun,
            "http://100.100.100.200",
            "/latest/user-data",
            "aliyun/user-data",
        )
    },
    plain(
        Platform::Aliyun,
        "http://100.100.100.200",
        "/latest/user-data",
        "aliyun/user-data",
    ),
    UserData {
        token: AKAMAI_TOKEN,
        headers: &[("Accept", "*/*")],
        expect: Expect::Contains("data:,akamai%0A"),
        ..plain(
            Platform::Akamai,
            LINK_LOCAL,
            "/v1/user-data",
            "akamai/user-data.b64",
        )
    },
    UserData {
        headers: &[("Metadata", "true")],
        expect: Expect::Contains("azure-imds"),
        absent_is_none: false,
        ..plain(
            Platform::Azure,
            LINK_LOCAL,
            "/metadata/instance/compute/userData?api-version=2021-01-01&format=text",
            "azure/imds-userdata.txt",
        )
    },
    UserData {
        headers: &[("Metadata-Flavor", "Google")],
        ..plain(
            Platform::Gcp,
            LINK_LOCAL,
            "/computeMetadata/v1/instance/attributes/user-data",
            "gcp/user-data",
        )
    },
    UserData {
        headers: &[("Authorization", "Bearer Oracle")],
        expect: Expect::Contains("oraclecloud"),
        ..plain(
            Platform::OracleCloud,
            LINK_LOCAL,
            "/opc/v2/instance/metadata/user_data",
            "oraclecloud/user_data.b64",
        )
    },
    plain(
        Platform::TencentCloud,
        "http://metadata.tencentyun.com",
        "/latest/user-data",
        "tencentcloud/user-data",
    ),
    plain(
        Platform::OpenStack,
        LINK_LOCAL,
        "/openstack/latest/user_data",
        "openstack/user_data",
    ),
    plain(
        Platform::HuaweiCloud,
        LINK_LOCAL,
        "/openstack/latest/user_data",
        "huaweicloud/user_data",
    ),
    plain(
        Platform::DigitalOcean,
        LINK_LOCAL,
        "/metadata/v1/user-data",
        "digitalocean/user-data",
    ),
    plain(
        Platform::Hetzner,
        LINK_LOCAL,
        "/hetzner/v1/userdata",
        "hetzner/userdata",
    ),
    plain(
        Platform::Exoscale,
        LINK_LOCAL,
        "/1.0/user-data",
        "exoscale/user-data",
    ),
    plain(
        Platform::Vultr,
        LINK_LOCAL,
        "/user-data/user-data",
        "vultr/user-data",
    ),
    plain(
        Platform::UpCloud,
        LINK_LOCAL,
        "/metadata/v1/user_data",
        "upcloud/user_data",
    ),
    plain(
        Platform::Scaleway,
        "http://169.254.42.42",
        "/user_data/cloud-init",
        "scaleway/cloud-init",
    ),
    plain(
        Platform::Packet,
        "http://metadata.packet.net",
        "/userdata",
        "packet/userdata",
    ),
];

#[test]
fn user_data_served_absent_and_offline() {
    for c in USER_DATA {
        let id = c.platform.id();
        let service = |files: &[(&'static str, &'static str)]| {
            Service {
                token: c.token,
                headers: c.headers,
                served: Served::Files(files),
            }
            .start()
        };
        let b = Bench::new();
        let s = service(&[(c.target, c.file)]);
        let got = fetch_config(c.platform, &b.env_rerouted(&[c.origin], &s.base))
            .unwrap_or_else(|e| panic!("{id}: {e}"))
            .unwrap_or_else(|| panic!("{id}: no config"));
        match c.expect {
            Expect::Same => assert_eq!(got, fixture(c.file), "{id}"),
            Expect::Contains(t) => {
                let text = String::from_utf8_lossy(&got);
                assert!(text.contains(t), "{id}: {text}");
            }
        }
        if c.absent_is_none {
            for files in [&[][..], &[(c.target, "")]] {
                let s = service(files);
                let got = fetch_config(c.platform, &b.env_rerouted(&[c.origin], &s.base));
                assert_eq!(got.unwrap_or_else(|e| panic!("{id}: {e}")), None, "{id}");
            }
        }
        let e = fetch_config(c.platform, &b.offline_env(None)).unwrap_err();
        assert_eq!(e.kind(), Kind::NeedNet, "{id}: {e}");
    }
}
