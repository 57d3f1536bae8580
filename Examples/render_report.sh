#!/usr/bin/env bash
# Renders an HTML report of `kiban eval` (EvaluationReport.html()) to a PNG with headless Chromium:
#   Examples/render_report.sh REPORT.html OUT.png [WIDTH [HEIGHT]]
# The screenshot is of the top WIDTH x HEIGHT CSS pixels (default 1200 x 2400); Chromium's command
# line cannot size it to the page, so pass a larger HEIGHT for a longer report. The page needs no
# network, and Chromium runs with a throw-away profile so that it touches nothing of the user's.
# Needs Debian's `chromium` package (apt-get install chromium); fails with a message without it.
set -euo pipefail
if (($# < 2 || $# > 4)); then
    echo "usage: $0 REPORT.html OUT.png [WIDTH [HEIGHT]]" >&2
    exit 2
fi
report=$1
output=$2
width=${3:-1200}
height=${4:-2400}
[[ -f $report ]] || { echo "render_report: no such report: $report" >&2; exit 1; }
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
    echo "render_report: chromium is not installed; install it with: apt-get install chromium" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
report_url="file://$(cd "$(dirname "$report")" && pwd)/$(basename "$report")"
mkdir -p "$(dirname "$output")"
output_path="$(cd "$(dirname "$output")" && pwd)/$(basename "$output")"
rm -f "$output_path"
# --no-sandbox: Chromium refuses to run as root with its sandbox (containers, CI).
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run --user-data-dir="$profile" \
    --window-size="$width,$height" --screenshot="$output_path" "$report_url" >"$profile/log" 2>&1 || {
    cat "$profile/log" >&2
    echo "render_report: chromium failed on $report" >&2
    exit 1
}
if [[ ! -s $output_path ]]; then
    cat "$profile/log" >&2
    echo "render_report: chromium wrote no screenshot for $report" >&2
    exit 1
fi
echo "$output_path: $(stat -c %s "$output_path") bytes, ${width}x${height}"
