"""Fill values as HDF5 and CF define them. h5py writes files whose CF `_FillValue` attribute is
not the HDF5 dataset's fill value; libhdf5 (and so netCDF4-python) returns the HDF5 fill value
for chunks never written and masks only elements equal to `_FillValue`. The references must
give every reader the same decoded values: single granules and combined sets, integer and float
arrays, partly written chunks, with and without filters, JSON and Parquet."""
import sys
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import combine_refs, open_decoded, scan  # noqa: E402

ARRAYS = ("ints", "floats", "packed", "hdf5_fill", "untouched", "agrees")


def write_granule(path: Path, seed: int):
    """Arrays of 20 elements in chunks of 5, only some chunks written; `_FillValue` set by
    attribute (h5py does not make it the HDF5 fill value)."""
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        d = f.create_dataset("ints", shape=(20,), chunks=(5,), dtype="i8")
        d[:7] = rng.integers(-5, 5, 7)  # chunk 1 partly written: its tail holds HDF5's fill
        d[2] = -9999  # a real missing value: masked by every reader
        d.attrs["_FillValue"] = np.int64(-9999)
        d = f.create_dataset("floats", shape=(4, 6), chunks=(2, 3), dtype="<f4")
        d[:2, :3] = rng.random((2, 3), dtype="f4")
        d.attrs["_FillValue"] = np.float32(-1.0)
        d = f.create_dataset("packed", shape=(20,), chunks=(5,), dtype=">i2",
                             compression="gzip", shuffle=True)
        d[5:10] = rng.integers(0, 100, 5)
        d.attrs["_FillValue"] = np.int16(-1)
        d.attrs["scale_factor"] = 0.5
        d = f.create_dataset("hdf5_fill", shape=(20,), chunks=(5,), dtype="f8", fillvalue=7.5)
        d[15:] = rng.random(5)
        d.attrs["_FillValue"] = np.float64(np.nan)
        d = f.create_dataset("untouched", shape=(10,), chunks=(5,), dtype="i4")
        d.attrs["_FillValue"] = np.int32(3)
        # The fill value and `_FillValue` agree: missing keys read right, nothing is inlined.
        d = f.create_dataset("agrees", shape=(20,), chunks=(5,), dtype="i4", fillvalue=-7)
        d[:5] = rng.integers(0, 9, 5)
        d.attrs["_FillValue"] = np.int32(-7)


def netcdf4_decoded(path: Path, name: str):
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(True)
        return np.ma.filled(np.ma.asarray(nc.variables[name][...]).astype("f8"), np.nan)


@pytest.fixture
def granules(tmp_path):
    d = tmp_path / "granules"
    d.mkdir()
    paths = [d / f"g{i}.h5" for i in (1, 2)]
    for i, p in enumerate(paths):
        write_granule(p, i)
    return paths


def test_single_granule_decodes_like_netcdf4(granules, tmp_path):
    src = granules[0]
    out = tmp_path / "one.json"
    code, err = scan(src, out)
    assert code == 0, err
    ds = open_decoded(out)
    for name in ARRAYS:
        want = netcdf4_decoded(src, name)
        got = np.asarray(ds[name].values, dtype="f8")
        assert np.array_equal(got, want, equal_nan=True), f"{name}: {got} != {want}"
    # Masking still follows `_FillValue`: the written -9999 is missing, HDF5's zeros are not.
    assert np.isnan(ds["ints"].values[2]) and ds["ints"].values[10] == 0
    assert ds["hdf5_fill"].values[0] == 7.5


def test_scan_refuses_a_parquet_name_for_its_json(granules, tmp_path):
    code, err = scan(granules[0], tmp_path / "one.parq")
    assert code == 2 and "granary combine" in err, err
    assert not (tmp_path / "one.parq").exists()


def test_only_disagreeing_arrays_get_inline_fill_chunks(granules, tmp_path):
    import json
    out = tmp_path / "one.json"
    code, err = scan(granules[0], out)
    assert code == 0, err
    refs = json.loads(out.read_text())["refs"]
    inline = {k for k, v in refs.items() if "/." not in k and isinstance(v, str)}
    assert {"ints/2", "ints/3", "untouched/0", "untouched/1", "hdf5_fill/0"} <= inline, inline
    assert not any(k.startswith("agrees/") for k in inline), inline
    assert "agrees/1" not in refs  # a missing key reads as fill_value -7, as HDF5 gives


@pytest.mark.parametrize("suffix", [".json", ".parq", ".icechunk"])
def test_combined_granules_decode_like_netcdf4(granules, tmp_path, suffix):
    out = tmp_path / f"both{suffix}"
    sql = "SELECT url, CASE WHEN name = 'g1.h5' THEN 1 ELSE 2 END AS n FROM granules"
    code, err = combine_refs(granules[0].parent, out, sql)
    assert code == 0, err
    ds = open_decoded(out)
    assert ds.n.values.tolist() == [1, 2]
    for i, src in enumerate(granules):
        for name in ARRAYS:
            want = netcdf4_decoded(src, name)
            got = np.asarray(ds[name].isel(n=i).values, dtype="f8")
            assert np.array_equal(got, want, equal_nan=True), f"{src.name} {name}: {got}"


def test_a_string_fill_value_stays_an_attribute(tmp_path):
    """zarr has no fill value for variable-length strings: the CF `_FillValue` stays in
    `.zattrs`, so xarray masks the references as it masks the source file."""
    import json
    import xarray as xr
    src = tmp_path / "names.nc"
    with netCDF4.Dataset(src, "w") as nc:
        nc.createDimension("x", 3)
        v = nc.createVariable("names", str, ("x",), fill_value="")
        v[0], v[2] = "a", "c"
    out = tmp_path / "names.json"
    code, err = scan(src, out)
    assert code == 0, err
    refs = json.loads(out.read_text())["refs"]
    assert json.loads(refs["names/.zattrs"])["_FillValue"] == ""
    got = open_decoded(out).names.values
    with xr.open_dataset(src) as ds:
        want = ds.names.values
    assert [str(x) for x in got] == [str(x) for x in want] == ["a", "nan", "c"]
