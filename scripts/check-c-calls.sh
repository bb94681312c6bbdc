#!/usr/bin/env bash
# Fails when librdkafka's C API is used outside VigilKafka's one internal layer,
# Sources/VigilKafka/RdKafka/ (DESIGN.md "C confined"): every `rd_kafka_*` call and
# `import CRdKafka` lives there, so VigilKafka's public types and every other module stay plain
# Swift. Comments may name librdkafka's functions.
#
# Exempt on purpose: Sources/vigil-bench, whose raw librdkafka client is the yardstick VigilKafka is
# measured against (BENCHMARKS.md). The tests are not checked: they make librdkafka fabricate what
# the mock cluster cannot (fatal errors).
set -euo pipefail
cd "$(dirname "$0")/.."

layer=Sources/VigilKafka/RdKafka/
exempt=(Sources/vigil-bench/)

# `path:line:text` of every Swift line that is not a comment and uses the C API.
findings=$(grep -rnE --include='*.swift' 'rd_kafka_|import[[:space:]]+CRdKafka' Sources \
    | grep -v "^$layer" \
    | grep -vE '^[^:]+:[0-9]+:[[:space:]]*//' || true)
for path in "${exempt[@]}"; do
    findings=$(printf '%s\n' "$findings" | grep -v "^$path" || true)
done
if [ -z "$findings" ]; then
    exit 0
fi
echo "librdkafka's C API used outside $layer:" >&2
printf '%s\n' "$findings" | sed 's/^/  /' >&2
echo >&2
echo "Move the call into a wrapper in $layer and call that instead." >&2
exit 1
