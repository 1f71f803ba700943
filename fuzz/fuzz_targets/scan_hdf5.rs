//! Fuzz target: any byte string given to the HDF5 scanner (and, when it parses, to the kerchunk
//! writer) must produce a value or a typed error, never a panic, hang or huge allocation.
//!
//!   cargo install cargo-fuzz
//!   cargo fuzz run scan_hdf5 fuzz/corpus/scan_hdf5 -- -max_len=262144
//! Seed corpus: `fuzz/seed.sh` copies the small test files into fuzz/corpus/scan_hdf5.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = granary_hdf5::scan_bytes("file:///fuzz.h5", bytes::Bytes::copy_from_slice(data)) {
        if let Ok(refs) = granary_refs::single_granule_refs(&m) {
            let _ = refs.to_json_string();
        }
    }
});
