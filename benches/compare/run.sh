#!/usr/bin/env bash
# End-to-end comparison of granary with the Python tools (kerchunk SingleHdf5ToZarr +
# MultiZarrToZarr, VirtualiZarr's DMR++ parser) on one generated SWOT-like collection, in one run:
# creates the pinned anchor venv, builds granary, runs compare.py (arguments are passed on).
#
#   benches/compare/run.sh            # 389 full-size granules (4 GB, like docs/python-baseline.md),
#                                     # 100 of them again over HTTP with 30 ms per request
#   benches/compare/run.sh --latency-only --latency-granules 0 --sweep-granules 1000
#                                     # granary alone, 1,000 granule names over HTTP, both
#                                     # routes, 16/64/256 granules in flight
#   benches/compare/run.sh --quick    # 11 small granules: the same steps and checks in about a minute
#
# Output: target/compare/<run>/report.md and results.json. Exit status 1 when granary's output
# differs from kerchunk's in anything but kerchunk's known deviations (benches/compare/report.py).
# GRANARY_COMPARE_PROFILE=dev uses the debug build (the test suite does, to check correctness).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/venv.sh
VENV="${GRANARY_ANCHOR_VENV:-.venv-anchor}"
venv "$VENV" benches/compare/requirements.txt

PROFILE="${GRANARY_COMPARE_PROFILE:-release}"
cargo build --quiet --profile "$PROFILE" -p granary-cli -p granary-range-server
case "$PROFILE" in dev) dir=debug ;; *) dir="$PROFILE" ;; esac
BIN="${CARGO_TARGET_DIR:-target}/$dir/granary"
SERVER="${CARGO_TARGET_DIR:-target}/$dir/granary-range-server"

OUT="${GRANARY_COMPARE_DIR:-target/compare}"
if [ "${1:-}" = "--quick" ]; then
  shift
  set -- --data "$OUT/quick-data" --work "$OUT/quick" --cycles 2 --passes 6 --num-lines-base 98 \
    --max-bytes "" --cells 0 --latency-granules 11 --sweep-granules 22 --sweep-concurrency 4,16 "$@"
else
  set -- --data "$OUT/data" --work "$OUT/full" "$@"
fi
exec "$VENV/bin/python" benches/compare/compare.py --granary "$BIN" --range-server "$SERVER" "$@"
