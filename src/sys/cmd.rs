//! External commands: `Cmd` (program, argv, optional stdin) and the one-method `Runner` seam
//! every stage uses to run them, so tests can record and assert the exact argv. The real
//! runner logs the command line, captures stdout and keeps the tail of stderr for the error.
//! It must never log stdin (it may carry key material).

use crate::error::{Context, Error, Result};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::process::{Command, Stdio};
#[cfg(any(test, feature = "testing"))]
use std::sync::Mutex;

/// One command to run: `prog` is looked up in PATH unless it contains a slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmd {
    pub prog: String,
    pub args: Vec<OsString>,
    pub stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn new(prog: &str) -> Cmd {
        Cmd {
            prog: prog.to_string(),
            args: Vec::new(),
            stdin: None,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, it: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(it.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Sets the bytes written to the command's stdin (never logged).
    pub fn stdin_bytes(mut self, b: &[u8]) -> Cmd {
        self.stdin = Some(b.to_vec());
        self
    }

    /// The argv as one string for logs and errors (`mkfs.ext4 -F /dev/vda4`).
    pub fn display(&self) -> String {
        let mut s = self.prog.clone();
        for a in &self.args {
            s.push(' ');
            let a = a.to_string_lossy();
            if a.is_empty() || a.contains(char::is_whitespace) {
                s.push_str(&format!("{a:?}"));
            } else {
                s.push_str(&a);
            }
        }
        s
    }

    /// The argv as plain strings (tests compare these).
    pub fn argv(&self) -> Vec<String> {
        std::iter::once(self.prog.clone())
            .chain(self.args.iter().map(|a| a.to_string_lossy().into_owned()))
            .collect()
    }
}

/// Runs commands; returns stdout, or an error holding the argv and the tail of stderr.
pub trait Runner: Sync {
    fn run(&self, cmd: &Cmd) -> Result<Vec<u8>>;

    /// Whether `prog` can be run at all (in PATH, or an existing path).
    fn exists(&self, prog: &str) -> bool {
        find_in_path(prog).is_some()
    }
}

/// Finds `prog` in PATH (or checks it as a path when it holds a slash).
pub fn find_in_path(prog: &str) -> Option<std::path::PathBuf> {
    if prog.contains('/') {
        let p = std::path::PathBuf::from(prog);
        return p.is_file().then_some(p);
    }
    let path = crate::distro::path().unwrap_or_else(|| {
        OsString::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    });
    std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .find(|p| p.is_file())
}

/// The real runner: spawns the process, feeds stdin, collects output.
pub struct RealRunner;

const STDERR_TAIL: usize = 2048;

impl Runner for RealRunner {
    fn run(&self, cmd: &Cmd) -> Result<Vec<u8>> {
        log::info!("running: {}", cmd.display());
        // The console shows what ran before a command that may take long (mkfs) or not return
        // (a reboot).
        crate::log::flush();
        let mut child = Command::new(&cmd.prog)
            .args(&cmd.args)
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context(|| format!("running {}", cmd.display()))?;
        // Feed stdin from a thread so a child that writes a lot before reading cannot
        // deadlock against us.
        let feeder = match (child.stdin.take(), &cmd.stdin) {
            (Some(mut w), Some(data)) => {
                let data = data.clone();
                Some(std::thread::spawn(move || {
                    let _ = w.write_all(&data);
                }))
            }
            _ => None,
        };
        let mut err_pipe = child.stderr.take();
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            if let Some(e) = err_pipe.as_mut() {
                let _ = e.read_to_end(&mut v);
            }
            v
        });
        let mut out = Vec::new();
        if let Some(mut o) = child.stdout.take() {
            o.read_to_end(&mut out)
                .context(|| format!("reading output of {}", cmd.prog))?;
        }
        let status = child
            .wait()
            .context(|| format!("waiting for {}", cmd.prog))?;
        if let Some(f) = feeder {
            let _ = f.join();
        }
        let err = err_reader.join().unwrap_or_default();
        if !status.success() {
            let text = String::from_utf8_lossy(&err);
            let text = text.trim();
            let tail = if text.len() > STDERR_TAIL {
                let mut i = text.len() - STDERR_TAIL;
                while !text.is_char_boundary(i) {
                    i += 1;
                }
                &text[i..]
            } else {
                text
            };
            return Err(Error::failed(format!(
                "{} failed ({status}){}{}",
                cmd.display(),
                if tail.is_empty() { "" } else { ": " },
                tail
            )));
        }
        Ok(out)
    }
}

/// A canned reply: an argv prefix and the output (or error text) to give.
#[cfg(any(test, feature = "testing"))]
type Reply = (Vec<String>, std::result::Result<Vec<u8>, String>);

/// A runner for tests: records every command, answers from a script of canned replies
/// (matched by a prefix of the argv), and succeeds with empty output otherwise. Built for unit
/// tests and with the `testing` feature (tests/), never into the shipped binary.
#[cfg(any(test, feature = "testing"))]
#[derive(Default)]
pub struct RecordingRunner {
    pub seen: Mutex<Vec<Cmd>>,
    replies: Mutex<Vec<Reply>>,
    missing: Mutex<Vec<String>>,
}

#[cfg(any(test, feature = "testing"))]
impl RecordingRunner {
    pub fn new() -> RecordingRunner {
        RecordingRunner::default()
    }

    /// Replies `out` to the first command whose argv starts with `prefix` (once).
    pub fn reply(&self, prefix: &[&str], out: std::result::Result<&[u8], &str>) {
        if let Ok(mut r) = self.replies.lock() {
            r.push((
                prefix.iter().map(|s| s.to_string()).collect(),
                out.map(|b| b.to_vec()).map_err(|e| e.to_string()),
            ));
        }
    }

    /// Makes `exists(prog)` false.
    pub fn without(&self, prog: &str) {
        if let Ok(mut m) = self.missing.lock() {
            m.push(prog.to_string());
        }
    }

    /// The argv of every command run so far.
    pub fn argvs(&self) -> Vec<Vec<String>> {
        self.seen
            .lock()
            .map(|s| s.iter().map(Cmd::argv).collect())
            .unwrap_or_default()
    }
}

#[cfg(any(test, feature = "testing"))]
impl Runner for RecordingRunner {
    fn run(&self, cmd: &Cmd) -> Result<Vec<u8>> {
        if let Ok(mut s) = self.seen.lock() {
            s.push(cmd.clone());
        }
        let argv = cmd.argv();
        let mut replies = self
            .replies
            .lock()
            .map_err(|_| Error::failed("recording runner poisoned"))?;
        if let Some(i) = replies
            .iter()
            .position(|(p, _)| argv.len() >= p.len() && argv[..p.len()] == p[..])
        {
            let (_, r) = replies.remove(i);
            return r.map_err(|e| Error::failed(format!("{} failed: {e}", cmd.display())));
        }
        Ok(Vec::new())
    }

    fn exists(&self, prog: &str) -> bool {
        self.missing
            .lock()
            .map(|m| !m.iter().any(|p| p == prog))
            .unwrap_or(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_runner_output_and_errors() {
        let out = RealRunner
            .run(
                &Cmd::new("sh")
                    .args(["-c", "cat; echo done"])
                    .stdin_bytes(b"in\n"),
            )
            .unwrap();
        assert_eq!(out, b"in\ndone\n");
        let e = RealRunner
            .run(&Cmd::new("sh").args(["-c", "echo oops >&2; exit 3"]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sh -c") && e.contains("oops"), "{e}");
        let e = RealRunner
            .run(&Cmd::new("/nonexistent/prog"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent/prog"), "{e}");
    }

    #[test]
    fn recording_runner_replies_in_order() {
        let r = RecordingRunner::new();
        r.reply(&["blkid"], Ok(b"x"));
        r.reply(&["mdadm", "--create"], Err("boom"));
        assert_eq!(r.run(&Cmd::new("blkid").arg("/dev/a")).unwrap(), b"x");
        assert_eq!(r.run(&Cmd::new("blkid").arg("/dev/a")).unwrap(), b"");
        assert!(r.run(&Cmd::new("mdadm").arg("--create")).is_err());
        assert_eq!(r.argvs().len(), 3);
        r.without("clevis");
        assert!(!r.exists("clevis"));
        assert!(r.exists("mdadm"));
    }

    #[test]
    fn display_quotes_odd_args() {
        let c = Cmd::new("mkfs.ext4").args(["-L", "my root", ""]);
        assert_eq!(c.display(), "mkfs.ext4 -L \"my root\" \"\"");
    }
}
