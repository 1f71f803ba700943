#!/usr/bin/env python3
"""Writes golden chunk tables with h5py (libhdf5) for every HDF5 file under tests/data.

For each file F (relative to tests/data) it writes tests/data/golden/F.json:
  {"error": "..."}                                  if libhdf5 cannot open it, else
  {"datasets": {path: {dtype, shape, chunks, layout, filters, fill, chunk_table, ...}}}
chunk_table rows are [chunk_offset, byte_offset, size, filter_mask] from H5Dchunk_iter (linear),
byte offsets are absolute in the file (user block included). granary's golden test compares its
manifests with these tables dataset by dataset.
Run:  python tests/golden/make_golden.py tests/data
"""
import base64
import json
import math
import os
import sys

import h5py
import numpy as np

SUFFIXES = (".h5", ".nc", ".nc4", ".hdf5", ".he5", ".h5_mvs.h5")
DIM_ONLY = b"This is a netCDF dimension but not a netCDF variable"


def jsonable(v):
    if isinstance(v, (bytes, np.bytes_)):
        return {"bytes": base64.b64encode(bytes(v)).decode()}
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return "NaN" if math.isnan(f) else ("Infinity" if f == math.inf else ("-Infinity" if f == -math.inf else f))
    if isinstance(v, (np.integer, int)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()] if v.dtype.kind not in "SV" else [jsonable(x) for x in v]
    if isinstance(v, str):
        return v
    if isinstance(v, np.void):
        return None
    return None


def dataset_info(d):
    info = {}
    dcpl = d.id.get_create_plist()
    layout = dcpl.get_layout()
    info["layout"] = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous",
                      h5py.h5d.CHUNKED: "chunked", h5py.h5d.VIRTUAL: "virtual"}.get(layout, str(layout))
    if dcpl.get_external_count() > 0:
        info["layout"] = "external"
    info["null_space"] = d.shape is None
    info["shape"] = list(d.shape) if d.shape is not None else None
    info["chunks"] = list(d.chunks) if d.chunks else None
    dt = d.dtype
    info["dtype"] = dt.str if dt.names is None else [[n, dt.fields[n][0].str] for n in dt.names]
    if h5py.check_string_dtype(dt) and h5py.check_string_dtype(dt).length is None:
        info["dtype"] = "|O"
    info["filters"] = [[int(dcpl.get_filter(i)[0]), [int(x) for x in dcpl.get_filter(i)[2]]]
                       for i in range(dcpl.get_nfilters())]
    info["fill_defined"] = dcpl.fill_value_defined() == h5py.h5d.FILL_VALUE_USER_DEFINED
    try:
        info["fill"] = jsonable(d.fillvalue) if info["fill_defined"] else None
    except Exception:  # noqa: BLE001 - vlen fill values
        info["fill"] = None
    fv = d.attrs.get("_FillValue") if "_FillValue" in d.attrs else None
    info["_FillValue"] = jsonable(np.asarray(fv).reshape(-1)[0]) if fv is not None else None
    name = d.attrs.get("NAME") if "NAME" in d.attrs else None
    info["dim_only"] = isinstance(name, (bytes, np.bytes_)) and bytes(name).startswith(DIM_ONLY)
    table = []
    if info["layout"] == "chunked" and not info["null_space"]:
        d.id.chunk_iter(lambda s: table.append([list(s.chunk_offset), int(s.byte_offset), int(s.size),
                                                int(s.filter_mask)]))
    elif info["layout"] == "contiguous" and not info["null_space"]:
        off = d.id.get_offset()
        if off is not None and d.id.get_storage_size() > 0:
            table.append([[0] * len(d.shape), int(off), int(d.id.get_storage_size()), 0])
    table.sort()
    info["chunk_table"] = table
    return info


def golden(path):
    try:
        f = h5py.File(path, "r")
    except Exception as e:  # noqa: BLE001 - recorded as the expected outcome
        return {"error": f"{type(e).__name__}: {e}"}
    out = {}
    with f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                try:
                    out[name] = dataset_info(obj)
                except Exception as e:  # noqa: BLE001
                    out[name] = {"error": f"{type(e).__name__}: {e}"}
        f.visititems(visit)
    return {"datasets": dict(sorted(out.items()))}


def main(root):
    dest = os.path.join(root, "golden")
    n = 0
    for dirpath, _, files in sorted(os.walk(root)):
        if os.path.abspath(dirpath).startswith(os.path.abspath(dest)):
            continue
        for fn in sorted(files):
            if not fn.endswith(SUFFIXES):
                continue
            src = os.path.join(dirpath, fn)
            rel = os.path.relpath(src, root)
            target = os.path.join(dest, rel + ".json")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w") as fh:
                json.dump(golden(src), fh, sort_keys=True)
                fh.write("\n")
            n += 1
    print(f"wrote {n} golden tables under {dest}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
