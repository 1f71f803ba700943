"""Writes the codec matrix: one group per HDF5 filter configuration (through h5py and
hdf5plugin), each holding the same int16, float32 and float64 arrays in chunks of 10 x 50.
Used by tests/interop/test_codecs.py, which writes it into a temporary directory:
    python make_codec_matrix.py OUT.h5 [SEED]
"""
import sys

import h5py
import hdf5plugin
import numpy as np

# group name -> h5py dataset keywords. Bitshuffle and blosc2 have no faithful zarr decoder:
# granary must leave them out, listed.
FILTERS = {
    "lz4": dict(hdf5plugin.LZ4()),
    "lz4_small_blocks": dict(hdf5plugin.LZ4(nbytes=256)),
    "lzf": dict(compression="lzf"),
    "lzf_shuffle": dict(compression="lzf", shuffle=True),
    "zstd": dict(hdf5plugin.Zstd(clevel=5)),
    "szip": dict(compression="szip", compression_opts=("nn", 8)),
    "szip_ec": dict(compression="szip", compression_opts=("ec", 16)),
    "bzip2": dict(hdf5plugin.BZip2(blocksize=5)),
    "blosc_lz4": dict(hdf5plugin.Blosc(cname="lz4", clevel=5, shuffle=hdf5plugin.Blosc.SHUFFLE)),
    "blosc_zstd": dict(hdf5plugin.Blosc(cname="zstd", clevel=3,
                                        shuffle=hdf5plugin.Blosc.BITSHUFFLE)),
    "gzip_fletcher32": dict(compression="gzip", shuffle=True, fletcher32=True),
    "bitshuffle": dict(hdf5plugin.Bitshuffle(cname="none")),
    "bitshuffle_lz4": dict(hdf5plugin.Bitshuffle(cname="lz4")),
    "bitshuffle_zstd": dict(hdf5plugin.Bitshuffle(cname="zstd")),
    "blosc2": dict(hdf5plugin.Blosc2(cname="lz4", clevel=5, filters=hdf5plugin.Blosc2.SHUFFLE)),
}
UNDECODABLE = ("bitshuffle", "bitshuffle_lz4", "bitshuffle_zstd", "blosc2")


def write(out, seed=7):
    rng = np.random.default_rng(seed)
    data = {
        "i2": np.cumsum(rng.integers(-3, 4, 4000)).astype("<i2").reshape(40, 100),
        "f4": np.round(rng.random((40, 100)) * 50, 1).astype("<f4"),
        "f8": np.repeat(rng.random(400), 10).reshape(40, 100),
    }
    with h5py.File(out, "w") as f:
        for name, kw in FILTERS.items():
            g = f.create_group(name)
            for dname, arr in data.items():
                g.create_dataset(dname, data=arr, chunks=(10, 50), **kw)


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 7)
