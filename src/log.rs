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

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_utc(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(super::civil_utc(951_782_400), (2000, 2, 29, 0, 0, 0));
        assert_eq!(super::civil_utc(1_440_938_160), (2015, 8, 30, 12, 36, 0));
    }
}
