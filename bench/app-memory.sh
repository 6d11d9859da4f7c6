#!/usr/bin/env bash
# Memory per flow with application state, at 1M concurrent flows (issue 4).
# Run by hand, never by `meson test`.
#
#   bench/app-memory.sh [--keep]
#
# Two tracegen captures with the same mix (85 % TCP: HTTP 30 %, TLS 45 %,
# SSH 5 %, opaque 20 %; 15 % UDP: DNS 60 %, ESP-in-UDP 40 %; AWS VXLAN):
# 1 000 000 and 10 000 flows, all started within 1 s and with 2-3 s RTTs,
# so that every flow is open at once, each in its handshake or first
# request and answer: the moment its parser, reassembly and nDPI state are
# all held.  Each is read through a pipe (the reader's buffering stays out
# of the RSS) by `tapir read -j 1` with the application layer on, without
# nDPI, and off; the marginal bytes per flow are
# (max RSS 1M - max RSS 10k) / (peak flows 1M - peak flows 10k).
#
# Environment:
#   BENCH_DIR  where the captures are made and kept (/var/tmp/tapir-bench;
#              6.4 GB; --keep keeps them for a later run)
#   BUILD_DIR  meson build directory with tapir (./build)
#   TRACEGEN   the generator (built from ../shared/tools/tracegen if unset)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/tapir-bench}
BUILD_DIR=${BUILD_DIR:-$repo/build}
tapir=$BUILD_DIR/tapir
keep=0
case ${1:-} in
--keep) keep=1 ;;
-h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
"") ;;
*) echo "app-memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
scratch=$(mktemp -d /dev/shm/tapir-appmem.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
if [ -z "${TRACEGEN:-}" ]; then
	tg=$(realpath "$repo/../shared/tools/tracegen")
	make -s -C "$scratch" -f "$tg/Makefile" --eval "vpath %.c $tg" tracegen
	TRACEGEN=$scratch/tracegen
fi
mkdir -p "$BENCH_DIR"
declare -A cap=([1m]=850000:150000 [10k]=8500:1500)
for n in 1m 10k; do
	f=$BENCH_DIR/app-mem-$n.pcap
	[ -s "$f" ] && continue
	"$TRACEGEN" --flows "${cap[$n]%:*}" --udp-flows "${cap[$n]#*:}" \
		--duration 1 --rtt-min-ms 2000 --rtt-max-ms 3000 \
		--size-min 300 --size-max 3000 --hosts 200 --ext-hosts 5000 \
		--encap vxlan --seed 7 -o "$f" 2>&1 | tail -1 >&2
done
[ $keep = 1 ] || trap 'rm -rf "$scratch" "$BENCH_DIR"/app-mem-1m.pcap "$BENCH_DIR"/app-mem-10k.pcap' EXIT

stat_of() { tail -1 "$scratch/out/stats.log" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
echo "| app layer | flows | peak flows | app flows | max RSS kB | wall s | CPU s |"
echo "|---|---|---|---|---|---|---|"
declare -A rss peak
for mode in on ndpi-off off; do
	case $mode in
	on) set=() ;;
	ndpi-off) set=(--set app.ndpi=false) ;;
	off) set=(--set app.enabled=false) ;;
	esac
	for n in 10k 1m; do
		rm -rf "$scratch/out"
		/usr/bin/time -f '%e %U %S %M' -o "$scratch/time" "$tapir" read - -q -j 1 \
			"${set[@]}" -o "$scratch/out" < <(cat "$BENCH_DIR/app-mem-$n.pcap")
		read -r wall user sys kb <"$scratch/time"
		rss[$mode.$n]=$kb
		peak[$mode.$n]=$(stat_of peak_flows)
		app=$(tail -1 "$scratch/out/stats.log" | grep -o '"app":{"flows":[0-9]*' | cut -d: -f3)
		awk -v m="$mode" -v n="$n" -v p="${peak[$mode.$n]}" -v a="${app:-0}" \
		    -v k="$kb" -v w="$wall" -v c="$(awk -v u="$user" -v s="$sys" 'BEGIN{print u + s}')" \
		    'BEGIN{printf "| %s | %s | %d | %d | %d | %.2f | %.2f |\n", m, n, p, a, k, w, c}'
	done
done
echo
for mode in on ndpi-off off; do
	awk -v m="$mode" -v a="${rss[$mode.1m]}" -v b="${rss[$mode.10k]}" \
	    -v p="${peak[$mode.1m]}" -v q="${peak[$mode.10k]}" \
	    'BEGIN{printf "- app layer %s: (%d - %d) kB / (%d - %d) flows = **%.0f bytes per flow**\n", m, a, b, p, q, (a - b) * 1024 / (p - q)}'
done
