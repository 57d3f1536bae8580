#!/usr/bin/env bash
# The kernels' portable C paths on aarch64: builds Kernels/tests/portable_kernels.c natively and with
# gcc-aarch64-linux-gnu (static), runs the second under qemu-aarch64, and compares the two outputs value by value.
# They may differ only by libm's last bits between the architectures: |a − b| ≤ 1e-5·max(|a|, |b|) + 1e-7.
# Needs gcc-aarch64-linux-gnu and qemu-user (.ci/run installs them).
set -euo pipefail
cd "$(dirname "$0")/../.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
flags=(-O2 -std=gnu11 -Wall -ffp-contract=off -IKernels/include -IKernels)
sources=(Kernels/*.c Kernels/tests/portable_kernels.c)
native=$(command -v cc || command -v gcc || command -v clang) || { echo "cross_check: no C compiler (cc, gcc or clang)" >&2; exit 1; }
"$native" "${flags[@]}" "${sources[@]}" -lm -lpthread -o "$work/native"
aarch64-linux-gnu-gcc "${flags[@]}" -static "${sources[@]}" -lm -lpthread -o "$work/aarch64"
"$work/native" > "$work/native.txt"
qemu-aarch64 "$work/aarch64" > "$work/aarch64.txt"
paste -d' ' "$work/native.txt" "$work/aarch64.txt" | awk '
    function abs(x) { return x < 0 ? -x : x }
    function max(a, b) { return a > b ? a : b }
    $1 != $4 || $2 != $5 { print "line " NR ": " $1 " " $2 " against " $4 " " $5; bad++; next }
    $1 == "path" { if ($3 != "scalar" || $6 != "scalar") { print "not the scalar path: " $3 ", " $6; bad++ }; next }
    $3 != $6 && !(abs($3 - $6) <= 1e-5 * max(abs($3), abs($6)) + 1e-7) {
        print $1 " " $2 ": x86-64 " $3 ", aarch64 " $6; bad++
    }
    $3 != $6 { differ++ }
    END {
        if (NR == 0) { print "no output"; exit 1 }
        printf "aarch64 against x86-64: %d values, %d not bit-identical, %d beyond the tolerance\n", NR - 1, differ, bad
        exit (bad > 0)
    }'
