#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Differential test against libhdf5: every dataset's dtype, shape, chunk shape, filters, fill
//! value and full chunk table (grid position, byte offset, stored size, filter mask) must equal
//! the golden tables that `tests/golden/make_golden.py` wrote with h5py (HDF5 2.0).

use std::path::{Path, PathBuf};

use granary_core::{ArrayData, AttrValue, DType, GranuleManifest};
use serde_json::Value;

use granary_test_utils::data_dir;

fn goldens(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            goldens(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Files granary must reject, with the reason its typed error must give. Everything else must
/// match libhdf5 exactly.
const EXPECTED_ERRORS: &[(&str, &str)] = &[];

/// Datasets granary cannot express: left out of the manifest and listed in `skipped` with this
/// reason, the file's other datasets still compared with libhdf5.
const EXPECTED_SKIPPED: &[(&str, &str, &str)] = &[(
    "corpus/hdf5/hdf5-json/h5ex_d_extern.h5",
    "DS1",
    "external raw data storage",
)];

/// Files libhdf5 refuses to open although their bytes are valid (corpus README): granary reads
/// them; there is no golden table to compare with.
const LIBHDF5_REFUSES: &[&str] =
    &["corpus/hdf5/jhdf/test_byteshuffle_compressed_datasets_latest.hdf5"];

/// Datasets that libhdf5 lists but granary deliberately does not emit as arrays.
fn not_emitted(info: &Value) -> bool {
    info["dim_only"].as_bool() == Some(true) || info["null_space"].as_bool() == Some(true)
}

fn fill_matches(expected: &Value, got: Option<&AttrValue>) -> bool {
    match (expected, got) {
        (Value::Null, None) => true,
        (Value::String(s), Some(v)) if s == "NaN" => v.as_f64().is_some_and(f64::is_nan),
        (Value::Number(n), Some(v)) => v.as_f64() == n.as_f64(),
        (Value::Bool(b), Some(v)) => v.as_i64() == Some(i64::from(*b)),
        (Value::Object(_), Some(_)) => true, // byte fills: compared through the JSON writer tests
        (Value::Null, Some(AttrValue::Compound(_))) => true, // h5py returns no Python value for compound fills
        (Value::Null, Some(v)) => v.as_f64() == Some(0.0),   // undefined fill reads as zeros
        _ => false,
    }
}

fn compare(rel: &str, m: &GranuleManifest, golden: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let datasets = golden["datasets"].as_object().unwrap();
    for (path, info) in datasets {
        if info.get("error").is_some() || not_emitted(info) {
            continue;
        }
        let clean = path.replace("_nc4_non_coord_", "");
        let Some(a) = m.array(&clean) else {
            if m.skipped.iter().any(|s| s.path == clean) {
                continue; // checked against EXPECTED_SKIPPED
            }
            errs.push(format!("{rel}:{path}: missing from manifest"));
            continue;
        };
        let mut check = |what: &str, ok: bool, detail: String| {
            if !ok {
                errs.push(format!("{rel}:{path}: {what} differs: {detail}"));
            }
        };
        let dtype = match &info["dtype"] {
            // h5py shows every variable-length or reference type as a Python object.
            Value::String(s) if s == "|O" => matches!(
                a.dtype,
                DType::VlenString { .. } | DType::Vlen(_) | DType::Reference { .. }
            ),
            Value::String(s) => a.dtype.typestr() == Some(s.clone()),
            // Compounds: same member names and sizes (h5py shows array members as |V<n>).
            Value::Array(members) => match &a.dtype {
                DType::Compound { fields, .. } => {
                    fields.len() == members.len()
                        && fields.iter().zip(members).all(|(f, m)| {
                            let t = m[1].as_str().unwrap_or("");
                            m[0].as_str() == Some(f.name.as_str())
                                && (f.dtype.typestr().as_deref() == Some(t)
                                    || format!("{:?}", f.dtype).contains("Vlen")
                                    || t.get(2..).and_then(|n| n.parse::<usize>().ok())
                                        == Some(f.dtype.size()))
                        })
                }
                _ => false,
            },
            _ => false,
        };
        check(
            "dtype",
            dtype,
            format!("{} vs {}", a.dtype.name(), info["dtype"]),
        );
        let shape: Vec<u64> = serde_json::from_value(info["shape"].clone()).unwrap();
        check(
            "shape",
            a.shape == shape,
            format!("{:?} vs {shape:?}", a.shape),
        );
        if let Some(chunks) = info["chunks"].as_array() {
            let chunks: Vec<u64> = chunks.iter().map(|v| v.as_u64().unwrap()).collect();
            check(
                "chunk shape",
                a.chunk_shape == chunks,
                format!("{:?} vs {chunks:?}", a.chunk_shape),
            );
        }
        check(
            "layout",
            a.layout.as_str() == info["layout"].as_str().unwrap(),
            format!("{:?}", a.layout),
        );
        let ids: Vec<u64> = a.codecs.iter().map(|c| u64::from(c.hdf5_id())).collect();
        let want: Vec<u64> = info["filters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[0].as_u64().unwrap())
            .collect();
        check("filters", ids == want, format!("{ids:?} vs {want:?}"));
        let fill = if info["_FillValue"].is_null() {
            &info["fill"]
        } else {
            &info["_FillValue"]
        };
        if !matches!(a.data, ArrayData::Strings(_)) {
            check(
                "fill value",
                fill_matches(fill, a.fill_value.as_ref()),
                format!("{:?} vs {fill}", a.fill_value),
            );
        }
        if info["layout"] == "compact" {
            continue;
        }
        let chunk_shape: Vec<u64> = a.chunk_shape.clone();
        let mut got: Vec<(Vec<u64>, u64, u64, u32)> = a
            .chunks()
            .iter()
            .map(|c| {
                (
                    c.index
                        .iter()
                        .zip(&chunk_shape)
                        .map(|(i, s)| i * s)
                        .collect(),
                    c.offset,
                    c.size,
                    c.filter_mask,
                )
            })
            .collect();
        if matches!(a.data, ArrayData::Strings(_)) {
            continue; // values embedded; chunk addresses are not written
        }
        got.sort();
        let want: Vec<(Vec<u64>, u64, u64, u32)> = info["chunk_table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    serde_json::from_value(r[0].clone()).unwrap(),
                    r[1].as_u64().unwrap(),
                    r[2].as_u64().unwrap(),
                    r[3].as_u64().unwrap() as u32,
                )
            })
            .collect();
        check(
            "chunk table",
            got == want,
            format!(
                "{} chunks vs {} (first {:?} vs {:?})",
                got.len(),
                want.len(),
                got.first(),
                want.first()
            ),
        );
    }
    errs
}

#[test]
fn manifests_match_libhdf5_golden_tables() {
    let root = data_dir();
    let mut files = Vec::new();
    goldens(&root.join("golden"), &mut files);
    files.sort();
    assert!(
        files.len() >= 10,
        "golden tables missing: run tests/golden/make_golden.py"
    );
    let mut failures = Vec::new();
    let (mut datasets, mut files_ok) = (0usize, 0usize);
    for g in &files {
        let rel = g
            .strip_prefix(root.join("golden"))
            .unwrap()
            .to_string_lossy()
            .trim_end_matches(".json")
            .to_string();
        let golden: Value = serde_json::from_str(&std::fs::read_to_string(g).unwrap()).unwrap();
        let bytes = std::fs::read(root.join(&rel)).unwrap();
        let result = granary_hdf5::scan_bytes(&format!("file:///{rel}"), bytes.into());
        let expected_error = EXPECTED_ERRORS
            .iter()
            .find(|(f, _)| *f == rel)
            .map(|(_, r)| *r);
        match (result, expected_error, golden.get("error")) {
            (Ok(m), None, None) => {
                let mut errs = compare(&rel, &m, &golden);
                let expected: Vec<(&str, &str)> = EXPECTED_SKIPPED
                    .iter()
                    .filter(|(f, _, _)| *f == rel)
                    .map(|(_, p, r)| (*p, *r))
                    .collect();
                let ok = m.skipped.len() == expected.len()
                    && expected.iter().all(|(p, r)| {
                        m.skipped
                            .iter()
                            .any(|s| s.path == *p && s.reason.contains(r))
                    });
                if !ok {
                    errs.push(format!(
                        "{rel}: skipped {:?}, expected {expected:?}",
                        m.skipped
                    ));
                }
                datasets += golden["datasets"].as_object().unwrap().len();
                if errs.is_empty() {
                    files_ok += 1;
                }
                failures.extend(errs);
            }
            (Err(e), Some(reason), _) if e.to_string().contains(reason) => files_ok += 1,
            (Err(_), None, Some(_)) => files_ok += 1, // libhdf5 cannot open it either
            (Ok(_), None, Some(_)) if LIBHDF5_REFUSES.contains(&rel.as_str()) => files_ok += 1,
            (Ok(_), None, Some(err)) => failures.push(format!(
                "{rel}: granary read a file libhdf5 rejects ({err})"
            )),
            (Ok(_), Some(reason), _) => {
                failures.push(format!("{rel}: expected an error containing {reason:?}"))
            }
            (Err(e), _, _) => failures.push(format!("{rel}: {e}")),
        }
    }
    println!(
        "{files_ok} of {} files agree with libhdf5 ({datasets} datasets compared)",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
