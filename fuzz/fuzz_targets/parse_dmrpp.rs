//! Fuzz target: any byte string given to the DMR++ parser (and, when it parses, to the kerchunk
//! writer) must produce a value or a typed error, never a panic.
//!   cargo fuzz run parse_dmrpp fuzz/corpus/parse_dmrpp
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = granary_dmrpp::DmrppOptions { dmrpp_url: "file:///fuzz.nc.dmrpp".into(), ..Default::default() };
    if let Ok((m, _)) = granary_dmrpp::parse(data, &opts) {
        if let Ok(refs) = granary_refs::single_granule_refs(&m) {
            let _ = refs.to_json_string();
        }
    }
});
