#!/bin/bash
# dracut module "vmtest-nestos": the VM tests' stand-in for NestOS's own initrd glue
# (35nestos-ignition, 35nestos-network, 40ignition-conf), written from the contract those
# modules keep with Ignition, not from their code. It talks to the first-boot agent only through
# Ignition's names: the module name "ignition", the ignition-*.service units it orders against,
# ignition-complete.target it hooks into, /run/ignition/neednet, /usr/lib/ignition/user.ign and
# base.d, afterburn-network-kargs.service's environment, /etc/.ignition-result.json and the
# journal identifier "ignition". It never names ignis.

check() {
    return 255
}

# ignition: the agent (any module of that name). network: NetworkManager here, as on NestOS.
depends() {
    echo systemd network ignition
    return 0
}

glue_unit() {
    inst_simple "$moddir/$1" "$systemdsystemunitdir/$1" || exit 1
    $SYSTEMCTL -q --root "$initdir" add-requires ignition-complete.target "$1" || exit 1
}

install() {
    inst_multiple mount umount cp mkdir sed sort journalctl ip tr
    inst_script "$moddir/vmtest-nestos-setup-user.sh" /usr/sbin/vmtest-nestos-setup-user
    inst_script "$moddir/vmtest-nestos-enable-network.sh" /usr/sbin/vmtest-nestos-enable-network
    inst_script "$moddir/vmtest-nestos-write-issues.sh" /usr/sbin/vmtest-nestos-write-issues
    glue_unit vmtest-nestos-setup-user.service
    glue_unit vmtest-nestos-enable-network.service
    glue_unit vmtest-nestos-write-issues.service

    # NestOS's base config: the admin user "nest" in its groups.
    inst_simple "$moddir/00-nest.ign" /usr/lib/ignition/base.d/00-nest.ign
    # NestOS's default for Afterburn's network kargs, as a drop-in on Afterburn's unit name.
    inst_simple "$moddir/50-afterburn-network-kargs-default.conf" \
        "$systemdsystemunitdir/afterburn-network-kargs.service.d/50-afterburn-network-kargs-default.conf"
}
