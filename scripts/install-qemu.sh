#!/usr/bin/env bash
# Makes sure QEMU 10 (qemu-system-x86_64 >= 10.0) is installed: scripts/test-qemu.sh needs its
# iommufd backend and vfio-pci over pre-opened fds. Does nothing when it is already there.
# Otherwise, on Debian 12 only, installs qemu-system-x86 from the bookworm-backports suite
# (Debian 12 itself ships QEMU 7.2). Prints one line saying what it did; non-zero on failure.
set -euo pipefail

want_major=10

# The major version of the installed qemu-system-x86_64, or nothing when it is missing.
installed_major() {
  command -v qemu-system-x86_64 >/dev/null 2>&1 || return 0
  qemu-system-x86_64 --version 2>/dev/null | sed -nE '1s/.*version ([0-9]+)\..*/\1/p'
}

major="$(installed_major)"
if [ -n "$major" ] && [ "$major" -ge "$want_major" ]; then
  echo "install-qemu: $(qemu-system-x86_64 --version | head -n 1) already installed, nothing to do"
  exit 0
fi

# shellcheck disable=SC1091
. /etc/os-release 2>/dev/null || true
if [ "${ID:-}" != debian ] || [ "${VERSION_CODENAME:-}" != bookworm ]; then
  echo "install-qemu: QEMU >= $want_major.0 is needed (found: ${major:-none}); this script only knows" \
       "Debian 12 (bookworm), where backports has it. Install QEMU 10 with your system's packages" \
       "and run again." >&2
  exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo); else
    echo "install-qemu: installing QEMU 10 needs root (no sudo found)" >&2; exit 1
  fi
fi

log="$(mktemp /tmp/install-qemu.XXXXXX.log)"
trap 'rm -f "$log"' EXIT
list=/etc/apt/sources.list.d/bookworm-backports.list
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' | "${sudo[@]}" tee "$list" >/dev/null
fi
export DEBIAN_FRONTEND=noninteractive
if ! { "${sudo[@]}" apt-get update -qq &&
       "${sudo[@]}" apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-system-x86; } \
     >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "install-qemu: apt-get failed installing qemu-system-x86 from bookworm-backports" >&2
  exit 1
fi

major="$(installed_major)"
if [ -z "$major" ] || [ "$major" -lt "$want_major" ]; then
  echo "install-qemu: installed qemu-system-x86, yet qemu-system-x86_64 reports version ${major:-none}" >&2
  exit 1
fi
echo "install-qemu: installed $(qemu-system-x86_64 --version | head -n 1) from bookworm-backports"
