//! Network settings a platform describes (cloud-init `network-config`, OpenStack
//! `network_data.json`), reduced to what the first-boot initrd needs, and their rendering as
//! dracut network kargs. Pure: the providers parse, this renders, `netkargs` checks.

use std::net::IpAddr;

/// One interface as the platform describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Interface {
    /// The interface name the platform uses (`eth0`); not necessarily the name the initrd
    /// kernel gives the device.
    pub name: Option<String>,
    pub mac: Option<String>,
    /// Static addresses with their prefix length.
    pub addresses: Vec<(IpAddr, u8)>,
    /// Default gateways.
    pub gateways: Vec<IpAddr>,
    pub dhcp4: bool,
    pub dhcp6: bool,
    pub nameservers: Vec<IpAddr>,
    /// Routes other than the default one.
    pub routes: Vec<Route>,
}

/// A static route: `net/prefix` through `gateway`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub net: IpAddr,
    pub prefix: u8,
    pub gateway: IpAddr,
}

/// Whether `ip=` arguments name the interface. Names from cloud-init data are the guest's
/// view (`eth0`) and may not exist in the initrd, so Proxmox VE leaves them out (Afterburn
/// does the same there); KubeVirt names them (as Afterburn does there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    Named,
    Unnamed,
    /// Each interface with a MAC address gets a name of ours (`net0`, `net1`, ... in document
    /// order) bound to its MAC with `ifname=`: OpenStack's `network_data.json` names links by
    /// their host-side port (`tap...`), never by what the guest calls them. dracut warns
    /// against kernel-style names (`ethN`) in `ifname=`, hence `net`.
    ByMac,
}

/// An address as dracut writes it: IPv6 in brackets.
pub fn dracut_addr(a: &IpAddr) -> String {
    match a {
        IpAddr::V4(v) => v.to_string(),
        IpAddr::V6(v) => format!("[{v}]"),
    }
}

/// The IPv4 netmask of a prefix length (`24` -> `255.255.255.0`).
pub fn netmask_v4(prefix: u8) -> String {
    let bits = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix.min(32)))
    };
    std::net::Ipv4Addr::from(bits).to_string()
}

/// The prefix length of a netmask (`255.255.255.0`, `ffff:ffff::`) or of a number (`64`);
/// `None` for a non-contiguous mask or garbage.
pub fn prefix_len(mask: &str) -> Option<u8> {
    let mask = mask.trim();
    if let Ok(n) = mask.parse::<u8>() {
        return (n <= 128).then_some(n);
    }
    let bits: u128 = match mask.parse::<IpAddr>().ok()? {
        IpAddr::V4(v) => u128::from(u32::from(v)) << 96,
        IpAddr::V6(v) => u128::from(v),
    };
    let ones = bits.leading_ones();
    (bits.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// `addr/prefix`, or `addr` with the prefix given separately (a netmask or a length).
pub fn parse_cidr(addr: &str, mask: Option<&str>) -> Option<(IpAddr, u8)> {
    let (a, p) = match addr.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (addr, mask),
    };
    let ip: IpAddr = a.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        Some(p) => prefix_len(p)?,
        None => max,
    };
    (prefix <= max).then_some((ip, prefix))
}

/// The dracut kargs for `ifaces`: one static `ip=` per address (with the interface's default
/// gateway of the same family, autoconf `off`), one `ip=` per DHCP interface, one `rd.route=`
/// per other route, then one `nameserver=` per distinct server, and with [`Naming::ByMac`]
/// the `ifname=` arguments first. `None` unless some interface has a static address: without
/// one the distribution's default (`ip=auto`) does the same job.
pub fn render_kargs(ifaces: &[Interface], naming: Naming) -> Option<String> {
    render_kargs_with(ifaces, naming, None)
}

/// [`render_kargs`], with `hostname` (when dracut's grammar takes it) in each static `ip=`:
/// the initrd's network stack records it, and without DHCP nothing else names the machine
/// that early.
pub fn render_kargs_with(
    ifaces: &[Interface],
    naming: Naming,
    hostname: Option<&str>,
) -> Option<String> {
    if ifaces.iter().all(|i| i.addresses.is_empty()) {
        return None;
    }
    let host = hostname.filter(|h| {
        let ok = h.len() <= 253
            && h.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !ok {
            log::info!("network kargs: the hostname does not fit dracut's ip= grammar; left out");
        }
        ok
    });
    let host = host.unwrap_or("");
    let mut names = Vec::new();
    let mut args = Vec::new();
    let mut servers: Vec<IpAddr> = Vec::new();
    let mut next = 0;
    for i in ifaces {
        let mut by_mac = |mac: &str| {
            let name = format!("net{next}");
            next += 1;
            if !i.addresses.is_empty() || i.dhcp4 || i.dhcp6 || !i.routes.is_empty() {
                names.push(format!("ifname={name}:{}", mac.to_ascii_lowercase()));
            }
            name
        };
        let id = match (naming, &i.name, &i.mac) {
            (Naming::Named, Some(n), _) => n.clone(),
            // A link known only by its MAC (KubeVirt's network_data.json) gets a name of
            // ours bound to the MAC: a bare `ip=dhcp` would run DHCP on every NIC, and a MAC
            // in `ip=`'s interface field is not dracut grammar.
            (Naming::Named | Naming::ByMac, _, Some(mac)) => by_mac(mac),
            _ => String::new(),
        };
        for (addr, prefix) in &i.addresses {
            let gw = i
                .gateways
                .iter()
                .find(|g| g.is_ipv4() == addr.is_ipv4())
                .map(dracut_addr)
                .unwrap_or_default();
            let mask = if addr.is_ipv4() {
                netmask_v4(*prefix)
            } else {
                prefix.to_string()
            };
            args.push(format!(
                "ip={}::{gw}:{mask}:{host}:{id}:off",
                dracut_addr(addr)
            ));
        }
        let dhcp = match (i.dhcp4, i.dhcp6) {
            (true, true) => Some("any"),
            (true, false) => Some("dhcp"),
            (false, true) => Some("dhcp6"),
            (false, false) => None,
        };
        if let Some(d) = dhcp {
            args.push(if id.is_empty() {
                format!("ip={d}")
            } else {
                format!("ip={id}:{d}")
            });
        }
        for r in &i.routes {
            args.push(route_arg(r, &id));
        }
        for s in &i.nameservers {
            if !servers.contains(s) {
                servers.push(*s);
            }
        }
    }
    args.extend(
        servers
            .iter()
            .map(|s| format!("nameserver={}", dracut_addr(s))),
    );
    names.extend(args);
    Some(names.join(" "))
}

/// `rd.route=<net>/<prefix>:<gateway>[:<iface>]`; an IPv6 network goes in brackets with its
/// prefix (`[2001:db8::/48]`), as dracut documents it and NetworkManager's initrd generator
/// reads it.
fn route_arg(r: &Route, iface: &str) -> String {
    let net = match r.net {
        IpAddr::V4(v) => format!("{v}/{}", r.prefix),
        IpAddr::V6(v) => format!("[{v}/{}]", r.prefix),
    };
    let mut a = format!("rd.route={net}:{}", dracut_addr(&r.gateway));
    if !iface.is_empty() {
        a.push(':');
        a.push_str(iface);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::afterburn::netkargs;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn masks_and_prefixes() {
        assert_eq!(netmask_v4(24), "255.255.255.0");
        assert_eq!(netmask_v4(0), "0.0.0.0");
        assert_eq!(netmask_v4(32), "255.255.255.255");
        assert_eq!(prefix_len("255.255.240.0"), Some(20));
        assert_eq!(prefix_len("ffff:ffff:ffff:ffff::"), Some(64));
        assert_eq!(prefix_len("64"), Some(64));
        assert_eq!(prefix_len("255.0.255.0"), None);
        assert_eq!(prefix_len("x"), None);
        assert_eq!(parse_cidr("10.0.0.5/24", None), Some((ip("10.0.0.5"), 24)));
        assert_eq!(
            parse_cidr("10.0.0.5", Some("255.255.255.0")),
            Some((ip("10.0.0.5"), 24))
        );
        assert_eq!(parse_cidr("fd00::5", None), Some((ip("fd00::5"), 128)));
        assert_eq!(parse_cidr("10.0.0.5/33", None), None);
        assert_eq!(parse_cidr("nope", None), None);
    }

    #[test]
    fn static_dhcp_and_nameservers() {
        let ifaces = [
            Interface {
                name: Some("eth0".into()),
                addresses: vec![(ip("10.0.0.5"), 24), (ip("fd00::5"), 64)],
                gateways: vec![ip("fd00::1"), ip("10.0.0.1")],
                nameservers: vec![ip("10.0.0.2"), ip("2606:4700::1111")],
                ..Default::default()
            },
            Interface {
                name: Some("eth1".into()),
                dhcp4: true,
                dhcp6: true,
                nameservers: vec![ip("10.0.0.2")],
                ..Default::default()
            },
        ];
        let named = render_kargs(&ifaces, Naming::Named).unwrap();
        assert_eq!(
            named,
            "ip=10.0.0.5::10.0.0.1:255.255.255.0::eth0:off ip=[fd00::5]::[fd00::1]:64::eth0:off \
             ip=eth1:any nameserver=10.0.0.2 nameserver=[2606:4700::1111]"
        );
        netkargs::validate(&named).unwrap();
        let unnamed = render_kargs(&ifaces, Naming::Unnamed).unwrap();
        assert!(unnamed.starts_with("ip=10.0.0.5::10.0.0.1:255.255.255.0:::off "));
        assert!(unnamed.contains(" ip=any "));
        netkargs::validate(&unnamed).unwrap();
    }

    #[test]
    fn dhcp_only_is_left_to_the_default() {
        let ifaces = [Interface {
            dhcp4: true,
            ..Default::default()
        }];
        assert_eq!(render_kargs(&ifaces, Naming::Named), None);
        assert_eq!(render_kargs(&[], Naming::Named), None);
    }

    #[test]
    fn by_mac_names_routes_and_hostname() {
        let ifaces = [
            Interface {
                name: Some("tap0".into()),
                mac: Some("FA:16:3E:00:00:01".into()),
                addresses: vec![(ip("192.0.2.10"), 24), (ip("2001:db8::10"), 64)],
                gateways: vec![ip("192.0.2.1"), ip("2001:db8::1")],
                nameservers: vec![ip("192.0.2.53")],
                routes: vec![
                    Route {
                        net: ip("198.51.100.0"),
                        prefix: 24,
                        gateway: ip("192.0.2.254"),
                    },
                    Route {
                        net: ip("2001:db8:1::"),
                        prefix: 48,
                        gateway: ip("2001:db8::fe"),
                    },
                ],
                ..Default::default()
            },
            Interface {
                mac: Some("fa:16:3e:00:00:02".into()),
                dhcp4: true,
                ..Default::default()
            },
            // Nothing to configure: no ifname= either, but it still takes its number.
            Interface {
                mac: Some("fa:16:3e:00:00:03".into()),
                ..Default::default()
            },
            Interface {
                mac: Some("fa:16:3e:00:00:04".into()),
                dhcp6: true,
                ..Default::default()
            },
        ];
        let k = render_kargs_with(&ifaces, Naming::ByMac, Some("node-1.example")).unwrap();
        assert_eq!(
            k,
            "ifname=net0:fa:16:3e:00:00:01 ifname=net1:fa:16:3e:00:00:02 \
             ifname=net3:fa:16:3e:00:00:04 \
             ip=192.0.2.10::192.0.2.1:255.255.255.0:node-1.example:net0:off \
             ip=[2001:db8::10]::[2001:db8::1]:64:node-1.example:net0:off \
             rd.route=198.51.100.0/24:192.0.2.254:net0 \
             rd.route=[2001:db8:1::/48]:[2001:db8::fe]:net0 ip=net1:dhcp ip=net3:dhcp6 \
             nameserver=192.0.2.53"
        );
        netkargs::validate(&k).unwrap();
        // A hostname dracut cannot take is left out; the rest stays.
        let k = render_kargs_with(&ifaces[..1], Naming::ByMac, Some("bad name")).unwrap();
        assert!(
            k.contains("ip=192.0.2.10::192.0.2.1:255.255.255.0::net0:off"),
            "{k}"
        );
        // Unnamed routes carry no interface.
        let k = render_kargs(&ifaces[..1], Naming::Unnamed).unwrap();
        assert!(k.contains("rd.route=198.51.100.0/24:192.0.2.254 "), "{k}");
        netkargs::validate(&k).unwrap();
    }
}
