#!/usr/bin/env bash
# Fails when a Swift file under Sources, Tests or Package.swift does not follow .swift-format: the
# layout swift-format produces, plus the rules .swift-format enables (some, such as naming, only
# lint can check). swift-format ships with the Swift toolchain (`swift format --version`).
#
# To format the whole tree, run from the repository root:
#
#   swift format format --in-place --recursive --parallel Sources Tests Package.swift
#
# Then re-run this script: what remains (e.g. an end-of-line comment that pushes its line past 120
# characters) needs a hand edit.
set -euo pipefail
cd "$(dirname "$0")/.."

paths=(Sources Tests Package.swift)
if findings=$(swift format lint --strict --recursive --parallel "${paths[@]}" 2>&1); then
    exit 0
fi
# Each finding reads `path:line:column: error: [Rule] message`.
echo "swift-format: these files are not formatted:" >&2
{ printf '%s\n' "$findings" | grep -oE '^[^:]+\.swift' || true; } | sort -u | sed 's/^/  /' >&2
echo >&2
echo "Findings (first 40):" >&2
printf '%s\n' "$findings" | sort -u | awk 'NR <= 40 { print "  " $0 }' >&2
echo >&2
echo "Fix with: swift format format --in-place --recursive --parallel ${paths[*]}" >&2
exit 1
