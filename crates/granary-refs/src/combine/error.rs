//! Why granules cannot be combined. Every message names the granules involved and, where a
//! selection change resolves it, the SQL filter to add.

/// A refused combination.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CombineError {
    #[error("the selection is empty: no granule to combine")]
    EmptySelection,
    #[error("bad selection: {0}")]
    Selection(String),
    #[error("bad combine settings: {0}")]
    Spec(String),
    #[error(
        "{count} cell(s) hold more than one granule (the same coordinates); refusing to let one silently replace the other:\n{examples}\nselect one granule per cell (e.g. keep the latest product version with a filter on the file name), or set on_duplicate = first|last"
    )]
    Duplicates { count: usize, examples: String },
    #[error(
        "{count} selected granule(s) are not in the inventory (e.g. {example}); they may have failed to scan (see the errors table)"
    )]
    NotInInventory { count: usize, example: String },
    #[error("the inventory is inconsistent:\n{0}")]
    Inventory(String),
    #[error("granules differ in ways one array cannot hold:\n{details}")]
    Mismatch { details: String },
    #[error("coordinate {path:?} of the concatenated dimension: {reason}")]
    Coordinate { path: String, reason: String },
    #[error("{url}: array {array:?}: {reason}")]
    Unrepresentable {
        url: String,
        array: String,
        reason: String,
    },
}
