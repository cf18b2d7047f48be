#!/bin/bash
# dracut module "ignis": an alias of "ignition" (dracut/30ignition), the one module that holds
# ignis's units, so that `dracut -m ignis` and distro modules that depend on "ignis" get exactly
# what "ignition" installs. Nothing of its own: no second copy of any unit.

check() {
    return 255
}

depends() {
    echo ignition
    return 0
}

install() {
    :
}
