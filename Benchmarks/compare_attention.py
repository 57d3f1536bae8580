"""Self-attention at long sequence lengths: Kiban's fused kernel, its unfused path and PyTorch's SDPA.

For each length T, three processes run the same shape (B, H, T, D), non-causal unless --causal, with
`KIBAN_NUM_THREADS` / `torch.set_num_threads` threads:
- Kiban fused: `kiban bench attention` on the AVX-512 kernel path (Kernels/attention.c);
- Kiban unfused: the same command with `KIBAN_KERNELS=avx2` (per-head GEMMs over a (B, H, T, T) score
  tensor; on this path OpenBLAS runs the products);
- PyTorch: `torch.nn.functional.scaled_dot_product_attention` on float32 tensors, forward under
  `torch.inference_mode()` and forward + backward of (out · w).sum() as Kiban's benchmark does.
Each reports the median forward and forward + backward milliseconds over --steps runs after --warmup,
and the resident memory before the first step and at the peak (VmRSS, VmHWM); the growth (peak − before)
is what the attention call holds. A fresh process per measurement keeps the peaks apart.

    python3 Benchmarks/compare_attention.py --lengths 512 1024 2048 --output Benchmarks/results/attention.json

Build Kiban first: `swift build -c release --product kiban`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIBAN = ROOT / ".build" / "release" / "kiban"
sys.path.insert(0, str(Path(__file__).resolve().parent))


def status_megabytes(field):
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":")) / 1024


def torch_worker(arguments):
    """Runs in its own process: PyTorch SDPA times and memory as JSON."""
    import torch
    import torch.nn.functional as F

    batch, heads, length, width, causal, steps, warmup, threads = json.loads(arguments)
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(batch, heads, length, width, generator=generator, requires_grad=True) for _ in range(3))
    weights = torch.randn(batch, heads, length, width, generator=generator)
    before = status_megabytes("VmRSS")

    def forward():
        with torch.inference_mode():
            F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def both():
        (F.scaled_dot_product_attention(q, k, v, is_causal=causal) * weights).sum().backward()
        for x in (q, k, v):
            x.grad = None

    def median_ms(body):
        for _ in range(warmup):
            body()
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            body()
            times.append(time.perf_counter() - start)
        return statistics.median(times) * 1e3

    print(json.dumps({"forwardMilliseconds": median_ms(forward), "forwardBackwardMilliseconds": median_ms(both),
                      "residentBeforeMegabytes": before, "peakResidentMegabytes": status_megabytes("VmHWM")}))


def run_json(command, environment):
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    return json.loads(output.stdout)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", nargs="+", type=int, default=[512, 1024, 2048])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--causal", action="store_true")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--output", type=Path, help="also write the rows and their provenance to this JSON file")
    args = parser.parse_args()
    import compare_torch

    threads = int(os.environ.get("KIBAN_NUM_THREADS", os.cpu_count()))
    environment = dict(os.environ, KIBAN_NUM_THREADS=str(threads))
    rows = []
    for length in args.lengths:
        shape = ["--batch-size", str(args.batch), "--heads", str(args.heads), "--sequence-length", str(length),
                 "--width", str(args.width), "--steps", str(args.steps), "--warmup", str(args.warmup), "--json"]
        shape += ["--causal"] if args.causal else []
        command = [str(KIBAN), "bench", "attention", *shape]
        fused = run_json(command, {key: value for key, value in environment.items() if key != "KIBAN_KERNELS"})
        unfused = run_json(command, dict(environment, KIBAN_KERNELS="avx2"))
        worker = json.dumps([args.batch, args.heads, length, args.width, args.causal, args.steps, args.warmup, threads])
        pytorch = run_json([sys.executable, __file__, "--torch-worker", worker], environment)
        for name, result in (("kiban fused", fused), ("kiban unfused", unfused), ("pytorch sdpa", pytorch)):
            rows.append({"implementation": name, "length": length, "forward_ms": result["forwardMilliseconds"],
                         "forward_backward_ms": result["forwardBackwardMilliseconds"],
                         "memory_growth_mb": result["peakResidentMegabytes"] - result["residentBeforeMegabytes"]})
    print(f"B {args.batch} H {args.heads} D {args.width}{' causal' if args.causal else ''}, {threads} threads")
    print(f"{'implementation':15} {'T':>5} {'forward ms':>11} {'fwd+bwd ms':>11} {'memory growth MB':>17}")
    for row in rows:
        print(f"{row['implementation']:15} {row['length']:5d} {row['forward_ms']:11.2f} {row['forward_backward_ms']:11.2f} "
              f"{row['memory_growth_mb']:17.1f}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        provenance = compare_torch.provenance(threads, ["(compare_attention.py)", *sys.argv[1:]])
        provenance["command"] = "python3 Benchmarks/compare_attention.py " + " ".join(sys.argv[1:])
        args.output.write_text(json.dumps({"provenance": provenance, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
