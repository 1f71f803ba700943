//! The persisted inventory directory (`docs/inventory.md`, "Inventory directory").
//!
//! ```text
//! DIR/_inventory.json                      the commit: sources, parts, error files
//! DIR/<table>/part-<id>.parquet            one file per table per part (zstd, statistics on)
//! DIR/errors/part-<id>.parquet             granules that failed (url, stage, message)
//! ```
//!
//! A part is a batch of granules committed together. Files are written under a temporary name,
//! renamed into place, and only then listed in `_inventory.json`, itself replaced atomically
//! (write + rename). A killed build therefore leaves the last commit intact; files no commit
//! lists are removed when the directory is next opened for writing. Readers (DataFusion, DuckDB,
//! pandas, polars) may read `DIR/<table>/*.parquet` directly once no build is running.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, BooleanArray, RecordBatch, StringArray, UInt64Array};
use arrow::compute::{concat_batches, filter_record_batch};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use crate::errors_table::error_rows;
use crate::{ErrorRow, Inventory, InventoryError, errors_batch};

/// Names of the inventory tables, in commit order.
pub const TABLES: [&str; 6] = [
    "granules",
    "dimensions",
    "variables",
    "attributes",
    "chunks",
    "zarr",
];
const COMMIT: &str = "_inventory.json";
const FORMAT: &str = "granary-inventory";
/// Version 2 added the `zarr` table; version-1 directories must be rebuilt.
const VERSION: u32 = 2;

/// url → (size, etag) of committed granules: the object versions the inventory describes.
pub type KnownGranules = HashMap<String, (Option<u64>, Option<String>)>;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Part {
    id: u64,
    granules: u64,
    /// table name → path relative to the directory.
    files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Commit {
    format: String,
    version: u32,
    sources: Vec<String>,
    next_id: u64,
    parts: Vec<Part>,
    errors: Vec<String>,
}

/// An inventory directory opened for reading or writing.
#[derive(Debug)]
pub struct InventoryDir {
    root: PathBuf,
    commit: Commit,
}

fn io(path: &Path, source: std::io::Error) -> InventoryError {
    InventoryError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn bad(path: &Path, reason: impl Into<String>) -> InventoryError {
    InventoryError::Invalid {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

impl InventoryDir {
    /// Opens an existing inventory for reading.
    pub fn open(root: &Path) -> Result<Self, InventoryError> {
        let path = root.join(COMMIT);
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => bad(
                root,
                "not an inventory directory (no _inventory.json; build one with `granary inventory build`)",
            ),
            _ => io(&path, e),
        })?;
        let commit: Commit =
            serde_json::from_str(&text).map_err(|e| bad(&path, format!("malformed: {e}")))?;
        if commit.format != FORMAT || commit.version != VERSION {
            return Err(bad(
                &path,
                format!(
                    "unsupported inventory format {:?} version {} (this granary reads version {VERSION}; rebuild the inventory into a new directory)",
                    commit.format, commit.version
                ),
            ));
        }
        Ok(Self {
            root: root.to_path_buf(),
            commit,
        })
    }

    /// Opens an inventory for writing, creating it when absent. An existing inventory must have
    /// been built from the same `sources`. Files left by a killed build are removed.
    pub fn create_or_open(root: &Path, sources: &[String]) -> Result<Self, InventoryError> {
        let dir = if root.join(COMMIT).exists() {
            let dir = Self::open(root)?;
            if dir.commit.sources != sources {
                return Err(bad(
                    root,
                    format!(
                        "was built from {:?}, not {:?}; use another directory",
                        dir.commit.sources, sources
                    ),
                ));
            }
            dir
        } else {
            std::fs::create_dir_all(root).map_err(|e| io(root, e))?;
            let mut dir = Self {
                root: root.to_path_buf(),
                commit: Commit {
                    format: FORMAT.to_string(),
                    version: VERSION,
                    sources: sources.to_vec(),
                    next_id: 1,
                    parts: Vec::new(),
                    errors: Vec::new(),
                },
            };
            dir.save()?;
            dir
        };
        dir.remove_orphans()?;
        Ok(dir)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Sources the inventory was built from.
    pub fn sources(&self) -> &[String] {
        &self.commit.sources
    }

    /// Number of committed granules.
    pub fn granule_count(&self) -> u64 {
        self.commit.parts.iter().map(|p| p.granules).sum()
    }

    /// Committed files of `table` (`errors` included).
    pub fn files(&self, table: &str) -> Vec<PathBuf> {
        if table == "errors" {
            return self
                .commit
                .errors
                .iter()
                .map(|f| self.root.join(f))
                .collect();
        }
        self.commit
            .parts
            .iter()
            .filter_map(|p| p.files.get(table))
            .map(|f| self.root.join(f))
            .collect()
    }

    fn save(&mut self) -> Result<(), InventoryError> {
        let path = self.root.join(COMMIT);
        let tmp = self.root.join(format!(".{COMMIT}.tmp"));
        let text = serde_json::to_string_pretty(&self.commit)
            .map_err(|e| bad(&path, format!("cannot serialise: {e}")))?;
        std::fs::write(&tmp, text + "\n").map_err(|e| io(&tmp, e))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    /// Removes table files no commit lists (left by a killed build) and temporary files.
    fn remove_orphans(&self) -> Result<(), InventoryError> {
        let mut listed: std::collections::HashSet<PathBuf> =
            self.files("errors").into_iter().collect();
        for t in TABLES {
            listed.extend(self.files(t));
        }
        for t in TABLES.iter().chain(&["errors"]) {
            let dir = self.root.join(t);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if !listed.contains(&p) {
                    tracing::info!(file = %p.display(), "Removing a file no commit lists.");
                    std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
                }
            }
        }
        Ok(())
    }

    fn write_file(&self, rel: &str, batch: &RecordBatch) -> Result<(), InventoryError> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
        }
        let tmp = path.with_extension("parquet.tmp");
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
        file.sync_all().map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))
    }

    /// Commits one part: the six tables of `inv` and, when given, error rows.
    pub fn append(&mut self, inv: &Inventory, errors: &[ErrorRow]) -> Result<(), InventoryError> {
        let id = self.commit.next_id;
        let granules = inv.granules.num_rows() as u64;
        let mut files = BTreeMap::new();
        if granules > 0 {
            for (table, batch) in inv.tables() {
                let rel = format!("{table}/part-{id:06}.parquet");
                self.write_file(&rel, batch)?;
                files.insert(table.to_string(), rel);
            }
        }
        let mut error_file = None;
        if !errors.is_empty() {
            let rel = format!("errors/part-{id:06}.parquet");
            self.write_file(&rel, &errors_batch(errors)?)?;
            error_file = Some(rel);
        }
        self.commit.next_id += 1;
        if granules > 0 {
            self.commit.parts.push(Part {
                id,
                granules,
                files,
            });
        }
        self.commit.errors.extend(error_file);
        self.save()
    }

    /// Drops the error rows of earlier builds (their granules are retried), and the granules
    /// whose URL is in `stale` (changed or vanished objects), rewriting the parts that held
    /// them. One commit; old files are deleted after it.
    pub fn retire(
        &mut self,
        stale: &std::collections::HashSet<String>,
    ) -> Result<(), InventoryError> {
        let mut old_files: Vec<PathBuf> = self.files("errors");
        self.commit.errors.clear();
        if !stale.is_empty() {
            let mut kept_parts = Vec::new();
            for part in std::mem::take(&mut self.commit.parts) {
                let urls = read_column(&self.root.join(&part.files["granules"]), "url")?;
                if !urls.iter().any(|u| stale.contains(u)) {
                    kept_parts.push(part);
                    continue;
                }
                let id = self.commit.next_id;
                self.commit.next_id += 1;
                let mut files = BTreeMap::new();
                let mut granules = 0;
                for (table, rel) in &part.files {
                    let path = self.root.join(rel);
                    let batches = read_file(&path)?;
                    let schema = batches.first().map(RecordBatch::schema);
                    let mut kept = Vec::new();
                    for b in batches {
                        kept.push(filter_urls(&b, stale)?);
                    }
                    let Some(schema) = schema else { continue };
                    let batch = concat_batches(&schema, &kept)?;
                    if table == "granules" {
                        granules = batch.num_rows() as u64;
                    }
                    let new_rel = format!("{table}/part-{id:06}.parquet");
                    self.write_file(&new_rel, &batch)?;
                    files.insert(table.clone(), new_rel);
                    old_files.push(path);
                }
                if granules > 0 {
                    kept_parts.push(Part {
                        id,
                        granules,
                        files,
                    });
                } else {
                    old_files.extend(files.values().map(|f| self.root.join(f)));
                }
            }
            self.commit.parts = kept_parts;
        }
        self.save()?;
        for f in old_files {
            std::fs::remove_file(&f).map_err(|e| io(&f, e))?;
        }
        Ok(())
    }

    /// Every committed row of `table` (`errors` included), read into memory.
    pub fn read_table(&self, table: &str) -> Result<Vec<RecordBatch>, InventoryError> {
        let mut out = Vec::new();
        for f in self.files(table) {
            out.extend(read_file(&f)?);
        }
        Ok(out)
    }

    /// Every committed row of the `errors` table, typed.
    pub fn errors(&self) -> Result<Vec<ErrorRow>, InventoryError> {
        let mut out = Vec::new();
        for f in self.files("errors") {
            for b in read_file(&f)? {
                out.extend(error_rows(&b, &f.display().to_string())?);
            }
        }
        out.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(out)
    }

    /// url → (size, etag) of every committed granule.
    pub fn known_granules(&self) -> Result<KnownGranules, InventoryError> {
        let mut out = HashMap::new();
        for f in self.files("granules") {
            for b in read_file(&f)? {
                let url = string_column(&b, "url", &f)?;
                let etag = string_column(&b, "etag", &f)?;
                let size = b
                    .column_by_name("size")
                    .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                    .ok_or_else(|| bad(&f, "column `size` missing or not UInt64"))?;
                for i in 0..b.num_rows() {
                    out.insert(
                        url.value(i).to_string(),
                        (
                            size.is_valid(i).then(|| size.value(i)),
                            etag.is_valid(i).then(|| etag.value(i).to_string()),
                        ),
                    );
                }
            }
        }
        Ok(out)
    }
}

fn string_column<'a>(
    b: &'a RecordBatch,
    name: &str,
    f: &Path,
) -> Result<&'a StringArray, InventoryError> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| bad(f, format!("column `{name}` missing or not text")))
}

fn read_file(path: &Path) -> Result<Vec<RecordBatch>, InventoryError> {
    let file = File::open(path).map_err(|e| io(path, e))?;
    let parquet = |source| InventoryError::Parquet {
        path: path.display().to_string(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet)?
        .build()
        .map_err(parquet)?;
    reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parquet(e.into()))
}

fn read_column(path: &Path, name: &str) -> Result<Vec<String>, InventoryError> {
    let mut out = Vec::new();
    for b in read_file(path)? {
        let c = string_column(&b, name, path)?;
        out.extend((0..c.len()).map(|i| c.value(i).to_string()));
    }
    Ok(out)
}

fn filter_urls(
    b: &RecordBatch,
    stale: &std::collections::HashSet<String>,
) -> Result<RecordBatch, InventoryError> {
    let url = b
        .column_by_name("url")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| InventoryError::Invalid {
            path: String::new(),
            reason: "table without a text `url` column".to_string(),
        })?;
    let keep: BooleanArray = url
        .iter()
        .map(|u| Some(!u.is_some_and(|u| stale.contains(u))))
        .collect();
    Ok(filter_record_batch(b, &keep)?)
}
