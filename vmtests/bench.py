#!/usr/bin/env python3
"""Boot race: the same first-boot config, booted N times with Debian's Ignition 2.14 initramfs and
N times with ignis's, in the same harness conditions (same kernel, accel, -smp, -m, root disk).
Reports per agent the initramfs size and the medians of (a) kernel start to the end of the files
stage (the kernel timestamp of systemd's "Finished <agent>-files.service" message), (b) the
stages alone (fetch-offline start to files done) and (c) QEMU start to poweroff (wall clock),
then how much shorter ignis's stages are. Run through scripts/vm-bench; see vmtests/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True  # run as root from the source tree: no root-owned __pycache__
from vmharness.boot import Build, run_scenario  # noqa: E402
from vmharness.common import ANSI_RE, REPO, VMTESTS, log  # noqa: E402
from vmharness.images import kernel_version, make_root_template  # noqa: E402
from vmharness.qemu import Machine, probe_kvm  # noqa: E402
from vmharness.scenarios import Scenario  # noqa: E402

CONFIG = VMTESTS / "bench/config.ign"
# Debian builds Ignition with SelinuxRelabel=true: its files stage reads /etc/selinux/config of
# the target root and runs setfiles, and fails when the file is missing. The stub disables
# SELinux and relabels nothing, but Ignition still runs setfiles over the written paths; ignis
# reads the same file and skips the relabel ("SELinux is disabled in the target"). Both agents
# get the same disk.
SELINUX_STUB = {
    "/etc/selinux/config": "SELINUX=disabled\nSELINUXTYPE=stub\n",
    "/etc/selinux/stub/contexts/files/file_contexts": "/.*\t<<none>>\n",
}
# systemd in the initrd logs to the journal once journald runs; sent to kmsg instead, every
# "Finished" message carries a kernel timestamp on the console. No kmsg rate limit for either.
CMDLINE = "ignition.firstboot ignition.platform.id=qemu systemd.log_target=kmsg printk.devkmsg=on"
TS = r"^\[\s*(\d+\.\d+)\]"
CHECKS = [
    {"type": "file", "path": "/etc/hostname", "contents": "nestos-bench\n"},
    {"type": "file", "path": "/etc/motd.d/10-bench.motd", "contents": "provisioned on the first boot\n"},
    {"type": "file", "path": "/var/lib/demo", "node": "directory"},
    {"type": "file", "path": "/etc/localtime", "node": "symlink", "target": "/usr/share/zoneinfo/UTC"},
    {"type": "file", "path": "/etc/systemd/system/demo.service", "contains": ["bench demo"]},
    {"type": "file", "path": "/etc/passwd", "regex": [r"^core:"]},
    {"type": "file", "path": "/etc/group", "regex": [r"^ops:.*core"]},
]


STAGE_UNITS = ["ignition-fetch-offline", "ignition-fetch", "ignition-kargs", "ignition-disks",
               "ignition-mount", "ignition-files"]


def stamps(console: Path, agent: str) -> dict[str, float | None]:
    text = ANSI_RE.sub("", console.read_text(errors="replace")) if console.exists() else ""

    def first(pat: str) -> float | None:
        m = re.search(TS + r".*" + pat, text, re.M)
        return float(m.group(1)) if m else None
    # The agent's own time: each stage unit from "Starting" to "Finished" (a skipped unit
    # counts nothing), summed. The rest of "fetch-offline start to files done" is the boot path
    # both agents share (udev, the root device, fsck, sysroot.mount), which runs meanwhile.
    own = 0.0
    for unit in STAGE_UNITS:
        start = first(rf"systemd\[1\]: Starting {unit}\.service")
        done = first(rf"systemd\[1\]: Finished {unit}\.service")
        if start is not None and done is not None:
            own += done - start
    return {
        "units_s": round(own, 2),
        "init_s": first(r"Run /init as init process"),
        "stages_start_s": first(rf"systemd\[1\]: Starting ignition-fetch-offline\.service"),
        "files_done_s": first(rf"systemd\[1\]: Finished ignition-files\.service"),
        "poweroff_s": first(r"reboot: Power down"),
    }


def med(xs: list) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", "-n", type=int, default=3, help="boots per agent (default 3)")
    ap.add_argument("--smp", type=int, default=2, help="vCPUs (default 2; one VM at a time)")
    ap.add_argument("--mem", type=int, default=1024, help="MiB of guest memory (default 1024)")
    ap.add_argument("--agents", default="ignition,ignis", help="comma-separated (default ignition,ignis)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("IGNIS_VMTEST_OUT", VMTESTS / "out")) / "bench")
    args = ap.parse_args()
    agents = [a for a in args.agents.split(",") if a]

    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    kver = kernel_version()
    kernel = Path(f"/boot/vmlinuz-{kver}")
    accel = probe_kvm(kernel, out)
    machine = Machine(kernel, accel, args.smp, args.mem)

    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = Path(os.environ.get("IGNIS_BIN", target / "x86_64-unknown-linux-musl/release/ignis"))
    images: dict[str, Path] = {}
    for agent in agents:
        img = out / f"{agent}-initramfs.img"
        env = dict(os.environ, IGNIS_INITRD_AGENT=agent, IGNIS_BIN=str(binary))
        r = subprocess.run([str(REPO / "scripts/mkinitramfs"), str(img), kver], env=env)
        if r.returncode != 0:
            log(f"building the {agent} initramfs failed")
            return 3
        images[agent] = img
    root_template = out / "root-template.raw"
    make_root_template(root_template, SELINUX_STUB)
    src = out / "src"
    src.mkdir()
    shutil.copyfile(CONFIG, src / "config.ign")
    log(f"kernel {kver}, accel {accel}, -smp {args.smp}, -m {args.mem}, {args.runs} boot(s) per agent, "
        f"one VM at a time, agents interleaved; load average before: {os.getloadavg()[0]:.2f}")

    rows: dict[str, list[dict]] = {a: [] for a in agents}
    failures = 0
    for i in range(1, args.runs + 1):
        for agent in agents:
            sc = Scenario(f"{agent}-{i}", src, {
                "cmdline": CMDLINE, "fw_cfg": "config.ign", "expect": "os", "check": CHECKS})
            b = Build(images[agent], None, root_template, machine, [])
            res = run_scenario(sc, b, out, False, True)
            st = stamps(Path(res.log), agent)
            row = {"run": i, "status": res.status, "wall_s": round(res.seconds, 2), **st,
                   "errors": res.errors, "load1": round(os.getloadavg()[0], 2)}
            rows[agent].append(row)
            failures += res.status != "passed"
            if st["files_done_s"] is not None and st["stages_start_s"] is not None:
                row["stages_s"] = round(st["files_done_s"] - st["stages_start_s"], 2)
            files = f"{st['files_done_s']:.2f} s" if st["files_done_s"] is not None else "n/a"
            print(f"{res.status.upper():6} {agent:8} run {i}: files stage done at {files} (kernel time), "
                  f"poweroff after {res.seconds:.1f} s wall, load {row['load1']}", flush=True)
            for e in res.errors:
                print(f"       {e}")
            if res.status != "passed":
                print(f"       console log: {res.log}")

    summary = {"kernel": kver, "accel": accel, "smp": args.smp, "mem_mib": args.mem, "runs": args.runs,
               "agents": {}}
    print()
    print("| agent | initramfs | kernel start → /init | kernel start → files stage done | fetch-offline start → files done "
          "| stage units' own time | QEMU start → poweroff (wall) | boots passed |")
    print("|---|---|---|---|---|---|---|---|")
    for agent in agents:
        size = images[agent].stat().st_size
        ok = [r for r in rows[agent] if r["status"] == "passed"]
        f = med([r["files_done_s"] for r in ok])
        w = med([r["wall_s"] for r in ok])
        sp = med([r.get("stages_s") for r in ok])
        it = med([r["init_s"] for r in ok])
        un = med([r["units_s"] for r in ok])
        summary["agents"][agent] = {"initramfs_bytes": size, "files_done_median_s": f,
                                    "wall_median_s": w, "stages_median_s": sp, "init_median_s": it,
                                    "units_median_s": un, "boots": rows[agent]}
        fs = f"{f:.1f} s" if f is not None else "n/a"
        ws = f"{w:.1f} s" if w is not None else "n/a"
        sps = f"{sp:.1f} s" if sp is not None else "n/a"
        its = f"{it:.1f} s" if it is not None else "n/a"
        uns = f"{un:.2f} s" if un is not None else "n/a"
        print(f"| {agent} | {size / 1e6:.1f} MB | {its} | {fs} | {sps} | {uns} | {ws} | {len(ok)}/{len(rows[agent])} |")
    print("(medians of the passed boots)")
    # The figure of merit: how much shorter the stages are (fetch-offline start to files
    # done), and the initramfs difference, when both agents ran.
    a = summary["agents"]
    if "ignition" in a and "ignis" in a:
        si, sg = a["ignition"]["stages_median_s"], a["ignis"]["stages_median_s"]
        if si and sg:
            summary["stages_speedup"] = round(si / sg, 2)
            print(f"stages (fetch-offline start to files done): ignis {si / sg:.1f}x faster than Ignition")
        ui, ug = a["ignition"]["units_median_s"], a["ignis"]["units_median_s"]
        if ui and ug:
            summary["units_speedup"] = round(ui / ug, 2)
            print(f"stage units' own time: ignis {ui / ug:.1f}x less than Ignition")
        d = a["ignition"]["initramfs_bytes"] - a["ignis"]["initramfs_bytes"]
        print(f"initramfs: ignis's is {d / 1e6:.1f} MB smaller")
    print(f"\n{accel.upper()}, -smp {args.smp}, -m {args.mem}, kernel {kver}; "
          f"load average after: {os.getloadavg()[0]:.2f}")
    (out / "bench.json").write_text(json.dumps(summary, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
