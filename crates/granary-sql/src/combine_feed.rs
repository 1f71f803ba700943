//! Feeding the combiner from the inventory's `zarr` and `chunks` tables (`docs/combine.md`,
//! first section). Rows are read in place: list and map cells through their offsets into
//! the batch's value arrays, attributes borrowed from the batch. A row costs no allocation
//! unless it differs from the first granule's, which matters at one row per array and granule.

use std::collections::HashMap;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, GenericListArray, MapArray, RecordBatch, StringArray,
    UInt64Array,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, UInt64Type};
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use granary_io::ReadScope;
use granary_refs::{Combiner, ZarrArray};

use crate::SqlError;

/// A column of an inventory table, by name.
fn column<'a>(b: &'a RecordBatch, table: &str, name: &str) -> Result<&'a ArrayRef, SqlError> {
    b.column_by_name(name)
        .ok_or_else(|| SqlError::MissingColumn {
            column: format!("{table}.{name}"),
        })
}

/// A column as text (`Utf8` as is; other string encodings cast).
pub(crate) fn text_column(col: &ArrayRef) -> Result<StringArray, SqlError> {
    Ok(cast(col, &DataType::Utf8)?.as_string::<i32>().clone())
}

fn wrong_type(table: &str, name: &str, col: &dyn Array, expected: &'static str) -> SqlError {
    SqlError::ColumnType {
        column: format!("{table}.{name}"),
        data_type: col.data_type().to_string(),
        expected,
    }
}

fn text(b: &RecordBatch, table: &str, name: &str) -> Result<StringArray, SqlError> {
    text_column(column(b, table, name)?)
}

fn list<'a>(
    b: &'a RecordBatch,
    table: &str,
    name: &str,
) -> Result<&'a GenericListArray<i32>, SqlError> {
    let col = column(b, table, name)?;
    col.as_list_opt::<i32>()
        .ok_or_else(|| wrong_type(table, name, col, "a list"))
}

fn binary<'a>(b: &'a RecordBatch, table: &str, name: &str) -> Result<&'a BinaryArray, SqlError> {
    let col = column(b, table, name)?;
    col.as_binary_opt::<i32>()
        .ok_or_else(|| wrong_type(table, name, col, "binary"))
}

fn uint64<'a>(b: &'a RecordBatch, table: &str, name: &str) -> Result<&'a UInt64Array, SqlError> {
    let col = column(b, table, name)?;
    col.as_primitive_opt::<UInt64Type>()
        .ok_or_else(|| wrong_type(table, name, col, "UInt64"))
}

/// The values of a list column of unsigned integers, by row through its offsets.
struct U64Lists<'a> {
    offsets: &'a [i32],
    values: &'a [u64],
}

impl<'a> U64Lists<'a> {
    fn new(b: &'a RecordBatch, table: &str, name: &str) -> Result<Self, SqlError> {
        let l = list(b, table, name)?;
        let values = l
            .values()
            .as_primitive_opt::<UInt64Type>()
            .ok_or_else(|| wrong_type(table, name, l, "a list of UInt64"))?;
        Ok(Self {
            offsets: l.value_offsets(),
            values: values.values(),
        })
    }

    fn row(&self, i: usize) -> &'a [u64] {
        &self.values[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }
}

/// The values of a list (or map entries) column of text, by row through its offsets.
struct TextLists<'a> {
    offsets: &'a [i32],
    values: &'a StringArray,
}

impl<'a> TextLists<'a> {
    fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i] as usize..self.offsets[i + 1] as usize
    }
}

/// granule URL → combiner, remembering the last URL: an inventory part holds a granule's rows
/// together, so a batch costs one hash lookup per granule rather than per row.
struct PartOf<'m, 'b> {
    map: &'m HashMap<String, usize>,
    last: Option<(&'b str, Option<usize>)>,
}

impl<'m, 'b> PartOf<'m, 'b> {
    fn new(map: &'m HashMap<String, usize>) -> Self {
        Self { map, last: None }
    }

    fn get(&mut self, url: &'b str) -> Option<usize> {
        match self.last {
            Some((u, p)) if u == url => p,
            _ => {
                let p = self.map.get(url).copied();
                self.last = Some((url, p));
                p
            }
        }
    }
}

/// Streams the `zarr` table into the combiners (`part_of`: granule URL → combiner).
pub(crate) async fn feed_zarr(
    ctx: &SessionContext,
    combiners: &mut [Combiner],
    part_of: &HashMap<String, usize>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<(), SqlError> {
    const T: &str = "zarr";
    let mut stream = ctx
        .sql("SELECT * FROM zarr")
        .await?
        .execute_stream()
        .await?;
    let mut z = ZarrArray {
        dims: Vec::new(),
        shape: Vec::new(),
        chunks: Vec::new(),
        dtype: String::new(),
        fill_value: String::new(),
        filters: String::new(),
        attrs: Vec::new(),
        embedded: None,
        trim: 0,
        unwritten: None,
    };
    while let Some(b) = stream.next().await {
        let b = b?;
        let url = text(&b, T, "url")?;
        let path = text(&b, T, "path")?;
        let node = text(&b, T, "node")?;
        let dtype = text(&b, T, "dtype")?;
        let fill = text(&b, T, "fill_value")?;
        let filters = text(&b, T, "filters")?;
        let error = text(&b, T, "error")?;
        let dims_list = list(&b, T, "dims")?;
        let dims_text = text_column(dims_list.values())?;
        let dims = TextLists {
            offsets: dims_list.value_offsets(),
            values: &dims_text,
        };
        let shape = U64Lists::new(&b, T, "shape")?;
        let chunks = U64Lists::new(&b, T, "chunks")?;
        let attrs_col = column(&b, T, "attrs")?;
        let attrs: &MapArray = attrs_col
            .as_map_opt()
            .ok_or_else(|| wrong_type(T, "attrs", attrs_col, "a map"))?;
        let (names, values) = (text_column(attrs.keys())?, text_column(attrs.values())?);
        let entries = TextLists {
            offsets: attrs.value_offsets(),
            values: &names,
        };
        let embedded = binary(&b, T, "embedded")?;
        let trim = uint64(&b, T, "trim")?;
        let unwritten = binary(&b, T, "unwritten")?;
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        let mut part = PartOf::new(part_of);
        for i in 0..b.num_rows() {
            let u = url.value(i);
            let Some(p) = part.get(u) else { continue };
            let c = &mut combiners[p];
            pairs.clear();
            pairs.extend(
                entries
                    .range(i)
                    .map(|j| (entries.values.value(j), values.value(j))),
            );
            if node.value(i) == "group" {
                let owned = pairs
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                c.add_group(u, path.value(i), owned);
                continue;
            }
            if !keep(path.value(i)) {
                continue;
            }
            if error.is_valid(i) {
                c.add_unrepresentable(u, path.value(i), error.value(i));
                continue;
            }
            set_texts(&mut z.dims, dims.range(i).map(|j| dims.values.value(j)));
            z.shape.clear();
            z.shape.extend_from_slice(shape.row(i));
            z.chunks.clear();
            z.chunks.extend_from_slice(chunks.row(i));
            set_text(&mut z.dtype, dtype.value(i));
            set_text(&mut z.fill_value, fill.value(i));
            set_text(&mut z.filters, filters.value(i));
            z.embedded = embedded.is_valid(i).then(|| embedded.value(i).to_vec());
            z.trim = trim.value(i);
            z.unwritten = unwritten.is_valid(i).then(|| unwritten.value(i).to_vec());
            c.add_array_with_attrs(u, path.value(i), &z, &pairs);
        }
    }
    Ok(())
}

fn set_text(s: &mut String, v: &str) {
    s.clear();
    s.push_str(v);
}

/// Makes `out` hold `values`, reusing its strings' buffers.
fn set_texts<'a>(out: &mut Vec<String>, values: impl Iterator<Item = &'a str>) {
    let mut n = 0;
    for v in values {
        match out.get_mut(n) {
            Some(s) => set_text(s, v),
            None => out.push(v.to_string()),
        }
        n += 1;
    }
    out.truncate(n);
}

/// Streams the `chunks` table into the combiners; a chunk URL outside its granule's store (an
/// inventory written by hand or by an older granary) is refused before anything reads it.
pub(crate) async fn feed_chunks(
    ctx: &SessionContext,
    combiners: &mut [Combiner],
    part_of: &HashMap<String, usize>,
    scope: &ReadScope,
    keep: &dyn Fn(&str) -> bool,
) -> Result<(), SqlError> {
    const T: &str = "chunks";
    let sql = "SELECT url, path, \"index\", \"offset\", size, chunk_url FROM chunks";
    let mut stream = ctx.sql(sql).await?.execute_stream().await?;
    while let Some(b) = stream.next().await {
        let b = b?;
        let url = text(&b, T, "url")?;
        let path = text(&b, T, "path")?;
        let chunk_url = text(&b, T, "chunk_url")?;
        let index = U64Lists::new(&b, T, "index")?;
        let offset = uint64(&b, T, "offset")?;
        let size = uint64(&b, T, "size")?;
        let mut part = PartOf::new(part_of);
        for i in 0..b.num_rows() {
            let u = url.value(i);
            let Some(p) = part.get(u) else { continue };
            if !keep(path.value(i)) {
                continue;
            }
            let cu = chunk_url.is_valid(i).then(|| chunk_url.value(i));
            if let Some(target) = cu {
                scope.check(u, target).map_err(SqlError::Href)?;
            }
            combiners[p].add_chunk(
                u,
                path.value(i),
                index.row(i),
                offset.value(i),
                size.value(i),
                cu,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_replaced_in_place() {
        let mut v = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        set_texts(&mut v, ["x", "y"].into_iter());
        assert_eq!(v, ["x", "y"]);
        set_texts(&mut v, ["p", "q", "r"].into_iter());
        assert_eq!(v, ["p", "q", "r"]);
        set_texts(&mut v, std::iter::empty());
        assert!(v.is_empty());
    }
}
