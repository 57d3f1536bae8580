"""Collects the runs of one example into its results.json.

Every `summary.json` (written by `kiban finetune`) and `peft.json` (written by
Examples/amp_minilm/peft_run.py) under --runs is one run. Its path names the configuration and the
seed/fold, e.g. `pretrained/seed1/summary.json` or `expt_gap/fold3/seed0/summary.json`: path parts
`seedN` and `foldN` are the seed and fold, the other parts name the configuration. For each
configuration the script reports, for the chosen metric, every run, the mean over folds per seed,
and the mean ± sample std over seeds; plus the baseline JSON files, the git commit and the time.

    python3 Examples/collect_results.py --runs runs/amp_esm --metric test_accuracy \
        --baseline runs/amp_esm/kmer_logreg.json --output Examples/amp_esm/results.json
"""
import argparse
import datetime
import json
import re
import statistics
import subprocess
from collections import defaultdict
from pathlib import Path


def run_record(path, runs, metric):
    """One run's configuration name, seed, fold, metric value and provenance."""
    data = json.loads(path.read_text())
    parts = path.relative_to(runs).parent.parts
    seed = next((int(p[4:]) for p in parts if re.fullmatch(r"seed\d+", p)), data.get("seed", 0))
    fold = next((int(p[4:]) for p in parts if re.fullmatch(r"fold\d+", p)), None)
    name = "/".join(p for p in parts if not re.fullmatch(r"(seed|fold)\d+", p)) or runs.name
    metrics = data.get("metrics", data)
    return {
        "configuration": name, "seed": seed, "fold": fold, metric: metrics.get(metric),
        "validation": {k: v for k, v in metrics.items() if k.startswith("val")},
        "wall_seconds": data.get("wall_seconds"), "steps": data.get("steps"), "best_step": data.get("best_step"),
        "parameters": data.get("parameters"), "trainable_parameters": data.get("trainable_parameters"),
        "checkpoint_sha256": data.get("best_checkpoint_sha256"), "file": str(path),
    }


def summarise(records, metric):
    """Mean over folds per seed, then mean ± std over seeds; also the mean over seeds per fold."""
    by_seed, by_fold = defaultdict(list), defaultdict(list)
    for record in records:
        if record[metric] is not None:
            by_seed[record["seed"]].append(record[metric])
            if record["fold"] is not None:
                by_fold[record["fold"]].append(record[metric])
    per_seed = {seed: statistics.mean(values) for seed, values in sorted(by_seed.items())}
    values = list(per_seed.values())
    return {
        "per_seed": per_seed, "mean": statistics.mean(values) if values else None,
        "per_fold": {fold: statistics.mean(v) for fold, v in sorted(by_fold.items())},
        "std": statistics.stdev(values) if len(values) > 1 else 0.0, "seeds": len(values),
        "runs": len(records), "max_wall_seconds": max((r["wall_seconds"] or 0) for r in records),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, required=True)
    parser.add_argument("--metric", required=True, help="e.g. test_accuracy, test_mae")
    parser.add_argument("--baseline", type=Path, nargs="*", default=[])
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()

    paths = sorted(args.runs.rglob("summary.json")) + sorted(args.runs.rglob("peft.json"))
    records = [run_record(path, args.runs, args.metric) for path in paths]
    groups = defaultdict(list)
    for record in records:
        groups[record["configuration"]].append(record)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    result = {
        "metric": args.metric, "git_commit": commit,
        "written": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "configurations": {name: {"summary": summarise(rs, args.metric), "runs": rs} for name, rs in sorted(groups.items())},
        "baselines": {path.stem: json.loads(path.read_text()) for path in args.baseline if path.exists()},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    for name, group in result["configurations"].items():
        s = group["summary"]
        if s["mean"] is not None:
            print(f"{name:28} {args.metric} {s['mean']:.4f} ± {s['std']:.4f} ({s['seeds']} seeds, {s['runs']} runs, "
                  f"longest {s['max_wall_seconds']:.0f} s)")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
