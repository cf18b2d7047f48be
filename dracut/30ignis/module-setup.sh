#!/bin/bash
# dracut module for ignis, the Ignition-compatible first-boot agent: the static binary, one
# oneshot unit per stage, the targets a first boot (or a later boot) pulls in, the generator that
# picks between them, on-demand networking for the fetch stage, and the failure reporter that
# says on the console why a first boot ended in emergency mode.
#
# Build-time input: IGNIS_BIN, the static ignis binary to install (default /usr/bin/ignis).

# Only when asked for (dracut -m/--add, or a distro module's depends()): a generic or host-only
# build on a machine that merely has this module installed must not gain a first-boot agent.
check() {
    return 255
}

# bash: our generator and helper scripts are bash.
# systemd, systemd-initrd, dracut-systemd: the stages are systemd units ordered against the
#   initrd targets (initrd-root-fs.target, sysroot.mount, initrd-parse-etc.service).
# udev-rules: the disks stage needs udev to settle new partitions and by-label links.
# systemd-networkd: the initrd network, started only when fetch-offline asks for it
#   (ignis-neednet.service). Not dracut's generic "network" module: in dracut 059 that resolves
#   to NetworkManager wherever NM is installed, and ignis-neednet drives networkd only (the one
#   handler tested); on Debian 12 "network" would pick networkd anyway.
depends() {
    echo bash systemd systemd-initrd dracut-systemd udev-rules systemd-networkd
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
        dfatal "ignis: cannot install required file(s): $*"
        exit 1
    }
}

install() {
    local bin="${IGNIS_BIN:-/usr/bin/ignis}"
    if [[ ! -x $bin ]]; then
        dfatal "ignis: binary $bin missing or not executable (set IGNIS_BIN to the static ignis build)"
        exit 1
    fi
    inst_simple "$bin" /usr/bin/ignis || {
        dfatal "ignis: cannot install $bin"
        exit 1
    }

    # What the stages run (Ignition's tool set): disks, users and groups, udev settling.
    ignis_require udevadm mkfs.ext4 mkfs.xfs mkfs.fat mkfs.vfat mkswap wipefs sgdisk partx \
        blkid lsblk mdadm cryptsetup useradd usermod userdel groupadd groupmod groupdel \
        mount umount modprobe
    # Optional: btrfs only where btrfs-progs is installed; setfiles only where SELinux tooling
    # is (the files stage relabels only when the target root has a policy).
    inst_multiple -o mkfs.btrfs setfiles chroot
    inst_simple -o /etc/mke2fs.conf 2>/dev/null || :

    inst_script "$moddir/ignis-generator" "$systemdutildir/system-generators/ignis-generator"
    inst_script "$moddir/ignis-neednet.sh" /usr/libexec/ignis/ignis-neednet
    inst_script "$moddir/ignis-failure.sh" /usr/libexec/ignis/ignis-failure

    local u
    for u in ignis-complete.target ignis-subsequent.target ignis-diskful.target \
        ignis-diskful-subsequent.target ignis-fetch-offline.service ignis-fetch.service \
        ignis-kargs.service ignis-disks.service ignis-mount.service ignis-files.service \
        ignis-remount-sysroot.service ignis-neednet.service ignis-failure.service; do
        inst_simple "$moddir/$u" "$systemdsystemunitdir/$u" || {
            dfatal "ignis: cannot install unit $u"
            exit 1
        }
    done

    # The first boot is these units, in the order their After=/Before= lines give.
    for u in ignis-fetch-offline.service ignis-fetch.service ignis-kargs.service \
        ignis-disks.service ignis-mount.service ignis-files.service; do
        $SYSTEMCTL -q --root "$initdir" add-requires ignis-complete.target "$u"
    done
    # Networking is wanted, not required: it decides for itself (neednet flag) whether to run.
    $SYSTEMCTL -q --root "$initdir" add-wants ignis-complete.target ignis-neednet.service
    # A disk-backed first boot also needs /sysroot writable (live images do not).
    $SYSTEMCTL -q --root "$initdir" add-requires ignis-diskful.target ignis-remount-sysroot.service
    # Every emergency stop says which stage failed and why, before the shell (or poweroff).
    $SYSTEMCTL -q --root "$initdir" add-wants emergency.target ignis-failure.service
}
