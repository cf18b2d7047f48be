#!/bin/bash
# dracut module "ignition": ignis, the Ignition-compatible first-boot agent, under Ignition's
# names, so that it replaces Ignition's own 30ignition (and Afterburn's 30afterburn) and the
# distro modules written for them keep working: the static binary as /usr/bin/ignition (plus
# /usr/bin/ignis and /usr/bin/afterburn, the same file), one oneshot unit per stage
# (ignition-<stage>.service), the targets a first boot (or a later boot) pulls in, the generator
# that picks between them, Afterburn's two initrd units, networking for the fetch stage where the
# image's network handler is systemd-networkd, and the failure reporter that says on the console
# why a first boot ended in emergency mode.
#
# Build-time input: IGNIS_BIN, the static ignis binary to install (default /usr/bin/ignis).

# Only when asked for (dracut -m/--add, or a distro module's depends(), as NestOS's
# 35nestos-ignition does): a generic or host-only build on a machine that merely has this
# module installed must not gain a first-boot agent.
check() {
    return 255
}

# bash: our generator and helper scripts are bash.
# systemd, systemd-initrd, dracut-systemd: the stages are systemd units ordered against the
#   initrd targets (initrd-root-fs.target, sysroot.mount, initrd-parse-etc.service).
# udev-rules: the disks stage needs udev to settle new partitions and by-label links.
# network: dracut's generic network module, as Ignition's module has it. It picks the image's
#   handler: network-manager where NetworkManager is in the image (NestOS) or installed,
#   systemd-networkd where that is requested or the only one there. Never a hard dependency on
#   one of them: NestOS omits systemd-networkd, and a module that required it was dropped,
#   together with every module depending on "ignition".
depends() {
    echo bash systemd systemd-initrd dracut-systemd udev-rules network
    return 0
}

# Kernel modules the stages load themselves, whatever drivers the image builder chose:
# qemu_fw_cfg for the qemu platform's config, dm_crypt for LUKS, md for RAID.
installkernel() {
    hostonly='' instmods qemu_fw_cfg dm_crypt md_mod raid0 raid1 raid10 raid456
}

# Installs or aborts the whole build: dracut ignores install()'s return value, so a missing
# binary would otherwise give an image whose stages die with 203/EXEC at boot.
ignis_require() {
    inst_multiple "$@" || {
        dfatal "ignition (ignis): cannot install required file(s): $*"
        exit 1
    }
}

ignis_unit() {
    inst_simple "$moddir/$1" "$systemdsystemunitdir/$1" || {
        dfatal "ignition (ignis): cannot install unit $1"
        exit 1
    }
}

install() {
    local bin="${IGNIS_BIN:-/usr/bin/ignis}"
    if [[ ! -x $bin ]]; then
        dfatal "ignition (ignis): binary $bin missing or not executable (set IGNIS_BIN to the static ignis build)"
        exit 1
    fi
    # One file, three names: ignis reads argv[0] (ignition = the stages, afterburn = Afterburn's
    # command line). /usr/bin/ignis keeps ignis's own name for people at an emergency shell.
    inst_simple "$bin" /usr/bin/ignition || {
        dfatal "ignition (ignis): cannot install $bin"
        exit 1
    }
    ln_r /usr/bin/ignition /usr/bin/ignis
    ln_r /usr/bin/ignition /usr/bin/afterburn

    # Exactly the programs ignis runs, nothing of Ignition's tool set that it replaced: GPT
    # partitioning (no sgdisk, partx), probing (libblkid linked in: no blkid, lsblk) and users
    # and groups (no shadow-utils, chroot) are native. What it still runs: udevadm (settling
    # after partitioning), mkfs.ext4/mkfs.xfs/mkfs.fat/mkswap and wipefs (filesystems), mdadm
    # (RAID), cryptsetup (LUKS), mount/umount (the mount stage, config drives and the boot
    # partition for kargs), modprobe (qemu_fw_cfg, drive modules). Distro glue installs its own
    # tools (NestOS's modules install sgdisk, partx, blkid, lsblk for their scripts).
    ignis_require udevadm mkfs.ext4 mkfs.xfs mkfs.fat mkswap wipefs mdadm cryptsetup \
        mount umount modprobe
    # Optional: btrfs only where btrfs-progs is installed; setfiles only where SELinux tooling
    # is (the files stage labels natively; setfiles is its fallback for a policy whose file
    # contexts use regex constructs beyond its reader). Not installed
    # here: clevis (LUKS with Clevis runs it when the image's clevis module put it in),
    # is-live-image and ignition-kargs-helper (the distro's, run when present).
    inst_multiple -o mkfs.btrfs setfiles
    inst_simple -o /etc/mke2fs.conf 2>/dev/null || :

    inst_script "$moddir/ignition-generator" "$systemdutildir/system-generators/ignition-generator"
    inst_script "$moddir/ignis-failure.sh" /usr/libexec/ignis/ignis-failure

    local u
    for u in ignition-complete.target ignition-subsequent.target ignition-diskful.target \
        ignition-diskful-subsequent.target ignition-fetch-offline.service ignition-fetch.service \
        ignition-kargs.service ignition-disks.service ignition-mount.service ignition-files.service \
        ignition-remount-sysroot.service ignis-failure.service \
        afterburn-network-kargs.service afterburn-hostname.service; do
        ignis_unit "$u"
    done

    # The first boot is these units, in the order their After=/Before= lines give.
    for u in ignition-fetch-offline.service ignition-fetch.service ignition-kargs.service \
        ignition-disks.service ignition-mount.service ignition-files.service; do
        $SYSTEMCTL -q --root "$initdir" add-requires ignition-complete.target "$u"
    done
    # Afterburn's initrd units run on first boots only, as Afterburn's 30afterburn hooks them.
    for u in afterburn-network-kargs.service afterburn-hostname.service; do
        $SYSTEMCTL -q --root "$initdir" add-requires ignition-complete.target "$u"
    done

    # Signed configs (docs/signed-configs.md): the build host's trusted keys go into the image,
    # where their presence alone makes signatures required.
    local k
    for k in /etc/ignis/trusted-keys.d/*.pub; do
        if [[ -f $k ]]; then inst_simple "$k"; fi
    done
    # A disk-backed first boot also needs /sysroot writable (live images do not).
    $SYSTEMCTL -q --root "$initdir" add-requires ignition-diskful.target ignition-remount-sysroot.service
    # Every emergency stop says which stage failed and why, before the shell (or poweroff).
    $SYSTEMCTL -q --root "$initdir" add-wants emergency.target ignis-failure.service

    # The network for the fetch stage. fetch-offline leaves /run/ignition/neednet when the
    # config needs it; what brings the network up then depends on the image's handler:
    # - network-manager (NestOS): the distro's glue, as with Ignition (NestOS's
    #   nestos-enable-network turns the flag into rd.neednet=1 for nm-initrd). ignis adds
    #   nothing: a second network stack would fight NetworkManager for the NICs.
    # - systemd-networkd: dracut 059 has no rd.neednet logic for it, so ignis-neednet does it.
    if dracut_module_included "systemd-networkd" && ! dracut_module_included "network-manager"; then
        inst_script "$moddir/ignis-neednet.sh" /usr/libexec/ignis/ignis-neednet
        ignis_unit ignis-neednet.service
        # Wanted, not required: it decides for itself (neednet flag) whether to run.
        $SYSTEMCTL -q --root "$initdir" add-wants ignition-complete.target ignis-neednet.service
    fi
}
