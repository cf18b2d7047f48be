//! Ignition's result file, `/etc/.ignition-result.json` in the target (what distro scripts
//! read after the first boot: when it ran, in which boot, whether a user config was given, and
//! the report of an earlier run), and ignis's detection of a first boot that was interrupted
//! and started again: a marker written to the target before the files stage changes anything
//! and removed once the result file is written. Reads the boot only through its arguments.

use crate::error::{Context, Error, Result};
use crate::providers::HostPaths;
use crate::state::State;
use crate::sys::cmd::{Cmd, Runner};
use crate::sys::root::Root;
use serde::{Deserialize, Serialize};

pub const RESULT_FILE: &str = "/etc/.ignition-result.json";
/// Present while a files stage runs; found by a later boot, it means that run never finished.
pub const IN_PROGRESS: &str = "/etc/.ignition-in-progress.json";

/// The boot this stage runs in.
#[derive(Debug, Clone)]
pub struct Boot {
    pub id: String,
    /// RFC 3339, UTC.
    pub date: String,
    /// A live system (`is-live-image` exits 0): its /etc is fresh each boot, an earlier report
    /// means nothing (Ignition's rule).
    pub live: bool,
}

impl Boot {
    pub fn current(host: &HostPaths, runner: &dyn Runner) -> Result<Boot> {
        let id = match host.read("/proc/sys/kernel/random/boot_id") {
            Ok(b) => b,
            // Only a fixture host lacks it (Linux has had it since 2.6.19); the result file
            // then says so with an empty ID rather than failing the whole stage.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                log::warn!(
                    "no boot ID in /proc/sys/kernel/random/boot_id: provisioningBootID left empty"
                );
                Vec::new()
            }
            Err(e) => return Err(Error::failed(format!("reading the boot ID: {e}"))),
        };
        // Ignition's hook: a distro with live images ships `is-live-image`; no hook, not live.
        let live = runner.exists("is-live-image") && runner.run(&Cmd::new("is-live-image")).is_ok();
        Ok(Boot {
            id: String::from_utf8_lossy(&id).trim().to_string(),
            date: super::rfc3339_now(),
            live,
        })
    }
}

/// The in-progress marker's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    #[serde(rename = "bootID")]
    pub boot_id: String,
    #[serde(rename = "startDate")]
    pub start_date: String,
}

/// What an earlier run left in the target.
#[derive(Debug, Default)]
pub struct Earlier {
    /// The previous result file, parsed (it becomes `previousReport`).
    pub report: Option<serde_json::Value>,
    /// A files stage that started and never finished.
    pub interrupted: Option<Attempt>,
}

/// Ignition's fields in Ignition's order; `interruptedRun` is ignis's, only when there was one.
#[derive(Serialize)]
struct ResultFile<'a> {
    #[serde(rename = "provisioningBootID")]
    boot_id: &'a str,
    #[serde(rename = "provisioningDate")]
    date: &'a str,
    #[serde(rename = "userConfigProvided")]
    user_config_provided: bool,
    #[serde(rename = "previousReport", skip_serializing_if = "Option::is_none")]
    previous: Option<&'a serde_json::Value>,
    #[serde(rename = "interruptedRun", skip_serializing_if = "Option::is_none")]
    interrupted: Option<&'a Attempt>,
}

/// Before the files stage changes anything: reads what an earlier run left, warns about it,
/// and marks this run in progress (synced, so a power cut from here on is seen next boot).
pub fn begin(root: &Root, boot: &Boot) -> Result<Earlier> {
    let mut out = Earlier::default();
    if boot.live {
        return Ok(out);
    }
    if let Some(b) = root.read(IN_PROGRESS)? {
        // An unreadable marker still says a run did not finish.
        let a = serde_json::from_slice::<Attempt>(&b).unwrap_or(Attempt {
            boot_id: "unknown".into(),
            start_date: "unknown".into(),
        });
        if a.boot_id == boot.id {
            log::warn!(
                "the files stage already started in this boot ({}) and did not finish: running it again over what it left",
                a.start_date
            );
        } else {
            log::warn!(
                "first boot interrupted and restarted: a files stage started in boot {} ({}) never finished; this boot provisions the target again over what it left, so some files or users may already exist",
                a.boot_id, a.start_date
            );
        }
        out.interrupted = Some(a);
    }
    if let Some(b) = root.read(RESULT_FILE)? {
        let v: serde_json::Value = serde_json::from_slice(&b).map_err(|e| {
            Error::failed(format!(
                "{RESULT_FILE} from an earlier run is not valid JSON: {e}"
            ))
        })?;
        let when = v
            .get("provisioningDate")
            .and_then(|d| d.as_str())
            .unwrap_or("an unknown date");
        log::warn!(
            "Ignition already ran on this system (on {when}); unexpected behavior may occur: it is not designed to run more than once per system"
        );
        out.report = Some(v);
    }
    let marker = Attempt {
        boot_id: boot.id.clone(),
        start_date: boot.date.clone(),
    };
    let body = serde_json::to_vec(&marker).map_err(|e| Error::failed(e.to_string()))?;
    root.write_atomic(IN_PROGRESS, &body, 0o600, 0, 0)
        .context(|| format!("writing {IN_PROGRESS}"))?;
    root.syncfs()?;
    Ok(out)
}

/// The result file's bytes: Ignition's layout (two-space indent, trailing newline).
pub fn render(boot: &Boot, st: &State, earlier: &Earlier) -> Result<Vec<u8>> {
    let r = ResultFile {
        boot_id: &boot.id,
        date: &boot.date,
        user_config_provided: st.user_config_provided,
        previous: earlier.report.as_ref(),
        interrupted: earlier.interrupted.as_ref(),
    };
    let mut b = serde_json::to_vec_pretty(&r).map_err(|e| Error::failed(e.to_string()))?;
    b.push(b'\n');
    Ok(b)
}

/// After the stage's work: writes the result file (0600, root) and clears the marker.
pub fn finish(root: &Root, boot: &Boot, st: &State, earlier: &Earlier) -> Result<()> {
    root.write_atomic(RESULT_FILE, &render(boot, st, earlier)?, 0o600, 0, 0)
        .context(|| format!("writing {RESULT_FILE}"))?;
    if root.lstat(IN_PROGRESS)?.is_some() {
        root.unlink(IN_PROGRESS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::cmd::RecordingRunner;

    fn tmp(name: &str) -> std::path::PathBuf {
        // Outlives this helper, as the paths it hands out do.
        let d = tempfile::Builder::new()
            .prefix(&format!("ignis-{name}-"))
            .tempdir()
            .unwrap()
            .keep();
        std::fs::create_dir_all(d.join("root/etc")).unwrap();
        std::fs::create_dir_all(d.join("host/proc/sys/kernel/random")).unwrap();
        d
    }

    fn boot(id: &str, date: &str) -> Boot {
        Boot {
            id: id.into(),
            date: date.into(),
            live: false,
        }
    }

    fn st(user: bool) -> State {
        State {
            user_config_provided: user,
            ..Default::default()
        }
    }

    #[test]
    fn first_run_writes_ignitions_layout() {
        let d = tmp("first");
        let root = Root::open(&d.join("root")).unwrap();
        let b = boot("b1", "2026-12-06T01:02:03Z");
        let e = begin(&root, &b).unwrap();
        assert!(e.report.is_none() && e.interrupted.is_none());
        assert!(d.join("root").join(&IN_PROGRESS[1..]).exists());
        finish(&root, &b, &st(true), &e).unwrap();
        let text = std::fs::read_to_string(d.join("root/etc/.ignition-result.json")).unwrap();
        assert_eq!(
            text,
            "{\n  \"provisioningBootID\": \"b1\",\n  \"provisioningDate\": \"2026-12-06T01:02:03Z\",\n  \"userConfigProvided\": true\n}\n"
        );
        assert!(!d.join("root").join(&IN_PROGRESS[1..]).exists());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn a_second_run_nests_the_previous_report() {
        let d = tmp("second");
        let root = Root::open(&d.join("root")).unwrap();
        let b1 = boot("b1", "2026-12-06T01:00:00Z");
        let e = begin(&root, &b1).unwrap();
        finish(&root, &b1, &st(false), &e).unwrap();
        let b2 = boot("b2", "2026-12-07T01:00:00Z");
        let e = begin(&root, &b2).unwrap();
        assert!(e.interrupted.is_none());
        finish(&root, &b2, &st(true), &e).unwrap();
        let text = std::fs::read_to_string(d.join("root/etc/.ignition-result.json")).unwrap();
        // The nested report's keys are sorted, as Go re-marshals a decoded object.
        assert_eq!(
            text,
            "{\n  \"provisioningBootID\": \"b2\",\n  \"provisioningDate\": \"2026-12-07T01:00:00Z\",\n  \"userConfigProvided\": true,\n  \"previousReport\": {\n    \"provisioningBootID\": \"b1\",\n    \"provisioningDate\": \"2026-12-06T01:00:00Z\",\n    \"userConfigProvided\": false\n  }\n}\n"
        );
        // A live image ignores both.
        let live = Boot {
            live: true,
            ..boot("b3", "x")
        };
        let e = begin(&root, &live).unwrap();
        assert!(e.report.is_none());
        // A broken earlier report fails the stage, naming the file.
        std::fs::write(d.join("root/etc/.ignition-result.json"), "{").unwrap();
        let err = begin(&root, &b2).unwrap_err().to_string();
        assert!(err.contains(RESULT_FILE), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn an_interrupted_first_boot_is_detected_and_reported() {
        let d = tmp("interrupted");
        let root = Root::open(&d.join("root")).unwrap();
        // Boot b1 starts the files stage and loses power.
        let b1 = boot("b1", "2026-12-06T01:00:00Z");
        begin(&root, &b1).unwrap();
        // Boot b2 runs the first boot again.
        let b2 = boot("b2", "2026-12-06T01:05:00Z");
        let e = begin(&root, &b2).unwrap();
        assert_eq!(
            e.interrupted,
            Some(Attempt {
                boot_id: "b1".into(),
                start_date: "2026-12-06T01:00:00Z".into()
            })
        );
        assert!(e.report.is_none());
        finish(&root, &b2, &st(true), &e).unwrap();
        let v: serde_json::Value = serde_json::from_slice(
            &std::fs::read(d.join("root/etc/.ignition-result.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(v["provisioningBootID"], "b2");
        assert_eq!(v["interruptedRun"]["bootID"], "b1");
        assert_eq!(v["interruptedRun"]["startDate"], "2026-12-06T01:00:00Z");
        assert!(v.get("previousReport").is_none());
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn boot_id_and_live_hook() {
        let d = tmp("boot");
        let host = HostPaths::new(d.join("host"));
        let r = RecordingRunner::new();
        r.without("is-live-image");
        assert_eq!(Boot::current(&host, &r).unwrap().id, "", "no boot ID");
        std::fs::write(host.path("/proc/sys/kernel/random/boot_id"), "abc-def\n").unwrap();
        let b = Boot::current(&host, &r).unwrap();
        assert_eq!(b.id, "abc-def");
        assert!(!b.live && r.argvs().is_empty());
        let r = RecordingRunner::new();
        assert!(Boot::current(&host, &r).unwrap().live, "hook exits 0");
        r.reply(&["is-live-image"], Err("exit status: 1"));
        assert!(!Boot::current(&host, &r).unwrap().live);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
