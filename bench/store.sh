#!/usr/bin/env bash
# The packet store's figures (issue 5), run by hand (never by `meson test`).
#
#   bench/store.sh [--copies N] [--keep] [--reuse] [--cold] [HOST...]
#
# 1. Write path: `tapir read -j 1` of FILE with and without `--store`; the
#    store's cost is the difference in CPU time (user + sys), given as GB
#    of captured bytes per CPU-second; index and manifest size as % of the
#    captured bytes.  The same with `store.compress: zstd`, and its ratio.
# 2. A big store: FILE read N times (default 3) into one store, copy i
#    shifted by i x 400 s with editcap, so that the copies do not overlap
#    in time.  --reuse: keep the big store of an earlier --keep run.
# 3. Query: for each HOST (default 198.18.1.7, a median host, and
#    10.0.1.188, one of the busiest), `tapir query 'host H'` over the big
#    store, side by side with `tcpdump -r` over the same segment files
#    (brute force: an inner-IPv4 byte filter on the VXLAN frames); both
#    counts must agree.  --cold: three more runs of each query, each
#    after `sync; echo 3 > /proc/sys/vm/drop_caches` (an empty page
#    cache, as for old segments; needs root, and slows everything else
#    on the machine for a moment).
#
# Environment:
#   FILE       capture (/var/tmp/tapir-bench/vxlan-both-2865626830.pcap,
#              VXLAN over IPv4, inner Ethernet + IPv4 at offset 64)
#   WORK       scratch directory, removed at the end unless --keep
#              (/var/tmp/store-format)
#   BUILD_DIR  meson build directory with tapir (./build)
#
# Prints a Markdown table on stdout; raw timings on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
FILE=${FILE:-/var/tmp/tapir-bench/vxlan-both-2865626830.pcap}
WORK=${WORK:-/var/tmp/store-format}
BUILD_DIR=${BUILD_DIR:-$repo/build}
tapir=$BUILD_DIR/tapir
copies=3
keep=0
reuse=0
cold=0
hosts=()
while [ $# -gt 0 ]; do
	case $1 in
	--copies) copies=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--reuse) reuse=1; shift ;;
	--cold) cold=1; shift ;;
	-h|--help) sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "store.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	*) hosts+=("$1"); shift ;;
	esac
done
[ ${#hosts[@]} -gt 0 ] || hosts=(198.18.1.7 10.0.1.188)
[ -r "$FILE" ] || { echo "store.sh: cannot read $FILE" >&2; exit 2; }
if [ $cold = 1 ] && ! [ -w /proc/sys/vm/drop_caches ]; then
	echo "store.sh: --cold drops the page cache, which needs root" >&2
	exit 2
fi
mkdir -p "$WORK"
[ $keep = 1 ] || trap 'rm -rf "$WORK/s1" "$WORK/z1" "$WORK/big" "$WORK"/logs-* "$WORK/q.pcap"' EXIT

# "wall user sys" of a command, its output discarded.
timed() {
	/usr/bin/time -f '%e %U %S' -o "$WORK/time" "$@" >/dev/null
	cat "$WORK/time"
}
cpu() { awk '{printf "%.2f", $2 + $3}' <<<"$1"; }

bytes=$(stat -c %s "$FILE")
gb=$(awk -v b="$bytes" 'BEGIN{printf "%.3f", b / 1e9}')

# 1. Write path, best of two each.
best_base= best_store=
for i in 1 2; do
	rm -rf "$WORK/s1" "$WORK"/logs-*
	t=$(timed "$tapir" read -q -j 1 -o "$WORK/logs-base" "$FILE")
	echo "read:         $t" >&2
	c=$(cpu "$t"); [ -z "$best_base" ] || awk -v a="$c" -v b="$best_base" 'BEGIN{exit !(a < b)}' && best_base=$c
	t=$(timed "$tapir" read -q -j 1 -o "$WORK/logs-store" --store "$WORK/s1" "$FILE")
	echo "read --store: $t" >&2
	c=$(cpu "$t"); [ -z "$best_store" ] || awk -v a="$c" -v b="$best_store" 'BEGIN{exit !(a < b)}' && best_store=$c
done
seg=$(cat "$WORK"/s1/seg-*.pcap | wc -c)
idx=$(cat "$WORK"/s1/seg-*.idx | wc -c)
man=$(stat -c %s "$WORK/s1/manifest")
nseg=$(ls "$WORK"/s1/seg-*.pcap | wc -l)
rm -rf "$WORK/s1" "$WORK/z1"
t=$(timed "$tapir" read -q -j 1 -o "$WORK/logs-zstd" --store "$WORK/z1" --set store.compress=zstd "$FILE")
echo "read --store, zstd: $t" >&2
zcpu=$(cpu "$t")
zseg=$(cat "$WORK"/z1/seg-*.pcap.zst | wc -c)
rm -rf "$WORK/z1"

# 2. The big store.
[ $reuse = 1 ] && [ -d "$WORK/big" ] && copies=0 || rm -rf "$WORK/big"
for ((i = 0; i < copies; i++)); do
	if [ $i = 0 ]; then
		t=$(timed "$tapir" read -q -j 1 -o "$WORK/logs-big" --store "$WORK/big" "$FILE")
	else
		editcap -t $((i * 400)) "$FILE" "$WORK/shifted.pcap"
		t=$(timed "$tapir" read -q -j 1 -o "$WORK/logs-big" --store "$WORK/big" "$WORK/shifted.pcap")
		rm -f "$WORK/shifted.pcap"
	fi
	echo "copy $i: $t" >&2
done
big=$(cat "$WORK"/big/seg-*.pcap | wc -c)
bigseg=$(ls "$WORK"/big/seg-*.pcap | wc -l)

# 3. Queries.
rows=
for h in "${hosts[@]}"; do
	hex=$(awk -F. '{printf "0x%02x%02x%02x%02x", $1, $2, $3, $4}' <<<"$h")
	n=$("$tapir" query --store "$WORK/big" --count "host $h")
	qt=
	for r in 1 2 3; do
		t=$(timed "$tapir" query --store "$WORK/big" -w "$WORK/q.pcap" "host $h")
		echo "tapir query host $h: $t" >&2
		qt="$qt${qt:+, }$(awk '{print $1}' <<<"$t") s"
	done
	qcpu=$(cpu "$t")
	ct="not run (--cold)"
	if [ $cold = 1 ]; then
		ct=
		for r in 1 2 3; do
			sync
			echo 3 >/proc/sys/vm/drop_caches
			t=$(timed "$tapir" query --store "$WORK/big" -w "$WORK/q.pcap" "host $h")
			echo "tapir query host $h, cold: $t" >&2
			ct="$ct${ct:+, }$(awk '{print $1}' <<<"$t") s"
		done
		ct="$ct (last: $(cpu "$t") s CPU)"
	fi
	out=$(stat -c %s "$WORK/q.pcap")
	filter="ether[12:2] = 0x0800 and ether[62:2] = 0x0800 and (ether[76:4] = $hex or ether[80:4] = $hex)"
	start=$(date +%s.%N)
	tn=0
	tcpu0=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
	for s in "$WORK"/big/seg-*.pcap; do
		k=$(tcpdump -n -r "$s" --count "$filter" 2>/dev/null | awk '{print $1}')
		tn=$((tn + k))
	done
	tw=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN{printf "%.1f", e - s}')
	tcpu=$(awk -v a="$tcpu0" -v b="$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (b - a) / hz}')
	echo "tcpdump -r over $bigseg segments, host $h: $tn packets, $tw s wall, $tcpu s CPU" >&2
	same=$([ "$n" = "$tn" ] && echo equal || echo "DIFFERENT ($tn)")
	rows="$rows| \`host $h\` | $n packets ($out bytes), counts $same | $qt (last: $qcpu s CPU) | $ct | $tw s ($tcpu s CPU) |
"
done

cat <<EOT
Store figures, $(date -u +%Y-%m-%dT%H:%MZ), load average $(cut -d' ' -f1-3 /proc/loadavg)

| write path (\`tapir read -j 1\`, $gb GB, best of 2) | |
|---|---|
| CPU without / with \`--store\` | $best_base s / $best_store s |
| store's CPU per captured GB | $(awk -v a="$best_base" -v b="$best_store" -v g="$gb" 'BEGIN{printf "%.2f GB/s per core", g / (b - a)}') |
| segments | $nseg, $seg bytes |
| index | $idx bytes = $(awk -v i="$idx" -v b="$bytes" 'BEGIN{printf "%.2f %%", 100 * i / b}') of the captured bytes |
| manifest | $man bytes = $(awk -v i="$man" -v b="$bytes" 'BEGIN{printf "%.3f %%", 100 * i / b}') |
| zstd: CPU with \`--store\` | $zcpu s: $(awk -v a="$best_base" -v b="$zcpu" -v g="$gb" 'BEGIN{printf "%.2f GB/s per core", g / (b - a)}') |
| zstd: segments | $zseg bytes, ratio $(awk -v a="$seg" -v b="$zseg" 'BEGIN{printf "%.2f", a / b}') |

Big store: $bigseg segments, $(awk -v b="$big" 'BEGIN{printf "%.2f GB", b / 1e9}') (time-shifted copies of $(basename "$FILE")).

| query | answer | \`tapir query -w\` wall (3 runs) | the same from a cold page cache | \`tcpdump -r\` over the segments, wall |
|---|---|---|---|---|
$rows
EOT
