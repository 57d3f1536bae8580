#!/usr/bin/env bash
# (c) all-MiniLM-L6-v2 + LoRA on antimicrobial peptides, in Kiban (Configs/amp-minilm-lora.yaml)
# and in PEFT (peft_run.py, the same recipe) on the same split, for each seed. EPOCHS (default 4)
# shortens both sides alike. Writes runs/amp_minilm/… and Examples/amp_minilm/results.json.
source "$(dirname "$0")/../common.sh"
Examples/fetch_minilm.sh
out=runs/amp_minilm
epochs=${EPOCHS:-4}
for seed in $SEEDS; do
    $KIBAN finetune --config Configs/amp-minilm-lora.yaml --set run.seed=$seed --set train.epochs=$epochs \
        --set run.output_dir=$out/kiban/seed$seed
    [[ -s $out/peft/seed$seed/peft.json ]] || { mkdir -p $out/peft/seed$seed && python3 Examples/amp_minilm/peft_run.py \
        --seed $seed --epochs $epochs --threads ${KIBAN_NUM_THREADS:-2} --data "$KIBAN_DATA" --output $out/peft/seed$seed/peft.json; }
done
python3 Examples/collect_results.py --runs $out --metric test_accuracy --output Examples/amp_minilm/results.json
