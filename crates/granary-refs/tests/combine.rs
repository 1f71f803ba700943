//! Combining small synthetic granules: keys, shapes, coordinates, sparse fills, duplicates,
//! mismatches with their suggested filters, existing-dim concatenation, attribute policies,
//! and the JSON and Parquet sinks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use granary_core::{
    ArrayData, ArrayMeta, AttrValue, Attribute, ByteOrder, ChunkRef, Codec, DType, Dimension,
    GranuleManifest, Group, StorageLayout,
};
use granary_refs::{
    AttrPolicy, CombineSpec, Combined, Combiner, ConcatDim, Coord, OnDuplicate, SelectedGranule,
    write_combined_json, write_parquet,
};

fn f8() -> DType {
    DType::Float {
        size: 8,
        order: ByteOrder::Little,
    }
}

fn array(
    name: &str,
    dims: &[&str],
    shape: &[u64],
    chunks: &[u64],
    fill: Option<f64>,
    base: u64,
) -> ArrayMeta {
    let grid: Vec<u64> = shape
        .iter()
        .zip(chunks)
        .map(|(s, c)| s.div_ceil(*c))
        .collect();
    let mut refs = Vec::new();
    let total: u64 = grid.iter().product();
    for i in 0..total {
        let mut idx = vec![0; grid.len()];
        let mut r = i;
        for d in (0..grid.len()).rev() {
            idx[d] = r % grid[d];
            r /= grid[d];
        }
        refs.push(ChunkRef {
            index: idx,
            offset: base + i * 100,
            size: 50 + i,
            filter_mask: 0,
            url: None,
        });
    }
    ArrayMeta {
        name: name.into(),
        path: name.into(),
        dims: dims.iter().map(|d| d.to_string()).collect(),
        shape: shape.to_vec(),
        dtype: f8(),
        layout: StorageLayout::Chunked,
        chunk_shape: chunks.to_vec(),
        codecs: vec![
            Codec::Shuffle { element_size: 8 },
            Codec::Deflate { level: 4 },
        ],
        fill_value: fill.map(AttrValue::Float),
        storage_fill: None,
        attrs: vec![Attribute::new("units", AttrValue::Str("m".into()))],
        data: ArrayData::Chunks(refs),
    }
}

fn granule(url: &str, cycle: i64, pass: i64, lines: u64) -> GranuleManifest {
    let mut root = Group::new("");
    root.dims.push(Dimension {
        name: "num_lines".into(),
        size: lines,
        unlimited: false,
    });
    root.attrs
        .push(Attribute::new("cycle_number", AttrValue::Int(cycle)));
    root.attrs
        .push(Attribute::new("pass_number", AttrValue::Int(pass)));
    root.attrs
        .push(Attribute::new("title", AttrValue::Str("SWOT-like".into())));
    root.arrays.push(array(
        "ssh",
        &["num_lines", "num_pixels"],
        &[lines, 4],
        &[4, 4],
        Some(f64::NAN),
        1000,
    ));
    root.arrays
        .push(array("time", &["num_lines"], &[lines], &[4], None, 5000));
    GranuleManifest {
        url: url.into(),
        size: Some(10_000),
        etag: None,
        root,
        skipped: Vec::new(),
    }
}

fn sel(url: &str, c: i64, p: i64) -> SelectedGranule {
    SelectedGranule {
        url: url.into(),
        coords: vec![Coord::Int(c), Coord::Int(p)],
    }
}

fn spec() -> CombineSpec {
    CombineSpec {
        dims: vec![
            ConcatDim {
                name: "cycle_num".into(),
                existing: false,
            },
            ConcatDim {
                name: "pass_num".into(),
                existing: false,
            },
        ],
        ..CombineSpec::default()
    }
}

fn combine(
    spec: CombineSpec,
    rows: &[SelectedGranule],
    ms: &[GranuleManifest],
) -> Result<Combined, granary_refs::CombineError> {
    let mut c = Combiner::new(spec, rows)?;
    for m in ms {
        c.add_manifest(m);
    }
    c.finish()
}

fn json(c: &Combined) -> serde_json::Value {
    let mut buf = Vec::new();
    write_combined_json(c, &mut buf).unwrap();
    serde_json::from_slice(&buf).unwrap()
}

#[test]
fn full_grid_prepends_new_dims_and_renumbers_keys() {
    let ms = [
        granule("s3://b/c1p2.nc", 1, 2, 10),
        granule("s3://b/c1p4.nc", 1, 4, 10),
        granule("s3://b/c2p2.nc", 2, 2, 10),
        granule("s3://b/c2p4.nc", 2, 4, 10),
    ];
    let rows = [
        sel("s3://b/c2p4.nc", 2, 4),
        sel("s3://b/c1p2.nc", 1, 2),
        sel("s3://b/c1p4.nc", 1, 4),
        sel("s3://b/c2p2.nc", 2, 2),
    ];
    let c = combine(spec(), &rows, &ms).unwrap();
    let j = json(&c);
    let refs = &j["refs"];
    let zarray: serde_json::Value =
        serde_json::from_str(refs["ssh/.zarray"].as_str().unwrap()).unwrap();
    assert_eq!(zarray["shape"], serde_json::json!([2, 2, 10, 4]));
    assert_eq!(zarray["chunks"], serde_json::json!([1, 1, 4, 4]));
    let zattrs: serde_json::Value =
        serde_json::from_str(refs["ssh/.zattrs"].as_str().unwrap()).unwrap();
    assert_eq!(
        zattrs["_ARRAY_DIMENSIONS"],
        serde_json::json!(["cycle_num", "pass_num", "num_lines", "num_pixels"])
    );
    assert_eq!(
        refs["ssh/0.1.2.0"],
        serde_json::json!(["s3://b/c1p4.nc", 1200, 52])
    );
    assert_eq!(
        refs["ssh/1.0.0.0"],
        serde_json::json!(["s3://b/c2p2.nc", 1000, 50])
    );
    assert_eq!(
        refs["time/1.1.1"],
        serde_json::json!(["s3://b/c2p4.nc", 5100, 51])
    );
    // Coordinates: sorted, inline little-endian int64.
    let cz: serde_json::Value =
        serde_json::from_str(refs["cycle_num/.zarray"].as_str().unwrap()).unwrap();
    assert_eq!(cz["dtype"], "<i8");
    assert_eq!(cz["shape"], serde_json::json!([2]));
    assert!(
        refs["cycle_num/0"].as_str().unwrap().starts_with("base64:")
            || refs["cycle_num/0"].is_string()
    );
    // Identical global attributes kept, varying ones dropped and reported.
    let root: serde_json::Value = serde_json::from_str(refs[".zattrs"].as_str().unwrap()).unwrap();
    assert_eq!(root, serde_json::json!({"title": "SWOT-like"}));
    assert_eq!(c.report.dropped_attrs.len(), 2);
    // A full grid needs no fill for time.
    assert!(c.report.fills_set.is_empty());
    assert_eq!(c.report.refs, 4 * (3 + 3));
    assert!(refs[".zmetadata"].is_string());
}

#[test]
fn sparse_grid_leaves_cells_missing_and_gives_fill_less_arrays_nan() {
    let ms = [
        granule("a", 1, 2, 10),
        granule("b", 1, 4, 10),
        granule("c", 2, 2, 10),
    ];
    let rows = [sel("a", 1, 2), sel("b", 1, 4), sel("c", 2, 2)];
    let c = combine(spec(), &rows, &ms).unwrap();
    let j = json(&c);
    assert!(j["refs"].get("ssh/1.1.0.0").is_none());
    let tz: serde_json::Value =
        serde_json::from_str(j["refs"]["time/.zarray"].as_str().unwrap()).unwrap();
    assert_eq!(tz["fill_value"], "NaN");
    assert_eq!(
        c.report.fills_set,
        vec![("time".to_string(), "\"NaN\"".to_string())]
    );
    assert_eq!(c.report.cells, 4);
}

#[test]
fn duplicates_fail_naming_both_granules_unless_a_policy_is_set() {
    let ms = [granule("v1", 1, 2, 10), granule("v2", 1, 2, 10)];
    let rows = [sel("v1", 1, 2), sel("v2", 1, 2)];
    let e = combine(spec(), &rows, &ms).unwrap_err().to_string();
    assert!(e.contains("cycle_num=1, pass_num=2: v1 and v2"), "{e}");
    let mut s = spec();
    s.on_duplicate = OnDuplicate::Last;
    let c = combine(s, &rows, &ms).unwrap();
    assert_eq!(c.urls, vec!["v2".to_string()]);
    assert_eq!(c.report.duplicates_resolved[0].2, vec!["v1".to_string()]);
}

#[test]
fn shape_mismatch_names_granules_and_suggests_a_dims_filter() {
    let ms = [
        granule("a", 1, 2, 10),
        granule("b", 1, 3, 10),
        granule("c", 1, 4, 9),
    ];
    let rows = [sel("a", 1, 2), sel("b", 1, 3), sel("c", 1, 4)];
    let e = combine(spec(), &rows, &ms).unwrap_err().to_string();
    assert!(
        e.contains("array \"ssh\" (and 1 more arrays split the same way): shape [10, 4] in 2 (e.g. a); [9, 4] in 1 (e.g. c)"),
        "{e}"
    );
    assert!(e.contains("AND dims['num_lines'] = 10"), "{e}");
}

#[test]
fn codec_and_missing_array_mismatches_are_refused() {
    let mut odd = granule("b", 1, 3, 10);
    odd.root.arrays[0].codecs = vec![Codec::Deflate { level: 9 }];
    odd.root.arrays.remove(1);
    let ms = [granule("a", 1, 2, 10), odd];
    let rows = [sel("a", 1, 2), sel("b", 1, 3)];
    let e = combine(spec(), &rows, &ms).unwrap_err().to_string();
    assert!(e.contains("array \"ssh\": filters"), "{e}");
    assert!(
        e.contains("array \"time\": missing from 1 of 2 granules (e.g. b)"),
        "{e}"
    );
    assert!(
        e.contains("url IN (SELECT url FROM zarr WHERE path = 'ssh' AND filters = "),
        "{e}"
    );
}

#[test]
fn granules_missing_from_the_inventory_are_an_error() {
    let ms = [granule("a", 1, 2, 10)];
    let rows = [sel("a", 1, 2), sel("gone", 1, 3)];
    let e = combine(spec(), &rows, &ms).unwrap_err().to_string();
    assert!(
        e.contains("1 selected granule(s) are not in the inventory (e.g. gone)"),
        "{e}"
    );
}

fn time_spec() -> CombineSpec {
    CombineSpec {
        dims: vec![ConcatDim {
            name: "num_lines".into(),
            existing: true,
        }],
        ..CombineSpec::default()
    }
}

fn t(url: &str, v: i64) -> SelectedGranule {
    SelectedGranule {
        url: url.into(),
        coords: vec![Coord::Int(v)],
    }
}

#[test]
fn existing_dim_concatenates_whole_chunks_in_coordinate_order() {
    let ms = [
        granule("a", 1, 1, 8),
        granule("b", 1, 1, 8),
        granule("c", 1, 1, 6),
    ];
    let c = combine(time_spec(), &[t("c", 30), t("a", 10), t("b", 20)], &ms).unwrap();
    let j = json(&c);
    let z: serde_json::Value =
        serde_json::from_str(j["refs"]["ssh/.zarray"].as_str().unwrap()).unwrap();
    assert_eq!(z["shape"], serde_json::json!([22, 4]));
    assert_eq!(j["refs"]["ssh/2.0"], serde_json::json!(["b", 1000, 50]));
    assert_eq!(j["refs"]["ssh/5.0"], serde_json::json!(["c", 1100, 51]));
    assert!(j["refs"].get("cycle_num/0").is_none());
}

#[test]
fn existing_dim_with_a_partial_chunk_before_the_end_is_refused() {
    let ms = [granule("a", 1, 1, 6), granule("b", 1, 1, 8)];
    let e = combine(time_spec(), &[t("a", 1), t("b", 2)], &ms)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "granule a holds 6 elements along num_lines, not a multiple of the chunk length 4"
        ),
        "{e}"
    );
}

#[test]
fn varying_global_attributes_can_become_arrays() {
    let ms = [
        granule("a", 1, 2, 10),
        granule("b", 1, 4, 10),
        granule("c", 2, 2, 10),
    ];
    let rows = [sel("a", 1, 2), sel("b", 1, 4), sel("c", 2, 2)];
    let mut s = spec();
    s.attrs = AttrPolicy::Array;
    let c = combine(s, &rows, &ms).unwrap();
    let a = c.arrays.iter().find(|a| a.path == "pass_number").unwrap();
    assert_eq!(a.meta.dims, vec!["cycle_num", "pass_num"]);
    // Sparse grid: integers become float64 with NaN in the empty cell.
    assert_eq!(a.meta.dtype, "\"<f8\"");
    let v: Vec<f64> = a.inline[0]
        .1
        .chunks(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(v[..3], [2.0, 4.0, 2.0]);
    assert!(v[3].is_nan());
}

#[test]
fn parquet_records_are_padded_and_hold_the_references() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let ms = [
        granule("s3://b/a.nc", 1, 2, 10),
        granule("s3://b/b.nc", 1, 4, 10),
    ];
    let rows = [sel("s3://b/a.nc", 1, 2), sel("s3://b/b.nc", 1, 4)];
    let c = combine(spec(), &rows, &ms).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("refs.parq");
    let stats = write_parquet(&c, &out, 4).unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join(".zmetadata")).unwrap()).unwrap();
    assert_eq!(meta["record_size"], 4);
    assert_eq!(
        meta["metadata"]["ssh/.zarray"]["shape"],
        serde_json::json!([1, 2, 10, 4])
    );
    // ssh grid 1x2x3x1 = 6 positions → records 0 and 1.
    assert!(out.join("ssh/refs.0.parq").exists() && out.join("ssh/refs.1.parq").exists());
    let r = SerializedFileReader::new(std::fs::File::open(out.join("ssh/refs.1.parq")).unwrap())
        .unwrap();
    assert_eq!(r.metadata().num_row_groups(), 1);
    assert_eq!(r.metadata().file_metadata().num_rows(), 4);
    assert!(r.metadata().file_metadata().key_value_metadata().is_none());
    let rows: Vec<_> = r
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().to_string())
        .collect();
    assert_eq!(
        rows[0],
        "{path: \"s3://b/b.nc\", offset: 1100, size: 51, raw: null}"
    );
    assert_eq!(rows[2], "{path: null, offset: 0, size: 0, raw: null}");
    assert!(stats.files >= 5);
}

#[test]
fn node_paths_that_step_out_of_the_store_are_left_out_not_written() {
    // An inventory written by hand (scans leave such nodes out before it is written).
    let mut ms = [
        granule("s3://b/a.nc", 1, 2, 10),
        granule("s3://b/b.nc", 1, 4, 10),
    ];
    for m in &mut ms {
        let mut evil = m.root.arrays[0].clone();
        evil.path = "../../escaped".into();
        m.root.arrays.push(evil);
    }
    let rows = [sel("s3://b/a.nc", 1, 2), sel("s3://b/b.nc", 1, 4)];
    let c = combine(spec(), &rows, &ms).unwrap();
    assert!(c.arrays.iter().all(|a| !a.path.contains("..")));
    let left = &c.report.skipped_arrays;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0].path, "../../escaped");
    assert!(left[0].reason.contains("cannot name a Zarr node"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b/refs.parq");
    write_parquet(&c, &out, 4).unwrap();
    assert!(!dir.path().join("escaped").exists());
    // Under policy `error` the combine is refused, naming the array.
    let strict = CombineSpec {
        unreferenceable: granary_core::ArrayPolicy::Error,
        ..spec()
    };
    let e = combine(strict, &rows, &ms).unwrap_err().to_string();
    assert!(e.contains("../../escaped"), "{e}");
    // A group so named is an inventory error.
    let mut c = Combiner::new(spec(), &rows).unwrap();
    c.add_group("s3://b/a.nc", "..", Vec::new());
    for m in &ms {
        c.add_manifest(m);
    }
    let e = c.finish().unwrap_err().to_string();
    assert!(e.contains("\"..\" cannot name a Zarr node"), "{e}");
}

#[test]
fn the_parquet_writer_refuses_a_path_out_of_its_directory() {
    let ms = [granule("s3://b/a.nc", 1, 2, 10)];
    let rows = [sel("s3://b/a.nc", 1, 2)];
    let mut c = combine(spec(), &rows, &ms).unwrap();
    c.arrays[0].path = "../outside".into();
    let dir = tempfile::tempdir().unwrap();
    let e = write_parquet(&c, &dir.path().join("o/refs.parq"), 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot name a Zarr node"), "{e}");
    assert!(!dir.path().join("o/outside").exists() && !dir.path().join("outside").exists());
}
