#!/usr/bin/env bash
# Compiles every tests/conformance/*.c and runs each under `iommufd-emu run --`.
# One line per program, then "conformance: N passed, M failed", where N and M count
# individual checks; a program that fails to compile, crashes, hangs or prints no summary
# counts as one failed check. Exits non-zero on any failure.
# The vfio_* programs run once per machine preset with a device (`run --machine P -- prog P`).
# A program may instead end with "<name>: skipped: REASON" (counts nothing: e.g. no device fd
# offered yet) or "<name>: ok" (one check: the README's example, which has no check.h).
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
cli=(dotnet "$root/src/IommuFd.Cli/bin/Release/net10.0/iommufd-emu.dll" run)
vfio_machines=(intel-vtd amd-vi arm-smmuv3)

passed=0 failed=0
# Runs one compiled program (label: how it is reported) and adds its checks to the totals.
run_one() {
  local name="$1" label="$2" log="$3"; shift 3
  local status=0
  timeout 120 "${cli[@]}" "$@" >"$log" 2>&1 || status=$?
  local skip summary p f
  skip="$(grep -E "^$name: skipped: " "$log" | tail -n 1)"
  if [ -n "$skip" ] && [ "$status" -eq 0 ]; then
    echo "SKIP $label: ${skip#"$name: skipped: "}"
    return
  fi
  if grep -qE "^$name: ok$" "$log"; then
    summary="$name: 1 passed, 0 failed"
  else
    summary="$(grep -E "^$name: [0-9]+ passed, [0-9]+ failed$" "$log" | tail -n 1)"
  fi
  if [ -z "$summary" ]; then
    echo "FAIL $label: no summary (exit status $status)"
    tail -n 20 "$log" | sed 's/^/     /'
    failed=$((failed + 1))
    return
  fi
  p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$summary")
  f=$(sed -E 's/.* ([0-9]+) failed$/\1/' <<<"$summary")
  if [ "$f" -eq 0 ] && [ "$status" -ne 0 ]; then
    f=1 # all checks passed, yet the program failed
  fi
  passed=$((passed + p)); failed=$((failed + f))
  if [ "$f" -eq 0 ]; then
    echo "PASS $label ($p checks)"
  else
    echo "FAIL $label ($p passed, $f failed, exit status $status)"
    grep '^FAIL' "$log" | sed 's/^/     /'
  fi
}

for src in tests/conformance/*.c; do
  name="$(basename "$src" .c)"
  if ! gcc -Wall -Wextra -Werror -O2 -pthread -o "$out/$name" "$src" 2>"$out/$name.log"; then
    echo "FAIL $name: does not compile"
    sed 's/^/     /' "$out/$name.log"
    failed=$((failed + 1))
    continue
  fi
  case "$name" in
    vfio_*)
      for m in "${vfio_machines[@]}"; do
        run_one "$name" "$name [$m]" "$out/$name.$m.log" --machine "$m" -- "$out/$name" "$m"
      done ;;
    *) run_one "$name" "$name" "$out/$name.log" -- "$out/$name" ;;
  esac
done

# The README shows vfio_example.c; the copy there must be the program the line above ran.
readme_example="$(sed -n '/^<!-- tests\/conformance\/vfio_example.c -->$/,/^```$/p' README.md | sed '1,2d;$d')"
if [ -e tests/conformance/vfio_example.c ]; then
  if [ "$readme_example" = "$(cat tests/conformance/vfio_example.c)" ]; then
    echo "PASS README's VFIO example is tests/conformance/vfio_example.c"; passed=$((passed + 1))
  else
    echo "FAIL README's VFIO example differs from tests/conformance/vfio_example.c"; failed=$((failed + 1))
  fi
fi

echo "conformance: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
