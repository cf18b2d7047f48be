//! The process logger: `log` records to stderr (or stdout with `-log-to-stdout`), one line each,
//! plus the `[started]`/`[finished]`/`[failed]` op lines the stages print. Callers must never
//! pass config bodies, password hashes or key material to it.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Logger {
    to_stdout: AtomicBool,
}

static LOGGER: Logger = Logger {
    to_stdout: AtomicBool::new(false),
};

impl Log for Logger {
    fn enabled(&self, _: &Metadata) -> bool {
        true
    }

    fn log(&self, r: &Record) {
        let tag = match r.level() {
            Level::Error => "CRITICAL",
            Level::Warn => "WARNING",
            Level::Info => "INFO",
            Level::Debug | Level::Trace => "DEBUG",
        };
        let line = format!("{tag:<8} : {}\n", r.args());
        // A failed write to the console has nowhere better to be reported.
        let _ = if self.to_stdout.load(Ordering::Relaxed) {
            std::io::stdout().lock().write_all(line.as_bytes())
        } else {
            std::io::stderr().lock().write_all(line.as_bytes())
        };
    }

    fn flush(&self) {}
}

/// Installs the logger once per process; `verbose` enables debug lines.
pub fn init(to_stdout: bool, verbose: bool) {
    LOGGER.to_stdout.store(to_stdout, Ordering::Relaxed);
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(if verbose {
            LevelFilter::Debug
        } else {
            LevelFilter::Info
        });
    }
}

static OP: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` between `[started]` and `[finished]`/`[failed]` op lines, like Ignition's log.
pub fn op<T, E: std::fmt::Display>(desc: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let n = OP.fetch_add(1, Ordering::Relaxed) + 1;
    log::info!("op({n:x}): [started]  {desc}");
    let r = f();
    match &r {
        Ok(_) => log::info!("op({n:x}): [finished] {desc}"),
        Err(e) => log::error!("op({n:x}): [failed]   {desc}: {e}"),
    }
    r
}
