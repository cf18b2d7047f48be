#!/bin/sh
# Regenerate the gold outputs of the differential corpus.
#
# usage: tests/diff/record.sh PATH/TO/ignition-validate [OUTDIR [newer]]
#
# Generates the corpus with gen_corpus.py into a temporary directory, runs the
# given ignition-validate on every config and writes, per config NNN-name.ign,
# OUTDIR/NNN-name.out containing
#     exit <status>
#     <stdout and stderr of ignition-validate, verbatim>
# OUTDIR defaults to tests/diff/expected-2.14 (the version these were
# recorded with: Debian ignition 2.14.0+ds1-1+b6).
#
# With `newer`, the corpus is first replaced by its configs that name
# "3.3.0" exactly once, each at every version in NEWER below, as
# NNN-name@VERSION.ign (tests/differential.rs derives the same set); that is
# how tests/diff/expected-2.26-newer is recorded (see README.md).
set -eu

NEWER="3.4.0 3.5.0 3.6.0 3.7.0-experimental"

if [ $# -lt 1 ] || [ $# -gt 3 ] || { [ $# -eq 3 ] && [ "$3" != newer ]; }; then
    echo "usage: $0 PATH/TO/ignition-validate [OUTDIR [newer]]" >&2
    exit 2
fi
validator=$1
here=$(cd "$(dirname "$0")" && pwd)
outdir=${2:-$here/expected-2.14}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
python3 "$here/gen_corpus.py" "$tmp/corpus"
if [ "${3:-}" = newer ]; then
    python3 - "$tmp/corpus" $NEWER <<'PY'
import os, sys
d, versions = sys.argv[1], sys.argv[2:]
for f in sorted(os.listdir(d)):
    p = os.path.join(d, f)
    src = open(p, "rb").read()
    os.remove(p)
    if src.count(b'"3.3.0"') != 1:
        continue
    for v in versions:
        out = os.path.join(d, f[:-len(".ign")] + "@" + v + ".ign")
        open(out, "wb").write(src.replace(b'"3.3.0"', b'"' + v.encode() + b'"'))
PY
fi

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
