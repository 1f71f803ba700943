//! Chunk tables of chunked datasets (spec IV.A.2.i and III.A.1): v1 B-tree (layout v1-3),
//! single chunk, implicit, fixed array, extensible array and v2 B-tree (layout v4, [`index_v4`]).

use granary_core::ChunkRef;

use crate::btree_v1;
use crate::cursor::{Ctx, Cur};
use crate::error::{PResult, malformed};
use crate::index_v4;
use crate::messages::ChunkIndex;

/// Geometry needed to turn index records into chunk references.
pub(crate) struct Geometry<'a> {
    pub shape: &'a [u64],
    /// Maximum dimensions (`u64::MAX` = unlimited); `None` when equal to `shape`.
    pub max: Option<&'a [u64]>,
    pub chunk: &'a [u64],
    pub element_size: u64,
    pub filtered: bool,
    /// Current chunk grid (chunks per axis).
    pub grid: Vec<u64>,
}

impl<'a> Geometry<'a> {
    pub fn new(
        shape: &'a [u64],
        max: Option<&'a [u64]>,
        chunk: &'a [u64],
        element_size: u64,
        filtered: bool,
    ) -> Self {
        let grid = shape
            .iter()
            .zip(chunk)
            .map(|(s, c)| s.div_ceil((*c).max(1)))
            .collect();
        Self {
            shape,
            max,
            chunk,
            element_size,
            filtered,
            grid,
        }
    }
}

impl Geometry<'_> {
    fn grid(&self) -> Vec<u64> {
        self.grid.clone()
    }

    fn grid_ref(&self) -> &[u64] {
        &self.grid
    }

    /// Element decoder for array indexes; `unlimited_first` moves the unlimited axis to the
    /// front (extensible array).
    fn elements(&self, unlimited_first: bool) -> index_v4::Elements<'_> {
        let grid: Vec<u64> = self.grid();
        let max_grid: Vec<u64> = (0..self.shape.len())
            .map(|d| match self.max.and_then(|m| m.get(d)) {
                Some(m) if *m != u64::MAX => m.div_ceil(self.chunk[d].max(1)),
                _ => grid[d],
            })
            .collect();
        let mut order: Vec<usize> = (0..self.shape.len()).collect();
        if unlimited_first
            && let Some(u) = self.max.and_then(|m| m.iter().position(|x| *x == u64::MAX))
        {
            order.retain(|d| *d != u);
            order.insert(0, u);
        }
        let index_grid = order.iter().map(|d| max_grid[*d]).collect();
        index_v4::Elements {
            grid: self.grid_ref(),
            index_grid,
            order,
            filtered: self.filtered,
            unfiltered_size: self.chunk_bytes(),
        }
    }

    fn chunk_bytes(&self) -> u64 {
        self.chunk
            .iter()
            .fold(self.element_size, |a, x| a.saturating_mul(*x))
    }
}

/// Every allocated chunk of a chunked dataset, sorted by grid index.
pub(crate) fn list(ctx: &Ctx<'_>, index: &ChunkIndex, g: &Geometry<'_>) -> PResult<Vec<ChunkRef>> {
    if g.chunk.len() != g.shape.len() || g.chunk.contains(&0) {
        return Err(malformed(
            0,
            format!("chunk shape {:?} does not fit shape {:?}", g.chunk, g.shape),
        ));
    }
    let mut out = match index {
        ChunkIndex::BTreeV1 { addr: None }
        | ChunkIndex::Single { addr: None, .. }
        | ChunkIndex::Implicit { addr: None }
        | ChunkIndex::FixedArray { addr: None, .. }
        | ChunkIndex::ExtensibleArray { addr: None }
        | ChunkIndex::BTreeV2 { addr: None } => Vec::new(),
        ChunkIndex::BTreeV1 { addr: Some(a) } => btree(ctx, *a, g)?,
        ChunkIndex::Single {
            addr: Some(a),
            filtered,
        } => {
            let (size, filter_mask) = filtered.unwrap_or((g.chunk_bytes(), 0));
            vec![ChunkRef {
                index: vec![0; g.shape.len()],
                offset: ctx.base + a,
                size,
                filter_mask,
                url: None,
            }]
        }
        ChunkIndex::Implicit { addr: Some(a) } => implicit(ctx, *a, g)?,
        ChunkIndex::FixedArray { addr: Some(a), .. } => {
            index_v4::fixed_array(ctx, *a, &g.elements(false))?
        }
        ChunkIndex::ExtensibleArray { addr: Some(a) } => {
            index_v4::extensible_array(ctx, *a, &g.elements(true))?
        }
        ChunkIndex::BTreeV2 { addr: Some(a) } => index_v4::btree(ctx, *a, &g.elements(false))?,
    };
    out.sort_by(|a, b| a.index.cmp(&b.index));
    if out.windows(2).any(|w| w[0].index == w[1].index) {
        return Err(malformed(0, "two chunks at the same grid position"));
    }
    Ok(out)
}

fn btree(ctx: &Ctx<'_>, root: u64, g: &Geometry<'_>) -> PResult<Vec<ChunkRef>> {
    let rank = g.shape.len();
    let key_size = 8 + 8 * (rank + 1);
    let grid = g.grid();
    let leaves = btree_v1::leaves(ctx, root, 1, key_size)?;
    let mut out = Vec::with_capacity(leaves.len());
    for e in leaves {
        let mut c = Cur::new(e.key, e.child, *ctx);
        let size = u64::from(c.u32()?);
        let filter_mask = c.u32()?;
        let mut index = Vec::with_capacity(rank);
        for d in 0..rank {
            let off = c.u64()?;
            if off % g.chunk[d] != 0 || off / g.chunk[d] >= grid[d].max(1) {
                return Err(malformed(
                    e.child,
                    format!("chunk offset {off} on axis {d} does not fit the chunk grid"),
                ));
            }
            index.push(off / g.chunk[d]);
        }
        out.push(ChunkRef {
            index,
            offset: ctx.base + e.child,
            size,
            filter_mask,
            url: None,
        });
    }
    Ok(out)
}

fn implicit(ctx: &Ctx<'_>, addr: u64, g: &Geometry<'_>) -> PResult<Vec<ChunkRef>> {
    if g.filtered {
        return Err(malformed(addr, "implicit chunk index with filters"));
    }
    let e = g.elements(false);
    let n: u64 = e.index_grid.iter().fold(1u64, |a, x| a.saturating_mul(*x));
    let bytes = g.chunk_bytes();
    if bytes == 0 || n.saturating_mul(bytes) > ctx.cache.object_size() {
        return Err(malformed(addr, "implicit chunk index larger than the file"));
    }
    let mut out = Vec::new();
    for i in 0..n {
        let mut index = vec![0; e.index_grid.len()];
        let mut rest = i;
        for d in (0..index.len()).rev() {
            index[e.order[d]] = rest % e.index_grid[d].max(1);
            rest /= e.index_grid[d].max(1);
        }
        if index.iter().zip(&g.grid).any(|(x, m)| x >= m) {
            continue;
        }
        out.push(ChunkRef {
            index,
            offset: ctx.base + addr + i * bytes,
            size: bytes,
            filter_mask: 0,
            url: None,
        });
    }
    Ok(out)
}
