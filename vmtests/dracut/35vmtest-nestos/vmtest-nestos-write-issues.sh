#!/bin/bash
# Writes /sysroot/etc/issue.d/30_vmtest_ignition.issue from /sysroot/etc/.ignition-result.json
# (provisioningDate, userConfigProvided) and `journalctl -t ignition -p warning`, with the
# config positions (", line N col M") dropped and duplicates removed.
set -euo pipefail
result=/sysroot/etc/.ignition-result.json
out=/sysroot/etc/issue.d/30_vmtest_ignition.issue
[[ -f $result ]] || { echo "vmtest-nestos: no $result" >&2; exit 1; }
json=$(<"$result")
date=unknown
sp='[[:space:]]*'
[[ $json =~ \"provisioningDate\"$sp:$sp\"([^\"]*)\" ]] && date=${BASH_REMATCH[1]}
mkdir -p "${out%/*}"
{
    echo "Ignition: ran on $date (this boot)"
    if [[ $json =~ \"userConfigProvided\"$sp:${sp}true ]]; then
        echo "Ignition: user-provided config was applied"
    else
        echo "Ignition: no config provided by user"
    fi
    journalctl --sync 2>/dev/null || :
    journalctl -b -t ignition -o cat -p warning --no-pager |
        sed -E 's/, line [0-9]+ col [0-9]+//g' | sort -u | sed 's/^/Ignition: /'
} > "$out.tmp"
mv "$out.tmp" "$out"
# For the tests: the addresses the initrd's network stack configured (static or DHCP).
echo "vmtest-nestos: initrd IPv4: $(ip -4 -br addr show 2>/dev/null | tr -s ' ' | tr '\n' ';')"
echo "vmtest-nestos: wrote ${out#/sysroot}"
