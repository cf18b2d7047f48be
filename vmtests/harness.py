#!/usr/bin/env python3
"""ignis VM tests: boot the real initramfs (scripts/mkinitramfs) in QEMU for every scenario under
vmtests/scenarios/, let the first boot switch-root into a tiny OS on the root disk that prints a
marker and powers off, then check the results on the host (console log, disk images read with
debugfs/mtools/sgdisk/blkid, the requests the loopback HTTP server saw).

Python 3.11 standard library only. Run through scripts/vmtests; see vmtests/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import gzip
import hashlib
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
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


# ---------------------------------------------------------------------------------------------
# Configuration: the pending list and the scenarios.


def load_known_failing() -> dict[str, str]:
    """Scenarios that fail for a known, open reason (vmtests/pending.toml `known_failing`): they
    still boot and are reported, but neither as passed nor as failed."""
    with open(VMTESTS / "pending.toml", "rb") as f:
        data = tomllib.load(f)
    return dict(data.get("known_failing", {}))


def load_not_built() -> list[str]:
    with open(VMTESTS / "pending.toml", "rb") as f:
        data = tomllib.load(f)
    stages = data.get("stages_not_built", [])
    for s in stages:
        if s not in STAGES:
            raise SystemExit(f"vmtests/pending.toml: unknown stage {s!r}")
    return stages


# The image flavours. "networkd": ignis's own initrd (systemd-networkd, ignis-neednet). "nestos":
# shaped like NestOS: the same module with NetworkManager in the initrd (systemd-networkd
# omitted), the glue module vmtests/dracut/35vmtest-nestos (boot-partition config, base config
# with user "nest", network on neednet, the issue file), and an ostree-shaped root disk (/home,
# /opt, /srv, /mnt, /root, /usr/local symlinks into an empty /var) with a partition labelled
# "boot". A scenario runs in the flavours it lists (default: networkd only); results of the
# nestos flavour are named NAME@nestos.
FLAVOURS = ("networkd", "nestos")
NESTOS_GLUE = VMTESTS / "dracut/35vmtest-nestos"


@dataclasses.dataclass
class Scenario:
    name: str
    dir: Path
    spec: dict
    flavour: str = "networkd"

    @property
    def needs(self) -> list[str]:
        return self.spec.get("needs", [])

    def waiting_for(self, not_built: list[str]) -> list[str]:
        return [s for s in self.needs if s in not_built]


SCENARIO_KEYS = {"description", "needs", "cmdline", "fw_cfg", "pxe", "disks", "expect",
                 "expect_failed_stage", "timeout", "mem_mib", "secrets", "check", "flavours",
                 "boot_config", "initrd_files"}
DISK_KEYS = {"name", "size_mib", "prepare"}
# The keys each check type reads (besides type and needs): a misspelt key must not silently
# turn a check into one that always passes.
CHECK_KEYS = {
    "console": {"contains", "absent", "regex"},
    "http": {"requested", "not_requested"},
    "disk_unchanged": {"disks", "allow_fsck"},
    "file": {"disk", "part", "md_member", "path", "node", "mode", "uid", "gid", "links",
             "contents", "contains", "regex", "target", "absent"},
    "vfat_file": {"disk", "part", "md_member", "path", "contents", "absent"},
    "partition": {"disk", "number", "name", "type_guid", "guid", "start_mib", "size_mib", "absent"},
    "fs": {"disk", "part", "md_member", "fstype", "label", "uuid", "version"},
    "luks_key": {"disk", "part", "key"},
    "raid_member": {"disk", "level", "name"},
}


def load_scenarios() -> list[Scenario]:
    out = []
    for d in sorted(SCENARIOS.iterdir()):
        f = d / "scenario.toml"
        if not f.is_file():
            continue
        with open(f, "rb") as fh:
            spec = tomllib.load(fh)
        problems = [f"unknown key {k!r}" for k in spec if k not in SCENARIO_KEYS]
        for s in spec.get("needs", []):
            if s not in STAGES:
                problems.append(f"unknown stage {s!r} in needs")
        flavours = spec.get("flavours", ["networkd"])
        problems += [f"unknown flavour {f!r}" for f in flavours if f not in FLAVOURS]
        if "boot_config" in spec:
            if flavours != ["nestos"]:
                problems.append("boot_config needs flavours = [\"nestos\"] (the boot partition)")
            if not (d / spec["boot_config"]).is_file():
                problems.append(f"boot_config: no file {spec['boot_config']}")
        if spec.get("expect", "os") not in ("os", "emergency"):
            problems.append("expect must be 'os' or 'emergency'")
        names = {"root"}
        for disk in spec.get("disks", []):
            problems += [f"disk: unknown key {k!r}" for k in disk if k not in DISK_KEYS]
            names.add(disk.get("name"))
        for k in ("fw_cfg", "pxe"):
            if k in spec and not (d / spec[k]).is_file():
                problems.append(f"{k}: no file {spec[k]}")
        for dest, src in spec.get("initrd_files", {}).items():
            if not dest.startswith("/") or ".." in dest.split("/"):
                problems.append(f"initrd_files: {dest!r} is not an absolute path inside the initrd")
            if not (d / src).is_file():
                problems.append(f"initrd_files: no file {src}")
        for i, chk in enumerate(spec.get("check", [])):
            keys = CHECK_KEYS.get(chk.get("type"))
            if keys is None:
                problems.append(f"check {i}: unknown type {chk.get('type')!r}")
                continue
            problems += [f"check {i} ({chk['type']}): unknown key {k!r}"
                         for k in chk if k not in keys | {"type", "needs", "flavours"}]
            problems += [f"check {i}: flavour {f!r} is not one the scenario runs in"
                         for f in chk.get("flavours", []) if f not in flavours]
            for s in chk.get("needs", []):
                if s not in STAGES:
                    problems.append(f"check {i}: unknown stage {s!r} in needs")
            for k in ("disk",):
                if k in chk and chk[k] not in names:
                    problems.append(f"check {i}: no disk named {chk[k]!r}")
        if problems:
            raise SystemExit(f"{f}:\n  " + "\n  ".join(problems))
        for fl in flavours:
            out.append(Scenario(d.name if fl == "networkd" else f"{d.name}@{fl}", d, spec, fl))
    return out


# ---------------------------------------------------------------------------------------------
# Templates: @HTTP@, @SHA512:relpath@, @SHA512_16:relpath@, @SHA256:relpath@, and
# @SHA512_GUNZIP:relpath@ (the hash of a .gz file's contents: Ignition verifies decompressed data).

TOKEN_RE = re.compile(r"@(SHA512_GUNZIP|SHA512_16|SHA512|SHA256):([^@]+)@")


def render(text: str, http_base: str, rendered: dict[str, bytes]) -> str:
    """Fills in the tokens of one file. Hash tokens refer to other files of the scenario after
    their @HTTP@ was filled in (a file whose hash is taken must not itself hold hash tokens)."""
    text = text.replace("@HTTP@", http_base)

    def digest(m: re.Match) -> str:
        kind, rel = m.group(1), m.group(2)
        if rel not in rendered:
            raise SystemExit(f"template token {m.group(0)}: no file {rel} in the scenario")
        data = rendered[rel]
        if kind == "SHA512_GUNZIP":
            return hashlib.sha512(gzip.decompress(data)).hexdigest()
        if kind == "SHA256":
            return hashlib.sha256(data).hexdigest()
        h = hashlib.sha512(data).hexdigest()
        return h[:16] if kind == "SHA512_16" else h

    return TOKEN_RE.sub(digest, text)


def render_scenario(sc: Scenario, http_base: str, dest: Path) -> dict[str, bytes]:
    """Renders every text file of the scenario directory (configs, http/) into dest."""
    files = {}
    for p in sorted(sc.dir.rglob("*")):
        if p.is_file() and p.name not in ("scenario.toml", "prepare.sh"):
            files[str(p.relative_to(sc.dir))] = p.read_bytes()

    def text(b: bytes) -> str | None:  # binary files (a gzip payload) are served as they are
        try:
            return b.decode()
        except UnicodeDecodeError:
            return None

    first = {k: (t.replace("@HTTP@", http_base).encode() if (t := text(v)) is not None else v)
             for k, v in files.items()}
    final = {}
    for k, v in files.items():
        t = text(v)
        final[k] = render(t, http_base, first).encode() if t is not None else v
        out = dest / k
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(final[k])
    return final


# ---------------------------------------------------------------------------------------------
# The HTTP server the guest reaches at 10.0.2.2 (QEMU user networking maps it to the host's
# loopback). Bound to 127.0.0.1 only; records every request for the checks.


class Recorder(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):  # requests are recorded, not printed
        pass

    def do_GET(self):
        self.server.requests.append(self.path)
        super().do_GET()

    def do_HEAD(self):
        self.server.requests.append(self.path)
        super().do_HEAD()


class HttpServer:
    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True)

        def handler(*a, **kw):
            return Recorder(*a, directory=str(root), **kw)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.requests = []
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def requests(self) -> list[str]:
        return list(self.httpd.requests)


# ---------------------------------------------------------------------------------------------
# Images: the tiny OS root disk, blank disks, the initramfs overlay.


def cpio_gz(tree: Path, out: Path) -> None:
    """A gzip newc cpio of everything under tree, owned by root, in a stable order."""
    names = sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))
    cpio = subprocess.run(
        ["cpio", "-o", "-H", "newc", "-R", "0:0", "--reproducible", "--quiet"],
        input=("\n".join(names) + "\n").encode(), capture_output=True, cwd=tree, check=True,
    ).stdout
    gz = subprocess.run(["gzip", "-n", "-9"], input=cpio, capture_output=True, check=True).stdout
    out.write_bytes(gz)


def make_not_built_overlay(stages: list[str], out: Path) -> None:
    """An initrd archive of drop-ins that skip the units of stages not built yet. Appended to the
    image for the test boots only: scenarios that need just the built stages still run the whole
    first boot and switch root."""
    with tempfile.TemporaryDirectory() as t:
        tree = Path(t)
        for s in stages:
            d = tree / "etc/systemd/system" / f"ignition-{s}.service.d"
            d.mkdir(parents=True)
            (d / "50-vmtest-not-built.conf").write_text(
                "# vmtests (vmtests/pending.toml): this stage is not built yet; its unit is\n"
                "# skipped so that scenarios which do not need it can boot through.\n"
                "[Unit]\nConditionPathExists=/ignis-vmtest-stage-not-built\n"
            )
        (tree / "etc").mkdir(exist_ok=True)
        cpio_gz(tree, out)


def busybox_path() -> str:
    for p in ("/bin/busybox", "/usr/bin/busybox"):
        if os.path.exists(p):
            out = run(["file", "-L", p]).stdout
            if "statically linked" in out or "static-pie" in out:
                return p
    raise SystemExit("vmtests: a static busybox is needed (busybox-static; run scripts/setup-vm-deps)")


def make_root_template(out: Path, extra_files: dict[str, str] | None = None) -> None:
    """A 64 MiB GPT disk: partition 1 "root", ext4 labelled vmtest-root, holding the tiny OS
    (static busybox, vmtests/tinyos/init as /sbin/init, minimal /etc) for the switch-root.
    extra_files: more files (absolute path -> contents, mode 0644) in the tiny OS."""
    with tempfile.TemporaryDirectory() as t:
        tree = Path(t)
        for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "home", "root", "var"):
            (tree / d).mkdir()
        for path, contents in (extra_files or {}).items():
            f = tree / path.lstrip("/")
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(contents)
        shutil.copy(busybox_path(), tree / "bin/busybox")
        shutil.copy(VMTESTS / "tinyos/init", tree / "sbin/init")
        os.chmod(tree / "sbin/init", 0o755)
        for f in (VMTESTS / "tinyos/etc").iterdir():
            shutil.copy(f, tree / "etc" / f.name)
        for f in ("shadow", "gshadow"):
            os.chmod(tree / "etc" / f, 0o640)
        out.unlink(missing_ok=True)
        with open(out, "wb") as f:
            f.truncate(64 << 20)
        # Filesystem first (mke2fs clears the start of the region it is given), then the table,
        # whose backup header lives in the last 33 sectors the filesystem leaves alone.
        r = run(["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(tree),
                 "-E", "offset=1048576", str(out), "62M"])
        if r.returncode != 0:
            raise SystemExit(f"mkfs.ext4 for the root disk failed: {r.stderr}")
        r = run(["sgdisk", "-n", "1:2048:+62M", "-c", "1:root", "-t", "1:8300", str(out)])
        if r.returncode != 0:
            raise SystemExit(f"sgdisk for the root disk failed: {r.stdout}{r.stderr}")


# The nestos flavour's root disk: partition 1 as above, partition 2 the "boot" partition.
NESTOS_DISK_MIB = 96
BOOT_PART_START_MIB = 64
BOOT_PART_MIB = 16
# NestOS's root: these are relative symlinks into /var, which is empty until first boot fills it.
OSTREE_LINKS = {"home": "var/home", "opt": "var/opt", "srv": "var/srv", "mnt": "var/mnt",
                "root": "var/roothome", "usr/local": "../var/usrlocal"}
# Groups NestOS's image has and its base config puts "nest" in (the tiny OS has only root).
NESTOS_GROUPS = [("adm", 4), ("wheel", 10), ("sudo", 27), ("systemd-journal", 190),
                 ("docker", 989)]


def make_boot_fs(img: Path, config: Path | None) -> None:
    """(Re)creates the ext4 filesystem labelled "boot" in partition 2 of a nestos root disk,
    holding ignition/config.ign when a config is given (where nestos-installer puts it)."""
    with tempfile.TemporaryDirectory() as t:
        tree = Path(t)
        if config is not None:
            (tree / "ignition").mkdir()
            shutil.copyfile(config, tree / "ignition/config.ign")
        r = run(["mkfs.ext4", "-q", "-F", "-L", "boot", "-d", str(tree),
                 "-E", f"offset={BOOT_PART_START_MIB << 20}", str(img), f"{BOOT_PART_MIB}M"])
        if r.returncode != 0:
            raise SystemExit(f"mkfs.ext4 for the boot partition failed: {r.stderr}")


def make_nestos_root_template(out: Path) -> None:
    """The tiny OS on an ostree-shaped root (OSTREE_LINKS, an empty /var, NestOS's groups),
    partition 1 labelled vmtest-root as in the networkd flavour, and an empty "boot" partition
    2 after it."""
    with tempfile.TemporaryDirectory() as t:
        tree = Path(t)
        for d in ("bin", "sbin", "etc", "proc", "sys", "dev", "run", "tmp", "usr", "var"):
            (tree / d).mkdir()
        for link, target in OSTREE_LINKS.items():
            os.symlink(target, tree / link)
        shutil.copy(busybox_path(), tree / "bin/busybox")
        shutil.copy(VMTESTS / "tinyos/init", tree / "sbin/init")
        os.chmod(tree / "sbin/init", 0o755)
        for f in (VMTESTS / "tinyos/etc").iterdir():
            shutil.copy(f, tree / "etc" / f.name)
        with open(tree / "etc/group", "a") as g, open(tree / "etc/gshadow", "a") as gs:
            for name, gid in NESTOS_GROUPS:
                g.write(f"{name}:x:{gid}:\n")
                gs.write(f"{name}:!::\n")
        for f in ("shadow", "gshadow"):
            os.chmod(tree / "etc" / f, 0o640)
        out.unlink(missing_ok=True)
        with open(out, "wb") as f:
            f.truncate(NESTOS_DISK_MIB << 20)
        r = run(["mkfs.ext4", "-q", "-F", "-L", ROOT_LABEL, "-d", str(tree),
                 "-E", "offset=1048576", str(out), "62M"])
        if r.returncode != 0:
            raise SystemExit(f"mkfs.ext4 for the root disk failed: {r.stderr}")
        make_boot_fs(out, None)
        r = run(["sgdisk", "-n", "1:2048:+62M", "-c", "1:root", "-t", "1:8300",
                 "-n", f"2:{BOOT_PART_START_MIB * 2048}:+{BOOT_PART_MIB}M", "-c", "2:boot",
                 "-t", "2:8300", str(out)])
        if r.returncode != 0:
            raise SystemExit(f"sgdisk for the root disk failed: {r.stdout}{r.stderr}")


def make_kvm_probe_initrd(out: Path) -> None:
    with tempfile.TemporaryDirectory() as t:
        tree = Path(t)
        (tree / "bin").mkdir()
        shutil.copy(busybox_path(), tree / "bin/busybox")
        (tree / "init").write_text(
            "#!/bin/busybox sh\n/bin/busybox echo IGNIS-KVM-PROBE-OK\n/bin/busybox poweroff -f\n"
        )
        os.chmod(tree / "init", 0o755)
        cpio_gz(tree, out)


def kernel_version() -> str:
    best = None
    for f in Path("/boot").glob("vmlinuz-*"):
        v = f.name[len("vmlinuz-"):]
        if (Path("/lib/modules") / v / "modules.dep").is_file():
            key = [int(x) if x.isdigit() else x for x in re.split(r"[.-]", v)]
            if best is None or key > best[0]:
                best = (key, v)
    if best is None:
        raise SystemExit("vmtests: no kernel under /boot with modules (run scripts/setup-vm-deps)")
    return best[1]


# ---------------------------------------------------------------------------------------------
# QEMU.


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


# ---------------------------------------------------------------------------------------------
# Host-side reading of disk images.


def sha256_file(p: Path, mask: tuple[int, int] | None = None) -> str:
    """sha256 of an image; mask (start, end) is hashed as zeros (bytes allowed to change)."""
    h = hashlib.sha256()
    pos = 0
    with open(p, "rb") as f:
        while chunk := f.read(1 << 20):
            if mask and pos < mask[1] and pos + len(chunk) > mask[0]:
                b = bytearray(chunk)
                lo, hi = max(mask[0], pos) - pos, min(mask[1], pos + len(chunk)) - pos
                b[lo:hi] = bytes(hi - lo)
                chunk = bytes(b)
            h.update(chunk)
            pos += len(chunk)
    return h.hexdigest()


def fsck_mask(img: Path) -> tuple[int, int] | None:
    """The primary ext4 superblock of partition 1: e2fsck -a (systemd-fsck-root, every boot)
    rewrites its write time and lifetime-writes counter even on a clean filesystem."""
    info = partition_info(img, 1)
    if not info:
        return None
    start = info["first"] * 512
    return (start + 1024, start + 2048)


def partition_info(img: Path, number: int) -> dict:
    """sgdisk -i N: type GUID, unique GUID, first/last sector, name. {} if there is none."""
    r = run(["sgdisk", "-i", str(number), str(img)])
    info = {}
    for line in r.stdout.splitlines():
        if m := re.match(r"Partition GUID code: (\S+)", line):
            info["type_guid"] = m.group(1).upper()
        elif m := re.match(r"Partition unique GUID: (\S+)", line):
            info["guid"] = m.group(1).upper()
        elif m := re.match(r"First sector: (\d+)", line):
            info["first"] = int(m.group(1))
        elif m := re.match(r"Last sector: (\d+)", line):
            info["last"] = int(m.group(1))
        elif m := re.match(r"Partition name: '(.*)'", line):
            info["name"] = m.group(1)
    if "first" not in info or info.get("type_guid", "").startswith("00000000"):
        return {}
    return info


def md_data_offset(img: Path) -> int:
    """Byte offset of the data in an md RAID member (mdadm --examine's Data Offset)."""
    r = run(["mdadm", "--examine", str(img)])
    m = re.search(r"Data Offset : (\d+) sectors", r.stdout)
    if not m:
        raise CheckError(f"{img.name}: not an md member with a data offset: {r.stdout}{r.stderr}".strip())
    return int(m.group(1)) * 512


class CheckError(Exception):
    pass


def locate(ctx: "Context", chk: dict) -> tuple[Path, int]:
    """The image and byte offset a check reads: disk (name), part (number, 0 = whole disk),
    md_member (true: the data area of an md RAID member)."""
    disk = chk.get("disk", "root")
    img = ctx.disks.get(disk)
    if img is None:
        raise CheckError(f"no disk named {disk!r}")
    off = 0
    part = chk.get("part", 1 if disk == "root" else 0)
    if part:
        info = partition_info(img, part)
        if not info:
            raise CheckError(f"disk {disk}: no partition {part}")
        off = info["first"] * 512
    if chk.get("md_member"):
        if part:
            raise CheckError("md_member with part is not supported")
        off = md_data_offset(img)
    return img, off


def debugfs(img: Path, off: int, request: str) -> subprocess.CompletedProcess:
    return run(["debugfs", "-R", request, f"{img}?offset={off}"])


def ext4_stat(img: Path, off: int, path: str) -> dict | None:
    r = debugfs(img, off, f"stat {path}")
    if "File not found" in r.stderr or not r.stdout.strip():
        return None
    st = {}
    if m := re.search(r"Type: (\S+)\s+Mode:\s+(\d+)", r.stdout):
        st["type"], st["mode"] = m.group(1), m.group(2).zfill(4)
    if m := re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", r.stdout):
        st["uid"], st["gid"] = int(m.group(1)), int(m.group(2))
    if m := re.search(r"Links: (\d+)", r.stdout):
        st["links"] = int(m.group(1))
    if m := re.search(r'Fast link dest: "(.*)"', r.stdout):
        st["target"] = m.group(1)
    return st


def ext4_read(img: Path, off: int, path: str) -> bytes:
    r = subprocess.run(["debugfs", "-R", f"cat {path}", f"{img}?offset={off}"], capture_output=True)
    return r.stdout


# ---------------------------------------------------------------------------------------------
# Checks. Each takes the run context and its table from scenario.toml and returns a list of
# failures (empty: passed).


@dataclasses.dataclass
class Context:
    console: str  # ANSI escapes removed
    disks: dict[str, Path]
    hashes_before: dict[str, str]
    requests: list[str]
    rendered: dict[str, bytes]
    http_base: str

    def fill(self, s: str) -> str:
        return render(s, self.http_base, self.rendered)


def check_console(ctx: Context, chk: dict) -> list[str]:
    errs = []
    for s in chk.get("contains", []):
        s = ctx.fill(s)
        if s not in ctx.console:
            errs.append(f"console lacks {s!r}")
    for s in chk.get("absent", []):
        s = ctx.fill(s)
        if s in ctx.console:
            errs.append(f"console has {s!r}")
    for s in chk.get("regex", []):
        if not re.search(ctx.fill(s), ctx.console, re.M):
            errs.append(f"console does not match /{s}/")
    return errs


def check_http(ctx: Context, chk: dict) -> list[str]:
    errs = []
    for p in chk.get("requested", []):
        if p not in ctx.requests:
            errs.append(f"HTTP server never got GET {p} (got {ctx.requests})")
    for p in chk.get("not_requested", []):
        if p in ctx.requests:
            errs.append(f"HTTP server got GET {p}")
    return errs


def check_disk_unchanged(ctx: Context, chk: dict) -> list[str]:
    """Disks byte for byte as before the boot. allow_fsck: disks whose root filesystem the initrd
    fsck'ed (systemd-fsck-root), where only partition 1's primary superblock may differ."""
    errs = []
    allow = chk.get("allow_fsck", [])
    for d in chk.get("disks", list(ctx.disks)):
        if d not in ctx.disks:
            errs.append(f"no disk named {d!r}")
            continue
        key = f"{d}:fsck" if d in allow else d
        mask = fsck_mask(ctx.disks[d]) if d in allow else None
        if key not in ctx.hashes_before:
            errs.append(f"no hash of disk {d} from before the boot")
        elif sha256_file(ctx.disks[d], mask) != ctx.hashes_before[key]:
            errs.append(f"disk {d} was modified" + (" (beyond fsck's superblock update)" if mask else ""))
    return errs


def check_file(ctx: Context, chk: dict) -> list[str]:
    """A node in an ext2/3/4 filesystem, read with debugfs: node (regular, directory, symlink),
    mode, uid, gid, links (hard link count), contents, contains (substrings), regex, target
    (symlinks), absent."""
    img, off = locate(ctx, chk)
    path = chk["path"]
    st = ext4_stat(img, off, path)
    if chk.get("absent"):
        return [f"{path} exists"] if st is not None else []
    if st is None:
        return [f"{path} does not exist"]
    errs = []
    want_type = chk.get("node", "regular")
    if st.get("type") != want_type:
        errs.append(f"{path}: type {st.get('type')}, want {want_type}")
    if "mode" in chk and st.get("mode", "")[-4:] != chk["mode"][-4:]:
        errs.append(f"{path}: mode {st.get('mode')}, want {chk['mode']}")
    for k in ("uid", "gid", "links"):
        if k in chk and st.get(k) != chk[k]:
            errs.append(f"{path}: {k} {st.get(k)}, want {chk[k]}")
    if "target" in chk and st.get("target") != chk["target"]:
        errs.append(f"{path}: link target {st.get('target')!r}, want {chk['target']!r}")
    if want_type == "regular" and any(k in chk for k in ("contents", "contains", "regex")):
        data = ext4_read(img, off, path).decode(errors="replace")
        if "contents" in chk and data != ctx.fill(chk["contents"]):
            errs.append(f"{path}: contents {data[:200]!r}, want {ctx.fill(chk['contents'])[:200]!r}")
        for s in chk.get("contains", []):
            if ctx.fill(s) not in data:
                errs.append(f"{path}: lacks {ctx.fill(s)!r}")
        for s in chk.get("regex", []):
            if not re.search(ctx.fill(s), data, re.M):
                errs.append(f"{path}: does not match /{s}/")
    return errs


def check_vfat_file(ctx: Context, chk: dict) -> list[str]:
    """A file in a FAT filesystem, read with mtools (mtype)."""
    img, off = locate(ctx, chk)
    path = chk["path"]
    r = subprocess.run(["mtype", "-i", f"{img}@@{off}", f"::{path}"], capture_output=True,
                       env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    if chk.get("absent"):
        return [f"{path} exists"] if r.returncode == 0 else []
    if r.returncode != 0:
        return [f"{path}: {r.stderr.decode(errors='replace').strip()}"]
    data = r.stdout.decode(errors="replace")
    if "contents" in chk and data != ctx.fill(chk["contents"]):
        return [f"{path}: contents {data[:200]!r}, want {ctx.fill(chk['contents'])[:200]!r}"]
    return []


def check_partition(ctx: Context, chk: dict) -> list[str]:
    """A GPT partition, read with sgdisk: name, type_guid, guid, start_mib, size_mib, absent."""
    img = ctx.disks[chk.get("disk", "root")]
    info = partition_info(img, chk["number"])
    if chk.get("absent"):
        return [f"partition {chk['number']} exists"] if info else []
    if not info:
        return [f"disk {chk.get('disk')}: no partition {chk['number']}"]
    errs = []
    if "name" in chk and info.get("name") != chk["name"]:
        errs.append(f"partition {chk['number']}: name {info.get('name')!r}, want {chk['name']!r}")
    for k in ("type_guid", "guid"):
        if k in chk and info.get(k) != chk[k].upper():
            errs.append(f"partition {chk['number']}: {k} {info.get(k)}, want {chk[k].upper()}")
    if "start_mib" in chk and info["first"] * 512 != chk["start_mib"] << 20:
        errs.append(f"partition {chk['number']}: starts at sector {info['first']}, want {chk['start_mib']} MiB")
    if "size_mib" in chk:
        size = (info["last"] - info["first"] + 1) * 512
        if size != chk["size_mib"] << 20:
            errs.append(f"partition {chk['number']}: {size} bytes, want {chk['size_mib']} MiB")
    return errs


def check_fs(ctx: Context, chk: dict) -> list[str]:
    """What blkid finds at a disk/partition: fstype (blkid's TYPE), label, uuid, version."""
    img, off = locate(ctx, chk)
    r = run(["blkid", "-p", "-o", "export", "-O", str(off), str(img)])
    found = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    errs = []
    for k, tag in (("fstype", "TYPE"), ("label", "LABEL"), ("uuid", "UUID"), ("version", "VERSION")):
        if k in chk and found.get(tag) != chk[k]:
            errs.append(f"blkid {chk.get('disk', 'root')} part {chk.get('part', 0)}: "
                        f"{tag}={found.get(tag)!r}, want {chk[k]!r}")
    return errs


def check_luks_key(ctx: Context, chk: dict) -> list[str]:
    """The LUKS volume at a disk opens with the given key (cryptsetup --test-passphrase: no
    device-mapper needed)."""
    img, off = locate(ctx, chk)
    if off:
        return ["luks_key checks whole disks only"]
    key = ctx.fill(chk["key"]).encode()
    r = subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-file=-", str(img)],
                       input=key, capture_output=True)
    return [] if r.returncode == 0 else [f"LUKS volume on {img.name} does not open with the key"]


def check_raid_member(ctx: Context, chk: dict) -> list[str]:
    img = ctx.disks[chk["disk"]]
    r = run(["mdadm", "--examine", str(img)])
    errs = []
    if "level" in chk and not re.search(rf"Raid Level : {re.escape(chk['level'])}\b", r.stdout):
        errs.append(f"{chk['disk']}: not an md member of level {chk['level']}")
    if "name" in chk and not re.search(rf"Name : \S*{re.escape(chk['name'])}\b", r.stdout):
        errs.append(f"{chk['disk']}: md array name is not {chk['name']}")
    return errs


CHECKS = {
    "console": check_console,
    "http": check_http,
    "disk_unchanged": check_disk_unchanged,
    "file": check_file,
    "vfat_file": check_vfat_file,
    "partition": check_partition,
    "fs": check_fs,
    "luks_key": check_luks_key,
    "raid_member": check_raid_member,
}


# ---------------------------------------------------------------------------------------------
# Running one scenario.


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


# ---------------------------------------------------------------------------------------------
# Self-test of the checks on host-made images: every checker must be able to fail.


def selftest() -> int:
    failures = []

    def expect(name: str, errs: list[str], should_fail: bool) -> None:
        if bool(errs) != should_fail:
            failures.append(f"{name}: expected {'failure' if should_fail else 'success'}, got {errs}")

    with tempfile.TemporaryDirectory() as t:
        t = Path(t)
        tree = t / "tree"
        (tree / "etc").mkdir(parents=True)
        (tree / "etc/hello").write_text("hello\n")
        os.chmod(tree / "etc/hello", 0o600)
        os.symlink("/etc/hello", tree / "etc/link")
        os.link(tree / "etc/hello", tree / "etc/hard")
        disk = t / "disk.raw"
        with open(disk, "wb") as f:
            f.truncate(32 << 20)
        run(["mkfs.ext4", "-q", "-F", "-L", "st-ext4", "-d", str(tree), "-E", "offset=1048576",
             str(disk), "8M"])
        run(["mkfs.vfat", "-n", "STVFAT", "--offset", "18432", str(disk), str(8 * 1024)])
        r = run(["sgdisk", "-n", "1:2048:+8M", "-c", "1:st-ext4", "-t", "1:8300",
                 "-n", "2:18432:+8M", "-c", "2:st-vfat", "-t", "2:0700", str(disk)])
        if r.returncode != 0:
            print(r.stdout, r.stderr)
            return 1
        img_off = 18432 * 512
        (t / "v.txt").write_text("vfat data\n")
        run(["mcopy", "-i", f"{disk}@@{img_off}", str(t / "v.txt"), "::v.txt"])
        blank = t / "blank.raw"
        with open(blank, "wb") as f:
            f.truncate(1 << 20)
        ctx = Context("line one\nignis: first boot FAILED in stage fetch\n",
                      {"data": disk, "blank": blank}, {"data": sha256_file(disk), "blank": "x"},
                      ["/config.ign"], {"a.txt": b"A"}, "http://10.0.2.2:1")

        f = lambda **kw: {"disk": "data", "part": 1, **kw}  # noqa: E731
        expect("file contents ok", check_file(ctx, f(path="/etc/hello", contents="hello\n", mode="0600", uid=0)), False)
        expect("file contents wrong", check_file(ctx, f(path="/etc/hello", contents="bye\n")), True)
        expect("file mode wrong", check_file(ctx, f(path="/etc/hello", mode="0644")), True)
        expect("file uid wrong", check_file(ctx, f(path="/etc/hello", uid=1000)), True)
        expect("file missing", check_file(ctx, f(path="/etc/nope")), True)
        expect("file absent ok", check_file(ctx, f(path="/etc/nope", absent=True)), False)
        expect("file absent but there", check_file(ctx, f(path="/etc/hello", absent=True)), True)
        expect("dir type", check_file(ctx, f(path="/etc", node="directory")), False)
        expect("dir type wrong", check_file(ctx, f(path="/etc")), True)
        expect("symlink ok", check_file(ctx, f(path="/etc/link", node="symlink", target="/etc/hello")), False)
        expect("symlink wrong", check_file(ctx, f(path="/etc/link", node="symlink", target="/x")), True)
        expect("hard links ok", check_file(ctx, f(path="/etc/hard", links=2)), False)
        expect("hard links wrong", check_file(ctx, f(path="/etc/hard", links=1)), True)
        expect("file regex", check_file(ctx, f(path="/etc/hello", regex=["^hel+o$"])), False)
        expect("file regex wrong", check_file(ctx, f(path="/etc/hello", regex=["^bye"])), True)
        v = lambda **kw: {"disk": "data", "part": 2, **kw}  # noqa: E731
        expect("vfat ok", check_vfat_file(ctx, v(path="/v.txt", contents="vfat data\n")), False)
        expect("vfat wrong", check_vfat_file(ctx, v(path="/v.txt", contents="x")), True)
        expect("vfat missing", check_vfat_file(ctx, v(path="/nope.txt")), True)
        expect("partition ok", check_partition(ctx, {"disk": "data", "number": 1, "name": "st-ext4",
               "type_guid": "0FC63DAF-8483-4772-8E79-3D69D8477DE4", "start_mib": 1, "size_mib": 8}), False)
        expect("partition name wrong", check_partition(ctx, {"disk": "data", "number": 1, "name": "x"}), True)
        expect("partition size wrong", check_partition(ctx, {"disk": "data", "number": 1, "size_mib": 9}), True)
        expect("partition missing", check_partition(ctx, {"disk": "data", "number": 3}), True)
        expect("partition absent ok", check_partition(ctx, {"disk": "data", "number": 3, "absent": True}), False)
        expect("fs ok", check_fs(ctx, f(fstype="ext4", label="st-ext4")), False)
        expect("fs vfat ok", check_fs(ctx, v(fstype="vfat", label="STVFAT")), False)
        expect("fs wrong", check_fs(ctx, f(fstype="xfs")), True)
        expect("fs blank", check_fs(ctx, {"disk": "blank", "fstype": "ext4"}), True)
        expect("console ok", check_console(ctx, {"contains": ["line one"], "absent": ["zzz"]}), False)
        expect("console lacks", check_console(ctx, {"contains": ["line two"]}), True)
        expect("console has", check_console(ctx, {"absent": ["line one"]}), True)
        expect("console token", check_console(ctx, {"contains": ["@SHA512_16:a.txt@"]}), True)
        expect("http ok", check_http(ctx, {"requested": ["/config.ign"]}), False)
        expect("http missing", check_http(ctx, {"requested": ["/child.ign"]}), True)
        expect("unchanged ok", check_disk_unchanged(ctx, {"disks": ["data"]}), False)
        expect("unchanged wrong", check_disk_unchanged(ctx, {"disks": ["blank"]}), True)
        ctx.hashes_before["data:fsck"] = sha256_file(disk, fsck_mask(disk))
        with open(disk, "r+b") as fh:  # what e2fsck -a does: a new superblock write time
            fh.seek((1 << 20) + 1024 + 0x30)
            fh.write(b"\x01\x02\x03\x04")
        expect("unchanged after fsck", check_disk_unchanged(ctx, {"disks": ["data"]}), True)
        expect("unchanged after fsck, allowed", check_disk_unchanged(ctx, {"disks": ["data"], "allow_fsck": ["data"]}), False)
        with open(disk, "r+b") as fh:  # a change outside the superblock is still caught
            fh.seek(3 << 20)
            fh.write(b"x")
        expect("changed beyond fsck", check_disk_unchanged(ctx, {"disks": ["data"], "allow_fsck": ["data"]}), True)
        try:
            check_file(ctx, {"disk": "blank", "part": 1, "path": "/x"})
            failures.append("locate on a disk without partitions did not raise")
        except CheckError:
            pass
        if shutil.which("cryptsetup"):
            luks = t / "luks.raw"
            with open(luks, "wb") as fh:
                fh.truncate(32 << 20)
            r = subprocess.run(["cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf",
                                "pbkdf2", "--pbkdf-force-iterations", "1000", "--label", "stluks",
                                "--key-file=-", str(luks)], input=b"k1", capture_output=True)
            if r.returncode == 0:
                ctx.disks["luks"] = luks
                expect("luks key ok", check_luks_key(ctx, {"disk": "luks", "key": "k1"}), False)
                expect("luks key wrong", check_luks_key(ctx, {"disk": "luks", "key": "k2"}), True)
                expect("luks fs", check_fs(ctx, {"disk": "luks", "fstype": "crypto_LUKS", "label": "stluks", "version": "2"}), False)
            else:
                failures.append(f"cryptsetup luksFormat on an image file failed: {r.stderr!r}")

    # The nestos flavour's root disk: the ostree links into an empty /var, the groups, the boot
    # partition, and a config put on it.
    with tempfile.TemporaryDirectory() as t:
        t = Path(t)
        img = t / "nestos.raw"
        make_nestos_root_template(img)
        ctx = Context("", {"root": img}, {}, [], {}, "http://10.0.2.2:1")
        for link, target in OSTREE_LINKS.items():
            expect(f"nestos link {link}", check_file(ctx, {"path": "/" + link, "node": "symlink",
                                                          "target": target}), False)
        expect("nestos link wrong", check_file(ctx, {"path": "/home", "node": "symlink",
                                                     "target": "home"}), True)
        expect("nestos var empty", check_file(ctx, {"path": "/var/home", "absent": True}), False)
        expect("nestos groups", check_file(ctx, {"path": "/etc/group",
                                                  "regex": ["^wheel:x:10:$", "^docker:x:989:$"]}), False)
        expect("nestos boot fs", check_fs(ctx, {"part": 2, "fstype": "ext4", "label": "boot"}), False)
        expect("nestos boot empty", check_file(ctx, {"part": 2, "path": "/ignition", "absent": True}), False)
        (t / "c.ign").write_text("{}\n")
        make_boot_fs(img, t / "c.ign")
        expect("nestos boot config", check_file(ctx, {"part": 2, "path": "/ignition/config.ign",
                                                      "contents": "{}\n"}), False)
        expect("nestos root kept", check_fs(ctx, {"part": 1, "label": ROOT_LABEL}), False)

    # Templates.
    got = render("@HTTP@/a @SHA256:x@", "http://h", {"x": b"abc"})
    if got != "http://h/a " + hashlib.sha256(b"abc").hexdigest():
        failures.append(f"render: {got}")

    # Every scenario file must load (keys, stages, disks, files it names).
    load_scenarios()

    for fl in failures:
        print(f"selftest FAILED: {fl}")
    print(f"vmtests selftest: {'ok' if not failures else f'{len(failures)} failure(s)'}")
    return 1 if failures else 0


# ---------------------------------------------------------------------------------------------



# ---------------------------------------------------------------------------------------------
# The demo: one first boot of a user's config, then what landed on the disks.


def demo_report(cfg: dict, work: Path) -> None:
    """Prints every file, directory and link of the config as found on the disks after the
    boot (type, mode, owner, first line), then users, groups and the hostname."""
    disks = {"root": work / "root.raw"}
    if (work / "data.raw").exists():
        disks["data"] = work / "data.raw"
    root_img, root_off = disks["root"], partition_info(disks["root"], 1).get("first", 0) * 512
    # Filesystems the config mounted: path -> (image, offset, format)
    mounts = []
    for fs in cfg.get("storage", {}).get("filesystems", []):
        if not fs.get("path"):
            continue
        dev = fs.get("device", "")
        where = None
        label = dev.rsplit("/", 1)[-1] if "/by-partlabel/" in dev else None
        if label and "data" in disks:
            for n in range(1, 129):
                info = partition_info(disks["data"], n)
                if info.get("name") == label:
                    where = (disks["data"], info["first"] * 512)
                    break
        mounts.append((fs["path"].rstrip("/"), where, fs.get("format", "")))
    mounts.sort(key=lambda m: -len(m[0]))

    def place(path: str):
        for mp, where, fmt in mounts:
            if path == mp or path.startswith(mp + "/"):
                return where, fmt, path[len(mp):] or "/"
        return (root_img, root_off), "ext4", path

    st = cfg.get("storage", {})
    entries = [("file", f["path"]) for f in st.get("files", [])]
    entries += [("directory", d["path"]) for d in st.get("directories", [])]
    entries += [("link", l["path"]) for l in st.get("links", [])]
    entries += [("unit", "/etc/systemd/system/" + u["name"]) for u in cfg.get("systemd", {}).get("units", [])
                if u.get("contents") is not None]
    print("\n== what landed on the disk")
    for kind, path in entries:
        where, fmt, inner = place(path)
        if where is None or fmt != "ext4":
            print(f"  {path:44} ({kind} on a {fmt or 'unknown'} filesystem: not inspected)")
            continue
        img, off = where
        info = ext4_stat(img, off, inner)
        if info is None:
            print(f"  {path:44} MISSING")
            continue
        line = ""
        if info.get("type") == "regular":
            first = ext4_read(img, off, inner).split(b"\n", 1)[0][:60]
            line = f'  "{first.decode(errors="replace")}"'
        elif "target" in info:
            line = f"  -> {info['target']}"
        print(f"  {path:44} {info.get('type', '?'):9} {info.get('mode', '?')} "
              f"{info.get('uid', '?')}:{info.get('gid', '?')}{line}")
    passwd = ext4_read(root_img, root_off, "/etc/passwd").decode(errors="replace")
    group = ext4_read(root_img, root_off, "/etc/group").decode(errors="replace")
    names = {u["name"] for u in cfg.get("passwd", {}).get("users", [])}
    gnames = {g["name"] for g in cfg.get("passwd", {}).get("groups", [])} | names
    print("== users")
    for l in passwd.splitlines():
        if l.split(":")[0] in names:
            print(f"  {l}")
            home = l.split(":")[5]
            keys = ext4_read(root_img, root_off, f"{home}/.ssh/authorized_keys.d/ignition")
            print(f"    ssh keys: {len(keys.splitlines())} in {home}/.ssh/authorized_keys.d/ignition")
    print("== groups")
    for l in group.splitlines():
        if l.split(":")[0] in gnames:
            print(f"  {l}")
    hostname = ext4_read(root_img, root_off, "/etc/hostname").decode(errors="replace").strip()
    print(f"== hostname: {hostname or '(none)'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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


if __name__ == "__main__":
    sys.exit(main())
