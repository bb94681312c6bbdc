#!/usr/bin/env bash
# Fails when librdkafka's C API is used in VigilKafka outside its one internal layer,
# Sources/VigilKafka/RdKafka/ (issue 9, DESIGN.md "C confined"): every `rd_kafka_*` call and
# `import CRdKafka` lives there, so the public types above it stay plain Swift. Comments may name
# librdkafka's functions. Deliberately not checked: Sources/vigil-bench, whose raw librdkafka
# client is the yardstick VigilKafka is measured against (BENCHMARKS.md), and the tests, which
# make librdkafka fabricate what the mock cluster cannot (fatal errors).
set -euo pipefail
cd "$(dirname "$0")/.."

layer=Sources/VigilKafka/RdKafka/
# `path:line:text` of every Swift line that is not a comment and uses the C API.
findings=$(grep -rnE --include='*.swift' 'rd_kafka_|import[[:space:]]+CRdKafka' Sources/VigilKafka \
    | grep -v "^$layer" \
    | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
if [ -z "$findings" ]; then
    exit 0
fi
echo "librdkafka's C API used outside $layer:" >&2
printf '%s\n' "$findings" | sed 's/^/  /' >&2
echo >&2
echo "Move the call into a wrapper in $layer and call that instead." >&2
exit 1
