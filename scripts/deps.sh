#!/bin/sh
# SPDX-License-Identifier: MIT
# Install every Debian 12 package umbra's build, tests and benchmarks need.
# Idempotent: does nothing when all packages are present. Run as root (or via sudo).
set -eu

PKGS="build-essential cmake pkg-config clang clang-format clang-tidy llvm libclang-rt-14-dev
libsodium-dev libssl-dev libuv1-dev libmicrohttpd-dev libjansson-dev libinih-dev libsqlite3-dev
libqrencode-dev libcmocka-dev
curl netcat-openbsd iproute2 procps python3 python3-cryptography openssl openssh-client
openssh-server
tcpdump tor"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The tor package's maintainer scripts would start a system tor (which dials the public Tor
# network). The benchmarks run their own tor processes (bench/tor_net.sh), so deny service
# starts during this install with a temporary policy-rc.d, unless the machine already has one.
POLICY=/usr/sbin/policy-rc.d
if [ ! -e "$POLICY" ]; then
	printf '#!/bin/sh\n# temporary, scripts/deps.sh: no service starts during the install\nexit 101\n' |
		$SUDO tee "$POLICY" >/dev/null
	$SUDO chmod 755 "$POLICY"
	trap '$SUDO rm -f "$POLICY"' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
