#!/usr/bin/env bash
# The project's two set-up commands (see README.md):
#   ./run.sh demo   builds what it needs and runs the built-in demo
#   ./run.sh test   builds everything (managed, NativeAOT engine, C shim) and runs every test
#   ./run.sh pack   builds the NuGet packages (iommufd-emu tool, IommuFd.Core) into artifacts/packages/
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

step() { printf '==> %s\n' "$*"; }

demo() {
  step "building the CLI"
  dotnet build src/IommuFd.Cli -c Release -v quiet -nologo >/dev/null
  dotnet src/IommuFd.Cli/bin/Release/net10.0/iommufd-emu.dll demo "$@"
}

# Runs one xUnit v3 test assembly and adds its counts to the totals.
passed=0 failed=0
run_xunit() {
  local dll="$1" out
  step "unit tests: $(basename "$dll" .dll)"
  out="$(dotnet "$dll" -noColor 2>&1)" || true
  printf '%s\n' "$out" | grep -E '\[FAIL\]|Total:' || true
  local line total fail errors
  line="$(printf '%s\n' "$out" | grep -E 'Total: [0-9]+' | tail -n 1)"
  if [ -z "$line" ]; then
    printf '%s\n' "$out" | tail -n 30
    failed=$((failed + 1)); return
  fi
  total=$(sed -E 's/.*Total: ([0-9]+).*/\1/' <<<"$line")
  fail=$(sed -E 's/.*Failed: ([0-9]+).*/\1/' <<<"$line")
  errors=$(sed -E 's/.*Errors: ([0-9]+).*/\1/' <<<"$line")
  passed=$((passed + total - fail)); failed=$((failed + fail + errors))
}

# Runs a command whose last line is "<name>: N passed, M failed" and adds the counts.
run_counted() {
  local name="$1"; shift
  step "$name"
  local out status=0
  out="$("$@" 2>&1)" || status=$?
  printf '%s\n' "$out" | tail -n 40
  local line
  line="$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)"
  if [ -z "$line" ]; then
    failed=$((failed + 1)); return
  fi
  passed=$((passed + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$line")))
  failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
  if [ "$status" -ne 0 ] && [ "$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")" -eq 0 ]; then
    failed=$((failed + 1))
  fi
}

test_all() {
  step "building the solution"
  dotnet build IommuFd.slnx -c Debug -v quiet -nologo 2>&1 | grep -E 'error|Warn|Error' | grep -v ' 0 Error' | grep -v ' 0 Warn' || true
  dotnet build IommuFd.slnx -c Debug -v quiet -nologo >/dev/null
  for dll in tests/IommuFd.*.Tests/bin/Debug/net10.0/IommuFd.*.Tests.dll; do
    run_xunit "$dll"
  done
  run_counted "C shim self-test" make -s -C native/preload test OUT="$root/build/preload-test"
  if [ -x scripts/test-conformance.sh ]; then
    run_counted "C conformance under iommufd-emu run" scripts/test-conformance.sh
  fi
  if [ -x scripts/test-qemu.sh ]; then
    # A fresh machine gets QEMU 10 from the repo's own install step first.
    step "QEMU 10: scripts/install-qemu.sh"
    if scripts/install-qemu.sh; then
      run_counted "QEMU 10 over a VFIO device fd under iommufd-emu run" scripts/test-qemu.sh "$root"
    else
      failed=$((failed + 1))
    fi
  fi
  if [ -x scripts/test-tool-install.sh ]; then
    run_counted "tool install: packages, the installed tool, the library's README example" scripts/test-tool-install.sh
  fi
  echo
  echo "tests: $passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

case "${1:-}" in
  demo) shift; demo "$@" ;;
  test) test_all ;;
  pack) scripts/pack.sh ;;
  *) echo "usage: ./run.sh demo | ./run.sh test | ./run.sh pack" >&2; exit 2 ;;
esac
