#!/usr/bin/env bash
# Scaling from one worker to two (issue 2), next to what this machine itself
# gives two busy threads.  Run by hand, never by `meson test`; wants a quiet
# machine.
#
#   bench/scaling.sh [--runs N] [-- EXTRA tapir read ARGS...]
#
# Each round times, with the file in the page cache and the logs on tmpfs:
#   j1    `tapir read -j 1 FILE`                       (one thread)
#   j2    `tapir read -j 2 FILE`                       (a reader + two workers)
#   pair  two `tapir read -j 1 FILE` started together  (two processes that
#         share nothing but the machine: its ceiling for two busy threads)
# and prints one Markdown row: the wall times, j1/j2 (the speed-up), and
# 2 x j1 / pair (what two independent copies reach).  The speed-up is
# near-linear when it comes close to the pair's.
#
# Environment:
#   FILE       capture (/var/tmp/tapir-bench/vxlan-both-2865626830.pcap)
#   BUILD_DIR  meson build directory with tapir (./build)
#   SHM_DIR    tmpfs scratch for the logs (/dev/shm/tapir-scaling.PID)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
FILE=${FILE:-/var/tmp/tapir-bench/vxlan-both-2865626830.pcap}
BUILD_DIR=${BUILD_DIR:-$repo/build}
SHM_DIR=${SHM_DIR:-/dev/shm/tapir-scaling.$$}
tapir=$BUILD_DIR/tapir
runs=3
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "scaling.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
[ -r "$FILE" ] || { echo "scaling.sh: cannot read $FILE" >&2; exit 2; }
[ -x "$tapir" ] || { echo "scaling.sh: no $tapir (build first)" >&2; exit 2; }
mkdir -p "$SHM_DIR"
trap 'rm -rf "$SHM_DIR"' EXIT
cat "$FILE" >/dev/null

# Wall seconds of one `tapir read`; its "wall user sys" in $SHM_DIR/t.NAME.
one() {
	local name=$1; shift
	rm -rf "$SHM_DIR/logs-$name"
	/usr/bin/time -f '%e %U %S' -o "$SHM_DIR/t.$name" \
		"$tapir" read -q "$@" "${extra[@]}" -o "$SHM_DIR/logs-$name" "$FILE"
}
wall() { awk '{print $1}' "$SHM_DIR/t.$1"; }
cpu() { awk '{printf "%.2f", $2 + $3}' "$SHM_DIR/t.$1"; }

echo "scaling.sh: $(basename "$FILE"), ${extra[*]:-defaults}, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| j1 wall (CPU) | j2 wall (CPU) | pair: both done (CPU each) | speed-up j1/j2 | pair's 2 x j1 / pair |"
echo "|---|---|---|---|---|"
for r in $(seq "$runs"); do
	one j1 -j 1
	one j2 -j 2
	start=$(date +%s.%N)
	one a -j 1 & pa=$!
	one b -j 1 & pb=$!
	wait "$pa" "$pb"
	pair=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.2f", e - s}')
	awk -v j1="$(wall j1)" -v c1="$(cpu j1)" -v j2="$(wall j2)" \
	    -v c2="$(cpu j2)" -v p="$pair" -v ca="$(cpu a)" -v cb="$(cpu b)" \
	    'BEGIN{printf "| %.2f s (%.2f) | %.2f s (%.2f) | %.2f s (%.2f, %.2f) | **%.2fx** | %.2fx |\n",
	            j1, c1, j2, c2, p, ca, cb, j1 / j2, 2 * j1 / p}'
done
