#!/bin/bash
# rd.neednet=1 for dracut, then NetworkManager's cmdline hook again: it regenerates the
# connection profiles (ip= kargs, Afterburn's /etc/cmdline.d file) and flags nm-initrd to start.
set -euo pipefail
set +eu
. /lib/dracut-lib.sh
set -eu
if ! getargbool 0 rd.neednet; then
    echo "rd.neednet=1" > /etc/cmdline.d/40-vmtest-neednet.conf
    set +eu
    . /usr/lib/dracut/hooks/cmdline/99-nm-config.sh
    set -eu
fi
echo "vmtest-nestos: networking requested (NetworkManager)"
