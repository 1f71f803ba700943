//! Arrow schemas of the inventory tables (`granules`, `dimensions`, `variables`, `attributes`,
//! `chunks`) and the conversion of manifests into record batches. The columns are documented in
//! `docs/inventory.md`; keep the two in step.

use std::sync::Arc;

use arrow::array::builder::{
    BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, StringBuilder, UInt32Builder,
    UInt64Builder,
};
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

use granary_core::{ArrayMeta, Attribute, GranuleManifest};

fn list_of(item: DataType) -> DataType {
    DataType::List(Arc::new(Field::new("item", item, true)))
}

fn utf8(name: &str) -> Field {
    Field::new(name, DataType::Utf8, false)
}

pub fn granules_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("url"),
        Field::new("size", DataType::UInt64, true),
        Field::new("etag", DataType::Utf8, true),
        Field::new("n_groups", DataType::UInt32, false),
        Field::new("n_arrays", DataType::UInt32, false),
        Field::new("n_chunks", DataType::UInt64, false),
        Field::new("stored_bytes", DataType::UInt64, false),
    ]))
}

pub fn dimensions_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("url"),
        utf8("group"),
        utf8("name"),
        Field::new("size", DataType::UInt64, false),
        Field::new("unlimited", DataType::Boolean, false),
    ]))
}

pub fn variables_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("url"),
        utf8("path"),
        utf8("group"),
        utf8("name"),
        utf8("dtype"),
        Field::new("dims", list_of(DataType::Utf8), false),
        Field::new("shape", list_of(DataType::UInt64), false),
        Field::new("chunk_shape", list_of(DataType::UInt64), false),
        utf8("layout"),
        utf8("codecs"),
        Field::new("fill_value", DataType::Utf8, true),
        Field::new("n_chunks", DataType::UInt64, false),
        Field::new("stored_bytes", DataType::UInt64, false),
    ]))
}

pub fn attributes_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("url"),
        utf8("path"),
        utf8("name"),
        utf8("kind"),
        utf8("value"),
        Field::new("int_value", DataType::Int64, true),
        Field::new("float_value", DataType::Float64, true),
        Field::new("string_value", DataType::Utf8, true),
    ]))
}

pub fn chunks_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        utf8("url"),
        utf8("path"),
        Field::new("index", list_of(DataType::UInt64), false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("size", DataType::UInt64, false),
        Field::new("filter_mask", DataType::UInt32, false),
        Field::new("chunk_url", DataType::Utf8, true),
    ]))
}

fn finish(schema: SchemaRef, cols: Vec<ArrayRef>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_new(schema, cols)
}

/// One row per granule.
pub fn granules_batch(granules: &[GranuleManifest]) -> Result<RecordBatch, ArrowError> {
    let (mut url, mut size) = (StringBuilder::new(), UInt64Builder::new());
    let mut etag = StringBuilder::new();
    let (mut ng, mut na) = (UInt32Builder::new(), UInt32Builder::new());
    let (mut nc, mut sb) = (UInt64Builder::new(), UInt64Builder::new());
    for g in granules {
        url.append_value(&g.url);
        size.append_option(g.size);
        etag.append_option(g.etag.as_deref());
        ng.append_value(g.root.walk().len() as u32);
        na.append_value(g.arrays().count() as u32);
        nc.append_value(g.arrays().map(|a| a.chunks().len() as u64).sum());
        sb.append_value(g.arrays().map(ArrayMeta::stored_bytes).sum());
    }
    finish(
        granules_schema(),
        vec![
            Arc::new(url.finish()),
            Arc::new(size.finish()),
            Arc::new(etag.finish()),
            Arc::new(ng.finish()),
            Arc::new(na.finish()),
            Arc::new(nc.finish()),
            Arc::new(sb.finish()),
        ],
    )
}

/// One row per dimension per group per granule.
pub fn dimensions_batch(granules: &[GranuleManifest]) -> Result<RecordBatch, ArrowError> {
    let (mut url, mut group, mut name) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut size, mut unlim) = (UInt64Builder::new(), BooleanBuilder::new());
    for g in granules {
        for grp in g.root.walk() {
            for d in &grp.dims {
                url.append_value(&g.url);
                group.append_value(&grp.path);
                name.append_value(&d.name);
                size.append_value(d.size);
                unlim.append_value(d.unlimited);
            }
        }
    }
    finish(
        dimensions_schema(),
        vec![
            Arc::new(url.finish()),
            Arc::new(group.finish()),
            Arc::new(name.finish()),
            Arc::new(size.finish()),
            Arc::new(unlim.finish()),
        ],
    )
}

/// One row per array per granule.
pub fn variables_batch(granules: &[GranuleManifest]) -> Result<RecordBatch, ArrowError> {
    let mut s: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let mut dims = ListBuilder::new(StringBuilder::new());
    let mut shape = ListBuilder::new(UInt64Builder::new());
    let mut cshape = ListBuilder::new(UInt64Builder::new());
    let (mut layout, mut codecs, mut fill) = (
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut nch, mut sb) = (UInt64Builder::new(), UInt64Builder::new());
    for g in granules {
        for grp in g.root.walk() {
            for a in &grp.arrays {
                s[0].append_value(&g.url);
                s[1].append_value(&a.path);
                s[2].append_value(&grp.path);
                s[3].append_value(&a.name);
                s[4].append_value(a.dtype.typestr().unwrap_or_else(|| a.dtype.name()));
                for d in &a.dims {
                    dims.values().append_value(d);
                }
                dims.append(true);
                shape.values().append_slice(&a.shape);
                shape.append(true);
                cshape.values().append_slice(&a.chunk_shape);
                cshape.append(true);
                layout.append_value(a.layout.as_str());
                codecs.append_value(
                    a.codecs
                        .iter()
                        .map(|c| c.label())
                        .collect::<Vec<_>>()
                        .join(","),
                );
                fill.append_option(a.fill_value.as_ref().map(|v| v.to_json().to_string()));
                nch.append_value(a.chunks().len() as u64);
                sb.append_value(a.stored_bytes());
            }
        }
    }
    let mut cols: Vec<ArrayRef> = s
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    cols.push(Arc::new(dims.finish()));
    cols.push(Arc::new(shape.finish()));
    cols.push(Arc::new(cshape.finish()));
    cols.push(Arc::new(layout.finish()));
    cols.push(Arc::new(codecs.finish()));
    cols.push(Arc::new(fill.finish()));
    cols.push(Arc::new(nch.finish()));
    cols.push(Arc::new(sb.finish()));
    finish(variables_schema(), cols)
}

/// One row per attribute of every group and array (`path` is the owner's path).
pub fn attributes_batch(granules: &[GranuleManifest]) -> Result<RecordBatch, ArrowError> {
    let mut s: Vec<StringBuilder> = (0..5).map(|_| StringBuilder::new()).collect();
    let (mut iv, mut fv, mut sv) = (
        Int64Builder::new(),
        Float64Builder::new(),
        StringBuilder::new(),
    );
    let mut push = |url: &str, path: &str, a: &Attribute| {
        s[0].append_value(url);
        s[1].append_value(path);
        s[2].append_value(&a.name);
        s[3].append_value(a.value.kind());
        s[4].append_value(a.value.to_json().to_string());
        iv.append_option(a.value.as_i64());
        fv.append_option(a.value.as_f64());
        sv.append_option(a.value.as_str());
    };
    for g in granules {
        for grp in g.root.walk() {
            for a in &grp.attrs {
                push(&g.url, &grp.path, a);
            }
            for arr in &grp.arrays {
                for a in &arr.attrs {
                    push(&g.url, &arr.path, a);
                }
            }
        }
    }
    let mut cols: Vec<ArrayRef> = s
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    cols.push(Arc::new(iv.finish()));
    cols.push(Arc::new(fv.finish()));
    cols.push(Arc::new(sv.finish()));
    finish(attributes_schema(), cols)
}

/// One row per stored chunk.
pub fn chunks_batch(granules: &[GranuleManifest]) -> Result<RecordBatch, ArrowError> {
    let (mut url, mut path) = (StringBuilder::new(), StringBuilder::new());
    let mut index = ListBuilder::new(UInt64Builder::new());
    let (mut off, mut size, mut mask) = (
        UInt64Builder::new(),
        UInt64Builder::new(),
        UInt32Builder::new(),
    );
    let mut curl = StringBuilder::new();
    for g in granules {
        for a in g.arrays() {
            for c in a.chunks() {
                url.append_value(&g.url);
                path.append_value(&a.path);
                index.values().append_slice(&c.index);
                index.append(true);
                off.append_value(c.offset);
                size.append_value(c.size);
                mask.append_value(c.filter_mask);
                curl.append_option(c.url.as_deref());
            }
        }
    }
    finish(
        chunks_schema(),
        vec![
            Arc::new(url.finish()),
            Arc::new(path.finish()),
            Arc::new(index.finish()),
            Arc::new(off.finish()),
            Arc::new(size.finish()),
            Arc::new(mask.finish()),
            Arc::new(curl.finish()),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use granary_core::{
        ArrayData, AttrValue, ByteOrder, ChunkRef, DType, Dimension, Group, StorageLayout,
    };

    fn sample() -> GranuleManifest {
        let mut root = Group::new("");
        root.dims.push(Dimension {
            name: "x".into(),
            size: 4,
            unlimited: false,
        });
        root.attrs
            .push(Attribute::new("cycle_number", AttrValue::Int(7)));
        root.arrays.push(ArrayMeta {
            name: "v".into(),
            path: "v".into(),
            dims: vec!["x".into()],
            shape: vec![4],
            dtype: DType::Float {
                size: 4,
                order: ByteOrder::Little,
            },
            layout: StorageLayout::Chunked,
            chunk_shape: vec![2],
            codecs: vec![],
            fill_value: Some(AttrValue::Float(f64::NAN)),
            storage_fill: None,
            attrs: vec![Attribute::new("units", AttrValue::Str("m".into()))],
            data: ArrayData::Chunks(vec![
                ChunkRef {
                    index: vec![0],
                    offset: 100,
                    size: 8,
                    filter_mask: 0,
                    url: None,
                },
                ChunkRef {
                    index: vec![1],
                    offset: 108,
                    size: 8,
                    filter_mask: 0,
                    url: None,
                },
            ]),
        });
        GranuleManifest {
            url: "file:///g.nc".into(),
            size: Some(1000),
            etag: None,
            root,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn batches_have_expected_rows() {
        let g = [sample()];
        assert_eq!(granules_batch(&g).unwrap().num_rows(), 1);
        assert_eq!(dimensions_batch(&g).unwrap().num_rows(), 1);
        assert_eq!(variables_batch(&g).unwrap().num_rows(), 1);
        assert_eq!(attributes_batch(&g).unwrap().num_rows(), 2);
        let chunks = chunks_batch(&g).unwrap();
        assert_eq!(chunks.num_rows(), 2);
        assert_eq!(chunks.schema(), chunks_schema());
    }
}
