#!/usr/bin/env bash
# The whole pipeline with application inspection (reassembly, HTTP and DNS
# parsers, nDPI, every log) against the same read without it, and against
# ndpiReader on the same file in the same run.
#
#   bench/app.sh [--runs N] [FILE...]
#
# Without FILEs: /var/tmp/tapir-bench/vxlan-both-2865626830.pcap and a
# tracegen capture with an HTTP/DNS/TLS/SSH mix made in
# /var/tmp/app-parsers/ (deleted at the end).  Prints one Markdown table
# row per (file, program, run): wall, user and system seconds, and Gbit/s
# of captured bytes per CPU second.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3
files=()
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	*) files+=("$1"); shift ;;
	esac
done
scratch=/var/tmp/app-parsers
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT
if [ ${#files[@]} -eq 0 ]; then
	files=(/var/tmp/tapir-bench/vxlan-both-2865626830.pcap)
	tg=$(realpath ../shared/tools/tracegen)
	make -s -C "$scratch" -f "$tg/Makefile" --eval "vpath %.c $tg" tracegen
	"$scratch/tracegen" --flows 8000 --udp-flows 3000 --duration 60 --seed 5 \
		--http-share 0.3 --tls-share 0.45 --ssh-share 0.05 --dns-share 0.6 \
		-o "$scratch/mix.pcap" --truth "$scratch/mix.json" 2>&1 | tail -1
	files+=("$scratch/mix.pcap")
fi
time_of() { # label file cmd...: one table row
	local label=$1 file=$2
	shift 2
	local t
	/usr/bin/time -o "$scratch/time" -f '%e %U %S' "$@" >/dev/null 2>&1
	t=$(tail -1 "$scratch/time")
	local bytes
	bytes=$(stat -c %s "$file")
	read -r wall user sys <<<"$t"
	awk -v f="$(basename "$file")" -v l="$label" -v w="$wall" -v u="$user" \
		-v s="$sys" -v b="$bytes" 'BEGIN {
		printf "| %s | %s | %.2f | %.2f | %.2f | %.2f |\n", f, l, w, u, s,
			b * 8 / 1e9 / (u + s) }'
}
echo "| file | program | wall s | user s | sys s | Gbit/s per CPU s |"
echo "|---|---|---|---|---|---|"
for f in "${files[@]}"; do
	for i in $(seq "$runs"); do
		time_of "tapir read -j 1 (app)" "$f" build/tapir read -q -j 1 -o "$scratch/logs" "$f"
		time_of "tapir read -j 1, app.enabled=false" "$f" build/tapir read -q -j 1 --set app.enabled=false -o "$scratch/logs" "$f"
		time_of "tapir read -j 1, app.ndpi=false" "$f" build/tapir read -q -j 1 --set app.ndpi=false -o "$scratch/logs" "$f"
		time_of "ndpiReader -i" "$f" ndpiReader -i "$f" -q
	done
done
