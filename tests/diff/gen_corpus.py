#!/usr/bin/env python3
"""Generate the differential-test corpus of Ignition configs.

Usage: gen_corpus.py OUTDIR

Writes NNN-short-name.ign files into OUTDIR (created if missing).  Python 3
standard library only; the output is fully deterministic (same bytes every
run), so the gold files in expected-<version>/ can be matched by name.

Each case is either a Python object (serialised with one of the STYLES
below, so that line/column positions differ between cases) or raw bytes
(for syntax errors, duplicate keys, case-variant keys and other things that
json.dumps cannot express).

Cases are grouped by topic; the comment before each group says what it is
meant to exercise.  Nothing in here asserts what the right answer is: the
expected output lives in expected-*/NNN-short-name.out (see record.sh).
"""

import json
import os
import sys

V0, V1, V2, V3 = "3.0.0", "3.1.0", "3.2.0", "3.3.0"
ALL = (V0, V1, V2, V3)
V4X = "3.4.0-experimental"

SHA512_OK = "sha512-" + "a" * 128
SHA256_OK = "sha256-" + "b" * 64
GUID_OK = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
GUID_LC = "0fc63daf-8483-4772-8e79-3d69d8477de4"


# --------------------------------------------------------------------------
# serialisation styles
# --------------------------------------------------------------------------

def _compact(o):
    return json.dumps(o, separators=(",", ":"), ensure_ascii=False)


def _spaced(o):
    return json.dumps(o, separators=(", ", ": "), ensure_ascii=False)


def _indent2(o):
    return json.dumps(o, indent=2, ensure_ascii=False) + "\n"


def _indent4(o):
    return json.dumps(o, indent=4, ensure_ascii=False) + "\n"


def _tabs(o):
    return json.dumps(o, indent="\t", ensure_ascii=False) + "\n"


def _crlf(o):
    return json.dumps(o, indent=2, ensure_ascii=False).replace("\n", "\r\n") + "\r\n"


def _leading(o):
    # blank lines and indentation before the document, trailing blank lines
    return "\n\n   " + json.dumps(o, separators=(",", ":"), ensure_ascii=False) + "\n\n"


STYLES = {
    "c": _compact,
    "s": _spaced,
    "p2": _indent2,
    "p4": _indent4,
    "t": _tabs,
    "crlf": _crlf,
    "lead": _leading,
}

# default style rotation for object cases without an explicit style: mostly
# compact (easy to read in gold files) with regular pretty-printed ones.
DEFAULT_ROTATION = ("c", "c", "p2", "c", "s", "c", "p4", "c")


class Corpus:
    def __init__(self):
        self.cases = []  # (name, bytes)
        self._names = set()

    def add(self, name, content, style=None):
        assert name not in self._names, name
        assert all(ch.isalnum() or ch in "-." for ch in name), name
        self._names.add(name)
        if isinstance(content, bytes):
            data = content
        elif isinstance(content, str):
            data = content.encode("utf-8")
        else:
            if style is None:
                style = DEFAULT_ROTATION[len(self.cases) % len(DEFAULT_ROTATION)]
            data = STYLES[style](content).encode("utf-8")
        self.cases.append((name, data))

    def write(self, outdir):
        os.makedirs(outdir, exist_ok=True)
        width = max(3, len(str(len(self.cases))))
        for i, (name, data) in enumerate(self.cases, 1):
            fn = os.path.join(outdir, "%0*d-%s.ign" % (width, i, name))
            with open(fn, "wb") as f:
                f.write(data)
        return len(self.cases)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def cfg(version, ignition=None, **sections):
    ign = {"version": version}
    if ignition:
        ign.update(ignition)
    d = {"ignition": ign}
    for k, v in sections.items():
        d[k] = v
    return d


def st(version, **storage):
    return cfg(version, storage=storage)


def files(version, *fs):
    return st(version, files=list(fs))


def units(version, *us):
    return cfg(version, systemd={"units": list(us)})


def vs(v):
    """short version tag for names: 3.0.0 -> v30"""
    return "v" + v.replace(".", "")[:2]


def raw(version_json, body):
    """raw text: '{"ignition":{"version":"X"},' + body + '}'"""
    return '{"ignition":{"version":"%s"},%s}' % (version_json, body)


def rot(i):
    return ALL[i % 4]


def build():
    c = Corpus()
    add = c.add

    # ======================================================================
    # 1. version handling
    # ======================================================================
    add("empty-file", b"")
    add("whitespace-only", b"  \n\t \n")
    add("newline-only", b"\n")
    add("empty-object", "{}")
    add("ignition-empty", '{"ignition":{}}')
    add("version-empty-string", '{"ignition":{"version":""}}')
    for v in ("1.0.0", "2.0.0", "2.2.0", "2.3.0"):
        add("version-%s" % v, '{"ignition":{"version":"%s"}}' % v)
    add("version-2.2.0-with-v2-body", {"ignition": {"version": "2.2.0"},
                                       "storage": {"files": [{"filesystem": "root", "path": "/a"}]}})
    add("version-3.4.0-experimental", '{"ignition":{"version":"3.4.0-experimental"}}')
    add("version-3.4.0-exp-invalid", {"ignition": {"version": V4X},
                                      "storage": {"files": [{"path": "rel"}]}})
    add("version-3.4.0-exp-luks-discard", {"ignition": {"version": V4X},
                                           "storage": {"luks": [{"name": "a", "device": "/dev/sda",
                                                                 "discard": True}]}})
    for v in ("3.4.0", "3.5.0", "3.6.0", "3.3.0-experimental", "3.2.0-experimental",
              "3.0.0-experimental", "4.0.0", "3.3.1", "3.0.1"):
        add("version-%s" % v, '{"ignition":{"version":"%s"}}' % v)
    for label, v in (("garbage", "garbage"), ("two-part", "3.3"), ("v-prefix", "v3.3.0"),
                     ("leading-space", " 3.3.0"), ("trailing-space", "3.3.0 "),
                     ("leading-zero", "03.3.0"), ("plus-sign", "+3.3.0"),
                     ("build-meta", "3.3.0+build"), ("empty-prerelease", "3.3.0-"),
                     ("four-part", "3.3.0.0"), ("negative", "-3.3.0")):
        add("version-" + label, '{"ignition":{"version":"%s"}}' % v)
    add("version-number-int", '{"ignition":{"version":3}}')
    add("version-number-float", '{"ignition":{"version":3.3}}')
    add("version-bool", '{"ignition":{"version":true}}')
    add("version-null", '{"ignition":{"version":null}}')
    add("version-object", '{"ignition":{"version":{}}}')
    add("ignition-null", '{"ignition":null}')
    add("ignition-array", '{"ignition":[]}')
    add("ignition-string", '{"ignition":"3.3.0"}')
    add("toplevel-array", "[]")
    add("toplevel-array-nonempty", '[{"ignition":{"version":"3.3.0"}}]')
    add("toplevel-string", '"3.3.0"')
    add("toplevel-number", "42")
    add("toplevel-number-trailing-nl", "42\n")
    add("toplevel-null", "null")
    add("toplevel-true", "true")
    add("version-keys-capitalised", '{"Ignition":{"Version":"3.3.0"}}')
    add("version-key-upper", '{"ignition":{"VERSION":"3.2.0"}}')
    add("version-dup-key-last-wins-ok", '{"ignition":{"version":"2.2.0","version":"3.3.0"}}')
    add("version-dup-key-last-wins-bad", '{"ignition":{"version":"3.3.0","version":"2.2.0"}}')
    add("ignition-dup-object", '{"ignition":{"version":"2.2.0"},"ignition":{"version":"3.1.0"}}')
    for v in ALL:
        add("minimal-valid-" + vs(v), cfg(v))
    add("minimal-valid-pretty-v33", cfg(V3), "p2")
    add("version-ok-then-syntax-error", '{"ignition":{"version":"3.3.0"},"storage":{"files":[}}')
    add("version-v2-with-type-error", '{"ignition":{"version":"2.2.0"},"storage":{"files":[{"path":"/a","mode":"420"}]}}')
    add("version-garbage-with-syntax-error", '{"ignition":{"version":"x"},,}')
    add("version-garbage-with-type-error", '{"ignition":{"version":"x"},"storage":[]}')
    add("version-missing-with-errors", '{"storage":{"files":[{"path":"rel"}]}}')
    add("version-v30-with-type-error", '{"ignition":{"version":"3.0.0"},"storage":{"disks":{}}}')
    add("bom-prefix", b"\xef\xbb\xbf" + b'{"ignition":{"version":"3.3.0"}}')
    add("leading-blank-lines", cfg(V3, storage={"files": [{"path": "x"}]}), "lead")
    add("version-last-key", '{"storage":{"files":[{"path":"/a/"}]},"ignition":{"version":"3.1.0"}}')

    # ======================================================================
    # 2. JSON syntax errors (position of the marker, text of the message)
    # ======================================================================
    S = '{"ignition":{"version":"3.3.0"}'
    add("syntax-trailing-comma-object-eof", S + ",}")
    add("syntax-trailing-comma-object-mid", S + ',"storage":{"files":[],}}')
    add("syntax-trailing-comma-array", S + ',"storage":{"files":[{"path":"/a"},]}}')
    add("syntax-missing-close-brace", S)
    add("syntax-missing-close-bracket", S + ',"storage":{"files":[{"path":"/a"}}}')
    add("syntax-unterminated-string", S + ',"storage":{"files":[{"path":"/a}]}}')
    add("syntax-single-quotes", "{'ignition':{'version':'3.3.0'}}")
    add("syntax-line-comment", '{"ignition":{"version":"3.3.0"} // comment\n}')
    add("syntax-block-comment", '{/* c */"ignition":{"version":"3.3.0"}}')
    add("syntax-trailing-garbage-char", S + "}x")
    add("syntax-trailing-garbage-word", S + "} garbage")
    add("syntax-trailing-second-object", S + "}\n{}\n")
    add("syntax-trailing-extra-brace", S + "}}")
    add("syntax-nan", S + ',"storage":{"files":[{"path":"/a","mode":NaN}]}}')
    add("syntax-infinity", S + ',"storage":{"files":[{"path":"/a","mode":Infinity}]}}')
    add("syntax-leading-zero-octal-mode", S + ',"storage":{"files":[{"path":"/a","mode":0644}]}}')
    add("syntax-hex-number", S + ',"storage":{"files":[{"path":"/a","mode":0x1ED}]}}')
    add("syntax-plus-number", S + ',"storage":{"files":[{"path":"/a","mode":+420}]}}')
    add("syntax-raw-newline-in-string", S + ',"storage":{"files":[{"path":"/a\nb"}]}}')
    add("syntax-raw-tab-in-string", S + ',"storage":{"files":[{"path":"/a\tb"}]}}')
    add("syntax-bad-escape", S + ',"storage":{"files":[{"path":"/a\\qb"}]}}')
    add("syntax-bad-unicode-escape", S + ',"storage":{"files":[{"path":"/a\\u12G4"}]}}')
    add("syntax-missing-colon", S + ',"storage" {}}')
    add("syntax-missing-comma", S + ' "storage":{}}')
    add("syntax-unquoted-key", S + ",storage:{}}")
    add("syntax-true-typo", S + ',"storage":{"files":[{"path":"/a","overwrite":tru}]}}')
    add("syntax-multiline-pretty",
        '{\n  "ignition": {\n    "version": "3.3.0"\n  },\n  "storage": {\n    "files": [\n'
        '      {"path": "/a",}\n    ]\n  }\n}\n')
    add("syntax-crlf", '{\r\n  "ignition": {\r\n    "version": "3.3.0"\r\n  },\r\n  "x": [1 2]\r\n}\r\n')
    add("syntax-after-utf8",
        '{"ignition":{"version":"3.3.0"},"storage":{"files":[{"path":"/\u00e9\u00e9\u00e9\u6f22","mode":}]}}')
    add("syntax-invalid-utf8-byte", b'{"ignition":{"version":"3.3.0"},"x":"\xff"}')
    add("syntax-nul-byte", b'{"ignition":{"version":"3.3.0"}}\x00')
    add("syntax-only-open-brace", "{")
    add("syntax-only-close-brace", "}")
    add("syntax-empty-key-value", S + ',"":}')
    add("syntax-tabs-before-error", '{\n\t"ignition": {\n\t\t"version": "3.3.0",\n\t}\n}\n')

    # ======================================================================
    # 3. JSON type errors (Go encoding/json UnmarshalTypeError)
    # ======================================================================
    add("type-mode-float-420.0", files(V3, {"path": "/a", "mode": 420.0}), "c")
    add("type-mode-float-420.0-raw", S + ',"storage":{"files":[{"path":"/a","mode":420.0}]}}')
    add("type-mode-string", files(V2, {"path": "/a", "mode": "0644"}))
    add("type-mode-exponent", S + ',"storage":{"files":[{"path":"/a","mode":4.2e2}]}}')
    add("type-mode-exponent-int", S + ',"storage":{"files":[{"path":"/a","mode":1e3}]}}')
    add("type-mode-overflow", S + ',"storage":{"files":[{"path":"/a","mode":99999999999999999999}]}}')
    add("type-mode-bool", files(V1, {"path": "/a", "mode": True}))
    add("type-mode-negative-zero-float", S + ',"storage":{"files":[{"path":"/a","mode":-0.0}]}}')
    add("type-path-number", files(V0, {"path": 5}))
    add("type-path-null", files(V3, {"path": None}))
    add("type-storage-array", cfg(V3, storage=[]))
    add("type-storage-string", cfg(V0, storage="x"))
    add("type-files-object", st(V3, files={}))
    add("type-files-string", st(V2, files="x"))
    add("type-overwrite-string", files(V3, {"path": "/a", "overwrite": "true"}))
    add("type-enabled-number", units(V1, {"name": "a.service", "enabled": 1}))
    add("type-user-id-string", files(V3, {"path": "/a", "user": {"id": "0"}}))
    add("type-uid-float", cfg(V2, passwd={"users": [{"name": "core", "uid": 1.5}]}))
    add("type-ssh-keys-string", cfg(V3, passwd={"users": [{"name": "core", "sshAuthorizedKeys": "ssh-rsa AAA"}]}))
    add("type-noproxy-string", cfg(V1, ignition={"proxy": {"noProxy": "example.com"}}))
    add("type-partition-number-string", st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": "1"}]}]))
    add("type-size-float", st(V0, disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "sizeMiB": 1.5}]}]))
    add("type-kargs-number", cfg(V3, kernelArguments={"shouldExist": [1]}))
    add("type-timeout-string", cfg(V2, ignition={"timeouts": {"httpTotal": "10"}}))
    add("type-units-object", cfg(V3, systemd={"units": {"name": "a.service"}}))
    add("type-unit-contents-array", units(V3, {"name": "a.service", "contents": ["[Unit]"]}))
    add("type-two-errors-first-only", S + ',"storage":{"files":[{"path":1,"mode":"x"}]}}')
    add("type-error-and-validation-error", S + ',"storage":{"files":[{"path":"rel"},{"path":"/b","mode":"x"}]}}')
    add("type-error-pretty", files(V3, {"path": "/a"}, {"path": "/b", "mode": 420.5}), "p4")
    add("type-error-after-utf8", S + ',"storage":{"files":[{"path":"/\u00e9\u6f22","mode":"x"}]}}')
    add("type-error-crlf", files(V3, {"path": "/a", "overwrite": "yes"}), "crlf")
    add("type-ignition-config-array", cfg(V3, ignition={"config": []}))
    add("type-merge-object", cfg(V1, ignition={"config": {"merge": {"source": "http://x"}}}))
    add("type-passwd-users-null-elem-name", cfg(V3, passwd={"users": [{"name": None}]}))
    add("type-toplevel-field-number", S + ',"systemd":5}')

    # ======================================================================
    # 4. Go encoding/json quirks: case-insensitive keys, duplicates, nulls
    # ======================================================================
    add("case-storage-capital-applied", S + ',"Storage":{"files":[{"path":"rel"}]}}')
    add("case-storage-upper-valid", S + ',"STORAGE":{"files":[{"path":"/a"}]}}')
    add("case-files-capital", S + ',"storage":{"Files":[{"path":"/a/../b"}]}}')
    add("case-path-capital", S + ',"storage":{"files":[{"Path":"rel"}]}}')
    add("case-systemd-mixed", S + ',"SystemD":{"units":[{"name":"a.conf"}]}}')
    add("case-both-exact-and-variant", S + ',"storage":{"files":[{"path":"/a"}]},"Storage":{"files":[{"path":"b"}]}}')
    add("case-variant-then-exact", S + ',"Storage":{"files":[{"path":"b"}]},"storage":{"files":[{"path":"/a"}]}}')
    add("case-unicode-long-s-storage", S + ',"\u017ftorage":{"files":[{"path":"x"}]}}')
    add("case-kelvin-kernelarguments", '{"ignition":{"version":"3.3.0"},"\u212aernelArguments":{"shouldExist":["a","a"]}}')
    add("case-pretty-nested-variant",
        cfg(V2, Passwd={"Users": [{"Name": "core", "sshauthorizedkeys": ["k", "k"]}]}), "p2")
    add("dupkey-path-rel-then-abs", S + ',"storage":{"files":[{"path":"rel","path":"/abs"}]}}')
    add("dupkey-path-abs-then-rel", S + ',"storage":{"files":[{"path":"/abs","path":"rel"}]}}')
    add("dupkey-storage-merges-fields", S + ',"storage":{"files":[{"path":"/a"}]},"storage":{"directories":[{"path":"/a"}]}}')
    add("dupkey-files-list-element-reuse", S + ',"storage":{"files":[{"path":"/a","mode":99999}]},"storage":{"files":[{"path":"/b"}]}}')
    add("dupkey-files-list-shorter", S + ',"storage":{"files":[{"path":"/a"},{"path":"b"}],"files":[{"path":"/c"}]}}')
    add("dupkey-mode-twice", S + ',"storage":{"files":[{"path":"/a","mode":-1,"mode":420}]}}')
    add("dupkey-unknown-twice", S + ',"bogus":1,"bogus":2}')
    add("null-storage", cfg(V3, storage=None))
    add("null-systemd", cfg(V1, systemd=None))
    add("null-passwd", cfg(V2, passwd=None))
    add("null-ignition-config", cfg(V3, ignition={"config": None}))
    add("null-files-list", st(V3, files=None))
    add("null-file-contents", files(V3, {"path": "/a", "contents": None}))
    add("null-file-user-group", files(V1, {"path": "/a", "user": None, "group": None}))
    add("null-file-element", st(V3, files=[None]))
    add("null-two-file-elements", st(V2, files=[None, None]))
    add("null-ssh-key-elements", cfg(V3, passwd={"users": [{"name": "core", "sshAuthorizedKeys": [None, None]}]}))
    add("null-verification", files(V0, {"path": "/a", "contents": {"source": "http://x", "verification": None}}))
    add("null-hash", files(V3, {"path": "/a", "contents": {"source": "http://x", "verification": {"hash": None}}}))
    add("null-mode", files(V3, {"path": "/a", "mode": None}))
    add("null-clevis", st(V3, luks=[{"name": "a", "device": "/dev/sda", "clevis": None}]))
    add("null-kernelarguments", cfg(V3, kernelArguments=None))
    add("null-unit-dropins", units(V3, {"name": "a.service", "dropins": None}))

    # ======================================================================
    # 5. unknown / unused keys (warnings)
    # ======================================================================
    add("unused-toplevel", cfg(V3, bogus=1))
    add("unused-toplevel-percent-s", S + ',"a%sb":1}')
    add("unused-toplevel-percent-percent", S + ',"a%%b":1}')
    add("unused-toplevel-percent-d-pretty", '{\n  "ignition": {"version": "3.3.0"},\n  "x%d": {}\n}\n')
    add("unused-in-ignition", cfg(V0, ignition={"bogus": True}))
    add("unused-in-storage", st(V3, bogus=[]))
    add("unused-in-file", files(V2, {"path": "/a", "pathh": "/b"}))
    add("unused-typo-in-file-pretty", files(V3, {"path": "/a", "Mode": 420, "contentz": {}}, ), "p2")
    add("unused-in-file-contents", files(V1, {"path": "/a", "contents": {"source": "data:,x", "srouce": "y"}}))
    add("unused-in-partition", st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "size": 5}]}]))
    add("unused-in-unit", units(V0, {"name": "a.service", "enable": True}))
    add("unused-in-dropin", units(V3, {"name": "a.service", "dropins": [{"name": "a.conf", "content": "x"}]}))
    add("unused-in-user", cfg(V2, passwd={"users": [{"name": "core", "password": "x"}]}))
    add("unused-in-group", cfg(V3, passwd={"groups": [{"name": "g", "members": ["a"]}]}))
    add("unused-in-filesystem", st(V1, filesystems=[{"device": "/dev/sda", "format": "ext4", "mountpoint": "/x"}]))
    add("unused-in-raid", st(V3, raid=[{"name": "md0", "level": "raid1", "devices": ["/dev/sda"], "chunk": 4}]))
    add("unused-in-luks", st(V3, luks=[{"name": "a", "device": "/dev/sda", "keyfile": {}}]))
    add("unused-in-clevis", st(V2, luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tpm": True}}]))
    add("unused-in-tang", st(V3, luks=[{"name": "a", "device": "/dev/sda",
                                       "clevis": {"tang": [{"url": "http://t", "thumbprint": "x", "adv": "y"}]}}]))
    add("unused-in-proxy", cfg(V3, ignition={"proxy": {"ftpProxy": "x"}}))
    add("unused-in-timeouts", cfg(V2, ignition={"timeouts": {"http": 5}}))
    add("unused-in-tls", cfg(V1, ignition={"security": {"tls": {"certificates": []}}}))
    add("unused-in-kargs", cfg(V3, kernelArguments={"shouldexists": ["a"]}))
    add("unused-in-header", files(V3, {"path": "/a", "contents": {"source": "http://x",
                                                                    "httpHeaders": [{"name": "A", "value": "b", "x": 1}]}}))
    add("unused-in-link", st(V0, links=[{"path": "/l", "target": "/t", "mode": 420}]))
    add("unused-in-directory", st(V3, directories=[{"path": "/d", "contents": {}}]))
    add("unused-in-node-user", files(V3, {"path": "/a", "user": {"uid": 1}}))
    add("unused-in-verification", files(V3, {"path": "/a", "contents": {"source": "http://x",
                                                                          "verification": {"sha512": "x"}}}))
    add("unused-in-disk", st(V3, disks=[{"device": "/dev/sda", "wipe": True}]))
    add("unused-value-with-errors-not-validated", cfg(V3, stor={"files": [{"path": "rel"}]}))
    add("unused-nested-in-unused", cfg(V3, extra={"a": {"b": 1}}))
    add("unused-unicode-key", cfg(V3, **{"\u00fcber": 1}))
    add("unused-in-files-array-elem-2", files(V3, {"path": "/a"}, {"path": "/b", "bogus": 1}), "p2")
    add("unused-and-error-same-object", files(V3, {"path": "rel", "bogus": 1}))

    # ======================================================================
    # 6. paths
    # ======================================================================
    bad_paths = (("empty", ""), ("relative", "a/b"), ("dotdot", "/a/../b"), ("trailing-slash", "/a/"),
                 ("double-slash", "//a"), ("dot", "/a/./b"), ("slash-dot", "/."), ("dot-only", "."),
                 ("inner-double-slash", "/a//b"))
    for i, (label, p) in enumerate(bad_paths):
        add("path-file-%s-%s" % (label, vs(rot(i))), files(rot(i), {"path": p}))
    for i, (label, p) in enumerate(bad_paths[:5]):
        add("path-dir-%s-%s" % (label, vs(rot(i + 1))), st(rot(i + 1), directories=[{"path": p}]))
    for i, (label, p) in enumerate(bad_paths[:5]):
        add("path-link-%s-%s" % (label, vs(rot(i + 2))), st(rot(i + 2), links=[{"path": p, "target": "/t"}]))
    add("path-root-valid", files(V3, {"path": "/"}))
    add("path-file-missing-key", files(V3, {"mode": 420}))
    add("path-fs-path-relative", st(V3, filesystems=[{"device": "/dev/sda", "format": "ext4", "path": "var"}]))
    add("path-fs-path-unclean", st(V1, filesystems=[{"device": "/dev/sda", "format": "ext4", "path": "/var/"}]))
    add("path-fs-path-empty-ok", st(V3, filesystems=[{"device": "/dev/sda", "format": "ext4", "path": ""}]))
    add("path-fs-device-empty", st(V2, filesystems=[{"device": "", "format": "ext4"}]))
    add("path-fs-device-missing", st(V3, filesystems=[{"format": "ext4"}]))
    add("path-fs-device-relative", st(V0, filesystems=[{"device": "sda1", "format": "xfs"}]))
    add("path-fs-device-unclean", st(V3, filesystems=[{"device": "/dev//sda1", "format": "xfs"}]))
    add("path-disk-device-empty", st(V3, disks=[{"device": ""}]))
    add("path-disk-device-empty-skips-partitions",
        st(V3, disks=[{"device": "", "partitions": [{"number": 1}, {"number": 1}]}]))
    add("path-disk-device-relative", st(V1, disks=[{"device": "sda"}]))
    add("path-disk-device-unclean", st(V3, disks=[{"device": "/dev/sda/"}]))
    add("path-raid-device-relative", st(V3, raid=[{"name": "md0", "level": "raid1", "devices": ["/dev/sda", "sdb"]}]))
    add("path-raid-device-empty", st(V0, raid=[{"name": "md0", "level": "raid1", "devices": [""]}]))
    add("path-luks-device-relative", st(V3, luks=[{"name": "a", "device": "dev/sda"}]))
    add("path-luks-device-missing", st(V2, luks=[{"name": "a"}]))
    add("path-luks-device-empty", st(V3, luks=[{"name": "a", "device": ""}]))
    add("path-all-kinds-pretty", st(V3, files=[{"path": "f"}], directories=[{"path": "d"}],
                                    links=[{"path": "l", "target": "/t"}]), "p2")

    # ======================================================================
    # 7. duplicates
    # ======================================================================
    add("dup-files", files(V0, {"path": "/a"}, {"path": "/a"}))
    add("dup-files-three", files(V3, {"path": "/a"}, {"path": "/a"}, {"path": "/a"}))
    add("dup-file-dir", st(V3, files=[{"path": "/a"}], directories=[{"path": "/a"}]))
    add("dup-dir-file-json-order", '{"ignition":{"version":"3.2.0"},"storage":{"directories":[{"path":"/a"}],"files":[{"path":"/a"}]}}')
    add("dup-file-link", st(V1, files=[{"path": "/a"}], links=[{"path": "/a", "target": "/t"}]))
    add("dup-dir-link", st(V3, directories=[{"path": "/a"}], links=[{"path": "/a", "target": "/t"}]))
    add("dup-links", st(V2, links=[{"path": "/a", "target": "/t"}, {"path": "/a", "target": "/u"}]))
    add("dup-all-three-kinds", st(V3, files=[{"path": "/a"}], directories=[{"path": "/a"}],
                                  links=[{"path": "/a", "target": "/t"}]))
    add("dup-paths-not-normalised", files(V3, {"path": "/a"}, {"path": "/a/"}))
    add("dup-disks", st(V1, disks=[{"device": "/dev/sda"}, {"device": "/dev/sda"}]))
    add("dup-partitions-number", st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": 1}, {"number": 1}]}]))
    add("dup-partitions-label-number0", st(V2, disks=[{"device": "/dev/sda", "partitions": [{"label": "x"}, {"label": "x"}]}]))
    add("dup-partitions-label-distinct-numbers",
        st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "x"}, {"number": 2, "label": "x"}]}]))
    add("dup-partitions-no-number-no-label",
        st(V3, disks=[{"device": "/dev/sda", "partitions": [{"sizeMiB": 5}, {"sizeMiB": 6}]}]))
    add("dup-partitions-number-vs-label-key",
        st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "a"}, {"label": "a"}]}]))
    add("dup-raid", st(V3, raid=[{"name": "md0", "level": "raid1", "devices": ["/dev/sda"]},
                                {"name": "md0", "level": "raid1", "devices": ["/dev/sdb"]}]))
    add("dup-raid-devices", st(V0, raid=[{"name": "md0", "level": "raid1", "devices": ["/dev/sda", "/dev/sda"]}]))
    add("dup-raid-options-ok", st(V3, raid=[{"name": "md0", "level": "raid1", "devices": ["/dev/sda"], "options": ["x", "x"]}]))
    add("dup-filesystems", st(V3, filesystems=[{"device": "/dev/sda", "format": "ext4"}, {"device": "/dev/sda", "format": "xfs"}]))
    add("dup-fs-options-ok", st(V2, filesystems=[{"device": "/dev/sda", "format": "ext4", "options": ["-F", "-F"],
                                                   "mountOptions": ["ro", "ro"]}]))
    add("dup-fs-options-ok-v30", st(V0, filesystems=[{"device": "/dev/sda", "format": "ext4", "options": ["-F", "-F"]}]))
    add("dup-luks", st(V3, luks=[{"name": "a", "device": "/dev/sda"}, {"name": "a", "device": "/dev/sdb"}]))
    add("dup-luks-options-ok", st(V2, luks=[{"name": "a", "device": "/dev/sda", "options": ["x", "x"]}]))
    add("dup-tang", st(V3, luks=[{"name": "a", "device": "/dev/sda", "clevis": {
        "tang": [{"url": "http://t", "thumbprint": "a"}, {"url": "http://t", "thumbprint": "b"}]}}]))
    add("dup-units", units(V0, {"name": "a.service"}, {"name": "a.service", "mask": True}))
    add("dup-dropins", units(V3, {"name": "a.service", "dropins": [{"name": "x.conf"}, {"name": "x.conf"}]}))
    add("dup-dropins-across-units-ok", units(V3, {"name": "a.service", "dropins": [{"name": "x.conf"}]},
                                             {"name": "b.service", "dropins": [{"name": "x.conf"}]}))
    add("dup-users", cfg(V1, passwd={"users": [{"name": "core"}, {"name": "core"}]}))
    add("dup-groups", cfg(V3, passwd={"groups": [{"name": "g"}, {"name": "g"}]}))
    add("dup-user-group-same-name-ok", cfg(V3, passwd={"users": [{"name": "x"}], "groups": [{"name": "x"}]}))
    add("dup-ssh-keys", cfg(V3, passwd={"users": [{"name": "core", "sshAuthorizedKeys": ["k1", "k2", "k1"]}]}))
    add("dup-user-groups", cfg(V2, passwd={"users": [{"name": "core", "groups": ["wheel", "wheel"]}]}))
    add("dup-http-headers", files(V3, {"path": "/a", "contents": {"source": "http://x", "httpHeaders": [
        {"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}}))
    add("dup-http-headers-case-differs-ok", files(V1, {"path": "/a", "contents": {"source": "http://x", "httpHeaders": [
        {"name": "A", "value": "1"}, {"name": "a", "value": "2"}]}}))
    add("dup-merge-sources", cfg(V3, ignition={"config": {"merge": [{"source": "http://x"}, {"source": "http://x"}]}}))
    add("dup-merge-sources-v30", cfg(V0, ignition={"config": {"merge": [{"source": "http://x"}, {"source": "http://x"}]}}))
    add("dup-cas", cfg(V2, ignition={"security": {"tls": {"certificateAuthorities": [
        {"source": "http://ca"}, {"source": "http://ca"}]}}}))
    add("dup-cas-v30", cfg(V0, ignition={"security": {"tls": {"certificateAuthorities": [
        {"source": "http://ca"}, {"source": "http://ca"}]}}}))
    add("dup-append-ok", files(V3, {"path": "/a", "append": [{"source": "data:,x"}, {"source": "data:,x"}]}))
    add("dup-noproxy", cfg(V3, ignition={"proxy": {"noProxy": ["a", "b", "a"]}}))
    add("dup-kargs-should-exist", cfg(V3, kernelArguments={"shouldExist": ["quiet", "quiet"]}))
    add("dup-kargs-should-not-exist", cfg(V3, kernelArguments={"shouldNotExist": ["a", "a"]}))
    add("dup-kargs-across-lists", cfg(V3, kernelArguments={"shouldExist": ["a"], "shouldNotExist": ["a"]}))
    add("dup-kargs-across-lists-json-order", '{"ignition":{"version":"3.3.0"},"kernelArguments":{"shouldNotExist":["a"],"shouldExist":["a"]}}')
    add("dup-pretty-files", files(V3, {"path": "/a", "mode": 420}, {"path": "/b"}, {"path": "/a", "mode": 384}), "p4")
    add("dup-nested-lists-multiple", cfg(V3, passwd={"users": [{"name": "u", "groups": ["g", "g"]},
                                                               {"name": "u", "sshAuthorizedKeys": ["k", "k"]}]}))

    # ======================================================================
    # 8. partitions
    # ======================================================================
    def disk(v, parts, **kw):
        d = {"device": "/dev/sda", "partitions": parts}
        d.update(kw)
        return st(v, disks=[d])
    add("part-numbers-collide", disk(V0, [{"number": 1, "label": "a"}, {"number": 1, "label": "b"}]))
    add("part-numbers-collide-third", disk(V3, [{"number": 1}, {"number": 2}, {"number": 1}]))
    add("part-labels-collide-third", disk(V2, [{"number": 1, "label": "a"}, {"number": 2, "label": "b"},
                                               {"number": 3, "label": "a"}]))
    add("part-overlap-two", disk(V3, [{"number": 1, "startMiB": 1, "sizeMiB": 10},
                                      {"number": 2, "startMiB": 5, "sizeMiB": 10}]))
    add("part-overlap-index-first", disk(V1, [{"number": 1, "startMiB": 100, "sizeMiB": 10},
                                              {"number": 2, "startMiB": 1, "sizeMiB": 10},
                                              {"number": 3, "startMiB": 105, "sizeMiB": 10}]))
    add("part-overlap-straddle", disk(V3, [{"number": 1, "startMiB": 10, "sizeMiB": 100},
                                           {"number": 2, "startMiB": 20, "sizeMiB": 5}]))
    add("part-overlap-adjacent-ok", disk(V3, [{"number": 1, "startMiB": 1, "sizeMiB": 10},
                                              {"number": 2, "startMiB": 11, "sizeMiB": 10}]))
    add("part-overlap-touching", disk(V2, [{"number": 1, "startMiB": 1, "sizeMiB": 10},
                                           {"number": 2, "startMiB": 10, "sizeMiB": 10}]))
    add("part-overlap-start0-ignored", disk(V3, [{"number": 1, "startMiB": 0, "sizeMiB": 10},
                                                 {"number": 2, "startMiB": 0, "sizeMiB": 10}]))
    add("part-overlap-size0", disk(V3, [{"number": 1, "startMiB": 5, "sizeMiB": 0},
                                        {"number": 2, "startMiB": 5, "sizeMiB": 10}]))
    add("part-overlap-missing-size-ignored", disk(V0, [{"number": 1, "startMiB": 5},
                                                       {"number": 2, "startMiB": 5, "sizeMiB": 10}]))
    add("part-need-number-or-label", disk(V3, [{"sizeMiB": 10}]))
    add("part-label-only-ok", disk(V3, [{"label": "root"}]))
    add("part-number0-label-ok", disk(V1, [{"number": 0, "label": "root"}]))
    add("part-negative-number", disk(V3, [{"number": -1}]))
    add("part-shouldexist-false-label", disk(V3, [{"number": 1, "shouldExist": False, "label": "x"}]))
    add("part-shouldexist-false-typeguid", disk(V0, [{"number": 1, "shouldExist": False, "typeGuid": GUID_OK}]))
    add("part-shouldexist-false-guid", disk(V1, [{"number": 1, "shouldExist": False, "guid": GUID_OK}]))
    add("part-shouldexist-false-start", disk(V2, [{"number": 1, "shouldExist": False, "startMiB": 0}]))
    add("part-shouldexist-false-size", disk(V3, [{"number": 1, "shouldExist": False, "sizeMiB": 5}]))
    add("part-shouldexist-false-empty-guid-ok", disk(V3, [{"number": 1, "shouldExist": False, "guid": "", "typeGuid": ""}]))
    add("part-shouldexist-false-wipe-ok", disk(V3, [{"number": 1, "shouldExist": False, "wipePartitionEntry": True}]))
    add("part-shouldexist-false-resize-ok", disk(V3, [{"number": 1, "shouldExist": False, "resize": True}]))
    add("part-shouldexist-false-with-number0", disk(V3, [{"number": 1, "shouldExist": False}, {"label": "x"}]))
    add("part-shouldexist-false-number0-itself", disk(V2, [{"shouldExist": False}]))
    add("part-label-36-ok", disk(V3, [{"number": 1, "label": "x" * 36}]))
    add("part-label-37", disk(V3, [{"number": 1, "label": "x" * 37}]))
    add("part-label-multibyte-len", disk(V1, [{"number": 1, "label": "\u00e9" * 19}]))
    add("part-label-colon", disk(V0, [{"number": 1, "label": "a:b"}]))
    add("part-label-long-and-colon", disk(V3, [{"number": 1, "label": ":" * 40}]))
    add("part-guid-bad", disk(V3, [{"number": 1, "guid": "not-a-guid"}]))
    add("part-typeguid-bad", disk(V2, [{"number": 1, "typeGuid": "0FC63DAF-8483-4772-8E79-3D69D8477DE"}]))
    add("part-guid-braces", disk(V3, [{"number": 1, "guid": "{" + GUID_OK + "}"}]))
    add("part-guid-lowercase-ok", disk(V3, [{"number": 1, "guid": GUID_LC, "typeGuid": GUID_OK}]))
    add("part-guid-empty-ok", disk(V0, [{"number": 1, "guid": "", "typeGuid": ""}]))
    add("part-guid-and-typeguid-bad", disk(V3, [{"number": 1, "guid": "x", "typeGuid": "y"}]))
    add("part-resize-v32-ok", disk(V2, [{"number": 1, "resize": True}]))
    add("part-many-errors-one-partition", disk(V3, [{"shouldExist": False, "label": "a:" + "b" * 40,
                                                     "guid": "g", "typeGuid": "t", "sizeMiB": 1}]))
    add("part-all-disk-errors", disk(V3, [{"number": 1, "label": "a", "startMiB": 1, "sizeMiB": 10},
                                          {"number": 1, "label": "a", "startMiB": 2, "sizeMiB": 10},
                                          {"number": 2, "shouldExist": False}]), "p2")
    add("part-pretty-collide", disk(V3, [{"number": 3}, {"number": 3}]), "t")

    # ======================================================================
    # 9. filesystems
    # ======================================================================
    def fs(v, **kw):
        d = {"device": "/dev/sdb"}
        d.update(kw)
        return st(v, filesystems=[d])
    add("fs-format-invalid", fs(V3, format="ext3"))
    add("fs-format-invalid-case", fs(V0, format="EXT4"))
    for i, f in enumerate(("ext4", "btrfs", "xfs", "vfat", "swap")):
        add("fs-format-%s-ok-%s" % (f, vs(rot(i))), fs(rot(i), format=f))
    add("fs-format-none-v33-ok", fs(V3, format="none"))
    add("fs-format-none-v32-invalid", fs(V2, format="none"))
    add("fs-format-none-v30-invalid", fs(V0, format="none"))
    add("fs-format-empty-string-alone-ok", fs(V3, format=""))
    add("fs-device-only-ok", fs(V1))
    add("fs-format-empty-with-path", fs(V3, format="", path="/var"))
    add("fs-format-missing-with-path", fs(V1, path="/var"))
    add("fs-format-missing-with-label", fs(V3, label="data"))
    add("fs-format-missing-with-uuid", fs(V2, uuid="abc"))
    add("fs-format-missing-with-wipe", fs(V3, wipeFilesystem=True))
    add("fs-format-missing-wipe-false-ok", fs(V3, wipeFilesystem=False))
    add("fs-format-missing-with-options", fs(V0, options=["-F"]))
    add("fs-format-missing-with-mountoptions", fs(V1, mountOptions=["ro"]))
    add("fs-format-missing-with-mountoptions-v30", fs(V0, mountOptions=["ro"]))
    add("fs-format-missing-empty-strings-ok", fs(V3, path="", label="", uuid=""))
    labels = (("ext4", 16), ("btrfs", 256), ("xfs", 12), ("swap", 15), ("vfat", 11))
    for i, (f, n) in enumerate(labels):
        add("fs-label-%s-%d-ok" % (f, n), fs(rot(i), format=f, label="L" * n))
        add("fs-label-%s-%d-too-long" % (f, n + 1), fs(rot(i + 1), format=f, label="L" * (n + 1)))
    add("fs-label-none-format-long-ok", fs(V3, format="none", label="L" * 300))
    add("fs-label-invalid-format-long", fs(V3, format="zfs", label="L" * 300))
    add("fs-label-multibyte-ext4", fs(V3, format="ext4", label="\u00e9" * 9))
    add("fs-all-errors", fs(V3, path="rel", device="dev", format="fat", label="x"))
    add("fs-all-errors-pretty", {"ignition": {"version": V1}, "storage": {"filesystems": [
        {"device": "", "path": "/a/../b", "label": "lbl"}]}}, "p4")

    # ======================================================================
    # 10. files / directories: mode, overwrite, user/group
    # ======================================================================
    add("mode-negative", files(V3, {"path": "/a", "mode": -1}))
    add("mode-4096", files(V0, {"path": "/a", "mode": 4096}))
    add("mode-07777-ok-v33", files(V3, {"path": "/a", "mode": 4095}))
    add("mode-0644-ok", files(V1, {"path": "/a", "mode": 420}))
    add("mode-zero-ok", files(V3, {"path": "/a", "mode": 0}))
    add("mode-huge", files(V2, {"path": "/a", "mode": 1 << 40}))
    add("mode-setuid-file-v33", files(V3, {"path": "/a", "mode": 0o4755}))
    add("mode-setgid-file-v30", files(V0, {"path": "/a", "mode": 0o2755}))
    add("mode-sticky-dir-v32", st(V2, directories=[{"path": "/d", "mode": 0o1777}]))
    add("mode-dir-negative", st(V3, directories=[{"path": "/d", "mode": -493}]))
    add("mode-dir-too-big", st(V1, directories=[{"path": "/d", "mode": 0o10000}]))
    add("mode-setuid-v34exp-ok", {"ignition": {"version": V4X}, "storage": {"files": [{"path": "/a", "mode": 0o4755}]}})
    add("overwrite-no-source", files(V3, {"path": "/a", "overwrite": True}))
    add("overwrite-no-source-v30", files(V0, {"path": "/a", "overwrite": True}))
    add("overwrite-empty-source-ok", files(V3, {"path": "/a", "overwrite": True, "contents": {"source": ""}}))
    add("overwrite-with-source-ok", files(V1, {"path": "/a", "overwrite": True, "contents": {"source": "data:,x"}}))
    add("overwrite-false-no-source-ok", files(V3, {"path": "/a", "overwrite": False}))
    add("overwrite-dir-ok", st(V3, directories=[{"path": "/d", "overwrite": True}]))
    add("overwrite-link-ok", st(V2, links=[{"path": "/l", "target": "/t", "overwrite": True}]))
    add("overwrite-append-only", files(V3, {"path": "/a", "overwrite": True, "append": [{"source": "data:,x"}]}))
    add("user-id-and-name", files(V3, {"path": "/a", "user": {"id": 0, "name": "root"}}))
    add("group-id-and-name", files(V1, {"path": "/a", "group": {"id": 0, "name": "root"}}))
    add("user-group-both-dir", st(V0, directories=[{"path": "/d", "user": {"id": 1, "name": "a"},
                                                    "group": {"id": 1, "name": "a"}}]))
    add("user-id-and-empty-name-ok", files(V3, {"path": "/a", "user": {"id": 0, "name": ""}}))
    add("user-id-and-name-link", st(V2, links=[{"path": "/l", "target": "/t", "user": {"id": 0, "name": "x"}}]))
    add("user-on-hard-link-no-warning", st(V3, links=[{"path": "/l", "target": "/t", "hard": True,
                                                       "user": {"id": 0}, "group": {"name": "root"}}]))
    add("file-many-errors", files(V3, {"path": "rel/../x", "mode": 99999, "overwrite": True,
                                       "user": {"id": 1, "name": "u"}, "group": {"id": 1, "name": "g"}}))
    add("file-many-errors-pretty", files(V1, {"path": "", "mode": -5, "overwrite": True,
                                              "user": {"id": 1, "name": "u"}}), "p2")

    # ======================================================================
    # 11. resources: hashes, compression, URLs, data URLs, s3, headers
    # ======================================================================
    def fc(v, contents, path="/a"):
        return files(v, {"path": path, "contents": contents})
    add("hash-ok-sha512", fc(V0, {"source": "http://x", "verification": {"hash": SHA512_OK}}))
    add("hash-malformed-no-dash", fc(V3, {"source": "http://x", "verification": {"hash": "sha512"}}))
    add("hash-malformed-colon", fc(V1, {"source": "http://x", "verification": {"hash": "sha512:" + "a" * 128}}))
    add("hash-empty-string", fc(V3, {"source": "http://x", "verification": {"hash": ""}}))
    add("hash-unknown-fn", fc(V2, {"source": "http://x", "verification": {"hash": "md5-" + "a" * 32}}))
    add("hash-uppercase-fn", fc(V3, {"source": "http://x", "verification": {"hash": "SHA512-" + "a" * 128}}))
    add("hash-wrong-length-512", fc(V3, {"source": "http://x", "verification": {"hash": "sha512-abc"}}))
    add("hash-wrong-length-256", fc(V1, {"source": "http://x", "verification": {"hash": "sha256-" + "b" * 63}}))
    add("hash-sha256-v30-unrecognized", fc(V0, {"source": "http://x", "verification": {"hash": SHA256_OK}}))
    add("hash-sha256-v31-ok", fc(V1, {"source": "http://x", "verification": {"hash": SHA256_OK}}))
    add("hash-sha256-v33-ok", fc(V3, {"source": "http://x", "verification": {"hash": SHA256_OK}}))
    add("hash-non-hex-right-length", fc(V3, {"source": "http://x", "verification": {"hash": "sha512-" + "z" * 128}}))
    add("hash-without-source", fc(V3, {"verification": {"hash": SHA512_OK}}))
    add("hash-without-source-v30", fc(V0, {"verification": {"hash": SHA512_OK}}))
    add("hash-without-source-bad-hash", fc(V2, {"verification": {"hash": "nope"}}))
    add("hash-in-merge", cfg(V3, ignition={"config": {"merge": [{"source": "http://x", "verification": {"hash": "sha1-aa"}}]}}))
    add("hash-in-replace-v30", cfg(V0, ignition={"config": {"replace": {"source": "http://x", "verification": {"hash": "x"}}}}))
    add("hash-in-ca", cfg(V1, ignition={"security": {"tls": {"certificateAuthorities": [
        {"source": "http://ca", "verification": {"hash": "sha512-00"}}]}}}))
    add("hash-in-append", files(V3, {"path": "/a", "append": [{"source": "http://x", "verification": {"hash": "sha256-1"}}]}))
    add("compression-invalid", fc(V3, {"source": "http://x", "compression": "bzip2"}))
    add("compression-invalid-v30", fc(V0, {"source": "http://x", "compression": "xz"}))
    add("compression-gzip-ok", fc(V2, {"source": "http://x", "compression": "gzip"}))
    add("compression-empty-ok", fc(V3, {"source": "http://x", "compression": ""}))
    add("compression-without-source-ok", fc(V3, {"compression": "gzip"}))
    add("compression-in-merge-v31-invalid", cfg(V1, ignition={"config": {"merge": [{"source": "http://x", "compression": "zip"}]}}))
    add("compression-in-merge-v30-unused", cfg(V0, ignition={"config": {"merge": [{"source": "http://x", "compression": "gzip"}]}}))
    schemes_ok = ("http://example.com/x", "https://example.com/x", "tftp://host/x", "s3://bucket/key",
                  "data:,hello")
    for i, u in enumerate(schemes_ok):
        add("url-ok-%s-%s" % (u.split(":")[0], vs(rot(i))), fc(rot(i), {"source": u}))
    for v in ALL:
        add("url-gs-" + vs(v), fc(v, {"source": "gs://bucket/obj"}))
    add("url-ftp", fc(V3, {"source": "ftp://host/x"}))
    add("url-file", fc(V1, {"source": "file:///etc/x"}))
    add("url-no-scheme", fc(V3, {"source": "/etc/x"}))
    add("url-arn-v33-invalid", fc(V3, {"source": "arn:aws:s3:::bucket/key"}))
    add("url-upper-scheme", fc(V3, {"source": "HTTP://example.com/x"}))
    add("url-unparseable-bracket", fc(V2, {"source": "http://[::1"}))
    add("url-unparseable-percent", fc(V3, {"source": "%zz"}))
    add("url-unparseable-space-scheme", fc(V3, {"source": " http://x"}))
    add("url-control-char", fc(V0, {"source": "http://x/\u0001"}))
    add("url-empty-source-ok", fc(V3, {"source": ""}))
    add("url-percent-in-source", fc(V3, {"source": "ftp://x/%41%s"}))
    add("data-url-bad-base64", fc(V3, {"source": "data:text/plain;base64,!!!"}))
    add("data-url-no-comma", fc(V0, {"source": "data:text/plain"}))
    add("data-url-empty", fc(V3, {"source": "data:"}))
    add("data-url-no-slash", fc(V1, {"source": "data:foo,bar"}))
    add("data-url-bad-escape", fc(V3, {"source": "data:,a%zzb"}))
    add("data-url-base64-ok", fc(V2, {"source": "data:;base64,aGVsbG8="}))
    add("data-url-params-ok", fc(V3, {"source": "data:text/plain;charset=utf-8,hi"}))
    add("data-url-bad-param", fc(V3, {"source": "data:text/plain;charset,hi"}))
    add("data-url-in-append", files(V2, {"path": "/a", "append": [{"source": "data:,ok"}, {"source": "data:x"}]}))
    add("s3-versionid-empty", fc(V3, {"source": "s3://bucket/key?versionId="}))
    add("s3-versionid-empty-v30", fc(V0, {"source": "s3://bucket/key?versionId="}))
    add("s3-versionid-ok", fc(V2, {"source": "s3://bucket/key?versionId=abc"}))
    add("s3-versionid-second-empty-ok", fc(V3, {"source": "s3://bucket/key?versionId=a&versionId="}))
    add("s3-versionid-first-empty", fc(V3, {"source": "s3://bucket/key?versionId=&versionId=a"}))
    add("headers-on-data-url", fc(V3, {"source": "data:,x", "httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-on-s3", fc(V1, {"source": "s3://b/k", "httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-on-tftp", fc(V2, {"source": "tftp://h/k", "httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-without-source", fc(V3, {"httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-with-empty-source", fc(V3, {"source": "", "httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-with-bad-url", fc(V3, {"source": "http://[x", "httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-empty-list-on-data-ok", fc(V3, {"source": "data:,x", "httpHeaders": []}))
    add("headers-empty-name", fc(V3, {"source": "https://x", "httpHeaders": [{"name": "", "value": "b"}]}))
    add("headers-missing-name", fc(V1, {"source": "https://x", "httpHeaders": [{"value": "b"}]}))
    add("headers-empty-value", fc(V3, {"source": "https://x", "httpHeaders": [{"name": "A", "value": ""}]}))
    add("headers-null-value-ok", fc(V2, {"source": "https://x", "httpHeaders": [{"name": "A", "value": None}]}))
    add("headers-missing-value-ok", fc(V3, {"source": "https://x", "httpHeaders": [{"name": "A"}]}))
    add("headers-empty-name-and-value", fc(V3, {"source": "https://x", "httpHeaders": [{"name": "", "value": ""}]}))
    add("headers-v30-unused", fc(V0, {"source": "https://x", "httpHeaders": [{"name": "A", "value": "b"}]}))
    add("headers-in-merge-on-data", cfg(V3, ignition={"config": {"merge": [
        {"source": "data:,{}", "httpHeaders": [{"name": "A", "value": "b"}]}]}}))
    add("headers-in-ca-bad", cfg(V2, ignition={"security": {"tls": {"certificateAuthorities": [
        {"source": "https://ca", "httpHeaders": [{"name": "", "value": ""}]}]}}}))
    add("headers-in-replace-bad-name-pretty", cfg(V3, ignition={"config": {"replace": {
        "source": "https://x", "httpHeaders": [{"name": "", "value": "v"}]}}}), "p2")
    add("merge-source-missing", cfg(V3, ignition={"config": {"merge": [{}]}}))
    add("merge-source-missing-v30", cfg(V0, ignition={"config": {"merge": [{}]}}))
    add("merge-source-empty", cfg(V1, ignition={"config": {"merge": [{"source": ""}]}}))
    add("merge-source-bad-scheme", cfg(V3, ignition={"config": {"merge": [{"source": "ftp://x"}]}}))
    add("merge-source-bad-scheme-v30", cfg(V0, ignition={"config": {"merge": [{"source": "ftp://x"}]}}))
    add("replace-source-missing-ok", cfg(V3, ignition={"config": {"replace": {}}}))
    add("replace-source-bad", cfg(V2, ignition={"config": {"replace": {"source": "foo"}}}))
    add("replace-hash-no-source", cfg(V3, ignition={"config": {"replace": {"verification": {"hash": SHA512_OK}}}}))
    add("ca-source-missing", cfg(V3, ignition={"security": {"tls": {"certificateAuthorities": [{}]}}}))
    add("ca-source-missing-v30", cfg(V0, ignition={"security": {"tls": {"certificateAuthorities": [{}]}}}))
    add("ca-source-empty-v31", cfg(V1, ignition={"security": {"tls": {"certificateAuthorities": [{"source": ""}]}}}))
    add("ca-source-bad-data-url", cfg(V3, ignition={"security": {"tls": {"certificateAuthorities": [{"source": "data:x"}]}}}))
    add("append-bad-source", files(V3, {"path": "/a", "append": [{"source": "ftp://x"}]}))
    add("append-source-missing-ok", files(V3, {"path": "/a", "append": [{}]}))

    # ======================================================================
    # 12. proxy
    # ======================================================================
    def px(v, **p):
        return cfg(v, ignition={"proxy": p})
    add("proxy-ok", px(V1, httpProxy="http://p:3128", httpsProxy="https://p:3128", noProxy=["a", ".b", "*"]))
    add("proxy-http-ftp", px(V3, httpProxy="ftp://p"))
    add("proxy-https-socks", px(V2, httpsProxy="socks5://p"))
    add("proxy-https-insecure-warning", px(V3, httpsProxy="http://p"))
    add("proxy-http-no-scheme", px(V3, httpProxy="p:3128"))
    add("proxy-http-empty", px(V1, httpProxy=""))
    add("proxy-unparseable", px(V3, httpProxy="http://[p"))
    add("proxy-both-bad", px(V3, httpProxy="x", httpsProxy="y"))
    add("proxy-v30-unused", px(V0, httpProxy="http://p"))
    add("proxy-https-insecure-pretty", px(V2, httpsProxy="http://p", noProxy=["x", "x"]), "p4")

    # ======================================================================
    # 13. links
    # ======================================================================
    add("link-target-empty-v33", st(V3, links=[{"path": "/l", "target": ""}]))
    add("link-target-missing-v33", st(V3, links=[{"path": "/l"}]))
    add("link-target-empty-v32", st(V2, links=[{"path": "/l", "target": ""}]))
    add("link-target-missing-v30", st(V0, links=[{"path": "/l"}]))
    add("link-target-relative-ok", st(V3, links=[{"path": "/l", "target": "../t"}]))
    add("link-hard-to-dir-abs", st(V3, directories=[{"path": "/d"}], links=[{"path": "/l", "target": "/d", "hard": True}]))
    add("link-hard-to-dir-rel", st(V1, directories=[{"path": "/x/d"}], links=[{"path": "/x/l", "target": "d", "hard": True}]))
    add("link-hard-to-dir-unclean", st(V3, directories=[{"path": "/d"}], links=[{"path": "/l", "target": "/d/", "hard": True}]))
    add("link-sym-to-dir-ok", st(V0, directories=[{"path": "/d"}], links=[{"path": "/l", "target": "/d"}]))
    add("link-hard-to-file-ok", st(V3, files=[{"path": "/f"}], links=[{"path": "/l", "target": "/f", "hard": True}]))
    add("link-hard-target-missing-v33", st(V3, links=[{"path": "/l", "hard": True}]))
    add("link-file-under-link", st(V3, files=[{"path": "/l/f"}], links=[{"path": "/l", "target": "/t"}]))
    add("link-dir-under-link", st(V2, directories=[{"path": "/l/d"}], links=[{"path": "/l", "target": "/t"}]))
    add("link-link-under-link", st(V3, links=[{"path": "/l", "target": "/t"}, {"path": "/l/m", "target": "/u"}]))
    add("link-under-link-reverse-order", st(V0, links=[{"path": "/l/m", "target": "/u"}, {"path": "/l", "target": "/t"}]))
    add("link-prefix-not-dir-ok", st(V3, files=[{"path": "/lx"}], links=[{"path": "/l", "target": "/t"}]))
    add("link-under-two-links", st(V3, files=[{"path": "/a/b/c"}], links=[{"path": "/a", "target": "/t"},
                                                                         {"path": "/a/b", "target": "/u"}]))
    add("link-errors-all-kinds", st(V3, files=[{"path": "/l/f"}], directories=[{"path": "/l/d"}, {"path": "/x"}],
                                    links=[{"path": "/l", "target": ""}, {"path": "/l/k", "target": "/x", "hard": True}]), "p2")

    # ======================================================================
    # 14. systemd units and dropins
    # ======================================================================
    for i, ext in enumerate(("service", "socket", "device", "mount", "automount", "swap", "target",
                             "path", "timer", "snapshot", "slice", "scope")):
        if i % 3 == 0:
            add("unit-ext-%s-ok" % ext, units(rot(i // 3), {"name": "a." + ext}))
    add("unit-ext-all-ok", units(V3, *[{"name": "a." + e} for e in (
        "service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "snapshot",
        "slice", "scope")]))
    add("unit-ext-conf", units(V3, {"name": "a.conf"}))
    add("unit-ext-none", units(V0, {"name": "foo"}))
    add("unit-name-empty", units(V2, {"name": ""}))
    add("unit-name-missing", units(V3, {"enabled": False}))
    add("unit-ext-uppercase", units(V3, {"name": "a.SERVICE"}))
    add("unit-ext-trailing-dot", units(V1, {"name": "a.service."}))
    add("unit-template-ok", units(V3, {"name": "a@.service"}))
    add("unit-instance-enabled-no-install-template", units(V3, {"name": "a@.service", "contents": "[Unit]\nA=b"},
                                                           {"name": "a@x.service", "enabled": True}))
    add("dropin-ext-bad", units(V3, {"name": "a.service", "dropins": [{"name": "x.txt"}]}))
    add("dropin-ext-none", units(V0, {"name": "a.service", "dropins": [{"name": "x"}]}))
    add("dropin-name-empty", units(V3, {"name": "a.service", "dropins": [{"name": ""}]}))
    add("dropin-ok", units(V2, {"name": "a.service", "dropins": [{"name": "x.conf", "contents": "[Service]\nA=b"}]}))
    unit_bad = (("unterminated-section", "[Unit"),
                ("eof-in-option-name", "[Unit]\nfoo"),
                ("newline-in-option-name", "[Unit]\nA\nB=c"),
                ("garbage-after-section", "[Unit] foo\nA=b"),
                ("crlf-newline-in-name", "[Unit]\r\nA\r\nB=c"))
    for i, (label, text) in enumerate(unit_bad):
        add("unit-contents-%s-%s" % (label, vs(rot(i))), units(rot(i), {"name": "a.service", "contents": text}))
    add("unit-contents-no-section-ok", units(V3, {"name": "a.service", "contents": "foo"}))
    add("unit-contents-empty-ok", units(V3, {"name": "a.service", "contents": ""}))
    add("unit-contents-continuation-eof-ok", units(V3, {"name": "a.service", "contents": "[Unit]\nA=b\\"}))
    add("unit-contents-comments-ok", units(V1, {"name": "a.service", "contents": "# c\n; d\n[Unit]\n#x\nA=b\n"}))
    add("unit-contents-line-2047-ok", units(V3, {"name": "a.service", "contents": "[Unit]\nA=" + "x" * 2045 + "\n"}))
    add("unit-contents-line-2048", units(V3, {"name": "a.service", "contents": "[Unit]\nA=" + "x" * 2046 + "\n"}))
    add("unit-contents-line-2048-no-newline", units(V3, {"name": "a.service", "contents": "[Unit]\nA=" + "x" * 2046}))
    add("unit-contents-garbage-utf8", units(V3, {"name": "a.service", "contents": "[Unit] \u00e9\nA=b"}))
    add("dropin-contents-bad", units(V3, {"name": "a.service", "dropins": [{"name": "x.conf", "contents": "[Service"}]}))
    add("dropin-contents-and-name-bad", units(V0, {"name": "a.service", "dropins": [{"name": "x.txt", "contents": "[Unit"}]}))
    add("unit-enabled-no-install-warning", units(V3, {"name": "a.service", "enabled": True, "contents": "[Unit]\nA=b"}))
    add("unit-enabled-no-install-v30", units(V0, {"name": "a.service", "enabled": True, "contents": "[Service]\nExecStart=/x"}))
    add("unit-enabled-with-install-ok", units(V3, {"name": "a.service", "enabled": True,
                                                   "contents": "[Unit]\nA=b\n[Install]\nWantedBy=multi-user.target"}))
    add("unit-enabled-no-contents-ok", units(V2, {"name": "a.service", "enabled": True}))
    add("unit-enabled-empty-contents-ok", units(V3, {"name": "a.service", "enabled": True, "contents": ""}))
    add("unit-disabled-no-install-ok", units(V3, {"name": "a.service", "enabled": False, "contents": "[Unit]\nA=b"}))
    add("unit-enabled-bad-contents-no-warning", units(V1, {"name": "a.service", "enabled": True, "contents": "[Unit"}))
    add("unit-enabled-install-in-dropin-warning", units(V3, {"name": "a.service", "enabled": True, "contents": "[Unit]\nA=b",
                                                             "dropins": [{"name": "i.conf", "contents": "[Install]\nWantedBy=x"}]}))
    add("unit-enabled-no-install-percent-name", units(V3, {"name": "a%d.service", "enabled": True, "contents": "[Unit]"}))
    add("unit-name-bad-and-enabled-no-install", units(V3, {"name": "a.conf", "enabled": True, "contents": "[Unit]"}))
    add("unit-file-conflict-not-checked", {"ignition": {"version": V3},
                                           "storage": {"files": [{"path": "/etc/systemd/system/a.service"}]},
                                           "systemd": {"units": [{"name": "a.service", "contents": "[Unit]"}]}})
    add("unit-dropin-file-conflict-not-checked", {"ignition": {"version": V2},
                                                  "storage": {"files": [{"path": "/etc/systemd/system/a.service.d/x.conf"}]},
                                                  "systemd": {"units": [{"name": "a.service",
                                                                         "dropins": [{"name": "x.conf", "contents": "[Unit]"}]}]}})
    add("unit-errors-pretty", units(V3, {"name": "a", "contents": "[Unit"},
                                    {"name": "b.service", "enabled": True, "contents": "[Unit]\nX=y",
                                     "dropins": [{"name": "d", "contents": "[X]\nfoo"}]}), "p2")

    # ======================================================================
    # 15. LUKS (3.2+)
    # ======================================================================
    def lk(v, **kw):
        d = {"name": "luks", "device": "/dev/sda"}
        d.update(kw)
        return st(v, luks=[d])
    add("luks-ok-v32", lk(V2, label="x", wipeVolume=True, options=["--a"]))
    add("luks-v31-unused", lk(V1))
    add("luks-v30-unused", lk(V0))
    add("luks-name-slash", lk(V3, name="a/b"))
    add("luks-name-empty-ok", lk(V3, name=""))
    add("luks-label-47-ok", lk(V3, label="x" * 47))
    add("luks-label-48", lk(V2, label="x" * 48))
    add("luks-device-missing-v33", st(V3, luks=[{"name": "a"}]))
    add("luks-keyfile-bad-scheme", lk(V3, keyFile={"source": "ftp://x"}))
    add("luks-keyfile-bad-data-url", lk(V2, keyFile={"source": "data:x"}))
    add("luks-keyfile-ok", lk(V3, keyFile={"source": "data:,secret"}))
    add("luks-keyfile-hash-no-source", lk(V3, keyFile={"verification": {"hash": SHA512_OK}}))
    add("luks-clevis-tpm2-ok", lk(V3, clevis={"tpm2": True}))
    add("luks-clevis-custom-ok", lk(V3, clevis={"custom": {"pin": "tpm2", "config": "{}"}}))
    add("luks-clevis-custom-with-tang", lk(V3, clevis={"custom": {"pin": "tang", "config": "{}"},
                                                       "tang": [{"url": "http://t", "thumbprint": "x"}]}))
    add("luks-clevis-custom-with-tpm2", lk(V2, clevis={"custom": {"pin": "tpm2", "config": "{}"}, "tpm2": True}))
    add("luks-clevis-custom-with-threshold", lk(V3, clevis={"custom": {"pin": "sss", "config": "{}"}, "threshold": 2}))
    add("luks-clevis-custom-with-threshold0-ok", lk(V3, clevis={"custom": {"pin": "sss", "config": "{}"}, "threshold": 0}))
    add("luks-clevis-custom-with-tpm2-false-ok", lk(V3, clevis={"custom": {"pin": "sss", "config": "{}"}, "tpm2": False}))
    add("luks-clevis-custom-empty-pin-with-tpm2-v33", lk(V3, clevis={"custom": {"config": "{}"}, "tpm2": True}))
    add("luks-clevis-custom-empty-obj-with-tpm2-v32", lk(V2, clevis={"custom": {}, "tpm2": True}))
    add("luks-clevis-custom-empty-obj-with-tpm2-v33", lk(V3, clevis={"custom": {}, "tpm2": True}))
    add("luks-clevis-custom-pin-only", lk(V3, clevis={"custom": {"pin": "tpm2"}}))
    add("luks-clevis-custom-config-only-v33", lk(V3, clevis={"custom": {"config": "{}"}}))
    add("luks-clevis-custom-config-only-v32", lk(V2, clevis={"custom": {"config": "{}"}}))
    add("luks-clevis-custom-pin-only-v32", lk(V2, clevis={"custom": {"pin": "tang"}}))
    add("luks-clevis-custom-unknown-pin", lk(V3, clevis={"custom": {"pin": "yubikey", "config": "{}"}}))
    add("luks-clevis-custom-unknown-pin-v32", lk(V2, clevis={"custom": {"pin": "yubikey", "config": "{}"}}))
    add("luks-clevis-custom-needsnetwork-only", lk(V3, clevis={"custom": {"needsNetwork": True}}))
    add("luks-clevis-custom-needsnetwork-false-ok", lk(V3, clevis={"custom": {"needsNetwork": False}}))
    add("luks-clevis-custom-empty-strings-ok", lk(V3, clevis={"custom": {"pin": "", "config": ""}}))
    add("luks-tang-bad-scheme", lk(V3, clevis={"tang": [{"url": "ftp://t", "thumbprint": "x"}]}))
    add("luks-tang-no-scheme", lk(V2, clevis={"tang": [{"url": "t.example", "thumbprint": "x"}]}))
    add("luks-tang-unparseable", lk(V3, clevis={"tang": [{"url": "http://[t", "thumbprint": "x"}]}))
    add("luks-tang-thumbprint-missing", lk(V3, clevis={"tang": [{"url": "http://t"}]}))
    add("luks-tang-thumbprint-empty", lk(V2, clevis={"tang": [{"url": "https://t", "thumbprint": ""}]}))
    add("luks-tang-url-missing", lk(V3, clevis={"tang": [{"thumbprint": "x"}]}))
    add("luks-tang-advertisement-v33-unused", lk(V3, clevis={"tang": [{"url": "http://t", "thumbprint": "x",
                                                                       "advertisement": "{}"}]}))
    add("luks-discard-v33-unused", lk(V3, discard=True))
    add("luks-openoptions-v33-unused", lk(V3, openOptions=["--x"]))
    add("luks-many-errors", lk(V3, name="a/b", label="l" * 50, device="rel", keyFile={"source": "gopher://x"},
                               clevis={"custom": {"pin": "bad"}, "tpm2": True,
                                       "tang": [{"url": "x"}]}), "p2")
    add("luks-and-fs-on-mapper-ok", st(V3, luks=[{"name": "root", "device": "/dev/sda2"}],
                                       filesystems=[{"device": "/dev/mapper/root", "format": "xfs"}]))

    # ======================================================================
    # 16. RAID
    # ======================================================================
    def rd(v, **kw):
        d = {"name": "md0", "devices": ["/dev/sda", "/dev/sdb"]}
        d.update(kw)
        if d["devices"] is None:
            del d["devices"]
        return st(v, raid=[d])
    add("raid-ok", rd(V0, level="raid1"))
    add("raid-level-missing-v33", rd(V3))
    add("raid-level-missing-v32", rd(V2))
    add("raid-level-empty-v33", rd(V3, level=""))
    add("raid-level-unknown", rd(V3, level="raid7"))
    add("raid-level-unknown-v31", rd(V1, level="RAID1"))
    for i, lvl in enumerate(("linear", "raid0", "0", "stripe")):
        add("raid-spares-%s-%s" % (lvl, vs(rot(i))), rd(rot(i), level=lvl, spares=1))
    add("raid-spares-zero-linear-ok", rd(V3, level="linear", spares=0))
    add("raid-spares-raid5-ok", rd(V3, level="raid5", spares=2))
    add("raid-levels-all-ok", st(V3, raid=[{"name": "m%d" % i, "level": l, "devices": ["/dev/sd%s" % chr(97 + i)]}
                                           for i, l in enumerate(("linear", "raid0", "0", "stripe", "raid1", "1",
                                                                  "mirror", "raid4", "4", "raid5", "5", "raid6",
                                                                  "6", "raid10", "10"))]))
    add("raid-devices-missing", rd(V3, level="raid1", devices=None))
    add("raid-devices-empty-v30", rd(V0, level="raid1", devices=[]))
    add("raid-name-empty-ok", rd(V3, level="raid1", name=""))
    add("raid-all-errors", rd(V3, level="raid0", spares=3, devices=[]))
    add("raid-all-errors-pretty", st(V1, raid=[{"name": "md0", "level": "x", "devices": []},
                                               {"name": "md0", "level": "1", "devices": ["a", "a"]}]), "p4")

    # ======================================================================
    # 17. kernelArguments (3.3+)
    # ======================================================================
    add("kargs-ok", cfg(V3, kernelArguments={"shouldExist": ["a", "b c"], "shouldNotExist": ["d"]}))
    add("kargs-v32-unused", cfg(V2, kernelArguments={"shouldExist": ["a"]}))
    add("kargs-v30-unused", cfg(V0, kernelArguments={"shouldExist": ["a"]}))
    add("kargs-empty-string-dup", cfg(V3, kernelArguments={"shouldExist": ["", ""]}))
    add("kargs-three-dups", cfg(V3, kernelArguments={"shouldExist": ["a", "a"], "shouldNotExist": ["a"]}))
    add("kargs-same-words-different-string-ok", cfg(V3, kernelArguments={"shouldExist": ["a b"], "shouldNotExist": ["a  b"]}))

    # ======================================================================
    # 18. version gates: fields used before their spec version
    # ======================================================================
    add("gate-v30-mountoptions", fs(V0, format="ext4", mountOptions=["ro"]))
    add("gate-v30-proxy-and-headers", cfg(V0, ignition={"proxy": {"httpProxy": "http://p"}},
                                          storage={"files": [{"path": "/a", "contents": {"source": "http://x",
                                                                                         "httpHeaders": []}}]}))
    add("gate-v30-ca-compression", cfg(V0, ignition={"security": {"tls": {"certificateAuthorities": [
        {"source": "http://ca", "compression": "gzip"}]}}}))
    add("gate-v30-replace-headers", cfg(V0, ignition={"config": {"replace": {"source": "http://x", "httpHeaders": []}}}))
    add("gate-v31-resize", disk(V1, [{"number": 1, "resize": True}]))
    add("gate-v31-user-shouldexist", cfg(V1, passwd={"users": [{"name": "core", "shouldExist": False}]}))
    add("gate-v31-group-shouldexist", cfg(V1, passwd={"groups": [{"name": "g", "shouldExist": False}]}))
    add("gate-v30-luks-with-errors-ignored", lk(V0, name="a/b", label="x" * 60))
    add("gate-v32-kargs-with-dups-ignored", cfg(V2, kernelArguments={"shouldExist": ["a", "a"]}))
    add("gate-v32-format-none", fs(V2, format="none", path="/x"))
    add("gate-v31-gs-url", fc(V1, {"source": "gs://b/o"}))
    add("gate-v33-luks-cex-unused", lk(V3, cex={"enabled": True}))
    add("gate-v33-link-target-ok-v32-missing", st(V2, links=[{"path": "/l", "hard": True}], directories=[{"path": "/l"}]))
    add("gate-v32-user-shouldexist-ok", cfg(V2, passwd={"users": [{"name": "core", "shouldExist": False}],
                                                        "groups": [{"name": "g", "shouldExist": True}]}))
    add("gate-v30-file-compression-ok", fc(V0, {"source": "data:,x", "compression": "gzip"}))
    add("gate-v30-timeouts-ok", cfg(V0, ignition={"timeouts": {"httpResponseHeaders": 5, "httpTotal": 10}}))

    # ======================================================================
    # 19. warnings that reference §2 lists but 2.14 may not emit
    # ======================================================================
    add("warn-fs-on-partitioned-disk", st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": 1}]}],
                                          filesystems=[{"device": "/dev/sda", "format": "ext4"}]))
    add("warn-fs-on-wipetable-disk", st(V3, disks=[{"device": "/dev/sda", "wipeTable": True}],
                                        filesystems=[{"device": "/dev/sda", "format": "ext4"}]))
    add("warn-mode-special-bits-dir-and-file", st(V3, files=[{"path": "/f", "mode": 0o6755}],
                                                  directories=[{"path": "/d", "mode": 0o1755}]))
    add("warn-special-bits-and-illegal", files(V3, {"path": "/f", "mode": 0o17777}))
    add("warn-special-bits-negative", files(V3, {"path": "/f", "mode": -1}))

    # ======================================================================
    # 20. multi-problem configs (ordering of output lines)
    # ======================================================================
    add("multi-order-struct-vs-json",
        '{"ignition":{"version":"3.3.0"},"systemd":{"units":[{"name":"x"}]},"passwd":{"users":[{"name":"a"},{"name":"a"}]},'
        '"storage":{"raid":[{"name":"r","devices":[]}],"links":[{"path":"l","target":"/t"}],"files":[{"path":"f"}],'
        '"disks":[{"device":"d"}],"directories":[{"path":"d"}]},"kernelArguments":{"shouldExist":["k","k"]}}')
    add("multi-errors-dups-unused",
        cfg(V3, bogus=1, storage={"files": [{"path": "/a", "mode": -1, "extra": 1}, {"path": "/a"}],
                                  "directories": [{"path": "rel"}]},
            systemd={"units": [{"name": "a.service", "enabled": True, "contents": "[Unit]"}]}))
    add("multi-errors-dups-unused-pretty",
        cfg(V3, bogus=1, storage={"files": [{"path": "/a", "mode": -1, "extra": 1}, {"path": "/a"}],
                                  "directories": [{"path": "rel"}]},
            systemd={"units": [{"name": "a.service", "enabled": True, "contents": "[Unit]"}]}), "p2")
    add("multi-warnings-only", cfg(V3, ignition={"proxy": {"httpsProxy": "http://p"}, "x": 1},
                                   storage={"files": [{"path": "/s", "mode": 0o4755}]},
                                   systemd={"units": [{"name": "a.service", "enabled": True, "contents": "[Unit]"}]}))
    add("multi-ignition-section",
        cfg(V3, ignition={"config": {"merge": [{}, {"source": "ftp://x"}], "replace": {"source": "data:x"}},
                          "security": {"tls": {"certificateAuthorities": [{}]}},
                          "proxy": {"httpProxy": "ftp://p", "httpsProxy": "http://p"}}))
    add("multi-storage-everything",
        st(V3, disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "a:b", "guid": "x"}]},
                      {"device": "/dev/sda"}],
           raid=[{"name": "md", "devices": []}],
           filesystems=[{"device": "/dev/sdb", "label": "x"}],
           files=[{"path": "/l/f", "mode": 99999}],
           directories=[{"path": "/d/"}],
           links=[{"path": "/l", "target": ""}],
           luks=[{"name": "x/y"}]))
    add("multi-storage-everything-pretty",
        st(V2, disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "a:b", "guid": "x"}]},
                      {"device": "/dev/sda"}],
           raid=[{"name": "md", "devices": []}],
           filesystems=[{"device": "/dev/sdb", "label": "x"}],
           files=[{"path": "/l/f", "mode": 99999}],
           directories=[{"path": "/d/"}],
           links=[{"path": "/l", "target": "/x"}],
           luks=[{"name": "x/y"}]), "p4")
    add("multi-two-files-each-two-errors", files(V1, {"path": "a", "mode": -1}, {"path": "b", "mode": 5000}))
    add("multi-files-then-resources", files(V3, {"path": "a", "contents": {"source": "ftp://x", "compression": "z",
                                                                           "verification": {"hash": "x"}},
                                                 "append": [{"source": "ftp://y"}]}))
    add("multi-passwd-and-systemd", cfg(V0, passwd={"users": [{"name": "a", "groups": ["x", "x"]}, {"name": "a"}],
                                                    "groups": [{"name": "g"}, {"name": "g"}]},
                                        systemd={"units": [{"name": "a.service", "dropins": [{"name": "a"}, {"name": "a"}]},
                                                           {"name": "a.service"}]}))
    add("multi-case-variant-errors-everywhere", S + ',"Storage":{"Files":[{"Path":"rel","Mode":-1}]},"systemd":{"Units":[{"name":"x"}]}}')
    add("multi-crlf-errors", cfg(V3, storage={"files": [{"path": "rel"}]},
                                 systemd={"units": [{"name": "x", "contents": "[U"}]}), "crlf")
    add("multi-tabs-errors", cfg(V2, storage={"directories": [{"path": "/d", "mode": 1 << 20}]},
                                 passwd={"users": [{"name": "u"}, {"name": "u"}]}), "t")
    add("multi-utf8-before-errors",
        cfg(V3, passwd={"users": [{"name": "\u00fc\u00df\u6f22", "gecos": "\U0001f600"}]},
            storage={"files": [{"path": "\u00e9/x"}]}))

    # ======================================================================
    # 21. whitespace / pretty-printing variants of earlier single-error cases
    # ======================================================================
    variants = (
        ("var-path-relative", files(V3, {"path": "rel"})),
        ("var-dup-files", files(V2, {"path": "/a"}, {"path": "/a"})),
        ("var-part-overlap", disk(V3, [{"number": 1, "startMiB": 1, "sizeMiB": 10},
                                       {"number": 2, "startMiB": 5, "sizeMiB": 10}])),
        ("var-unit-contents", units(V1, {"name": "a.service", "contents": "[Unit"})),
        ("var-unused-key", files(V3, {"path": "/a", "bogus": {"x": 1}})),
        ("var-type-error", files(V0, {"path": "/a", "mode": "420"})),
        ("var-hash-size", fc(V3, {"source": "http://x", "verification": {"hash": "sha512-00"}})),
        ("var-null-contents", files(V3, {"path": "/a", "contents": None})),
        ("var-luks-keys", lk(V3, keyFile={"source": "ftp://x"})),
        ("var-link-under-link", st(V3, files=[{"path": "/l/f"}], links=[{"path": "/l", "target": "/t"}])),
    )
    for name, obj in variants:
        for style in ("c", "s", "p2", "p4", "t", "crlf", "lead"):
            add("%s-%s" % (name, style), obj, style)

    # ======================================================================
    # 22. extras: null for pointer vs non-pointer structs, null list elements
    # ======================================================================
    add("null-clevis-v32-pointer", lk(V2, clevis=None))
    add("null-clevis-custom-v32-pointer", lk(V2, clevis={"custom": None}))
    add("null-clevis-custom-v33", lk(V3, clevis={"custom": None}))
    add("null-replace-v30", cfg(V0, ignition={"config": {"replace": None}}))
    add("null-disk-element", st(V3, disks=[None]))
    add("null-unit-element", cfg(V3, systemd={"units": [None]}))
    add("null-partition-element", disk(V3, [None]))
    add("null-raid-element-v32", st(V2, raid=[None]))
    return c


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: %s OUTDIR\n" % argv[0])
        return 2
    n = build().write(argv[1])
    sys.stderr.write("wrote %d configs to %s\n" % (n, argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
