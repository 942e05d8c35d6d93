#!/usr/bin/env bash
# setup.sh — install what slotd needs to build and test (Debian 12), then build
# it with meson into build/. Idempotent: packages already present are not
# touched, apt-get update runs only when something is missing, and an existing
# build/ is only recompiled.
#
# Environment: SETUP_SKIP_BUILD=1 installs only; MESON_JOBS (default 2: this is
# a 2-core machine) limits the compile.
set -euo pipefail

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$LIB_ROOT"

PACKAGES=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libjemalloc-dev
          libxxhash-dev libcmocka-dev libdpdk-dev dpdk-dev redis-server redis-tools
          python3-redis valgrind iproute2 nftables iputils-ping)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

port_listening() {
    ss -Hltn "sport = :$1" 2>/dev/null | grep -q LISTEN
}

if [ ${#missing[@]} -gt 0 ]; then
    lib_log "installing: ${missing[*]}"
    SUDO=()
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || lib_die "not root and no sudo: install ${missing[*]} by hand"
        SUDO=(sudo)
    fi
    # Debian's redis-server package starts a service on 6379 unless
    # policy-rc.d forbids it. Install a forbidding one only if none exists,
    # and remove only the one we installed.
    policy=/usr/sbin/policy-rc.d
    made_policy=0
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# slotd setup.sh: no service starts during install\nexit 101\n' |
            "${SUDO[@]}" tee "$policy" >/dev/null
        "${SUDO[@]}" chmod 755 "$policy"
        made_policy=1
    fi
    had_6379=0
    port_listening 6379 && had_6379=1
    set +e
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    rc=$?
    set -e
    [ $made_policy = 1 ] && "${SUDO[@]}" rm -f "$policy"
    [ $rc = 0 ] || lib_die "apt-get install failed ($rc)"
    # Belt and braces: if the package's service came up anyway, stop that
    # service (never a process we did not start through the package).
    if [ $had_6379 = 0 ] && port_listening 6379; then
        lib_log "redis-server service started by the package install: stopping it"
        if command -v systemctl >/dev/null && systemctl is-active --quiet redis-server 2>/dev/null; then
            "${SUDO[@]}" systemctl stop redis-server || true
            "${SUDO[@]}" systemctl disable redis-server 2>/dev/null || true
        else
            "${SUDO[@]}" service redis-server stop || true
        fi
    fi
else
    lib_log "packages: all present"
fi

[ "${SETUP_SKIP_BUILD:-0}" = 1 ] && exit 0

if [ ! -f meson.build ]; then
    lib_log "no meson.build yet: nothing to build"
    exit 0
fi

jobs=${MESON_JOBS:-2}
if [ -f build/build.ninja ]; then
    :
elif [ -f build/meson-private/coredata.dat ]; then
    meson setup --wipe build --buildtype=release       # a set-up that failed half-way
else
    meson setup build --buildtype=release
fi
meson compile -C build -j "$jobs"
