#!/usr/bin/env bash
# Runs every granary test on a fresh machine:
#   1. the Rust unit and integration tests (dev profile), including the differential test
#      against libhdf5's golden chunk tables;
#   2. the differential test against libhdf5 linked from Rust (hdf5-metno + Debian's
#      libhdf5-dev, installed here when missing);
#   3. the interop tests: references written by `granary scan` and `granary combine`, opened with xarray/fsspec/zarr
#      in a pinned Python venv (created here from tests/requirements.txt), compared value by
#      value with netCDF4-python/h5py reading the source files;
#   4. a quick end-to-end comparison with kerchunk and VirtualiZarr (benches/compare/run.sh
#      --quick): both pipelines on 11 generated granules, outputs compared reference by reference
#      and value by value.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${GRANARY_VENV:-.venv}"
source scripts/venv.sh
venv "$VENV" tests/requirements.txt
# The same environment with pandas 3: Parquet references must read under both (fsspec's
# LazyReferenceMapper behaves differently; docs/kerchunk-reference.md 3.6).
VENV3="${VENV}-pandas3"
venv "$VENV3" tests/requirements.txt pandas==3.0.6
# Local servers of the remote-store tests (moto's S3), in their own venv.
VENVS="${VENV}-servers"
venv "$VENVS" tests/requirements-servers.txt
export GRANARY_SERVERS_PYTHON="$VENVS/bin/python"

if ! pkg-config --exists hdf5 2>/dev/null; then
  echo "== installing libhdf5-dev (Debian) for the libhdf5 differential test"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libhdf5-dev pkg-config >/dev/null
fi

echo "== format and lints"
cargo fmt --all -- --check
cargo clippy --quiet --workspace --all-targets -- -D warnings

echo "== sans-IO: the format crates link no I/O stack (object_store, reqwest, hyper, tokio)"
for crate in granary-core granary-hdf5 granary-dmrpp; do
  if cargo tree -q -p "$crate" -e normal --prefix none | grep -E '^(object_store|reqwest|hyper|tokio) '; then
    echo "$crate links an I/O stack"; exit 1
  fi
done

echo "== cargo test (workspace)"
cargo build --quiet -p granary-cli
cargo test --workspace

echo "== differential test against libhdf5 (hdf5-metno)"
cargo test -p granary-hdf5 --features libhdf5 --test libhdf5_diff

echo "== interop tests (xarray/fsspec/zarr vs netCDF4/h5py)"
target_dir="${CARGO_TARGET_DIR:-target}"
GRANARY_BIN="$target_dir/debug/granary" "$VENV/bin/python" -m pytest tests/interop benches/compare/test_check.py -q -p no:cacheprovider

echo "== interop tests of combined references under pandas 3"
GRANARY_BIN="$target_dir/debug/granary" "$VENV3/bin/python" -m pytest tests/interop/test_combine.py tests/interop/test_decoding.py tests/interop/test_time_coords.py tests/interop/test_fill_values.py tests/interop/test_codecs.py tests/interop/test_array_policy.py -q -p no:cacheprovider

echo "== end-to-end comparison with kerchunk/VirtualiZarr (quick run: granary's outputs must equal kerchunk's)"
GRANARY_ANCHOR_VENV="${GRANARY_ANCHOR_VENV:-${VENV}-anchor}" GRANARY_COMPARE_PROFILE=dev \
  GRANARY_COMPARE_DIR="$target_dir/compare-ci" benches/compare/run.sh --quick
