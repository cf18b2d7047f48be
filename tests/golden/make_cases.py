#!/usr/bin/env python3
"""Writes the golden config cases (bad/: one per validation rule, ok/: valid configs and
warnings, gates/: one pair per version-gate row). Run once when adding cases; the expected
outputs (*.out) are written by `UPDATE_GOLDEN=1 cargo test --test golden` and reviewed."""
import json, os, sys

HERE = os.path.dirname(os.path.abspath(__file__))

def cfg(version="3.3.0", **kw):
    c = {"ignition": {"version": version}}
    for k, v in kw.items():
        if k == "ign":
            c["ignition"].update(v)
        else:
            c[k] = v
    return c

def st(**kw):
    return kw

U = "0FC63DAF-8483-4772-8E79-3D69D8477DE4"
SHA512 = "sha512-" + "0" * 128
BAD = {
    "path-empty": cfg(storage=st(files=[{"path": ""}])),
    "path-relative": cfg(storage=st(files=[{"path": "etc/motd"}])),
    "path-unclean": cfg(storage=st(directories=[{"path": "/etc/../etc/x/"}])),
    "dup-files": cfg(storage=st(files=[{"path": "/a"}, {"path": "/a"}])),
    "dup-file-and-link": cfg(storage=st(files=[{"path": "/a"}], links=[{"path": "/a", "target": "/b"}])),
    "dup-units": cfg(systemd={"units": [{"name": "a.service"}, {"name": "a.service"}]}),
    "dup-dropins": cfg(systemd={"units": [{"name": "a.service", "dropins": [{"name": "x.conf"}, {"name": "x.conf"}]}]}),
    "dup-users": cfg(passwd={"users": [{"name": "core"}, {"name": "core"}]}),
    "dup-groups": cfg(passwd={"groups": [{"name": "g"}, {"name": "g"}]}),
    "dup-ssh-keys": cfg(passwd={"users": [{"name": "core", "sshAuthorizedKeys": ["k", "k"]}]}),
    "dup-disks": cfg(storage=st(disks=[{"device": "/dev/sda"}, {"device": "/dev/sda"}])),
    "dup-raid": cfg(storage=st(raid=[{"name": "md", "level": "raid1", "devices": ["/dev/a"]}, {"name": "md", "level": "raid1", "devices": ["/dev/b"]}])),
    "dup-filesystems": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "ext4"}, {"device": "/dev/sda", "format": "xfs"}])),
    "dup-luks": cfg(storage=st(luks=[{"name": "c", "device": "/dev/a"}, {"name": "c", "device": "/dev/b"}])),
    "dup-headers": cfg(ign={"config": {"merge": [{"source": "http://x/c", "httpHeaders": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]}]}}),
    "dup-merge-sources": cfg(ign={"config": {"merge": [{"source": "http://x/c"}, {"source": "http://x/c"}]}}),
    "dup-kargs-across-lists": cfg(kernelArguments={"shouldExist": ["quiet"], "shouldNotExist": ["quiet"]}),
    "mode-illegal": cfg(storage=st(files=[{"path": "/a", "mode": 65535}])),
    "overwrite-without-source": cfg(storage=st(files=[{"path": "/a", "overwrite": True}])),
    "user-id-and-name": cfg(storage=st(files=[{"path": "/a", "user": {"id": 0, "name": "root"}}])),
    "group-id-and-name": cfg(storage=st(directories=[{"path": "/a", "group": {"id": 0, "name": "root"}}])),
    "compression-invalid": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "data:,x", "compression": "xz"}}])),
    "verification-without-source": cfg(storage=st(files=[{"path": "/a", "contents": {"verification": {"hash": SHA512}}}])),
    "hash-malformed": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "data:,x", "verification": {"hash": "sha512"}}}])),
    "hash-unknown-function": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "data:,x", "verification": {"hash": "md5-00"}}}])),
    "hash-wrong-size": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "data:,x", "verification": {"hash": "sha256-00"}}}])),
    "url-unparseable": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "http://exa mple.com/"}}])),
    "url-bad-scheme": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "ftp://example.com/a"}}])),
    "url-s3-empty-version": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "s3://bucket/key?versionId="}}])),
    "url-arn-malformed": cfg("3.4.0", storage=st(files=[{"path": "/a", "contents": {"source": "arn:aws:s3:::bucket"}}])),
    "data-url-invalid": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "data:,{}"}}])),
    "headers-on-non-http": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "tftp://x/a", "httpHeaders": [{"name": "A", "value": "1"}]}}])),
    "header-name-empty": cfg(storage=st(files=[{"path": "/a", "contents": {"source": "http://x/a", "httpHeaders": [{"name": "", "value": "1"}]}}])),
    "merge-without-source": cfg(ign={"config": {"merge": [{}]}}),
    "ca-without-source": cfg(ign={"security": {"tls": {"certificateAuthorities": [{}]}}}),
    "proxy-not-http": cfg(ign={"proxy": {"httpProxy": "socks5://proxy:1080"}}),
    "partition-numbers-collide": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "a"}, {"number": 1, "label": "b"}]}])),
    "partition-labels-collide": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "a"}, {"number": 2, "label": "a"}]}])),
    "partitions-overlap": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "startMiB": 1, "sizeMiB": 100}, {"number": 2, "startMiB": 50, "sizeMiB": 100}]}])),
    "partition-needs-label-or-number": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"sizeMiB": 10}]}])),
    "partition-should-not-exist-with-others": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "shouldExist": False, "sizeMiB": 10}]}])),
    "partition-label-too-long": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "x" * 37}]}])),
    "partition-label-colon": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "label": "a:b"}]}])),
    "partition-guid-malformed": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "guid": "not-a-guid"}]}])),
    "partition-type-guid-malformed": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "typeGuid": U[:-1]}]}])),
    "partition-number0-with-should-not-exist": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "shouldExist": False}, {"label": "x"}]}])),
    "disk-device-empty": cfg(storage=st(disks=[{"device": ""}])),
    "filesystem-format-invalid": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "ntfs"}])),
    "filesystem-format-empty-with-path": cfg(storage=st(filesystems=[{"device": "/dev/sda", "path": "/var"}])),
    "filesystem-label-without-format": cfg(storage=st(filesystems=[{"device": "/dev/sda", "label": "x"}])),
    "filesystem-label-too-long-ext4": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "ext4", "label": "x" * 17}])),
    "filesystem-label-too-long-xfs": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "xfs", "label": "x" * 13}])),
    "filesystem-label-too-long-vfat": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "vfat", "label": "x" * 12}])),
    "filesystem-label-too-long-swap": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "swap", "label": "x" * 16}])),
    "filesystem-label-too-long-btrfs": cfg(storage=st(filesystems=[{"device": "/dev/sda", "format": "btrfs", "label": "x" * 257}])),
    "filesystem-device-relative": cfg(storage=st(filesystems=[{"device": "sda", "format": "ext4"}])),
    "link-target-empty": cfg(storage=st(links=[{"path": "/l", "target": ""}])),
    "hard-link-to-directory": cfg(storage=st(directories=[{"path": "/d"}], links=[{"path": "/l", "target": "/d", "hard": True}])),
    "file-under-link": cfg(storage=st(links=[{"path": "/l", "target": "/x"}], files=[{"path": "/l/f"}])),
    "directory-under-link": cfg(storage=st(links=[{"path": "/l", "target": "/x"}], directories=[{"path": "/l/d"}])),
    "link-under-link": cfg(storage=st(links=[{"path": "/l", "target": "/x"}, {"path": "/l/m", "target": "/y"}])),
    "unit-extension": cfg(systemd={"units": [{"name": "foo.conf"}]}),
    "dropin-extension": cfg(systemd={"units": [{"name": "a.service", "dropins": [{"name": "x.service"}]}]}),
    "unit-contents-unterminated-section": cfg(systemd={"units": [{"name": "a.service", "contents": "[Unit"}]}),
    "dropin-contents-option-without-value": cfg(systemd={"units": [{"name": "a.service", "dropins": [{"name": "x.conf", "contents": "[Service]\nnovalue\n"}]}]}),
    "file-conflicts-with-unit": cfg(systemd={"units": [{"name": "a.service", "contents": "[Unit]\n"}]}, storage=st(files=[{"path": "/etc/systemd/system/a.service"}])),
    "luks-name-slash": cfg(storage=st(luks=[{"name": "a/b", "device": "/dev/sda"}])),
    "luks-label-too-long": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "label": "x" * 48}])),
    "luks-device-missing": cfg(storage=st(luks=[{"name": "a"}])),
    "luks-custom-with-tpm2": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"pin": "tpm2", "config": "{}"}, "tpm2": True}}])),
    "luks-custom-without-pin": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"config": "{}"}}}])),
    "luks-custom-without-config": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"pin": "tang"}}}])),
    "luks-custom-unknown-pin": cfg("3.5.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"pin": "yubikey", "config": "{}"}}}])),
    "luks-keyfile-bad-url": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "keyFile": {"source": "ftp://x/k"}}])),
    "luks-cex-with-clevis": cfg("3.5.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "cex": {"enabled": True}, "clevis": {"tpm2": True}}])),
    "tang-url-scheme": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "ftp://tang", "thumbprint": "t"}]}}])),
    "tang-thumbprint-missing": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "http://tang"}]}}])),
    "tang-advertisement-not-json": cfg("3.4.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "http://tang", "thumbprint": "t", "advertisement": "{"}]}}])),
    "dup-tang-urls": cfg(storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "http://t", "thumbprint": "a"}, {"url": "http://t", "thumbprint": "b"}]}}])),
    "raid-level-missing": cfg(storage=st(raid=[{"name": "md", "devices": ["/dev/a"]}])),
    "raid-level-unknown": cfg(storage=st(raid=[{"name": "md", "level": "raid7", "devices": ["/dev/a"]}])),
    "raid-spares-on-raid0": cfg(storage=st(raid=[{"name": "md", "level": "raid0", "devices": ["/dev/a", "/dev/b"], "spares": 1}])),
    "raid-devices-missing": cfg(storage=st(raid=[{"name": "md", "level": "raid1"}])),
    "virtiofs-with-label": cfg("3.7.0-experimental", storage=st(filesystems=[{"device": "share", "format": "virtiofs", "label": "x"}])),
    # ignis's own rules: what Ignition accepts and then systemd or the kernel refuses.
    "unit-name-newline": cfg(systemd={"units": [{"name": "a.service\nenable evil.service", "enabled": True}]}),
    "unit-name-space": cfg(systemd={"units": [{"name": "my unit.service"}]}),
    "dropin-name-slash": cfg(systemd={"units": [{"name": "a.service", "dropins": [{"name": "../../evil.conf", "contents": "[Unit]"}]}]}),
    "directory-root": cfg(storage=st(directories=[{"path": "/"}])),
    "file-root": cfg(storage=st(files=[{"path": "/"}])),
    "path-too-long": cfg(storage=st(files=[{"path": "/" + "/".join(["d" * 200] * 21)}])),
    "path-component-too-long": cfg(storage=st(files=[{"path": "/etc/" + "x" * 256}])),
    # Upstream v2.26.0's rules (#17).
    "luks-open-options-dup": cfg("3.4.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "openOptions": ["--allow-discards", "--allow-discards"]}])),
    "luks-cex-with-key-file": cfg("3.5.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "cex": {"enabled": True}, "keyFile": {"source": "data:,k"}}])),
    "arn-bucket-without-key": cfg("3.4.0", ign={"config": {"merge": [{"source": "arn:aws:s3:::bucket/"}]}}),
    "arn-accesspoint-without-object": cfg("3.4.0", ign={"config": {"merge": [{"source": "arn:aws:s3:us-west-2:123456789012:accesspoint/ap-name/some/nested/object"}]}}),
    "clevis-custom-empty-pin-3.2": cfg("3.2.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"config": "{}"}}}])),
}
RAW_BAD = {
    "empty": "",
    "syntax-error": '{"ignition": {"version": "3.3.0"},}\n',
    "type-error-mode-float": '{"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/a", "mode": 420.0}]}}\n',
    "version-missing": '{"storage": {}}\n',
    "version-unknown": '{"ignition": {"version": "3.9.0"}}\n',
    "version-2x": '{"ignition": {"version": "2.3.0"}}\n',
}
OK = {
    "minimal": cfg(),
    "everything": cfg("3.6.0",
        ign={"config": {"merge": [{"source": "https://example.com/base.ign", "httpHeaders": [{"name": "Authorization", "value": "Bearer x"}]}]},
             "timeouts": {"httpResponseHeaders": 20, "httpTotal": 600},
             "proxy": {"httpsProxy": "https://proxy:3128", "noProxy": ["10.0.0.0/8", ".internal"]}},
        kernelArguments={"shouldExist": ["console=ttyS0"], "shouldNotExist": ["quiet"]},
        passwd={"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA core"], "groups": ["wheel"]}], "groups": [{"name": "ops", "gid": 1500}]},
        storage=st(
            disks=[{"device": "/dev/vdb", "wipeTable": True, "partitions": [{"number": 1, "label": "data", "sizeMiB": 0, "typeGuid": U}]}],
            filesystems=[{"device": "/dev/disk/by-partlabel/data", "format": "xfs", "path": "/var/data", "label": "data", "wipeFilesystem": True}],
            files=[{"path": "/etc/hostname", "mode": 420, "overwrite": True, "contents": {"source": "data:,node1%0A"}},
                   {"path": "/opt/tool", "mode": 2541, "contents": {"source": "http://example.com/tool", "verification": {"hash": SHA512}}}],
            directories=[{"path": "/var/log/app", "mode": 488, "user": {"name": "core"}}],
            links=[{"path": "/usr/local/bin/tool", "target": "/opt/tool"}]),
        systemd={"units": [{"name": "app.service", "enabled": True, "contents": "[Service]\nExecStart=/opt/tool\n[Install]\nWantedBy=multi-user.target\n", "dropins": [{"name": "10-env.conf", "contents": "[Service]\nEnvironment=A=1\n"}]},
                           {"name": "bad.service", "mask": True}]}),
    "warn-unknown-key-suggestion": {"ignition": {"version": "3.3.0"}, "storagee": {}},
    "warn-case-insensitive-key-applied": {"ignition": {"version": "3.3.0"}, "Storage": {"files": [{"path": "/a"}]}},
    "warn-hard-link-owner": cfg(storage=st(links=[{"path": "/l", "target": "/x", "hard": True, "user": {"id": 1}}])),
    "warn-hard-link-owner-per-field": cfg(storage=st(links=[{"path": "/l", "target": "/x", "hard": True, "user": {"name": "u"}, "group": {"id": 2}}])),
    "warn-template-unit-without-install": cfg(systemd={"units": [{"name": "t@.service", "contents": "[Service]\nExecStart=/bin/true\n"}, {"name": "t@x.service", "enabled": True}]}),
    "s3-arns-ignition-fetches": cfg("3.4.0", ign={"config": {"merge": [
        {"source": "arn:aws:s3:us-west-2:123456789012:bucket-name/object-key"},
        {"source": "arn:aws:s3:us-west-2:123456789012:bucket-name/object-key?versionId=abc123"},
        {"source": "arn:aws:s3:us-west-2::bucket/key"},
        {"source": "arn::s3:::bucket/key"}]}}),
    "clevis-custom-needs-network-only-3.2": cfg("3.2.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"needsNetwork": True}}}])),
    "warn-enabled-unit-without-install": cfg(systemd={"units": [{"name": "a.service", "enabled": True, "contents": "[Service]\nExecStart=/bin/true\n"}]}),
    "warn-filesystem-on-partitioned-disk": cfg(storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1}]}], filesystems=[{"device": "/dev/sda", "format": "ext4"}])),
    "warn-filesystem-on-wiped-disk": cfg(storage=st(disks=[{"device": "/dev/sda", "wipeTable": True}], filesystems=[{"device": "/dev/sda", "format": "ext4"}])),
    "warn-insecure-https-proxy": cfg(ign={"proxy": {"httpsProxy": "http://proxy:3128"}}),
    "null-lists-and-objects": {"ignition": {"version": "3.3.0", "config": None}, "storage": {"files": None, "links": [{"path": "/l", "target": "/t", "user": None}]}},
    "duplicate-key-last-wins": None,
}
RAW_OK = {
    "duplicate-key-last-wins": '{"ignition": {"version": "3.3.0"}, "passwd": {"users": [{"name": "a", "shell": "/bin/sh", "shell": "/bin/bash"}]}}\n',
}
GATES = {
    # (field first allowed in version X): one config just below X, one at X
    "kernel-arguments-3.2": cfg("3.2.0", kernelArguments={"shouldExist": ["a"]}),
    "kernel-arguments-3.3": cfg("3.3.0", kernelArguments={"shouldExist": ["a"]}),
    "luks-3.1": cfg("3.1.0", storage=st(luks=[{"name": "a", "device": "/dev/sda"}])),
    "luks-3.2": cfg("3.2.0", storage=st(luks=[{"name": "a", "device": "/dev/sda"}])),
    "partition-resize-3.1": cfg("3.1.0", storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "resize": True}]}])),
    "partition-resize-3.2": cfg("3.2.0", storage=st(disks=[{"device": "/dev/sda", "partitions": [{"number": 1, "resize": True}]}])),
    "user-should-exist-3.1": cfg("3.1.0", passwd={"users": [{"name": "a", "shouldExist": False}]}),
    "user-should-exist-3.2": cfg("3.2.0", passwd={"users": [{"name": "a", "shouldExist": False}]}),
    "proxy-3.0": cfg("3.0.0", ign={"proxy": {"httpProxy": "http://p:3128"}}),
    "proxy-3.1": cfg("3.1.0", ign={"proxy": {"httpProxy": "http://p:3128"}}),
    "http-headers-3.0": cfg("3.0.0", storage=st(files=[{"path": "/a", "contents": {"source": "http://x/a", "httpHeaders": [{"name": "A", "value": "1"}]}}])),
    "http-headers-3.1": cfg("3.1.0", storage=st(files=[{"path": "/a", "contents": {"source": "http://x/a", "httpHeaders": [{"name": "A", "value": "1"}]}}])),
    "compression-on-merge-3.0": cfg("3.0.0", ign={"config": {"merge": [{"source": "http://x/c", "compression": "gzip"}]}}),
    "compression-on-contents-3.0": cfg("3.0.0", storage=st(files=[{"path": "/a", "contents": {"source": "http://x/a", "compression": "gzip"}}])),
    "compression-on-merge-3.1": cfg("3.1.0", ign={"config": {"merge": [{"source": "http://x/c", "compression": "gzip"}]}}),
    "mount-options-3.0": cfg("3.0.0", storage=st(filesystems=[{"device": "/dev/sda", "format": "ext4", "mountOptions": ["noatime"]}])),
    "mount-options-3.1": cfg("3.1.0", storage=st(filesystems=[{"device": "/dev/sda", "format": "ext4", "mountOptions": ["noatime"]}])),
    "sha256-3.0": cfg("3.0.0", storage=st(files=[{"path": "/a", "contents": {"source": "http://x/a", "verification": {"hash": "sha256-" + "0" * 64}}}])),
    "sha256-3.1": cfg("3.1.0", storage=st(files=[{"path": "/a", "contents": {"source": "http://x/a", "verification": {"hash": "sha256-" + "0" * 64}}}])),
    "gs-scheme-3.1": cfg("3.1.0", storage=st(files=[{"path": "/a", "contents": {"source": "gs://bucket/obj"}}])),
    "gs-scheme-3.2": cfg("3.2.0", storage=st(files=[{"path": "/a", "contents": {"source": "gs://bucket/obj"}}])),
    "format-none-3.2": cfg("3.2.0", storage=st(filesystems=[{"device": "/dev/sda", "format": "none"}])),
    "format-none-3.3": cfg("3.3.0", storage=st(filesystems=[{"device": "/dev/sda", "format": "none"}])),
    "luks-discard-3.3": cfg("3.3.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "discard": True, "openOptions": ["--perf-no_read_workqueue"]}])),
    "luks-discard-3.4": cfg("3.4.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "discard": True, "openOptions": ["--perf-no_read_workqueue"]}])),
    "tang-advertisement-3.3": cfg("3.3.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "http://t", "thumbprint": "x", "advertisement": "{}"}]}}])),
    "tang-advertisement-3.4": cfg("3.4.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"tang": [{"url": "http://t", "thumbprint": "x", "advertisement": "{}"}]}}])),
    "arn-scheme-3.3": cfg("3.3.0", storage=st(files=[{"path": "/a", "contents": {"source": "arn:aws:s3:::bucket/key"}}])),
    "arn-scheme-3.4": cfg("3.4.0", storage=st(files=[{"path": "/a", "contents": {"source": "arn:aws:s3:::bucket/key"}}])),
    "luks-cex-3.4": cfg("3.4.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "cex": {"enabled": True}}])),
    "luks-cex-3.5": cfg("3.5.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "cex": {"enabled": True}}])),
    "special-mode-bits-3.5": cfg("3.5.0", storage=st(files=[{"path": "/a", "mode": 3565}], directories=[{"path": "/d", "mode": 1023}])),
    "special-mode-bits-3.6": cfg("3.6.0", storage=st(files=[{"path": "/a", "mode": 3565}], directories=[{"path": "/d", "mode": 1023}])),
    "custom-clevis-pin-3.5": cfg("3.5.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"pin": "fido2", "config": "{}"}}}])),
    "custom-clevis-pin-3.6": cfg("3.6.0", storage=st(luks=[{"name": "a", "device": "/dev/sda", "clevis": {"custom": {"pin": "fido2", "config": "{}"}}}])),
    "virtiofs-3.6": cfg("3.6.0", storage=st(filesystems=[{"device": "share", "format": "virtiofs", "path": "/mnt"}])),
    "virtiofs-3.7-experimental": cfg("3.7.0-experimental", storage=st(filesystems=[{"device": "share", "format": "virtiofs", "path": "/mnt"}])),
}

def write(sub, name, text):
    d = os.path.join(HERE, sub)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name + ".ign"), "w") as f:
        f.write(text)

for n, c in BAD.items():
    write("bad", n, json.dumps(c, indent=2) + "\n")
for n, t in RAW_BAD.items():
    write("bad", n, t)
for n, c in OK.items():
    write("ok", n, RAW_OK[n] if c is None else json.dumps(c, indent=2) + "\n")
for n, c in GATES.items():
    write("gates", n, json.dumps(c, indent=2) + "\n")
print(len(BAD) + len(RAW_BAD), "bad,", len(OK), "ok,", len(GATES), "gates")
