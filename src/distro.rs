//! Every setting ignis takes from its environment, in one table: the variables tests, the
//! dracut glue and distributions use to move ignis's host paths and defaults (the role of
//! Ignition's `distro.go`). Nothing else in the tree reads an environment variable for its
//! own behaviour; the engine builds each stage's context from here.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// One environment override: its variable, its default when unset, and what it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Override {
    pub var: &'static str,
    /// The value when the variable is unset; empty means "none".
    pub default: &'static str,
    pub what: &'static str,
}

impl Override {
    /// The variable's value, if it is set (whatever its content).
    pub fn get(&self) -> Option<String> {
        std::env::var(self.var).ok()
    }

    /// The variable's value, or the default.
    pub fn value(&self) -> String {
        self.get().unwrap_or_else(|| self.default.to_string())
    }
}

/// The host's root: /proc, /sys, /dev, /run and the system config dirs are read below it.
pub const HOST_ROOT: Override = Override {
    var: "IGNIS_HOST_ROOT",
    default: "/",
    what: "the host root that /proc, /sys, /dev, /run and /etc are read under (tests)",
};
/// The HTTP layer's test seam: origins whose connections go to loopback servers instead
/// (`resource::Reroutes`), for every request ignis makes.
pub const HTTP_REROUTE: Override = Override {
    var: "IGNIS_HTTP_REROUTE",
    default: "",
    what: "ORIGIN=http://LOOPBACK:PORT,... sends the connections for an origin \
           (http://169.254.169.254, https://*.amazonaws.com) to a loopback server (test builds \
           only: the shipped binary ignores it)",
};
/// How long the disks and mount stages wait for a device, in seconds.
pub const DEVICE_TIMEOUT: Override = Override {
    var: "IGNIS_DEVICE_TIMEOUT",
    default: "90",
    what: "seconds the disks and mount stages wait for a device (systemd's default: 90)",
};
/// Debug log lines, as `ignis.debug` or `rd.debug` on the kernel command line.
pub const DEBUG: Override = Override {
    var: "IGNIS_DEBUG",
    default: "",
    what: "1 to print debug lines (also ignis.debug or rd.debug on the kernel command line)",
};
/// Ignition's: where the kernel command line is read.
pub const KERNEL_CMDLINE: Override = Override {
    var: "IGNITION_KERNEL_CMDLINE_PATH",
    default: "/proc/cmdline",
    what: "the kernel command line file (Ignition's variable)",
};
/// Ignition's system config dirs, highest priority first.
pub const SYSTEM_RUNTIME_CONFIG_DIR: Override = Override {
    var: "IGNITION_SYSTEM_RUNTIME_CONFIG_DIR",
    default: "/run/ignition",
    what: "the runtime system config dir: base.ign, base.d/, a platform's base.platform.d/",
};
pub const SYSTEM_LOCAL_CONFIG_DIR: Override = Override {
    var: "IGNITION_SYSTEM_LOCAL_CONFIG_DIR",
    default: "/etc/ignition",
    what: "the local system config dir",
};
pub const SYSTEM_CONFIG_DIR: Override = Override {
    var: "IGNITION_SYSTEM_CONFIG_DIR",
    default: "/usr/lib/ignition",
    what: "the distribution's system config dir",
};
/// Ignition's `file` platform: the config's path.
pub const CONFIG_FILE: Override = Override {
    var: "IGNITION_CONFIG_FILE",
    default: "config.ign",
    what: "the config of the file platform (Ignition's variable)",
};
/// Ignition's: SSH keys go to an `authorized_keys.d` fragment instead of `authorized_keys`.
pub const AUTHORIZED_KEYS_FRAGMENT: Override = Override {
    var: "IGNITION_WRITE_AUTHORIZED_KEYS_FRAGMENT",
    default: "",
    what: "true to write SSH keys to ~/.ssh/authorized_keys.d/ignition (Ignition's variable)",
};
/// shadow-utils': the day accounts are created on (reproducible builds and tests).
pub const SOURCE_DATE_EPOCH: Override = Override {
    var: "SOURCE_DATE_EPOCH",
    default: "",
    what: "seconds since 1970 used as today for account ages (shadow-utils' variable)",
};
/// systemd's: the journal stream ignis's standard error is connected to, if any.
pub const JOURNAL_STREAM: Override = Override {
    var: "JOURNAL_STREAM",
    default: "",
    what: "set by systemd when standard error goes to the journal",
};

/// Every override, for documentation and tests.
pub const ALL: &[Override] = &[
    HOST_ROOT,
    HTTP_REROUTE,
    DEVICE_TIMEOUT,
    DEBUG,
    KERNEL_CMDLINE,
    SYSTEM_RUNTIME_CONFIG_DIR,
    SYSTEM_LOCAL_CONFIG_DIR,
    SYSTEM_CONFIG_DIR,
    CONFIG_FILE,
    AUTHORIZED_KEYS_FRAGMENT,
    SOURCE_DATE_EPOCH,
    JOURNAL_STREAM,
];

/// The host root.
pub fn host_root() -> PathBuf {
    PathBuf::from(HOST_ROOT.value())
}

/// The HTTP reroute table's text, if any (parsed by `resource::Reroutes`).
pub fn http_reroute() -> Option<String> {
    HTTP_REROUTE.get()
}

/// The device timeout (a value that is not a whole number of seconds is ignored).
pub fn device_timeout() -> Duration {
    let default = DEVICE_TIMEOUT.default.parse::<u64>().unwrap_or(90);
    let secs = DEVICE_TIMEOUT
        .get()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(default);
    Duration::from_secs(secs)
}

/// The kernel command line file.
pub fn kernel_cmdline() -> String {
    KERNEL_CMDLINE.value()
}

/// The system config dirs as absolute paths on the host, highest priority first.
pub fn system_config_dirs() -> [String; 3] {
    [
        SYSTEM_RUNTIME_CONFIG_DIR.value(),
        SYSTEM_LOCAL_CONFIG_DIR.value(),
        SYSTEM_CONFIG_DIR.value(),
    ]
}

/// The file platform's config path.
pub fn config_file() -> String {
    CONFIG_FILE.value()
}

/// The raw value of Ignition's fragment switch (its meaning is the files stage's business).
pub fn authorized_keys_fragment() -> Option<String> {
    AUTHORIZED_KEYS_FRAGMENT.get()
}

/// SOURCE_DATE_EPOCH, when set to a whole number.
pub fn source_date_epoch() -> Option<i64> {
    SOURCE_DATE_EPOCH
        .get()
        .and_then(|v| v.trim().parse::<i64>().ok())
}

/// The debug switch's raw value.
pub fn debug() -> Option<String> {
    DEBUG.get()
}

/// `$JOURNAL_STREAM`.
pub fn journal_stream() -> Option<String> {
    JOURNAL_STREAM.get()
}

/// `$PATH`, where helpers Ignition runs by name are looked up.
pub fn path() -> Option<OsString> {
    std::env::var_os("PATH")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_unique_and_documented() {
        let mut vars: Vec<&str> = ALL.iter().map(|o| o.var).collect();
        vars.sort_unstable();
        vars.dedup();
        assert_eq!(vars.len(), ALL.len());
        assert!(ALL.iter().all(|o| !o.what.is_empty()));
    }

    #[test]
    fn defaults_parse() {
        assert_eq!(DEVICE_TIMEOUT.default.parse::<u64>().ok(), Some(90));
        assert!(HOST_ROOT.default.starts_with('/'));
    }
}
