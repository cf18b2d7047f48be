//! /etc/login.defs and /etc/default/useradd read the way shadow-utils 4.13 reads them (last
//! definition wins, numbers in C `strtol` base-0 syntax, booleans are "yes"), with its built-in
//! defaults when a key or the whole file is missing. Pure parsing, no I/O.

use std::collections::HashMap;

/// The parsed /etc/login.defs.
#[derive(Clone, Debug, Default)]
pub struct LoginDefs {
    vals: HashMap<String, String>,
}

/// Parses a C-style integer: `0x` hex, leading `0` octal, else decimal, optional sign.
pub fn parse_c_long(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        body.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

impl LoginDefs {
    pub fn parse(bytes: Option<&[u8]>) -> Self {
        let mut vals = HashMap::new();
        let text = String::from_utf8_lossy(bytes.unwrap_or_default());
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, rest) = match line.find([' ', '\t']) {
                Some(i) => (&line[..i], line[i..].trim()),
                None => (line, ""),
            };
            let value = match rest.strip_prefix('"') {
                Some(q) => q.split('"').next().unwrap_or(""),
                None => rest,
            };
            vals.insert(name.to_string(), value.to_string());
        }
        LoginDefs { vals }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.vals.get(key).map(String::as_str)
    }

    pub fn num(&self, key: &str, default: i64) -> i64 {
        self.str(key).and_then(parse_c_long).unwrap_or(default)
    }

    /// Unsigned values (ids, counts); a negative or unparsable value falls back to the default.
    pub fn ulong(&self, key: &str, default: u64) -> u64 {
        self.str(key)
            .and_then(parse_c_long)
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(default)
    }

    pub fn bool(&self, key: &str) -> bool {
        self.str(key).is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }

    /// Mode of a new home directory: HOME_MODE, else 0777 & ~UMASK (UMASK defaults to 022).
    pub fn home_mode(&self) -> u32 {
        let umask = self.num("UMASK", 0o22);
        let dflt = 0o777 & !umask;
        (self.num("HOME_MODE", dflt) & 0o7777) as u32
    }

    /// The mail spool directory: MAIL_DIR, else /var/mail unless MAIL_FILE is set.
    pub fn mail_dir(&self) -> Option<&str> {
        match self.str("MAIL_DIR") {
            Some(d) => Some(d),
            None if self.str("MAIL_FILE").is_none() => Some("/var/mail"),
            None => None,
        }
    }
}

/// The parsed /etc/default/useradd.
#[derive(Clone, Debug)]
pub struct UseraddDefaults {
    /// GROUP=, kept as written; resolved against the group database when used.
    pub group: Option<String>,
    pub home: String,
    pub shell: String,
    pub inactive: Option<i64>,
    pub expire: String,
    pub skel: String,
    pub create_mail_spool: bool,
}

impl Default for UseraddDefaults {
    fn default() -> Self {
        // Debian's shadow 4.13 built-ins (verified against its useradd with no defaults file).
        UseraddDefaults {
            group: None,
            home: "/home".into(),
            shell: "/bin/bash".into(),
            inactive: None,
            expire: String::new(),
            skel: "/etc/skel".into(),
            create_mail_spool: false,
        }
    }
}

impl UseraddDefaults {
    pub fn parse(bytes: Option<&[u8]>) -> Self {
        let mut d = UseraddDefaults::default();
        let text = String::from_utf8_lossy(bytes.unwrap_or_default());
        for line in text.lines() {
            let Some((key, val)) = line.split_once('=') else {
                continue;
            };
            match key {
                "GROUP" => d.group = Some(val.to_string()),
                "HOME" => d.home = val.to_string(),
                "SHELL" => d.shell = val.to_string(),
                "INACTIVE" => {
                    d.inactive = match parse_c_long(val) {
                        Some(v) if v >= 0 => Some(v),
                        _ => None,
                    }
                }
                "EXPIRE" => d.expire = val.to_string(),
                "SKEL" => {
                    d.skel = if val.is_empty() {
                        "/etc/skel".into()
                    } else {
                        val.to_string()
                    }
                }
                "CREATE_MAIL_SPOOL" => d.create_mail_spool = val.eq_ignore_ascii_case("yes"),
                _ => {}
            }
        }
        d
    }

    /// EXPIRE= as a day number: empty means never; a plain number is days; `YYYY-MM-DD` a date.
    pub fn expire_day(&self) -> Option<i64> {
        let e = self.expire.trim();
        if e.is_empty() || e == "-1" {
            return None;
        }
        if let Ok(n) = e.parse::<i64>() {
            return if n < 0 { None } else { Some(n) };
        }
        let mut parts = e.splitn(3, '-').map(|p| p.parse::<i64>().ok());
        match (parts.next(), parts.next(), parts.next()) {
            (Some(Some(y)), Some(Some(m)), Some(Some(d))) => Some(days_from_civil(y, m, d)),
            _ => None,
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_defs_parsing() {
        let d = LoginDefs::parse(Some(
            b"# c\nUID_MIN\t\t 1000\nUMASK 027\nHOME_MODE \"0700\"\nUSERGROUPS_ENAB yes\nUID_MIN 2000\n",
        ));
        assert_eq!(d.ulong("UID_MIN", 1), 2000);
        assert_eq!(d.num("UMASK", 0), 0o27);
        assert_eq!(d.home_mode(), 0o700);
        assert!(d.bool("USERGROUPS_ENAB"));
        assert!(!d.bool("CREATE_HOME"));
        assert_eq!(d.mail_dir(), Some("/var/mail"));
        let u = LoginDefs::parse(Some(b"UMASK 077\n"));
        assert_eq!(u.home_mode(), 0o700);
        assert_eq!(LoginDefs::parse(None).home_mode(), 0o755);
        assert_eq!(parse_c_long("0x10"), Some(16));
        assert_eq!(parse_c_long("-1"), Some(-1));
        assert_eq!(parse_c_long("12a"), None);
    }

    #[test]
    fn useradd_defaults() {
        let d = UseraddDefaults::parse(Some(
            b"SHELL=/bin/sh\nHOME=/var/home\nINACTIVE=-1\nEXPIRE=1970-01-11\nCREATE_MAIL_SPOOL=YES\n",
        ));
        assert_eq!(d.shell, "/bin/sh");
        assert_eq!(d.home, "/var/home");
        assert_eq!(d.inactive, None);
        assert_eq!(d.expire_day(), Some(10));
        assert!(d.create_mail_spool);
        assert_eq!(UseraddDefaults::parse(None).shell, "/bin/bash");
        assert_eq!(days_from_civil(2023, 11, 14), 19675);
    }
}
