#!/bin/sh
# Regenerate the gold outputs of the differential corpus.
#
# usage: tests/diff/record.sh PATH/TO/ignition-validate [OUTDIR]
#
# Generates the corpus with gen_corpus.py into a temporary directory, runs the
# given ignition-validate on every config and writes, per config NNN-name.ign,
# OUTDIR/NNN-name.out containing
#     exit <status>
#     <stdout and stderr of ignition-validate, verbatim>
# OUTDIR defaults to tests/diff/expected-2.14 (the version these were
# recorded with: Debian ignition 2.14.0+ds1-1+b6).
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PATH/TO/ignition-validate [OUTDIR]" >&2
    exit 2
fi
validator=$1
here=$(cd "$(dirname "$0")" && pwd)
outdir=${2:-$here/expected-2.14}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
python3 "$here/gen_corpus.py" "$tmp/corpus"

mkdir -p "$outdir"
rm -f "$outdir"/*.out
n=0
for f in "$tmp"/corpus/*.ign; do
    name=$(basename "$f" .ign)
    set +e
    (cd "$tmp/corpus" && "$validator" "$name.ign") >"$tmp/out" 2>&1
    rc=$?
    set -e
    { echo "exit $rc"; cat "$tmp/out"; } >"$outdir/$name.out"
    n=$((n + 1))
done
echo "recorded $n outputs in $outdir" >&2
