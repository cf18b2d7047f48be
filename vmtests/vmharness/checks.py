"""The result checks a scenario lists (console, http, disk_unchanged, file, vfat_file,
partition, fs, luks_key, raid_member) and the context they read."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from pathlib import Path

from .common import run
from .diskread import (ext4_label, ext4_read, ext4_stat, fsck_mask, locate, partition_info,
                       sha256_file)
from .templates import render


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
    (symlinks), label (its SELinux context; "" for none), absent."""
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
    if "label" in chk:
        got = ext4_label(img, off, path) or ""
        if got != chk["label"]:
            errs.append(f"{path}: SELinux label {got!r}, want {chk['label']!r}")
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

