"""What every part of the VM-test harness shares: the repository paths, the markers a boot
prints (tiny OS reached, stage failed), the secret canary, the root disk label and the base
kernel command line, the log line and the host-tool runner."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
VMTESTS = REPO / "vmtests"
SCENARIOS = VMTESTS / "scenarios"

# The stages that exist as units; fetch-offline and fetch are always needed.
STAGES = ("fetch-offline", "fetch", "kargs", "disks", "mount", "files")
# Printed by the tiny OS's /sbin/init once the first boot switched root into it.
OS_MARKER = "IGNIS-VMTEST: tiny OS reached"
# Printed by ignis-failure.service when a stage failed.
FAILED_RE = re.compile(r"ignis: first boot FAILED in stage (\S+)")
# Every scenario config marks its secret-ish contents with this; it must never reach the console.
CANARY = "vmtest-canary"
ROOT_LABEL = "vmtest-root"
BASE_CMDLINE = (
    "console=ttyS0 panic=-1 rd.shell=0 rd.emergency=poweroff "
    f"root=LABEL={ROOT_LABEL}"
)
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def log(msg: str) -> None:
    print(f"vmtests: {msg}", flush=True)


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """Runs a host tool; output captured as text."""
    return subprocess.run(cmd, capture_output=True, text=True, **kw)

