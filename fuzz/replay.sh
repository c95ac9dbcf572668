#!/bin/sh
# SPDX-License-Identifier: MIT
# Replay every file of a fuzz corpus through a fuzz target once (libFuzzer or the gcc driver).
# usage: replay.sh TARGET CORPUS_DIR
set -eu
bin=$1
dir=$2
[ -d "$dir" ] || { echo "no corpus at $dir"; exit 0; }
n=0
for f in "$dir"/*; do
	[ -f "$f" ] || continue
	"$bin" "$f" >/dev/null 2>&1 || { echo "FAIL: $f"; "$bin" "$f"; exit 1; }
	n=$((n + 1))
done
echo "replayed $n corpus file(s) through $(basename "$bin")"
