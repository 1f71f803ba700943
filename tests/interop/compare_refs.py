"""Compares a kerchunk reference set, opened with xarray through fsspec's ``reference://``
filesystem and zarr-python, with its source file read by an independent reader (netCDF4-python,
or h5py for plain HDF5 files netCDF-C cannot open): every variable's values, every attribute and
the fill value.

As a script it compares many pairs in one process, printing one JSON line per pair, so that a
C-level crash of a source reader on a hostile corpus file can be isolated by the caller:
    python compare_refs.py [--reader auto|h5py] SRC REFS [SRC REFS ...]
"""
import json
import math
import os
import subprocess
import warnings
from pathlib import Path

import fsspec
import h5py
import hdf5plugin  # noqa: F401 - registers HDF5 filters (lz4, bitshuffle, ...) with h5py
import imagecodecs.numcodecs
import netCDF4
import numpy as np
import sys
import xarray as xr
import zarr

# The codecs references name for lz4 and lzf chunks (docs/formats.md, "Codecs"), as a reader
# registers them.
imagecodecs.numcodecs.register_codecs()

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
BIN = os.environ.get("GRANARY_BIN", str(ROOT / "target" / "debug" / "granary"))
HIDDEN = {"REFERENCE_LIST", "CLASS", "DIMENSION_LIST", "NAME", "_Netcdf4Dimid", "_Netcdf4Coordinates",
          "_nc3_strict", "_NCProperties", "_FillValue", "coordinates"}
SUFFIXES = (".nc", ".h5", ".nc4", ".hdf5", ".he5")


def granules(sub):
    return sorted(p for p in (DATA / sub).rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))


def scan(src: Path, out: Path, *extra: str):
    r = subprocess.run([BIN, "scan", str(src), "-o", str(out), *extra], capture_output=True, text=True)
    return r.returncode, r.stderr


def combine_refs(src, out, sql: str, *extra):
    """`granary combine SRC -c SQL -o OUT ...`: (exit code, standard error)."""
    r = subprocess.run([BIN, "combine", str(src), "-c", sql, "-o", str(out), *map(str, extra)],
                       capture_output=True, text=True)
    return r.returncode, r.stderr


def icechunk_session(repo: Path, snapshot=None, branch="main"):
    """A read-only session of a local Icechunk repository, authorizing exactly the virtual chunk
    containers its config declares (how docs/icechunk.md tells readers to open one)."""
    import icechunk  # noqa: PLC0415  (only the Icechunk tests need it)
    storage = icechunk.local_filesystem_storage(str(repo))
    config = icechunk.Repository.fetch_config(storage)
    prefixes = list((config.virtual_chunk_containers or {}) if config else {})
    r = icechunk.Repository.open(storage, authorize_virtual_chunk_access={p: None for p in prefixes})
    return r, (r.readonly_session(snapshot_id=snapshot) if snapshot else r.readonly_session(branch))


def open_icechunk(repo: Path, snapshot=None, group=None, **kw):
    """An Icechunk repository's branch tip (or snapshot) through xarray's zarr engine (v3)."""
    _, s = icechunk_session(repo, snapshot)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(s.store, engine="zarr", consolidated=False, zarr_format=3,
                               group=group or None, **kw)


def open_decoded(refs: Path, **kw):
    """A reference set as users open it: xarray's default decoding (masking, scaling, times)."""
    if str(refs).endswith(".icechunk"):
        return open_icechunk(refs, **kw)
    fs = fsspec.filesystem("reference", fo=str(refs), remote_protocol="file", skip_instance_cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=True, zarr_format=2,
                               **kw)


def open_group(refs: Path, group: str):
    if str(refs).endswith(".icechunk"):
        return open_icechunk(refs, group=group, decode_times=False, mask_and_scale=False,
                             decode_coords=False, concat_characters=False)
    fs = fsspec.filesystem("reference", fo=str(refs), remote_protocol="file", skip_instance_cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=True, zarr_format=2,
                               group=group or None, decode_times=False, mask_and_scale=False,
                               decode_coords=False, concat_characters=False)


def norm(v):
    if isinstance(v, h5py.Empty):
        return ""
    if isinstance(v, (bytes, np.bytes_)):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, np.ndarray):
        v = v.tolist()
        if len(v) == 1:
            return norm(v[0])
        return [norm(x) for x in v]
    if isinstance(v, (list, tuple)):
        return norm(v[0]) if len(v) == 1 else [norm(x) for x in v]
    if isinstance(v, np.void) and v.dtype.names:
        return {n: norm(v[n]) for n in v.dtype.names}
    if isinstance(v, np.generic):
        return v.item()
    return v


def flat(v):
    """netCDF attributes are 1-D: compare multi-dimensional attribute values flattened."""
    if isinstance(v, list):
        out = []
        for x in v:
            out.extend(flat(x) if isinstance(x, list) else [x])
        return out
    return v


def same(a, b):
    a, b = flat(norm(a)), flat(norm(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b) or (isinstance(a, float) and np.float32(a) == np.float32(b))
    return a == b


def values_equal(expected, got):
    expected, got = np.asarray(expected), np.asarray(got)
    if expected.shape != got.shape:
        return False
    if expected.dtype.names or got.dtype.names:
        if expected.dtype.names != got.dtype.names:
            return False
        return all(values_equal(expected[n], got[n]) for n in expected.dtype.names)
    if expected.dtype.kind in "OUS" or got.dtype.kind in "OUS":
        return [norm(x) for x in expected.ravel()] == [norm(x) for x in got.ravel()]
    if expected.dtype.kind == "f":
        return np.array_equal(expected, got, equal_nan=True)
    return np.array_equal(expected, got)


def netcdf_source(path):
    """{group: {var: (array, attrs, dtype)}} read raw with netCDF4-python."""
    out = {}
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(False)
        nc.set_auto_chartostring(False)

        def walk(g, prefix):
            vs = {}
            for name, v in g.variables.items():
                v.set_auto_maskandscale(False)
                v.set_auto_chartostring(False)
                vs[name] = (v[...], {k: v.getncattr(k) for k in v.ncattrs()}, v.dtype)
            out[prefix] = (vs, {k: g.getncattr(k) for k in g.ncattrs()})
            for name, sub in g.groups.items():
                walk(sub, f"{prefix}/{name}".lstrip("/"))

        walk(nc, "")
    return out


def deref(f, value):
    """Object references in attributes become the referenced object's path (as granary writes)."""
    if isinstance(value, h5py.Reference):
        return f[value].name if value else ""
    if isinstance(value, np.ndarray) and value.dtype.kind == "O" and value.size and \
            isinstance(value.flat[0], h5py.Reference):
        return np.array([deref(f, x) for x in value.flat], dtype=object).reshape(value.shape)
    return value


# Datasets of the last source read that h5py could not read.
UNREADABLE = []
# Space-padded fixed-length string datasets of the last source h5py read: libhdf5 (so h5py)
# strips the padding, netCDF4-python and zarr readers return it; compared without it.
SPACE_PADDED = set()


def hdf5_source(path):
    out = {}
    with h5py.File(path, "r") as f:
        def walk(g, prefix):
            vs = {}
            for link in g:
                if isinstance(g.get(link, getlink=True), h5py.ExternalLink):
                    continue
                try:
                    obj = g[link]
                except KeyError:
                    continue  # dangling soft link
                # The variable's netCDF name, as netCDF4 (the other reader) and granary give it.
                name = link.removeprefix("_nc4_non_coord_")
                dim_only = False
                if isinstance(obj, h5py.Dataset):
                    name_attr = obj.attrs.get("NAME") if "NAME" in obj.attrs else None
                    dim_only = isinstance(name_attr, (bytes, np.bytes_)) and bytes(name_attr).startswith(
                        b"This is a netCDF dimension but not a netCDF variable")
                if isinstance(obj, h5py.Dataset) and obj.shape is not None and not dim_only:
                    try:
                        data = obj.asstr()[...] if h5py.check_string_dtype(obj.dtype) and \
                            h5py.check_string_dtype(obj.dtype).length is None else obj[...]
                    except OSError:
                        # h5py cannot read it (a filter with no plugin, an external file):
                        # there is nothing to compare with.
                        UNREADABLE.append(f"{prefix}/{name}".strip("/"))
                        continue
                    t = obj.id.get_type()
                    if isinstance(t, h5py.h5t.TypeStringID) and not t.is_variable_str() and \
                            t.get_strpad() == h5py.h5t.STR_SPACEPAD:
                        SPACE_PADDED.add(f"{prefix}/{name}".strip("/"))
                    vs[name] = (data, {k: deref(f, v) for k, v in obj.attrs.items()}, obj.dtype)
            out[prefix] = (vs, {k: deref(f, v) for k, v in g.attrs.items()})
            for name in g:
                if isinstance(g.get(name, getlink=True), h5py.ExternalLink):
                    continue
                try:
                    obj = g[name]
                except KeyError:
                    continue  # dangling soft link
                if isinstance(obj, h5py.Group):
                    walk(obj, f"{prefix}/{name}".lstrip("/"))

        walk(f, "")
    return out


def read_source(path, reader="auto"):
    if reader == "auto":
        try:
            source = netcdf_source(path)
        except (OSError, RuntimeError, TypeError):
            # netCDF-C cannot open it, or netCDF4-python cannot convert one of its types.
            return hdf5_source(path), "h5py"
        # netCDF4-python misreads HDF5 compound types it did not write: take those from h5py.
        with h5py.File(path, "r") as f:
            for group, (variables, _) in source.items():
                for name, (data, attrs, dtype) in list(variables.items()):
                    if np.asarray(data).dtype.names:
                        variables[name] = (f[f"{group}/{name}"][...], attrs, dtype)
        return source, "netCDF4"
    return hdf5_source(path), "h5py"


def compare(src_path: Path, refs: Path, reader="auto", compared=None):
    """Returns a list of differences (empty when the reference set is exact); the path of every
    source variable is appended to `compared` when given."""
    errors = []
    source, reader = read_source(src_path, reader)
    for group, (variables, gattrs) in source.items():
        ds = open_group(refs, group)
        for k, v in gattrs.items():
            if k in HIDDEN:
                continue
            if k not in ds.attrs or not same(v, ds.attrs[k]):
                errors.append(f"{group}: global attribute {k}: {v!r} vs {ds.attrs.get(k)!r}")
        for name, (data, attrs, dtype) in variables.items():
            if compared is not None:
                compared.append(f"{group}/{name}".strip("/"))
            if name not in ds.variables:
                if isinstance(data, np.ndarray) and data.dtype.kind == "V":
                    continue  # netCDF4 exposes dimension-only scales of some files as variables
                errors.append(f"{group}/{name}: missing from references ({reader})")
                continue
            got = ds[name]
            try:
                got_values = got.values
            except TypeError:
                # xarray cannot byte-swap big-endian structured arrays; read them with zarr.
                fs = fsspec.filesystem("reference", fo=str(refs), remote_protocol="file")
                key = f"{group}/{name}".lstrip("/")
                got_values = zarr.open_array(fs.get_mapper(key), mode="r", zarr_format=2)[...]
            if f"{group}/{name}".strip("/") in SPACE_PADDED:
                got_values = np.char.rstrip(np.asarray(got_values), b" ")
            if not values_equal(data, got_values):
                errors.append(f"{group}/{name}: values differ ({reader})")
            for k, v in attrs.items():
                if k in HIDDEN or (isinstance(v, (str, bytes)) and norm(v) == "DIMENSION_SCALE"):
                    continue
                if k not in got.attrs or not same(v, got.attrs[k]):
                    errors.append(f"{group}/{name}: attribute {k}: {v!r} vs {got.attrs.get(k)!r}")
            if "_FillValue" in attrs and np.asarray(data).dtype.kind in "iuf":
                fill = got.attrs.get("_FillValue", got.encoding.get("_FillValue"))
                if fill is None or not same(attrs["_FillValue"], fill):
                    errors.append(f"{group}/{name}: fill value {attrs['_FillValue']!r} vs {fill!r}")
        ds.close()
    return errors




def main(argv):
    reader = "auto"
    if argv[:1] == ["--reader"]:
        reader, argv = argv[1], argv[2:]
    for src, refs in zip(argv[0::2], argv[1::2]):
        try:
            names = []
            UNREADABLE.clear()
            SPACE_PADDED.clear()
            errors = compare(Path(src), Path(refs), reader, names)
            result = {"src": src, "errors": errors, "variables": names,
                      "unreadable": list(UNREADABLE)}
        except Exception as exc:  # noqa: BLE001 - reported to the caller
            result = {"src": src, "exception": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
