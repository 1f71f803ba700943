//! Differential test against libhdf5 linked from Rust (`hdf5-metno`, Debian's libhdf5 1.10):
//! for every test file libhdf5 can open, every dataset's shape, chunk shape and full chunk table
//! (element offset, address, stored size, filter mask) must equal granary's. Files written with
//! newer formats than libhdf5 1.10 reads (layout v4/v5) are covered by the h5py golden tables.
//! Run: `cargo test -p granary-hdf5 --features libhdf5 --test libhdf5_diff`.
#![cfg(feature = "libhdf5")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use granary_hdf5::libhdf5::chunk_tables;

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if !p.ends_with("golden") {
                files(&p, out);
            }
        } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
            [".h5", ".nc", ".nc4", ".hdf5"]
                .iter()
                .any(|s| n.ends_with(s))
        }) {
            out.push(p);
        }
    }
}

#[test]
fn chunk_tables_match_libhdf5() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data");
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let (mut compared_files, mut compared, mut lib_refused) = (0, 0, 0);
    let mut failures = Vec::new();
    for path in &all {
        let Ok(lib) = chunk_tables(path) else {
            lib_refused += 1;
            continue;
        };
        let Ok(ours) = granary_hdf5::scan_bytes("file:///x", std::fs::read(path).unwrap().into())
        else {
            // granary rejects it (external storage etc.): the golden test checks the reason.
            continue;
        };
        compared_files += 1;
        for (name, d) in &lib {
            let clean = name.replace("_nc4_non_coord_", "");
            // A dimension scale `x` next to a variable `_nc4_non_coord_x`: granary names the
            // variable `x` and keeps the scale as a dimension only.
            let (dir, base) = name
                .rsplit_once('/')
                .map_or(("", name.as_str()), |(d, b)| (d, b));
            let shadow = if dir.is_empty() {
                format!("_nc4_non_coord_{base}")
            } else {
                format!("{dir}/_nc4_non_coord_{base}")
            };
            if lib.contains_key(&shadow) {
                continue;
            }
            let Some(a) = ours.array(&clean) else {
                continue;
            }; // dimension-only scales, null spaces
            compared += 1;
            let rel = path.strip_prefix(&root).unwrap().display();
            if a.shape != d.shape {
                failures.push(format!(
                    "{rel}:{name}: shape {:?} vs {:?}",
                    a.shape, d.shape
                ));
            }
            if let Some(c) = &d.chunk_shape
                && &a.chunk_shape != c
            {
                failures.push(format!(
                    "{rel}:{name}: chunk shape {:?} vs {c:?}",
                    a.chunk_shape
                ));
            }
            if matches!(
                a.data,
                granary_core::ArrayData::Strings(_) | granary_core::ArrayData::Inline(_)
            ) {
                continue;
            }
            let mut got: Vec<(Vec<u64>, u64, u64, u32)> = a
                .chunks()
                .iter()
                .map(|c| {
                    (
                        c.index
                            .iter()
                            .zip(&a.chunk_shape)
                            .map(|(i, s)| i * s)
                            .collect(),
                        c.offset,
                        c.size,
                        c.filter_mask,
                    )
                })
                .collect();
            got.sort();
            let want: Vec<(Vec<u64>, u64, u64, u32)> = d
                .chunks
                .iter()
                .map(|c| (c.offset.clone(), c.addr, c.size, c.filter_mask))
                .collect();
            if got != want {
                failures.push(format!(
                    "{rel}:{name}: {} chunks vs {} (first {:?} vs {:?})",
                    got.len(),
                    want.len(),
                    got.first(),
                    want.first()
                ));
            }
        }
    }
    println!(
        "{compared_files} files, {compared} datasets compared with libhdf5; {lib_refused} files libhdf5 1.10 cannot open"
    );
    assert!(
        compared_files >= 100 && compared >= 1000,
        "too little compared: {compared_files} files, {compared} datasets"
    );
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
