"""The scenario table: vmtests/scenarios/*/scenario.toml loaded and linted (unknown keys,
stages, flavours, disks and files are errors), the image flavours, and the pending list
(vmtests/pending.toml: stages not built yet, scenarios known to fail)."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from .common import SCENARIOS, STAGES, VMTESTS


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
             "contents", "contains", "regex", "target", "label", "absent"},
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

