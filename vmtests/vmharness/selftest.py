"""The self-test (--selftest): every checker run on images made on the host must pass on the
right data and fail on the wrong data; the nestos root disk, the templates and every scenario
file are checked too."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from .checks import (Context, check_console, check_disk_unchanged, check_file, check_fs,
                     check_http, check_luks_key, check_partition, check_vfat_file)
from .common import ROOT_LABEL, run
from .diskread import CheckError, fsck_mask, sha256_file
from .images import OSTREE_LINKS, make_boot_fs, make_nestos_root_template
from .scenarios import load_scenarios
from .templates import render


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

