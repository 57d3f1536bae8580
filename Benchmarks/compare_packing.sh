#!/usr/bin/env bash
# Inference over real protein sets with batches packed without padding against padded batches:
# `kiban bench infer --input FILE --layout packed|padded` (esm2-8m shape, random weights, batches as
# kiban infer makes them: sorted by length, 16,384 tokens), alternated --runs times per file, one
# warm-up pass each. Prints each run and appends them, with the commit and machine, to the --output file.
#   Benchmarks/compare_packing.sh [--runs 2] [--output Benchmarks/results/packing-esm2-8m-2threads.txt]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=2 output=Benchmarks/results/packing-esm2-8m-2threads.txt
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
data=$(Examples/data_root.sh)
{
    echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (uncommitted changes)')," \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), ${KIBAN_NUM_THREADS:-$(nproc)} threads," \
        "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
    for file in "$data/protein/bacterial_proteome.faa" "$data/protein/amp_vs_uniprot.csv"; do
        for ((run = 0; run < runs; run++)); do
            for layout in packed padded; do
                .build/release/kiban bench infer --config esm2-8m --input "$file" --layout "$layout" --steps 1 --warmup 1
            done
        done
    done
} | tee -a "$output"
