#!/usr/bin/env bash
# Install the Debian packages that tapir needs to build and test.
# Idempotent: a package already installed is left alone, and when nothing is
# missing the script changes nothing (no apt-get update either).
set -euo pipefail

pkgs=(
	build-essential clang lld meson ninja-build pkg-config
	libpcap-dev zlib1g-dev libxxhash-dev libfyaml-dev libcmocka-dev
	libzstd-dev libndpi-dev libndpi-bin
	libmicrohttpd-dev
	libssl-dev # libcrypto: X.509 certificates, MD5/SHA-256 of fingerprints
	libmagic-dev # files.log mime_type
	libclang-rt-14-dev # ASan/UBSan runtimes for clang (a Recommends of clang)
	tshark tcpdump tcpreplay python3 curl
	iproute2 # ip, tc and ss: the live tests (tests/live/) and bench/live.sh
)

# One dpkg-query for all: the packages it lists as installed.
have=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${pkgs[@]}" \
	2>/dev/null | awk '$2 == "installed" { print $1 }' || true)
missing=()
for p in "${pkgs[@]}"; do
	grep -qx "$p" <<<"$have" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#pkgs[@]} packages present"
	exit 0
fi

echo "deps: installing ${missing[*]}"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

# tshark asks whether non-root users may capture; answer "no" up front so
# the install never stops at a prompt.
echo 'wireshark-common wireshark-common/install-setuid boolean false' |
	"${sudo[@]}" debconf-set-selections

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${missing[@]}"
