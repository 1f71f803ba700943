//! The inventory tables as Arrow record batches (`docs/inventory.md`), with the columns that make
//! shape and attribute questions natural in SQL: on `granules`, `name` (the file name), `dims`
//! (map of root-group dimension name → length), `attrs` (map of global attribute name → value as
//! text, so `CAST(attrs['cycle_number'] AS INT)` works), and one text column per named capture
//! group of a file-name pattern (e.g. `cycle` and `pass` from SWOT file names).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, MapBuilder, RecordBatch, StringArray, StringBuilder, UInt64Builder,
};
use arrow::datatypes::{Field, Schema};
use granary_core::{AttrValue, GranuleManifest};
use regex::Regex;

use crate::zarr_table::zarr_batch;
use crate::{InventoryError, NamePattern, schema};

/// The inventory tables of a set of granules.
#[derive(Debug, Clone)]
pub struct Inventory {
    pub granules: RecordBatch,
    pub dimensions: RecordBatch,
    pub variables: RecordBatch,
    pub attributes: RecordBatch,
    pub chunks: RecordBatch,
    /// The zarr v2 mapping of every group and array (`docs/inventory.md`), what combining reads.
    pub zarr: RecordBatch,
}

/// An attribute value as map text: strings as they are, everything else as JSON.
fn attr_text(v: &AttrValue) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_json().to_string(),
    }
}

fn file_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

impl Inventory {
    /// Builds the tables as persisted in an inventory directory (no file-name captures).
    pub fn from_manifests(manifests: &[GranuleManifest]) -> Result<Self, InventoryError> {
        let base = schema::granules_batch(manifests)?;
        let mut fields: Vec<Field> = base
            .schema()
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let mut columns: Vec<ArrayRef> = base.columns().to_vec();

        let mut names = StringBuilder::new();
        let mut dims = MapBuilder::new(None, StringBuilder::new(), UInt64Builder::new());
        let mut attrs = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        for m in manifests {
            names.append_value(file_name(&m.url));
            for g in m.root.walk() {
                for d in &g.dims {
                    let key = if g.path.is_empty() {
                        d.name.clone()
                    } else {
                        format!("{}/{}", g.path, d.name)
                    };
                    dims.keys().append_value(key);
                    dims.values().append_value(d.size);
                }
            }
            dims.append(true)?;
            for a in &m.root.attrs {
                attrs.keys().append_value(&a.name);
                attrs.values().append_value(attr_text(&a.value));
            }
            attrs.append(true)?;
        }
        let names = names.finish();
        let dims = dims.finish();
        let attrs = attrs.finish();
        fields.push(Field::new("name", names.data_type().clone(), false));
        fields.push(Field::new("dims", dims.data_type().clone(), false));
        fields.push(Field::new("attrs", attrs.data_type().clone(), false));
        columns.push(Arc::new(names));
        columns.push(Arc::new(dims));
        columns.push(Arc::new(attrs));
        let granules = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?;
        Ok(Self {
            granules,
            dimensions: schema::dimensions_batch(manifests)?,
            variables: schema::variables_batch(manifests)?,
            attributes: schema::attributes_batch(manifests)?,
            chunks: schema::chunks_batch(manifests)?,
            zarr: zarr_batch(manifests)?,
        })
    }

    /// Builds the tables; `name_pattern` (matched against the file name) adds its named groups
    /// as text columns of `granules` (null where the name does not match).
    pub fn build(
        manifests: &[GranuleManifest],
        name_pattern: Option<&NamePattern>,
    ) -> Result<Self, InventoryError> {
        let mut inv = Self::from_manifests(manifests)?;
        if let Some(p) = name_pattern {
            inv.granules = add_captures(&inv.granules, p)?;
        }
        Ok(inv)
    }

    /// The empty tables (their schemas), as persisted.
    pub fn empty() -> Result<Self, InventoryError> {
        Self::from_manifests(&[])
    }

    /// (table name, batch) pairs.
    pub fn tables(&self) -> [(&'static str, &RecordBatch); 6] {
        [
            ("granules", &self.granules),
            ("dimensions", &self.dimensions),
            ("variables", &self.variables),
            ("attributes", &self.attributes),
            ("chunks", &self.chunks),
            ("zarr", &self.zarr),
        ]
    }
}

/// Appends one text column per named group of `re`, captured from the `name` column (null
/// where the name does not match). Groups named like an existing column are an error.
pub fn add_captures(
    granules: &RecordBatch,
    pattern: &NamePattern,
) -> Result<RecordBatch, InventoryError> {
    let re: &Regex = pattern.regex();
    let schema = granules.schema();
    let names = granules
        .column_by_name("name")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| InventoryError::Pattern {
            pattern: re.as_str().to_string(),
            reason: "the granules table has no text column `name`".to_string(),
        })?;
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut columns: Vec<ArrayRef> = granules.columns().to_vec();
    for group in re.capture_names().flatten() {
        if schema.field_with_name(group).is_ok() {
            return Err(InventoryError::Pattern {
                pattern: re.as_str().to_string(),
                reason: format!("group {group:?} would replace the granules column of that name"),
            });
        }
        let mut col = StringBuilder::new();
        for i in 0..names.len() {
            col.append_option(
                names
                    .is_valid(i)
                    .then(|| re.captures(names.value(i)))
                    .flatten()
                    .and_then(|c| c.name(group))
                    .map(|x| x.as_str()),
            );
        }
        let col = col.finish();
        fields.push(Field::new(group, col.data_type().clone(), true));
        columns.push(Arc::new(col));
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
