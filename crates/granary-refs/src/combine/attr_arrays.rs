//! Arrays the combiner creates: the coordinate arrays of new dimensions (inline, one chunk,
//! docs/kerchunk-reference.md 4.3 step 2) and, under `AttrPolicy::Array`, group attributes that vary
//! between granules as arrays over the new dimensions.

use super::{Coord, OutArray};
use crate::zarr::ZarrArray;

fn meta(dims: Vec<String>, shape: Vec<u64>, dtype: String, fill: &str) -> ZarrArray {
    ZarrArray {
        dims,
        chunks: shape.clone(),
        shape,
        dtype,
        fill_value: fill.to_string(),
        filters: "null".into(),
        attrs: Vec::new(),
        embedded: None,
        trim: 0,
        unwritten: None,
    }
}

/// numpy `<U{width}` bytes (UCS-4, little endian, zero padded) of `values`.
fn ucs4(values: &[Option<String>]) -> (String, Vec<u8>) {
    let width = values
        .iter()
        .flatten()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut out = Vec::with_capacity(values.len() * width * 4);
    for v in values {
        let chars: Vec<char> = v.as_deref().unwrap_or("").chars().collect();
        for i in 0..width {
            let c = chars.get(i).map_or(0u32, |c| *c as u32);
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    (format!("\"<U{width}\""), out)
}

/// The coordinate array of a new dimension: its sorted values, inline.
pub(crate) fn coord_array(name: &str, values: &[Coord]) -> OutArray {
    let (dtype, bytes) = match values.first() {
        Some(Coord::Str(_)) | None => ucs4(
            &values
                .iter()
                .map(|v| match v {
                    Coord::Str(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect::<Vec<_>>(),
        ),
        Some(Coord::Int(_)) => (
            "\"<i8\"".to_string(),
            values
                .iter()
                .flat_map(|v| match v {
                    Coord::Int(i) => i.to_le_bytes(),
                    _ => [0; 8],
                })
                .collect(),
        ),
        Some(Coord::UInt(_)) => (
            "\"<u8\"".to_string(),
            values
                .iter()
                .flat_map(|v| match v {
                    Coord::UInt(i) => i.to_le_bytes(),
                    _ => [0; 8],
                })
                .collect(),
        ),
        Some(Coord::Time(_)) => return time_coord_array(name, values),
        Some(Coord::Float(_)) => (
            "\"<f8\"".to_string(),
            values
                .iter()
                .flat_map(|v| match v {
                    Coord::Float(f) => f.to_le_bytes(),
                    _ => [0; 8],
                })
                .collect(),
        ),
    };
    OutArray {
        path: name.to_string(),
        meta: meta(
            vec![name.to_string()],
            vec![values.len() as u64],
            dtype,
            "null",
        ),
        refs: Vec::new(),
        inline: vec![(0, bytes)],
    }
}

/// The coordinate array of a new time dimension: `<i8` counts of the coarsest unit that holds
/// every value exactly, with CF `units` and `calendar`, so readers decode datetimes.
fn time_coord_array(name: &str, values: &[Coord]) -> OutArray {
    let micros: Vec<i64> = values
        .iter()
        .map(|v| match v {
            Coord::Time(us) => *us,
            _ => 0,
        })
        .collect();
    let (unit, per) = super::time_units::coarsest_unit(&micros);
    let bytes = micros
        .iter()
        .flat_map(|us| (us / per).to_le_bytes())
        .collect();
    let mut meta = meta(
        vec![name.to_string()],
        vec![values.len() as u64],
        "\"<i8\"".to_string(),
        "null",
    );
    meta.attrs = vec![
        ("standard_name".into(), "\"time\"".into()),
        (
            "units".into(),
            format!("\"{unit} since 1970-01-01 00:00:00\""),
        ),
        ("calendar".into(), "\"proleptic_gregorian\"".into()),
    ];
    OutArray {
        path: name.to_string(),
        meta,
        refs: Vec::new(),
        inline: vec![(0, bytes)],
    }
}

enum Kind {
    Int,
    Float,
    Text,
}

fn parse_text(json: &str) -> String {
    serde_json::from_str::<String>(json).unwrap_or_else(|_| json.to_string())
}

/// A varying group attribute as an array over the new dimensions: integers as `<i8` (or `<f8`
/// with NaN where a cell has no value), numbers as `<f8`, anything else as `<U` text (strings
/// as they are, other values as their JSON). `per_granule[g]` is granule g's JSON text.
pub(crate) fn group_attr_array(
    path: &str,
    dims: &[String],
    axis_lens: &[u64],
    cell_of: &[u64],
    per_granule: &[Option<&str>],
) -> OutArray {
    let cells: u64 = axis_lens.iter().product();
    let present: Vec<&str> = per_granule.iter().flatten().copied().collect();
    let full = per_granule.iter().all(Option::is_some) && cells == per_granule.len() as u64;
    let kind = if present.iter().all(|v| v.parse::<i64>().is_ok()) && full {
        Kind::Int
    } else if present.iter().all(|v| v.parse::<f64>().is_ok()) {
        Kind::Float
    } else {
        Kind::Text
    };
    let mut by_cell: Vec<Option<&str>> = vec![None; cells as usize];
    for (g, v) in per_granule.iter().enumerate() {
        by_cell[cell_of[g] as usize] = *v;
    }
    let (dtype, fill, bytes) = match kind {
        Kind::Int => (
            "\"<i8\"".to_string(),
            "null",
            by_cell
                .iter()
                .flat_map(|v| {
                    v.and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(0)
                        .to_le_bytes()
                })
                .collect(),
        ),
        Kind::Float => (
            "\"<f8\"".to_string(),
            "\"NaN\"",
            by_cell
                .iter()
                .flat_map(|v| {
                    v.and_then(|v| v.parse::<f64>().ok())
                        .unwrap_or(f64::NAN)
                        .to_le_bytes()
                })
                .collect(),
        ),
        Kind::Text => {
            let texts: Vec<Option<String>> = by_cell.iter().map(|v| v.map(parse_text)).collect();
            let (dtype, bytes) = ucs4(&texts);
            (dtype, "null", bytes)
        }
    };
    OutArray {
        path: path.to_string(),
        meta: meta(dims.to_vec(), axis_lens.to_vec(), dtype, fill),
        refs: Vec::new(),
        inline: vec![(0, bytes)],
    }
}
