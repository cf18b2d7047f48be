#!/bin/bash
# Run by ignis-failure.service when the initrd enters emergency mode. If a unit of this module
# failed (the stages ignition-*.service, ignis-neednet, afterburn-*),
# prints on the console a short, readable reason: the stage, systemd's verdict, the error chain
# ignis logged (its CRITICAL lines: report entries and the final chain; ignis never logs config
# bodies, secrets or key material, and only those lines are shown), and the command that shows
# the full log. Prints nothing when no ignis unit failed. Never fails itself.
set -uo pipefail

max_lines=12
max_width=400

if ! exec 3>/dev/console; then
    exec 3>/dev/null
fi
out() {
    printf 'ignis: %s\n' "$*"
    printf 'ignis: %s\n' "$*" >&3
}

# Let journald take in whatever the failed stage wrote just before it exited.
journalctl --sync 2>/dev/null || :

# (No awk in a lean initramfs: the first word of each line is the unit name.)
failed=()
while read -r unit _; do
    [[ -n $unit ]] && failed+=("$unit")
done < <(systemctl list-units --failed --plain --no-legend --no-pager --type=service \
    'ignition-*' 'ignis-*' 'afterburn-*' 2>/dev/null)
[[ ${#failed[@]} -gt 0 ]] || exit 0

for unit in "${failed[@]}"; do
    stage=${unit#ignition-}
    stage=${stage#ignis-}
    stage=${stage%.service}
    result=$(systemctl show -p Result --value "$unit" 2>/dev/null)
    status=$(systemctl show -p ExecMainStatus --value "$unit" 2>/dev/null)
    out "------------------------------------------------------------------------"
    out "first boot FAILED in stage $stage ($unit: ${result:-unknown}, exit status ${status:-?})"
    # ignis's error lines, last $max_lines of them, each cut at $max_width characters
    # (plain bash: sed/tail/cut are not in every initramfs).
    # ignis sends its lines to journald natively (identifier ignition, errors at priority
    # crit, the stage in IGNIS_STAGE: an entry sent just before exiting may lack the unit);
    # without journald's socket they came through the unit's output as `CRITICAL : ...`.
    reason=()
    while IFS= read -r line; do
        reason+=("${line:0:max_width}")
    done < <(journalctl -b -o cat --no-pager -p crit SYSLOG_IDENTIFIER=ignition "IGNIS_STAGE=$stage" 2>/dev/null)
    if [[ ${#reason[@]} -eq 0 ]]; then
        # Not a stage (the Afterburn units log as "afterburn"): the unit's own crit entries.
        while IFS= read -r line; do
            reason+=("${line:0:max_width}")
        done < <(journalctl -b -o cat --no-pager -p crit -u "$unit" 2>/dev/null)
    fi
    if [[ ${#reason[@]} -eq 0 ]]; then
        while IFS= read -r line; do
            if [[ $line =~ ^CRITICAL\ *:\ *(.*)$ ]]; then
                reason+=("${BASH_REMATCH[1]:0:max_width}")
            fi
        done < <(journalctl -b -u "$unit" -o cat --no-pager 2>/dev/null)
    fi
    if [[ ${#reason[@]} -eq 0 ]]; then
        # No error line from ignis itself (it did not start, or was killed): systemd's own
        # messages about the unit say why.
        while IFS= read -r line; do
            reason+=("${line:0:max_width}")
        done < <(journalctl -b -u "$unit" -o cat --no-pager -n 5 2>/dev/null)
    fi
    if [[ ${#reason[@]} -gt $max_lines ]]; then
        reason=("${reason[@]: -max_lines}")
    fi
    out "reason:"
    for line in "${reason[@]}"; do
        out "  $line"
    done
    out "full log: journalctl -b -u $unit   (all stages: journalctl -b -u 'ignition-*')"
done
out "------------------------------------------------------------------------"
exit 0
