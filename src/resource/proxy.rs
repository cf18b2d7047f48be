//! `ignition.proxy`: which proxy a URL goes through, with Go's `httpproxy` rules for `noProxy`
//! (IP addresses, CIDR ranges, domain names matching subdomains, `.domain` for subdomains only,
//! `*` for everything, an optional `:port` on any entry). Pure: no I/O.

use std::net::IpAddr;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    All,
    Ip(IpAddr, Option<u16>),
    Cidr(IpAddr, u8),
    /// A domain; `exact_too` is false for `.example.com` (subdomains only).
    Domain {
        name: String,
        exact_too: bool,
        port: Option<u16>,
    },
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    pub http_proxy: Option<String>,
    pub https_proxy: Option<String>,
    no_proxy: Vec<Entry>,
}

fn split_port(s: &str) -> (&str, Option<u16>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((h, p)) = rest.split_once(']') {
            return (h, p.strip_prefix(':').and_then(|p| p.parse().ok()));
        }
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => match p.parse() {
            Ok(port) => (h, Some(port)),
            Err(_) => (s, None),
        },
        _ => (s, None),
    }
}

fn parse_entry(raw: &str) -> Option<Entry> {
    let e = raw.trim().to_ascii_lowercase();
    if e.is_empty() {
        return None;
    }
    if e == "*" {
        return Some(Entry::All);
    }
    if let Some((ip, bits)) = e.split_once('/') {
        let ip: IpAddr = ip.parse().ok()?;
        let bits: u8 = bits.parse().ok()?;
        return Some(Entry::Cidr(ip, bits));
    }
    let (host, port) = split_port(&e);
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(Entry::Ip(ip, port));
    }
    let (name, exact_too) = match host.strip_prefix("*.") {
        Some(n) => (n, false),
        None => match host.strip_prefix('.') {
            Some(n) => (n, false),
            None => (host, true),
        },
    };
    Some(Entry::Domain {
        name: name.to_string(),
        exact_too,
        port,
    })
}

fn in_cidr(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let bits = bits.min(32) as u32;
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let bits = bits.min(128) as u32;
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

impl ProxyConfig {
    pub fn new(
        http_proxy: Option<String>,
        https_proxy: Option<String>,
        no_proxy: &[String],
    ) -> Self {
        ProxyConfig {
            http_proxy: http_proxy.filter(|s| !s.is_empty()),
            https_proxy: https_proxy.filter(|s| !s.is_empty()),
            no_proxy: no_proxy.iter().filter_map(|e| parse_entry(e)).collect(),
        }
    }

    /// The proxy URL for a request to `scheme://host:port`, or None to connect directly.
    /// Loopback addresses and `localhost` never use a proxy, as in Go.
    pub fn proxy_for(&self, scheme: &str, host: &str, port: u16) -> Option<&str> {
        let proxy = match scheme {
            "https" => self.https_proxy.as_deref(),
            "http" => self.http_proxy.as_deref(),
            _ => None,
        }?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host == "localhost" {
            return None;
        }
        let ip = host.parse::<IpAddr>().ok();
        if ip.is_some_and(|ip| ip.is_loopback()) {
            return None;
        }
        let bypass = self.no_proxy.iter().any(|e| match e {
            Entry::All => true,
            Entry::Ip(a, p) => ip == Some(*a) && p.is_none_or(|p| p == port),
            Entry::Cidr(net, bits) => ip.is_some_and(|ip| in_cidr(ip, *net, *bits)),
            Entry::Domain {
                name,
                exact_too,
                port: p,
            } => {
                p.is_none_or(|p| p == port)
                    && ((*exact_too && host == *name) || host.ends_with(&format!(".{name}")))
            }
        });
        (!bypass).then_some(proxy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(no: &[&str]) -> ProxyConfig {
        ProxyConfig::new(
            Some("http://proxy:3128".into()),
            Some("http://sproxy:3128".into()),
            &no.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )
    }

    #[test]
    fn chooses_by_scheme() {
        let c = cfg(&[]);
        assert_eq!(
            c.proxy_for("http", "example.com", 80),
            Some("http://proxy:3128")
        );
        assert_eq!(
            c.proxy_for("https", "example.com", 443),
            Some("http://sproxy:3128")
        );
        assert_eq!(c.proxy_for("tftp", "example.com", 69), None);
        assert_eq!(c.proxy_for("http", "127.0.0.1", 80), None);
        assert_eq!(c.proxy_for("http", "localhost", 80), None);
    }

    #[test]
    fn no_proxy_rules() {
        let c = cfg(&[
            "10.0.0.0/8",
            "192.168.1.5",
            "example.com",
            ".internal",
            "svc.local:8080",
            "[fd00::1]",
        ]);
        assert_eq!(c.proxy_for("http", "10.1.2.3", 80), None);
        assert!(c.proxy_for("http", "11.1.2.3", 80).is_some());
        assert_eq!(c.proxy_for("http", "192.168.1.5", 80), None);
        assert_eq!(c.proxy_for("http", "example.com", 80), None);
        assert_eq!(c.proxy_for("http", "www.example.com", 80), None);
        assert!(c.proxy_for("http", "notexample.com", 80).is_some());
        assert!(
            c.proxy_for("http", "internal", 80).is_some(),
            ".internal is subdomains only"
        );
        assert_eq!(c.proxy_for("http", "a.internal", 80), None);
        assert_eq!(c.proxy_for("http", "svc.local", 8080), None);
        assert!(c.proxy_for("http", "svc.local", 80).is_some());
        assert_eq!(c.proxy_for("http", "[fd00::1]", 80), None);
        assert_eq!(cfg(&["*"]).proxy_for("https", "anything", 443), None);
    }
}
