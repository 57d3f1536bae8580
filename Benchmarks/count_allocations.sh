#!/usr/bin/env bash
# Heap allocations per training step after warm-up: runs `kiban bench train` twice, with 2 and with
# 12 timed steps after the same warm-up, counting libc's malloc, posix_memalign and mmap calls with
# perf uprobes, and prints the difference divided by 10 (what one more step costs).
# malloc: Swift objects (tensor headers, tape nodes, closure contexts, shape arrays);
# posix_memalign: tensor buffers below the pool's 16 KiB floor, and pool misses below 256 KiB;
# mmap: tensor buffers of 256 KiB and more that the pool could not serve.
# Needs root (perf probe) and a release build: Benchmarks/count_allocations.sh [--config base]
set -euo pipefail
cd "$(dirname "$0")/.."
libc=$(ldconfig -p | awk '/libc.so.6 .*x86-64/ {print $NF; exit}')
for function in malloc posix_memalign mmap64; do
    perf probe -q -x "$libc" "$function" 2>/dev/null || true
done
count() {
    perf stat -x, -e probe_libc:malloc -e probe_libc:posix_memalign -e probe_libc:mmap64 \
        .build/release/kiban bench train --steps "$1" --warmup 2 --peak-gflops 1 "${@:2}" 2>&1 >/dev/null |
        awk -F, '/probe_libc/ {print $3, $1}'
}
paste <(count 2 "$@") <(count 12 "$@") | awk '{printf "%-28s %8.1f per step\n", $1, ($4 - $2) / 10}'
