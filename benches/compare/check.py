"""Compares two combined kerchunk reference sets of the same granules (granary's and the Python
anchor's), at two levels:

- references (`manifest_diff`, JSON sets): every chunk key present in both, and pointing at the
  same bytes: the same (url, offset, length), or, when one side inlined a chunk the other
  references, the same bytes once the reference is read; array metadata (`.zarray` fields) and
  attributes (`.zattrs`) compared key by key;
- values (`values_diff`): both sets opened with xarray through fsspec's `reference://`
  filesystem and zarr (raw values: no masking, scaling or time decoding), the same dimensions,
  coordinates and variables, and every variable's values equal in the sampled (cycle, pass)
  cells, the empty cells included.

Both return a summary dict whose `differences` list names each difference found.
"""
import base64
import json
import warnings

import numpy as np

META = (".zarray", ".zattrs", ".zgroup", ".zmetadata")


def load_json_refs(path):
    with open(path) as fh:
        refs = json.load(fh)
    return refs.get("refs", refs) if isinstance(refs, dict) and "version" in refs else refs


def _meta(refs, key):
    v = refs.get(key)
    if v is None:
        return None
    return json.loads(v) if isinstance(v, str) else v


def _read(v, cache):
    """The stored bytes of one reference: inline (raw or `base64:`) or [url, offset, length]."""
    if isinstance(v, str):
        return base64.b64decode(v[7:]) if v.startswith("base64:") else v.encode()
    url = v[0].removeprefix("file://")
    if url not in cache:
        cache[url] = open(url, "rb")
    fh = cache[url]
    if len(v) == 1:
        fh.seek(0)
        return fh.read()
    fh.seek(v[1])
    return fh.read(v[2])


def _norm(v):
    return [v[0].removeprefix("file://"), *v[1:]] if isinstance(v, list) else v


def _decoded_equal(key, a, b, va, vb, cache):
    """Whether a chunk stored under different codecs on each side (e.g. a coordinate the other
    tool compressed) decodes to the same bytes."""
    import numcodecs

    arr = key.rsplit("/", 1)[0]
    za, zb = _meta(a, arr + "/.zarray") or {}, _meta(b, arr + "/.zarray") or {}
    if (za.get("compressor"), za.get("filters")) == (zb.get("compressor"), zb.get("filters")):
        return False

    def decode(z, data):
        if z.get("compressor"):
            data = numcodecs.get_codec(z["compressor"]).decode(data)
        for f in reversed(z.get("filters") or []):
            data = numcodecs.get_codec(f).decode(data)
        return bytes(data)

    try:
        return decode(za, _read(va, cache)) == decode(zb, _read(vb, cache))
    except Exception:  # noqa: BLE001 - undecodable means not shown equal
        return False


def manifest_diff(a, b, names=("a", "b")):
    """Reference-level comparison of two combined JSON reference sets (dicts)."""
    diffs = []
    ka = {k for k in a if not k.endswith(META) and k != ".zmetadata"}
    kb = {k for k in b if not k.endswith(META) and k != ".zmetadata"}
    for k in sorted(ka - kb)[:20]:
        diffs.append(f"chunk {k} only in {names[0]}")
    for k in sorted(kb - ka)[:20]:
        diffs.append(f"chunk {k} only in {names[1]}")
    same_ref = same_bytes = 0
    cache = {}
    for k in sorted(ka & kb):
        va, vb = _norm(a[k]), _norm(b[k])
        if va == vb:
            same_ref += 1
        elif _read(va, cache) == _read(vb, cache) or _decoded_equal(k, a, b, va, vb, cache):
            same_bytes += 1
        else:
            diffs.append(f"chunk {k}: different bytes ({names[0]} {str(va)[:60]}, {names[1]} {str(vb)[:60]})")
    for fh in cache.values():
        fh.close()
    arrays = sorted({k.rsplit("/", 1)[0] for k in set(a) | set(b) if k.endswith("/.zarray")})
    for arr in arrays:
        za, zb = _meta(a, arr + "/.zarray"), _meta(b, arr + "/.zarray")
        if za is None or zb is None:
            diffs.append(f"array {arr} only in {names[0] if zb is None else names[1]}")
            continue
        for f in ("shape", "chunks", "dtype", "fill_value", "order", "filters", "compressor"):
            if za.get(f) != zb.get(f):
                diffs.append(f"array {arr} {f}: {names[0]} {za.get(f)!r}, {names[1]} {zb.get(f)!r}")
        aa, ab = _meta(a, arr + "/.zattrs") or {}, _meta(b, arr + "/.zattrs") or {}
        for key in sorted(set(aa) | set(ab)):
            if aa.get(key) != ab.get(key):
                diffs.append(f"array {arr} attribute {key}: {names[0]} {aa.get(key)!r}, {names[1]} {ab.get(key)!r}")
    ga, gb = _meta(a, ".zattrs") or {}, _meta(b, ".zattrs") or {}
    for key in sorted(set(ga) | set(gb)):
        if ga.get(key) != gb.get(key):
            diffs.append(f"global attribute {key}: {names[0]} {ga.get(key)!r}, {names[1]} {gb.get(key)!r}")
    return {"chunks": len(ka & kb), "same_reference": same_ref, "same_bytes_inline_vs_reference": same_bytes,
            "arrays": len(arrays), "differences": diffs}


def open_refs(target):
    import fsspec
    import xarray as xr

    fs = fsspec.filesystem("reference", fo=str(target), remote_protocol="file", skip_instance_cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=False, zarr_format=2,
                               decode_times=False, mask_and_scale=False, decode_coords=False,
                               concat_characters=False)


def _equal(x, y):
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if x.dtype.kind in "fc":
        return bool(np.array_equal(x, y, equal_nan=True))
    return bool(np.array_equal(x, y))


def sample_cells(ds, dims, cells):
    """Up to `cells` (i, j) index pairs spread evenly over the grid (all of them when it is smaller)."""
    n0, n1 = ds.sizes[dims[0]], ds.sizes[dims[1]]
    total = n0 * n1
    step = max(1, total // cells) if cells else 1
    return [(k // n1, k % n1) for k in range(0, total, step)]


def present_cells(refs):
    """Per array, the (cycle, pass) cells that hold a chunk in a combined JSON set."""
    out = {}
    for k in refs:
        var, _, key = k.rpartition("/")
        idx = key.split(".")
        if var and len(idx) >= 2 and idx[0].isdigit() and idx[1].isdigit():
            out.setdefault(var, set()).add((int(idx[0]), int(idx[1])))
    return out


def values_diff(ta, tb, cells=0, names=("a", "b"), dims=("cycle_num", "pass_num"), present=None):
    """Value-level comparison through xarray; `cells` = 0 compares every cell. `present`
    (`present_cells` of either set) tells how many differing cells are empty cells."""
    da, db = open_refs(ta), open_refs(tb)
    diffs = []
    if dict(da.sizes) != dict(db.sizes):
        diffs.append(f"sizes: {names[0]} {dict(da.sizes)}, {names[1]} {dict(db.sizes)}")
        return {"variables": 0, "cells": 0, "compared": 0, "differences": diffs}
    va, vb = set(da.variables), set(db.variables)
    for v in sorted(va ^ vb):
        diffs.append(f"variable {v} only in {names[0] if v in va else names[1]}")
    for d in dims:
        if not _equal(da[d].values, db[d].values):
            diffs.append(f"coordinate {d} differs")
    grid = sample_cells(da, dims, cells)
    compared = 0
    for v in sorted(va & vb):
        if v in dims:
            continue
        xa, xb = da.variables[v], db.variables[v]
        if xa.dims[:2] != tuple(dims):
            compared += 1
            if not _equal(xa.values, xb.values):
                diffs.append(f"variable {v} values differ")
            continue
        bad = [(i, j) for i, j in grid if not _equal(xa[i, j].values, xb[i, j].values)]
        compared += len(grid)
        if bad:
            empty = "" if present is None else \
                f" ({sum(c not in present.get(v, ()) for c in bad)} of them empty)"
            diffs.append(f"variable {v}: {len(bad)} of {len(grid)} cells differ{empty}, e.g. cell {bad[0]}")
    da.close()
    db.close()
    return {"variables": len(va & vb), "cells": len(grid), "compared": compared, "differences": diffs}


def _icechunk_store(repo):
    import icechunk

    storage = icechunk.local_filesystem_storage(str(repo))
    prefixes = icechunk.Repository.fetch_config(storage).virtual_chunk_containers or {}
    r = icechunk.Repository.open(storage, authorize_virtual_chunk_access={p: None for p in prefixes})
    return r.readonly_session("main").store


def icechunk_diff(granary_repo, vz_repo, selected, names=("granary", "VirtualiZarr")):
    """Compares granary's Icechunk repository (cycle_num × pass_num grid) with VirtualiZarr's
    (`to_icechunk` of the same granules stacked along `granule`, in `selected` order): for every
    array VirtualiZarr wrote, the same codecs and data type, and every chunk of every granule
    stored as the same bytes on both sides (read through each repository's own references);
    then the raw values of every array through xarray."""
    import xarray as xr
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    gs, vs = _icechunk_store(granary_repo), _icechunk_store(vz_repo)
    g, v = zarr.open_group(gs, mode="r", zarr_format=3), zarr.open_group(vs, mode="r", zarr_format=3)
    gc, gp = list(g["cycle_num"][:]), list(g["pass_num"][:])
    cells = []
    for name in selected:
        parts = name.split("_")
        cells.append((gc.index(int(parts[5])), gp.index(int(parts[6]))))
    proto = default_buffer_prototype()

    def raw(store, key):
        b = sync(store.get(key, prototype=proto))
        return None if b is None else b.to_bytes()

    out = {"chunks": 0, "same_reference": 0, "same_bytes_inline_vs_reference": 0, "arrays": 0,
           "values_compared": 0, "differences": [], "only_granary": sorted(set(g.array_keys()) - set(v.array_keys()))}
    for name in sorted(v.array_keys()):
        if name not in g:
            out["differences"].append(f"{name}: only in {names[1]}")
            continue
        ga, va = g[name], v[name]
        if (va.metadata.dimension_names or [None])[0] != "granule":
            # A coordinate xarray did not concatenate (coords="minimal"): the first granule's.
            out.setdefault("not_stacked_by_virtualizarr", []).append(name)
            continue
        out["arrays"] += 1
        gm, vm = ga.metadata.to_dict(), va.metadata.to_dict()
        for field in ("data_type", "codecs"):
            if gm[field] != vm[field]:
                out["differences"].append(f"{name}: {field} {gm[field]} ({names[0]}) vs {vm[field]} ({names[1]})")
        grid = [-(-s // c) for s, c in zip(va.shape[1:], va.chunks[1:])]
        for i, (ci, pi) in enumerate(cells):
            for idx in np.ndindex(*grid) if grid else [()]:
                rest = "/".join(map(str, idx))
                vk = f"{name}/c/{i}" + (f"/{rest}" if rest else "")
                gk = f"{name}/c/{ci}/{pi}" + (f"/{rest}" if rest else "")
                a, b = raw(gs, gk), raw(vs, vk)
                out["chunks"] += 1
                if a == b:
                    out["same_reference"] += 1
                else:
                    out["differences"].append(f"{gk} vs {vk}: stored bytes differ "
                                              f"({'missing' if a is None else len(a)} vs "
                                              f"{'missing' if b is None else len(b)} bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kw = dict(engine="zarr", consolidated=False, zarr_format=3, mask_and_scale=False,
                  decode_times=False, decode_coords=False)
        gd, vd = xr.open_dataset(gs, **kw), xr.open_dataset(vs, **kw)
        for name in vd.variables:
            if name not in gd or "granule" not in vd[name].dims:
                continue
            for i, (ci, pi) in enumerate(cells):
                a = gd[name].isel(cycle_num=ci, pass_num=pi).values
                b = vd[name].isel(granule=i).values
                out["values_compared"] += 1
                if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
                    out["differences"].append(f"{name} granule {selected[i]}: values differ")
    return out
