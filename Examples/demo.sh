#!/usr/bin/env bash
# The main job on a fresh machine: install system packages, fetch real data, build in release
# mode and train the peptide classifier. Extra arguments go to `kiban demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps
Examples/fetch_amp_data.sh
swift build -c release --product kiban
.build/release/kiban demo --data data/amp_vs_uniprot.csv "$@"
