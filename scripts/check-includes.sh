#!/bin/sh
# SPDX-License-Identifier: MIT
# Enforce the module DAG (STYLE.md 3.1, DESIGN.md "Layers"): a file under src/<m>/ may include
# its own module's headers and those of modules of strictly lower rank, never higher or equal
# ones; only evloop/ includes uv.h, only store/ sqlite3.h, only crypto/ sodium.h and openssl/
# (lib/ may use sodium's memory helpers), only control/ and the HTTP servers microhttpd.h.
set -eu
cd "$(dirname "$0")/.."

rank() {
	case $1 in
	lib) echo 0 ;;
	crypto | evloop | store | config) echo 1 ;;
	link) echo 2 ;;
	dht) echo 3 ;;
	directory) echo 4 ;;
	trust | mesh) echo 5 ;;
	exit) echo 6 ;;
	circuit) echo 7 ;;
	hs) echo 8 ;;
	front | vpn) echo 9 ;;
	control) echo 10 ;;
	app) echo 11 ;;
	*) echo -1 ;;
	esac
}

fail=0
for f in $(find src -name '*.[ch]' | sort); do
	mod=$(echo "$f" | cut -d/ -f2)
	r=$(rank "$mod")
	if [ "$r" -lt 0 ]; then
		echo "$f: module '$mod' has no rank in scripts/check-includes.sh"
		fail=1
		continue
	fi
	for inc in $(sed -n 's/^#[[:space:]]*include[[:space:]]*"\([a-z_]*\)\/.*".*/\1/p' "$f" | sort -u); do
		[ "$inc" = "$mod" ] && continue
		ir=$(rank "$inc")
		if [ "$ir" -lt 0 ] || [ "$ir" -ge "$r" ]; then
			echo "$f: $mod (rank $r) must not include $inc/ (rank $ir)"
			fail=1
		fi
	done
	check_sys() { # header allowed-modules...
		h=$1
		shift
		if grep -Eq "^#[[:space:]]*include[[:space:]]*<$h" "$f"; then
			ok=0
			for m in "$@"; do [ "$m" = "$mod" ] && ok=1; done
			if [ $ok -eq 0 ]; then
				echo "$f: only $* may include <$h>"
				fail=1
			fi
		fi
	}
	check_sys 'uv\.h' evloop
	check_sys 'sqlite3\.h' store
	check_sys 'sodium' crypto lib
	check_sys 'openssl/' crypto
	check_sys 'microhttpd\.h' evloop
done
if [ $fail -ne 0 ]; then
	echo "check-includes: module order violated"
	exit 1
fi
echo "check-includes: module order respected"
