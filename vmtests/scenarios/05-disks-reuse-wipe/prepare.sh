#!/usr/bin/env bash
# Host side, before the boot: GPT with "keep" (64 MiB ext4 "keepme", fixed UUID, /keep.txt) and
# "wipe" (320 MiB ext4 "old"). Filesystems first: mke2fs clears the start of its region.
set -euo pipefail
img=$1
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
printf 'kept across the first boot\n' > "$tree/keep.txt"
mkfs.ext4 -q -F -L keepme -U 8f5cd9a6-5a4a-4c8e-9d57-2f1c6a0b7e11 -d "$tree" \
    -E offset=$((1 << 20)) "$img" 64M
mkfs.ext4 -q -F -L old -E offset=$((65 << 20)) "$img" 320M
sgdisk -n 1:1M:+64M -c 1:keep -t 1:8300 -n 2:65M:+320M -c 2:wipe -t 2:8300 "$img" >/dev/null
