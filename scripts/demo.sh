#!/usr/bin/env bash
# First run: install what tapir needs, build it, make a sample capture of
# mirrored traffic, read it, then run tapir as a live mirror target on its
# embedded defaults and send it the same traffic over UDP.
#
#   scripts/demo.sh
#
# The sample (build/sample.pcap) is what an appliance behind AWS VPC Traffic
# Mirroring receives: VXLAN on UDP 4789 from six mirrored ENIs, TCP and UDP
# over IPv4 and IPv6, east-west traffic mirrored from both ends (so every
# such packet arrives twice). tests/tools/mkmirror.py writes it, with the
# flows it contains in build/sample.truth.json.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
scripts/build.sh release

sample=build/sample.pcap
python3 tests/tools/mkmirror.py --both-sides --flows 40 \
	-o "$sample" --truth build/sample.truth.json
echo "demo: wrote $sample"

build/tapir read "$sample" -o tapir-logs

echo
echo "demo: logs are in $(pwd)/tapir-logs:"
ls -l tapir-logs
echo
echo "demo: the first lines of tapir-logs/conn.log:"
head -n 5 tapir-logs/conn.log

# The appliance: `tapir run` on its embedded defaults (VXLAN on UDP 4789,
# Geneve on UDP 6081, the NLB health check on TCP 4789, /healthz and the
# API on HTTP port 80), fed the sample's VXLAN datagrams over loopback.
echo
echo "demo: starting 'tapir run' on its embedded defaults (logs in tapir-live)"
build/tapir run -o tapir-live --set log.rotate=0 &
tapir_pid=$!
trap 'kill $tapir_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do
	curl -sf http://127.0.0.1/healthz >/dev/null 2>&1 && break
	sleep 0.1
done
echo "demo: GET /healthz: $(curl -s http://127.0.0.1/healthz)"
python3 tests/tools/udp-replay.py --pps 2000 "$sample"
sleep 1
echo "demo: 'tapir stats' on the running instance:"
build/tapir stats | head -n 24
kill -TERM $tapir_pid
wait $tapir_pid || true
trap - EXIT
echo
echo "demo: after SIGTERM every flow is in tapir-live/conn.log:" \
	"$(wc -l < tapir-live/conn.log) records (the read gave" \
	"$(wc -l < tapir-logs/conn.log))"
echo "demo: and every frame in its packet store, tapir-live/store:" \
	"$(build/tapir query --store tapir-live/store --count '') frames," \
	"$(build/tapir query --store tapir-live/store --count 'tcp port 443')" \
	"of them to or from TCP port 443"
