"""Scenario file templates: @HTTP@ and the hash tokens filled in, for the files the guest gets
and for the strings the checks compare."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from .scenarios import Scenario

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

