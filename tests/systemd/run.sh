#!/usr/bin/env bash
# tests/systemd/run.sh: the README's "Running as a service" section, step by step, under a
# real systemd: Debian 12 booted as PID 1 in a container, the project's .deb installed in it.
#
# Usage (as root, on Debian 12):  tests/systemd/run.sh BUILD_DIR
#   BUILD_DIR is a configured and built CMake build directory; the .deb is made from it
#   with "cpack -G DEB". BTS_SYSTEMD_BUILD_ONLY=1 only makes the cached root and exits.
#
# How:
#   1. A bookworm root with systemd, made by debootstrap from the Debian mirror this host's
#      apt uses, cached as a tarball in $BTS_SYSTEMD_CACHE (default
#      /var/cache/biotime-syncd-tests), keyed by the package list and the mirror.
#   2. A throw-away copy of it is booted with "systemd-nspawn -b --register=no --keep-unit"
#      on the host's network, so the simulators this script starts on 127.0.0.1 are
#      reachable from inside; "nsenter -t <its PID 1> -a" runs commands inside.
#   3. The .deb is installed with dpkg -i inside; checks.py (next to this file) starts the
#      BioTime and ERPNext simulators on the host and runs the checks, one PASS:/FAIL: line
#      each, and a final count.
#   4. Whatever happens, the container is powered off (killed if it will not go), nothing
#      stays mounted and the copy is deleted.
# Exit status: 0 when every check passed, 1 when one failed, 2 when the test could not run,
# 77 (with a SKIP: line saying why) where no container can boot, e.g. in a chroot.
set -Eeuo pipefail

PROG=systemd-test
SUITE=bookworm
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${BTS_SYSTEMD_CACHE:-/var/cache/biotime-syncd-tests}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# What the root holds besides minbase: systemd as PID 1, the daemon's libraries (the .deb is
# installed with dpkg, without a network inside), and the tools the README's commands use.
PACKAGES=systemd,systemd-sysv,dbus,libcurl4,libcjson1,libconfig9,libsystemd0,sudo,ca-certificates,adduser,passwd,procps
BOOT_TIMEOUT=90

WORK='' ROOT='' NSPAWN_PID='' LEADER='' T0=$SECONDS

msg() { printf '[%s] %s\n' "$PROG" "$*" >&2; }
die() { msg "error: $*"; exit 2; }

# ------------------------------------------------------------------ arguments and tools
[[ $# -eq 1 ]] || { sed -n '2,/^set -E/{/^set -E/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
((EUID == 0)) || die "must run as root (debootstrap, systemd-nspawn, nsenter)"

# A chroot (such as shared/tools/fresh-debian.sh's) cannot boot a container: its / is not a
# mount point, so systemd-nspawn's first step, making / a slave mount, fails with EINVAL, and
# a plain bind of /sys there brings no cgroup filesystem. Say so instead of failing later.
skip() { printf 'SKIP: the service section under a real systemd: %s\n' "$*"; exit 77; }
# Like systemd's running_in_chroot(): our / is not PID 1's (unreadable: not a chroot we can see).
in_chroot() {
    local mine init
    mine=$(stat -c %d:%i / 2>/dev/null) && init=$(stat -c %d:%i /proc/1/root/. 2>/dev/null) &&
        [[ $mine != "$init" ]]
}
if in_chroot; then
    skip "running in a chroot; systemd-nspawn needs / to be a mount point (run it on the machine itself, or in a VM)"
fi
if [[ -z $(findmnt -rn -t cgroup,cgroup2 -o TARGET 2>/dev/null) ]]; then
    skip "no cgroup filesystem is mounted (under /sys/fs/cgroup); systemd-nspawn needs one"
fi

BUILD=$(cd "$1" 2>/dev/null && pwd) || die "no such build directory: $1"
[[ -f $BUILD/CPackConfig.cmake ]] || die "$BUILD is not a configured CMake build directory"
for tool in debootstrap systemd-nspawn nsenter zstd cpack python3 flock findmnt; do
    command -v "$tool" >/dev/null || die "$tool is missing (tests/install-deps.sh installs it)"
done
[[ -r $KEYRING ]] || die "$KEYRING is missing (apt-get install debian-archive-keyring)"

# ------------------------------------------------------------------ 1. the cached root
# The Debian mirror apt uses for $SUITE: the first "deb" entry naming it in sources.list(.d),
# one-line or deb822 format (the same reading as shared/tools/fresh-debian.sh).
find_mirror() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -f $f ]] || continue
        if [[ $f == *.sources ]]; then
            awk -v s="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
            {
                types = uris = suites = ""; enabled = "yes"
                for (i = 1; i <= NF; i++) {
                    if ($i ~ /^#/ || !match($i, /^[A-Za-z-]+:/)) continue
                    k = tolower(substr($i, 1, RLENGTH - 1)); v = substr($i, RLENGTH + 1)
                    if (k == "types") types = v; else if (k == "uris") uris = v
                    else if (k == "suites") suites = v; else if (k == "enabled") enabled = tolower(v)
                }
                if (enabled ~ /no/ || (" " types " ") !~ /[ \t]deb[ \t]/) next
                n = split(suites, a, /[ \t]+/); ok = 0
                for (j = 1; j <= n; j++) if (a[j] == s) ok = 1
                if (!ok) next
                n = split(uris, u, /[ \t]+/)
                for (j = 1; j <= n; j++) if (u[j] ~ /^(https?|ftp|file):/) { print u[j]; exit }
            }' "$f"
        else
            awk -v s="$SUITE" '$1 == "deb" {
                i = 2
                if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
                if ($(i + 1) == s && $i ~ /^(https?|ftp|file):/) { print $i; exit }
            }' "$f"
        fi
    done | sed -n 1p
}

build_root() {
    local mirror key tarball lockfd tmp proxy='' log
    mirror=$(find_mirror)
    [[ -n $mirror ]] || die "no 'deb ... $SUITE' entry in /etc/apt/sources.list*"
    key=$(printf '%s\n' "$SUITE" "$PACKAGES" "$mirror" "$(dpkg --print-architecture)" | sha256sum | cut -c1-16)
    tarball=$CACHE/$SUITE-systemd-$key.tar.zst
    mkdir -p "$CACHE"
    exec {lockfd}>"$CACHE/.lock"
    flock "$lockfd"
    if [[ ! -s $tarball ]]; then
        # Under the lock no other run is building: a build.* left here is from a killed run.
        rm -rf --one-file-system "$CACHE"/build.* 2>/dev/null || true
        tmp=$(mktemp -d "$CACHE/build.XXXXXX")
        log=$CACHE/debootstrap-$key.log
        msg "debootstrap $SUITE with systemd from $mirror (first run only; log: $log)"
        eval "$(apt-config shell proxy Acquire::http::Proxy)"
        # Its own mount and PID namespaces: whatever debootstrap mounts or leaves running
        # goes away with it.
        if ! env ${proxy:+http_proxy="$proxy"} unshare --mount --pid --fork --kill-child \
            --propagation private -- debootstrap --variant=minbase --keyring="$KEYRING" \
            --include="$PACKAGES" "$SUITE" "$tmp/root" "$mirror" >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            rm -rf --one-file-system "$tmp"
            die "debootstrap failed (log: $log)"
        fi
        rm -rf "$tmp"/root/var/lib/apt/lists/* "$tmp"/root/var/cache/apt/archives/*.deb
        tar -C "$tmp/root" --numeric-owner --xattrs --xattrs-include='*' -I 'zstd -T0 -3 -q' \
            -cf "$tarball.tmp" .
        mv -f "$tarball.tmp" "$tarball"
        rm -rf --one-file-system "$tmp"
        msg "cached $tarball ($(du -h "$tarball" | cut -f1))"
    fi
    exec {lockfd}>&-
    TARBALL=$tarball
}
build_root
[[ ${BTS_SYSTEMD_BUILD_ONLY:-} ]] && exit 0

# ------------------------------------------------------------------ cleanup, on every exit
CHECKS_PID=''
cleanup() {
    local rc=$? i left
    trap '' INT TERM HUP
    trap - EXIT ERR
    set +e
    [[ -n $CHECKS_PID ]] && kill -TERM "$CHECKS_PID" 2>/dev/null && wait "$CHECKS_PID" 2>/dev/null
    if [[ -n $NSPAWN_PID ]] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        # SIGTERM makes systemd-nspawn ask the container's systemd to power off.
        kill -TERM "$NSPAWN_PID" 2>/dev/null
        for ((i = 0; i < 150; i++)); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$NSPAWN_PID" 2>/dev/null; then
            msg "the container did not power off within 30 s: killing it"
            # Killing PID 1 of its PID namespace kills everything in it.
            [[ -n $LEADER ]] && kill -KILL "$LEADER" 2>/dev/null
            kill -KILL "$NSPAWN_PID" 2>/dev/null
        fi
        wait "$NSPAWN_PID" 2>/dev/null
    fi
    if [[ -n $WORK && -d $WORK ]]; then
        left=$(findmnt -rn -o TARGET | awk -v d="$WORK" 'index($0, d "/") == 1 || $0 == d')
        if [[ -n $left ]]; then
            msg "unmounting leftovers: $(echo $left)"
            umount -R "$WORK" 2>/dev/null || umount -R -l "$WORK" 2>/dev/null
        fi
        left=$(findmnt -rn -o TARGET | awk -v d="$WORK" 'index($0, d "/") == 1 || $0 == d')
        if [[ -n $left ]]; then
            msg "error: still mounted, NOT deleting $WORK: $(echo $left)"
            ((rc)) || rc=2
        else
            rm -rf --one-file-system "$WORK"
        fi
    fi
    [[ -n ${MACHINE:-} ]] && rmdir "/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
    msg "exit status $rc after $((SECONDS - T0)) s"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# ------------------------------------------------------------------ 2. the package
msg "building the package: cpack -G DEB in $BUILD"
rm -f "$BUILD"/biotime-syncd_*.deb
(cd "$BUILD" && cmake --build . >/dev/null && cpack -G DEB >/dev/null) || die "cpack -G DEB failed in $BUILD"
DEB=$(ls -t "$BUILD"/biotime-syncd_*.deb 2>/dev/null | head -1)
[[ -n $DEB ]] || die "cpack made no biotime-syncd_*.deb in $BUILD"

# ------------------------------------------------------------------ 3. boot a copy
mkdir -p /var/tmp
WORK=$(mktemp -d /var/tmp/biotime-syncd-systemd.XXXXXX)
ROOT=$WORK/root
MACHINE=bts-systemd-$$
mkdir "$ROOT"
tar -C "$ROOT" --numeric-owner --xattrs --xattrs-include='*' -I zstd -xpf "$TARBALL"
echo "$MACHINE" >"$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\t%s\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' \
    "$MACHINE" >"$ROOT/etc/hosts"
cp "$DEB" "$ROOT/root/"
msg "booting $ROOT (systemd-nspawn, machine $MACHINE)"
systemd-nspawn -D "$ROOT" -M "$MACHINE" -b --register=no --keep-unit --console=pipe \
    </dev/null >"$WORK/console.log" 2>&1 &
NSPAWN_PID=$!
# The container's PID 1: a child of systemd-nspawn that is PID 1 of its own PID namespace
# (the last NSpid field) and has become systemd; nspawn's short-lived helpers are not.
find_leader() {
    local p
    for p in $(cat /proc/"$NSPAWN_PID"/task/*/children 2>/dev/null); do
        [[ $(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null) == 1 &&
           $(cat "/proc/$p/comm" 2>/dev/null) == systemd ]] && { echo "$p"; return; }
    done
    return 0
}
for ((i = 0; i < 300; i++)); do
    LEADER=$(find_leader)
    [[ -n $LEADER ]] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$WORK/console.log" >&2; die "systemd-nspawn exited"; }
    sleep 0.1
done
[[ -n $LEADER ]] || die "systemd-nspawn started no container within 30 s"
inside() { nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
booted='' boot_start=$SECONDS
while ((SECONDS - boot_start < BOOT_TIMEOUT)); do
    # Until systemd answers on its private socket, is-system-running fails at once.
    booted=$(timeout "$BOOT_TIMEOUT" nsenter -t "$LEADER" -a env -i PATH=/usr/bin:/bin \
        systemctl is-system-running --wait 2>/dev/null || true)
    [[ $booted == running || $booted == degraded ]] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || { tail -n 30 "$WORK/console.log" >&2; die "the container stopped while booting"; }
    sleep 0.2
done
if [[ $booted != running && $booted != degraded ]]; then
    tail -n 30 "$WORK/console.log" >&2
    die "the container did not boot (is-system-running: ${booted:-no answer})"
fi
msg "booted: system $booted (container PID 1 is host PID $LEADER)"
[[ $booted == running ]] || inside systemctl --failed --no-pager >&2 || true

# ------------------------------------------------------------------ 4. the checks
python3 "$HERE/checks.py" --leader "$LEADER" --root "$ROOT" --deb "/root/$(basename "$DEB")" &
CHECKS_PID=$!
wait "$CHECKS_PID" && rc=0 || rc=$?
CHECKS_PID=''
exit "$rc"
