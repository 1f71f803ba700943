//! Which arrays a combine keeps (`docs/combine.md`, "Choosing the arrays"): a keep list, a drop
//! list, and a SQL condition over the `zarr` table (`path LIKE 'ssha%'`). The arrays the kept
//! ones need are kept too: the coordinate variables of their dimensions and the variables their
//! CF `coordinates` attribute names. An explicit drop wins over that closure (dropping the
//! variable a refusal names is how such a refusal is resolved).

use std::collections::{BTreeMap, HashSet};

use datafusion::arrow::array::{Array, AsArray, StringArray};
use datafusion::prelude::SessionContext;

use crate::{Access, SqlError, query};

/// Which arrays to keep; the default keeps every array.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ArraySelection {
    /// Array paths to keep (with what they need); empty: all, unless `condition` is given.
    pub keep: Vec<String>,
    /// Array paths to leave out.
    pub drop: Vec<String>,
    /// A SQL condition over the `zarr` table's columns selecting arrays to keep.
    pub condition: Option<String>,
}

impl ArraySelection {
    /// Whether every array is kept.
    pub fn is_all(&self) -> bool {
        self.keep.is_empty() && self.drop.is_empty() && self.condition.is_none()
    }
}

/// An array's dimensions and the names its `coordinates` attribute lists.
type Needs = (Vec<String>, Vec<String>);

fn group_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(g, _)| g)
}

/// `name` as seen from `group`: the array in that group, else one in an enclosing group.
fn resolve(arrays: &BTreeMap<String, Needs>, group: &str, name: &str) -> Option<String> {
    let mut g = group.to_string();
    loop {
        let candidate = if g.is_empty() {
            name.to_string()
        } else {
            format!("{g}/{name}")
        };
        if arrays.contains_key(&candidate) {
            return Some(candidate);
        }
        if g.is_empty() {
            return None;
        }
        g = group_of(&g).to_string();
    }
}

async fn paths(ctx: &SessionContext, sql: &str) -> Result<Vec<String>, SqlError> {
    let mut out = Vec::new();
    for b in query(ctx, sql, Access::ReadOnly).await? {
        let col = b
            .column_by_name("path")
            .ok_or_else(|| SqlError::MissingColumn {
                column: "zarr.path".into(),
            })?;
        let col = col.as_string::<i32>();
        out.extend(col.iter().flatten().map(str::to_string));
    }
    Ok(out)
}

/// Every array of the inventory with what it needs.
async fn arrays(ctx: &SessionContext) -> Result<BTreeMap<String, Needs>, SqlError> {
    let sql = "SELECT DISTINCT path, array_to_string(dims, ' ') AS dims, \
               attrs['coordinates'] AS coordinates FROM zarr WHERE node = 'array'";
    let mut out = BTreeMap::new();
    for b in query(ctx, sql, Access::ReadOnly).await? {
        let text = |name: &str| {
            b.column_by_name(name)
                .map(|c| c.as_string::<i32>().clone())
                .ok_or_else(|| SqlError::MissingColumn {
                    column: format!("zarr.{name}"),
                })
        };
        let (path, dims, coords) = (text("path")?, text("dims")?, text("coordinates")?);
        for i in 0..b.num_rows() {
            let words = |a: &StringArray| -> Vec<String> {
                if a.is_null(i) {
                    return Vec::new();
                }
                a.value(i)
                    .trim_matches('"')
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            };
            let entry: &mut Needs = out.entry(path.value(i).to_string()).or_default();
            for d in words(&dims) {
                if !entry.0.contains(&d) {
                    entry.0.push(d);
                }
            }
            for c in words(&coords) {
                if !entry.1.contains(&c) {
                    entry.1.push(c);
                }
            }
        }
    }
    Ok(out)
}

/// The array paths a combine keeps, or `None` for all of them.
pub(crate) async fn kept_arrays(
    ctx: &SessionContext,
    sel: &ArraySelection,
) -> Result<Option<HashSet<String>>, SqlError> {
    if sel.is_all() {
        return Ok(None);
    }
    let all = arrays(ctx).await?;
    for name in sel.keep.iter().chain(&sel.drop) {
        if !all.contains_key(name) {
            return Err(SqlError::UnknownArray { name: name.clone() });
        }
    }
    let mut kept: HashSet<String> = sel.keep.iter().cloned().collect();
    if let Some(condition) = &sel.condition {
        let sql = format!("SELECT DISTINCT path FROM zarr WHERE node = 'array' AND ({condition})");
        kept.extend(paths(ctx, &sql).await?);
    }
    if sel.keep.is_empty() && sel.condition.is_none() {
        kept.extend(all.keys().cloned());
    }
    let dropped: HashSet<&String> = sel.drop.iter().collect();
    kept.retain(|p| !dropped.contains(p));
    // Close over what the kept arrays need.
    let mut todo: Vec<String> = kept.iter().cloned().collect();
    while let Some(path) = todo.pop() {
        let Some((dims, coords)) = all.get(&path) else {
            continue;
        };
        let group = group_of(&path);
        for name in dims.iter().chain(coords) {
            if let Some(need) = resolve(&all, group, name)
                && !dropped.contains(&need)
                && kept.insert(need.clone())
            {
                todo.push(need);
            }
        }
    }
    Ok(Some(kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_the_group_then_its_parents() {
        let mut all = BTreeMap::new();
        for p in ["time", "left/time", "left/ssh", "latitude"] {
            all.insert(p.to_string(), Needs::default());
        }
        assert_eq!(resolve(&all, "left", "time").as_deref(), Some("left/time"));
        assert_eq!(
            resolve(&all, "left", "latitude").as_deref(),
            Some("latitude")
        );
        assert_eq!(resolve(&all, "", "nope"), None);
    }
}
