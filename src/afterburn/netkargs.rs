//! Initrd network kernel arguments (Afterburn's `rd-network-kargs`): the dracut network
//! grammar (`ip=`, `nameserver=`, `rd.route=`, `ifname=`, `vlan=`, `bond=`, ...) parsed and
//! checked with nom, so a platform's garbage never reaches dracut, and the file that carries
//! good ones to dracut's command line. The parsers are pure.

use crate::error::{Error, Result};
use nom::branch::alt;
use nom::bytes::complete::{take_while, take_while1};
use nom::character::complete::{char, digit1};
use nom::combinator::{all_consuming, eof, map_res, opt, recognize, verify};
use nom::sequence::{delimited, preceded};
use nom::{IResult, Parser};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where dracut picks up extra command-line arguments.
pub const KARGS_FILE: &str = "/etc/cmdline.d/50-afterburn-network-kargs.conf";

const AUTOCONF: &[&str] = &[
    "dhcp",
    "on",
    "any",
    "dhcp6",
    "auto6",
    "either6",
    "link6",
    "link-local",
    "ibft",
    "auto",
    "off",
    "none",
];

fn autoconf(i: &str) -> IResult<&str, &str> {
    verify(
        take_while1(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == ','),
        |s: &str| s.split(',').all(|m| AUTOCONF.contains(&m)),
    )
    .parse(i)
}

fn ipv4(i: &str) -> IResult<&str, IpAddr> {
    map_res(
        take_while1(|c: char| c.is_ascii_digit() || c == '.'),
        |s: &str| s.parse::<Ipv4Addr>().map(IpAddr::V4),
    )
    .parse(i)
}

fn ipv6(i: &str) -> IResult<&str, IpAddr> {
    map_res(
        delimited(
            char('['),
            take_while1(|c: char| c.is_ascii_hexdigit() || c == ':' || c == '.'),
            char(']'),
        ),
        |s: &str| s.parse::<Ipv6Addr>().map(IpAddr::V6),
    )
    .parse(i)
}

fn ip(i: &str) -> IResult<&str, IpAddr> {
    alt((ipv6, ipv4)).parse(i)
}

fn iface(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| c.is_ascii_alphanumeric() || "-_.@".contains(c)).parse(i)
}

fn mac(i: &str) -> IResult<&str, &str> {
    verify(
        take_while1(|c: char| c.is_ascii_hexdigit() || c == ':' || c == '-'),
        |s: &str| {
            let parts: Vec<&str> = s.split([':', '-']).collect();
            parts.len() == 6 && parts.iter().all(|p| p.len() == 2)
        },
    )
    .parse(i)
}

fn mtu(i: &str) -> IResult<&str, u32> {
    verify(map_res(digit1, |d: &str| d.parse::<u32>()), |m| {
        (68..=65536).contains(m)
    })
    .parse(i)
}

fn netmask(i: &str) -> IResult<&str, ()> {
    alt((
        map_res(ipv4, |a| match a {
            IpAddr::V4(v) => {
                let m = u32::from(v);
                if m.leading_ones() + m.trailing_zeros() == 32 {
                    Ok(())
                } else {
                    Err("not a netmask")
                }
            }
            IpAddr::V6(_) => Err("not a netmask"),
        }),
        map_res(digit1, |d: &str| match d.parse::<u8>() {
            Ok(n) if n <= 128 => Ok(()),
            _ => Err("bad prefix length"),
        }),
    ))
    .parse(i)
}

fn hostname(i: &str) -> IResult<&str, &str> {
    verify(
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.'),
        |s: &str| s.len() <= 253,
    )
    .parse(i)
}

/// `[:[<mtu>][:<macaddr>]]` or, after a static config, `[:[<dns1>][:<dns2>]]`.
fn tail(i: &str) -> IResult<&str, ()> {
    // Each form must account for the rest of the value, or the other one is tried.
    let (i, _) = opt(preceded(
        char(':'),
        alt((
            (opt(ip), opt(preceded(char(':'), ip)), eof).map(|_| ()),
            (opt(mtu), opt(preceded(char(':'), mac)), eof).map(|_| ()),
        )),
    ))
    .parse(i)?;
    Ok((i, ()))
}

/// The value of one `ip=` argument, in any of dracut's forms.
fn ip_value(i: &str) -> IResult<&str, ()> {
    alt((
        // <client-IP>:[<peer>]:<gateway-IP>:<netmask>:<hostname>:<iface>:<autoconf>[...]
        (
            ip,
            char(':'),
            opt(ip),
            char(':'),
            opt(ip),
            char(':'),
            opt(netmask),
            char(':'),
            hostname,
            char(':'),
            opt(iface),
            char(':'),
            autoconf,
            tail,
        )
            .map(|_| ()),
        // <iface>:<autoconf>[:[<mtu>][:<mac>]]
        (iface, char(':'), autoconf, tail).map(|_| ()),
        // <autoconf>
        autoconf.map(|_| ()),
    ))
    .parse(i)
}

/// An IPv6 network with its prefix inside the brackets (`[2001:db8::/48]`), dracut's form.
fn ipv6_net(i: &str) -> IResult<&str, ()> {
    map_res(
        delimited(
            char('['),
            take_while1(|c: char| c.is_ascii_hexdigit() || ":./".contains(c)),
            char(']'),
        ),
        |s: &str| {
            let (a, p) = s.split_once('/').ok_or("no prefix")?;
            a.parse::<Ipv6Addr>().map_err(|_| "bad address")?;
            match p.parse::<u8>() {
                Ok(n) if n <= 128 => Ok(()),
                _ => Err("bad prefix"),
            }
        },
    )
    .parse(i)
}

/// `<net>/<prefix>:[<gateway>][:<iface>]`, the network IPv4, bracketed IPv6 (prefix inside,
/// as dracut documents) or bracketed IPv6 followed by `/<prefix>`.
fn route_value(i: &str) -> IResult<&str, ()> {
    (
        alt((ipv6_net, (ip, char('/'), digit1).map(|_| ()))),
        char(':'),
        opt(ip),
        opt(preceded(char(':'), iface)),
    )
        .map(|_| ())
        .parse(i)
}

fn check(parser: impl Fn(&str) -> IResult<&str, ()>, v: &str) -> bool {
    all_consuming(parser).parse(v).is_ok()
}

/// Checks one argument; returns why it is refused.
pub fn check_arg(arg: &str) -> std::result::Result<(), String> {
    let (k, v) = match arg.split_once('=') {
        Some(kv) => kv,
        None => return Err(format!("{arg:?} is not a key=value network argument")),
    };
    let ok = match k {
        "ip" => check(ip_value, v),
        "nameserver" => check(|i| ip.map(|_| ()).parse(i), v),
        "rd.route" => check(route_value, v),
        "ifname" => check(|i| (iface, char(':'), mac).map(|_| ()).parse(i), v),
        "vlan" => check(|i| (iface, char(':'), iface).map(|_| ()).parse(i), v),
        "bond" | "bridge" | "team" => check(
            |i| {
                recognize((iface, opt((char(':'), take_while(|c: char| c != ' ')))))
                    .map(|_| ())
                    .parse(i)
            },
            v,
        ),
        "bootdev" => check(|i| iface.map(|_| ()).parse(i), v),
        "rd.peerdns" | "rd.neednet" => v == "0" || v == "1",
        k if k.starts_with("rd.net.") => !v.is_empty() && !v.contains(char::is_whitespace),
        "hostname" => check(|i| hostname.map(|_| ()).parse(i), v),
        _ => return Err(format!("{k}= is not a dracut network argument")),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {k}= value {v:?}"))
    }
}

/// Checks a whole kargs string (what a platform supplies).
pub fn validate(kargs: &str) -> Result<()> {
    let words: Vec<&str> = kargs.split_whitespace().collect();
    if words.is_empty() {
        return Err(Error::failed("network kargs are empty"));
    }
    for w in words {
        check_arg(w).map_err(|e| Error::failed(format!("network kargs: {e}")))?;
    }
    Ok(())
}

/// Whether the running command line already configures networking (then nothing is added).
pub fn has_ip(cmdline: &str) -> bool {
    crate::cmdline::split(cmdline)
        .iter()
        .any(|w| w.starts_with("ip="))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_ip_forms() {
        for a in [
            "ip=dhcp",
            "ip=auto",
            "ip=dhcp,dhcp6",
            "ip=ens192:dhcp",
            "ip=eth0:dhcp:1500",
            "ip=eth0:dhcp::52:54:00:12:34:56",
            "ip=10.0.0.5::10.0.0.1:255.255.255.0:node1:ens192:off",
            "ip=10.0.0.5::10.0.0.1:24:node1:ens192:none:10.0.0.2:10.0.0.3",
            "ip=[fd00::5]::[fd00::1]:64::eth0:none",
            "ip=10.0.0.5:::255.255.255.0:::off",
            "nameserver=1.1.1.1",
            "nameserver=[2606:4700::1111]",
            "rd.route=10.1.0.0/16:10.0.0.1:ens192",
            "rd.route=10.1.0.0/16::ens192",
            "rd.route=[2001:db8:3::/8]:[2001:db8:2::1]:ens10",
            "rd.route=[2001:db8:3::]/48:[2001:db8:2::1]",
            "ifname=net0:52:54:00:12:34:56",
            "vlan=vlan100:ens192",
            "bond=bond0:ens192,ens224:mode=active-backup",
            "rd.neednet=1",
            "rd.net.timeout.carrier=30",
        ] {
            assert_eq!(check_arg(a), Ok(()), "{a}");
        }
    }

    #[test]
    fn garbage_is_refused() {
        for a in [
            "ip=",
            "ip=dhcpx",
            "ip=300.0.0.1::10.0.0.1:24:h:eth0:none",
            "ip=10.0.0.5::10.0.0.1:255.0.255.0:h:eth0:none",
            "ip=eth0:dhcp:10",
            "nameserver=dns.example",
            "rm=-rf",
            "quiet",
            "ip=10.0.0.5::10.0.0.1:24:h:eth0:none;reboot",
            "ifname=net0:zz",
            "rd.route=[2001:db8::/129]:[2001:db8::1]",
            "rd.route=10.0.0.0:10.0.0.1",
        ] {
            assert!(check_arg(a).is_err(), "{a}");
        }
        assert!(validate("").is_err());
        assert!(validate("ip=dhcp nameserver=1.1.1.1").is_ok());
        assert!(validate("ip=dhcp $(reboot)").is_err());
    }

    #[test]
    fn detects_existing_ip() {
        assert!(has_ip("BOOT_IMAGE=x ip=dhcp quiet"));
        assert!(!has_ip("BOOT_IMAGE=x vip=1 quiet"));
    }
}
