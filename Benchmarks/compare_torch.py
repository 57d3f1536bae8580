"""Run Kiban's `bench train` / `bench infer` next to the identical PyTorch workload.

The PyTorch side is `transformers.EsmForMaskedLM` with SDPA attention, the same sizes and batch
(`<cls>`, 20 random residues, `<eos>`, 15% of residues masked), `torch.set_num_threads` equal to
Kiban's thread count, default `torch.optim.AdamW` for training and `torch.inference_mode()` for
inference. Mode `lora` (not run by default) times a LoRA fine-tune step: PyTorch wraps the same
model in PEFT `LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=["query", "value"])`
and steps AdamW on the adapter parameters only; Kiban runs `bench train --lora-rank 8` (rank 8,
alpha 16, query/value, only adapters trainable). Runs alternate Kiban, PyTorch, Kiban, ... (5 of
each by default); each run reports the median step time of a few steps after warm-up; the table
shows the medians and Kiban/PyTorch throughput ratios (> 1 means Kiban is faster).

    python3 Benchmarks/compare_torch.py --configs esm2-8m base --shape 128x16 [--json]
    python3 Benchmarks/compare_torch.py --modes lora --torch-only   # PyTorch side alone
    python3 Benchmarks/compare_torch.py --modes lora train --output Benchmarks/results/NAME.json

`--output` writes the rows with every run's throughput and the provenance a reader needs to judge
them: CPU model, cores, threads, OPENBLAS_CORETYPE, torch/transformers/peft versions, the git commit
(and whether the tree had uncommitted changes) and the date. The README's speed figures point to
such files under `Benchmarks/results/`.

Build Kiban first: `swift build -c release --product kiban` (not needed with --torch-only).
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import EsmConfig, EsmForMaskedLM

ROOT = Path(__file__).resolve().parent.parent
KIBAN = ROOT / ".build" / "release" / "kiban"
SIZES = {"tiny": (128, 2, 4), "esm2-8m": (320, 6, 20), "base": (512, 8, 8)}
MODES = ["train", "infer", "lora"]
LORA_RANK = 8


def torch_model(name):
    hidden, layers, heads = SIZES[name]
    config = EsmConfig(vocab_size=33, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                       intermediate_size=4 * hidden, max_position_embeddings=1026, position_embedding_type="rotary",
                       token_dropout=True, mask_token_id=32, pad_token_id=1, emb_layer_norm_before=False,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config._attn_implementation = "sdpa"
    return EsmForMaskedLM(config)


def batch(sequence_length, batch_size, seed=42):
    generator = torch.Generator().manual_seed(seed)
    residues = torch.randint(4, 24, (batch_size, sequence_length), generator=generator)
    masked = torch.rand(batch_size, sequence_length, generator=generator) < 0.15
    masked[:, 0] = masked[:, -1] = False
    ids = torch.where(masked, torch.full_like(residues, 32), residues)
    ids[:, 0], ids[:, -1] = 0, 2
    labels = torch.where(masked, residues, torch.full_like(residues, -100))
    return ids, labels


def torch_run(name, mode, sequence_length, batch_size, steps, warmup):
    torch.manual_seed(0)
    model = torch_model(name)
    if mode == "lora":
        config = LoraConfig(r=LORA_RANK, lora_alpha=2 * LORA_RANK, lora_dropout=0.0, target_modules=["query", "value"])
        model = get_peft_model(model, config)
    ids, labels = batch(sequence_length, batch_size)
    if mode in ("train", "lora"):
        model.train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

        def step():
            optimizer.zero_grad(set_to_none=True)
            model(input_ids=ids, labels=labels).loss.backward()
            optimizer.step()
    else:
        model.eval()

        def step():
            with torch.inference_mode():
                model(input_ids=ids)
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sequence_length * batch_size / statistics.median(times)


def kiban_run(name, mode, sequence_length, batch_size, steps, warmup, environment):
    command = [str(KIBAN), "bench", "train" if mode == "lora" else mode, "--config", name,
               "--sequence-length", str(sequence_length), "--batch-size", str(batch_size),
               "--steps", str(steps), "--warmup", str(warmup), "--json"]
    if mode == "lora":
        command += ["--lora-rank", str(LORA_RANK)]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    report = json.loads(output.stdout)
    return report["tokensPerSecond"], report["peakResidentMegabytes"]


def provenance(threads, args):
    """What machine, software and commit produced a result file."""
    def git(*command):
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"command": "python3 Benchmarks/compare_torch.py " + " ".join(args),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
            "cpu": cpu, "cores": os.cpu_count(), "threads": threads,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__,
            "python": platform.python_version()}


def cell(value, width, spec):
    """A right-aligned table cell; `-` where the Kiban side was not run."""
    return f"{'-':>{width}}" if value is None else f"{value:{width}{spec}}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["esm2-8m", "base"], choices=sorted(SIZES))
    parser.add_argument("--shape", default="128x16", help="sequence length x batch size")
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=MODES)
    parser.add_argument("--runs", type=int, default=5, help="runs of each side, interleaved")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the rows and their provenance to this JSON file")
    parser.add_argument("--torch-only", action="store_true", help="time only the PyTorch side (no Kiban build needed)")
    args = parser.parse_args()

    threads = int(os.environ.get("KIBAN_NUM_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    environment = dict(os.environ, KIBAN_NUM_THREADS=str(threads))
    sequence_length, batch_size = (int(part) for part in args.shape.split("x"))
    rows = []
    for name in args.configs:
        for mode in args.modes:
            kiban, pytorch, rss = [], [], []
            for _ in range(args.runs):
                if not args.torch_only:
                    tokens, peak = kiban_run(name, mode, sequence_length, batch_size, args.steps, args.warmup,
                                             environment)
                    kiban.append(tokens)
                    rss.append(peak)
                pytorch.append(torch_run(name, mode, sequence_length, batch_size, args.steps, args.warmup))
            rows.append({"config": name, "mode": mode, "shape": args.shape, "threads": threads,
                         "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                         "kiban_tokens_per_s": statistics.median(kiban) if kiban else None,
                         "torch_tokens_per_s": statistics.median(pytorch),
                         "ratio": statistics.median(kiban) / statistics.median(pytorch) if kiban else None,
                         "kiban_peak_rss_mb": max(rss) if rss else None,
                         "kiban_runs_tokens_per_s": kiban, "torch_runs_tokens_per_s": pytorch})
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"provenance": provenance(threads, sys.argv[1:]), "rows": rows}, indent=2) + "\n")
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'config':8} {'mode':6} {'shape':7} {'Kiban tok/s':>12} {'PyTorch tok/s':>14} {'Kiban/PyTorch':>14} {'Kiban RSS MB':>13}")
    for row in rows:
        print(f"{row['config']:8} {row['mode']:6} {row['shape']:7} {cell(row['kiban_tokens_per_s'], 12, '.0f')} "
              f"{row['torch_tokens_per_s']:14.0f} {cell(row['ratio'], 14, '.2f')} "
              f"{cell(row['kiban_peak_rss_mb'], 13, '.0f')}")


if __name__ == "__main__":
    main()
