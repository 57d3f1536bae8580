#!/usr/bin/env bash
# Data-parallel measurements on this machine (release build of kiban; OpenMPI):
#  1. all-reduce times and GB/s from 1K to 64M floats at 2 ranks (`kiban collectives --timing`);
#  2. esm2-8m masked-LM training on the proteome, 1 rank × 2 threads (accumulation 2) against
#     2 ranks × 1 thread data parallel (accumulation 1) and 2 ranks × 1 thread tensor parallel
#     (accumulation 2): the same global batch of 2 × --batch sequences, alternated --runs times;
#     tokens/s is the median over updates 3.. of each run (metrics.jsonl); also 1 rank × 1 thread
#     with one micro-batch (the compute of one data-parallel rank, for Benchmarks/scaling.md);
#  3. masked-LM pre-training from a packed corpus 10× the proteome (the proteome's sequences 10
#     times, `kiban data pack`) against a packed corpus of the proteome itself: peak resident memory
#     after --pack-steps updates, which stays flat when sequences are read per micro-batch;
#  4. the cost of checkpoints (model + AdamW moments, written by rank 0) at 1 rank and at 2
#     tensor-parallel ranks, which first gather the whole tensors: seconds gathering and writing.
# Prints everything and appends it, with the commit and machine, to the --output file.
#   Benchmarks/data_parallel.sh [--runs 3] [--steps 12] [--batch 16] [--pack-steps 100] [--output FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=3 steps=12 batch=16 pack_steps=100 output=Benchmarks/results/data-parallel-esm2-8m-2cores.txt
while (($#)); do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --steps) steps=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --pack-steps) pack_steps=$2; shift 2 ;;
        --output) output=$2; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
kiban=$PWD/.build/release/kiban
data=$(Examples/data_root.sh)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpirun=(mpirun --oversubscribe -x OMPI_MCA_btl_vader_single_copy_mechanism=none)
[[ $(id -u) == 0 ]] && mpirun+=(--allow-run-as-root)
export OMPI_MCA_btl_vader_single_copy_mechanism=none

# The median tokens/s of updates 3.. in a run folder's metrics.jsonl.
median_tokens() {
    python3 -c 'import json,statistics,sys
rows=[json.loads(l) for l in open(sys.argv[1]) if "\"train\"" in l]
print(round(statistics.median(r["tokens_per_s"] for r in rows if r["step"]>=3)))' "$1/metrics.jsonl"
}

common=(--set model.config=Configs/esm2-8m.yaml --set data.max_length=128 --set train.batch_size="$batch"
        --set train.max_steps="$steps" --set train.eval_every=0 --set train.checkpoint_every=0 --set train.test_at_end=false
        --set data.validation_fraction=0.01 --set run.resume=false)
{
    echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (uncommitted changes)')," \
        "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, $(mpirun --version | head -1)"
    echo "## all-reduce at 2 ranks"
    "${mpirun[@]}" -np 2 "$kiban" collectives --timing | grep -v "all collectives hold"

    echo "## esm2-8m masked-LM, proteome, max_length 128, global batch $((2 * batch)) sequences, $steps updates"
    for ((run = 0; run < runs; run++)); do
        KIBAN_NUM_THREADS=2 "$kiban" finetune --config Configs/proteome-mlm.yaml "${common[@]}" \
            --set train.accumulation=2 --set run.output_dir="$work/one" &> /dev/null
        one=$(median_tokens "$work/one")
        "${mpirun[@]}" -np 2 -x KIBAN_NUM_THREADS=1 "$kiban" finetune --config Configs/proteome-mlm.yaml "${common[@]}" \
            --set run.output_dir="$work/two" &> /dev/null
        two=$(median_tokens "$work/two")
        "${mpirun[@]}" -np 2 -x KIBAN_NUM_THREADS=1 "$kiban" finetune --config Configs/proteome-mlm.yaml "${common[@]}" \
            --set train.accumulation=2 --set train.tensor_parallel=2 --set run.output_dir="$work/split" &> /dev/null
        split=$(median_tokens "$work/split")
        KIBAN_NUM_THREADS=1 "$kiban" finetune --config Configs/proteome-mlm.yaml "${common[@]}" \
            --set run.output_dir="$work/single" &> /dev/null
        single=$(median_tokens "$work/single")
        echo "run $run: 1 rank × 2 threads $one tokens/s; 2 ranks × 1 thread data parallel $two tokens/s" \
            "(× $(python3 -c "print(round($two / $one, 2))")), tensor parallel $split tokens/s (× $(python3 -c "print(round($split / $one, 2))"));" \
            "1 rank × 1 thread, one micro-batch: $single tokens/s = $(python3 -c "print(round($batch * 128 / $single, 3))") s per update if all $batch sequences fill 128 tokens"
    done

    echo "## pre-training from packed corpora, $pack_steps updates of batch $batch, 2 threads"
    for copies in 1 10; do
        for ((copy = 0; copy < copies; copy++)); do sed "s/^>/>copy$copy /" "$data/protein/bacterial_proteome.faa"; done > "$work/corpus.faa"
        "$kiban" data pack --input "$work/corpus.faa" --output "$work/corpus-$copies.h5"
        KIBAN_NUM_THREADS=2 "$kiban" finetune --config Configs/proteome-mlm.yaml "${common[@]}" --set data.train="$work/corpus-$copies.h5" \
            --set train.max_steps="$pack_steps" --set run.output_dir="$work/packed-$copies" 2> /dev/null | grep -E "train,|peak memory" \
            | sed "s/^/${copies}× proteome: /"
    done

    echo "## checkpoint cost, esm2-8m, a checkpoint after each of 4 updates of batch $batch (summary.json)"
    for layout in "1 rank" "2 tensor-parallel ranks"; do
        launch=(env KIBAN_NUM_THREADS=2 "$kiban") split=()
        [[ $layout == 2* ]] && launch=("${mpirun[@]}" -np 2 -x KIBAN_NUM_THREADS=1 "$kiban") split=(--set train.tensor_parallel=2)
        "${launch[@]}" finetune --config Configs/proteome-mlm.yaml "${common[@]}" "${split[@]}" --set train.max_steps=4 \
            --set train.checkpoint_every=1 --set run.output_dir="$work/checkpoint" &> /dev/null
        python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(sys.argv[2], "(5 checkpoints of", sys.argv[3], "MB): gathering",
            round(s["checkpoint_gather_seconds"], 3), "s, writing", round(s["checkpoint_write_seconds"], 3), "s")' \
            "$work/checkpoint/summary.json" "$layout:" "$(du -m "$work/checkpoint/last.h5" | cut -f1)"
    done
} | tee -a "$output"
