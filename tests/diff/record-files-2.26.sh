#!/bin/sh
# Re-record the Ignition v2.26.0 trees of the files differential corpus
# (tests/diff/files-2.26/*.tree), which tests/files_diff/oracle_226.rs compares
# ignis against.
#
# usage: tests/diff/record-files-2.26.sh [PATH/TO/ignition]
#
# The binary defaults to $IGNITION_226_BIN, then /opt/ignis-oracle/bin/ignition,
# and must report "Ignition v2.26.0". Without it, nothing is recorded and the
# script says why (exit 0): CI has no oracle. Needs root (useradd --root, chown,
# setfiles) and systemctl, unshare and mount, like the 2.14 comparison.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
oracle=${1:-${IGNITION_226_BIN:-/opt/ignis-oracle/bin/ignition}}
if [ ! -x "$oracle" ]; then
    echo "skipped: no Ignition v2.26.0 binary at $oracle (see tests/diff/README.md to build one)" >&2
    exit 0
fi
oracle=$(cd "$(dirname "$oracle")" && pwd)/$(basename "$oracle")
cd "$here/../.."
IGNIS_RECORD_FILES_226=1 IGNITION_226_BIN=$oracle \
    cargo test -q --test files_differential record_files_2_26 -- --nocapture
git status --short tests/diff/files-2.26
