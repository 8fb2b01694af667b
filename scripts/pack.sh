#!/usr/bin/env bash
# Builds the NuGet packages into artifacts/packages/:
#   iommufd-emu.<version>.nupkg    the .NET tool, carrying the shim and the NativeAOT engine (linux-x64)
#   IommuFd.Core.<version>.nupkg   the embeddable engine, with XML docs and a README
# The native pieces come from scripts/build-native.sh, which runs first.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/artifacts/packages"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
mkdir -p "$out"

scripts/build-native.sh

printf '==> %s\n' "dotnet pack src/IommuFd.Core src/IommuFd.Cli -> artifacts/packages"
pack() { dotnet pack "$1" -c Release -o "$out" -v quiet -nologo; }
for project in src/IommuFd.Core src/IommuFd.Cli; do
  # Others may build the same projects at the same time; a clash in obj/ passes on a retry.
  pack "$project" >/dev/null 2>"$out/pack.log" || { sleep 2; pack "$project" >"$out/pack.log" 2>&1; } \
    || { cat "$out/pack.log" >&2; exit 1; }
done
rm -f "$out/pack.log"
ls -1 "$out"/*.nupkg
