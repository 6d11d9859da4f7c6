#!/usr/bin/env bash
# First run: install what tapir needs, build it, make a sample capture of
# mirrored traffic and read it.
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
