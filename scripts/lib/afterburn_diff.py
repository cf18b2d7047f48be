#!/usr/bin/env python3
"""ignis against Afterburn 5.11.0, side by side (scripts/afterburn-diff runs this as root).

For each provider with an HTTP metadata service, the same canned metadata (the fixtures under
platforms/) is served on the provider's own link-local addresses, put on `lo` inside a network
namespace this script creates (no address outside it is touched), and both binaries run with
Afterburn's exact command lines:

  multi --provider P --hostname F | --attributes F | --ssh-keys core
  exp rd-network-kargs --provider P --default-value ip=dhcp,dhcp6

each in a private mount namespace whose /etc, /run and /home are throw-away overlays (the
`core` user, /proc/cmdline and the kargs paths are the test's own). Outputs are compared:
hostname file, attributes (as a set of lines: Afterburn writes them unsorted), the SSH key
fragment, the kargs fragment (and /run/afterburn/network-generator.env), and whether each run
succeeded. Expected disagreements, where ignis is right, are listed with their reasons in
tests/afterburn-diff/known.txt. Prints `N agree, N known, N failed`; exit 1 when any failed.
"""

import base64
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "platforms"
ADDRS = ["169.254.169.254", "169.254.42.42", "100.100.100.200", "168.63.129.16"]
KARGS = "/etc/cmdline.d/50-afterburn-network-kargs.conf"
GEN_ENV = "/run/afterburn/network-generator.env"


def tree(d):
    """URL path -> body for a fixture tree (a directory answers with its `_index`)."""
    root = FIX / d
    out = {}
    for p in root.rglob("*"):
        if p.is_dir():
            continue
        rel = p.relative_to(root).as_posix()
        body = p.read_bytes()
        if rel.endswith("_index"):
            base = rel[: -len("_index")]
            out["/" + base] = body
            out["/" + base.rstrip("/")] = body
        else:
            out["/" + rel] = body
    return out


def vultr_routes():
    v = json.loads((FIX / "vultr/v1.json").read_text())
    return {
        "/v1.json": json.dumps(v).encode(),
        "/v1/hostname": v["hostname"].encode(),
        "/v1/instanceid": str(v["instanceid"]).encode(),
        "/v1/region/regioncode": v["region"]["regioncode"].encode(),
        "/v1/public-keys": "\n".join(v["public-keys"]).encode(),
    }


def akamai_routes():
    return {
        # The service sends the bare token (a header value cannot end in a newline).
        "/v1/token": (FIX / "akamai/token").read_bytes().strip(),
        "/v1/instance": (FIX / "akamai/instance.json").read_bytes(),
        "/v1/network": (FIX / "akamai/network.json").read_bytes(),
        "/v1/ssh-keys": (FIX / "akamai/ssh-keys.json").read_bytes(),
    }


def azure_routes():
    """IMDS (the whole document for ignis, Afterburn's per-field leaves) and the WireServer."""
    doc = (FIX / "azure/imds-instance.json").read_bytes()
    c = json.loads(doc)["compute"]
    leaf = "/metadata/instance/compute/"
    return {
        "/metadata/instance": doc,
        leaf + "name": c.get("name", "").encode(),
        leaf + "vmSize": c.get("vmSize", "").encode(),
        leaf + "osProfile/adminUsername": c.get("osProfile", {}).get("adminUsername", "").encode(),
        leaf + "publicKeys": json.dumps(c.get("publicKeys", [])).encode(),
        "/": (FIX / "azure/wireserver/versions.xml").read_bytes(),
        "/machine/": (FIX / "azure/wireserver/goalstate.xml").read_bytes(),
    }


def gcp_routes():
    """The tree, plus the per-interface leaves Afterburn asks for (from the recursive JSON)."""
    r = tree("gcp/metadata")
    base = "/computeMetadata/v1/instance/network-interfaces/"
    for i, nic in enumerate(json.loads(r[base])):
        r[f"{base}{i}/ip"] = nic["ip"].encode()
        for j, ac in enumerate(nic.get("accessConfigs", [])):
            if ac.get("externalIp"):
                r[f"{base}{i}/access-configs/{j}/external-ip"] = ac["externalIp"].encode()
    return r


def hetzner_routes():
    """The YAML document, plus the per-key leaves Afterburn asks for (keys as a JSON list)."""
    r = tree("hetzner/metadata")
    doc = r["/hetzner/v1/metadata"].decode()
    keys, in_keys = [], False
    for line in doc.splitlines():
        if line.startswith("hostname: "):
            r["/hetzner/v1/metadata/hostname"] = line.split(": ", 1)[1].encode()
        in_keys = line == "public-keys:" or (in_keys and line.startswith("- "))
        if in_keys and line.startswith("- "):
            keys.append(line[2:])
    r["/hetzner/v1/metadata/public-keys"] = json.dumps(keys).encode()
    return r


def valid_keys(body):
    """The fixtures' keys are placeholders (`ssh-ed25519 AAAAC3...HetznerOne`), which Afterburn
    rightly refuses to parse; both tools are served the same body with each placeholder
    replaced by a well-formed key of its type derived from it."""
    def blob(kind, seed):
        def string(b):
            return len(b).to_bytes(4, "big") + b
        h = hashlib.sha256(seed.encode()).digest()
        if kind == "ssh-ed25519":
            return string(b"ssh-ed25519") + string(h)
        return string(b"ssh-rsa") + string(b"\x01\x00\x01") + string(b"\x00\xc1" + h * 8)

    def sub(m):
        kind, seed = m.group(1).decode(), m.group(2).decode()
        return (kind + " " + base64.b64encode(blob(kind, seed)).decode()).encode()

    return re.sub(rb"(ssh-ed25519|ssh-rsa) (AAAA[A-Za-z0-9+/]+)", sub, body)


# provider -> URL path -> body (queries are ignored; every address serves the same table).
CASES = {
    "aws": lambda: {**tree("aws/imds"), "/latest/api/token": (FIX / "aws/api-token").read_bytes()},
    "gcp": gcp_routes,
    "digitalocean": lambda: {"/metadata/v1.json": (FIX / "digitalocean/v1.json").read_bytes()},
    "hetzner": hetzner_routes,
    "exoscale": lambda: tree("exoscale/metadata"),
    "vultr": vultr_routes,
    "upcloud": lambda: tree("upcloud/metadata"),
    "oraclecloud": lambda: {"/opc/v2/instance": (FIX / "oraclecloud/instance.json").read_bytes(),
                            "/opc/v2/instance/": (FIX / "oraclecloud/instance.json").read_bytes()},
    "scaleway": lambda: {"/conf": (FIX / "scaleway/conf.json").read_bytes(), "/state": b""},
    "akamai": akamai_routes,
    "aliyun": lambda: tree("aliyun/metadata"),
    "openstack-metadata": lambda: tree("openstack/metadata"),
    "azure": azure_routes,
}


def serve(routes):
    """Serves `routes` on port 80 of every address (we are inside the namespace)."""

    class H(http.server.BaseHTTPRequestHandler):
        def answer(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n:
                self.rfile.read(n)
            body = routes.get(self.path.split("?")[0])
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_PATCH = answer

        def log_message(self, *a):
            pass

    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("0.0.0.0", 80), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


JOBS = {
    "hostname": ["multi", "--provider", "{p}", "--hostname", "{out}/hostname"],
    "attributes": ["multi", "--provider", "{p}", "--attributes", "{out}/attributes"],
    "ssh-keys": ["multi", "--provider", "{p}", "--ssh-keys", "core"],
    "kargs": ["exp", "rd-network-kargs", "--provider", "{p}", "--default-value", "ip=dhcp,dhcp6"],
}

# Runs one job in a private mount namespace: /etc and /run overlaid on throw-away upper
# directories, /home a tmpfs, a `core` user, a fixed /proc/cmdline; then copies what the job
# wrote into OUT.
JAIL = r"""
set -e
W=$1; OUT=$2; shift 2
for d in etc run; do mkdir -p "$W/$d.up" "$W/$d.work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$W/$d.up,workdir=$W/$d.work" "/$d"; done
mount -t tmpfs tmpfs /home
echo 'core:x:1000:1000:core:/home/core:/bin/sh' >> /etc/passwd
echo 'core:x:1000:' >> /etc/group
echo '169.254.169.254 metadata.google.internal' >> /etc/hosts
mkdir -p /home/core /etc/cmdline.d && chown 1000:1000 /home/core
echo 'BOOT_IMAGE=/vmlinuz root=LABEL=root console=ttyS0' > "$W/cmdline"
mount --bind "$W/cmdline" /proc/cmdline
set +e
timeout 120 "$@" > "$OUT/log" 2>&1; echo $? > "$OUT/rc"
cp /home/core/.ssh/authorized_keys.d/afterburn "$OUT/ssh-keys" 2>/dev/null
cp /etc/cmdline.d/50-afterburn-network-kargs.conf "$OUT/kargs" 2>/dev/null
cp /run/afterburn/network-generator.env "$OUT/generator-env" 2>/dev/null
exit 0
"""


def run(tool, argv0, provider, job, work):
    out = work / f"{tool}-{provider}-{job}"
    out.mkdir(parents=True)
    w = work / f"w-{tool}-{provider}-{job}"
    w.mkdir()
    args = [a.format(p=provider, out=out) for a in JOBS[job]]
    cmd = ["unshare", "--mount", "--propagation", "private", "sh", "-c", JAIL, "jail",
           str(w), str(out)] + argv0 + args
    env = dict(os.environ, RUST_LOG="warn")
    env.pop("IGNIS_HTTP_REROUTE", None)
    env.pop("IGNIS_HOST_ROOT", None)
    subprocess.run(cmd, env=env, check=False)
    return out


def result(out, job):
    rc = (out / "rc").read_text().strip() if (out / "rc").exists() else "?"
    ok = rc == "0"
    names = {"hostname": ["hostname"], "attributes": ["attributes"], "ssh-keys": ["ssh-keys"],
             "kargs": ["kargs", "generator-env"]}[job]
    files = {}
    for n in names:
        p = out / n
        t = p.read_text() if p.exists() else None
        if n == "attributes" and t is not None:
            t = "".join(sorted(line + "\n" for line in t.splitlines() if line))
        files[n] = t
    return ok, files


def known():
    k = {}
    for line in (REPO / "tests/afterburn-diff/known.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, why = line.partition(":")
        k[key.strip()] = why.strip()
    return k


def inside(afterburn, ignis):
    """Runs in the namespace: serve, run, compare."""
    expected = known()
    agree = knw = failed = 0
    work = Path(tempfile.mkdtemp(prefix="ignis-abdiff."))
    try:
        for provider, routes in CASES.items():
            srv = serve({k: valid_keys(v) for k, v in routes().items()})
            try:
                for job in JOBS:
                    a = result(run("afterburn", [afterburn], provider, job, work), job)
                    i = result(run("ignis", [ignis, "afterburn"], provider, job, work), job)
                    key = f"{provider} {job}"
                    if a == i:
                        agree += 1
                        print(f"agree   {key}")
                    elif key in expected:
                        knw += 1
                        print(f"known   {key}: {expected[key]}")
                    else:
                        failed += 1
                        print(f"FAILED  {key}\n  afterburn: {a}\n  ignis:     {i}")
            finally:
                srv.shutdown()
                srv.server_close()
        unused = [k for k in expected if k.split()[0] not in CASES]
        for k in unused:
            print(f"note: known entry {k!r} names no provider of this run")
    finally:
        if os.environ.get("AFTERBURN_DIFF_KEEP"):
            print(f"afterburn-diff: outputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"afterburn-diff: {agree} agree, {knw} known, {failed} failed")
    return 1 if failed else 0


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--inside":
        sys.exit(inside(sys.argv[2], sys.argv[3]))
    afterburn, ignis = sys.argv[1], sys.argv[2]
    ns = f"ignis-abdiff-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for a in ADDRS:
            subprocess.run(["ip", "-n", ns, "addr", "add", f"{a}/32", "dev", "lo"], check=True)
        rc = subprocess.run(["ip", "netns", "exec", ns, sys.executable, __file__, "--inside",
                             afterburn, ignis]).returncode
    finally:
        subprocess.run(["ip", "netns", "delete", ns], check=False)
    sys.exit(rc)


if __name__ == "__main__":
    main()
