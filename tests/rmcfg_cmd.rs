//! `ignition-rmcfg` as the real binary: the argv[0] alias and the subcommand, Ignition's exit
//! codes for usage errors, and the refusals (another platform; VMware asked for on a machine
//! that is not VMware, whose backdoor port must then never be touched). Deleting on VMware is
//! tested against the emulated host in `rmcfg.rs` and `providers/vmware/delete.rs`.

mod common;

use common::text;

use std::path::Path;
use std::process::Command;

#[test]
fn alias_subcommand_and_refusals() {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rmcfg");
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("host")).unwrap();
    let alias = d.join("ignition-rmcfg");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ignis"), &alias).unwrap();
    let run = |prog: &Path, args: &[&str]| {
        Command::new(prog)
            .args(args)
            .env("IGNIS_HOST_ROOT", d.join("host"))
            .env_remove("JOURNAL_STREAM")
            .output()
            .unwrap()
    };
    let ignis = Path::new(env!("CARGO_BIN_EXE_ignis"));

    let o = run(&alias, &["--platform=aws"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("cannot delete the config on platform aws"),
        "{}",
        text(&o)
    );
    let o = run(ignis, &["rmcfg", "--platform", "openstack"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));

    for bad in [&[][..], &["--platform=vmware", "stray"], &["--bogus"]] {
        let o = run(&alias, bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o));
    }
    let o = run(ignis, &["rmcfg", "--platform=nowhere"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("unknown platform"), "{}", text(&o));

    let o = run(&alias, &["--version"]);
    assert_eq!(o.status.code(), Some(0));

    // This machine, with a host root that has no DMI: VMware only if its CPUID says so.
    if ignis::sys::vmware_backdoor::cpuid_hypervisor_vendor()
        == Some(ignis::sys::vmware_backdoor::CPUID_VENDOR)
    {
        common::skip::skip_optional(
            "alias_subcommand_and_refusals",
            "the not-VMware refusal: this machine is VMware",
        );
        return;
    }
    let o = run(&alias, &["--platform=vmware", ""]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("this machine is not VMware"),
        "{}",
        text(&o)
    );
}
