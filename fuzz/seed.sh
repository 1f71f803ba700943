#!/usr/bin/env bash
# Seeds the fuzz corpora: HDF5 test files under 256 KiB, and every DMR++ document.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/scan_hdf5 corpus/parse_dmrpp
find ../tests/data -type f \( -name '*.h5' -o -name '*.nc' -o -name '*.hdf5' -o -name '*.nc4' \) -size -256k \
  -exec cp {} corpus/scan_hdf5/ \;
find ../tests/data -type f \( -name '*.dmrpp' -o -name '*.dmrpp.old' \) -size -256k -exec cp {} corpus/parse_dmrpp/ \;
ls corpus/scan_hdf5 | wc -l
ls corpus/parse_dmrpp | wc -l
