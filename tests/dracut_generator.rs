//! The dracut module's systemd generator (dracut/30ignition/ignition-generator), run with bash on a
//! fake command line: which target a boot pulls in, and the /run/ignition.env it writes. The VM
//! tests (vmtests/) check the same in a real initramfs; these catch mistakes without a VM.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    _tmp: tempfile::TempDir,
    units: PathBuf,
    run: PathBuf,
}

fn generator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("dracut/30ignition/ignition-generator")
}

fn run_generator(cmdline: &str, live: bool) -> Run {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().to_path_buf();
    let units = base.join("units");
    let run = base.join("run");
    let bin = base.join("bin");
    std::fs::create_dir_all(&units).unwrap();
    std::fs::create_dir_all(&bin).unwrap();
    let cmdline_file = base.join("cmdline");
    std::fs::write(&cmdline_file, format!("{cmdline}\n")).unwrap();
    // is-live-image: present and succeeding only for live-image runs.
    let mut path = std::env::var("PATH").unwrap_or_default();
    if live {
        let tool = bin.join("is-live-image");
        std::fs::write(&tool, "#!/bin/sh\nexit 0\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        path = format!("{}:{path}", bin.display());
    }
    let out = Command::new("bash")
        .arg(generator())
        .arg(&units)
        .arg(&units)
        .arg(&units)
        .env("IGNIS_CMDLINE", &cmdline_file)
        .env("IGNIS_RUN_DIR", &run)
        .env("PATH", path)
        .output()
        .expect("running bash");
    assert!(
        out.status.success(),
        "generator failed on {cmdline:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        _tmp: tmp,
        units,
        run,
    }
}

impl Run {
    fn requires(&self, target: &str, unit: &str) -> bool {
        self.units
            .join(format!("{target}.requires"))
            .join(unit)
            .symlink_metadata()
            .is_ok()
    }

    fn first_boot(&self) -> bool {
        let fb = self.requires("initrd.target", "ignition-complete.target");
        let later = self.requires("initrd.target", "ignition-subsequent.target");
        assert!(
            fb != later,
            "exactly one of first boot / later boot must be pulled in"
        );
        fb
    }

    fn env(&self) -> String {
        std::fs::read_to_string(self.run.join("ignition.env")).unwrap()
    }
}

#[test]
fn firstboot_flag_values() {
    for (cmdline, want) in [
        ("root=/dev/vda1 ignition.firstboot", true),
        ("ignition.firstboot=1", true),
        ("ignition.firstboot=yes", true),
        ("ignition.firstboot=0", false),
        ("ignition.firstboot=no", false),
        ("ignition.firstboot=off", false),
        ("ignition.firstboot=false", false),
        ("ignition.firstboot=", false),
        ("", false),
        ("root=/dev/vda1 quiet", false),
        // The last occurrence wins.
        ("ignition.firstboot ignition.firstboot=0", false),
        ("ignition.firstboot=0 ignition.firstboot", true),
        // Only the exact key counts.
        ("ignition.firstbootx", false),
        ("xignition.firstboot", false),
    ] {
        assert_eq!(
            run_generator(cmdline, false).first_boot(),
            want,
            "cmdline {cmdline:?}"
        );
    }
}

#[test]
fn diskful_unless_live() {
    let r = run_generator("ignition.firstboot", false);
    assert!(r.requires("ignition-complete.target", "ignition-diskful.target"));
    let r = run_generator("ignition.firstboot", true);
    assert!(!r.requires("ignition-complete.target", "ignition-diskful.target"));
    let r = run_generator("quiet", false);
    assert!(r.requires(
        "ignition-subsequent.target",
        "ignition-diskful-subsequent.target"
    ));
    let r = run_generator("quiet", true);
    assert!(!r.requires(
        "ignition-subsequent.target",
        "ignition-diskful-subsequent.target"
    ));
}

#[test]
fn platform_env() {
    assert_eq!(
        run_generator("ignition.firstboot ignition.platform.id=qemu", false).env(),
        "PLATFORM_ID=qemu\n"
    );
    assert_eq!(
        run_generator("ignition.platform.id=aws ignition.platform.id=metal", false).env(),
        "PLATFORM_ID=metal\n"
    );
    // Written on every boot, empty when the command line has none (the stages then fail
    // with a usage error naming the missing platform).
    assert_eq!(run_generator("quiet", false).env(), "PLATFORM_ID=\n");
}

#[test]
fn globs_on_the_command_line_are_not_expanded() {
    // A word like "*" must not turn into file names of the generator's working directory.
    let r = run_generator("* ignition.platform.id=qemu ignition.firstboot", false);
    assert!(r.first_boot());
    assert_eq!(r.env(), "PLATFORM_ID=qemu\n");
}
