//! Which arrays of a granule can be referenced (docs/formats.md, "Arrays granary cannot
//! reference"): an array whose zarr v2 form cannot be written (a type or filter no reader
//! decodes, see [`crate::zarr::zarr_array`]) is moved from the manifest's groups to its
//! `skipped` list, beside the arrays the parsers already left out (a group whose path cannot
//! name a Zarr node goes with all its arrays, `node_path.rs`); [`ArrayPolicy`] then decides
//! whether the granule proceeds without them or fails.

use granary_core::{ArrayData, ArrayPolicy, GranuleManifest, Group, SkippedArray};

use crate::RefsError;
use crate::node_path::{node_path_problem, node_path_reason};
use crate::zarr::check_referenceable;

fn split(url: &str, g: &mut Group, out: &mut Vec<SkippedArray>) {
    g.groups
        .retain(|child| match node_path_problem(&child.path, false) {
            None => true,
            Some(problem) => {
                leave_out(child, &node_path_reason(&child.path, problem), out);
                false
            }
        });
    g.arrays.retain(|a| {
        // Metadata-only scans do not read chunk indexes: such arrays answer questions, they
        // are not references, and are kept.
        if matches!(a.data, ArrayData::Unread) {
            return true;
        }
        match check_referenceable(url, a) {
            Ok(()) => true,
            Err(e) => {
                let reason = match e {
                    RefsError::Unrepresentable { reason, .. } => reason,
                    other => other.to_string(),
                };
                out.push(SkippedArray {
                    path: a.path.clone(),
                    reason,
                });
                false
            }
        }
    });
    for child in &mut g.groups {
        split(url, child, out);
    }
}

/// Lists every array below a group that is left out (the group itself when it holds none).
fn leave_out(g: &Group, reason: &str, out: &mut Vec<SkippedArray>) {
    let before = out.len();
    for sub in g.walk() {
        for a in &sub.arrays {
            out.push(SkippedArray {
                path: a.path.clone(),
                reason: format!("in group {reason}"),
            });
        }
    }
    if out.len() == before {
        out.push(SkippedArray {
            path: g.path.clone(),
            reason: format!("group {reason}"),
        });
    }
}

/// Moves every array of `m` that cannot be referenced to `m.skipped` (sorted by path), then
/// applies `policy`: under [`ArrayPolicy::Error`] the first skipped array is the error.
pub fn apply_array_policy(m: &mut GranuleManifest, policy: ArrayPolicy) -> Result<(), RefsError> {
    let mut skipped = std::mem::take(&mut m.skipped);
    split(&m.url, &mut m.root, &mut skipped);
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    m.skipped = skipped;
    match (policy, m.skipped.first()) {
        (ArrayPolicy::Error, Some(s)) => Err(RefsError::Unrepresentable {
            url: m.url.clone(),
            array: s.path.clone(),
            reason: format!(
                "{} (policy `error`; `skip` leaves such arrays out and lists them)",
                s.reason
            ),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use granary_core::{ArrayMeta, ByteOrder, ChunkRef, Codec, DType, StorageLayout};

    fn array(name: &str, codecs: Vec<Codec>) -> ArrayMeta {
        ArrayMeta {
            name: name.into(),
            path: name.into(),
            dims: vec!["x".into()],
            shape: vec![4],
            dtype: DType::Int {
                size: 4,
                signed: true,
                order: ByteOrder::Little,
            },
            layout: StorageLayout::Chunked,
            chunk_shape: vec![4],
            codecs,
            fill_value: None,
            storage_fill: None,
            attrs: Vec::new(),
            data: ArrayData::Chunks(vec![ChunkRef {
                index: vec![0],
                offset: 0,
                size: 16,
                filter_mask: 0,
                url: None,
            }]),
        }
    }

    fn granule() -> GranuleManifest {
        let mut root = Group::new("");
        root.arrays.push(array("plain", Vec::new()));
        root.arrays.push(array("nbit", vec![Codec::NBit]));
        GranuleManifest {
            url: "file:///g.h5".into(),
            size: None,
            etag: None,
            root,
            skipped: vec![SkippedArray {
                path: "compound".into(),
                reason: "not supported: x".into(),
            }],
        }
    }

    #[test]
    fn skip_keeps_the_other_arrays_and_lists_the_rest() {
        let mut m = granule();
        apply_array_policy(&mut m, ArrayPolicy::Skip).unwrap();
        let kept: Vec<&str> = m.arrays().map(|a| a.path.as_str()).collect();
        assert_eq!(kept, ["plain"]);
        let skipped: Vec<&str> = m.skipped.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(skipped, ["compound", "nbit"]);
        assert!(m.skipped[1].reason.contains("5 (nbit)"), "{:?}", m.skipped);
    }

    #[test]
    fn nodes_whose_paths_step_out_are_left_out_with_their_arrays() {
        let mut m = granule();
        let mut escaping = array("x", Vec::new());
        escaping.path = "../../escaped".into();
        m.root.arrays.push(escaping);
        let mut dots = Group::new("..");
        let mut inner = array("y", Vec::new());
        inner.path = "../y".into();
        dots.arrays.push(inner);
        m.root.groups.push(dots);
        m.root.groups.push(Group::new("a/./b"));
        let mut fine = Group::new("data");
        let mut nested = array("z", Vec::new());
        nested.path = "data/z".into();
        fine.arrays.push(nested);
        m.root.groups.push(fine);
        apply_array_policy(&mut m, ArrayPolicy::Skip).unwrap();
        let kept: Vec<&str> = m.arrays().map(|a| a.path.as_str()).collect();
        assert_eq!(kept, ["plain", "data/z"]);
        let groups: Vec<&str> = m.root.walk().iter().map(|g| g.path.as_str()).collect();
        assert_eq!(groups, ["", "data"]);
        let skipped: Vec<(&str, &str)> = m
            .skipped
            .iter()
            .map(|s| (s.path.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped.len(), 5, "{skipped:?}");
        assert!(
            skipped
                .iter()
                .any(|(p, r)| *p == "../../escaped" && r.contains("cannot name a Zarr node"))
        );
        assert!(
            skipped
                .iter()
                .any(|(p, r)| *p == "../y" && r.starts_with("in group \"..\""))
        );
        assert!(
            skipped
                .iter()
                .any(|(p, r)| *p == "a/./b" && r.starts_with("group "))
        );
        // Policy `error`: the granule fails, naming the node.
        let mut m = granule();
        m.skipped.clear();
        m.root.arrays.truncate(1);
        m.root.groups.push(Group::new(".."));
        let e = apply_array_policy(&mut m, ArrayPolicy::Error).unwrap_err();
        assert!(e.to_string().contains("cannot name a Zarr node"), "{e}");
    }

    #[test]
    fn error_names_the_first_array() {
        let mut m = granule();
        let e = apply_array_policy(&mut m, ArrayPolicy::Error).unwrap_err();
        assert!(e.to_string().contains("\"compound\""), "{e}");
    }
}
