#!/usr/bin/env bash
# QEMU 10 as a real VMM over our device fds: under `iommufd-emu run --machine intel-vtd` with
# /dev/iommu and /dev/vfio/devices/vfio0 pre-opened (--fd), QEMU's iommufd backend and vfio-pci
# get them by number (fd=), realize the device, map guest RAM into the IOAS through their memory
# listener, show the device in the monitor, and quit.
#
# Usage: scripts/test-qemu.sh [ROOT]   (QEMU 10 must be installed: scripts/install-qemu.sh)
# Prints PASS/FAIL lines, then "qemu: N passed, M failed" (what run.sh counts). When the engine
# offers no device fd (no /dev/vfio/devices/vfio0 under --machine intel-vtd) it prints one SKIP
# line and counts nothing: the VFIO pieces are merged separately.
# Logs: build/qemu/{qemu.out,qemu.err,qemu-trace.log}.
set -uo pipefail
root="$(cd "${1:-$(dirname "${BASH_SOURCE[0]}")/..}" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
out="$root/build/qemu"
mkdir -p "$out"
machine=intel-vtd
iommu_fd=10 device_fd=11

passed=0 failed=0
pass() { echo "PASS qemu: $1"; passed=$((passed + 1)); }
fail() { echo "FAIL qemu: $1"; failed=$((failed + 1)); }
check() { local what="$1"; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
finish() { echo "qemu: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

# The device's identity, from the one header that states it.
id_of() { sed -nE "s/^#define $1 0x([0-9a-fA-F]{4}).*/\1/p" tests/conformance/dma_test_device.h | tr 'A-F' 'a-f'; }
vendor="$(id_of DMA_TEST_VENDOR_ID)" device="$(id_of DMA_TEST_DEVICE_ID)"
[ -n "$vendor" ] && [ -n "$device" ] || { fail "device IDs in tests/conformance/dma_test_device.h"; finish; }

if ! command -v qemu-system-x86_64 >/dev/null; then
  fail "qemu-system-x86_64 not found (scripts/install-qemu.sh installs it)"; finish
fi

# What the run needs: the native shim + engine and the CLI (test-conformance.sh builds both first).
cli_dll="$root/src/IommuFd.Cli/bin/Release/net10.0/iommufd-emu.dll"
if [ ! -e build/native/libiommufd_engine.so ] || [ ! -e build/native/libiommufd_preload.so ]; then
  scripts/build-native.sh >"$out/build.log" 2>&1 || { tail -n 20 "$out/build.log"; fail "native build"; finish; }
fi
if [ ! -e "$cli_dll" ]; then
  dotnet build src/IommuFd.Cli -c Release -v quiet -nologo >"$out/build.log" 2>&1 ||
    { tail -n 20 "$out/build.log"; fail "CLI build"; finish; }
fi
emu=(dotnet "$cli_dll" run --machine "$machine")

# Does the engine offer a device fd yet? A 10-line probe answers (exit 77: it does not).
cat >"$out/vfio-probe.c" <<'EOF'
#include <fcntl.h>
#include <unistd.h>
int main(void)
{
	int fd = open("/dev/vfio/devices/vfio0", O_RDWR | O_CLOEXEC);
	return fd < 0 ? 77 : (close(fd), 0);
}
EOF
gcc -O2 -o "$out/vfio-probe" "$out/vfio-probe.c" || { fail "probe does not compile"; finish; }
probe=0
timeout 60 "${emu[@]}" -- "$out/vfio-probe" >"$out/probe.log" 2>&1 || probe=$?
if [ "$probe" -eq 77 ]; then
  echo "SKIP qemu: the engine offers no /dev/vfio/devices/vfio0 under --machine $machine yet"
  finish
elif [ "$probe" -ne 0 ]; then
  cat "$out/probe.log"; fail "probe under iommufd-emu run (exit status $probe)"; finish
fi

# QMP on stdio: the capabilities handshake, the monitor's `info pci`, the same as data, quit.
qmp() {
  printf '%s\n' \
    '{"execute":"qmp_capabilities"}' \
    '{"execute":"human-monitor-command","arguments":{"command-line":"info pci"}}' \
    '{"execute":"query-pci"}' \
    '{"execute":"quit"}'
}
status=0
qmp | timeout 120 "${emu[@]}" --fd "$iommu_fd=/dev/iommu" --fd "$device_fd=/dev/vfio/devices/vfio0" -- \
  qemu-system-x86_64 -machine q35 -accel tcg -nodefaults -display none -m 128M \
    -object "iommufd,id=i0,fd=$iommu_fd" -device "vfio-pci,id=vfio0,iommufd=i0,fd=$device_fd" \
    -qmp stdio -D "$out/qemu-trace.log" \
    -trace 'enable=iommufd_*' -trace 'enable=vfio_region_setup' -trace 'enable=vfio_populate_device_*' \
    -trace 'enable=vfio_msix_early_setup' -trace 'enable=vfio_get_dev_region' -trace 'enable=vfio_pci_reset*' \
    >"$out/qemu.out" 2>"$out/qemu.err" || status=$?

check "QEMU exits 0 (status $status)" test "$status" -eq 0
# QEMU reports errors as "qemu-system-x86_64: ...: message"; warnings say "warning:".
errors="$(grep -E '^qemu-system-x86_64: ' "$out/qemu.err" | grep -v 'warning:')"
check "QEMU realized vfio-pci over fd=$device_fd with no error line" test -z "$errors"
[ -n "$errors" ] && sed 's/^/     /' <<<"$errors" | head -n 20
grep 'warning:' "$out/qemu.err" | sed 's/^/     (warning) /' | head -n 10

# Guest RAM reaches the IOAS as writable maps (q35 remaps the low 1 MiB as firmware shadows
# change, so the check takes the largest single map: all 128 MiB at IOVA 0 at some point).
largest=0
while read -r hex; do [ $((16#$hex)) -gt "$largest" ] && largest=$((16#$hex)); done < <(
  sed -nE 's/.*iommufd_backend_map_dma .* size=0x([0-9a-f]+) .* readonly=0 \(0\)$/\1/p' "$out/qemu-trace.log")
check "the trace shows guest RAM mapped into the IOAS (largest writable map $((largest >> 20)) MiB, want >= 96)" \
  test "$largest" -ge $((96 << 20))
failed_calls="$(grep -E '^iommufd_backend_(map|unmap|alloc|free|set|get)[a-z_]* .*\((-?[1-9][0-9]*)\)$' "$out/qemu-trace.log")"
check "no iommufd backend call failed" test -z "$failed_calls"
[ -n "$failed_calls" ] && head -n 5 <<<"$failed_calls" | sed 's/^/     /'
check "the trace shows the device attached" grep -q 'iommufd_cdev_attach_ioas_hwpt' "$out/qemu-trace.log"

# The monitor's answers. The device's entry in query-pci runs from its qdev_id to the next one.
info="$(grep -F '"return": "' "$out/qemu.out" | grep -F 'Bus ')"
entry="$(grep -F '"return": [' "$out/qemu.out" | sed -nE 's/.*"qdev_id": "vfio0"//p' | sed -E 's/"qdev_id".*//')"
check "info pci lists PCI device $vendor:$device" grep -qF "PCI device $vendor:$device" <<<"$info"
check "query-pci has the device (id vfio0) with vendor 0x$vendor, device 0x$device" \
  grep -qE "\"device\": $((16#$device)), .*\"vendor\": $((16#$vendor))[,}]" <<<"$entry"
check "its class is 0x0880" grep -qE "\"class\": $((0x0880))[,}]" <<<"$entry"
check "BAR0 is 4 KiB of memory" grep -qE '\{[^}]*"bar": 0, "size": 4096, [^}]*"type": "memory"\}' <<<"$entry"

if [ "$failed" -ne 0 ]; then
  echo "     logs: $out/qemu.err, $out/qemu-trace.log, $out/qemu.out"
  tail -n 15 "$out/qemu.err" | sed 's/^/     /'
fi
finish
