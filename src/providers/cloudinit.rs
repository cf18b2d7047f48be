//! Reading cloud-init's data formats, as config drives and some metadata services carry them:
//! NoCloud `meta-data`, `network-config` (versions 1 and 2), `#cloud-config` user data, and
//! OpenStack's `meta_data.json` and `network_data.json`. Pure: bytes in, fields out; the
//! providers decide where the bytes come from.

use super::yaml;
use crate::afterburn::network::{parse_cidr, Interface, Route};
use crate::error::{Context, Error, Result};
use serde_json::Value;
use std::net::IpAddr;

/// JSON first (OpenStack files, KubeVirt's JSON network data), else the YAML subset.
pub fn parse_doc(bytes: &[u8], what: &str) -> Result<Value> {
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        return Ok(v);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| Error::failed(format!("{what} is neither JSON nor UTF-8 YAML")))?;
    yaml::parse(text).context(|| format!("parsing {what}"))
}

/// A scalar as text: strings trimmed, numbers and booleans printed; empty is `None`.
pub fn text(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// The first of `keys` present in `obj` as text.
pub fn field(obj: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| obj.get(k).and_then(text))
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.as_str(), "true" | "yes" | "on" | "1"),
        _ => false,
    }
}

/// SSH keys in any shape metadata uses: a list, a map of name to key (OpenStack), a string
/// of lines; each entry may itself hold several lines.
pub fn keys_of(v: &Value) -> Vec<String> {
    let mut out = Vec::new();
    match v {
        Value::String(s) => out.extend(key_lines(s)),
        Value::Array(a) => a.iter().for_each(|x| out.extend(keys_of(x))),
        Value::Object(m) => {
            // OpenStack's `public_keys` maps names to keys; sorted for a stable order.
            let mut names: Vec<&String> = m.keys().collect();
            names.sort();
            for n in names {
                out.extend(keys_of(&m[n]));
            }
        }
        _ => {}
    }
    out
}

/// The non-empty, non-comment lines of a keys document.
pub fn key_lines(s: &str) -> Vec<String> {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `hostname` and `ssh_authorized_keys` of `#cloud-config` user data; `None` when the data
/// is something else (an Ignition config, a script).
pub fn cloud_config(bytes: &[u8]) -> Result<Option<(Option<String>, Vec<String>)>> {
    if !bytes.starts_with(b"#cloud-config") {
        return Ok(None);
    }
    let v = parse_doc(bytes, "#cloud-config user data")?;
    let keys = v
        .get("ssh_authorized_keys")
        .map(keys_of)
        .unwrap_or_default();
    Ok(Some((field(&v, &["hostname"]), keys)))
}

fn ips(v: Option<&Value>) -> Vec<IpAddr> {
    let list = match v {
        Some(Value::Array(a)) => a.iter().filter_map(text).collect(),
        Some(other) => text(other)
            .map(|s| s.split([',', ' ']).map(str::to_string).collect())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    list.iter().filter_map(|s| s.trim().parse().ok()).collect()
}

fn is_default_route(to: &str) -> bool {
    matches!(to, "default" | "0.0.0.0/0" | "::/0" | "0.0.0.0" | "::")
}

/// The interfaces of a cloud-init `network-config` (version 1 or 2, with or without the
/// top-level `network:` key). Bonds, bridges and VLANs are left out (logged): the initrd
/// kargs cover plain interfaces only.
pub fn network_config(v: &Value) -> Result<Vec<Interface>> {
    let v = v.get("network").unwrap_or(v);
    match v.get("version").and_then(text).as_deref() {
        Some("1") => Ok(network_config_v1(v)),
        Some("2") => Ok(network_config_v2(v)),
        Some(other) => Err(Error::failed(format!(
            "network-config version {other} is not supported"
        ))),
        None if v.is_null() => Ok(Vec::new()),
        None => Err(Error::failed("network-config has no version")),
    }
}

fn network_config_v1(v: &Value) -> Vec<Interface> {
    let entries = v
        .get("config")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut ifaces = Vec::new();
    let mut global_dns = Vec::new();
    for e in &entries {
        match e.get("type").and_then(text).as_deref() {
            Some("physical") => {
                let mut i = Interface {
                    name: field(e, &["name"]),
                    mac: field(e, &["mac_address"]),
                    ..Default::default()
                };
                for s in e
                    .get("subnets")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let kind = field(s, &["type"]).unwrap_or_default();
                    match kind.as_str() {
                        "static" | "static6" => {
                            let addr = field(s, &["address"]).unwrap_or_default();
                            match parse_cidr(&addr, field(s, &["netmask"]).as_deref()) {
                                Some(a) => i.addresses.push(a),
                                None => log::warn!(
                                    "network-config: skipping a static subnet with a bad address"
                                ),
                            }
                            if let Some(g) = field(s, &["gateway"]).and_then(|g| g.parse().ok()) {
                                i.gateways.push(g);
                            }
                            i.nameservers.extend(ips(s.get("dns_nameservers")));
                        }
                        "dhcp" | "dhcp4" => i.dhcp4 = true,
                        "dhcp6" | "ipv6_dhcpv6-stateful" | "ipv6_dhcpv6-stateless" => {
                            i.dhcp6 = true
                        }
                        other => log::info!(
                            "network-config: subnet type {other:?} left to the real root"
                        ),
                    }
                }
                ifaces.push(i);
            }
            Some("nameserver") => global_dns.extend(ips(e.get("address"))),
            Some(other) => {
                log::info!("network-config: {other} entries are not turned into initrd kargs")
            }
            None => {}
        }
    }
    for i in &mut ifaces {
        i.nameservers.extend(global_dns.iter().copied());
    }
    ifaces
}

fn network_config_v2(v: &Value) -> Vec<Interface> {
    let mut ifaces = Vec::new();
    let Some(eths) = v.get("ethernets").and_then(Value::as_object) else {
        return ifaces;
    };
    for kind in ["bonds", "bridges", "vlans"] {
        if v.get(kind).is_some() {
            log::info!("network-config: {kind} are not turned into initrd kargs");
        }
    }
    for (id, e) in eths {
        let m = e.get("match");
        let name = field(e, &["set-name"])
            .or_else(|| {
                m.and_then(|m| field(m, &["name"]))
                    .filter(|n| !n.contains('*'))
            })
            .or_else(|| m.is_none().then(|| id.clone()));
        let mut i = Interface {
            name,
            mac: m.and_then(|m| field(m, &["macaddress"])),
            dhcp4: truthy(e.get("dhcp4")),
            dhcp6: truthy(e.get("dhcp6")),
            ..Default::default()
        };
        for a in e
            .get("addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match text(a).and_then(|a| parse_cidr(&a, None)) {
                Some(a) => i.addresses.push(a),
                None => log::warn!("network-config: skipping a bad address of {id}"),
            }
        }
        for g in ["gateway4", "gateway6"] {
            if let Some(g) = e.get(g).and_then(text).and_then(|g| g.parse().ok()) {
                i.gateways.push(g);
            }
        }
        for r in e
            .get("routes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let to = field(r, &["to"]).unwrap_or_default();
            if is_default_route(&to) {
                if let Some(g) = field(r, &["via"]).and_then(|g| g.parse().ok()) {
                    i.gateways.push(g);
                }
            }
        }
        i.nameservers = ips(e.get("nameservers").and_then(|n| n.get("addresses")));
        ifaces.push(i);
    }
    ifaces
}

/// The interfaces of OpenStack's `network_data.json`: one per link, in link order, with the
/// networks on it. Links carry no guest interface name (their ids are the host's), so the
/// name stays unset unless the link has a `name`.
pub fn network_data(v: &Value) -> Vec<Interface> {
    let links = v
        .get("links")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let networks = v
        .get("networks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let dns: Vec<IpAddr> = v
        .get("services")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| field(s, &["type"]).as_deref() == Some("dns"))
        .filter_map(|s| field(s, &["address"]).and_then(|a| a.parse().ok()))
        .collect();
    let mut ifaces = Vec::new();
    for l in &links {
        let id = field(l, &["id"]).unwrap_or_default();
        let ty = field(l, &["type"]).unwrap_or_default();
        if ty == "vlan" || ty == "bond" {
            // A VLAN or bond needs vlan=/bond= kargs naming the physical links; their
            // addresses must not land on a plain interface instead.
            log::info!("network_data.json: {ty} link {id:?} left to the real root");
            continue;
        }
        let mut i = Interface {
            name: field(l, &["name"]),
            mac: field(l, &["ethernet_mac_address"]),
            nameservers: dns.clone(),
            ..Default::default()
        };
        for n in networks
            .iter()
            .filter(|n| field(n, &["link"]).as_deref() == Some(&id))
        {
            let kind = field(n, &["type"]).unwrap_or_default();
            match kind.as_str() {
                "ipv4" | "ipv6" => {
                    let addr = field(n, &["ip_address"]).unwrap_or_default();
                    match parse_cidr(&addr, field(n, &["netmask"]).as_deref()) {
                        Some(a) => i.addresses.push(a),
                        None => {
                            log::warn!("network_data.json: skipping a bad address on link {id}")
                        }
                    }
                    for r in n
                        .get("routes")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let net = field(r, &["network"]).unwrap_or_default();
                        let mask = field(r, &["netmask"]).unwrap_or_default();
                        let default = is_default_route(&net)
                            && (mask.is_empty() || matches!(mask.as_str(), "0.0.0.0" | "::" | "0"));
                        let gw = field(r, &["gateway"]).and_then(|g| g.parse::<IpAddr>().ok());
                        if default {
                            i.gateways.extend(gw);
                            continue;
                        }
                        let m = (!mask.is_empty()).then_some(mask.as_str());
                        match (parse_cidr(&net, m), gw) {
                            (Some((net, prefix)), Some(gateway)) => i.routes.push(Route {
                                net,
                                prefix,
                                gateway,
                            }),
                            _ => log::warn!(
                                "network_data.json: skipping a route without a usable network or gateway on link {id}"
                            ),
                        }
                    }
                    for s in n
                        .get("services")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if field(s, &["type"]).as_deref() == Some("dns") {
                            i.nameservers.extend(
                                field(s, &["address"]).and_then(|a| a.parse::<IpAddr>().ok()),
                            );
                        }
                    }
                }
                "ipv4_dhcp" | "dhcp4" => i.dhcp4 = true,
                "ipv6_dhcp" | "ipv6_dhcpv6-stateful" | "ipv6_dhcpv6-stateless" | "dhcp6" => {
                    i.dhcp6 = true
                }
                other => {
                    log::info!("network_data.json: network type {other:?} left to the real root")
                }
            }
        }
        ifaces.push(i);
    }
    ifaces
}

/// The first static IPv4 and IPv6 address of the first interface that has any (Afterburn's
/// `*_IPV4` / `*_IPV6` attributes).
pub fn first_addresses(ifaces: &[Interface]) -> (Option<IpAddr>, Option<IpAddr>) {
    let Some(i) = ifaces.iter().find(|i| !i.addresses.is_empty()) else {
        return (None, None);
    };
    let v4 = i
        .addresses
        .iter()
        .find(|(a, _)| a.is_ipv4())
        .map(|(a, _)| *a);
    let v6 = i
        .addresses
        .iter()
        .find(|(a, _)| a.is_ipv6())
        .map(|(a, _)| *a);
    (v4, v6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::testserver::fixture;
    use serde_json::json;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn keys_in_every_shape() {
        assert_eq!(keys_of(&json!("k1\n\n# c\nk2\n")), ["k1", "k2"]);
        assert_eq!(keys_of(&json!(["k1", "k2\nk3"])), ["k1", "k2", "k3"]);
        assert_eq!(keys_of(&json!({"b": "k2", "a": "k1"})), ["k1", "k2"]);
        assert!(keys_of(&json!(null)).is_empty());
    }

    #[test]
    fn cloud_config_user_data() {
        let (h, k) = cloud_config(&fixture("proxmoxve/cidata-cloudconfig/user-data"))
            .unwrap()
            .unwrap();
        assert_eq!(h.as_deref(), Some("pve-nestos"));
        assert_eq!(k.len(), 1);
        assert_eq!(cloud_config(b"{\"ignition\":{}}").unwrap(), None);
    }

    #[test]
    fn v1_static_with_global_dns() {
        let v = parse_doc(&fixture("proxmoxve/cidata-static/network-config"), "x").unwrap();
        let i = network_config(&v).unwrap();
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].name.as_deref(), Some("eth0"));
        assert_eq!(
            i[0].addresses,
            [(ip("192.168.10.20"), 24), (ip("2001:db8::20"), 64)]
        );
        assert_eq!(i[0].gateways, [ip("192.168.10.1"), ip("2001:db8::1")]);
        assert_eq!(i[0].nameservers, [ip("192.168.10.2"), ip("1.1.1.1")]);
        assert!(i[1].dhcp4 && !i[1].dhcp6);
    }

    #[test]
    fn v2_match_set_name_routes() {
        let v = parse_doc(&fixture("kubevirt/cidata-static/network-config"), "x").unwrap();
        let i = network_config(&v).unwrap();
        assert_eq!(i.len(), 1);
        assert_eq!(i[0].name.as_deref(), Some("enp1s0"));
        assert_eq!(i[0].mac.as_deref(), Some("52:54:00:12:34:56"));
        assert_eq!(i[0].addresses, [(ip("10.10.0.5"), 24)]);
        assert_eq!(i[0].gateways, [ip("10.10.0.1")]);
        assert_eq!(i[0].nameservers, [ip("10.10.0.2")]);
        assert!(network_config(&json!({"version": 3})).is_err());
        assert!(network_config(&json!({"config": []})).is_err());
        assert!(network_config(&Value::Null).unwrap().is_empty());
    }

    #[test]
    fn openstack_network_data() {
        let v = parse_doc(
            &fixture("kubevirt/config-2-static/openstack/latest/network_data.json"),
            "x",
        )
        .unwrap();
        let i = network_data(&v);
        assert_eq!(i.len(), 2);
        assert_eq!(i[0].mac.as_deref(), Some("52:54:00:aa:bb:cc"));
        assert_eq!(i[0].addresses, [(ip("10.20.0.5"), 24)]);
        assert_eq!(i[0].gateways, [ip("10.20.0.1")]);
        assert_eq!(i[0].nameservers, [ip("10.20.0.2")]);
        assert!(i[1].dhcp4);
        assert_eq!(first_addresses(&i), (Some(ip("10.20.0.5")), None));
    }
}
