#!/usr/bin/env bash
# Two or more tapir binaries on the same read, in interleaved rounds, so
# that a noisy host slows them alike.  Run by hand, never by `meson test`.
#
#   bench/compare.sh [--runs N] [-j N] BINARY... [-- EXTRA tapir read ARGS...]
#
# Each round runs every BINARY once: `BINARY read -q -j J FILE -o SHM`
# (J from -j, default 2) with the EXTRA arguments.  Prints, per binary,
# the wall and CPU seconds of every round and their medians.  To compare
# two commits, build each and copy its tapir aside, e.g.
#
#   git stash; ninja -C build && cp build/tapir /tmp/tapir-before; git stash pop
#   ninja -C build && bench/compare.sh --runs 8 /tmp/tapir-before build/tapir \
#       -- --set app.enabled=false
#
# Environment:
#   FILE     capture (/var/tmp/tapir-bench/vxlan-both-2865626830.pcap)
#   SHM_DIR  tmpfs scratch for the logs (/dev/shm/tapir-compare.PID)
set -euo pipefail
FILE=${FILE:-/var/tmp/tapir-bench/vxlan-both-2865626830.pcap}
SHM_DIR=${SHM_DIR:-/dev/shm/tapir-compare.$$}
runs=5
jobs=2
bins=()
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	-j) jobs=$2; shift 2 ;;
	--) shift; extra=("$@"); break ;;
	-h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) bins+=("$1"); shift ;;
	esac
done
[ ${#bins[@]} -ge 1 ] || { echo "compare.sh: no binary (see --help)" >&2; exit 2; }
[ -r "$FILE" ] || { echo "compare.sh: cannot read $FILE" >&2; exit 2; }
for b in "${bins[@]}"; do
	[ -x "$b" ] || { echo "compare.sh: $b is not executable" >&2; exit 2; }
done
mkdir -p "$SHM_DIR"
trap 'rm -rf "$SHM_DIR"' EXIT
cat "$FILE" >/dev/null

echo "compare.sh: $(basename "$FILE"), -j $jobs ${extra[*]}, $runs rounds, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A wall cpu
for _ in $(seq "$runs"); do
	for i in "${!bins[@]}"; do
		rm -rf "${SHM_DIR:?}"/out
		/usr/bin/time -f '%e %U %S' -o "$SHM_DIR/time" "${bins[$i]}" \
			read -q -j "$jobs" "${extra[@]}" -o "$SHM_DIR/out" \
			"$FILE" 2>"$SHM_DIR/err" || {
			echo "compare.sh: ${bins[$i]} failed:" >&2
			cat "$SHM_DIR/err" >&2
			exit 1
		}
		read -r w u s <"$SHM_DIR/time"
		wall[$i]+="$w "
		cpu[$i]+="$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}') "
	done
done
median() { tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{v[NR] = $1} END {
	print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for i in "${!bins[@]}"; do
	printf '%s\n  wall s: %s (median %s)\n  CPU s:  %s (median %s)\n' \
		"${bins[$i]}" "${wall[$i]}" "$(median <<<"${wall[$i]}")" \
		"${cpu[$i]}" "$(median <<<"${cpu[$i]}")"
done
