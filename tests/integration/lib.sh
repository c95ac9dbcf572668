#!/bin/bash
# SPDX-License-Identifier: MIT
# Helpers for integration tests: a private temp dir, daemons started and stopped by PID,
# waiting on conditions read through the real CLI. Source it; $UMBRA names the binary.
set -euo pipefail

UMBRA=${UMBRA:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/debug/umbra}
T=$(mktemp -d /tmp/umbra-it.XXXXXX)
PIDS=()

cleanup() {
	local rc=$?
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]:-}"; do
		[ -n "$p" ] && wait "$p" 2>/dev/null || true
	done
	if [ $rc -ne 0 ]; then
		echo "---- logs ($T) ----"
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "== $f"
			tail -30 "$f"
		done
	fi
	[ -n "${KEEP_T:-}" ] || rm -rf "$T"
	exit $rc
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	echo "ok - $*"
}

# A free TCP port on 127.0.0.1 (bound then released).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# node NAME PORT [extra config lines...]: write $T/NAME.conf, create keys.
node() {
	local name=$1 port=$2
	shift 2
	mkdir -p "$T/$name"
	chmod 700 "$T/$name"
	{
		echo "[node]"
		echo "state_dir = $T/$name"
		echo "nickname = $name"
		echo "roles = middle"
		echo "[link]"
		echo "listen = 127.0.0.1:$port"
		echo "reconnect = 200ms"
		for l in "$@"; do echo "$l"; done
		echo "[client]"
		echo "socks_listen ="
		echo "[log]"
		echo "level = info"
	} >"$T/$name.conf"
	"$UMBRA" keygen -c "$T/$name.conf" >/dev/null 2>&1
}

# start NAME: run the daemon in the background; its PID goes to PID_<NAME>.
start() {
	local name=$1
	"$UMBRA" run -c "$T/$name.conf" >>"$T/$name.log" 2>&1 &
	local pid=$!
	PIDS+=("$pid")
	eval "PID_$name=$pid"
	wait_for 10 "$name control socket" test -S "$T/$name/control.sock"
}

# stop NAME: SIGTERM and require a clean exit (status 0: no leak, no crash) within 10 s.
stop() {
	local name=$1 pid
	pid=$(eval echo "\$PID_$name")
	kill -TERM "$pid"
	local i=0
	while kill -0 "$pid" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && fail "$name did not exit within 10 s of SIGTERM"
		sleep 0.1
	done
	wait "$pid" || fail "$name exited with status $? (see $T/$name.log)"
}

alive() {
	local pid
	pid=$(eval echo "\$PID_$1")
	kill -0 "$pid" 2>/dev/null
}

id_of() { "$UMBRA" whoami -c "$T/$1.conf"; }
peer_of() { "$UMBRA" whoami -c "$T/$1.conf" --peer; }
link_key_of() { "$UMBRA" whoami -c "$T/$1.conf" --link-key; }
status_json() { "$UMBRA" status -s "$T/$1/control.sock" --json; }

# jq-free JSON access: json NAME 'python expression over s (the status)'
jget() {
	local name=$1 expr=$2
	status_json "$name" | python3 -c "import json,sys; s=json.load(sys.stdin); print($expr)"
}

# wait_for SECONDS WHAT CMD...: poll CMD every 0.1 s.
wait_for() {
	local secs=$1 what=$2
	shift 2
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && fail "timed out after ${secs}s waiting for: $what"
		sleep 0.1
	done
}

# open_links NAME: number of open links.
open_links() { jget "$1" 's["links"]["open"]'; }
has_open_link() { [ "$(open_links "$1")" -ge "${2:-1}" ]; }
