//! The `zarr` inventory table: one row per group and per array of every granule, holding the
//! zarr v2 fields a reference set would contain for it (granary-refs' mapping, docs/kerchunk-reference.md
//! sections 1.6-2). Combining reads this table and `chunks`, never the granules themselves.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryBuilder, ListBuilder, MapBuilder, RecordBatch, StringArray,
    StringBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use granary_core::GranuleManifest;
use granary_refs::zarr::attr_texts;
use granary_refs::{ZarrArray, zarr_array};

use crate::{ErrorRow, InventoryError};

struct Columns {
    url: StringBuilder,
    path: StringBuilder,
    node: StringBuilder,
    dims: ListBuilder<StringBuilder>,
    shape: ListBuilder<UInt64Builder>,
    chunks: ListBuilder<UInt64Builder>,
    dtype: StringBuilder,
    fill_value: StringBuilder,
    filters: StringBuilder,
    attrs: MapBuilder<StringBuilder, StringBuilder>,
    embedded: BinaryBuilder,
    trim: UInt64Builder,
    unwritten: BinaryBuilder,
    error: StringBuilder,
}

impl Columns {
    fn new() -> Self {
        Self {
            url: StringBuilder::new(),
            path: StringBuilder::new(),
            node: StringBuilder::new(),
            dims: ListBuilder::new(StringBuilder::new()),
            shape: ListBuilder::new(UInt64Builder::new()),
            chunks: ListBuilder::new(UInt64Builder::new()),
            dtype: StringBuilder::new(),
            fill_value: StringBuilder::new(),
            filters: StringBuilder::new(),
            attrs: MapBuilder::new(None, StringBuilder::new(), StringBuilder::new()),
            embedded: BinaryBuilder::new(),
            trim: UInt64Builder::new(),
            unwritten: BinaryBuilder::new(),
            error: StringBuilder::new(),
        }
    }

    fn attrs(&mut self, attrs: &[(String, String)]) -> Result<(), InventoryError> {
        for (k, v) in attrs {
            self.attrs.keys().append_value(k);
            self.attrs.values().append_value(v);
        }
        self.attrs.append(true)?;
        Ok(())
    }

    fn array(&mut self, z: Option<&ZarrArray>) {
        match z {
            Some(z) => {
                for d in &z.dims {
                    self.dims.values().append_value(d);
                }
                self.dims.append(true);
                self.shape.values().append_slice(&z.shape);
                self.shape.append(true);
                self.chunks.values().append_slice(&z.chunks);
                self.chunks.append(true);
                self.dtype.append_value(&z.dtype);
                self.fill_value.append_value(&z.fill_value);
                self.filters.append_value(&z.filters);
                self.embedded.append_option(z.embedded.as_deref());
                self.trim.append_value(z.trim);
                self.unwritten.append_option(z.unwritten.as_deref());
            }
            None => {
                self.dims.append_null();
                self.shape.append_null();
                self.chunks.append_null();
                self.dtype.append_null();
                self.fill_value.append_null();
                self.filters.append_null();
                self.embedded.append_null();
                self.trim.append_null();
                self.unwritten.append_null();
            }
        }
    }

    fn finish(mut self) -> Result<RecordBatch, InventoryError> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.url.finish()),
            Arc::new(self.path.finish()),
            Arc::new(self.node.finish()),
            Arc::new(self.dims.finish()),
            Arc::new(self.shape.finish()),
            Arc::new(self.chunks.finish()),
            Arc::new(self.dtype.finish()),
            Arc::new(self.fill_value.finish()),
            Arc::new(self.filters.finish()),
            Arc::new(self.attrs.finish()),
            Arc::new(self.embedded.finish()),
            Arc::new(self.trim.finish()),
            Arc::new(self.unwritten.finish()),
            Arc::new(self.error.finish()),
        ];
        let fields: Vec<Field> = zarr_schema()
            .fields()
            .iter()
            .zip(&cols)
            .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), f.is_nullable()))
            .collect();
        Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)
    }
}

/// The columns of the `zarr` table (list and map value types as the builders make them).
pub fn zarr_schema() -> SchemaRef {
    let utf8 = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let list = |n: &str, t: DataType| {
        Field::new(
            n,
            DataType::List(Arc::new(Field::new("item", t, true))),
            true,
        )
    };
    let map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
        .finish()
        .data_type()
        .clone();
    Arc::new(Schema::new(vec![
        utf8("url", false),
        utf8("path", false),
        utf8("node", false),
        list("dims", DataType::Utf8),
        list("shape", DataType::UInt64),
        list("chunks", DataType::UInt64),
        utf8("dtype", true),
        utf8("fill_value", true),
        utf8("filters", true),
        Field::new("attrs", map, false),
        Field::new("embedded", DataType::Binary, true),
        Field::new("trim", DataType::UInt64, true),
        Field::new("unwritten", DataType::Binary, true),
        utf8("error", true),
    ]))
}

/// The `zarr` table of `manifests`.
pub fn zarr_batch(manifests: &[GranuleManifest]) -> Result<RecordBatch, InventoryError> {
    let mut c = Columns::new();
    for m in manifests {
        for g in m.root.walk() {
            c.url.append_value(&m.url);
            c.path.append_value(&g.path);
            c.node.append_value("group");
            c.attrs(&attr_texts(&g.attrs))?;
            c.array(None);
            c.error.append_null();
            for a in &g.arrays {
                c.url.append_value(&m.url);
                c.path.append_value(&a.path);
                c.node.append_value("array");
                match zarr_array(&m.url, a) {
                    Ok(z) => {
                        c.attrs(&z.attrs)?;
                        c.array(Some(&z));
                        c.error.append_null();
                    }
                    Err(e) => {
                        c.attrs(&[])?;
                        c.array(None);
                        c.error.append_value(e.to_string());
                    }
                }
            }
        }
        // Arrays left out under the per-array policy: rows with only the reason, so that
        // combining refuses or leaves them out by policy, and `errors` lists them.
        for s in &m.skipped {
            c.url.append_value(&m.url);
            c.path.append_value(&s.path);
            c.node.append_value("array");
            c.attrs(&[])?;
            c.array(None);
            c.error.append_value(&s.reason);
        }
    }
    c.finish()
}

/// The arrays of a `zarr` batch that have no zarr form (their `error` is set), as rows of the
/// `errors` table (stage `array`); `file` names the batch's origin in errors.
pub fn unreferenced_rows(batch: &RecordBatch, file: &str) -> Result<Vec<ErrorRow>, InventoryError> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| InventoryError::Invalid {
                path: file.to_string(),
                reason: format!("zarr table without a text column `{name}`"),
            })
    };
    let (url, path, node, error) = (
        column("url")?,
        column("path")?,
        column("node")?,
        column("error")?,
    );
    Ok((0..batch.num_rows())
        .filter(|i| error.is_valid(*i) && node.value(*i) == "array")
        .map(|i| ErrorRow {
            url: url.value(i).to_string(),
            stage: "array".into(),
            message: error.value(i).to_string(),
            array: Some(path.value(i).to_string()),
        })
        .collect())
}
