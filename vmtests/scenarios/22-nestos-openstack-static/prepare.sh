#!/bin/bash
# The OpenStack config drive: a FAT filesystem labelled config-2 (stored upper case) holding
# openstack/latest/{user_data,network_data.json,meta_data.json}, as Nova writes it (it also
# offers iso9660). user_data is the rendered scenario file (its @HTTP@ filled in).
set -euo pipefail
img=$1
here=$(cd "$(dirname "$0")" && pwd)
rendered=${VMTEST_RENDERED:?}
mkfs.vfat -n config-2 "$img" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$img" ::openstack ::openstack/latest
mcopy -i "$img" "$rendered/user_data" ::openstack/latest/user_data
mcopy -i "$img" "$here/network_data.json" ::openstack/latest/network_data.json
mcopy -i "$img" "$here/meta_data.json" ::openstack/latest/meta_data.json
