#!/bin/bash
# Copies ignition/config.ign from the boot partition to /usr/lib/ignition/user.ign, if there.
set -euo pipefail
mnt=/mnt/boot_partition
mkdir -p "$mnt" /usr/lib/ignition
mount -o ro /dev/disk/by-label/boot "$mnt"
if [[ -f $mnt/ignition/config.ign ]]; then
    cp "$mnt/ignition/config.ign" /usr/lib/ignition/user.ign
    echo "vmtest-nestos: user config copied from the boot partition"
else
    echo "vmtest-nestos: no ignition/config.ign on the boot partition"
fi
