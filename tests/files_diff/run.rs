//! Running Ignition 2.14 and ignis on their scratch roots.

use super::*;

pub(crate) fn find_tool(name: &str) -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
}

pub(crate) struct RunOut {
    pub(crate) ok: bool,
    pub(crate) log: String,
    pub(crate) took: Duration,
}

/// Runs `-stage fetch` then `-stage files` of `bin` on `dir/root`, with umask 022 and a
/// controlled environment, like a boot would; the verdict is false when either stage fails.
pub(crate) fn run_agent(
    bin: &Path,
    dir: &Path,
    config: &str,
    fake_systemd: Option<&Path>,
) -> RunOut {
    for d in ["run", "sys", "host/proc"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("host/proc/cmdline"), "quiet\n").unwrap();
    let cfg = dir.join("config.ign");
    fs::write(&cfg, config).unwrap();
    let started = Instant::now();
    let mut log = String::new();
    let mut ok = true;
    for stage in ["fetch", "files"] {
        let mut cmd = match fake_systemd {
            Some(sd) => {
                let mut c = Command::new("unshare");
                c.args(["-m", "--propagation", "private", "/bin/sh", "-c"])
                    .arg(
                        "set -e; [ -d /run/systemd ] || { mount -t tmpfs tmpfs /run; mkdir /run/systemd; }; \
                         mount --bind \"$FAKE_SYSTEMD\" /run/systemd; umask 022; exec \"$0\" \"$@\"",
                    )
                    .env("FAKE_SYSTEMD", sd);
                c
            }
            None => {
                let mut c = Command::new("/bin/sh");
                c.args(["-c", "umask 022; exec \"$0\" \"$@\""]);
                c
            }
        };
        let out = cmd
            .arg(bin)
            .args(["-platform", "file", "-stage", stage, "-log-to-stdout"])
            .arg("-root")
            .arg(dir.join("root"))
            .arg("-config-cache")
            .arg(dir.join("run/ignition.json"))
            .arg("-state-file")
            .arg(dir.join("run/state"))
            .arg("-neednet")
            .arg(dir.join("run/neednet"))
            .current_dir(dir)
            .env("IGNITION_CONFIG_FILE", &cfg)
            .env("IGNITION_SYSTEM_CONFIG_DIR", dir.join("sys"))
            .env("IGNIS_HOST_ROOT", dir.join("host"))
            .env("LC_ALL", "C")
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("http_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("no_proxy")
            .env_remove("NO_PROXY")
            .output()
            .unwrap();
        log.push_str(&format!("--- -stage {stage}: {}\n", out.status));
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if !out.status.success() {
            ok = false;
            break;
        }
    }
    RunOut {
        ok,
        log,
        took: started.elapsed(),
    }
}
