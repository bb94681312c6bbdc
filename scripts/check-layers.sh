#!/usr/bin/env bash
# Fails when a VigilCore folder uses a folder above it. Each layer is typechecked together with only
# the layers below it (and the `_VigilMachinery` module under them all), so an upward reference is
# the compiler's own "cannot find ... in scope" error, naming the file and line.
#
#   Model <- Config <- Decode | Enrich | State <- Signals | Policy <- Engine <- Encode | Stage <- Pipeline
#
# Siblings (`|`) may not use each other: each is checked without the others. Layers are checked
# from the bottom up and the first failing one stops the check, so the errors name the culprit.
set -euo pipefail
cd "$(dirname "$0")/.."

core=Sources/VigilCore
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Each layer and the layers it may use.
layers=(
    "Model:"
    "Config:Model"
    "Decode:Model Config"
    "Enrich:Model Config"
    "State:Model Config"
    "Signals:Model Config Decode Enrich State"
    "Policy:Model Config Decode Enrich State"
    "Engine:Model Config Decode Enrich State Signals Policy"
    "Encode:Model Config Decode Enrich State Signals Policy Engine"
    "Stage:Model Config Decode Enrich State Signals Policy Engine"
    "Pipeline:Model Config Decode Enrich State Signals Policy Engine Encode Stage"
)

# Every folder of VigilCore with Swift sources must have its place in the list (a DocC catalogue has
# none).
for folder in "$core"/*/; do
    name=$(basename "$folder")
    [ -n "$(find "$folder" -name '*.swift' -print -quit)" ] || continue
    if ! printf '%s\n' "${layers[@]}" | grep -q "^$name:"; then
        echo "check-layers: $core/$name has no place in the layer list of $0" >&2
        exit 1
    fi
done

swiftc -emit-module -parse-as-library -module-name _VigilMachinery \
    -emit-module-path "$work/_VigilMachinery.swiftmodule" $(find Sources/_VigilMachinery -name '*.swift' | sort)

for entry in "${layers[@]}"; do
    layer=${entry%%:*}
    files=()
    for folder in $layer ${entry#*:}; do
        [ -d "$core/$folder" ] || continue
        while IFS= read -r file; do files+=("$file"); done < <(find "$core/$folder" -name '*.swift' | sort)
    done
    [ -d "$core/$layer" ] || continue
    if ! swiftc -typecheck -parse-as-library -module-name VigilCore -I "$work" "${files[@]}"; then
        echo "check-layers: $layer uses a folder above it or a sibling (see the errors above)" >&2
        exit 1
    fi
done
