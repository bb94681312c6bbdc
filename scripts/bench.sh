#!/usr/bin/env bash
# Runs every benchmark of BENCHMARKS.md in one process: installs what it needs (system packages, the
# July 2018 GeoLite2-City from PyPI into a temporary folder), builds in release and runs vigil-bench.
# Arguments go to vigil-bench: `scripts/bench.sh --quick`, `scripts/bench.sh --json bench.json`.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! pkg-config --exists rdkafka libmaxminddb yaml-0.1; then
    sudo=$([ "$(id -u)" = 0 ] || echo sudo)
    $sudo apt-get update && $sudo apt-get install -y librdkafka-dev libmaxminddb-dev libyaml-dev pkg-config
fi

geo_dir=$(mktemp -d -t vigil-bench-geo.XXXXXX)
trap 'rm -rf "$geo_dir"' EXIT
# The last GeoLite2-City that may be redistributed (CC BY-SA, before MaxMind's 2019 licence change),
# shipped inside this package's source archive.
python3 -m pip download --quiet --no-deps --no-binary :all: maxminddb-geolite2==2018.703 -d "$geo_dir"
tar -xzf "$geo_dir"/maxminddb-geolite2-2018.703.tar.gz -C "$geo_dir"
city_db=$(find "$geo_dir" -name GeoLite2-City.mmdb | head -n 1)
[ -n "$city_db" ] || { echo "GeoLite2-City.mmdb not found in the package" >&2; exit 1; }

# vigil is the daemon the end-to-end figures run as a subprocess.
swift build -c release --product vigil
swift build -c release --product vigil-bench
.build/release/vigil-bench --city-db "$city_db" "$@"
