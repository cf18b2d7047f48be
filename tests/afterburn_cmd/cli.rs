//! Usage and setup errors, Afterburn's legacy spellings and argv[0], check-in as the units run it.

use super::*;

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
