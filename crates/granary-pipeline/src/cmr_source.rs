//! The `cmr` source (docs/cmr.md): granules found by a CMR search, their data links chosen by
//! `access`. Incremental: the inventory directory keeps the last search's table
//! (`cmr_granules.parquet`, which `granary sql` over the inventory sees too) and when it started
//! (`cmr_state.json`); a rerun of the same search
//! asks CMR only for granules revised since then, merges them in, and has the revised ones
//! scanned again. Both files are replaced only after the inventory build succeeded.

use std::path::Path;

use arrow::array::{Array, RecordBatch, StringArray};
use granary_inventory::cmr_table::{
    cmr_batch, concept_ids, merge_cmr_tables, read_cmr_table, write_cmr_table,
};
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;
use crate::spec::FilesSource;

const STATE_FILE: &str = "cmr_state.json";

#[derive(Debug, Serialize, Deserialize)]
struct State {
    identity: String,
    searched_at: String,
}

/// A finished search, not yet committed to the state directory.
#[derive(Debug)]
pub(crate) struct CmrSearch {
    /// Data URLs of every granule (merged with earlier searches), sorted.
    pub urls: Vec<String>,
    /// URLs of granules CMR revised since the last search: scanned again.
    pub rescan: Vec<String>,
    /// The `cmr_granules` table.
    pub table: RecordBatch,
    pub identity: String,
    searched_at: String,
}

fn now_iso8601() -> String {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    // Whole seconds, UTC: what CMR's updated_since takes.
    granary_refs::combine::time_units::iso8601(us - us % 1_000_000)
}

fn urls_of(table: &RecordBatch) -> Vec<String> {
    let Some(u) = table
        .column_by_name("url")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
    else {
        return Vec::new();
    };
    let mut out: Vec<String> = (0..u.len())
        .filter(|i| u.is_valid(*i))
        .map(|i| u.value(i).to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Searches CMR for `source`'s granules; incremental when `state_dir` holds an earlier search
/// of the same query (`None`: a dry run, always a full search).
pub(crate) async fn search(
    id: &str,
    source: &FilesSource,
    state_dir: Option<&Path>,
) -> Result<CmrSearch, PipelineError> {
    let query = source.cmr_query();
    let identity = query.identity();
    let state_err = |path: &Path, reason: String| PipelineError::File {
        file: path.display().to_string(),
        message: reason,
    };
    let earlier = match state_dir {
        Some(dir) => {
            let path = dir.join(STATE_FILE);
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let state: State = serde_json::from_str(&text)
                        .map_err(|e| state_err(&path, format!("malformed CMR state: {e}")))?;
                    let table = read_cmr_table(dir).map_err(|e| PipelineError::Inventory {
                        component: id.to_string(),
                        source: Box::new(e),
                    })?;
                    table
                        .filter(|_| state.identity == identity)
                        .map(|t| (state.searched_at, t))
                }
                Err(_) => None,
            }
        }
        None => None,
    };
    let searched_at = now_iso8601();
    let since = earlier.as_ref().map(|(at, _)| at.as_str());
    let found = granary_io::cmr::search_granules(&query, since)
        .await
        .map_err(|source| PipelineError::Storage {
            component: id.to_string(),
            source: Box::new(source),
        })?;
    let missing = found
        .iter()
        .filter(|g| g.data_url(source.access).is_none())
        .count();
    if missing > 0 && missing == found.len() && earlier.is_none() {
        return Err(PipelineError::File {
            file: format!("sources.{id}"),
            message: format!(
                "CMR lists {missing} granules but none has a data link for access = \"{}\" ({}); try the other access",
                match source.access {
                    granary_io::cmr::Access::Direct => "direct",
                    granary_io::cmr::Access::External => "external",
                },
                match source.access {
                    granary_io::cmr::Access::Direct => "GET DATA VIA DIRECT ACCESS, s3://",
                    granary_io::cmr::Access::External => "GET DATA, https://",
                }
            ),
        });
    }
    if missing > 0 {
        tracing::warn!(granules = missing, access = ?source.access, "CMR lists no data link of this access for some granules; they are left out.");
    }
    let inv = |e| PipelineError::Inventory {
        component: id.to_string(),
        source: Box::new(e),
    };
    let new = cmr_batch(&found, source.access).map_err(inv)?;
    let (table, rescan) = match &earlier {
        Some((_, old)) => {
            let known: std::collections::HashSet<String> = concept_ids(old).into_iter().collect();
            let revised: Vec<String> = found
                .iter()
                .filter(|g| known.contains(&g.concept_id))
                .filter_map(|g| g.data_url(source.access).map(str::to_string))
                .collect();
            (merge_cmr_tables(old, &new).map_err(inv)?, revised)
        }
        None => (new, Vec::new()),
    };
    tracing::info!(
        found = found.len(),
        incremental = earlier.is_some(),
        revised = rescan.len(),
        "CMR search done."
    );
    Ok(CmrSearch {
        urls: urls_of(&table),
        rescan,
        table,
        identity,
        searched_at,
    })
}

/// Keeps the search in `state_dir` for the next incremental run.
pub(crate) fn commit(id: &str, s: &CmrSearch, state_dir: &Path) -> Result<(), PipelineError> {
    write_cmr_table(state_dir, &s.table).map_err(|e| PipelineError::Inventory {
        component: id.to_string(),
        source: Box::new(e),
    })?;
    let state = State {
        identity: s.identity.clone(),
        searched_at: s.searched_at.clone(),
    };
    let path = state_dir.join(STATE_FILE);
    let tmp = state_dir.join(format!(".{STATE_FILE}.tmp"));
    let text = serde_json::to_string_pretty(&state).map_err(|e| PipelineError::File {
        file: path.display().to_string(),
        message: e.to_string(),
    })?;
    let io = |e: std::io::Error| PipelineError::State {
        path: path.display().to_string(),
        source: e,
    };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}
