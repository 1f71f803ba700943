#!/usr/bin/env bash
# Generates full-size SWOT-like granules (num_lines ~9866, ~10.5 MB each) for the benchmarks into
# target/bench-data/swot (override with GRANARY_BENCH_DIR). Uses the pinned test venv.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GRANARY_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || { python3 -m venv "$VENV"; "$VENV/bin/pip" install -q -r tests/requirements.txt; }
OUT="${GRANARY_BENCH_DIR:-target/bench-data/swot}"
"$VENV/bin/python" tests/data/gen/make_swot_like.py --out "$OUT" --cycles 1 --passes "${PASSES:-20}" \
  --missing-fraction 0 --dmrpp --workers 2 --seed 11
