# Sourced by scripts/setup-deps, scripts/setup-vm-deps and scripts/build-libblkid: the one way
# this project decides whether a Debian package is present and installs what is missing.
#
# A package counts as present only when dpkg says it is installed. Never test for a package by
# a file glob or a command on PATH: the base image has look-alikes (libclang-cpp14 matches
# libclang*.so* while libclang-dev's headers are missing; pyenv's python3 is not Debian's), and a
# check that a look-alike satisfies hides a missing install step until a fresh machine fails.
SUDO=${SUDO-}
[ "$(id -u)" -eq 0 ] || SUDO=sudo
APT_OPTS=(-y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
apt_updated=0

# installed PKG: true when dpkg lists PKG as installed (not merely known, half-installed or
# removed with its config files left).
installed() {
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# missing PKG...: prints the packages of the list that are not installed, one a line.
missing() {
    local p
    for p in "$@"; do installed "${p%%/*}" || printf '%s\n' "$p"; done
}

apt_update() {
    if [ "$apt_updated" -eq 0 ]; then
        $SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >&2
        apt_updated=1
    fi
}

# apt_install ARGS...: apt-get install with the project's options. On images whose apt config
# deletes downloaded .debs after every dpkg run, an install that apt splits into several dpkg
# calls fails once with "cannot access archive"; the same install then succeeds, so try twice.
apt_install() {
    $SUDO env DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install "${APT_OPTS[@]}" "$@" >&2 ||
        $SUDO env DEBIAN_FRONTEND=noninteractive INITRD=No apt-get install "${APT_OPTS[@]}" "$@" >&2
}

# ensure_packages WHO PKG...: installs those of PKG that are missing (PKG may carry a /suite).
ensure_packages() {
    local who=$1
    shift
    local need
    mapfile -t need < <(missing "$@")
    if [ ${#need[@]} -gt 0 ]; then
        echo "$who: installing ${need[*]}" >&2
        apt_update
        apt_install "${need[@]}"
    fi
}
