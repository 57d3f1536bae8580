#!/usr/bin/env bash
# (a) A 4.7M-parameter ESM-2-style encoder on antimicrobial peptides (modlamp AMP vs UniProt):
#   1. masked-LM pre-training on a bacterial proteome (Configs/proteome-mlm.yaml),
#   2. full fine-tuning on the AMP training split from that checkpoint, for each seed,
#   3. the same fine-tune from random weights (no pre-training), for each seed,
#   4. the classical baseline: logistic regression on 1–3-mer counts, same split.
# Hyper-parameters were chosen on the validation split only; test accuracy is reported on
# split == test. Writes runs/amp_esm/… and Examples/amp_esm/results.json. Runs resume where they stopped.
source "$(dirname "$0")/../common.sh"
out=runs/amp_esm
$KIBAN finetune --config Configs/proteome-mlm.yaml --set run.output_dir=$out/pretrain
for seed in $SEEDS; do
    for start in pretrained scratch; do
        initialize=checkpoint; [[ $start == scratch ]] && initialize=scratch
        $KIBAN finetune --config Configs/amp-esm-finetune.yaml --set run.seed=$seed \
            --set run.name=amp-esm-$start-seed$seed --set run.output_dir=$out/$start/seed$seed \
            --set model.initialize=$initialize --set model.path=$out/pretrain/best.h5
    done
done
[[ -s $out/kmer_logreg.json ]] || python3 Examples/baselines/kmer_logreg.py --data "$KIBAN_DATA" --output $out/kmer_logreg.json
python3 Examples/collect_results.py --runs $out --baseline $out/kmer_logreg.json --metric test_accuracy \
    --output Examples/amp_esm/results.json
