#!/usr/bin/env bash
# Replays the same inputs with two `vigil` binaries and compares every output file byte for byte
# (`diff -r`): the proof that a refactor or an optimisation changed no verdict.
#
#   scripts/compare-replay.sh OLD_VIGIL NEW_VIGIL [CORPUS.jsonl ...]
#
# Inputs: Examples/events.jsonl, every scenario under Tests/VigilDaemonTests (found by name), and any
# JSONL corpus given (e.g. 20k events captured from `vigil demo --events 20000` with kcat, sorted by time).
# All run with Examples/vigil.yaml. Set IGNORE_POLICY_VERSION=1 when the change is meant to alter
# `policy_version` (which every decision carries) and nothing else: the value is then blanked on both
# sides before the comparison. Exits non-zero on the first difference and prints it.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
old=$(realpath "$1"); new=$(realpath "$2"); shift 2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

inputs=(Examples/events.jsonl)
while IFS= read -r scenario; do inputs+=("$scenario"); done < <(find Tests -path '*Scenarios/*.jsonl' | sort)
inputs+=("$@")

status=0
for input in "${inputs[@]}"; do
    name=$(basename "$input" .jsonl)
    for side in old new; do
        binary=$old; [ "$side" = new ] && binary=$new
        mkdir -p "$out/$side"
        VIGIL_DEVICE_HASH_KEY='' "$binary" replay --config Examples/vigil.yaml "$input" --out "$out/$side/$name" \
            >/dev/null 2>&1
        if [ "${IGNORE_POLICY_VERSION:-0}" = 1 ]; then
            sed -i -E 's/"policy_version":"[^"]*"/"policy_version":""/g' "$out/$side/$name"/*.jsonl
        fi
    done
    if diff -r "$out/old/$name" "$out/new/$name" >"$out/diff.txt"; then
        echo "identical: $input ($(cat "$out/new/$name"/*.jsonl | wc -l) output lines)"
    else
        echo "DIFFERENT: $input"; head -20 "$out/diff.txt" | cut -c1-300; status=1
    fi
done
exit $status
