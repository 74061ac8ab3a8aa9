#!/usr/bin/env bash
# Installs, with apt-get, the Debian 12 packages needed to build biotime-syncd and run
# every test; installs nothing that is already there. Needs root (or sudo).
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libcurl4-openssl-dev libcjson-dev libconfig-dev libsystemd-dev libcmocka-dev
  python3 clang libclang-rt-14-dev llvm-14 valgrind
  man-db groff-base dpkg-dev systemd openssl ca-certificates file
  lintian  # .ci/package-check.sh: the .deb must be lintian-clean
  debootstrap systemd-container debian-archive-keyring zstd  # tests/systemd/run.sh
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
