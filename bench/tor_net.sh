#!/bin/bash
# SPDX-License-Identifier: MIT
# A private Tor network on 127.0.0.1 (Debian's `tor`, default settings but for what a private
# network needs), measured with the same client tools as umbra: the baseline for issue #4.
#
#   bench/tor_net.sh run DIR       up + measure + down, with a trap: the usual way
#   bench/tor_net.sh up DIR        start it, return once a fetch through it succeeds
#   bench/tor_net.sh measure DIR   measure a network that is up; one JSON object on stdout
#   bench/tor_net.sh down DIR      stop every process `up` started (by PID) and keep DIR
#
# Network: 3 authorities (tor-gencert keys, fixed passphrase), 5 relays (2 exits with
# `ExitPolicy accept 127.0.0.0/8:*, reject *:*`), 1 client (SocksPort, ControlPort with cookie
# authentication, UseMicrodescriptors 0), all on 127.0.0.1 with free ports; a 20 s voting
# interval and the Testing* options of BENCHMARKS.md. Every node's DataDirectory, torrc and
# notice log are DIR/<node>/. Also started: bench/origin.py (unless ORIGIN_URL is set).
#
# measure prints: the Tor version, start of the first process to the first successful fetch,
# 3-hop circuit builds (EXTENDCIRCUIT 0 -> BUILT) p50/p90, TTFB of 1 KiB on a warm circuit,
# 50 parallel 1 KiB requests (one warm circuit; and new SOCKS credentials each, so new
# circuits), bulk MB/s (BULK_BYTES, default 256 MiB, SHA-256 checked), the
# same bulk direct (no proxy) for the ratio, and VmRSS and CPU time per process after the bulk
# (rss_measured_at_s: when, counted from the start; tor's RSS grows with the network's age).
# A step that fails is listed in "failed_steps" and its figures are null; exit status 0 still.
#
# Environment: BULK_BYTES (268435456), BUILDS (25), WAIT_TIMEOUT (180 s for the network),
# ORIGIN_URL (use a running origin instead of starting one), VERIFY (sha256|length),
# TOR (tor binary, default tor).
# Only loopback: every port is bound to 127.0.0.1; exits resolve nothing but through a
# resolv.conf naming 127.0.0.1, with DNS hijack detection off (it would query outside names).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOR=${TOR:-tor}
BULK_BYTES=${BULK_BYTES:-268435456}
BUILDS=${BUILDS:-25}
WAIT_TIMEOUT=${WAIT_TIMEOUT:-180}
VERIFY=${VERIFY:-sha256}
PASSPHRASE="umbra-bench-tor-authority"
N_AUTH=3
N_RELAY=5
N_EXIT=2

log() { echo "tor_net: $*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage() {
	echo "usage: $0 run|up|measure|down DIR" >&2
	exit 2
}

free_ports() { # N free TCP ports on 127.0.0.1, all distinct
	python3 -c '
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

# A PID is ours when it is alive and started when we recorded it (/proc/PID/stat field 22,
# clock ticks since boot): a PID the kernel has reused since fails the check.
start_time() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" | awk '{ print $20 }'; }
is_ours() { # pid start-time
	local now
	now=$(start_time "$1" 2>/dev/null) && [ -n "$now" ] && [ "$now" = "$2" ]
}
record() { # name pid
	echo "$1 $2 $(start_time "$2")" >>"$D/pids"
}

# Long steps run as a child that the script waits for, so that a signal runs the trap at
# once (bash runs traps only between foreground commands); the trap stops that child too.
CHILD=""
step() {
	local rc=0
	"$@" &
	CHILD=$!
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}

stop_all() {
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
		CHILD=""
	fi
	[ -f "$D/pids" ] || return 0
	local name pid st left=()
	while read -r name pid st; do
		if is_ours "$pid" "$st"; then
			kill -TERM "$pid" 2>/dev/null || true
			left+=("$pid $st")
		fi
	done <"$D/pids"
	local e
	for _ in $(seq 50); do
		local alive=()
		for e in "${left[@]}"; do
			# shellcheck disable=SC2086 # "pid start-time"
			is_ours $e && alive+=("$e")
		done
		left=("${alive[@]}")
		[ "${#left[@]}" -eq 0 ] && break
		sleep 0.1
	done
	for e in "${left[@]}"; do
		# shellcheck disable=SC2086
		if is_ours $e; then
			log "pid ${e% *} still running 5 s after SIGTERM: SIGKILL"
			kill -KILL "${e% *}" 2>/dev/null || true
		fi
	done
	# reap the ones that are our own children (run mode); `down` finds them gone already
	wait 2>/dev/null || true
	mv "$D/pids" "$D/pids.stopped"
	log "stopped every process started under $D"
}

node_common() { # node-dir nickname
	cat <<EOF
TestingTorNetwork 1
DataDirectory $1
Nickname $2
RunAsDaemon 0
Log notice file $1/notice.log
PidFile $1/pid
PathsNeededToBuildCircuits 0.67
TestingDirAuthVoteExit $EXIT_SET
TestingDirAuthVoteGuard *
TestingDirAuthVoteHSDir *
TestingMinExitFlagThreshold 0
$(cat "$D/dirauthorities")
EOF
	if [ -n "${OWNER:-}" ]; then echo "__OwningControllerProcess $OWNER"; fi
}

server_common() { # node-dir orport
	cat <<EOF
Address 127.0.0.1
ORPort 127.0.0.1:$2
SocksPort 0
AssumeReachable 1
ServerDNSResolvConfFile $D/resolv.conf
ServerDNSDetectHijacking 0
EOF
}

up() {
	command -v "$TOR" >/dev/null || die "no tor binary (run scripts/deps.sh)"
	command -v tor-gencert >/dev/null || die "no tor-gencert (Debian package tor)"
	[ ! -f "$D/pids" ] || die "$D/pids exists: a network may be running there (down it first)"
	mkdir -p "$D"
	chmod 700 "$D"
	echo "nameserver 127.0.0.1" >"$D/resolv.conf"
	local ports i n
	read -r -a ports <<<"$(free_ports $((2 * N_AUTH + N_RELAY + 2)))"
	: >"$D/dirauthorities"
	: >"$D/nodes"
	# authorities: v3 keys (tor-gencert), relay identity (tor --list-fingerprint)
	for i in $(seq 0 $((N_AUTH - 1))); do
		n=auth$i
		local nd=$D/$n or=${ports[2 * i]} dir=${ports[2 * i + 1]}
		rm -rf "$nd"
		mkdir -p "$nd/keys"
		chmod 700 "$nd"
		echo "$PASSPHRASE" | tor-gencert --create-identity-key --passphrase-fd 0 -m 12 \
			-a "127.0.0.1:$dir" -i "$nd/keys/authority_identity_key" \
			-s "$nd/keys/authority_signing_key" -c "$nd/keys/authority_certificate" \
			>"$nd/gencert.log" 2>&1 || die "tor-gencert failed: $(cat "$nd/gencert.log")"
		"$TOR" --list-fingerprint --DataDirectory "$nd" --ORPort 1 --ignore-missing-torrc \
			-f "$nd/none" --defaults-torrc "$nd/none" --quiet >/dev/null
		local v3 fp
		v3=$(awk '$1 == "fingerprint" { print $2 }' "$nd/keys/authority_certificate")
		fp=$(awk '{ print $2 }' "$nd/fingerprint")
		echo "DirAuthority $n orport=$or no-v2 v3ident=$v3 127.0.0.1:$dir $fp" >>"$D/dirauthorities"
		echo "$n auth $or $dir $fp" >>"$D/nodes"
	done
	EXIT_SET=""
	for i in $(seq 0 $((N_RELAY - 1))); do
		n=relay$i
		local nd=$D/$n or=${ports[2 * N_AUTH + i]} kind=middle
		[ "$i" -lt "$N_EXIT" ] && kind="exit"
		rm -rf "$nd"
		mkdir -p "$nd"
		chmod 700 "$nd"
		"$TOR" --list-fingerprint --DataDirectory "$nd" --ORPort 1 --ignore-missing-torrc \
			-f "$nd/none" --defaults-torrc "$nd/none" --quiet >/dev/null
		fp=$(awk '{ print $2 }' "$nd/fingerprint")
		[ "$kind" = exit ] && EXIT_SET="${EXIT_SET:+$EXIT_SET,}\$$fp"
		echo "$n $kind $or - $fp" >>"$D/nodes"
	done
	local socks=${ports[2 * N_AUTH + N_RELAY]} ctl=${ports[2 * N_AUTH + N_RELAY + 1]}
	echo "client client $socks $ctl -" >>"$D/nodes"
	rm -rf "$D/client"
	mkdir -p "$D/client"
	chmod 700 "$D/client"

	# torrc files
	local kind or dir fp
	while read -r n kind or dir fp; do
		local nd=$D/$n
		{
			node_common "$nd" "$n"
			case $kind in
			auth)
				server_common "$nd" "$or"
				cat <<EOF
DirPort 127.0.0.1:$dir
AuthoritativeDirectory 1
V3AuthoritativeDirectory 1
ContactInfo $n@bench.invalid
ExitPolicy reject *:*
V3AuthVotingInterval 20
V3AuthVoteDelay 4
V3AuthDistDelay 4
TestingV3AuthInitialVotingInterval 20
TestingV3AuthInitialVoteDelay 4
TestingV3AuthInitialDistDelay 4
EOF
				;;
			exit)
				server_common "$nd" "$or"
				printf 'ExitRelay 1\nExitPolicy accept 127.0.0.0/8:*, reject *:*\nExitPolicyRejectPrivate 0\n'
				;;
			middle)
				server_common "$nd" "$or"
				printf 'ExitRelay 0\nExitPolicy reject *:*\n'
				;;
			client)
				printf 'SocksPort 127.0.0.1:%s\nControlPort 127.0.0.1:%s\nCookieAuthentication 1\n' "$or" "$dir"
				printf 'UseMicrodescriptors 0\n'
				;;
			esac
		} >"$nd/torrc"
		"$TOR" --verify-config -f "$nd/torrc" >"$nd/verify.log" 2>&1 ||
			die "$n: torrc rejected: $(grep -m3 -E '\[(warn|err)\]' "$nd/verify.log")"
	done <"$D/nodes"

	# origin
	if [ -n "${ORIGIN_URL:-}" ]; then
		echo "$ORIGIN_URL" >"$D/origin_url"
	fi
	: >"$D/pids"
	if [ -z "${ORIGIN_URL:-}" ]; then
		local keep=()
		[ -n "${OWNER:-}" ] && keep=(--exit-with-parent)
		python3 "$HERE/origin.py" --precompute "1024,$BULK_BYTES" "${keep[@]}" >"$D/origin.out" 2>"$D/origin.log" &
		record origin $!
	fi

	# start every tor; the clock of "start to first fetch" starts with the first one
	python3 -c 'import time; print("%.3f" % time.time())' >"$D/start_ts"
	while read -r n kind or dir fp; do
		"$TOR" -f "$D/$n/torrc" --quiet >"$D/$n/stdout.log" 2>&1 &
		record "$n" $!
	done <"$D/nodes"
	log "started $N_AUTH authorities, $N_RELAY relays ($N_EXIT exits), a client under $D"

	if [ -z "${ORIGIN_URL:-}" ]; then
		for _ in $(seq 100); do
			grep -q listening "$D/origin.out" 2>/dev/null && break
			sleep 0.1
		done
		sed -n 's/^origin listening on //p' "$D/origin.out" >"$D/origin_url"
		[ -s "$D/origin_url" ] || die "origin did not start: $(cat "$D/origin.log")"
	fi

	log "waiting (at most ${WAIT_TIMEOUT}s) for a fetch through the client to succeed"
	step timeout $((WAIT_TIMEOUT + 30)) python3 "$HERE/proxy_measure.py" --owner $$ --origin "$(cat "$D/origin_url")" --socks "127.0.0.1:$(client_port socks)" \
		--wait-first-fetch "$WAIT_TIMEOUT" --start "$(cat "$D/start_ts")" --user first-fetch \
		>"$D/first_fetch.json" || die "no successful fetch within ${WAIT_TIMEOUT}s (logs: $D/*/notice.log)"
	local boot
	boot=$(python3 - "$D/client/notice.log" "$(cat "$D/start_ts")" <<'EOF'
import sys, time, datetime
start = float(sys.argv[2])
for line in open(sys.argv[1]):
    if "Bootstrapped 100%" in line:
        # "Dec 07 05:10:00.123 [notice] ..." in local time
        mon, day, hms = line.split()[:3]
        t = datetime.datetime.strptime("%d %s %s %s" % (time.localtime(start).tm_year, mon, day, hms),
                                       "%Y %b %d %H:%M:%S.%f")
        print("%.1f" % (time.mktime(t.timetuple()) + t.microsecond / 1e6 - start))
        break
EOF
	) || boot=""
	echo "${boot:-null}" >"$D/bootstrapped_s"
	log "first fetch after $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_fetch_s"])' "$D/first_fetch.json") s (client Bootstrapped 100% after ~${boot:-?} s)"
}

client_port() { # socks|control
	awk -v w="$1" '$1 == "client" { print (w == "socks" ? $3 : $4) }' "$D/nodes"
}

proc_json() { # name pid ... -> {"name": {"rss_mb":, "cpu_s":}, ...} from /proc
	python3 - "$@" <<'EOF'
import json, os, sys
tick = os.sysconf("SC_CLK_TCK")
out = {}
a = sys.argv[1:]
for name, pid in zip(a[::2], a[1::2]):
    try:
        rss = next(int(l.split()[1]) for l in open("/proc/%s/status" % pid) if l.startswith("VmRSS:"))
        st = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
        roll = {l.split(":")[0]: int(l.split()[1]) for l in open("/proc/%s/smaps_rollup" % pid)
                if l.split(":")[0] in ("Pss", "Private_Clean", "Private_Dirty")}
        out[name] = {"pid": int(pid), "rss_mb": round(rss / 1024, 1),
                     "pss_mb": round(roll["Pss"] / 1024, 1),
                     "private_mb": round((roll["Private_Clean"] + roll["Private_Dirty"]) / 1024, 1),
                     "cpu_s": round((int(st[11]) + int(st[12])) / tick, 2)}
    except (OSError, StopIteration):
        out[name] = None
print(json.dumps(out))
EOF
}

ERRORS=()
failed() { # a step failed: say so, note it in the JSON, go on
	log "$1 failed"
	ERRORS+=("$1")
}

measure() {
	[ -f "$D/pids" ] || die "no network under $D (run: $0 up $D)"
	local origin socks ctl tors=()
	origin=$(cat "$D/origin_url")
	socks=127.0.0.1:$(client_port socks)
	ctl=$(client_port control)
	local name pid
	while read -r name pid _; do
		[ "$name" = origin ] || tors+=("$name" "$pid")
	done <"$D/pids"

	log "circuit builds: $BUILDS x EXTENDCIRCUIT 0 on the control port"
	step timeout 300 python3 "$HERE/tor_ctl.py" --owner $$ --port "$ctl" --cookie "$D/client/control_auth_cookie" \
		--builds "$BUILDS" >"$D/circuits.json" || failed circuit_builds
	log "TTFB and 50 parallel requests through the client's SOCKS port"
	step timeout 300 python3 "$HERE/proxy_measure.py" --owner $$ --origin "$origin" --socks "$socks" --only ttfb,parallel \
		>"$D/small.json" || failed ttfb_or_parallel
	step timeout 300 python3 "$HERE/proxy_measure.py" --owner $$ --origin "$origin" --socks "$socks" --only parallel \
		--parallel-isolation each >"$D/parallel_each.json" || failed parallel_fresh_circuits
	log "bulk: $BULK_BYTES bytes through 3 hops"
	proc_json "${tors[@]}" >"$D/proc_before_bulk.json"
	step timeout 900 python3 "$HERE/proxy_measure.py" --owner $$ --origin "$origin" --socks "$socks" --only bulk \
		--bulk-bytes "$BULK_BYTES" --verify "$VERIFY" --timeout 300 >"$D/bulk.json" || failed bulk
	proc_json "${tors[@]}" >"$D/proc_after_bulk.json"
	python3 "$HERE/tor_ctl.py" --port "$ctl" --cookie "$D/client/control_auth_cookie" \
		--paths-of umbra-bench >"$D/bulk_path.json" 2>/dev/null || true
	log "bulk direct (no proxy), for the ratio"
	step timeout 300 python3 "$HERE/proxy_measure.py" --owner $$ --origin "$origin" --only bulk --bulk-bytes "$BULK_BYTES" \
		--verify "$VERIFY" >"$D/direct.json" || failed bulk_direct
	step timeout 300 python3 "$HERE/proxy_measure.py" --owner $$ --origin "$origin" --only bulk --bulk-bytes "$BULK_BYTES" \
		--verify length >"$D/direct_length.json" || failed bulk_direct_length_only

	python3 - "$D" "$("$TOR" --version | head -1)" "${ERRORS[@]}" <<'EOF'
import json, os, sys
d, version, errors = sys.argv[1], sys.argv[2], sys.argv[3:]
def load(name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
ff = load("first_fetch.json") or {}
small = load("small.json") or {}
bulk = (load("bulk.json") or {}).get("bulk")
direct = (load("direct.json") or {}).get("bulk")
before, after = load("proc_before_bulk.json") or {}, load("proc_after_bulk.json") or {}
procs = {}
for name, a in after.items():
    b = before.get(name)
    if a is None:
        procs[name] = None
        continue
    p = {k: a[k] for k in ("rss_mb", "pss_mb", "private_mb") if k in a}
    if b and bulk and "seconds" in bulk:
        p["cpu_pct_during_bulk"] = round(100 * (a["cpu_s"] - b["cpu_s"]) / bulk["seconds"], 1)
    procs[name] = p
def avg(prefix):
    xs = [p["rss_mb"] for n, p in procs.items() if p and n.startswith(prefix)]
    return round(sum(xs) / len(xs), 1) if xs else None
boot = open(os.path.join(d, "bootstrapped_s")).read().strip()
out = {
    "system": "tor",
    "version": version,
    "network": "3 authorities, 5 relays (2 exits), 1 client on 127.0.0.1; default settings "
               "but for the private-network options (TestingTorNetwork, 20 s voting)",
    "start_to_first_fetch_s": ff.get("first_fetch_s"),
    "client_bootstrapped_100_s": None if boot == "null" else float(boot),
    "circuit_build_3hop_ms": load("circuits.json"),
    "ttfb_1k_ms": (small.get("ttfb") or {}).get("connect_to_first_byte_ms"),
    "ttfb_1k_request_to_first_byte_ms": (small.get("ttfb") or {}).get("request_to_first_byte_ms"),
    "stream_open_ms": (small.get("ttfb") or {}).get("stream_open_ms"),
    "parallel_50x1k": small.get("parallel"),
    "parallel_50x1k_fresh_circuits": (load("parallel_each.json") or {}).get("parallel"),
    "bulk": bulk,
    "bulk_circuit": (load("bulk_path.json") or {}).get("paths"),
    "bulk_direct": direct,
    "bulk_direct_length_only": (load("direct_length.json") or {}).get("bulk"),
    "bulk_ratio_to_direct": round(bulk["mb_s"] / direct["mb_s"], 4)
        if bulk and direct and "mb_s" in bulk and "mb_s" in direct else None,
    "rss_mb_avg": {"authority": avg("auth"), "relay": avg("relay"), "client": avg("client")},
    "rss_measured_at_s": round(os.path.getmtime(os.path.join(d, "proc_after_bulk.json")) -
                               float(open(os.path.join(d, "start_ts")).read()), 1),
    "processes_after_bulk": procs,
    "failed_steps": errors,
}
print(json.dumps(out, indent=1))
EOF
}

on_up_exit() { # up: keep the network when it came up, stop it otherwise
	local rc=$?
	[ "$rc" -eq 0 ] || stop_all
}

[ $# -eq 2 ] || usage
cmd=$1
mkdir -p "$2"
D=$(cd "$2" && pwd)
case $cmd in
run)
	trap stop_all EXIT
	trap 'exit 130' INT TERM
	OWNER=$$ # every tor exits by itself should this script die without its trap
	up
	measure
	;;
up)
	trap 'on_up_exit' EXIT
	trap 'exit 130' INT TERM
	up
	;;
measure) measure ;;
down) stop_all ;;
*) usage ;;
esac
