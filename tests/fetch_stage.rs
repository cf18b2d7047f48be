//! The fetch-offline and fetch stages, run as the real binary against a fixture host root
//! (`IGNIS_HOST_ROOT`: /proc/cmdline, /run/ignition, /usr/lib/ignition, /config.ign) and
//! loopback HTTP servers: source precedence, base configs, merge children, the neednet
//! handshake, CA inlining, invalid configs.

mod common;

use common::{serve, text, Reply};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Host {
    dir: PathBuf,
}

impl Host {
    fn new(name: &str) -> Host {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("fetch-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("root/proc")).unwrap();
        std::fs::create_dir_all(dir.join("run")).unwrap();
        std::fs::write(
            dir.join("root/proc/cmdline"),
            "BOOT_IMAGE=/vmlinuz ignition.firstboot\n",
        )
        .unwrap();
        Host { dir }
    }

    fn put(&self, rel: &str, body: &str) {
        let p = self.dir.join("root").join(rel.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }

    fn stage(&self, platform: &str, stage: &str, config_file: Option<&str>) -> Output {
        let run = self.dir.join("run");
        let mut c = Command::new(env!("CARGO_BIN_EXE_ignis"));
        c.args(["-platform", platform, "-stage", stage, "-log-to-stdout"])
            .arg("-config-cache")
            .arg(run.join("ignition.json"))
            .arg("-neednet")
            .arg(run.join("neednet"))
            .arg("-state-file")
            .arg(run.join("state"))
            .env("IGNIS_HOST_ROOT", self.dir.join("root"))
            .env_remove("IGNITION_CONFIG_FILE");
        if let Some(f) = config_file {
            let p = self.dir.join("user.ign");
            std::fs::write(&p, f).unwrap();
            c.env("IGNITION_CONFIG_FILE", &p);
        }
        c.output().unwrap()
    }

    fn cache(&self) -> Option<serde_json::Value> {
        std::fs::read(self.dir.join("run/ignition.json"))
            .ok()
            .map(|b| serde_json::from_slice(&b).unwrap())
    }

    fn neednet(&self) -> bool {
        self.dir.join("run/neednet").exists()
    }
}

fn file_paths(cache: &serde_json::Value) -> Vec<String> {
    cache["storage"]["files"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["path"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

const V: &str = r#""ignition":{"version":"3.3.0""#;

#[test]
fn offline_config_is_cached_without_network() {
    let h = Host::new("offline");
    let cfg = format!(
        r#"{{{V}}},"storage":{{"files":[{{"path":"/etc/a","contents":{{"source":"data:,a"}}}}]}}}}"#
    );
    let o = h.stage("file", "fetch-offline", Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(file_paths(&h.cache().unwrap()), ["/etc/a"]);
    assert!(!h.neednet());
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(h.dir.join("run/state")).unwrap()).unwrap();
    assert_eq!(st["userConfigProvided"], true);
    assert!(
        !text(&o).contains("data:,a"),
        "config bodies must not be logged"
    );
    // fetch then finds the cache and does nothing
    let o = h.stage("file", "fetch", Some(&cfg));
    assert!(o.status.success());
    assert!(text(&o).contains("already cached"));
}

#[test]
fn merge_child_over_http_needs_the_network_then_fetch_merges_it() {
    let s = serve(None);
    s.route(
        "/child.ign",
        vec![Reply::Body(
            format!(r#"{{{V}}},"storage":{{"files":[{{"path":"/etc/child"}}]}}}}"#).into_bytes(),
        )],
    );
    let h = Host::new("merge");
    let cfg = format!(
        r#"{{"ignition":{{"version":"3.3.0","config":{{"merge":[{{"source":"{}"}}]}}}},"storage":{{"files":[{{"path":"/etc/parent"}}]}}}}"#,
        s.url("/child.ign")
    );
    let o = h.stage("file", "fetch-offline", Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    assert!(h.neednet(), "fetch-offline must request networking");
    assert!(h.cache().is_none(), "no cache until the config is complete");
    assert_eq!(
        s.hits("/child.ign"),
        0,
        "fetch-offline must not touch the network"
    );
    let o = h.stage("file", "fetch", Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    let c = h.cache().unwrap();
    assert_eq!(file_paths(&c), ["/etc/parent", "/etc/child"]);
    assert!(
        c["ignition"]["config"].get("merge").is_none(),
        "children are applied, not cached"
    );
}

#[test]
fn remote_file_contents_cache_and_request_network() {
    let h = Host::new("remote-contents");
    let cfg = format!(
        r#"{{{V}}},"storage":{{"files":[{{"path":"/etc/r","contents":{{"source":"http://127.0.0.1:9/r"}}}}]}}}}"#
    );
    let o = h.stage("file", "fetch-offline", Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    assert!(h.cache().is_some());
    assert!(h.neednet());
}

#[test]
fn cmdline_url_wins_over_system_and_platform() {
    let s = serve(None);
    s.route(
        "/cmdline.ign",
        vec![Reply::Body(
            format!(r#"{{{V}}},"storage":{{"files":[{{"path":"/from/cmdline"}}]}}}}"#).into_bytes(),
        )],
    );
    let h = Host::new("cmdline");
    h.put(
        "/proc/cmdline",
        &format!(
            "ignition.firstboot ignition.config.url={}\n",
            s.url("/cmdline.ign")
        ),
    );
    h.put(
        "/usr/lib/ignition/user.ign",
        &format!(r#"{{{V}}},"storage":{{"files":[{{"path":"/from/system"}}]}}}}"#),
    );
    let o = h.stage("metal", "fetch", None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(file_paths(&h.cache().unwrap()), ["/from/cmdline"]);
}

#[test]
fn system_config_precedence_and_embedded_config() {
    let h = Host::new("system");
    let f = |p: &str| format!(r#"{{{V}}},"storage":{{"files":[{{"path":"{p}"}}]}}}}"#);
    h.put("/usr/lib/ignition/user.ign", &f("/image-default"));
    let o = h.stage("metal", "fetch-offline", None);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(file_paths(&h.cache().unwrap()), ["/image-default"]);
    h.put("/config.ign", &f("/embedded"));
    std::fs::remove_file(h.dir.join("run/ignition.json")).unwrap();
    assert!(h.stage("metal", "fetch-offline", None).status.success());
    assert_eq!(
        file_paths(&h.cache().unwrap()),
        ["/embedded"],
        "embedded /config.ign beats the image default"
    );
    h.put("/run/ignition/user.ign", &f("/runtime"));
    std::fs::remove_file(h.dir.join("run/ignition.json")).unwrap();
    assert!(h.stage("metal", "fetch-offline", None).status.success());
    assert_eq!(file_paths(&h.cache().unwrap()), ["/runtime"]);
}

#[test]
fn base_configs_merge_under_the_user_config() {
    let h = Host::new("base");
    let f = |p: &str, mode: u32| {
        format!(r#"{{{V}}},"storage":{{"files":[{{"path":"{p}","mode":{mode}}}]}}}}"#)
    };
    h.put("/usr/lib/ignition/base.d/10-a.ign", &f("/base-a", 420));
    h.put("/usr/lib/ignition/base.d/20-b.ign", &f("/shared", 420));
    h.put("/etc/ignition/base.d/20-b.ign", &f("/shadowed-by-etc", 420));
    h.put(
        "/usr/lib/ignition/base.platform.d/file/30-p.ign",
        &f("/platform", 420),
    );
    h.put(
        "/usr/lib/ignition/base.platform.d/qemu/30-q.ign",
        &f("/not-this-platform", 420),
    );
    let o = h.stage("file", "fetch-offline", Some(&f("/base-a", 384)));
    assert!(o.status.success(), "{}", text(&o));
    let c = h.cache().unwrap();
    assert_eq!(file_paths(&c), ["/base-a", "/shadowed-by-etc", "/platform"]);
    assert_eq!(
        c["storage"]["files"][0]["mode"], 384,
        "the user config wins over the base"
    );
}

#[test]
fn invalid_config_fails_with_the_report_and_no_cache() {
    let h = Host::new("invalid");
    let cfg = format!(
        r#"{{{V}}},"storage":{{"files":[{{"path":"relative","contents":{{"source":"data:,secret-body"}}}}]}}}}"#
    );
    let o = h.stage("file", "fetch-offline", Some(&cfg));
    assert_eq!(o.status.code(), Some(1));
    let t = text(&o);
    assert!(t.contains("error at $.storage.files.0.path"), "{t}");
    assert!(t.contains("sha512"), "{t}");
    assert!(!t.contains("secret-body"), "config body leaked: {t}");
    assert!(h.cache().is_none());
    // The failure is reported once (logged), not again on stderr (#12 item 4).
    assert_eq!(t.matches("config is not valid").count(), 1, "{t}");
    assert!(t.contains("fetch-offline failed: "), "{t}");
}

#[test]
fn unknown_platform_is_a_usage_error() {
    let h = Host::new("platform");
    let o = h.stage("atari", "fetch-offline", None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown platform"));
}

#[test]
fn cas_are_inlined_into_the_cache() {
    let s = serve(None);
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    s.route("/ca.pem", vec![Reply::Body(pem.as_bytes().to_vec())]);
    let h = Host::new("ca");
    let cfg = format!(
        r#"{{"ignition":{{"version":"3.3.0","security":{{"tls":{{"certificateAuthorities":[{{"source":"{}"}}]}}}}}}}}"#,
        s.url("/ca.pem")
    );
    let o = h.stage("file", "fetch", Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    let src = h.cache().unwrap()["ignition"]["security"]["tls"]["certificateAuthorities"][0]
        ["source"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(src.starts_with("data:;base64,"), "{src}");
}

#[test]
fn empty_provider_config_caches_an_empty_config() {
    let h = Host::new("empty");
    let o = h.stage("file", "fetch", Some(""));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(h.cache().unwrap()["ignition"]["version"], "3.6.0");
}

#[test]
fn a_merge_that_is_invalid_as_a_whole_is_refused_naming_the_child() {
    // Each document is valid alone; together the child's link would carry the parent's
    // overwrite:false file somewhere else. Ignition refuses the merged config; so do we.
    let child =
        format!(r#"{{{V}}},"storage":{{"links":[{{"path":"/etc/motd.d","target":"/etc"}}]}}}}"#);
    let cfg = format!(
        r#"{{"ignition":{{"version":"3.3.0","config":{{"merge":[{{"source":"data:,{}"}}]}}}},"storage":{{"files":[{{"path":"/etc/motd.d/motd","overwrite":false,"contents":{{"source":"data:,x"}}}}]}}}}"#,
        percent(&child)
    );
    let h = Host::new("merge-invalid");
    let o = h.stage("file", "fetch-offline", Some(&cfg));
    assert!(!o.status.success(), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("merging configs resulted in an invalid config"),
        "{t}"
    );
    assert!(t.contains("$.storage.files.0"), "{t}");
    assert!(t.contains("entry from"), "{t}");
    assert!(t.contains("link /etc/motd.d from merge config"), "{t}");
    assert!(h.cache().is_none(), "an invalid merge must not be cached");
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn cloud_init_user_data_from_a_platform_is_no_config_with_a_warning() {
    // #13 item 4: the platform's user-data slot holds a cloud-config (a reused template):
    // the boot goes on with an empty config instead of failing, and says why.
    let s = serve(None);
    s.route("/latest/api/token", vec![Reply::Body(b"tok".to_vec())]);
    s.route(
        "/2019-10-01/user-data",
        vec![Reply::Body(
            b"#cloud-config\nssh_authorized_keys: []\n".to_vec(),
        )],
    );
    let h = Host::new("cloudinit");
    let mut c = Command::new(env!("CARGO_BIN_EXE_ignis"));
    let run = h.dir.join("run");
    let o = c
        .args(["-platform", "aws", "-stage", "fetch", "-log-to-stdout"])
        .arg("-config-cache")
        .arg(run.join("ignition.json"))
        .arg("-state-file")
        .arg(run.join("state"))
        .env("IGNIS_HOST_ROOT", h.dir.join("root"))
        .env("IGNIS_HTTP_REROUTE", s.reroute_metadata())
        .output()
        .unwrap();
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert!(
        t.contains("user data is a cloud-config, not an Ignition config; ignoring it"),
        "{t}"
    );
    assert_eq!(s.hits("/2019-10-01/user-data"), 1);
    let c = h.cache().unwrap();
    assert!(c["storage"]["files"]
        .as_array()
        .is_none_or(|a| a.is_empty()));

    // Not JSON and not cloud-init: still a failed boot naming the source.
    s.route(
        "/2019-10-01/user-data",
        vec![Reply::Body(b"hello: world\n".to_vec())],
    );
    let h = Host::new("notcloudinit");
    let o = Command::new(env!("CARGO_BIN_EXE_ignis"))
        .args(["-platform", "aws", "-stage", "fetch", "-log-to-stdout"])
        .arg("-config-cache")
        .arg(h.dir.join("run/ignition.json"))
        .arg("-state-file")
        .arg(h.dir.join("run/state"))
        .env("IGNIS_HOST_ROOT", h.dir.join("root"))
        .env("IGNIS_HTTP_REROUTE", s.reroute_metadata())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("platform aws"), "{}", text(&o));
}

/// Signs `body` with the test key (tests/signing) as `ssh-keygen -Y sign` does for a config.
fn sign(h: &Host, body: &[u8], namespace: &str) -> Vec<u8> {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/signing");
    let key = h.dir.join("signing-key");
    std::fs::copy(fixtures.join("test-key"), &key).unwrap();
    // ssh-keygen refuses a private key others can read.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let msg = h.dir.join("to-sign");
    std::fs::write(&msg, body).unwrap();
    let _ = std::fs::remove_file(h.dir.join("to-sign.sig"));
    let o = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(&key)
        .arg(&msg)
        .output()
        .expect("ssh-keygen (openssh-client, scripts/setup-deps installs it)");
    assert!(o.status.success(), "{}", text(&o));
    std::fs::read(h.dir.join("to-sign.sig")).unwrap()
}

fn trust_test_key(h: &Host) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/signing");
    let key = std::fs::read_to_string(fixtures.join("test-key.pub")).unwrap();
    h.put("/etc/ignis/trusted-keys.d/ops.pub", &key);
}

#[test]
fn signed_configs_are_required_once_keys_are_baked_in() {
    // #13 item 3. Without keys nothing changes (every other test here); with keys, the
    // platform's config must carry a good signature by one of them, or the stage fails and
    // caches nothing.
    let cfg = format!(
        r#"{{{V}}},"storage":{{"files":[{{"path":"/etc/signed","contents":{{"source":"data:,s"}}}}]}}}}"#
    );
    let h = Host::new("signed-ok");
    trust_test_key(&h);
    std::fs::write(
        h.dir.join("user.ign.sig"),
        sign(&h, cfg.as_bytes(), "ignition-config"),
    )
    .unwrap();
    let o = h.stage("file", "fetch", Some(&cfg));
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("ops.pub:1 verified"), "{}", text(&o));
    assert_eq!(file_paths(&h.cache().unwrap()), ["/etc/signed"]);

    let cases = [
        (
            "unsigned",
            None,
            "not signed, and signed configs are required",
        ),
        (
            "tampered",
            Some(sign(&h, b"{}", "ignition-config")),
            "signature does not match the config",
        ),
        (
            "namespace",
            Some(sign(&h, cfg.as_bytes(), "file")),
            "namespace \"file\"",
        ),
        ("garbage", Some(b"hello".to_vec()), "malformed signature"),
    ];
    for (name, sig, want) in cases {
        let h = Host::new(&format!("signed-{name}"));
        trust_test_key(&h);
        if let Some(sig) = sig {
            std::fs::write(h.dir.join("user.ign.sig"), sig).unwrap();
        }
        let o = h.stage("file", "fetch", Some(&cfg));
        assert!(!o.status.success(), "{name}: {}", text(&o));
        assert!(text(&o).contains(want), "{name}: {}", text(&o));
        assert!(h.cache().is_none(), "{name}: nothing cached");
    }

    // A user.ign in the system dirs is local: trusted as the keys are.
    let h = Host::new("signed-local");
    trust_test_key(&h);
    h.put("/run/ignition/user.ign", &cfg);
    let o = h.stage("file", "fetch", None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("trusted as the keys are"), "{}", text(&o));
}

#[test]
fn signed_config_url_children_and_resources() {
    let s = serve(None);
    let h = Host::new("signed-url");
    trust_test_key(&h);
    let child = format!(r#"{{{V}}},"storage":{{"files":[{{"path":"/etc/child"}}]}}}}"#);
    s.route("/child.ign", vec![Reply::Body(child.clone().into_bytes())]);
    s.route(
        "/child.ign.sig",
        vec![Reply::Body(sign(&h, child.as_bytes(), "ignition-config"))],
    );
    s.route(
        "/unsigned.ign",
        vec![Reply::Body(child.clone().into_bytes())],
    );
    s.route("/unsigned.ign.sig", vec![Reply::Status(404)]);
    let parent = |child_url: &str, extra: &str| {
        format!(
            r#"{{"ignition":{{"version":"3.3.0","config":{{"merge":[{{"source":"{child_url}"}}]}}}},"storage":{{"files":[{{"path":"/etc/parent"{extra}}}]}}}}"#
        )
    };
    let serve_parent = |name: &str, body: &str| {
        s.route(
            &format!("/{name}.ign"),
            vec![Reply::Body(body.as_bytes().to_vec())],
        );
        s.route(
            &format!("/{name}.ign.sig"),
            vec![Reply::Body(sign(&h, body.as_bytes(), "ignition-config"))],
        );
        h.put(
            "/proc/cmdline",
            &format!(
                "ignition.firstboot ignition.config.url={}\n",
                s.url(&format!("/{name}.ign"))
            ),
        );
        let _ = std::fs::remove_file(h.dir.join("run/ignition.json"));
        h.stage("metal", "fetch", None)
    };

    // The config URL's sibling .sig, and a child with its own sibling .sig.
    let o = serve_parent("p1", &parent(&s.url("/child.ign"), ""));
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        file_paths(&h.cache().unwrap()),
        ["/etc/parent", "/etc/child"]
    );
    assert_eq!(s.hits("/p1.ign.sig"), 1);
    assert_eq!(s.hits("/child.ign.sig"), 1);

    // A child with no signature (404) stops the boot, naming it.
    let o = serve_parent("p2", &parent(&s.url("/unsigned.ign"), ""));
    assert!(!o.status.success());
    assert!(text(&o).contains("merge config"), "{}", text(&o));
    assert!(text(&o).contains("not signed"), "{}", text(&o));
    assert!(h.cache().is_none());

    // A child pinned by hash in the signed parent needs no signature of its own.
    let sha = {
        use std::io::Write;
        let mut p = Command::new("sha512sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(child.as_bytes()).unwrap();
        let out = p.wait_with_output().unwrap();
        String::from_utf8(out.stdout).unwrap()[..128].to_string()
    };
    let pinned = format!(
        r#"{{"ignition":{{"version":"3.3.0","config":{{"merge":[{{"source":"{}","verification":{{"hash":"sha512-{sha}"}}}}]}}}}}}"#,
        s.url("/unsigned.ign")
    );
    let o = serve_parent("p3", &pinned);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("covered by its parent's signature"));

    // A remote file without a hash would escape the signature: refused with its path.
    let o = serve_parent(
        "p4",
        &parent(
            &s.url("/child.ign"),
            &format!(r#","contents":{{"source":"{}"}}"#, s.url("/f")),
        ),
    );
    assert!(!o.status.success());
    assert!(
        text(&o).contains("error at $.storage.files.0.contents: signed configs are required"),
        "{}",
        text(&o)
    );
    assert!(h.cache().is_none());
}
