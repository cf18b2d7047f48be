"""Image building on the host: initrd archives (cpio), the skip overlay for stages not built,
the tiny OS root disks of both flavours with the nestos boot partition, the KVM probe initrd,
and the kernel the VMs boot."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .common import ROOT_LABEL, VMTESTS, run


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

