#!/usr/bin/env bash
# Fetches the AMP-vs-UniProt peptide set (modlamp 4.3.3, BSD-3-Clause, ETH Zurich) from PyPI and
# writes it as data/amp_vs_uniprot.csv with a `sequence,label` header (1 = antimicrobial).
set -euo pipefail
cd "$(dirname "$0")/.."
output=data/amp_vs_uniprot.csv
[[ -s $output ]] && exit 0
mkdir -p data/downloads
python3 -m pip download --no-deps --quiet modlamp==4.3.3 -d data/downloads
unzip -o -q data/downloads/modlamp-4.3.3-py3-none-any.whl modlamp/data/AMPvsUniProt.csv -d data/downloads
# The file's first line is a sample count and class names; every other line is "SEQUENCE, LABEL".
{
    echo "sequence,label"
    tail -n +2 data/downloads/modlamp/data/AMPvsUniProt.csv | tr -d ' \r'
} > "$output.tmp"
mv "$output.tmp" "$output"
echo "wrote $output ($(($(wc -l < "$output") - 1)) peptides)"
