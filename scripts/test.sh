#!/usr/bin/env bash
# Install what tapir needs, build it twice (release, and ASan+UBSan with
# clang) and run every test in both builds: the unit tests and the pcap tier
# (tests/pcap/).  The pcap cases that read ../shared (the corpus and tracegen)
# are skipped, with a notice, where it is absent.
#
#   scripts/test.sh [release] [asan]     (default: both)
#
# The last line is "N passed, N failed, N skipped" over both builds; the exit
# status is non-zero when a test failed or a build broke.
set -euo pipefail
cd "$(dirname "$0")/.."

kinds=("$@")
[ ${#kinds[@]} -gt 0 ] || kinds=(release asan)

trap 'echo "0 passed, 1 failed (set-up or build step failed: see above)"' ERR

scripts/deps.sh
scripts/build.sh --werror "${kinds[@]}"

trap - ERR
status=0
dirs=()
for k in "${kinds[@]}"; do
	case "$k" in
	release) dir=build mult=1 ;;
	asan) dir=build-asan mult=3 ;;
	*)
		echo "test.sh: unknown build '$k'" >&2
		exit 2
		;;
	esac
	dirs+=("$dir")
	echo "== meson test -C $dir"
	meson test -C "$dir" --print-errorlogs --timeout-multiplier "$mult" ||
		status=1
done

# One summary over both builds, with the reason of every skipped test.
python3 - "${dirs[@]}" <<'EOF' || status=1
import json, os, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    path = os.path.join(d, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        failed += 1
        print("%s: no test log" % d)
        continue
    for line in open(path):
        t = json.loads(line)
        r = t.get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
            why = [l for l in (t.get("stdout") or "").splitlines()
                   if l.startswith("SKIP")]
            print("skipped in %s: %s: %s" % (d, t["name"],
                                             why[0] if why else "(no reason)"))
        else:
            failed += 1
            print("failed in %s: %s (%s)" % (d, t["name"], r))
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed else 0)
EOF
exit $status
