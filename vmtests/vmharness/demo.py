"""The demo's report (--demo): what one first boot of a user's config left on the disks."""

from __future__ import annotations

from pathlib import Path

from .diskread import ext4_read, ext4_stat, partition_info


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
