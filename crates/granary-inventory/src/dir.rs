//! The persisted inventory directory (`docs/inventory.md`, "Inventory directory").
//!
//! ```text
//! DIR/_inventory.json                      the commit: sources, parts, error files
//! DIR/_inventory.lock                      held (advisory lock) by the one writer
//! DIR/<table>/part-<id>.parquet            one file per table per part (zstd, statistics on)
//! DIR/errors/part-<id>.parquet             granules that failed (url, stage, message)
//! ```
//!
//! A part is a batch of granules committed together. Its files are written under hidden
//! temporary names (`<table>/.part-<id>.parquet.tmp`), then listed in `_inventory.json` (itself
//! replaced atomically, write + rename), then renamed to their final names. A killed build
//! therefore leaves the last commit intact and no uncommitted file where readers glob
//! (`DIR/<table>/*.parquet`); the next writer finishes renames a commit already lists and
//! removes part files no commit lists. It never removes a file it did not name, and it refuses a
//! non-empty directory that holds no inventory.
//!
//! One writer at a time: `granary inventory build` and `granary run` hold an exclusive advisory
//! lock on `_inventory.lock` while they write; a second writer fails at once with
//! [`InventoryError::Locked`]. Readers take no lock: they read the commit they opened.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch, UInt64Array};
use serde::{Deserialize, Serialize};

use crate::errors_table::error_rows;
use crate::parts::{bad, io, is_part_name, read_columns, read_file, string_column, tmp_path};
use crate::zarr_table::unreferenced_rows;
use crate::{ErrorRow, InventoryError};

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
const LOCK: &str = "_inventory.lock";
const FORMAT: &str = "granary-inventory";
/// Version 2 added the `zarr` table, version 3 its `unwritten` column (chunks a granule never
/// wrote, when they must be written inline); older directories must be rebuilt.
const VERSION: u32 = 3;

/// url → (size, etag) of committed granules: the object versions the inventory describes.
pub type KnownGranules = HashMap<String, (Option<u64>, Option<String>)>;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Part {
    pub(crate) id: u64,
    pub(crate) granules: u64,
    /// table name → path relative to the directory.
    pub(crate) files: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Commit {
    format: String,
    version: u32,
    sources: Vec<String>,
    pub(crate) next_id: u64,
    pub(crate) parts: Vec<Part>,
    pub(crate) errors: Vec<String>,
}

/// An inventory directory opened for reading or (holding its lock) for writing.
#[derive(Debug)]
pub struct InventoryDir {
    pub(crate) root: PathBuf,
    pub(crate) commit: Commit,
    /// The writer's lock, released when the directory is dropped.
    _lock: Option<File>,
}

fn read_commit(root: &Path) -> Result<Commit, InventoryError> {
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
    Ok(commit)
}

/// Takes the writer's lock of `root`, or fails at once when another process holds it.
fn lock(root: &Path) -> Result<File, InventoryError> {
    let path = root.join(LOCK);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io(&path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(InventoryError::Locked {
            path: root.display().to_string(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path, e)),
    }
}

/// Whether `root` holds anything but granary's own lock file.
fn has_foreign_content(root: &Path) -> Result<bool, InventoryError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io(root, e)),
    };
    let commit_tmp = format!(".{COMMIT}.tmp");
    Ok(entries
        .flatten()
        .any(|e| e.file_name() != LOCK && e.file_name() != commit_tmp.as_str()))
}

impl InventoryDir {
    /// Opens an existing inventory for reading.
    pub fn open(root: &Path) -> Result<Self, InventoryError> {
        Ok(Self {
            root: root.to_path_buf(),
            commit: read_commit(root)?,
            _lock: None,
        })
    }

    /// Opens an inventory for writing, creating it when absent, and holds its lock until
    /// dropped. An existing inventory must have been built from the same `sources`; a
    /// non-empty directory that is not an inventory is refused. Renames a killed build left
    /// unfinished are completed and part files no commit lists are removed.
    pub fn create_or_open(root: &Path, sources: &[String]) -> Result<Self, InventoryError> {
        let foreign = || -> Result<bool, InventoryError> {
            Ok(!root.join(COMMIT).exists() && has_foreign_content(root)?)
        };
        let refuse = || {
            bad(
                root,
                "is not empty and holds no inventory (no _inventory.json); refusing to write into it: name a new or empty directory",
            )
        };
        // Before touching it: a directory of other files gets no lock file. One with a lock file
        // is an inventory being created by another build (checked again under the lock).
        if !root.join(LOCK).exists() && foreign()? {
            return Err(refuse());
        }
        std::fs::create_dir_all(root).map_err(|e| io(root, e))?;
        let held = lock(root)?;
        // Under the lock: another build may have created the inventory meanwhile.
        if foreign()? {
            return Err(refuse());
        }
        let dir = if root.join(COMMIT).exists() {
            let commit = read_commit(root)?;
            if commit.sources != sources {
                return Err(bad(
                    root,
                    format!(
                        "was built from {:?}, not {:?}; use another directory",
                        commit.sources, sources
                    ),
                ));
            }
            Self {
                root: root.to_path_buf(),
                commit,
                _lock: Some(held),
            }
        } else {
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
                _lock: Some(held),
            };
            dir.save()?;
            dir
        };
        dir.roll_forward()?;
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

    /// Relative paths the commit lists for `table` (`errors` included).
    fn listed(&self, table: &str) -> Vec<&String> {
        if table == "errors" {
            return self.commit.errors.iter().collect();
        }
        self.commit
            .parts
            .iter()
            .filter_map(|p| p.files.get(table))
            .collect()
    }

    /// Committed files of `table` (`errors` included): the final name, or the temporary one
    /// while a writer has not renamed it yet.
    pub fn files(&self, table: &str) -> Vec<PathBuf> {
        self.listed(table)
            .into_iter()
            .map(|rel| {
                let path = self.root.join(rel);
                let tmp = tmp_path(&self.root, rel);
                if !path.exists() && tmp.exists() {
                    tmp
                } else {
                    path
                }
            })
            .collect()
    }

    pub(crate) fn save(&mut self) -> Result<(), InventoryError> {
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

    /// Renames every listed file still under its temporary name (the commit was saved).
    pub(crate) fn roll_forward(&self) -> Result<(), InventoryError> {
        for t in TABLES.iter().chain(&["errors"]) {
            for rel in self.listed(t) {
                let (path, tmp) = (self.root.join(rel), tmp_path(&self.root, rel));
                if !path.exists() && tmp.exists() {
                    std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
                }
            }
        }
        Ok(())
    }

    /// Removes part files no commit lists (left by a killed build). Files with other names
    /// are never touched.
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
                let ours = is_part_name(&e.file_name().to_string_lossy());
                if ours && !listed.contains(&p) {
                    tracing::info!(file = %p.display(), "Removing a part file no commit lists.");
                    std::fs::remove_file(&p).map_err(|e| io(&p, e))?;
                } else if !ours {
                    tracing::warn!(file = %p.display(), "Leaving a file granary did not write.");
                }
            }
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

    /// Every committed row of the `errors` table, typed: the granules that failed, then (from
    /// the `zarr` table) the arrays left out of committed granules, stage `array`.
    pub fn errors(&self) -> Result<Vec<ErrorRow>, InventoryError> {
        let mut out = Vec::new();
        for f in self.files("errors") {
            for b in read_file(&f)? {
                out.extend(error_rows(&b, &f.display().to_string())?);
            }
        }
        for f in self.files("zarr") {
            for b in read_columns(&f, Some(&["url", "path", "node", "error"]))? {
                out.extend(unreferenced_rows(&b, &f.display().to_string())?);
            }
        }
        out.sort_by(|a, b| a.url.cmp(&b.url));
        Ok(out)
    }

    /// url → (size, etag) of every committed granule, and the URLs committed more than once
    /// (an inventory damaged by an older granary that had no lock; a build retires them all
    /// and scans them again).
    pub fn known_granules(&self) -> Result<(KnownGranules, Vec<String>), InventoryError> {
        let mut out = HashMap::new();
        let mut twice = Vec::new();
        for f in self.files("granules") {
            for b in read_file(&f)? {
                let url = string_column(&b, "url", &f)?;
                let etag = string_column(&b, "etag", &f)?;
                let size = b
                    .column_by_name("size")
                    .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
                    .ok_or_else(|| bad(&f, "column `size` missing or not UInt64"))?;
                for i in 0..b.num_rows() {
                    let previous = out.insert(
                        url.value(i).to_string(),
                        (
                            size.is_valid(i).then(|| size.value(i)),
                            etag.is_valid(i).then(|| etag.value(i).to_string()),
                        ),
                    );
                    if previous.is_some() {
                        twice.push(url.value(i).to_string());
                    }
                }
            }
        }
        twice.sort();
        twice.dedup();
        Ok((out, twice))
    }
}
