//! The process logger: each `log` record goes to journald natively (identifier `ignition` for
//! the stages, real priorities, extra fields such as `MESSAGE_ID`) when its socket is there,
//! and one readable line to the console (stderr, or stdout with `-log-to-stdout`). Without
//! journald but with systemd's journal stream as output, lines carry sd-daemon `<N>` priority
//! prefixes instead. Also the `[started]`/`[finished]`/`[failed]` op lines the stages print.
//! The process logger's console lines are written in batches: at most 50 ms late (a flusher
//! thread), at once for warnings and errors, before a command runs, at exit and on a panic.
//! Callers must never pass config bodies, password hashes or key material to it.

use crate::providers::HostPaths;
use crate::sys::journal::{self, Journal};
use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// How the process logs.
pub struct Options<'a> {
    /// `SYSLOG_IDENTIFIER` of the journal entries: `ignition` for the stages (whatever the
    /// binary is called: NestOS reads `journalctl -t ignition`), `afterburn` for its commands.
    pub ident: &'a str,
    pub to_stdout: bool,
    /// Debug lines too.
    pub verbose: bool,
    /// Where the journal socket and /dev/console are (a fixture tree in tests).
    pub host: &'a HostPaths,
    /// `$JOURNAL_STREAM`, systemd's mark on a service's output stream.
    pub journal_stream: Option<&'a str>,
    /// The stage being run, sent as `IGNIS_STAGE` with every entry: journald may not learn
    /// the unit of an entry sent just before the process exits, so a reader that wants one
    /// stage's lines matches this field rather than `-u`.
    pub stage: Option<&'a str>,
}

enum Console {
    Stdout,
    Stderr,
    File(std::fs::File),
}

/// Where records go; one per process, built once by `init`.
pub struct Sink {
    ident: String,
    stage: Option<String>,
    journal: Option<Journal>,
    console: Console,
    /// The console is journald's stream and there is no native socket: `<N>` prefixes.
    prefix: bool,
    /// Console text not written yet, when lines are batched (the process logger's sink).
    pending: Option<Mutex<Vec<u8>>>,
}

/// How late a batched console line may be.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// A batch is written once it holds this much.
const BATCH: usize = 32 * 1024;

/// The syslog priority of a level. Errors are `crit`, as Ignition logs its failures.
pub fn priority(l: Level) -> u8 {
    match l {
        Level::Error => 2,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    }
}

fn tag(l: Level) -> &'static str {
    match l {
        Level::Error => "CRITICAL",
        Level::Warn => "WARNING",
        Level::Info => "INFO",
        Level::Debug | Level::Trace => "DEBUG",
    }
}

impl Sink {
    pub fn new(o: &Options) -> Sink {
        let journal = Journal::connect(&o.host.path(journal::SOCKET));
        let stream = if o.to_stdout {
            journal::is_journal_stream(std::io::stdout(), o.journal_stream)
        } else {
            journal::is_journal_stream(std::io::stderr(), o.journal_stream)
        };
        let fd = if o.to_stdout {
            Console::Stdout
        } else {
            Console::Stderr
        };
        // Native entries plus a copy on the journal stream would put every line in the
        // journal twice; the stream's only other job is the console, so write there instead.
        let console = if journal.is_some() && stream {
            open_console(o.host).map_or(fd, Console::File)
        } else {
            fd
        };
        Sink {
            ident: o.ident.to_string(),
            stage: o.stage.map(str::to_string),
            prefix: journal.is_none() && stream,
            journal,
            console,
            pending: None,
        }
    }

    /// The same sink with its console lines batched (see `flush`).
    fn batched(mut self) -> Sink {
        self.pending = Some(Mutex::new(Vec::with_capacity(BATCH)));
        self
    }

    /// Writes the batched console lines.
    pub fn flush(&self) {
        if let Some(p) = &self.pending {
            let mut b = p.lock().unwrap_or_else(|e| e.into_inner());
            self.write_console(&b);
            b.clear();
        }
    }

    fn write_console(&self, text: &[u8]) {
        if text.is_empty() {
            return;
        }
        // A failed write to the console has nowhere better to be reported.
        let _ = match &self.console {
            Console::Stdout => std::io::stdout().lock().write_all(text),
            Console::Stderr => std::io::stderr().lock().write_all(text),
            Console::File(f) => (&*f).write_all(text),
        };
    }

    /// Logs one record, with extra journal fields (`MESSAGE_ID`, ...).
    pub fn emit(&self, level: Level, msg: &str, fields: &[(&str, &str)]) {
        let escaped = escape_controls(msg);
        let msg = escaped.as_ref();
        if let Some(j) = &self.journal {
            let prio = priority(level).to_string();
            let mut all = vec![
                ("MESSAGE", msg),
                ("PRIORITY", prio.as_str()),
                ("SYSLOG_IDENTIFIER", self.ident.as_str()),
            ];
            if let Some(st) = &self.stage {
                all.push(("IGNIS_STAGE", st));
            }
            all.extend_from_slice(fields);
            // A lost entry still reaches the console below; there is nowhere else to report it.
            let _ = j.send(&all);
        }
        match &self.pending {
            Some(p) => {
                let mut b = p.lock().unwrap_or_else(|e| e.into_inner());
                self.console_line_into(&mut b, level, msg);
                // What goes wrong is on the console at once.
                if level <= Level::Warn || b.len() >= BATCH {
                    self.write_console(&b);
                    b.clear();
                }
            }
            None => {
                let mut line = Vec::with_capacity(msg.len() + 12);
                self.console_line_into(&mut line, level, msg);
                self.write_console(&line);
            }
        }
    }
}

/// One record is one line: control characters (newlines from a config string, terminal
/// escapes) are written as `\n`, `\r`, `\x1b`, ..., so no config value can forge a log line or
/// drive the console. Tabs stay.
pub fn escape_controls(msg: &str) -> std::borrow::Cow<'_, str> {
    if !msg.chars().any(|c| c.is_control() && c != '\t') {
        return std::borrow::Cow::Borrowed(msg);
    }
    let mut out = String::with_capacity(msg.len() + 8);
    for c in msg.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

impl Sink {
    /// Appends the console text of a record: `WARNING  : msg`, or `<4>msg` for journald's
    /// stream.
    fn console_line_into(&self, out: &mut Vec<u8>, level: Level, msg: &str) {
        if self.prefix {
            let p = priority(level);
            for l in msg.lines() {
                out.extend_from_slice(&[b'<', b'0' + p, b'>']);
                out.extend_from_slice(l.as_bytes());
                out.push(b'\n');
            }
        } else {
            let t = tag(level);
            out.extend_from_slice(t.as_bytes());
            out.resize(out.len() + 8usize.saturating_sub(t.len()), b' ');
            out.extend_from_slice(b" : ");
            out.extend_from_slice(msg.as_bytes());
            out.push(b'\n');
        }
    }

    #[cfg(test)]
    fn console_line(&self, level: Level, msg: &str) -> String {
        let mut v = Vec::new();
        self.console_line_into(&mut v, level, msg);
        String::from_utf8_lossy(&v).into_owned()
    }
}

fn open_console(host: &HostPaths) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
        .open(host.path("/dev/console"))
        .ok()
}

static SINK: OnceLock<Sink> = OnceLock::new();

struct Logger;

static LOGGER: Logger = Logger;

impl Log for Logger {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, r: &Record) {
        let Some(s) = SINK.get() else { return };
        if let Some(m) = r.args().as_str() {
            return s.emit(r.level(), m, &[]);
        }
        // One text buffer per thread, reused, for the formatted records.
        thread_local!(static TEXT: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) });
        TEXT.with(|t| match t.try_borrow_mut() {
            Ok(mut t) => {
                t.clear();
                let _ = std::fmt::Write::write_fmt(&mut *t, *r.args());
                s.emit(r.level(), &t, &[]);
            }
            // A record formatted while formatting another (a Display that logs).
            Err(_) => s.emit(r.level(), &r.args().to_string(), &[]),
        });
    }

    fn flush(&self) {
        flush();
    }
}

/// Writes the console lines the process logger has batched: before the process exits, and
/// before anything else writes to the same console.
pub fn flush() {
    if let Some(s) = SINK.get() {
        s.flush();
    }
}

/// Installs the logger once per process.
pub fn init(o: &Options) {
    if SINK.set(Sink::new(o).batched()).is_ok() {
        // The flusher: a line waits at most FLUSH_EVERY, also while the stage blocks (a fetch
        // that hangs shows its `[started]` line).
        let _ = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(|| loop {
                std::thread::sleep(FLUSH_EVERY);
                flush();
            });
        let next = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            flush();
            next(info);
        }));
    }
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(if o.verbose {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        });
    }
}

/// The usual options: the host from `IGNIS_HOST_ROOT`, `$JOURNAL_STREAM` from the environment,
/// debug lines when [`debug_requested`].
pub fn init_from_env(ident: &str, stage: Option<&str>, to_stdout: bool) {
    let host = HostPaths::new(crate::distro::host_root());
    let js = crate::distro::journal_stream();
    let cmdline = host.read("/proc/cmdline").unwrap_or_default();
    let verbose = debug_requested(
        crate::distro::debug().as_deref(),
        &String::from_utf8_lossy(&cmdline),
    );
    init(&Options {
        ident,
        to_stdout,
        verbose,
        host: &host,
        journal_stream: js.as_deref(),
        stage,
    });
}

/// Logs a structured event: `msg` like any record, plus `fields` in its journal entry (a
/// `MESSAGE_ID` other tools search for). Before `init` (unit tests) it is a plain record.
pub fn event(level: Level, msg: &str, fields: &[(&str, &str)]) {
    match SINK.get() {
        Some(s) if log::log_enabled!(level) => s.emit(level, msg, fields),
        Some(_) => {}
        None => log::log!(level, "{msg}"),
    }
}

static OP: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` between `[started]` and `[finished]`/`[failed]` op lines, like Ignition's log.
/// The `[failed]` line names the operation only: every op's error fails its stage, and the
/// stage's failure line (main) prints the whole chain, so the error is printed once.
pub fn op<T, E>(desc: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let n = OP.fetch_add(1, Ordering::Relaxed) + 1;
    log::info!("op({n:x}): [started]  {desc}");
    let r = f();
    match &r {
        Ok(_) => log::info!("op({n:x}): [finished] {desc}"),
        Err(_) => log::error!("op({n:x}): [failed]   {desc}"),
    }
    r
}

/// Seconds since the epoch as a UTC civil date and time (year, month, day, hour, minute,
/// second), without a time zone database: days counted in 400-year eras starting on March 1st
/// so the leap day ends each year.
pub fn civil_utc(secs: i64) -> (i64, i64, i64, i64, i64, i64) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, rem / 3600, rem / 60 % 60, rem % 60)
}

/// Debug lines are wanted when `IGNIS_DEBUG` is set to anything but empty or `0` (the stage
/// units read `/run/ignition.env`, so a line there turns it on for a boot), or when the kernel
/// command line has `ignis.debug` or dracut's `rd.debug` (a first boot being debugged from the
/// boot loader).
pub fn debug_requested(env: Option<&str>, cmdline: &str) -> bool {
    if env.is_some_and(|v| !v.is_empty() && v != "0") {
        return true;
    }
    cmdline
        .split_ascii_whitespace()
        .any(|w| w == "ignis.debug" || w == "rd.debug")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn debug_switch() {
        assert!(!debug_requested(None, "quiet ignition.firstboot"));
        assert!(!debug_requested(Some(""), ""));
        assert!(!debug_requested(Some("0"), "rd.debugx ignis.debug=0"));
        assert!(debug_requested(Some("1"), ""));
        assert!(debug_requested(None, "quiet ignis.debug"));
        assert!(debug_requested(None, "rd.debug ignition.firstboot"));
    }

    #[test]
    fn journal_entries_and_console_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().to_path_buf();
        std::fs::create_dir_all(d.join("run/systemd/journal")).unwrap();
        std::fs::create_dir_all(d.join("dev")).unwrap();
        let host = HostPaths::new(&d);
        let server = UnixDatagram::bind(host.path(journal::SOCKET)).unwrap();
        server.set_nonblocking(true).unwrap();
        // The output is journald's stream (as under systemd): with native entries the console
        // copy goes to /dev/console (a plain file here), readable and not into the journal.
        std::fs::write(d.join("dev/console"), "").unwrap();
        let st = rustix::fs::fstat(std::io::stderr()).unwrap();
        let js = format!("{}:{}", st.st_dev, st.st_ino);
        let o = Options {
            ident: "ignition",
            to_stdout: false,
            verbose: false,
            host: &host,
            journal_stream: Some(&js),
            stage: Some("files"),
        };
        let s = Sink::new(&o);
        s.emit(Level::Warn, "warning at $.a: w", &[]);
        s.emit(
            Level::Info,
            "two\nlines",
            &[("MESSAGE_ID", "abc"), ("IGNITION_USER_NAME", "nest")],
        );
        let mut buf = vec![0u8; 65536];
        let n = server.recv(&mut buf).unwrap();
        assert_eq!(
            journal::decode(&buf[..n]).unwrap(),
            [
                ("MESSAGE".to_string(), "warning at $.a: w".to_string()),
                ("PRIORITY".into(), "4".into()),
                ("SYSLOG_IDENTIFIER".into(), "ignition".into()),
                ("IGNIS_STAGE".into(), "files".into()),
            ]
        );
        let n = server.recv(&mut buf).unwrap();
        let e = journal::decode(&buf[..n]).unwrap();
        let get = |k: &str| e.iter().find(|(kk, _)| kk == k).map(|(_, v)| v.as_str());
        // One record is one line, in the journal too (a config string cannot forge lines).
        assert_eq!(get("MESSAGE"), Some("two\\nlines"));
        assert_eq!(get("PRIORITY"), Some("6"));
        assert_eq!(get("MESSAGE_ID"), Some("abc"));
        assert_eq!(get("IGNITION_USER_NAME"), Some("nest"));
        assert!(server.recv(&mut buf).is_err(), "one datagram per record");
        assert_eq!(
            std::fs::read_to_string(d.join("dev/console")).unwrap(),
            "WARNING  : warning at $.a: w\nINFO     : two\\nlines\n"
        );

        // No journald: the stream gets sd-daemon prefixes, one per line.
        drop(server);
        std::fs::remove_file(host.path(journal::SOCKET)).unwrap();
        let s = Sink::new(&o);
        assert!(s.journal.is_none() && s.prefix);
        assert!(matches!(s.console, Console::Stderr));
        assert_eq!(
            s.console_line(Level::Error, "failed: a\nb"),
            "<2>failed: a\n<2>b\n"
        );
        // Not the journal stream (a terminal, a pipe): plain readable lines, no prefixes.
        let s = Sink::new(&Options {
            journal_stream: None,
            ..o
        });
        assert!(!s.prefix && matches!(s.console, Console::Stderr));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn batched_lines_wait_for_a_warning_a_full_batch_or_flush() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("console");
        let read = || std::fs::read_to_string(&path).unwrap();
        let s = Sink {
            ident: "ignition".into(),
            stage: None,
            journal: None,
            console: Console::File(std::fs::File::create(&path).unwrap()),
            prefix: false,
            pending: None,
        }
        .batched();
        s.emit(Level::Info, "one", &[]);
        s.emit(Level::Info, "two", &[]);
        assert_eq!(read(), "");
        // A warning goes out at once, after the lines before it.
        s.emit(Level::Warn, "three", &[]);
        assert_eq!(read(), "INFO     : one\nINFO     : two\nWARNING  : three\n");
        s.emit(Level::Info, "four", &[]);
        s.flush();
        assert!(read().ends_with("three\nINFO     : four\n"));
        // A full batch is written without waiting.
        let long = "x".repeat(1000);
        for _ in 0..(BATCH / 1000 + 1) {
            s.emit(Level::Info, &long, &[]);
        }
        assert!(read().len() > BATCH);
    }

    #[test]
    fn control_characters_cannot_forge_lines() {
        assert_eq!(escape_controls("plain\ttext"), "plain\ttext");
        assert_eq!(
            escape_controls("a.service\nCRITICAL : forged\r\u{1b}[2J\u{85}"),
            "a.service\\nCRITICAL : forged\\r\\x1b[2J\\x85"
        );
    }

    #[test]
    fn priorities() {
        assert_eq!(priority(Level::Error), 2);
        assert_eq!(priority(Level::Warn), 4);
        assert_eq!(priority(Level::Info), 6);
        assert_eq!(priority(Level::Debug), 7);
    }

    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_utc(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(super::civil_utc(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(super::civil_utc(1_440_938_160), (2015, 8, 30, 12, 36, 0));
    }
}
