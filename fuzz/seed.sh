#!/usr/bin/env bash
# Seeds the fuzz corpus with every HDF5 test file under 256 KiB.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/scan_hdf5
find ../tests/data -type f \( -name '*.h5' -o -name '*.nc' -o -name '*.hdf5' -o -name '*.nc4' \) -size -256k \
  -exec cp {} corpus/scan_hdf5/ \;
ls corpus/scan_hdf5 | wc -l
