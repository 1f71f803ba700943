//! Coordinate values, sorted axes and the cell of each granule (docs/kerchunk-reference.md 4.3:
//! coordinates are sorted and de-duplicated; 4.6: duplicate cells must not be overwritten
//! silently).

use std::cmp::Ordering;
use std::collections::HashMap;
use std::fmt;

use super::{CombineError, OnDuplicate};

/// One coordinate value of a granule.
#[derive(Debug, Clone, PartialEq)]
pub enum Coord {
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// An instant: microseconds since 1970-01-01T00:00:00Z (proleptic Gregorian calendar).
    /// Its coordinate array is a CF time variable (`<i8`, `units`, `calendar`).
    Time(i64),
}

impl Coord {
    fn total_cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Coord::Int(a), Coord::Int(b)) => a.cmp(b),
            (Coord::UInt(a), Coord::UInt(b)) => a.cmp(b),
            (Coord::Float(a), Coord::Float(b)) => a.total_cmp(b),
            (Coord::Str(a), Coord::Str(b)) => a.cmp(b),
            (Coord::Time(a), Coord::Time(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Coord::Int(_) => 0,
            Coord::UInt(_) => 1,
            Coord::Float(_) => 2,
            Coord::Str(_) => 3,
            Coord::Time(_) => 4,
        }
    }

    /// The kind name used in messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Coord::Int(_) => "integer",
            Coord::UInt(_) => "unsigned integer",
            Coord::Float(_) => "float",
            Coord::Str(_) => "string",
            Coord::Time(_) => "timestamp",
        }
    }
}

impl fmt::Display for Coord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Coord::Int(v) => write!(f, "{v}"),
            Coord::UInt(v) => write!(f, "{v}"),
            Coord::Float(v) => write!(f, "{v}"),
            Coord::Str(v) => write!(f, "{v:?}"),
            Coord::Time(us) => f.write_str(&super::time_units::iso8601(*us)),
        }
    }
}

/// One row of the selection: a granule and its coordinates, in the order of the concat dims.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectedGranule {
    pub url: String,
    pub coords: Vec<Coord>,
}

/// The sorted axes and the granules that survive duplicate resolution, in cell order.
#[derive(Debug, Clone)]
pub(crate) struct Cells {
    /// Sorted distinct values per dim.
    pub axes: Vec<Vec<Coord>>,
    /// Kept granules in cell order: (url, position on each axis).
    pub granules: Vec<(String, Vec<u64>)>,
    /// Duplicates resolved by the policy: (cell text, kept url, dropped urls).
    pub resolved: Vec<(String, String, Vec<String>)>,
}

fn cell_text(dims: &[String], coords: &[Coord]) -> String {
    dims.iter()
        .zip(coords)
        .map(|(d, c)| format!("{d}={c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Sorts the coordinates, assigns each granule its cell and applies the duplicate policy.
pub(crate) fn cells(
    dims: &[String],
    rows: &[SelectedGranule],
    policy: OnDuplicate,
) -> Result<Cells, CombineError> {
    if rows.is_empty() {
        return Err(CombineError::EmptySelection);
    }
    let mut urls: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if r.coords.len() != dims.len() {
            return Err(CombineError::Selection(format!(
                "{}: {} coordinates for {} concat dimensions",
                r.url,
                r.coords.len(),
                dims.len()
            )));
        }
        if let Some(j) = urls.insert(&r.url, i) {
            return Err(CombineError::Selection(format!(
                "granule {} is selected twice (rows {} and {}); select each granule once",
                r.url,
                j + 1,
                i + 1
            )));
        }
    }
    let mut axes = Vec::with_capacity(dims.len());
    for (d, name) in dims.iter().enumerate() {
        let first = &rows[0].coords[d];
        if let Some(r) = rows.iter().find(|r| r.coords[d].rank() != first.rank()) {
            return Err(CombineError::Selection(format!(
                "column {name}: {} is a {} but {} is a {}",
                r.url,
                r.coords[d].kind(),
                rows[0].url,
                first.kind()
            )));
        }
        if let Some(r) = rows
            .iter()
            .find(|r| matches!(r.coords[d], Coord::Float(f) if f.is_nan()))
        {
            return Err(CombineError::Selection(format!(
                "column {name}: {} has coordinate NaN",
                r.url
            )));
        }
        let mut values: Vec<Coord> = rows.iter().map(|r| r.coords[d].clone()).collect();
        values.sort_by(Coord::total_cmp);
        values.dedup_by(|a, b| a.total_cmp(b) == Ordering::Equal);
        axes.push(values);
    }
    // (cell position, selection row)
    let mut placed: Vec<(Vec<u64>, usize)> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let pos = axes
                .iter()
                .zip(&r.coords)
                .map(|(axis, c)| {
                    axis.binary_search_by(|x| x.total_cmp(c))
                        .map_or(0, |p| p as u64)
                })
                .collect();
            (pos, i)
        })
        .collect();
    placed.sort();
    let mut granules = Vec::with_capacity(placed.len());
    let mut resolved = Vec::new();
    let mut clashes = Vec::new();
    let mut i = 0;
    while i < placed.len() {
        let mut j = i + 1;
        while j < placed.len() && placed[j].0 == placed[i].0 {
            j += 1;
        }
        let group = &placed[i..j];
        let keep = match policy {
            OnDuplicate::Last => group[group.len() - 1].1,
            _ => group[0].1,
        };
        if group.len() > 1 {
            let cell = cell_text(dims, &rows[keep].coords);
            let all: Vec<String> = group.iter().map(|(_, r)| rows[*r].url.clone()).collect();
            if policy == OnDuplicate::Error {
                clashes.push((cell, all));
            } else {
                let dropped = all
                    .iter()
                    .filter(|u| **u != rows[keep].url)
                    .cloned()
                    .collect();
                resolved.push((cell, rows[keep].url.clone(), dropped));
            }
        }
        granules.push((rows[keep].url.clone(), placed[i].0.clone()));
        i = j;
    }
    if !clashes.is_empty() {
        return Err(CombineError::Duplicates {
            count: clashes.len(),
            examples: clashes
                .iter()
                .take(5)
                .map(|(cell, urls)| format!("  {cell}: {}", urls.join(" and ")))
                .collect::<Vec<_>>()
                .join("\n"),
        });
    }
    Ok(Cells {
        axes,
        granules,
        resolved,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(url: &str, c: i64, p: i64) -> SelectedGranule {
        SelectedGranule {
            url: url.into(),
            coords: vec![Coord::Int(c), Coord::Int(p)],
        }
    }

    fn dims() -> Vec<String> {
        vec!["cycle_num".into(), "pass_num".into()]
    }

    #[test]
    fn axes_are_sorted_and_cells_follow_them() {
        let rows = [row("b", 2, 4), row("a", 1, 2), row("c", 1, 4)];
        let c = cells(&dims(), &rows, OnDuplicate::Error).unwrap();
        assert_eq!(c.axes[0], vec![Coord::Int(1), Coord::Int(2)]);
        assert_eq!(c.axes[1], vec![Coord::Int(2), Coord::Int(4)]);
        let order: Vec<_> = c
            .granules
            .iter()
            .map(|(u, p)| (u.as_str(), p.clone()))
            .collect();
        assert_eq!(
            order,
            vec![("a", vec![0, 0]), ("c", vec![0, 1]), ("b", vec![1, 1])]
        );
    }

    #[test]
    fn duplicates_are_refused_or_resolved_in_row_order() {
        let rows = [row("v1", 1, 2), row("v2", 1, 2), row("x", 1, 3)];
        let e = cells(&dims(), &rows, OnDuplicate::Error).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("cycle_num=1, pass_num=2: v1 and v2"), "{msg}");
        let first = cells(&dims(), &rows, OnDuplicate::First).unwrap();
        assert_eq!(first.granules[0].0, "v1");
        assert_eq!(first.resolved[0].2, vec!["v2".to_string()]);
        let last = cells(&dims(), &rows, OnDuplicate::Last).unwrap();
        assert_eq!(last.granules[0].0, "v2");
        assert_eq!(last.granules.len(), 2);
    }

    #[test]
    fn mixed_kinds_and_nan_are_refused() {
        let rows = [
            row("a", 1, 2),
            SelectedGranule {
                url: "b".into(),
                coords: vec![Coord::Str("1".into()), Coord::Int(2)],
            },
        ];
        assert!(cells(&dims(), &rows, OnDuplicate::Error).is_err());
        let rows = [SelectedGranule {
            url: "a".into(),
            coords: vec![Coord::Float(f64::NAN)],
        }];
        assert!(cells(&["t".into()], &rows, OnDuplicate::Error).is_err());
    }
}
