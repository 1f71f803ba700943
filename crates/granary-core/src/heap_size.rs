//! An estimate of the heap memory a manifest holds: its strings, vectors and chunk references,
//! counted by length (allocator overhead and spare capacity left out). Callers that buffer
//! manifests (the inventory build's parts) bound the buffer by these bytes, so its memory does
//! not grow with the size of the granules.

use std::mem::size_of;

use crate::{ArrayData, ArrayMeta, AttrValue, Attribute, ChunkRef, GranuleManifest, Group};

/// Heap bytes owned by a value (not counting the value itself).
pub trait HeapSize {
    fn heap_size(&self) -> usize;
}

impl HeapSize for String {
    fn heap_size(&self) -> usize {
        self.len()
    }
}

impl<T: HeapSize> HeapSize for Vec<T> {
    fn heap_size(&self) -> usize {
        self.len() * size_of::<T>() + self.iter().map(HeapSize::heap_size).sum::<usize>()
    }
}

impl<T: HeapSize> HeapSize for Option<T> {
    fn heap_size(&self) -> usize {
        self.as_ref().map_or(0, HeapSize::heap_size)
    }
}

impl HeapSize for AttrValue {
    fn heap_size(&self) -> usize {
        match self {
            AttrValue::Str(s) => s.len(),
            AttrValue::Bytes(b) => b.len(),
            AttrValue::Array(v) => v.heap_size(),
            AttrValue::Compound(fields) => fields
                .iter()
                .map(|(k, v)| size_of::<(String, AttrValue)>() + k.len() + v.heap_size())
                .sum(),
            AttrValue::Empty
            | AttrValue::Bool(_)
            | AttrValue::Int(_)
            | AttrValue::UInt(_)
            | AttrValue::Float(_) => 0,
        }
    }
}

impl HeapSize for Attribute {
    fn heap_size(&self) -> usize {
        self.name.len() + self.value.heap_size()
    }
}

impl HeapSize for ChunkRef {
    fn heap_size(&self) -> usize {
        self.index.len() * size_of::<u64>() + self.url.heap_size()
    }
}

impl HeapSize for ArrayMeta {
    fn heap_size(&self) -> usize {
        let data = match &self.data {
            ArrayData::Chunks(c) => c.heap_size(),
            ArrayData::Inline(b) => b.len(),
            ArrayData::Strings(s) => s.heap_size(),
            ArrayData::Unread => 0,
        };
        self.name.len()
            + self.path.len()
            + self.dims.heap_size()
            + (self.shape.len() + self.chunk_shape.len()) * size_of::<u64>()
            + self.attrs.heap_size()
            + self.fill_value.heap_size()
            + self.storage_fill.as_ref().map_or(0, Vec::len)
            + data
    }
}

impl HeapSize for Group {
    fn heap_size(&self) -> usize {
        self.path.len()
            + self.attrs.heap_size()
            + self
                .dims
                .iter()
                .map(|d| size_of_val(d) + d.name.len())
                .sum::<usize>()
            + self.arrays.heap_size()
            + self.groups.heap_size()
    }
}

impl HeapSize for GranuleManifest {
    fn heap_size(&self) -> usize {
        self.url.len()
            + self.etag.heap_size()
            + self.root.heap_size()
            + self
                .skipped
                .iter()
                .map(|s| size_of_val(s) + s.path.len() + s.reason.len())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ByteOrder, DType, Group, StorageLayout};

    fn array(chunks: usize) -> ArrayMeta {
        ArrayMeta {
            name: "ssh".into(),
            path: "ssh".into(),
            dims: vec!["x".into()],
            shape: vec![chunks as u64 * 10],
            dtype: DType::Float {
                size: 8,
                order: ByteOrder::Little,
            },
            layout: StorageLayout::Chunked,
            chunk_shape: vec![10],
            codecs: Vec::new(),
            fill_value: None,
            storage_fill: None,
            attrs: vec![Attribute::new("units", AttrValue::Str("m".into()))],
            data: ArrayData::Chunks(
                (0..chunks)
                    .map(|i| ChunkRef {
                        index: vec![i as u64],
                        offset: 0,
                        size: 1,
                        filter_mask: 0,
                        url: None,
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn grows_with_the_chunk_references_a_manifest_holds() {
        let mut m = GranuleManifest {
            url: "file:///g.nc".into(),
            size: None,
            etag: None,
            root: Group::new(""),
            skipped: Vec::new(),
        };
        let empty = m.heap_size();
        m.root.arrays.push(array(10));
        let ten = m.heap_size();
        m.root.arrays[0] = array(1000);
        let thousand = m.heap_size();
        assert!(ten > empty);
        // Each reference costs at least its struct and its index.
        let per_ref = size_of::<ChunkRef>() + size_of::<u64>();
        assert_eq!(thousand - ten, 990 * per_ref);
    }
}
