//! Which group and array paths can name a Zarr node (docs/formats.md, "Names that cannot be
//! Zarr nodes"). A path is `/`-separated names; each name becomes a storage key segment, and in
//! a Parquet reference directory a directory name. HDF5 link names and DMR++ `name=` attributes
//! are arbitrary text, so a hostile granule can name a variable `..` or `a/../../x`: written as
//! is, its Parquet references would land outside the output directory, and a Zarr reader would
//! resolve its keys elsewhere in the store. Such nodes are left out and listed, like any other
//! array granary cannot reference.

/// Why `path` cannot name a Zarr node (None: it can). The root group's path is empty.
pub fn node_path_problem(path: &str, root: bool) -> Option<&'static str> {
    if path.is_empty() {
        return (!root).then_some("its name is empty");
    }
    for name in path.split('/') {
        let problem = match name {
            "" => "its path has an empty name (a leading, trailing or doubled `/`)",
            n if n.bytes().all(|b| b == b'.') => {
                "its path has a name made of dots only (`.` and `..` are steps in a store; Zarr v3 refuses all such names)"
            }
            n if n.contains('\\') => "its name has a `\\`, a path separator on Windows",
            n if n.contains('\0') => "its name has a NUL character",
            _ => continue,
        };
        return Some(problem);
    }
    None
}

/// The reason given when a node's path cannot name a Zarr node.
pub fn node_path_reason(path: &str, problem: &str) -> String {
    format!("{path:?} cannot name a Zarr node: {problem}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_and_nested_paths_are_nodes() {
        for p in [
            "ssh_karin",
            "data_01/ku/range",
            "a b",
            ".hidden",
            "x.y",
            "..a",
        ] {
            assert_eq!(node_path_problem(p, false), None, "{p}");
        }
        assert_eq!(node_path_problem("", true), None);
    }

    #[test]
    fn steps_separators_and_empty_names_are_not() {
        for p in [
            "",
            ".",
            "..",
            "...",
            "../x",
            "a/../../x",
            "a/./b",
            "/abs",
            "a//b",
            "a/",
            "a\\..\\b",
            "nul\0",
        ] {
            assert!(node_path_problem(p, false).is_some(), "{p:?}");
        }
        assert!(node_path_problem("..", true).is_some());
    }
}
