#!/bin/bash
# Brings the initrd network up for the fetch stage (run by ignis-neednet.service, which runs
# only when fetch-offline left /run/ignition/neednet or rd.neednet=1 is set).
#
# Handler: systemd-networkd (the dracut module this one depends on). dracut 059 has no
# rd.neednet logic for networkd: networkd configures only links that have a .network file, and
# systemd-network-generator turns ip=/nameserver=/rd.route= into such files under
# /run/systemd/network. So: if the command line configured nothing, add DHCP on every
# Ethernet link (what ip=auto means for CoreOS), start networkd, and wait until a link is
# routable. A wait that times out is only a warning: the fetch stage then reports the real,
# more precise error (which URL could not be reached).
set -euo pipefail

timeout=${IGNIS_NEEDNET_TIMEOUT:-60}

say() { echo "ignis-neednet: $*"; }

if [[ $(systemctl show -p LoadState --value systemd-networkd.service) != loaded ]]; then
    say "systemd-networkd is not in this initramfs: cannot bring networking up" >&2
    exit 1
fi

configured=0
for f in /run/systemd/network/*.network /etc/systemd/network/*.network; do
    [[ -e $f ]] && configured=1
done
if [[ $configured == 0 ]]; then
    mkdir -p /run/systemd/network
    cat > /run/systemd/network/90-ignis-dhcp.network <<'NET'
# Written by ignis-neednet: no ip= on the command line, so DHCP on every Ethernet link.
[Match]
Kind=!*
Type=ether

[Network]
DHCP=yes
NET
    say "no network configuration on the command line: DHCP on all Ethernet links"
fi

# networkd may be running already, or starting right now: its netlink socket activates it as
# soon as a NIC appears (it then manages nothing, having no .network for it). A restart reads
# the configuration written above whoever started it and whenever; `networkctl reload` would
# need D-Bus, which the initrd does not run.
systemctl restart systemd-networkd.service

wait_online=""
for d in /usr/lib/systemd /lib/systemd; do
    [[ -x $d/systemd-networkd-wait-online ]] && wait_online=$d/systemd-networkd-wait-online && break
done
if [[ -z $wait_online ]]; then
    say "systemd-networkd-wait-online missing: not waiting for a routable link" >&2
    exit 0
fi
start=$SECONDS
if "$wait_online" --any --operational-state=routable --timeout="$timeout"; then
    say "network up after $((SECONDS - start)) s"
else
    say "no routable link after ${timeout} s; the fetch stage will try anyway" >&2
    networkctl --no-pager list >&2 || :
fi
