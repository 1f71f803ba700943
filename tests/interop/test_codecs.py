"""The codec matrix (tests/data/gen/make_codec_matrix.py, written through h5py + hdf5plugin):
every HDF5 filter granary maps to a zarr codec reads back through xarray/zarr, with the codec
packages pinned in the test venv, equal to h5py + hdf5plugin; filters with no faithful zarr
decoder are left out and listed. Single granules (JSON) and a combined set (JSON, Parquet)."""
import json
import sys
import warnings
from pathlib import Path

import fsspec
import h5py
import numpy as np
import pytest
import xarray as xr

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "tests" / "data" / "gen"))
from compare_refs import combine_refs, scan  # noqa: E402  (registers imagecodecs' codecs)
import make_codec_matrix as matrix  # noqa: E402

# filter group -> the codec ids the references must name, in order.
EXPECTED_IDS = {
    "lz4": ["imagecodecs_lz4h5"],
    "lz4_small_blocks": ["imagecodecs_lz4h5"],
    "lzf": ["imagecodecs_lzf"],
    "lzf_shuffle": ["shuffle", "imagecodecs_lzf"],
    "zstd": ["zstd"],
    "szip": ["imagecodecs_szip"],
    "szip_ec": ["imagecodecs_szip"],
    "bzip2": ["bz2"],
    "blosc_lz4": ["blosc"],
    "blosc_zstd": ["blosc"],
    "gzip_fletcher32": ["shuffle", "zlib"],
}


def open_group(refs: Path, group: str):
    fs = fsspec.filesystem("reference", fo=str(refs), remote_protocol="file",
                           skip_instance_cache=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xr.open_dataset(fs.get_mapper(""), engine="zarr", consolidated=True, zarr_format=2,
                               group=group, mask_and_scale=False)


@pytest.fixture(scope="module")
def granules(tmp_path_factory):
    # In a child process without HDF5_PLUGIN_PATH: importing netCDF4-python points it at the
    # filter plugins netCDF4 bundles, built for its own libhdf5; h5py's libhdf5 then fails in
    # their callbacks ("error during user callback"). hdf5plugin registers its own.
    import os
    import subprocess
    d = tmp_path_factory.mktemp("codecs")
    env = {k: v for k, v in os.environ.items() if k != "HDF5_PLUGIN_PATH"}
    for i, seed in enumerate((7, 8)):
        subprocess.run([sys.executable, matrix.__file__, str(d / f"m{i + 1}.h5"), str(seed)],
                       check=True, env=env)
    return d


def test_matrix_covers_every_configuration():
    assert set(EXPECTED_IDS) | set(matrix.UNDECODABLE) == set(matrix.FILTERS)


def test_mapped_filters_read_back_equal_to_hdf5plugin(granules, tmp_path):
    src = granules / "m1.h5"
    out = tmp_path / "m1.json"
    code, err = scan(src, out)
    assert code == 1, err  # the undecodable ones are left out
    refs = json.loads(out.read_text())["refs"]
    with h5py.File(src) as f:
        for group, ids in EXPECTED_IDS.items():
            ds = open_group(out, group)
            for name in ("i2", "f4", "f8"):
                meta = json.loads(refs[f"{group}/{name}/.zarray"])
                got = [c["id"] for c in meta["filters"] or []]
                if f[group][name].id.get_chunk_info(0).filter_mask:
                    # An optional filter that did not shrink the data is skipped by every chunk
                    # (szip on these floats): the chunks are stored as they are.
                    assert len(ids) == 1 and got == [], (group, name, got)
                else:
                    assert got == ids, (group, name, got)
                assert np.array_equal(ds[name].values, f[group][name][...]), (group, name)
    for group in matrix.UNDECODABLE:
        for name in ("i2", "f4", "f8"):
            assert f"{group}/{name}/.zarray" not in refs
            assert f'array "{group}/{name}": HDF5 filter' in err, err
    assert "no zarr codec decodes HDF5's bitshuffle chunks faithfully" in err, err
    assert "no zarr codec decodes HDF5's blosc2 frames" in err, err


@pytest.mark.parametrize("suffix", [".json", ".parq"])
def test_combined_matrix_reads_back_equal(granules, tmp_path, suffix):
    out = tmp_path / f"both{suffix}"
    sql = "SELECT url, CASE WHEN name = 'm1.h5' THEN 1 ELSE 2 END AS n FROM granules"
    code, err = combine_refs(granules, out, sql)
    assert code == 1, err
    compared = 0
    for group in EXPECTED_IDS:
        ds = open_group(out, group)
        for name in ("i2", "f4", "f8"):
            if name not in ds:
                # Granules whose chunks skip an optional filter differently cannot share one
                # codec list: left out of the set, listed.
                assert f'array "{group}/{name}" left out' in err, err
                continue
            for i, g in enumerate(("m1.h5", "m2.h5")):
                with h5py.File(granules / g) as f:
                    got = ds[name].isel(n=i).values
                    assert np.array_equal(got, f[group][name][...]), (g, group, name)
                    compared += 1
    assert compared >= 2 * 3 * (len(EXPECTED_IDS) - 1)
