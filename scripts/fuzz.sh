#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every libFuzzer target in BUILD_DIR for SECONDS each, two at a time. New inputs go to a
# scratch directory (the committed corpus is only read); a crash is copied to
# fuzz/corpus/<target>/ by hand after it is fixed. usage: fuzz.sh BUILD_DIR SECONDS
set -eu
bdir=$1
secs=$2
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
targets=$(cd "$bdir" && ls fuzz_* 2>/dev/null | grep -v '\.' || true)
[ -n "$targets" ] || { echo "no fuzz targets in $bdir"; exit 1; }
run_one() {
	t=$1
	mkdir -p "$work/$t" "$root/build/fuzz-artifacts"
	seeds="$root/fuzz/corpus/$t"
	[ -d "$seeds" ] || seeds=""
	if "$bdir/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=0 \
		-artifact_prefix="$root/build/fuzz-artifacts/$t-" "$work/$t" $seeds \
		>"$work/$t.log" 2>&1; then
		echo "fuzz $t: $(grep -Eo 'Done [0-9]+ runs' "$work/$t.log" | tail -1 || echo ok) in ${secs}s"
	else
		echo "fuzz $t: FAILED"
		tail -40 "$work/$t.log"
		return 1
	fi
}
status=0
pids=""
n=0
for t in $targets; do
	run_one "$t" &
	pids="$pids $!"
	n=$((n + 1))
	if [ $n -ge 2 ]; then
		for p in $pids; do wait "$p" || status=1; done
		pids=""
		n=0
	fi
done
for p in $pids; do wait "$p" || status=1; done
exit $status
