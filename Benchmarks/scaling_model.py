#!/usr/bin/env python3
"""Predicted data-parallel step time and efficiency from 2 to 4,096 ranks (see Benchmarks/scaling.md).

step(p) = compute + allreduce(p, 4 · parameters bytes); Kiban all-reduces after the backward pass
(no overlap), so efficiency = compute / step. The all-reduce is bandwidth-optimal (reduce-scatter +
all-gather, recursive halving for the latency term):

    allreduce(p, n) = 2 · log2(p) · alpha + 2 · (p − 1) / p · n / beta

compute = 6 · parameters · tokens / rate, with the rate measured on esm2-8m (--compute-seconds for
--tokens tokens on one core here) and `--node-speedup` times that for a cluster node.

    python3 Benchmarks/scaling_model.py --compute-seconds 1.05 --tokens 2048
"""
import argparse
import math

# Trainable parameters (ESM-2 sizes from the fair-esm model cards; 8M is Configs/esm2-8m.yaml).
MODELS = {"esm2-8m": 7.5e6, "esm2-150m": 148e6, "esm2-650m": 651e6, "esm2-3b": 2.8e9, "esm2-15b": 15e9}
# alpha: seconds per message step; beta: bytes per second per link.
NETWORKS = {
    # Fitted to `mpirun -np 2 kiban collectives --timing` here: 1K floats in 3 µs, 64M floats in 96 ms.
    "this machine (shared memory)": (1.5e-6, 2.8e9),
    # Fugaku-class: Tofu-D, 6.8 GB/s per link; 1 µs per message step is an assumption.
    "Fugaku-class interconnect": (1.0e-6, 6.8e9),
}
RANKS = [2 ** k for k in range(1, 13)]


def allreduce_seconds(ranks, nbytes, alpha, beta):
    return 0.0 if ranks == 1 else 2 * math.log2(ranks) * alpha + 2 * (ranks - 1) / ranks * nbytes / beta


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compute-seconds", type=float, required=True,
                        help="one update of esm2-8m at --tokens tokens on one core here (measured)")
    parser.add_argument("--tokens", type=int, default=2048, help="tokens of that measured update")
    parser.add_argument("--node-speedup", type=float, default=16,
                        help="a cluster node's training rate over one core here (A64FX: 48 cores, about 16× by FP32 peak)")
    parser.add_argument("--global-tokens", type=int, default=2_000_000,
                        help="tokens per update for strong scaling (ESM-2 pre-training used about 2M)")
    parser.add_argument("--sequence-tokens", type=int, default=1024, help="tokens per sequence (the least a rank can take)")
    parser.add_argument("--node-memory-gb", type=float, default=32, help="memory per node (A64FX: 32 GB HBM2)")
    args = parser.parse_args()
    seconds_per_parameter_token = args.compute_seconds / (MODELS["esm2-8m"] * args.tokens)

    alpha, beta = NETWORKS["this machine (shared memory)"]
    step = args.compute_seconds + allreduce_seconds(2, 4 * MODELS["esm2-8m"], alpha, beta)
    print(f"Predicted esm2-8m at 2 ranks here: compute {args.compute_seconds:.3f} s + all-reduce "
          f"{allreduce_seconds(2, 4 * MODELS['esm2-8m'], alpha, beta) * 1e3:.1f} ms per update, {2 * args.tokens / step:.0f} tokens/s")

    for network, (alpha, beta) in NETWORKS.items():
        for speedup in (1, args.node_speedup):
            rank = "a rank is one core here" if speedup == 1 else f"a rank is a node {speedup:g}× one core here"
            print(f"\n#### Weak scaling on {network}, {rank}: efficiency by tokens per rank (any model size)\n")
            rows = []
            for tokens in (1024, 2048, 8192, 32768):
                parameters = MODELS["esm2-8m"]
                compute = seconds_per_parameter_token * parameters * tokens / speedup
                rows.append([f"{tokens:,}"] + [f"{compute / (compute + allreduce_seconds(p, 4 * parameters, alpha, beta)):.0%}" for p in RANKS])
            table(["tokens per rank"] + [f"p={p}" for p in RANKS], rows)

    alpha, beta = NETWORKS["Fugaku-class interconnect"]
    print(f"\n#### Strong scaling: {args.global_tokens:,} tokens per update, Fugaku-class interconnect, "
          f"a rank is a node {args.node_speedup:g}× one core here\n")
    print(f"Seconds per update (efficiency); '—' where a rank would get less than one {args.sequence_tokens}-token sequence.\n")
    rows = []
    for model, parameters in MODELS.items():
        cells = []
        for p in RANKS:
            if args.global_tokens / p < args.sequence_tokens:
                cells.append("—")
                continue
            compute = seconds_per_parameter_token * parameters * args.global_tokens / p / args.node_speedup
            step = compute + allreduce_seconds(p, 4 * parameters, alpha, beta)
            cells.append(f"{step:.3g} ({compute / step:.0%})")
        rows.append([model] + cells)
    table(["model"] + [f"p={p}" for p in RANKS], rows)

    print(f"\n#### Model state per rank (GB; weights, gradients and AdamW moments, no activations) against {args.node_memory_gb:g} GB\n")
    rows = []
    for model, parameters in MODELS.items():
        plain = 16 * parameters / 1e9
        zero1 = lambda p: (8 + 8 / p) * parameters / 1e9  # weights + gradients whole, moments sharded
        zero2 = lambda p: (4 + 12 / p) * parameters / 1e9  # weights whole, gradients and moments sharded
        fits = lambda gb: f"{gb:.1f}" + ("" if gb < args.node_memory_gb else " ✗")
        rows.append([model, fits(plain), fits(zero1(64)), fits(zero2(64))])
    table(["model", "data parallel", "ZeRO-1 at 64 ranks", "ZeRO-2 at 64 ranks"], rows)


if __name__ == "__main__":
    main()
