#!/usr/bin/env bash
# (b) The composition transformer on Matbench expt_gap and steels with the 5-fold protocol: for
# fold k, train on train{k}, early-stop / pick the best epoch on val{k}, report the MAE on test{k};
# every fold for each seed. Baseline: a random forest on fraction-weighted Magpie element
# statistics, same folds. Hyper-parameters were chosen on val0 only. Writes runs/matbench/… and
# Examples/matbench/results.json. Runs resume where they stopped.
source "$(dirname "$0")/../common.sh"
out=runs/matbench
for task in expt_gap steels_yield; do
    config=Configs/matbench-expt-gap.yaml
    [[ $task == steels_yield ]] && config=Configs/matbench-steels.yaml
    for fold in 0 1 2 3 4; do
        for seed in $SEEDS; do
            folds=$KIBAN_DATA/materials/cv/$task
            $KIBAN finetune --config $config --set run.seed=$seed --set run.name=$task-fold$fold-seed$seed \
                --set run.output_dir=$out/$task/fold$fold/seed$seed \
                --set data.train=$folds/train$fold.csv --set data.validation=$folds/val$fold.csv --set data.test=$folds/test$fold.csv
        done
    done
    [[ -s $out/magpie_rf_$task.json ]] || python3 Examples/baselines/magpie_rf.py --task $task --data "$KIBAN_DATA" \
        --output $out/magpie_rf_$task.json
    python3 Examples/collect_results.py --runs $out/$task --baseline $out/magpie_rf_$task.json --metric test_mae \
        --output Examples/matbench/results_$task.json
done
