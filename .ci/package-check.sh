#!/bin/sh
# Builds the Debian package from a configured (and built) CMake build directory,
# runs lintian on it (any tag fails), installs it, checks every installed file, the
# units' sandboxing and the man pages, then removes and purges it and checks that
# nothing is left behind: not even the admin's drop-ins and enablement links.
#
# Usage: .ci/package-check.sh BUILD_DIR
#
# Runs as root on Debian 12; it does not need a running systemd (PID 1), and it
# leaves the system as it found it except for the biotime-sync system user.
# Prints one PASS/FAIL/SKIP line per check and exits 1 if anything failed.

set -u

PKG=biotime-syncd
MAX_EXPOSURE=2.0
UNITDIR=/lib/systemd/system
UNITS="biotime-syncd.service biotime-syncd@.service"
MAN8=/usr/share/man/man8/biotime-syncd.8.gz
MAN5=/usr/share/man/man5/biotime-sync.conf.5.gz
DOCDIR=/usr/share/doc/biotime-syncd
OVERRIDES=/usr/share/lintian/overrides/biotime-syncd
SYSTEMD_ETC=/etc/systemd/system
SYSUSERS=/usr/lib/sysusers.d/biotime-syncd.conf
BIN=/usr/sbin/biotime-syncd
CONF=/etc/biotime-sync.conf
CONFDIR=/etc/biotime-sync
STATEDIR=/var/lib/biotime-sync

failures=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; failures=$((failures + 1)); }
skip() { printf 'SKIP: %s\n' "$*"; }
info() { printf '      %s\n' "$*"; }
# Indents a command's output under the check it belongs to.
indent() { sed 's/^/      | /'; }

die() { printf 'FAIL: %s\n' "$*"; exit 1; }

# check NAME COMMAND...: PASS when the command succeeds.
check() {
    name=$1
    shift
    if "$@"; then pass "$name"; else fail "$name"; fi
}

# check_file PATH TYPE MODE OWNER:GROUP (TYPE: f or d)
check_file() {
    path=$1 type=$2 mode=$3 owner=$4
    if [ "$type" = d ] && [ ! -d "$path" ]; then fail "$path: missing directory"; return; fi
    if [ "$type" = f ] && [ ! -f "$path" ]; then fail "$path: missing file"; return; fi
    got=$(stat -c '%a %U:%G' "$path")
    if [ "$got" = "$mode $owner" ]; then
        pass "$path ($got)"
    else
        fail "$path is $got, want $mode $owner"
    fi
}

check_gone() {
    for path in "$@"; do
        if [ -e "$path" ] || [ -L "$path" ]; then fail "$path still present"; else pass "$path gone"; fi
    done
}

# ---------------------------------------------------------------------------
[ $# -eq 1 ] || die "usage: $0 BUILD_DIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (it installs and removes a package)"
BUILD_DIR=$(cd "$1" 2>/dev/null && pwd) || die "no such build directory: $1"
[ -f "$BUILD_DIR/CPackConfig.cmake" ] ||
    die "$BUILD_DIR/CPackConfig.cmake missing: configure with cmake first"
for tool in cpack dpkg dpkg-deb systemd-analyze man lintian; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done
SRC_DIR=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD_DIR/CMakeCache.txt")

WORK=$(mktemp -d /tmp/package-check.XXXXXX) || die "mktemp failed"
trap 'rm -rf "$WORK"' EXIT INT TERM

echo "== build the package ($BUILD_DIR)"
if cmake --build "$BUILD_DIR" >"$WORK/build.log" 2>&1; then
    pass "build up to date"
else
    indent <"$WORK/build.log" | tail -n 30
    die "cmake --build failed"
fi
[ -x "$BUILD_DIR/biotime-syncd" ] || die "$BUILD_DIR/biotime-syncd was not built"
rm -f "$BUILD_DIR"/${PKG}_*.deb
if (cd "$BUILD_DIR" && cpack -G DEB) >"$WORK/cpack.log" 2>&1; then
    pass "cpack -G DEB"
else
    indent <"$WORK/cpack.log" | tail -n 30
    die "cpack -G DEB failed"
fi
DEB=
for f in "$BUILD_DIR/$PKG"_*.deb; do [ -f "$f" ] && DEB=$f; done
[ -n "$DEB" ] || die "cpack made no ${PKG}_*.deb"
info "$DEB"

echo "== package metadata"
dpkg-deb -I "$DEB" >"$WORK/info" 2>&1 || die "dpkg-deb -I failed"
indent <"$WORK/info"
check "Package: $PKG" grep -qx " Package: $PKG" "$WORK/info"
check "Section: admin" grep -qx " Section: admin" "$WORK/info"
check "Maintainer set" grep -q "^ Maintainer: ..*<..*@..*>" "$WORK/info"
check "Maintainer is not @localhost" sh -c "! grep -q '^ Maintainer: .*@localhost' '$WORK/info'"
depends=$(dpkg-deb -f "$DEB" Depends)
for dep in libcurl4 libcjson1 libconfig9 libsystemd0 systemd; do
    if printf '%s\n' "$depends" | tr ',' '\n' | sed 's/^ *//' | grep -q "^$dep\( \|$\)"; then
        pass "Depends: $dep"
    else
        fail "Depends lacks $dep (Depends: $depends)"
    fi
done
dpkg-deb --ctrl-tarfile "$DEB" | tar -x -C "$WORK" ./conffiles 2>/dev/null
if [ -f "$WORK/conffiles" ] && grep -qx "$CONF" "$WORK/conffiles"; then
    pass "conffiles lists $CONF"
else
    fail "conffiles does not list $CONF"
fi
for script in postinst prerm postrm; do
    mode=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -tv 2>/dev/null |
           awk -v f="./$script" '$NF == f { print $1 }')
    check "$script is -rwxr-xr-x (${mode:-missing})" [ "$mode" = "-rwxr-xr-x" ]
done

echo "== lintian"
# Every tag fails, info and pedantic ones included; overrides (with their reasons) are
# in $OVERRIDES. lintian warns on stderr when run as root: only stdout holds tags.
lintian --display-info --pedantic --no-tag-display-limit "$DEB" >"$WORK/lintian.out" 2>"$WORK/lintian.err"
rc=$?
tags=$(grep -c '^[EWIPX]: ' "$WORK/lintian.out")
if [ $rc -eq 0 ] && [ "$tags" -eq 0 ]; then
    pass "lintian: no tags"
else
    fail "lintian: $tags tag(s) (exit $rc)"
    indent <"$WORK/lintian.out"
    grep -v 'running with root privileges' "$WORK/lintian.err" | indent
fi

echo "== install"
if dpkg -s "$PKG" >/dev/null 2>&1; then
    info "$PKG is already installed: purging it first"
    dpkg -P "$PKG" >/dev/null 2>&1 || die "cannot purge the installed $PKG"
fi
# Re-includes our man pages and docs in case the image excludes them (slim Docker images).
dpkg_install() {
    dpkg --path-include="$MAN8" --path-include="$MAN5" --path-include="$DOCDIR/*" "$@" -i "$DEB"
}
if dpkg_install >"$WORK/install.log" 2>&1; then
    pass "dpkg -i"
else
    indent <"$WORK/install.log"
    info "dpkg -i failed: trying apt-get install -f for missing dependencies"
    if DEBIAN_FRONTEND=noninteractive apt-get install -f -y >"$WORK/apt.log" 2>&1 &&
       dpkg -s "$PKG" 2>/dev/null | grep -q '^Status: install ok installed'; then
        pass "dpkg -i (after apt-get install -f)"
    else
        indent <"$WORK/apt.log" | tail -n 20
        die "cannot install $DEB"
    fi
fi
check "dpkg status: install ok installed" \
    sh -c "dpkg -s $PKG | grep -qx 'Status: install ok installed'"
if out=$(dpkg --verify "$PKG" 2>&1) && [ -z "$out" ]; then
    pass "dpkg --verify (checksums)"
else
    fail "dpkg --verify"; printf '%s\n' "$out" | indent
fi

echo "== installed files"
check_file "$BIN" f 755 root:root
for unit in $UNITS; do check_file "$UNITDIR/$unit" f 644 root:root; done
check_file "$SYSUSERS" f 644 root:root
check_file "$CONF" f 640 root:biotime-sync
check_file "$CONFDIR" d 750 root:biotime-sync
check_file "$MAN8" f 644 root:root
check_file "$MAN5" f 644 root:root
check_file "$DOCDIR/copyright" f 644 root:root
check_file "$DOCDIR/changelog.gz" f 644 root:root
check_file "$OVERRIDES" f 644 root:root
if [ -n "$SRC_DIR" ] && [ -f "$SRC_DIR/README.md" ]; then
    check_file "$DOCDIR/README.md" f 644 root:root
else
    skip "$DOCDIR/README.md (no README.md in the source tree)"
fi

echo "== system user"
if pw=$(getent passwd biotime-sync); then
    pass "user biotime-sync exists ($pw)"
    uid=$(printf '%s' "$pw" | cut -d: -f3)
    home=$(printf '%s' "$pw" | cut -d: -f6)
    shell=$(printf '%s' "$pw" | cut -d: -f7)
    check "biotime-sync is a system user (uid $uid < 1000)" [ "$uid" -lt 1000 ]
    check "biotime-sync home is $STATEDIR" [ "$home" = "$STATEDIR" ]
    case $shell in
    */nologin|/bin/false) pass "biotime-sync cannot log in ($shell)" ;;
    *) fail "biotime-sync has a login shell: $shell" ;;
    esac
else
    fail "user biotime-sync missing"
fi
check "group biotime-sync exists" sh -c "getent group biotime-sync >/dev/null"
check "the service user can read $CONF" runuser -u biotime-sync -- test -r "$CONF"
check "other users cannot read $CONF" sh -c "runuser -u nobody -- test ! -r $CONF"

echo "== the daemon"
if out=$("$BIN" --version 2>&1); then
    pass "$BIN --version: $out"
else
    fail "$BIN --version exited $?"; printf '%s\n' "$out" | indent
fi
# The shipped example still holds placeholders (example URLs, "change-me"): refused.
"$BIN" -c "$CONF" --check-config >"$WORK/check.out" 2>&1
rc=$?
if [ $rc -eq 78 ] && grep -q placeholder "$WORK/check.out"; then
    pass "$BIN -c $CONF --check-config refuses the example's placeholders (exit 78)"
else
    fail "$BIN -c $CONF --check-config exited $rc (want 78 and a message naming a placeholder)"
    indent <"$WORK/check.out" | head -n 20
fi
# A filled-in config with its secrets in files readable by the service's group only.
SITE_SECRET=ci-secret-7f3a9
printf '%s\n' "$SITE_SECRET" >"$CONFDIR/ci-erpnext.secret"
printf '%s\n' "$SITE_SECRET-pw" >"$CONFDIR/ci-biotime.password"
cat >"$CONFDIR/ci.conf" <<CONF_EOF
biotime = {
  url = "http://127.0.0.1:1";
  name = "ci";
  username = "erp_sync";
  password_file = "$CONFDIR/ci-biotime.password";
};
erpnext = {
  url = "http://127.0.0.1:1";
  api_key = "abc123";
  api_secret_file = "$CONFDIR/ci-erpnext.secret";
};
CONF_EOF
chown root:biotime-sync "$CONFDIR/ci.conf" "$CONFDIR/ci-erpnext.secret" "$CONFDIR/ci-biotime.password"
chmod 0640 "$CONFDIR/ci.conf" "$CONFDIR/ci-erpnext.secret" "$CONFDIR/ci-biotime.password"
for who in root biotime-sync; do
    runuser -u "$who" -- "$BIN" -c "$CONFDIR/ci.conf" --check-config >"$WORK/check.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "a filled-in config passes --check-config as $who (exit 0)"
    else
        fail "a filled-in config: --check-config as $who exited $rc (want 0)"
        indent <"$WORK/check.out" | head -n 20
    fi
    check "--check-config as $who does not print the secrets" \
        sh -c "! grep -q '$SITE_SECRET' '$WORK/check.out'"
done

echo "== systemd units"
if command -v man >/dev/null 2>&1; then manopt=--man=yes; else manopt=--man=no; fi
# A template is verified through an instance: copy it under an instance name.
cp "$UNITDIR/biotime-syncd@.service" "$WORK/biotime-syncd@ci.service"
for unit in "$UNITDIR/biotime-syncd.service" "$UNITDIR/biotime-syncd@.service" \
            "$WORK/biotime-syncd@ci.service"; do
    out=$(systemd-analyze verify "$manopt" "$unit" 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [ -z "$out" ]; then
        pass "systemd-analyze verify $(basename "$unit")"
    else
        fail "systemd-analyze verify $(basename "$unit") (exit $rc)"
        printf '%s\n' "$out" | indent
    fi
done
for unit in $UNITS; do
    out=$(systemd-analyze security --offline=true --no-pager "$UNITDIR/$unit" 2>&1)
    level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
    if [ -z "$level" ]; then
        fail "systemd-analyze security $unit: no exposure level"
        printf '%s\n' "$out" | indent | tail -n 5
    elif awk -v l="$level" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
        pass "systemd-analyze security $unit: exposure $level <= $MAX_EXPOSURE"
    else
        fail "systemd-analyze security $unit: exposure $level > $MAX_EXPOSURE"
        printf '%s\n' "$out" | grep '✗' | indent
    fi
done

echo "== man pages"
for page in "$MAN8" "$MAN5"; do
    # man prints troff/groff warnings on stderr; the page itself goes to /dev/null.
    warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)
    if [ -z "$warn" ]; then
        pass "man --warnings $(basename "$page"): no warnings"
    else
        fail "man --warnings $(basename "$page")"
        printf '%s\n' "$warn" | indent
    fi
done
check "man -w 8 biotime-syncd finds $MAN8" \
    sh -c "[ \"\$(man -w 8 biotime-syncd 2>/dev/null)\" = $MAN8 ]"
check "man -w 5 biotime-sync.conf finds $MAN5" \
    sh -c "[ \"\$(man -w 5 biotime-sync.conf 2>/dev/null)\" = $MAN5 ]"

echo "== reinstall keeps a changed config and its permissions"
echo "# package-check: local change" >>"$CONF"
if dpkg_install --force-confold >"$WORK/reinstall.log" 2>&1; then
    pass "dpkg -i again (upgrade path of the maintainer scripts)"
else
    fail "dpkg -i again"; indent <"$WORK/reinstall.log"
fi
check "local change to $CONF kept" grep -qx "# package-check: local change" "$CONF"
check_file "$CONF" f 640 root:biotime-sync

echo "== remove"
mkdir -p "$STATEDIR/ci" && echo '{}' >"$STATEDIR/ci/state.json"
if dpkg -r "$PKG" >"$WORK/remove.log" 2>&1; then
    pass "dpkg -r"
else
    fail "dpkg -r"; indent <"$WORK/remove.log"
fi
check_gone "$BIN" "$UNITDIR/biotime-syncd.service" "$UNITDIR/biotime-syncd@.service" \
    "$SYSUSERS" "$MAN8" "$MAN5" "$DOCDIR"
check "$CONF kept after remove (conffile)" [ -f "$CONF" ]
check "$STATEDIR kept after remove" [ -d "$STATEDIR" ]

echo "== purge"
# What an admin adds for our units: drop-ins naming the secrets (systemctl edit) and
# enablement links (systemctl enable). Purge deletes the secrets, so these go too.
DROPINS="$SYSTEMD_ETC/biotime-syncd.service.d $SYSTEMD_ETC/biotime-syncd@.service.d
$SYSTEMD_ETC/biotime-syncd@ci.service.d"
for d in $DROPINS; do
    mkdir -p "$d"
    printf '[Service]\nLoadCredential=erpnext.secret:%s/ci-erpnext.secret\n' "$CONFDIR" \
        >"$d/override.conf"
done
LINKS="$SYSTEMD_ETC/multi-user.target.wants/biotime-syncd.service
$SYSTEMD_ETC/multi-user.target.wants/biotime-syncd@ci.service"
mkdir -p "$SYSTEMD_ETC/multi-user.target.wants"
ln -sf "$UNITDIR/biotime-syncd.service" "$SYSTEMD_ETC/multi-user.target.wants/biotime-syncd.service"
ln -sf "$UNITDIR/biotime-syncd@.service" "$SYSTEMD_ETC/multi-user.target.wants/biotime-syncd@ci.service"
if dpkg -P "$PKG" >"$WORK/purge.log" 2>&1; then
    pass "dpkg -P"
else
    fail "dpkg -P"; indent <"$WORK/purge.log"
fi
check_gone "$CONF" "$CONFDIR" "$STATEDIR"
# shellcheck disable=SC2086 # the lists are newline-separated paths without blanks
check_gone $DROPINS $LINKS
check "dpkg no longer knows $PKG" sh -c "! dpkg -s $PKG >/dev/null 2>&1"

echo
if [ "$failures" -eq 0 ]; then
    echo "PASS: package-check: all checks passed"
    exit 0
fi
echo "FAIL: package-check: $failures check(s) failed"
exit 1
