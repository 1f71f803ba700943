//! Manifests cross from executors to the client unchanged: every granule of the test corpus
//! (odd attribute types, compound and enum dtypes, inline and string data, skipped arrays)
//! is scanned, written as wire rows, read back and compared whole; failures come back as
//! the same error rows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use futures::StreamExt;
use granary_cluster::wire::{read_scanned, scanned_batch};
use granary_extract::{ExtractOptions, Extractor, MetadataRoute};
use granary_inventory::{GranuleScanner, Scanned};
use granary_io::StoreRegistry;
use granary_test_utils::data_dir;
use url::Url;

fn files(dir: &std::path::Path, out: &mut Vec<Url>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p
            .extension()
            .is_some_and(|x| ["nc", "h5", "hdf5", "he5", "nc4"].contains(&x.to_str().unwrap()))
        {
            out.push(Url::from_file_path(&p).unwrap());
        }
    }
}

async fn scan(route: MetadataRoute, urls: Vec<Url>) -> Vec<Scanned> {
    let ex = Extractor::new(
        Arc::new(StoreRegistry::new()),
        ExtractOptions {
            metadata: route,
            ..Default::default()
        },
    );
    let mut out: Vec<Scanned> = ex.scan(urls).map(|r| r.unwrap()).collect().await;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn every_corpus_manifest_and_error_row_survives_the_wire() {
    let mut urls = Vec::new();
    files(&data_dir().join("corpus"), &mut urls);
    files(&data_dir().join("swot"), &mut urls);
    urls.push(Url::from_file_path(data_dir().join("no-such-granule.nc")).unwrap());
    assert!(urls.len() > 20, "the corpus is there: {}", urls.len());
    for route in [MetadataRoute::Hdf5, MetadataRoute::Auto] {
        let scanned = scan(route, urls.clone()).await;
        let manifests = scanned.iter().filter(|(_, r)| r.is_ok()).count();
        assert!(manifests > 20, "{route:?}: {manifests} manifests");
        assert!(scanned.iter().any(|(_, r)| r.is_err()), "an error row too");
        let back = read_scanned(&scanned_batch(&scanned).unwrap()).unwrap();
        assert_eq!(back.len(), scanned.len());
        for (a, b) in scanned.iter().zip(&back) {
            assert_eq!(a, b, "{route:?}: {} changed on the wire", a.0);
        }
    }
}

#[test]
fn a_row_with_neither_manifest_nor_error_is_refused() {
    use arrow::array::{BinaryArray, RecordBatch, StringArray};
    let batch = RecordBatch::try_new(
        granary_cluster::wire::scanned_schema(),
        vec![
            Arc::new(StringArray::from(vec!["file:///a.nc"])),
            Arc::new(BinaryArray::from(vec![None::<&[u8]>])),
            Arc::new(StringArray::from(vec![None::<&str>])),
            Arc::new(StringArray::from(vec![None::<&str>])),
        ],
    )
    .unwrap();
    let e = read_scanned(&batch).unwrap_err().to_string();
    assert!(e.contains("file:///a.nc") && e.contains("neither"), "{e}");
    let garbage = RecordBatch::try_new(
        granary_cluster::wire::scanned_schema(),
        vec![
            Arc::new(StringArray::from(vec!["file:///b.nc"])),
            Arc::new(BinaryArray::from(vec![Some(&b"\x93not a manifest"[..])])),
            Arc::new(StringArray::from(vec![None::<&str>])),
            Arc::new(StringArray::from(vec![None::<&str>])),
        ],
    )
    .unwrap();
    let e = read_scanned(&garbage).unwrap_err().to_string();
    assert!(e.contains("file:///b.nc"), "{e}");
}
