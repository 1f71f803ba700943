//! Writing an inventory directory: committing a part, retiring granules. Both follow the
//! directory's protocol (`dir.rs`): hidden temporary files, then the commit, then renames.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;

use crate::dir::Part;
use crate::parts::{io, part_rel, read_column, read_file, tmp_path, without_urls, write_tmp};
use crate::{ErrorRow, Inventory, InventoryDir, InventoryError, errors_batch};

impl InventoryDir {
    /// Saves the commit, then gives the new files their final names.
    fn publish(&mut self, new_files: &[String]) -> Result<(), InventoryError> {
        self.save()?;
        for rel in new_files {
            let path = self.root.join(rel);
            std::fs::rename(tmp_path(&self.root, rel), &path).map_err(|e| io(&path, e))?;
        }
        Ok(())
    }

    /// Commits one part: the six tables of `inv` and, when given, error rows.
    pub fn append(&mut self, inv: &Inventory, errors: &[ErrorRow]) -> Result<(), InventoryError> {
        let id = self.commit.next_id;
        let granules = inv.granules.num_rows() as u64;
        let mut files = BTreeMap::new();
        let mut new_files = Vec::new();
        if granules > 0 {
            for (table, batch) in inv.tables() {
                let rel = part_rel(table, id);
                write_tmp(&self.root, &rel, batch)?;
                files.insert(table.to_string(), rel.clone());
                new_files.push(rel);
            }
        }
        if !errors.is_empty() {
            let rel = part_rel("errors", id);
            write_tmp(&self.root, &rel, &errors_batch(errors)?)?;
            self.commit.errors.push(rel.clone());
            new_files.push(rel);
        }
        self.commit.next_id += 1;
        if granules > 0 {
            self.commit.parts.push(Part {
                id,
                granules,
                files,
            });
        }
        self.publish(&new_files)
    }

    /// Drops the error rows of earlier builds (their granules are retried), and the granules
    /// whose URL is in `stale` (changed, vanished or committed twice), rewriting the parts that
    /// held them. One commit; old files are deleted after it.
    pub fn retire(&mut self, stale: &HashSet<String>) -> Result<(), InventoryError> {
        let mut old_files: Vec<PathBuf> = self.files("errors");
        let mut new_files = Vec::new();
        self.commit.errors.clear();
        if !stale.is_empty() {
            let mut kept_parts = Vec::new();
            for part in std::mem::take(&mut self.commit.parts) {
                let granules_file = self.root.join(&part.files["granules"]);
                let urls = read_column(&granules_file, "url")?;
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
                    old_files.push(path.clone());
                    let Some(schema) = batches.first().map(RecordBatch::schema) else {
                        continue;
                    };
                    let kept = batches
                        .iter()
                        .map(|b| without_urls(b, stale, &path))
                        .collect::<Result<Vec<_>, _>>()?;
                    let batch = concat_batches(&schema, &kept)?;
                    if table == "granules" {
                        granules = batch.num_rows() as u64;
                    }
                    let new_rel = part_rel(table, id);
                    write_tmp(&self.root, &new_rel, &batch)?;
                    files.insert(table.clone(), new_rel);
                }
                if granules > 0 {
                    new_files.extend(files.values().cloned());
                    kept_parts.push(Part {
                        id,
                        granules,
                        files,
                    });
                } else {
                    old_files.extend(files.values().map(|f| tmp_path(&self.root, f)));
                }
            }
            self.commit.parts = kept_parts;
        }
        self.publish(&new_files)?;
        for f in old_files {
            std::fs::remove_file(&f).map_err(|e| io(&f, e))?;
        }
        Ok(())
    }
}
