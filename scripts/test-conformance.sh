#!/usr/bin/env bash
# Compiles every tests/conformance/*.c and runs each under `iommufd-emu run --`.
# One line per program, then "conformance: N passed, M failed", where N and M count
# individual checks; a program that fails to compile, crashes, hangs or prints no summary
# counts as one failed check. Exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
out="$root/build/conformance"
mkdir -p "$out"

scripts/build-native.sh || { echo "conformance: 0 passed, 1 failed"; exit 1; }

echo "==> iommufd-emu CLI: dotnet build src/IommuFd.Cli"
build_cli() { dotnet build src/IommuFd.Cli -c Release -v quiet -nologo >"$out/cli-build.log" 2>&1; }
if ! build_cli && ! { sleep 2; build_cli; }; then # a retry for obj/ races with other builds
  cat "$out/cli-build.log"
  echo "conformance: 0 passed, 1 failed"
  exit 1
fi
cli=(dotnet "$root/src/IommuFd.Cli/bin/Release/net10.0/iommufd-emu.dll" run --)

passed=0 failed=0
for src in tests/conformance/*.c; do
  name="$(basename "$src" .c)"
  if ! gcc -Wall -Wextra -Werror -O2 -pthread -o "$out/$name" "$src" 2>"$out/$name.log"; then
    echo "FAIL $name: does not compile"
    sed 's/^/     /' "$out/$name.log"
    failed=$((failed + 1))
    continue
  fi
  status=0
  timeout 120 "${cli[@]}" "$out/$name" >"$out/$name.log" 2>&1 || status=$?
  summary="$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$out/$name.log" | tail -n 1)"
  if [ -z "$summary" ]; then
    echo "FAIL $name: no summary (exit status $status)"
    tail -n 20 "$out/$name.log" | sed 's/^/     /'
    failed=$((failed + 1))
    continue
  fi
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$summary")
  f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
  if [ "$f" -eq 0 ] && [ "$status" -ne 0 ]; then
    f=1 # all checks passed, yet the program failed
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -eq 0 ]; then
    echo "PASS $name ($p checks)"
  else
    echo "FAIL $name ($p passed, $f failed, exit status $status)"
    grep '^FAIL' "$out/$name.log" | sed 's/^/     /'
  fi
done

echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
