#!/usr/bin/env bash
# Checks the NuGet packages as a user gets them: builds them (scripts/pack.sh), installs the
# iommufd-emu tool into a temporary tool path from artifacts/packages, runs a conformance C program
# with it from a directory outside the repo, and runs IommuFd.Core's README example in a fresh
# project that references the package. Ends with "tool install: N passed, M failed".
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
packages="$root/artifacts/packages"
work="$(mktemp -d /tmp/iommufd-tool.XXXXXX)"
trap 'rm -rf "$work"' EXIT
# A private package cache: a 0.1.0 left in ~/.nuget/packages by an earlier pack would mask this one.
export NUGET_PACKAGES="$work/nuget"

passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; sed 's/^/     /' "$2" | tail -n 20; failed=$((failed + 1)); }
finish() { echo "tool install: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

scripts/pack.sh >"$work/pack.log" 2>&1 || { fail "scripts/pack.sh" "$work/pack.log"; finish; }
pass "scripts/pack.sh built $(cd "$packages" && ls -1 ./*.nupkg | xargs -n1 basename | tr '\n' ' ')"

tools="$work/tools"
if dotnet tool install --tool-path "$tools" --add-source "$packages" --ignore-failed-sources \
    iommufd-emu >"$work/install.log" 2>&1; then
  pass "dotnet tool install --tool-path TMP --add-source artifacts/packages iommufd-emu"
else
  fail "dotnet tool install" "$work/install.log"; finish
fi

# A conformance program, run from a directory that is not the repo and holds no build/native.
prog=size_rules
mkdir -p "$work/elsewhere"
if ! gcc -Wall -Wextra -Werror -O2 -pthread -o "$work/elsewhere/$prog" "tests/conformance/$prog.c" 2>"$work/gcc.log"; then
  fail "gcc tests/conformance/$prog.c" "$work/gcc.log"; finish
fi
status=0
(cd "$work/elsewhere" && env -u IOMMUFD_EMU_SHIM -u IOMMUFD_EMU_ENGINE \
   timeout 120 "$tools/iommufd-emu" run -- "./$prog") >"$work/run.log" 2>&1 || status=$?
if [ "$status" -eq 0 ] && grep -qE "^$prog: [1-9][0-9]* passed, 0 failed$" "$work/run.log"; then
  pass "installed iommufd-emu run -- ./$prog (from $work/elsewhere): $(grep -E "^$prog: " "$work/run.log")"
else
  echo "exit status $status" >>"$work/run.log"
  fail "installed iommufd-emu run -- ./$prog" "$work/run.log"
fi

# IommuFd.Core's README example, verbatim, in a project restored from the local folder only.
app="$work/embed"
mkdir -p "$app"
cat >"$app/embed.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings>
    <RestoreSources>$packages</RestoreSources>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="IommuFd.Core" Version="0.1.0" />
  </ItemGroup>
</Project>
PROJ
# The build must not pick up the repo's Directory.Build.props: /tmp is outside it anyway.
sed -n '/^```csharp$/,/^```$/p' src/IommuFd.Core/package/README.md | sed '1d;$d' >"$app/Program.cs"
if [ ! -s "$app/Program.cs" ]; then
  echo "no csharp block in src/IommuFd.Core/package/README.md" >"$work/embed.log"
  fail "README example extracted" "$work/embed.log"
elif (cd "$app" && dotnet run -v quiet -nologo) >"$work/embed.log" 2>&1 \
     && grep -qE '^mapped and unmapped 0x4000 bytes at IOVA 0x[0-9a-f]+$' "$work/embed.log"; then
  pass "IommuFd.Core README example from the package: $(tail -n 1 "$work/embed.log")"
else
  fail "IommuFd.Core README example from the package" "$work/embed.log"
fi
finish
