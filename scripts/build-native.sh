#!/usr/bin/env bash
# Builds the native half of iommufd-emu into build/native/:
#   libiommufd_preload.so   the LD_PRELOAD shim (native/preload, make)
#   libiommufd_engine.so    the NativeAOT engine (src/IommuFd.Native, dotnet publish)
#   iommufd-bench           the benchmark program behind `iommufd-emu bench`
# Each step is skipped when its output is newer than its inputs, so a second run is fast.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/build/native"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p "$out"

step() { printf '==> %s\n' "$*"; }

# True when $1 is missing or any file under the other arguments is newer than it.
stale() {
  local target="$1"; shift
  [ ! -e "$target" ] && return 0
  [ -n "$(find "$@" -newer "$target" \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.c' -o -name '*.h' -o -name Makefile \) -not -path '*/obj/*' -not -path '*/bin/*' -print -quit 2>/dev/null)" ]
}

step "preload shim: make -C native/preload"
make -s -C native/preload OUT="$out" >/dev/null

engine="$out/libiommufd_engine.so"
if stale "$engine" src/IommuFd.Native src/IommuFd.Abi src/IommuFd.Core Directory.Build.props; then
  step "NativeAOT engine: dotnet publish src/IommuFd.Native"
  publish() { dotnet publish src/IommuFd.Native -c Release -r linux-x64 -o "$out" -v quiet -nologo; }
  # Others may build the same projects at the same time; a clash in obj/ passes on a retry.
  if ! publish >"$out/publish.log" 2>&1; then
    sleep 2
    if ! publish >"$out/publish.log" 2>&1; then
      cat "$out/publish.log" >&2
      exit 1
    fi
  fi
  rm -f "$out/publish.log"
  touch "$engine" # the linker may keep an older mtime when nothing changed
else
  step "NativeAOT engine: up to date"
fi

bench="$out/iommufd-bench"
if stale "$bench" tests/conformance/bench tests/conformance/iommufd_uapi.h; then
  step "bench program: gcc tests/conformance/bench/iommufd_bench.c"
  gcc -Wall -Wextra -Werror -O2 -o "$bench" tests/conformance/bench/iommufd_bench.c
else
  step "bench program: up to date"
fi
