#!/usr/bin/env bash
# tapir benchmarks, run by hand (never by `meson test`).  See bench/README.md.
#
#   bench/run.sh [-r REPEAT] [--only throughput|memory] [--gen-only]
#
# Environment:
#   BENCH_DIR   where generated captures are cached (/var/tmp/tapir-bench)
#   BUILD_DIR   meson build directory with tapir and bench-pipeline (./build)
#   TRACEGEN    tracegen binary (../shared/tools/tracegen/tracegen)
#   SHM_DIR     tmpfs directory for tapir's logs (/dev/shm/tapir-bench.PID)
#
# Prints Markdown tables on stdout (also saved under $BENCH_DIR/results-*.md)
# and the raw output of every run under $BENCH_DIR/logs/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/tapir-bench}
BUILD_DIR=${BUILD_DIR:-$repo/build}
TRACEGEN=${TRACEGEN:-$repo/../shared/tools/tracegen/tracegen}
SHM_DIR=${SHM_DIR:-/dev/shm/tapir-bench.$$}
REPEAT=5
ONLY=
GEN_ONLY=0

while [ $# -gt 0 ]; do
	case $1 in
	-r) REPEAT=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--gen-only) GEN_ONLY=1; shift ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done

TAPIR=$BUILD_DIR/tapir
BENCHP=$BUILD_DIR/bench/bench-pipeline

# Issue 2's figures are for decode + dedup + flows + conn.log: the
# application parsers (bench/app.sh, bench/app-memory.sh) stay off.
CORE_SET=(--set app.enabled=false)

# The throughput capture: AWS VPC Traffic Mirroring over VXLAN, 40% of the
# flows east-west between two monitored hosts and so mirrored from both
# sides (every packet of those flows twice).  Small bulk sizes keep the
# file near 4 GB while it holds 510 000 flows; tracegen needs ~17 packets
# per flow whatever the sizes (handshake, requests, teardown).
MAIN_ARGS=(--flows 440000 --udp-flows 70000 --duration 300 --hosts 200
	--size-min 100 --size-max 200000 --dns-share 0.9
	--encap vxlan --mirror-both-sides --east-west-share 0.4 --seed 1)

# The flow-memory captures: UDP flows (DNS, 2 packets each) never close,
# so with 1 h timeouts every flow of the file is open at its end: 1M flows,
# and the same traffic with 10 000 and with 100 flows as baselines.  A UDP
# flow takes the same slot as a TCP one.
MEM_MANY_ARGS=(--flows 0 --udp-flows 1000000 --dns-share 1 --duration 20
	--hosts 200 --encap vxlan --seed 2)
MEM_FEW_ARGS=(--flows 0 --udp-flows 10000 --dns-share 1 --duration 20
	--hosts 200 --encap vxlan --seed 2)
MEM_TINY_ARGS=(--flows 0 --udp-flows 100 --dns-share 1 --duration 20
	--hosts 200 --encap vxlan --seed 2)
# The default flow.max_flows (1 000 000) holds them all with one worker.
MEM_SET=(--set flow.tcp_timeout=1h --set flow.udp_timeout=1h "${CORE_SET[@]}")

die() { echo "run.sh: $*" >&2; exit 1; }

[ -x "$TRACEGEN" ] || die "no tracegen at $TRACEGEN (set TRACEGEN)"
mkdir -p "$BENCH_DIR/logs"

# gen NAME ARGS...: the capture for ARGS, made once and cached under a name
# that carries a checksum of the arguments.  Prints its path.
gen() {
	local name=$1; shift
	local sum
	sum=$(printf '%s ' "$@" | cksum | cut -d' ' -f1)
	local f=$BENCH_DIR/$name-$sum.pcap
	if [ ! -s "$f" ] || [ ! -s "$f.summary" ]; then
		local avail need=6000000
		avail=$(df -Pk "$BENCH_DIR" | awk 'NR==2 {print $4}')
		[ "$avail" -gt "$need" ] ||
			die "less than 6 GB free in $BENCH_DIR"
		echo "generating $f ..." >&2
		"$TRACEGEN" "$@" -o "$f.tmp" 2>"$f.summary.tmp" ||
			die "tracegen failed: $(cat "$f.summary.tmp")"
		mv "$f.tmp" "$f"
		sed 's/\.tmp$//' "$f.summary.tmp" >"$f.summary"
		rm -f "$f.summary.tmp"
		printf 'tracegen %s\n' "$*" >>"$f.summary"
	fi
	echo "$f"
}

MAIN=$(gen vxlan-both "${MAIN_ARGS[@]}")
if [ -z "$ONLY" ] || [ "$ONLY" = memory ]; then
	MEM_MANY=$(gen flows-1m "${MEM_MANY_ARGS[@]}")
	MEM_FEW=$(gen flows-10k "${MEM_FEW_ARGS[@]}")
	MEM_TINY=$(gen flows-100 "${MEM_TINY_ARGS[@]}")
fi
[ "$GEN_ONLY" = 1 ] && exit 0

[ -x "$TAPIR" ] || die "no $TAPIR: build first (meson setup build && ninja -C build)"
[ -x "$BENCHP" ] || die "no $BENCHP: build first"
mkdir -p "$SHM_DIR"
trap 'rm -rf "$SHM_DIR"' EXIT

stamp=$(date -u +%Y%m%dT%H%M%SZ)
LOGS=$BENCH_DIR/logs/$stamp
mkdir -p "$LOGS"
OUT=$BENCH_DIR/results-$stamp.md

say() { printf '%s\n' "$*" | tee -a "$OUT"; }

# timed TAG CMD...: run CMD under /usr/bin/time -v, output to $LOGS/TAG.*;
# sets T_WALL T_USER T_SYS T_RSS_KB.
timed() {
	local tag=$1; shift
	local tf=$LOGS/$tag.time
	/usr/bin/time -v -o "$tf" "$@" >"$LOGS/$tag.out" 2>&1 ||
		die "$tag failed: $* (see $LOGS/$tag.out)"
	T_WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ {
		n = split($2, a, ":"); s = 0
		for (i = 1; i <= n; i++) s = s * 60 + a[i]
		print s }' "$tf")
	T_USER=$(awk -F': ' '/User time/ {print $2}' "$tf")
	T_SYS=$(awk -F': ' '/System time/ {print $2}' "$tf")
	T_RSS_KB=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tf")
}

# best TAG REPEAT CMD...: the run with the median wall time of REPEAT runs;
# sets the T_* of that run.
best() {
	local tag=$1 n=$2; shift 2
	local i rows=
	for i in $(seq 1 "$n"); do
		rm -rf "${SHM_DIR:?}"/out
		timed "$tag.$i" "$@"
		rows+="$T_WALL $T_USER $T_SYS $T_RSS_KB"$'\n'
	done
	rm -rf "${SHM_DIR:?}"/out
	read -r T_WALL T_USER T_SYS T_RSS_KB < <(printf '%s' "$rows" |
		sort -n -k1,1 | awk -v m=$(((n + 1) / 2)) 'NR == m')
	printf '%s' "$rows" >"$LOGS/$tag.runs"
}

f3() { awk -v x="$1" 'BEGIN { printf "%.3f", x }'; }

# row NAME PACKETS WIREBYTES CMDTEXT: one table row from the T_* values.
row() {
	local name=$1 pk=$2 wb=$3 cmd=$4
	awk -v n="$name" -v w="$T_WALL" -v u="$T_USER" -v s="$T_SYS" \
	    -v r="$T_RSS_KB" -v p="$pk" -v b="$wb" -v c="$cmd" 'BEGIN {
		cpu = u + s
		printf "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | `%s` |\n",
			n, w, u, s, p / w / 1e6, p / cpu / 1e6, b * 8 / w / 1e9,
			b * 8 / cpu / 1e9, r / 1024, c }' | tee -a "$OUT"
}

header() {
	say "| run | wall s | user s | sys s | Mpkt/s | Mpkt/s per core | Gbit/s | Gbit/s per core | max RSS MB | command |"
	say "|---|---|---|---|---|---|---|---|---|---|"
}

cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
say "# tapir bench, $(date -u '+%Y-%m-%d %H:%M UTC')"
say ""
say "machine: $(nproc) CPUs, $cpu_model, $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
say "tapir: $("$TAPIR" version 2>/dev/null | head -1)"
say "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs on the machine take CPU from the wall-time figures; the per-core figures divide by the CPU time actually used)"
say ""

if [ -z "$ONLY" ] || [ "$ONLY" = throughput ]; then
	say "## Throughput"
	say ""
	say "capture: \`$MAIN\`"
	say ""
	say "    $(head -1 "$MAIN.summary")"
	say "    $(tail -1 "$MAIN.summary")"
	say ""
	# Page cache: every reader below sees the file in memory.
	cat "$MAIN" >/dev/null

	# Exact packet and wire-byte counts, and the in-memory pipeline.
	for j in 1 2; do
		timed "bench-pipeline-j$j" "$BENCHP" -j "$j" -r "$REPEAT" "${CORE_SET[@]}" \
			-o "$SHM_DIR/out" "$MAIN"
		cp "$LOGS/bench-pipeline-j$j.time" "$LOGS/bench-pipeline-j$j.time.keep"
	done
	res=$(grep '^RESULT ' "$LOGS/bench-pipeline-j1.out" | tail -1)
	PK=$(sed -n 's/.* packets=\([0-9]*\).*/\1/p' <<<"$res")
	WB=$(sed -n 's/.* wire_bytes=\([0-9]*\).*/\1/p' <<<"$res")
	[ -n "$PK" ] && [ -n "$WB" ] || die "no RESULT line from bench-pipeline"
	say "$PK frames, $WB wire bytes ($(f3 "$(awk -v b="$WB" -v p="$PK" 'BEGIN {print b/p}')") bytes per frame); median of $REPEAT runs each (ndpiReader: one run), file in the page cache, logs on tmpfs."
	say ""
	header

	best tapir-j1 "$REPEAT" "$TAPIR" read "$MAIN" -o "$SHM_DIR/out" -q -j 1 "${CORE_SET[@]}"
	row "tapir read -j 1" "$PK" "$WB" "tapir read FILE -o /dev/shm/... -q -j 1 ${CORE_SET[*]}"
	W1=$T_WALL
	best tapir-j2 "$REPEAT" "$TAPIR" read "$MAIN" -o "$SHM_DIR/out" -q -j 2 "${CORE_SET[@]}"
	row "tapir read -j 2" "$PK" "$WB" "tapir read FILE -o /dev/shm/... -q -j 2 ${CORE_SET[*]}"
	W2=$T_WALL
	best tcpdump "$REPEAT" tcpdump -r "$MAIN" -w /dev/null
	row "tcpdump" "$PK" "$WB" "tcpdump -r FILE -w /dev/null"
	best ndpireader 1 ndpiReader -i "$MAIN" -q -v 0
	row "ndpiReader" "$PK" "$WB" "ndpiReader -i FILE -q -v 0 >/dev/null"

	# bench-pipeline: its own timing of the pipeline only (CPU of all
	# threads from getrusage), median of its REPEAT repetitions.
	for j in 1 2; do
		res=$(grep '^RESULT ' "$LOGS/bench-pipeline-j$j.out" | tail -1)
		T_WALL=$(sed -n 's/.* wall=\([0-9.]*\).*/\1/p' <<<"$res")
		T_USER=$(sed -n 's/.* user=\([0-9.]*\).*/\1/p' <<<"$res")
		T_SYS=$(sed -n 's/.* sys=\([0-9.]*\).*/\1/p' <<<"$res")
		T_RSS_KB=$(sed -n 's/.* pipeline_rss_kb=\([0-9]*\).*/\1/p' <<<"$res")
		row "bench-pipeline -j $j (pipeline only)" "$PK" "$WB" \
			"bench-pipeline -j $j -r $REPEAT ${CORE_SET[*]} -o /dev/shm/... FILE"
		eval "BW$j=\$T_WALL"
	done
	say ""
	say "max RSS of bench-pipeline: the pipeline's growth over the RSS after the file was loaded."
	say ""
	r1=$(grep '^RESULT ' "$LOGS/bench-pipeline-j1.out" | tail -1)
	r2=$(grep '^RESULT ' "$LOGS/bench-pipeline-j2.out" | tail -1)
	kv() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
	say "decoding thread with -j 2 (bench-pipeline): $(kv main_cpu "$r2") s CPU of $(awk -v u="$(kv user "$r2")" -v s="$(kv sys "$r2")" 'BEGIN {print u + s}') s for all threads; one thread with -j 1: $(awk -v u="$(kv user "$r1")" -v s="$(kv sys "$r1")" 'BEGIN {print u + s}') s. Ceiling of the 1 -> 2 speed-up while the decoding thread is serial: $(f3 "$(awk -v u="$(kv user "$r1")" -v s="$(kv sys "$r1")" -v m="$(kv main_cpu "$r2")" 'BEGIN {print (u + s) / m}')")x"
	say ""
	say "scaling 1 -> 2 workers: tapir read $(f3 "$(awk -v a="$W1" -v b="$W2" 'BEGIN {print a/b}')")x, bench-pipeline $(f3 "$(awk -v a="$BW1" -v b="$BW2" 'BEGIN {print a/b}')")x (2.0x is linear)"
	say ""
	grep -h '^sizeof' "$LOGS/bench-pipeline-j1.out" | sed 's/^/    /' | tee -a "$OUT" >/dev/null
	grep -h 'sizeof' "$OUT" >/dev/null && say ""
	say "tapir summary (-j 1):"
	say ""
	"$TAPIR" read "$MAIN" -o "$SHM_DIR/out" -j 1 "${CORE_SET[@]}" 2>&1 | tail -1 | sed 's/^/    /' | tee -a "$OUT"
	rm -rf "${SHM_DIR:?}"/out
	say ""
fi

if [ -z "$ONLY" ] || [ "$ONLY" = memory ]; then
	say "## Flow memory"
	say ""
	say "    $(head -1 "$MEM_MANY.summary")"
	say "    $(tail -1 "$MEM_MANY.summary")"
	say ""
	cat "$MEM_MANY" "$MEM_FEW" "$MEM_TINY" >/dev/null
	stat_of() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"/stats.log | tail -1; }
	say "| read | peak flows | evicted | max RSS kB | command |"
	say "|---|---|---|---|---|"
	# The capture comes through a pipe, so that however tapir buffers a
	# regular file stays out of the RSS.
	for m in MANY FEW TINY; do
		eval "f=\$MEM_$m"
		rm -rf "${SHM_DIR:?}"/out
		timed "mem-$m" "$TAPIR" read - -o "$SHM_DIR/out" -q -j 1 \
			"${MEM_SET[@]}" < <(cat "$f")
		eval "R_$m=\$T_RSS_KB"
		eval "P_$m=\$(stat_of \"\$SHM_DIR/out\" peak_flows)"
		eval "E_$m=\$(stat_of \"\$SHM_DIR/out\" flows_evicted)"
		eval "say \"| $(basename "$f" .pcap) | \$P_$m | \$E_$m | \$R_$m | \\\`cat FILE | tapir read - -o /dev/shm/... -q -j 1 ${MEM_SET[*]}\\\` |\""
	done
	rm -rf "${SHM_DIR:?}"/out
	[ -n "$P_MANY" ] && [ -n "$P_FEW" ] && [ -n "$P_TINY" ] ||
		die "no peak_flows in stats.log"
	say ""
	per() { awk -v a="$1" -v b="$2" -v p="$3" -v q="$4" 'BEGIN {printf "%.1f", (a-b)*1024/(p-q)}'; }
	say "- marginal flow state, 1M vs 10k flows: ($R_MANY - $R_FEW) kB / ($P_MANY - $P_FEW) flows = **$(per "$R_MANY" "$R_FEW" "$P_MANY" "$P_FEW") bytes per flow**"
	say "- all-in, 1M vs 100 flows (adds the hash buckets, 4 B per slot of flow.max_flows, that 10k flows already touch): ($R_MANY - $R_TINY) kB / ($P_MANY - $P_TINY) flows = **$(per "$R_MANY" "$R_TINY" "$P_MANY" "$P_TINY") bytes per flow**"
	timed mem-bench "$BENCHP" -j 1 -r 1 -o "$SHM_DIR/out" "${MEM_SET[@]}" "$MEM_MANY"
	rm -rf "${SHM_DIR:?}"/out
	res=$(grep '^RESULT ' "$LOGS/mem-bench.out" | tail -1)
	say "- bench-pipeline on the 1M-flow capture, growth of RSS over the loaded capture per peak flow: $(sed -n 's/.*bytes_per_flow=\([0-9.]*\).*/\1/p' <<<"$res") bytes; $(grep -h '^sizeof' "$LOGS/mem-bench.out")"
	say ""
fi

say "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "results in $OUT, raw output in $LOGS" >&2
