"""Run Kiban's `bench train` / `bench infer` next to the identical PyTorch workload.

Both sides take the workload from one definition, `kiban bench workloads --json` (model sizes, batch
shape, masking rate, LoRA settings, learning rate): the PyTorch side is `transformers.EsmForMaskedLM`
with SDPA attention, the same sizes and batch (`<cls>`, random residues, `<eos>`, the same share of
residues masked), `torch.set_num_threads` equal to Kiban's thread count, `torch.optim.AdamW` with the
same learning rate for training and `torch.inference_mode()` for inference. Mode `lora` (not run by
default) times a LoRA fine-tune step: PyTorch wraps the same model in PEFT `LoraConfig` with the
definition's rank, alpha and target modules (dropout 0) and steps AdamW on the adapter parameters
only; Kiban runs `bench train --lora-rank R`. Runs alternate Kiban, PyTorch, Kiban, ... (5 of each
by default), each in a fresh process, so each side's peak resident memory is its own; each run reports
the median step time of a few steps after warm-up; the table shows the medians, Kiban/PyTorch
throughput ratios (> 1 means Kiban is faster), Kiban's share of the machine's FP32 peak (model FLOPs
× tokens/s), CPU seconds per step and both sides' peak RSS. Start-up is the wall time of `kiban
--help` against `python3 -c "import torch, transformers"` (medians of 5).

    python3 Benchmarks/compare_torch.py --configs esm2-8m base --shape 128x16 [--json]
    python3 Benchmarks/compare_torch.py --modes lora --torch-only   # PyTorch side alone
    python3 Benchmarks/compare_torch.py --modes lora train --output Benchmarks/results/NAME.json

`--output` writes the rows with every run's throughput and the provenance a reader needs to judge
them: CPU model, cores, threads, OPENBLAS_CORETYPE, torch/transformers/peft versions, the git commit
(and whether the tree had uncommitted changes) and the date. The README's speed figures point to
such files under `Benchmarks/results/`.

Build Kiban first: `swift build -c release --product kiban` (the workload definition comes from it,
also with --torch-only).
"""

import argparse
import datetime
import json
import os
import platform
import resource
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
MODES = ["train", "infer", "lora"]


def workloads():
    """The shared workload definition, from the Kiban binary."""
    output = subprocess.run([str(KIBAN), "bench", "workloads"], check=True, capture_output=True, text=True)
    return json.loads(output.stdout)


def torch_model(model):
    config = EsmConfig(vocab_size=model["vocabularySize"], hidden_size=model["hiddenSize"],
                       num_hidden_layers=model["layerCount"], num_attention_heads=model["headCount"],
                       intermediate_size=model["intermediateSize"], max_position_embeddings=model["maximumPositions"],
                       position_embedding_type="rotary", token_dropout=model["tokenDropout"],
                       mask_token_id=model["maskTokenID"], pad_token_id=model["padTokenID"], emb_layer_norm_before=False,
                       hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    config._attn_implementation = "sdpa"
    return EsmForMaskedLM(config)


def batch(sequence_length, batch_size, mask_probability, seed=42):
    generator = torch.Generator().manual_seed(seed)
    residues = torch.randint(4, 24, (batch_size, sequence_length), generator=generator)
    masked = torch.rand(batch_size, sequence_length, generator=generator) < mask_probability
    masked[:, 0] = masked[:, -1] = False
    ids = torch.where(masked, torch.full_like(residues, 32), residues)
    ids[:, 0], ids[:, -1] = 0, 2
    labels = torch.where(masked, residues, torch.full_like(residues, -100))
    return ids, labels


def torch_run(definition, name, mode, sequence_length, batch_size, steps, warmup):
    """Tokens/s of the PyTorch side (runs in a worker process: see torch_worker)."""
    torch.manual_seed(0)
    model = torch_model(next(model for model in definition["models"] if model["name"] == name))
    if mode == "lora":
        lora = definition["lora"]
        config = LoraConfig(r=lora["rank"], lora_alpha=lora["alpha"], lora_dropout=0.0,
                            target_modules=lora["targetModules"])
        model = get_peft_model(model, config)
    ids, labels = batch(sequence_length, batch_size, definition["maskProbability"])
    if mode in ("train", "lora"):
        model.train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=definition["learningRate"])

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


def torch_worker(arguments):
    """Entry point of a PyTorch worker process: prints tokens/s, CPU seconds per step and peak RSS as JSON."""
    definition, name, mode, sequence_length, batch_size, steps, warmup, threads = json.loads(arguments)
    torch.set_num_threads(threads)
    before = resource.getrusage(resource.RUSAGE_SELF)
    tokens = torch_run(definition, name, mode, sequence_length, batch_size, steps, warmup)
    after = resource.getrusage(resource.RUSAGE_SELF)
    peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:")) / 1024
    print(json.dumps({"tokens": tokens, "peak_rss_mb": peak,
                      "cpu_seconds": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)}))


def torch_process(definition, name, mode, sequence_length, batch_size, steps, warmup, threads):
    arguments = json.dumps([definition, name, mode, sequence_length, batch_size, steps, warmup, threads])
    output = subprocess.run([sys.executable, __file__, "--torch-worker", arguments], check=True, capture_output=True,
                            text=True)
    return json.loads(output.stdout.strip().splitlines()[-1])


def kiban_run(definition, name, mode, sequence_length, batch_size, steps, warmup, environment, peak):
    command = [str(KIBAN), "bench", "train" if mode == "lora" else mode, "--config", name,
               "--sequence-length", str(sequence_length), "--batch-size", str(batch_size),
               "--steps", str(steps), "--warmup", str(warmup), "--json"]
    if peak is not None:
        command += ["--peak-gflops", str(peak)]
    if mode == "lora":
        command += ["--lora-rank", str(definition["lora"]["rank"])]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    return json.loads(output.stdout)


def startup_seconds(command, runs=5):
    """Median wall seconds of a command that starts and exits."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


def median_or_none(values):
    return statistics.median(values) if values else None


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-worker":
        torch_worker(sys.argv[2])
        return
    definition = workloads()
    names = [model["name"] for model in definition["models"]]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["esm2-8m", "base"], choices=names)
    parser.add_argument("--shape", default=f"{definition['sequenceLength']}x{definition['batchSize']}",
                        help="sequence length x batch size")
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=MODES)
    parser.add_argument("--runs", type=int, default=5, help="runs of each side, interleaved")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per run")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--output", type=Path, help="also write the rows and their provenance to this JSON file")
    parser.add_argument("--torch-only", action="store_true", help="time only the PyTorch side")
    args = parser.parse_args()

    threads = int(os.environ.get("KIBAN_NUM_THREADS", os.cpu_count()))
    environment = dict(os.environ, KIBAN_NUM_THREADS=str(threads))
    sequence_length, batch_size = (int(part) for part in args.shape.split("x"))
    startup = {"kiban_help_s": None if args.torch_only else startup_seconds([str(KIBAN), "--help"]),
               "python_import_torch_transformers_s": startup_seconds(
                   [sys.executable, "-c", "import torch, transformers"])}
    peak = None
    rows = []
    for name in args.configs:
        for mode in args.modes:
            kiban, pytorch = [], []
            for _ in range(args.runs):
                if not args.torch_only:
                    report = kiban_run(definition, name, mode, sequence_length, batch_size, args.steps, args.warmup,
                                       environment, peak)
                    peak = report["peakGflops"]
                    kiban.append(report)
                pytorch.append(torch_process(definition, name, mode, sequence_length, batch_size, args.steps,
                                             args.warmup, threads))
            kiban_tokens = [report["tokensPerSecond"] for report in kiban]
            torch_tokens = [run["tokens"] for run in pytorch]
            kiban_cpu = [report["userSecondsPerStep"] + report["systemSecondsPerStep"] for report in kiban]
            rows.append({"config": name, "mode": mode, "shape": args.shape, "threads": threads,
                         "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
                         "kiban_tokens_per_s": median_or_none(kiban_tokens),
                         "torch_tokens_per_s": statistics.median(torch_tokens),
                         "ratio": median_or_none(kiban_tokens) / statistics.median(torch_tokens) if kiban else None,
                         "kiban_fraction_of_peak": median_or_none([report["fractionOfPeak"] for report in kiban]),
                         "kiban_peak_gflops": peak,
                         "kiban_cpu_seconds_per_step": median_or_none(kiban_cpu),
                         "kiban_user_seconds_per_step": median_or_none([r["userSecondsPerStep"] for r in kiban]),
                         "kiban_system_seconds_per_step": median_or_none([r["systemSecondsPerStep"] for r in kiban]),
                         "kiban_peak_rss_mb": max((report["peakResidentMegabytes"] for report in kiban), default=None),
                         "torch_peak_rss_mb": max(run["peak_rss_mb"] for run in pytorch),
                         "kiban_runs_tokens_per_s": kiban_tokens, "torch_runs_tokens_per_s": torch_tokens})
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"provenance": provenance(threads, sys.argv[1:]), "startup": startup,
                                           "workloads": definition, "rows": rows}, indent=2) + "\n")
    if args.json:
        print(json.dumps({"startup": startup, "rows": rows}, indent=2))
        return
    print(f"{'config':9} {'mode':6} {'shape':7} {'Kiban tok/s':>12} {'PyTorch tok/s':>14} {'Kiban/PyTorch':>14} "
          f"{'% peak':>7} {'CPU s/step':>10} {'Kiban RSS MB':>13} {'PyTorch RSS MB':>15}")
    for row in rows:
        fraction = None if row["kiban_fraction_of_peak"] is None else 100 * row["kiban_fraction_of_peak"]
        print(f"{row['config']:9} {row['mode']:6} {row['shape']:7} {cell(row['kiban_tokens_per_s'], 12, '.0f')} "
              f"{row['torch_tokens_per_s']:14.0f} {cell(row['ratio'], 14, '.2f')} {cell(fraction, 7, '.1f')} "
              f"{cell(row['kiban_cpu_seconds_per_step'], 10, '.3f')} {cell(row['kiban_peak_rss_mb'], 13, '.0f')} "
              f"{row['torch_peak_rss_mb']:15.0f}")
    kiban_help = startup["kiban_help_s"]
    print(f"start-up: kiban --help {'-' if kiban_help is None else f'{kiban_help * 1e3:.0f} ms'}, "
          f"python3 -c 'import torch, transformers' {startup['python_import_torch_transformers_s'] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
