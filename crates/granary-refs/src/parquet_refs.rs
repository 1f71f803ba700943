//! kerchunk Parquet references (docs/kerchunk-reference.md section 3), written with the settings that
//! fsspec's `LazyReferenceMapper` reads under pandas 2 and 3 (section 3.6):
//!
//! ```text
//! OUT/.zmetadata                {"metadata": {key: object}, "record_size": N}
//! OUT/<array path>/refs.<n>.parq   rows [n*N, (n+1)*N) of the array's C-order chunk grid
//! ```
//!
//! Columns `path` (UTF-8, nullable, dictionary-encoded), `offset` and `size` (INT64, required),
//! `raw` (BINARY, nullable); ZSTD; statistics on; one row group; no pandas metadata; every file
//! padded to N rows with `path = null, offset = size = 0, raw = null` (a missing chunk). Records
//! without any key are not written (the reader treats them as missing).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int32Builder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, BinaryArray, DictionaryArray, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::RefsError;
use crate::combine::{Combined, OutArray};
use crate::combined_json::zmetadata_text;
use crate::node_path::{node_path_problem, node_path_reason};

/// kerchunk.df's and VirtualiZarr's default record size.
pub const DEFAULT_RECORD_SIZE: u64 = 100_000;

/// What was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParquetStats {
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> RefsError {
    RefsError::Write {
        path: path.display().to_string(),
        source: std::io::Error::other(e.to_string()),
    }
}

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new(
            "path",
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
            true,
        ),
        Field::new("offset", DataType::Int64, false),
        Field::new("size", DataType::Int64, false),
        Field::new("raw", DataType::Binary, true),
    ]))
}

fn properties(record_size: u64) -> WriterProperties {
    let plain = |p: &str| ColumnPath::from(p);
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(record_size.max(1) as usize))
        // The whole URL dictionary in one page: a fallback to PLAIN mid-column would change
        // how fastparquet materialises the column.
        .set_dictionary_page_size_limit(256 << 20)
        .set_column_dictionary_enabled(plain("offset"), false)
        .set_column_dictionary_enabled(plain("size"), false)
        .set_column_dictionary_enabled(plain("raw"), false)
        .build()
}

/// One record of one array as a batch of `record_size` rows, or None when it holds no key.
/// References and inline chunks come sorted by grid index, so the columns are appended in row
/// order: runs of missing rows are appended in bulk (most rows of a sparse grid's padding).
fn record_batch(
    a: &OutArray,
    urls: &Arc<StringArray>,
    record: u64,
    record_size: u64,
    refs_from: &mut usize,
    inline_from: &mut usize,
) -> Result<Option<RecordBatch>, RefsError> {
    let lo = record * record_size;
    let hi = lo + record_size;
    let n = record_size as usize;
    let refs_to = *refs_from + a.refs[*refs_from..].partition_point(|r| r.index < hi);
    let inline_to = *inline_from + a.inline[*inline_from..].partition_point(|(i, _)| *i < hi);
    let (refs, inline) = (
        &a.refs[*refs_from..refs_to],
        &a.inline[*inline_from..inline_to],
    );
    *refs_from = refs_to;
    *inline_from = inline_to;
    if refs.is_empty() && inline.is_empty() {
        return Ok(None);
    }
    let mut keys = Int32Builder::with_capacity(n);
    let mut offsets = vec![0i64; n];
    let mut sizes = vec![0i64; n];
    let unsorted = || {
        write_err(
            Path::new(&a.path),
            "chunk references not sorted by grid index",
        )
    };
    let mut row = 0usize;
    for r in refs {
        let at = (r.index - lo) as usize;
        keys.append_nulls(at.checked_sub(row).ok_or_else(unsorted)?);
        keys.append_value(r.url as i32);
        offsets[at] = r.offset as i64;
        sizes[at] = r.length as i64;
        row = at + 1;
    }
    keys.append_nulls(n - row);
    let raw = if inline.is_empty() {
        BinaryArray::new_null(n)
    } else {
        let bytes = inline.iter().map(|(_, b)| b.len()).sum();
        let mut raw = BinaryBuilder::with_capacity(n, bytes);
        let mut row = 0usize;
        for (index, b) in inline {
            let at = (index - lo) as usize;
            raw.append_nulls(at.checked_sub(row).ok_or_else(unsorted)?);
            raw.append_value(b);
            row = at + 1;
        }
        raw.append_nulls(n - row);
        raw.finish()
    };
    let path = DictionaryArray::<Int32Type>::try_new(keys.finish(), urls.clone())
        .map_err(|e| write_err(Path::new(&a.path), e))?;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(path),
        Arc::new(Int64Array::from(offsets)),
        Arc::new(Int64Array::from(sizes)),
        Arc::new(raw),
    ];
    RecordBatch::try_new(schema(), columns)
        .map(Some)
        .map_err(|e| write_err(Path::new(&a.path), e))
}

/// Writes the record files of one array.
fn write_array(
    a: &OutArray,
    urls: &Arc<StringArray>,
    out: &Path,
    record_size: u64,
    props: &WriterProperties,
) -> Result<ParquetStats, RefsError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |e: std::io::Error| RefsError::Write { path: p, source: e }
    };
    let mut stats = ParquetStats::default();
    // The combiner leaves such arrays out; this writer never follows a path out of `out`.
    if let Some(problem) = node_path_problem(&a.path, false) {
        return Err(RefsError::Unrepresentable {
            url: out.display().to_string(),
            array: a.path.clone(),
            reason: node_path_reason(&a.path, problem),
        });
    }
    let dir = out.join(&a.path);
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    let records = a.grid_len().div_ceil(record_size);
    let (mut refs_from, mut inline_from) = (0, 0);
    for record in 0..records {
        let Some(batch) = record_batch(
            a,
            urls,
            record,
            record_size,
            &mut refs_from,
            &mut inline_from,
        )?
        else {
            continue;
        };
        let path = dir.join(format!("refs.{record}.parq"));
        let file = File::create(&path).map_err(io(&path))?;
        let options = ArrowWriterOptions::new()
            .with_properties(props.clone())
            .with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(file, schema(), options)
            .map_err(|e| write_err(&path, e))?;
        w.write(&batch).map_err(|e| write_err(&path, e))?;
        w.close().map_err(|e| write_err(&path, e))?;
        stats.files += 1;
        stats.rows += record_size;
        stats.bytes += std::fs::metadata(&path).map_err(io(&path))?.len();
    }
    Ok(stats)
}

/// Writes the combined set as a kerchunk Parquet reference directory `out` (created; the caller
/// publishes it atomically).
pub fn write_parquet(
    c: &Combined,
    out: &Path,
    record_size: u64,
) -> Result<ParquetStats, RefsError> {
    let record_size = record_size.max(1);
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |e: std::io::Error| RefsError::Write { path: p, source: e }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let zmeta = zmetadata_text(c);
    // `{"zarr_consolidated_format":1,"metadata":{...}}` → `{"metadata":{...},"record_size":N}`
    let body = zmeta
        .strip_prefix("{\"zarr_consolidated_format\":1,")
        .and_then(|b| b.strip_suffix('}'))
        .unwrap_or(&zmeta);
    let text = format!("{{{body},\"record_size\":{record_size}}}");
    let meta_path = out.join(".zmetadata");
    std::fs::write(&meta_path, &text).map_err(io(&meta_path))?;
    let mut stats = ParquetStats {
        files: 1,
        rows: 0,
        bytes: text.len() as u64,
    };
    let urls = Arc::new(StringArray::from(c.urls.clone()));
    let props = properties(record_size);
    // Arrays are independent: write them on all cores.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let results: Vec<Result<ParquetStats, RefsError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads.min(c.arrays.len()).max(1))
            .map(|_| {
                s.spawn(|| {
                    let mut st = ParquetStats::default();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(a) = c.arrays.get(i) else { break };
                        let one = write_array(a, &urls, out, record_size, &props)?;
                        st.files += one.files;
                        st.rows += one.rows;
                        st.bytes += one.bytes;
                    }
                    Ok(st)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(write_err(out, "a Parquet writer thread panicked")))
            })
            .collect()
    });
    for r in results {
        let r = r?;
        stats.files += r.files;
        stats.rows += r.rows;
        stats.bytes += r.bytes;
    }
    Ok(stats)
}
