//! The Parquet files of an inventory directory: part names, writing a part under its hidden
//! temporary name, and reading parts back.
//!
//! A part file `T/part-NNNNNN.parquet` is first written as `T/.part-NNNNNN.parquet.tmp`: hidden
//! (readers that glob `T/*.parquet` never see it) until the commit that lists it is saved.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow::compute::filter_record_batch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::InventoryError;

pub(crate) fn io(path: &Path, source: std::io::Error) -> InventoryError {
    InventoryError::Io {
        path: path.display().to_string(),
        source,
    }
}

pub(crate) fn bad(path: &Path, reason: impl Into<String>) -> InventoryError {
    InventoryError::Invalid {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// The relative path of `table`'s file of part `id`.
pub(crate) fn part_rel(table: &str, id: u64) -> String {
    format!("{table}/part-{id:06}.parquet")
}

/// Where a part file is written before its commit: `T/.part-N.parquet.tmp`.
pub(crate) fn tmp_path(root: &Path, rel: &str) -> PathBuf {
    let path = root.join(rel);
    let name = path
        .file_name()
        .map(|n| format!(".{}.tmp", n.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(name)
}

/// Whether a file name is one granary writes in a table directory (a part, committed or not):
/// the only files a writer ever removes there.
pub(crate) fn is_part_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let committed = |s: &str| {
        s.strip_prefix("part-")
            .and_then(|s| s.strip_suffix(".parquet"))
            .is_some_and(digits)
    };
    committed(name)
        || name
            .strip_prefix('.')
            .and_then(|n| n.strip_suffix(".tmp"))
            .is_some_and(committed)
        || name.strip_suffix(".tmp").is_some_and(committed)
}

/// Writes `batch` at the temporary path of `rel` (zstd, page statistics, fsync).
pub(crate) fn write_tmp(root: &Path, rel: &str, batch: &RecordBatch) -> Result<(), InventoryError> {
    let tmp = tmp_path(root, rel);
    if let Some(parent) = tmp.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    let file = File::create(&tmp).map_err(|e| io(&tmp, e))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .build();
    let parquet = |source| InventoryError::Parquet {
        path: tmp.display().to_string(),
        source,
    };
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(parquet)?;
    w.write(batch).map_err(parquet)?;
    let file = w.into_inner().map_err(parquet)?;
    file.sync_all().map_err(|e| io(&tmp, e))
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<RecordBatch>, InventoryError> {
    read_columns(path, None)
}

/// The batches of one part file, only `columns` (by name; `None`: all) read.
pub(crate) fn read_columns(
    path: &Path,
    columns: Option<&[&str]>,
) -> Result<Vec<RecordBatch>, InventoryError> {
    let file = File::open(path).map_err(|e| io(path, e))?;
    let parquet = |source| InventoryError::Parquet {
        path: path.display().to_string(),
        source,
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(parquet)?;
    let builder = match columns {
        Some(names) => {
            let mask = parquet::arrow::ProjectionMask::columns(
                builder.parquet_schema(),
                names.iter().copied(),
            );
            builder.with_projection(mask)
        }
        None => builder,
    };
    let reader = builder.build().map_err(parquet)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parquet(e.into()))
}

pub(crate) fn string_column<'a>(
    b: &'a RecordBatch,
    name: &str,
    f: &Path,
) -> Result<&'a StringArray, InventoryError> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| bad(f, format!("column `{name}` missing or not text")))
}

pub(crate) fn read_column(path: &Path, name: &str) -> Result<Vec<String>, InventoryError> {
    let mut out = Vec::new();
    for b in read_file(path)? {
        let c = string_column(&b, name, path)?;
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    Ok(out)
}

/// The rows of `b` whose `url` is not in `drop`.
pub(crate) fn without_urls(
    b: &RecordBatch,
    drop: &HashSet<String>,
    f: &Path,
) -> Result<RecordBatch, InventoryError> {
    let url = string_column(b, "url", f)?;
    let keep: BooleanArray = url
        .iter()
        .map(|u| Some(!u.is_some_and(|u| drop.contains(u))))
        .collect();
    Ok(filter_record_batch(b, &keep)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_part_files_are_ours() {
        for n in [
            "part-000001.parquet",
            ".part-000001.parquet.tmp",
            "part-12.parquet.tmp",
        ] {
            assert!(is_part_name(n), "{n}");
        }
        for n in [
            "notes.txt",
            "part-.parquet",
            "part-1.parquet.bak",
            "x.parquet",
            ".lock",
        ] {
            assert!(!is_part_name(n), "{n}");
        }
        assert_eq!(
            tmp_path(Path::new("/i"), "chunks/part-000003.parquet"),
            PathBuf::from("/i/chunks/.part-000003.parquet.tmp")
        );
    }
}
