//! DMR++ parse benchmark: the real SWOT DMR++ documents (149 KB and 169 KB, 95 variables).
//! VirtualiZarr's reader needs 244 ms per SWOT DMR++ on this machine (docs/python-baseline.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use granary_dmrpp::{DmrppOptions, parse};

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/dmrpp-reference");
    let name = "SWOT_L2_LR_SSH_Expert_001_001_20140412T120000_20140412T125105_DG10_01.nc.dmrpp";
    let mut g = c.benchmark_group("dmrpp_parse");
    for file in [name.to_string(), format!("{name}.old")] {
        let bytes = std::fs::read(dir.join(&file)).unwrap();
        let opts = DmrppOptions {
            dmrpp_url: format!("s3://bucket/{file}"),
            skip_unsupported: true,
            ..Default::default()
        };
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let label = if file.ends_with(".old") {
            "swot_real_old_builder"
        } else {
            "swot_real_bes_3_20_13"
        };
        g.bench_function(label, |b| {
            b.iter(|| {
                let (m, _) = parse(&bytes, &opts).unwrap();
                assert!(m.arrays().count() >= 94);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
