#!/usr/bin/env bash
# Configure and build tapir with Meson + Ninja.
#
#   scripts/build.sh [--werror] [release] [asan]
#
#   release  build/       optimised build (the default when no kind is given)
#   asan     build-asan/  clang with AddressSanitizer + UndefinedBehaviorSanitizer,
#                         always with -Werror; the libFuzzer targets too
#                         (-Dfuzz=true) once tests/fuzz/ has them
#   --werror              warnings are errors in the release build too (CI)
#
# An existing build folder is reconfigured with the same options, so running
# the script again only rebuilds what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

werror=false
kinds=()
for a in "$@"; do
	case "$a" in
	--werror) werror=true ;;
	release | asan) kinds+=("$a") ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "build.sh: unknown argument '$a' (see --help)" >&2
		exit 2
		;;
	esac
done
[ ${#kinds[@]} -gt 0 ] || kinds=(release)

# setup DIR OPTIONS...: configure DIR, or reconfigure it if it exists.
setup() {
	local dir=$1
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		rm -rf "$dir"
		meson setup "$dir" "$@"
	fi
}

for k in "${kinds[@]}"; do
	case "$k" in
	release)
		# Without --werror an existing folder keeps its setting, so the
		# demo after a test run does not rebuild everything.
		opt=()
		if $werror || [ ! -f build/meson-private/coredata.dat ]; then
			opt=(-Dwerror=$werror)
		fi
		setup build -Dbuildtype=release "${opt[@]}"
		ninja -C build
		;;
	asan)
		fuzz=false
		[ -f tests/fuzz/meson.build ] && fuzz=true
		CC=clang setup build-asan -Dfuzz=$fuzz -Dbuildtype=debugoptimized \
			-Db_sanitize=address,undefined -Db_lundef=false \
			-Dwerror=true
		ninja -C build-asan
		;;
	esac
done
