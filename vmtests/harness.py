#!/usr/bin/env python3
"""ignis VM tests: boot the real initramfs (scripts/mkinitramfs) in QEMU for every scenario under
vmtests/scenarios/, let the first boot switch-root into a tiny OS on the root disk that prints a
marker and powers off, then check the results on the host (console log, disk images read with
debugfs/mtools/sgdisk/blkid, the requests the loopback HTTP server saw).

Python 3.11 standard library only. Run through scripts/vmtests; see vmtests/README.md.
"""

# The entry point only: the harness itself is the package vmtests/vmharness/ (one module per
# concern, listed in its __init__.py). This docstring is the --help text.

import sys

# Run as root from the source tree: leave no root-owned __pycache__ behind.
sys.dont_write_bytecode = True

from vmharness.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(__doc__))
