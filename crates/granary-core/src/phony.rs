//! Names for axes without a named dimension, as netCDF-C names them when it reads a plain HDF5
//! file: per group, one `phony_dim_N` per distinct length (a second axis of the same length in one
//! array gets a new name), `N` counted across the file in order of first use. Both extractors use
//! it so that the HDF5 and DMR++ routes give the same names.

use std::collections::HashMap;

use crate::Dimension;

#[derive(Debug, Default)]
pub struct PhonyDims {
    next: usize,
    by_len: HashMap<(String, u64), Vec<String>>,
}

impl PhonyDims {
    /// The name for an axis of `len` in `group`, not among `taken` (the array's earlier axes).
    /// A newly created dimension is appended to `dims` (the group's dimensions).
    pub fn name(
        &mut self,
        group: &str,
        len: u64,
        taken: &[String],
        dims: &mut Vec<Dimension>,
    ) -> String {
        let names = self.by_len.entry((group.to_string(), len)).or_default();
        if let Some(n) = names.iter().find(|n| !taken.contains(n)) {
            return n.clone();
        }
        let n = format!("phony_dim_{}", self.next);
        self.next += 1;
        names.push(n.clone());
        dims.push(Dimension {
            name: n.clone(),
            size: len,
            unlimited: false,
        });
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_distinct_length_and_distinct_within_an_array() {
        let mut p = PhonyDims::default();
        let mut dims = Vec::new();
        let a0 = p.name("", 3, &[], &mut dims);
        let a1 = p.name("", 10, std::slice::from_ref(&a0), &mut dims);
        assert_eq!((a0.as_str(), a1.as_str()), ("phony_dim_0", "phony_dim_1"));
        assert_eq!(p.name("", 10, &[], &mut dims), "phony_dim_1");
        let s0 = p.name("", 4, &[], &mut dims);
        assert_eq!(p.name("", 4, &[s0], &mut dims), "phony_dim_3");
        assert_eq!(dims.len(), 4);
    }
}
