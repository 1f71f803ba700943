//! Synthetic SWOT-like collections, generated directly (no files, no scanning), for benchmarks
//! of the inventory and of combining at the scale of the real collection: 17,564 granules of
//! 95 arrays each (SWOT L2 LR SSH Expert has 584 passes per cycle).

use granary_core::{
    ArrayData, ArrayMeta, AttrValue, Attribute, ByteOrder, ChunkRef, Codec, DType, Dimension,
    GranuleManifest, Group, StorageLayout,
};

/// Passes per SWOT cycle.
pub const PASSES: u32 = 584;

/// The granule of index `i`: cycle `1 + i / 584`, pass `1 + i % 584`; every 97th granule has a
/// shorter along-track shape (as the real collection's partial passes do) and every 1,009th is a
/// reprocessed duplicate (product version 02) of its predecessor's (cycle, pass).
pub fn granule(i: usize, arrays: usize) -> GranuleManifest {
    let (mut cycle, mut pass) = (1 + i as u32 / PASSES, 1 + i as u32 % PASSES);
    let mut version = 1;
    if i % 1009 == 1008 {
        (cycle, pass) = (1 + (i as u32 - 1) / PASSES, 1 + (i as u32 - 1) % PASSES);
        version = 2;
    }
    let num_lines: u64 = if i % 97 == 5 { 9860 } else { 9866 };
    let url = format!(
        "s3://podaac-ops-cumulus-protected/SWOT_L2_LR_SSH_2.0/SWOT_L2_LR_SSH_Expert_{cycle:03}_{pass:03}_20240101T000000_20240101T005000_PIC0_{version:02}.nc"
    );
    let mut root = Group::new("");
    for (name, size) in [
        ("num_lines", num_lines),
        ("num_pixels", 71),
        ("num_sides", 2),
    ] {
        root.dims.push(Dimension {
            name: name.into(),
            size,
            unlimited: false,
        });
    }
    root.attrs
        .push(Attribute::new("cycle_number", AttrValue::Int(cycle.into())));
    root.attrs
        .push(Attribute::new("pass_number", AttrValue::Int(pass.into())));
    // 25 attributes equal in every granule, 5 that vary (like time_coverage_start).
    for k in 0..30 {
        let value = if k < 25 {
            format!("value {k}")
        } else {
            format!("value {k} of granule {i}")
        };
        root.attrs.push(Attribute::new(
            format!("global_attribute_{k:02}"),
            AttrValue::Str(value),
        ));
    }
    let mut offset = 40_000u64;
    for a in 0..arrays {
        let two_d = a % 5 != 0;
        let (dims, shape, chunk_shape) = if two_d {
            (
                vec!["num_lines".to_string(), "num_pixels".to_string()],
                vec![num_lines, 71],
                vec![num_lines.div_ceil(2), 71],
            )
        } else {
            (
                vec!["num_lines".to_string()],
                vec![num_lines],
                vec![num_lines],
            )
        };
        let n_chunks = if two_d { 2 } else { 1 };
        let chunks = (0..n_chunks)
            .map(|c| {
                let size = 20_000 + ((i * 7 + a * 13 + c * 3) % 5000) as u64;
                let r = ChunkRef {
                    index: if two_d { vec![c as u64, 0] } else { vec![0] },
                    offset,
                    size,
                    filter_mask: 0,
                    url: None,
                };
                offset += size;
                r
            })
            .collect();
        let name = format!("var_{a:02}");
        root.arrays.push(ArrayMeta {
            name: name.clone(),
            path: name,
            dims,
            shape,
            dtype: DType::Int {
                size: 4,
                signed: true,
                order: ByteOrder::Little,
            },
            layout: StorageLayout::Chunked,
            chunk_shape,
            codecs: vec![
                Codec::Shuffle { element_size: 4 },
                Codec::Deflate { level: 4 },
            ],
            fill_value: Some(AttrValue::Int(2_147_483_647)),
            storage_fill: None,
            attrs: vec![
                Attribute::new("long_name", AttrValue::Str(format!("variable {a}"))),
                Attribute::new("units", AttrValue::Str("m".into())),
                Attribute::new("scale_factor", AttrValue::Float(1e-4)),
                Attribute::new("valid_min", AttrValue::Int(-1_000_000)),
                Attribute::new("valid_max", AttrValue::Int(1_000_000)),
            ],
            data: ArrayData::Chunks(chunks),
        });
    }
    GranuleManifest {
        url,
        size: Some(offset),
        etag: None,
        root,
        skipped: Vec::new(),
    }
}

/// `n` granules of `arrays` arrays each.
pub fn collection(n: usize, arrays: usize) -> Vec<GranuleManifest> {
    (0..n).map(|i| granule(i, arrays)).collect()
}
