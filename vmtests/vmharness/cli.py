"""The command line of vmtests/harness.py: options, scenario selection, --list, --selftest and
--demo, the build of the binary and one initramfs and root disk per flavour, the parallel boots,
the per-scenario lines, the summary (stdout and out/summary.json) and the exit code."""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path

from .boot import Build, Result, run_scenario
from .common import REPO, VMTESTS, log
from .demo import demo_report
from .images import (kernel_version, make_nestos_root_template, make_not_built_overlay,
                     make_root_template)
from .qemu import Machine, probe_kvm
from .scenarios import (FLAVOURS, NESTOS_GLUE, Scenario, load_known_failing, load_not_built,
                        load_scenarios)
from .selftest import selftest


def main(description: str) -> int:
    """Runs the harness; description: the --help text (vmtests/harness.py's docstring)."""
    ap = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenarios", nargs="*", help="run only these (names or number prefixes)")
    ap.add_argument("--jobs", "-j", type=int, default=int(os.environ.get("IGNIS_VMTEST_JOBS", "2")),
                    help="VMs at a time (default 2)")
    ap.add_argument("--smp", type=int, default=None, help="vCPUs per VM (default: 1 if jobs > 1, else 2)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("IGNIS_VMTEST_OUT", VMTESTS / "out")))
    ap.add_argument("--keep", action="store_true", help="keep disk images of passed scenarios")
    ap.add_argument("--no-build", action="store_true", help="use the existing static binary")
    ap.add_argument("--include-pending", action="store_true",
                    help="also boot pending scenarios, with the real (unbuilt) stages; their result "
                         "is reported but never counted as passed")
    ap.add_argument("--list", action="store_true", help="list scenarios and whether they are pending")
    ap.add_argument("--selftest", action="store_true", help="check the checkers on host-made images")
    ap.add_argument("--demo", type=Path, metavar="CONFIG",
                    help="boot CONFIG once (with a blank 512 MiB data disk as /dev/vdb) and print what landed")
    args = ap.parse_args()

    if args.selftest:
        return selftest()

    not_built = load_not_built()
    scenarios = load_scenarios()
    if args.demo:
        src = (args.out.resolve() / "demo-src")
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        shutil.copyfile(args.demo, src / "config.ign")
        scenarios = [Scenario("demo", src, {
            "cmdline": "ignition.firstboot ignition.platform.id=qemu", "fw_cfg": "config.ign",
            "disks": [{"name": "data", "size_mib": 512}], "expect": "os", "check": []})]
        not_built = []
    if args.scenarios:
        def matches(s: Scenario, a: str) -> bool:
            # NAME, a number prefix, either with @FLAVOUR (only that flavour), or @FLAVOUR alone.
            want, _, fl = a.partition("@")
            if fl and s.flavour != fl:
                return False
            base = s.dir.name
            return (not want or base == want or base.startswith(want + "-")
                    or base.split("-")[0] == want)
        scenarios = [s for s in scenarios if any(matches(s, a) for a in args.scenarios)]
        if not scenarios:
            log("no scenario matches")
            return 2
    if args.list:
        for s in scenarios:
            w = s.waiting_for(not_built)
            print(f"{s.name:32} {'PENDING (waits for: ' + ', '.join(w) + ')' if w else 'runs'}")
        return 0

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    kver = kernel_version()
    kernel = Path(f"/boot/vmlinuz-{kver}")

    # The KVM smoke boot runs while the binary and the image are built.
    accel_box: dict[str, str] = {}
    probe = threading.Thread(target=lambda: accel_box.setdefault("accel", probe_kvm(kernel, out)))
    probe.start()

    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    binary = target / "x86_64-unknown-linux-musl/release/ignis"
    if not args.no_build:
        log("building the static binary (scripts/build-static)")
        r = subprocess.run([str(REPO / "scripts/build-static")], cwd=REPO)
        if r.returncode != 0:
            return 3
    if not binary.exists():
        log(f"{binary} missing: run scripts/build-static")
        return 3
    # One initramfs and root template per flavour the chosen scenarios use.
    overlay = None
    if not_built:
        overlay = out / "not-built-overlay.cpio.gz"
        make_not_built_overlay(not_built, overlay)
    images: dict[str, tuple[Path, Path, float]] = {}
    for fl in FLAVOURS:
        if not any(s.flavour == fl for s in scenarios):
            continue
        initrd = out / ("ignis-initramfs.img" if fl == "networkd" else f"{fl}-initramfs.img")
        env = dict(os.environ, IGNIS_BIN=str(binary))
        if fl == "nestos":
            env.update(IGNIS_INITRD_FLAVOUR="nestos", IGNIS_INITRD_EXTRA_MODULES=str(NESTOS_GLUE))
        t0 = time.monotonic()
        r = subprocess.run([str(REPO / "scripts/mkinitramfs"), str(initrd), kver], env=env)
        if r.returncode != 0:
            return 3
        build_s = time.monotonic() - t0
        root_template = out / ("root-template.raw" if fl == "networkd" else f"{fl}-root-template.raw")
        (make_nestos_root_template if fl == "nestos" else make_root_template)(root_template)
        images[fl] = (initrd, root_template, build_s)
    probe.join()
    accel = accel_box["accel"]
    smp = args.smp or (1 if args.jobs > 1 else 2)
    machine = Machine(kernel, accel, smp)
    builds = {fl: Build(i, overlay, rt, machine, not_built) for fl, (i, rt, _) in images.items()}
    sizes = ", ".join(f"{fl} initramfs {i.stat().st_size} bytes built in {bs:.1f} s"
                      for fl, (i, _, bs) in images.items())
    log(f"kernel {kver}, accel {accel}, {args.jobs} VM(s) at a time, -smp {smp}; {sizes}")
    if not_built:
        log(f"stages not built yet (vmtests/pending.toml), skipped in test boots: {', '.join(not_built)}")

    known_failing = {} if args.demo else load_known_failing()
    to_run, pending = [], []
    for s in scenarios:
        (pending if s.waiting_for(not_built) else to_run).append(s)
    jobs = [(s, False) for s in to_run] + ([(s, True) for s in pending] if args.include_pending else [])
    if args.demo:
        res = run_scenario(scenarios[0], builds["networkd"], out, True, False)
        print(f"first boot {'succeeded: the tiny OS was reached' if res.status == 'passed' else 'FAILED'}"
              f" ({res.seconds:.1f} s under QEMU; console log {res.log})")
        for e in res.errors:
            print(f"  {e}")
        demo_report(json.loads(args.demo.read_text()), out / "demo")
        return 0 if res.status == "passed" else 1

    results: list[Result] = []
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = {ex.submit(run_scenario, s, builds[s.flavour], out, args.keep, real): (s, real)
                for s, real in jobs}
        for fut in concurrent.futures.as_completed(futs):
            s, real = futs[fut]
            try:
                res = fut.result()
            except Exception as e:  # a harness bug must fail the run, not hide it
                res = Result(s.name, "failed", errors=[f"harness error: {e!r}"])
            if real:
                res.waiting_for = s.waiting_for(not_built)
            results.append(res)
            tag = {"passed": "PASS", "failed": "FAIL"}[res.status]
            if real:
                tag = f"PENDING-RAN-{tag}"
            elif res.name in known_failing:
                tag = "KNOWN-FAIL" if res.status == "failed" else "PASS (remove from known_failing)"
            extra = f" ({res.deferred_checks} check(s) wait for unbuilt stages)" if res.deferred_checks else ""
            print(f"{tag:5} {res.name:34} {res.seconds:6.1f} s{extra}", flush=True)
            for e in res.errors:
                print(f"      {e}")
            if res.status == "failed":
                print(f"      console log: {res.log}")
    wall = time.monotonic() - t0

    counted = [r for r in results if not r.waiting_for and r.name not in known_failing]
    passed = sum(r.status == "passed" for r in counted)
    failed = sum(r.status == "failed" for r in counted)
    # Boot times per flavour (QEMU start to poweroff) over the scenarios that reached the OS in
    # both flavours, so that the two medians compare the same boots.
    flavour_of = {s.name: s for s, _ in jobs}
    by_flavour: dict[str, dict[str, float]] = {}
    for r in results:
        sc = flavour_of.get(r.name)
        if sc is not None and r.status == "passed" and sc.spec.get("expect", "os") == "os":
            by_flavour.setdefault(sc.flavour, {})[sc.dir.name] = r.seconds
    common = set.intersection(*(set(v) for v in by_flavour.values())) if len(by_flavour) > 1 else set()
    boot_times = {
        fl: {"median_s": round(statistics.median(v.values()), 1), "boots": len(v),
             **({"median_common_s": round(statistics.median(v[n] for n in common), 1),
                 "common_scenarios": sorted(common)} if common else {})}
        for fl, v in by_flavour.items() if v
    }
    summary = {
        "kernel": kver, "accel": accel, "jobs": args.jobs, "smp": smp,
        "initramfs": {fl: {"bytes": i.stat().st_size, "build_s": round(bs, 1)}
                      for fl, (i, _, bs) in images.items()},
        "boot_times": boot_times,
        "wall_s": round(wall, 1),
        "results": [dataclasses.asdict(r) for r in sorted(results, key=lambda r: r.name)],
        "pending": {s.name: s.waiting_for(not_built) for s in pending},
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    if pending:
        print(f"PENDING (need stages not built yet, never counted as passed): {len(pending)}")
        for s in pending:
            print(f"  {s.name:34} waits for: {', '.join(s.waiting_for(not_built))}")
    known = [r for r in results if r.name in known_failing]
    if known:
        print(f"KNOWN FAILING (vmtests/pending.toml, never counted as passed): {len(known)}")
        for r in known:
            print(f"  {r.name:34} {r.status}: {known_failing[r.name]}")
    for fl, bt in boot_times.items():
        line = f"{fl}: median boot {bt['median_s']} s over {bt['boots']} passing boot(s) that reached the OS"
        if "median_common_s" in bt:
            line += f"; {bt['median_common_s']} s over the {len(bt['common_scenarios'])} scenario(s) run in every flavour"
        print(line)
    print(f"boots took {wall:.1f} s wall clock")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
