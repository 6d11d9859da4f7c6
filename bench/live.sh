#!/usr/bin/env bash
# The zero-loss rate of `tapir run` on a veth path, against tcpdump on the
# same path; optionally a soak at half that rate with RSS samples.  Run by
# hand as root, never by `meson test`.  See bench/README.md ("Live").
#
#   bench/live.sh [--trial SEC] [--iterations N] [--soak SEC] [--rate PPS]
#                 [--receivers tapir-j1,tapir-j2,tcpdump] [--threads N]
#
#   --trial SEC        length of each trial (default 60)
#   --iterations N     bisection steps per receiver (default 7)
#   --receivers LIST   which receivers to measure, in order (tapir-jN: udp
#                      source; tapir-af-jN: afpacket on the veth, the path
#                      tcpdump takes; tcpdump)
#   --threads N        receive sockets of tapir's udp source (default 1)
#   --soak SEC         then run tapir -j 1 at half its zero-loss rate for
#                      SEC seconds, sampling RSS every 10 s
#   --rate PPS         with --soak: skip the search, halve PPS instead
#
# Environment:
#   BENCH_DIR      captures, logs and results (/var/tmp/tapir-bench)
#   BUILD_DIR      meson build directory with tapir (./build)
#   TAPIR_SHARED   folder holding tools/tracegen (../shared)
#
# Prints a Markdown report (also saved as $BENCH_DIR/live-results-*.md).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/tapir-bench}
BUILD_DIR=${BUILD_DIR:-$repo/build}
TAPIR_SHARED=${TAPIR_SHARED:-$repo/../shared}

die() { echo "live.sh: $*" >&2; exit 1; }

# The comment block above, as help.
usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

case ${1:-} in
-h|--help) usage; exit 0 ;;
esac

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces, veth pairs)"
for tool in ip tc ss tcpreplay tcpdump python3 make cc; do
	command -v "$tool" >/dev/null ||
		die "$tool is not installed (scripts/deps.sh installs what is needed)"
done
[ -x "$BUILD_DIR/tapir" ] ||
	die "no $BUILD_DIR/tapir: build first (meson setup build && ninja -C build)"
[ -f "$TAPIR_SHARED/tools/tracegen/tracegen.c" ] ||
	die "no tracegen under $TAPIR_SHARED/tools (set TAPIR_SHARED)"
mkdir -p "$BENCH_DIR"

exec python3 "$repo/tests/live/zeroloss.py" --tapir "$BUILD_DIR/tapir" \
	--shared "$TAPIR_SHARED" --bench-dir "$BENCH_DIR" "$@"
