//! kerchunk JSON version 1 of a combined reference set (docs/kerchunk-reference.md section 1), written
//! as a stream: keys are produced array by array from the reference table, so memory does not
//! grow with the output beyond the table itself.

use std::io::Write;

use crate::combine::Combined;
use crate::json::{consolidation_text, prefixed, value};
use crate::zarr::ChunkValue;
use crate::{RefsError, jsontext};

/// The consolidated `.zmetadata` JSON text of a combined set.
pub fn zmetadata_text(c: &Combined) -> String {
    consolidation_text(c.metadata().iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Writes the combined set as kerchunk JSON v1 (metadata first, then each array's chunks in
/// grid order), one key per line.
pub fn write_combined_json<W: Write>(c: &Combined, w: W) -> Result<(), RefsError> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, w);
    let io = |e: std::io::Error| RefsError::Write {
        path: "references".into(),
        source: e,
    };
    w.write_all(b"{\"version\":1,\"refs\":{\n").map_err(io)?;
    let mut line = String::new();
    let mut first = true;
    let mut emit = |w: &mut std::io::BufWriter<W>, key: &str, v: &ChunkValue| {
        line.clear();
        if !first {
            line.push_str(",\n");
        }
        first = false;
        jsontext::string(&mut line, key);
        line.push(':');
        value(&mut line, v);
        w.write_all(line.as_bytes())
    };
    emit(&mut w, ".zmetadata", &ChunkValue::Meta(zmetadata_text(c))).map_err(io)?;
    for (k, v) in c.metadata() {
        emit(&mut w, &k, &ChunkValue::Meta(v)).map_err(io)?;
    }
    for a in &c.arrays {
        let grid = a.grid();
        for (index, bytes) in &a.inline {
            let key = prefixed(&a.path, &a.key_in(&grid, *index));
            emit(&mut w, &key, &ChunkValue::Bytes(bytes.clone())).map_err(io)?;
        }
        for r in &a.refs {
            let key = prefixed(&a.path, &a.key_in(&grid, r.index));
            let v = ChunkValue::Range {
                url: c.urls[r.url as usize].clone(),
                offset: r.offset,
                length: r.length,
            };
            emit(&mut w, &key, &v).map_err(io)?;
        }
    }
    w.write_all(b"\n}}\n").map_err(io)?;
    w.flush().map_err(io)?;
    Ok(())
}
