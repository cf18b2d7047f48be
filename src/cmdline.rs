//! The kernel command line: splitting it as the kernel does (double quotes group, no escapes)
//! and reading the `ignition.*` parameters that steer a first boot. Pure.

/// The parameters ignis reads from the kernel command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// `ignition.config.url=`
    pub config_url: Option<String>,
    /// `ignition.config.signature=` (ignis's: where the user config's detached signature is)
    pub config_signature: Option<String>,
    /// `ignition.config.device=` (a filesystem label, or a /dev path)
    pub config_device: Option<String>,
    /// `ignition.config.path=` (path of the config inside that filesystem)
    pub config_path: Option<String>,
    /// `ignition.platform.id=`
    pub platform_id: Option<String>,
    /// `ignition.firstboot` present and truthy
    pub firstboot: bool,
}

/// Splits a command line into `key[=value]` words; quotes group words and are removed.
pub fn split(cmdline: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// Value of the last `key=value` for `key` (the kernel and dracut let the last one win).
pub fn value<'a>(words: &'a [String], key: &str) -> Option<&'a str> {
    words
        .iter()
        .rev()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

/// Whether a flag-like parameter (`ignition.firstboot`, `ignition.firstboot=1`) is set: present
/// with no value or with a value other than "", "0", "no", "off", "false".
pub fn flag(words: &[String], key: &str) -> bool {
    words.iter().rev().find_map(|w| {
        if w == key {
            Some(true)
        } else {
            w.strip_prefix(key)
                .and_then(|r| r.strip_prefix('='))
                .map(|v| !matches!(v, "" | "0" | "no" | "off" | "false"))
        }
    }) == Some(true)
}

pub fn parse(cmdline: &str) -> Params {
    let w = split(cmdline);
    let s = |k: &str| value(&w, k).filter(|v| !v.is_empty()).map(String::from);
    Params {
        config_url: s("ignition.config.url"),
        config_signature: s("ignition.config.signature"),
        config_device: s("ignition.config.device"),
        config_path: s("ignition.config.path"),
        platform_id: s("ignition.platform.id"),
        firstboot: flag(&w, "ignition.firstboot"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_kernel() {
        assert_eq!(
            split("a b=\"c d\" e=f \"g h\"\n"),
            vec!["a", "b=c d", "e=f", "g h"]
        );
        assert_eq!(split("  "), Vec::<String>::new());
    }

    #[test]
    fn reads_ignition_params() {
        let p = parse("BOOT_IMAGE=/vmlinuz ignition.firstboot ignition.platform.id=qemu ignition.config.url=http://10.0.2.2:8080/c.ign?a=b quiet");
        assert!(p.firstboot);
        assert_eq!(p.platform_id.as_deref(), Some("qemu"));
        assert_eq!(
            p.config_url.as_deref(),
            Some("http://10.0.2.2:8080/c.ign?a=b")
        );
        assert_eq!(p.config_device, None);
        let p =
            parse("ignition.firstboot=0 ignition.config.device=CFG ignition.config.path=/c.ign");
        assert!(!p.firstboot);
        assert_eq!(p.config_device.as_deref(), Some("CFG"));
        assert_eq!(p.config_path.as_deref(), Some("/c.ign"));
        assert!(parse("ignition.firstboot=1").firstboot);
        assert!(!parse("ignition.firstbootx").firstboot);
    }
}
