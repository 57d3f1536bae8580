"""Masked-LM inference throughput of esm.cpp (float32 and int8) next to Kiban's (float32 and int8).

esm.cpp 0.2.1 (PyPI `esm-cpp`, a C++ ESM-2 engine with AVX-512/VNNI int8 W8A8 Linear layers) loads a
Hugging Face `model.safetensors`. This script builds a randomly initialised `transformers.EsmForMaskedLM` of
the requested size (ESM-2 150M by default: hidden 640, 30 layers, 20 heads, intermediate 2560), writes it with
`save_pretrained`, and rewrites the file the way esm.cpp needs it: transformers 5.24 names LayerNorm
parameters `gamma`/`beta` and stores no per-layer rotary buffers, while esm.cpp wants `weight`/`bias` and
`esm.encoder.layer.<i>.attention.self.rotary_embeddings.inv_freq` in every layer. esm.cpp's float32 logits
are compared with PyTorch's on the same weights (`esmcpp_fp32_check`) so a mis-loaded file would show.
`Model.quantize_weights()` gives esm.cpp's int8 model (per-channel int8 weights; its LM head stays float32,
while Kiban's `--quantize int8` also quantises the head's dense layer; the tied decoder stays float32 in both).

Kiban runs `kiban bench infer --config <size> [--quantize int8] --json` on its own randomly initialised model of
the same shape (throughput does not depend on the weight values). Both sides see the same batch shape: `<cls>`,
random residues with 15% `<mask>`, `<eos>`, every sequence of the same length; esm.cpp gets it as a list of 1-D
int32 arrays through `forward_batch`. Threads: `KIBAN_NUM_THREADS` for Kiban, `ESM_NUM_THREADS` for esm.cpp,
both from --threads (default: KIBAN_NUM_THREADS or the core count). Runs alternate Kiban float32, Kiban int8,
esm.cpp float32, esm.cpp int8 (3 rounds by default); each run reports the median of a few timed steps after
warm-up; the table shows the medians of the runs.

    pip install --no-deps esm-cpp==0.2.1   # its metadata asks for numpy<2; it runs with requirements.txt's numpy
    swift build -c release --product kiban
    python3 Benchmarks/compare_esmcpp.py --output Benchmarks/results/esm2-150m-esmcpp-128x16-2threads.json

`--output` writes every run and the provenance (CPU, cores, threads, OPENBLAS_CORETYPE, the 1-minute load average
before and after, esm.cpp's ISA, package versions, git commit and whether the tree had uncommitted changes, date), as
Benchmarks/compare_torch.py does.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import compare_torch  # noqa: E402  (the shared workload definition)

ROOT = Path(__file__).resolve().parent.parent
KIBAN = ROOT / ".build" / "release" / "kiban"
WORKLOADS = compare_torch.workloads()
MODELS = {model["name"]: model for model in WORKLOADS["models"]}


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="esm2-150m", choices=sorted(MODELS))
    parser.add_argument("--shape", default="128x16", help="sequence length x batch size")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("KIBAN_NUM_THREADS", os.cpu_count())))
    parser.add_argument("--runs", type=int, default=3, help="rounds of the four runs, interleaved")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per run")
    parser.add_argument("--output", type=Path, help="also write the rows and their provenance to this JSON file")
    return parser.parse_args()


ARGS = parse_arguments()
# esm.cpp sizes its thread pool from ESM_NUM_THREADS when the first model loads.
os.environ["ESM_NUM_THREADS"] = str(ARGS.threads)

import esm_cpp  # noqa: E402
import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402


def torch_model(name):
    torch.manual_seed(0)
    return compare_torch.torch_model(MODELS[name]).eval()


def write_esmcpp_safetensors(model, folder):
    """save_pretrained, then LayerNorm gamma/beta renamed weight/bias and inv_freq added to every layer."""
    model.save_pretrained(folder)
    state = load_file(str(Path(folder) / "model.safetensors"))
    fixed = {}
    for key, value in state.items():
        if "*" in key:  # transformers 5.24 writes one wildcard key for the shared rotary buffer
            continue
        if key.endswith(".gamma"):
            key = key[: -len("gamma")] + "weight"
        elif key.endswith(".beta"):
            key = key[: -len("beta")] + "bias"
        fixed[key] = value.contiguous()
    inverse_frequencies = model.esm.rotary_embeddings.inv_freq.detach().clone()
    for layer in range(model.config.num_hidden_layers):
        fixed[f"esm.encoder.layer.{layer}.attention.self.rotary_embeddings.inv_freq"] = inverse_frequencies.clone()
    path = Path(folder) / "model.safetensors"
    save_file(fixed, str(path), metadata={"format": "pt"})
    return path


def batch(sequence_length, batch_size, seed=42):
    """The ids of Benchmarks/compare_torch.py's batch: (batch, length) int64."""
    ids, _ = compare_torch.batch(sequence_length, batch_size, WORKLOADS["maskProbability"], seed)
    return ids


def esmcpp_run(model, sequences, steps, warmup):
    for _ in range(warmup):
        model.forward_batch(sequences)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        model.forward_batch(sequences)
        times.append(time.perf_counter() - start)
    return sum(len(s) for s in sequences) / statistics.median(times)


def kiban_run(name, quantize, sequence_length, batch_size, steps, warmup, environment):
    command = [str(KIBAN), "bench", "infer", "--config", name, "--sequence-length", str(sequence_length),
               "--batch-size", str(batch_size), "--steps", str(steps), "--warmup", str(warmup), "--json"]
    if quantize:
        command += ["--quantize", "int8"]
    output = subprocess.run(command, check=True, capture_output=True, text=True, env=environment)
    report = json.loads(output.stdout)
    return report["tokensPerSecond"], report["peakResidentMegabytes"]


def fp32_check(model, esmcpp_model, ids):
    """Max |esm.cpp − PyTorch| over the float32 logits of the first two sequences, and max |PyTorch|."""
    rows = ids[:2]
    with torch.inference_mode():
        reference = model(input_ids=rows).logits.numpy()
    logits = esmcpp_model.forward_batch([row.numpy().astype(np.int32) for row in rows])
    difference = max(float(np.abs(out - ref).max()) for out, ref in zip(logits, reference))
    return {"max_abs_difference": difference, "max_abs_torch_logit": float(np.abs(reference).max())}


def provenance(threads, load_before):
    def git(*command):
        return subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor())
    return {"command": "python3 Benchmarks/compare_esmcpp.py " + " ".join(sys.argv[1:]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(git("status", "--porcelain", "--untracked-files=no")),
            "cpu": cpu, "cores": os.cpu_count(), "threads": threads,
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            "load_average_1min_before_after": [load_before, os.getloadavg()[0]],
            "esm_cpp": esm_cpp.__version__, "esm_cpp_isa": esm_cpp.current_isa(),
            "esm_cpp_threads": esm_cpp.Model.num_threads, "torch": torch.__version__,
            "transformers": transformers.__version__, "safetensors": safetensors.__version__, "numpy": np.__version__,
            "python": platform.python_version()}


def main():
    threads = ARGS.threads
    load_before = os.getloadavg()[0]
    torch.set_num_threads(threads)
    environment = dict(os.environ, KIBAN_NUM_THREADS=str(threads))
    sequence_length, batch_size = (int(part) for part in ARGS.shape.split("x"))
    ids = batch(sequence_length, batch_size)
    sequences = [row.numpy().astype(np.int32) for row in ids]
    model = torch_model(ARGS.config)
    with tempfile.TemporaryDirectory() as folder:
        path = write_esmcpp_safetensors(model, folder)
        esmcpp_fp32 = esm_cpp.Model.load(str(path))
        esmcpp_int8 = esm_cpp.Model.load(str(path))
    esmcpp_int8.quantize_weights()
    check = fp32_check(model, esmcpp_fp32, ids)
    del model
    runs = {"kiban_float32": [], "kiban_int8": [], "esmcpp_float32": [], "esmcpp_int8": []}
    rss = {"kiban_float32": [], "kiban_int8": []}
    for _ in range(ARGS.runs):
        for quantize in (False, True):
            key = "kiban_int8" if quantize else "kiban_float32"
            tokens, peak = kiban_run(ARGS.config, quantize, sequence_length, batch_size, ARGS.steps, ARGS.warmup,
                                     environment)
            runs[key].append(tokens)
            rss[key].append(peak)
        runs["esmcpp_float32"].append(esmcpp_run(esmcpp_fp32, sequences, ARGS.steps, ARGS.warmup))
        runs["esmcpp_int8"].append(esmcpp_run(esmcpp_int8, sequences, ARGS.steps, ARGS.warmup))
    medians = {key: statistics.median(values) for key, values in runs.items()}
    row = {"config": ARGS.config, "shape": ARGS.shape, "threads": threads,
           "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
           "tokens_per_s": medians,
           "ratios": {"kiban_int8_over_kiban_float32": medians["kiban_int8"] / medians["kiban_float32"],
                      "esmcpp_int8_over_esmcpp_float32": medians["esmcpp_int8"] / medians["esmcpp_float32"],
                      "kiban_float32_over_esmcpp_float32": medians["kiban_float32"] / medians["esmcpp_float32"],
                      "kiban_int8_over_esmcpp_int8": medians["kiban_int8"] / medians["esmcpp_int8"]},
           "kiban_peak_rss_mb": {key: max(values) for key, values in rss.items()},
           "esmcpp_fp32_check": check, "runs_tokens_per_s": runs}
    if ARGS.output:
        ARGS.output.parent.mkdir(parents=True, exist_ok=True)
        ARGS.output.write_text(json.dumps({"provenance": provenance(threads, load_before), "rows": [row]}, indent=2) + "\n")
    print(f"{ARGS.config} {ARGS.shape}, {threads} threads (tokens/s, median of {ARGS.runs} runs)")
    for key, value in medians.items():
        print(f"  {key:15} {value:10.0f}")
    for key, value in row["ratios"].items():
        print(f"  {key:34} {value:6.2f}")
    print(f"  esm.cpp float32 vs PyTorch: max |Δlogit| {check['max_abs_difference']:.3g} "
          f"(max |logit| {check['max_abs_torch_logit']:.3g})")


if __name__ == "__main__":
    main()
