#!/usr/bin/env python3
"""Writes the HDF5/netCDF-4 test matrix into tests/data/hdf5gen/ (deterministic).

Each file is written once per libver setting: 'earliest' (what most granules use), 'v108'
(netCDF-C's choice: new-style groups, layout v3) and 'latest' (HDF5 2.x: layout v4/v5 indexes).
Run with the pinned test venv:  python tests/golden/make_hdf5_fixtures.py tests/data/hdf5gen
"""
import ctypes
import glob
import os
import sys

import h5py
import netCDF4
import numpy as np

LIBVERS = {"earliest": ("earliest", "latest"), "v108": ("v108", "v108"), "latest": ("latest", "latest")}


def matrix(path, libver):
    rng = np.random.default_rng(42)
    with h5py.File(path, "w", libver=libver, track_order=False) as f:
        f.attrs["title"] = "granary test matrix"
        f.attrs["int_attr"] = np.int16(7)
        f.attrs["big_uint"] = np.uint64(2**63 + 5)
        f.attrs["floats"] = np.array([1.5, np.nan, np.inf], dtype="f4")
        f.attrs["strings"] = np.array([b"ab", b"cde"], dtype="S3")
        f.attrs["vlen_str"] = "héllo"
        d = f.create_dataset("chunked_deflate_shuffle", data=rng.random((100, 60), dtype="f4"),
                             chunks=(25, 20), shuffle=True, compression="gzip", compression_opts=4,
                             fillvalue=-9999.0, track_times=False)
        for i in range(20):
            d.attrs[f"attr_{i:02d}"] = i
        e = f.create_dataset("partial_edges", shape=(101, 61), dtype="i4", chunks=(25, 20),
                             fillvalue=-1, track_times=False)
        e[:30, :30] = np.arange(900, dtype="i4").reshape(30, 30)
        f.create_dataset("contiguous_be", data=np.arange(50, dtype=">i2"), track_times=False)
        sid = h5py.h5s.create_simple((3, 4))
        dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
        dcpl.set_layout(h5py.h5d.COMPACT)
        dsid = h5py.h5d.create(f.id, b"compact_i4", h5py.h5t.STD_I32LE, sid, dcpl=dcpl)
        dsid.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(12, dtype="<i4").reshape(3, 4))
        f.create_dataset("fletcher_deflate", data=np.arange(400, dtype="f8").reshape(20, 20),
                         chunks=(10, 10), fletcher32=True, compression="gzip", track_times=False)
        f.create_dataset("fixed_strings", data=np.array([b"alpha", b"beta", b"gamma"], dtype="S8"),
                         track_times=False)
        f.create_dataset("vlen_strings", data=np.array(["one", "two", "three", "fünf"], dtype=object),
                         dtype=h5py.string_dtype(), track_times=False)
        f.create_dataset("vlen_strings_chunked", data=np.array(["a", "bb", "", "dddd", "e"], dtype=object),
                         dtype=h5py.string_dtype(), chunks=(2,), track_times=False)
        comp = np.zeros(5, dtype=[("x", "<i4"), ("y", "<f8")])
        comp["x"] = np.arange(5)
        comp["y"] = np.arange(5) / 2
        f.create_dataset("compound", data=comp, track_times=False)
        f.create_dataset("enum_u1", data=np.array([0, 1, 2, 1], dtype="u1"),
                         dtype=h5py.enum_dtype({"a": 0, "b": 1, "c": 2}, basetype="u1"), track_times=False)
        f.create_dataset("scalar_f8", data=np.float64(3.25), track_times=False)
        f.create_dataset("bool", data=np.array([True, False, True]), track_times=False)
        f.create_dataset("int8", data=np.arange(-5, 5, dtype="i1"), track_times=False)
        f.create_dataset("empty_chunked", shape=(40,), dtype="f4", chunks=(10,), fillvalue=np.nan,
                         track_times=False)
        f.create_dataset("single_chunk", data=np.arange(30, dtype="u2").reshape(5, 6), chunks=(5, 6),
                         compression="gzip", track_times=False)
        f.create_dataset("null_space", data=h5py.Empty("f4"), track_times=False)
        f.create_dataset("unlimited", data=np.arange(35, dtype="f4"), maxshape=(None,), chunks=(8,),
                         track_times=False)
        g = f.create_group("g1")
        g.attrs["group_attr"] = "in a group"
        g2 = g.create_group("g2")
        g2.create_dataset("deep", data=np.arange(6, dtype="<u4").reshape(2, 3), track_times=False)
        many = f.create_group("many_links")
        for i in range(20):
            many.create_dataset(f"d{i:02d}", data=np.full((4,), i, dtype="i8"), track_times=False)


def netcdf(path, fmt):
    with netCDF4.Dataset(path, "w", format=fmt) as ds:
        ds.setncattr("title", "granary netCDF-4 fixture")
        ds.setncattr("cycle_number", np.int16(3))
        ds.createDimension("time", None)
        ds.createDimension("x", 7)
        ds.createDimension("nchar", 4)
        t = ds.createVariable("time", "f8", ("time",))
        t.units = "seconds since 2000-01-01"
        t[:] = np.arange(5) * 60.0
        x = ds.createVariable("x", "i4", ("x",))
        x[:] = np.arange(7)
        v = ds.createVariable("ssh", "f4", ("time", "x"), zlib=True, shuffle=True, complevel=4,
                              fill_value=np.float32(-9999.0), chunksizes=(2, 7))
        v.scale_factor = 0.01
        v.long_name = "sea surface height"
        for i in range(12):
            v.setncattr(f"extra_{i:02d}", i * 1.5)
        data = np.arange(35, dtype="f4").reshape(5, 7)
        data[1, 1] = -9999.0
        v[:] = np.ma.masked_equal(data, -9999.0)
        c = ds.createVariable("flag", "S1", ("nchar",), fill_value=b"*")
        c[:] = np.array([b"a", b"b", b"*", b"d"])
        ds.createVariable("nofill", "i2", ("x",), fill_value=False)[:] = np.arange(7, dtype="i2")
        if fmt == "NETCDF4_CLASSIC":
            return
        u = ds.createVariable("u8", "u1", ("x",))
        u[:] = np.arange(7, dtype="u1")
        grp = ds.createGroup("left")
        grp.createDimension("num_lines", 6)
        gv = grp.createVariable("height", "i2", ("num_lines", "x"), fill_value=np.int16(32767))
        gv[:] = np.arange(42, dtype="i2").reshape(6, 7)
        grp.setncattr("side", "left")
        sv = ds.createVariable("names", str, ("x",))
        sv[:] = np.array([f"n{i}" for i in range(7)], dtype=object)


def libhdf5():
    """h5py's own libhdf5, for file-creation properties h5py does not expose."""
    libs = os.path.join(os.path.dirname(h5py.__file__), "..", "h5py.libs", "libhdf5-*.so*")
    return ctypes.CDLL(glob.glob(libs)[0])


def shared_messages(path):
    """Datatype, dataspace, fill, filter pipeline and attribute messages shared through the
    shared object header message table (H5Pset_shared_mesg_*), as some archives are written."""
    lib = libhdf5()
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    every = (1 << 1) | (1 << 3) | (1 << 5) | (1 << 11) | (1 << 12)  # H5O_SHMESG_ALL_FLAG
    assert lib.H5Pset_shared_mesg_nindexes(ctypes.c_int64(fcpl.id), ctypes.c_uint(1)) >= 0
    assert lib.H5Pset_shared_mesg_index(ctypes.c_int64(fcpl.id), ctypes.c_uint(0),
                                        ctypes.c_uint(every), ctypes.c_uint(1)) >= 0
    with h5py.File(h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl)) as f:
        for i in range(4):
            d = f.create_dataset(f"v{i}", data=np.arange(100, dtype="f4") + i, chunks=(30,),
                                 compression="gzip", shuffle=True, fillvalue=-1.0,
                                 track_times=False)
            d.attrs["units"] = "m"
            d.attrs["scale"] = np.float32(0.5)
            d.attrs["valid_range"] = np.array([-5, 5], dtype="i2")
        g = f.create_group("g")
        g.create_dataset("w", data=np.ones((4, 5), "f8"), track_times=False)
        g.attrs["units"] = "m"
        # More than 8 attributes: dense attribute storage whose records point into the
        # shared message heap.
        many = f.create_dataset("many_attrs", data=np.arange(10, dtype="f4"), track_times=False)
        for k in range(12):
            many.attrs[f"a{k:02d}"] = np.int32(k)
        f.attrs["title"] = "shared object header messages"


def superblock_v1(path):
    """A non-default chunk B-tree K makes libhdf5 write superblock version 1."""
    lib = libhdf5()
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    assert lib.H5Pset_istore_k(ctypes.c_int64(fcpl.id), ctypes.c_uint(64)) >= 0
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_EARLIEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(path.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as f:
        f.create_dataset("v", data=np.arange(100, dtype="i4"), chunks=(30,), compression="gzip",
                         track_times=False)
        f.create_group("g").create_dataset("w", data=np.ones((4, 5), "f8"), track_times=False)
        f.attrs["title"] = "superblock v1"
    with open(path, "rb") as fh:
        assert fh.read(9)[8] == 1, "expected superblock version 1"


def main(out):
    os.makedirs(out, exist_ok=True)
    for name, lv in LIBVERS.items():
        matrix(os.path.join(out, f"matrix_{name}.h5"), lv)
    netcdf(os.path.join(out, "netcdf4.nc"), "NETCDF4")
    netcdf(os.path.join(out, "netcdf4_classic.nc"), "NETCDF4_CLASSIC")
    # h5py file without dimension scales: phony dimensions per distinct length.
    with h5py.File(os.path.join(out, "phony_dims.h5"), "w") as f:
        f.create_dataset("a", data=np.zeros((3, 10), "f4"), track_times=False)
        f.create_dataset("b", data=np.zeros((10,), "f4"), track_times=False)
        f.create_dataset("c", data=np.zeros((300,), "f4"), track_times=False)
        f.create_dataset("square", data=np.zeros((4, 4), "f4"), track_times=False)
    shared_messages(os.path.join(out, "shared_messages.h5"))
    superblock_v1(os.path.join(out, "superblock_v1.h5"))
    # userblock: all addresses shift by 512 bytes.
    with h5py.File(os.path.join(out, "userblock.h5"), "w", userblock_size=512) as f:
        f.create_dataset("v", data=np.arange(100, dtype="f4"), chunks=(30,), compression="gzip",
                         track_times=False)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/hdf5gen")
