"""Running one scenario: fixtures served, disks made and hashed, the initramfs assembled, one
QEMU boot, then the outcome, the canary and the scenario's checks."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import time
from pathlib import Path

from .checks import CHECKS, Context
from .common import ANSI_RE, BASE_CMDLINE, CANARY, FAILED_RE, OS_MARKER, REPO, run
from .diskread import CheckError, fsck_mask, sha256_file
from .httpd import HttpServer
from .images import cpio_gz, make_boot_fs
from .qemu import Machine
from .scenarios import Scenario
from .templates import render, render_scenario


@dataclasses.dataclass
class Result:
    name: str
    status: str  # passed, failed, pending
    seconds: float = 0.0
    errors: list[str] = dataclasses.field(default_factory=list)
    deferred_checks: int = 0
    waiting_for: list[str] = dataclasses.field(default_factory=list)
    log: str = ""


@dataclasses.dataclass
class Build:
    initrd: Path
    overlay: Path | None  # drop-ins skipping the stages not built yet
    root_template: Path
    machine: Machine
    not_built: list[str]
    pxe_wrap: Path = REPO / "scripts/pxe-wrap"


def run_scenario(sc: Scenario, b: Build, out: Path, keep: bool, real_stages: bool) -> Result:
    """Boots one scenario and checks it. real_stages: boot without the skip overlay (pending
    scenarios run with --include-pending)."""
    work = out / sc.name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    spec = sc.spec
    console = work / "console.log"
    res = Result(sc.name, "failed", log=str(console))

    with HttpServer(work / "rendered/http") as srv:
        http_base = f"http://10.0.2.2:{srv.port}"
        rendered = render_scenario(sc, http_base, work / "rendered")

        # Disks: the tiny OS root first (vda), then the scenario's blank (or prepared) disks.
        disks = {"root": work / "root.raw"}
        shutil.copyfile(b.root_template, disks["root"])
        if "boot_config" in spec:
            make_boot_fs(disks["root"], work / "rendered" / spec["boot_config"])
        for d in spec.get("disks", []):
            p = work / f"{d['name']}.raw"
            with open(p, "wb") as f:
                f.truncate(d.get("size_mib", 256) << 20)
            if "prepare" in d:
                # VMTEST_RENDERED: the scenario's files with their templates filled in.
                r = run(["bash", str(sc.dir / d["prepare"]), str(p)],
                        env=dict(os.environ, VMTEST_RENDERED=str(work / "rendered")))
                if r.returncode != 0:
                    res.errors.append(f"preparing disk {d['name']}: {r.stdout}{r.stderr}")
                    return res
            disks[d["name"]] = p
        hashes = {k: sha256_file(v) for k, v in disks.items()}
        for k, v in disks.items():
            if (mask := fsck_mask(v)) is not None:
                hashes[f"{k}:fsck"] = sha256_file(v, mask)

        # The initramfs: the image under test, + skip drop-ins, + the PXE-wrapped config.
        parts = [b.initrd]
        if b.overlay is not None and not real_stages:
            parts.append(b.overlay)
        if "pxe" in spec:
            wrapped = work / "pxe-config.img"
            r = run([str(b.pxe_wrap), str(work / "rendered" / spec["pxe"]), str(wrapped)])
            if r.returncode != 0:
                res.errors.append(f"pxe-wrap: {r.stderr}")
                return res
            parts.append(wrapped)
        if spec.get("initrd_files"):
            # Files the image's builder would have baked in (trusted keys, ...), as one more
            # archive: the kernel unpacks them over the image.
            tree = work / "initrd-files"
            for dest, src in spec["initrd_files"].items():
                t = tree / dest.lstrip("/")
                t.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(sc.dir / src, t)
            extra = work / "initrd-files.img"
            cpio_gz(tree, extra)
            parts.append(extra)
        initrd = work / "initrd.img"
        with open(initrd, "wb") as f:
            for p in parts:
                f.write(p.read_bytes())

        cmdline = f"{BASE_CMDLINE} {render(spec.get('cmdline', ''), http_base, rendered)}".strip()
        fw_cfg = work / "rendered" / spec["fw_cfg"] if "fw_cfg" in spec else None
        cmd = b.machine.command(initrd, cmdline, list(disks.items()), console, fw_cfg,
                                spec.get("mem_mib"))
        (work / "qemu-cmd.txt").write_text(" ".join(cmd) + "\n")
        timeout = spec.get("timeout", 240 if b.machine.accel == "tcg" else 90)
        start = time.monotonic()
        try:
            qemu = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            qemu, timed_out = None, True
        res.seconds = time.monotonic() - start
        requests = srv.requests

    text = ANSI_RE.sub("", console.read_text(errors="replace")) if console.exists() else ""
    errs = res.errors
    if timed_out:
        errs.append(f"no poweroff within {timeout} s")
    elif qemu.returncode != 0:
        errs.append(f"qemu exited with {qemu.returncode}: {qemu.stderr.strip()[-500:]}")
    # The outcome: the tiny OS, or emergency mode with the failure report.
    failed_stage = FAILED_RE.search(text)
    if spec.get("expect", "os") == "os":
        if OS_MARKER not in text:
            errs.append("the tiny OS was never reached")
        if failed_stage:
            errs.append(f"stage {failed_stage.group(1)} failed")
    else:
        want = spec.get("expect_failed_stage")
        if not failed_stage:
            errs.append("no 'first boot FAILED' report on the console")
        elif want and failed_stage.group(1) != want:
            errs.append(f"stage {failed_stage.group(1)} failed, expected {want}")
        if OS_MARKER in text:
            errs.append("the tiny OS was reached despite the failure")
    # Never a config body on the console.
    for secret in [CANARY, *spec.get("secrets", [])]:
        if secret in text:
            errs.append(f"the console shows config contents ({secret!r})")

    ctx = Context(text, disks, hashes, requests, rendered, http_base)
    for i, chk in enumerate(spec.get("check", [])):
        if sc.flavour not in chk.get("flavours", [sc.flavour]):
            continue
        waiting = [s for s in chk.get("needs", []) if s in b.not_built and not real_stages]
        if waiting:
            res.deferred_checks += 1
            continue
        fn = CHECKS.get(chk.get("type"))
        if fn is None:
            errs.append(f"check {i}: unknown type {chk.get('type')!r}")
            continue
        try:
            errs.extend(f"check {i} ({chk['type']}): {e}" for e in fn(ctx, chk))
        except CheckError as e:
            errs.append(f"check {i} ({chk['type']}): {e}")

    res.status = "failed" if errs else "passed"
    if res.status == "passed" and not keep:
        for p in disks.values():
            p.unlink(missing_ok=True)
        initrd.unlink(missing_ok=True)
    return res

