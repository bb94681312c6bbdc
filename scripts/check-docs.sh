#!/usr/bin/env bash
# Builds the DocC catalogues of the documented modules and fails on a broken link: a symbol link
# (``Name``) or article link (<doc:Name>) that does not resolve or is ambiguous, in a catalogue or in
# a doc comment, and any other problem DocC finds in a catalogue itself. Other DocC warnings about
# doc comments (e.g. an undocumented parameter) are printed but do not fail.
#
# Needs no package plugin: the compiler emits the symbol graphs while building the modules (in a
# scratch directory of their own, .build-docs, so the normal build is not invalidated) and the
# toolchain's `docc` converts them. To browse the result, pass an output directory:
#
#   scripts/check-docs.sh [OUTPUT_DIR]     # OUTPUT_DIR/VigilCore.doccarchive, ...
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(VigilCore VigilKafka)
scratch=.build-docs
graphs="$PWD/$scratch/symbol-graphs"
output=${1:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

docc=$(command -v docc || true)
if [ -z "$docc" ]; then docc="$(dirname "$(readlink -f "$(command -v swift)")")/docc"; fi
[ -x "$docc" ] || { echo "check-docs: no docc next to the swift toolchain" >&2; exit 2; }

mkdir -p "$graphs" ${output:+"$output"}
for module in "${modules[@]}"; do
    # An up-to-date module is not recompiled, and then keeps the symbol graph of its last build.
    swift build --scratch-path "$scratch" --target "$module" \
        -Xswiftc -emit-symbol-graph -Xswiftc -emit-symbol-graph-dir -Xswiftc "$graphs" >"$work/build.log" 2>&1 \
        || { cat "$work/build.log" >&2; exit 1; }
done

failed=0
for module in "${modules[@]}"; do
    # Only this module's graphs (its own and its extensions of other modules'), not its dependencies'.
    mkdir -p "$work/$module-graphs"
    cp "$graphs/$module".symbols.json "$work/$module-graphs/"
    cp "$graphs/$module"@*.symbols.json "$work/$module-graphs/" 2>/dev/null || true
    archive=${output:+$output/$module.doccarchive}
    "$docc" convert "Sources/$module/$module.docc" \
        --additional-symbol-graph-dir "$work/$module-graphs" \
        --fallback-display-name "$module" --fallback-bundle-identifier "vigil.$module" \
        --output-dir "${archive:-$work/$module.doccarchive}" \
        --diagnostics-file "$work/$module-diagnostics.json" >"$work/$module-docc.log" 2>&1 \
        || { cat "$work/$module-docc.log" >&2; failed=1; continue; }
    python3 - "$work/$module-diagnostics.json" "$module" <<'PY' || failed=1
import json, re, sys

path, module = sys.argv[1], sys.argv[2]
try:
    diagnostics = json.load(open(path))["diagnostics"]
except (OSError, ValueError, KeyError) as error:
    sys.exit(f"{module}: docc wrote no diagnostics ({error})")
link = re.compile(r"doesn't exist at|is ambiguous at|couldn't be resolved|isn't unique|unresolved", re.I)
fatal = 0
for d in diagnostics:
    source = d.get("source", "").replace("file://", "")
    line = d.get("range", {}).get("start", {}).get("line", "?")
    breaks = d["severity"] == "error" or link.search(d["summary"]) or ".docc/" in source
    fatal += bool(breaks)
    print(f"{module}: {'error' if breaks else 'note'}: {source}:{line}: {d['summary']}", file=sys.stderr)
sys.exit(1 if fatal else 0)
PY
done
if [ "$failed" != 0 ]; then
    echo "check-docs: broken documentation links (above); the catalogues are Sources/<Module>/<Module>.docc" >&2
    exit 1
fi
echo "check-docs: ${modules[*]} catalogues build with every link resolved"
