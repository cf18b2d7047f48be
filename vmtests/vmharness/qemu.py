"""QEMU process control: the command line of one VM (machine, accel, disks, fw_cfg, user
networking) and the KVM-or-TCG choice."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

from .images import make_kvm_probe_initrd


@dataclasses.dataclass
class Machine:
    kernel: Path
    accel: str  # "tcg" or "kvm"
    smp: int
    mem_mib: int = 1024

    def command(self, initrd: Path, cmdline: str, disks: list[tuple[str, Path]],
                console: Path, fw_cfg: Path | None, mem_mib: int | None = None) -> list[str]:
        cpu = ["-accel", "kvm", "-cpu", "host"] if self.accel == "kvm" else ["-accel", "tcg", "-cpu", "max"]
        cmd = [
            "qemu-system-x86_64", "-machine", "q35", *cpu, "-smp", str(self.smp),
            "-m", str(mem_mib or self.mem_mib), "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", f"file:{console}",
            "-kernel", str(self.kernel), "-initrd", str(initrd), "-append", cmdline,
            # User networking: the guest gets 10.0.2.15 by DHCP and reaches the host's loopback
            # at 10.0.2.2. No option ROM: iPXE would only slow the boot.
            "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
        ]
        for name, path in disks:
            # serial= gives /dev/disk/by-id/virtio-<name> for the configs to name disks by.
            cmd += ["-drive", f"file={path},format=raw,if=none,id=d-{name},cache=unsafe",
                    "-device", f"virtio-blk-pci,drive=d-{name},serial={name}"]
        if fw_cfg is not None:
            cmd += ["-fw_cfg", f"name=opt/com.coreos/config,file={fw_cfg}"]
        return cmd


def probe_kvm(kernel: Path, work: Path) -> str:
    """KVM only when a 10-second smoke boot proves it works; TCG otherwise. (Some hosts have a
    /dev/kvm that cannot run stock kernels, e.g. nested PVM: QEMU aborts or the guest hangs.)"""
    forced = os.environ.get("IGNIS_VMTEST_ACCEL", "auto")
    if forced in ("tcg", "kvm"):
        return forced
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    initrd = work / "kvm-probe.cpio.gz"
    make_kvm_probe_initrd(initrd)
    console = work / "kvm-probe.log"
    m = Machine(kernel, "kvm", 1, 256)
    cmd = m.command(initrd, "console=ttyS0 panic=-1", [], console, None)
    try:
        subprocess.run(cmd, capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return "tcg"
    ok = console.exists() and "IGNIS-KVM-PROBE-OK" in console.read_text(errors="replace")
    return "kvm" if ok else "tcg"

