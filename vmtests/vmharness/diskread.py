"""Host-side reading of disk images without loop devices or mounts: hashes, GPT partitions
(sgdisk), md members (mdadm), ext4 nodes (debugfs), and where a check's disk/part points."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from .common import run

if TYPE_CHECKING:
    from .checks import Context


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


def ext4_label(img: Path, off: int, path: str) -> str | None:
    """The SELinux label of a node (its security.selinux attribute without the NUL libselinux
    stores), or None when it has none."""
    r = debugfs(img, off, f"ea_get {path} security.selinux")
    m = re.search(r'security\.selinux \(\d+\) = "(.*)"', r.stdout)
    if not m:
        return None
    v = m.group(1)
    return v[:-4] if v.endswith("\\000") else v


def ext4_read(img: Path, off: int, path: str) -> bytes:
    r = subprocess.run(["debugfs", "-R", f"cat {path}", f"{img}?offset={off}"], capture_output=True)
    return r.stdout

