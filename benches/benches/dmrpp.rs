//! DMR++ parse benchmark: the real SWOT DMR++ documents (149 KB and 169 KB, 95 variables).
//! VirtualiZarr's reader needs 244 ms per SWOT DMR++ on this machine (docs/python-baseline.md).
//! The `xml_events` group is the limit: quick-xml's own event loop over the same bytes, every
//! attribute of every tag iterated, nothing kept.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use granary_dmrpp::{DmrppOptions, parse};
use quick_xml::Reader;
use quick_xml::events::Event;

/// Tokenizes `xml` the way any parser must: every event, every attribute's key and raw value.
fn raw_events(xml: &[u8]) -> usize {
    let mut reader = Reader::from_reader(xml);
    let mut n = 0usize;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                for a in e.attributes().with_checks(false) {
                    let a = a.unwrap();
                    n += a.key.as_ref().len() + a.value.len();
                }
            }
            Event::Text(t) => n += t.len(),
            Event::Eof => return n,
            _ => n += 1,
        }
    }
}

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
        g.bench_function(format!("{label}/xml_events"), |b| {
            b.iter(|| assert!(raw_events(std::hint::black_box(&bytes)) > 0))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
