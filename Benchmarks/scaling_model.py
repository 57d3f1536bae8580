#!/usr/bin/env python3
"""Predicted data-parallel step time from 2 to 4,096 ranks (Benchmarks/scaling.md explains the model).

step(p) = compute + allreduce(p, 4 · parameters bytes), with a bandwidth-optimal all-reduce
(reduce-scatter + all-gather; recursive halving for the latency term):

    allreduce(p, n) = 2 · log2(p) · alpha + 2 · (p − 1) / p · n / beta

`compute` is one rank's forward + backward + update of its micro-batch, measured (--compute-seconds)
for the measured model and scaled by 6 · parameters · tokens for the others. Without overlap
(Kiban all-reduces after the backward pass) efficiency = compute / step.

    python3 Benchmarks/scaling_model.py --compute-seconds 1.30 --tokens 2048
"""
import argparse
import math

# Trainable parameters (ESM-2 sizes from the fair-esm model cards; 8M is Configs/esm2-8m.yaml).
MODELS = {"esm2-8m": 7.5e6, "esm2-150m": 148e6, "esm2-650m": 651e6}
# alpha: seconds per message step; beta: bytes per second per link.
NETWORKS = {
    # Fitted to `mpirun -np 2 kiban collectives --timing` here: 1K floats in 3 µs, 64M floats in 106 ms.
    "this machine (shared memory)": (1.5e-6, 2.53e9),
    # Fugaku-class: Tofu-D, 6.8 GB/s per link; 1 µs per message step is an assumption.
    "Fugaku-class interconnect": (1.0e-6, 6.8e9),
}


def allreduce_seconds(ranks, nbytes, alpha, beta):
    if ranks == 1:
        return 0.0
    return 2 * math.log2(ranks) * alpha + 2 * (ranks - 1) / ranks * nbytes / beta


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compute-seconds", type=float, required=True,
                        help="one rank's step time for esm2-8m at --tokens tokens per rank (1 thread, measured)")
    parser.add_argument("--tokens", type=int, default=2048, help="tokens per rank per step (weak scaling)")
    parser.add_argument("--global-tokens", type=int, default=2_000_000,
                        help="tokens per update for strong scaling (ESM-2 pre-training used about 2M)")
    parser.add_argument("--node-speedup", type=float, default=16,
                        help="a cluster node's training speed over one core here (A64FX: 48 cores, about 16× by FP32 peak)")
    parser.add_argument("--sequence-tokens", type=int, default=1024, help="tokens per sequence (the smallest per-rank batch)")
    args = parser.parse_args()
    ranks = [2 ** k for k in range(1, 13)]
    seconds_per_parameter_token = args.compute_seconds / (MODELS["esm2-8m"] * args.tokens)
    alpha, beta = NETWORKS["this machine (shared memory)"]
    step = args.compute_seconds + allreduce_seconds(2, 4 * MODELS["esm2-8m"], alpha, beta)
    print(f"Predicted esm2-8m at 2 ranks here: {step:.3f} s per update, {2 * args.tokens / step:.0f} tokens/s")

    for network, (alpha, beta) in NETWORKS.items():
        for speedup in (1, args.node_speedup):
            rank = "a rank is one core here" if speedup == 1 else f"a rank is a node {speedup:g}× one core here"
            print(f"\n### Weak scaling, {args.tokens} tokens per rank, {network}, {rank}: efficiency\n")
            print("| model | compute s | " + " | ".join(f"p={p}" for p in ranks) + " |")
            print("|---|---|" + "---|" * len(ranks))
            for model, parameters in MODELS.items():
                compute = seconds_per_parameter_token * parameters * args.tokens / speedup
                cells = [f"{compute / (compute + allreduce_seconds(p, 4 * parameters, alpha, beta)):.0%}" for p in ranks]
                print(f"| {model} | {compute:.3f} | " + " | ".join(cells) + " |")

    alpha, beta = NETWORKS["Fugaku-class interconnect"]
    print(f"\n### Strong scaling, {args.global_tokens:,} tokens per update, Fugaku-class interconnect, "
          f"a rank is a node {args.node_speedup:g}× one core here\n")
    print("Step seconds (efficiency); '—' where a rank would get less than one sequence of "
          f"{args.sequence_tokens} tokens.\n")
    print("| model | " + " | ".join(f"p={p}" for p in ranks) + " |")
    print("|---|" + "---|" * len(ranks))
    for model, parameters in MODELS.items():
        cells = []
        for p in ranks:
            if args.global_tokens / p < args.sequence_tokens:
                cells.append("—")
                continue
            compute = seconds_per_parameter_token * parameters * args.global_tokens / p / args.node_speedup
            step = compute + allreduce_seconds(p, 4 * parameters, alpha, beta)
            cells.append(f"{step:.2f} ({compute / step:.0%})")
        print(f"| {model} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
