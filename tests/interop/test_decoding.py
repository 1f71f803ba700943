"""CF decoding attributes in combine: granules whose packing differs (a reprocessed product
version changes `scale_factor`) must be refused, never combined into one array that a reader
decodes with the wrong packing; split by the attribute (the suggested filter or
`--partition-by`), each output decodes, through xarray's default decoding, to the values
netCDF4-python decodes from the source files. JSON and Parquet."""
import re
import shutil
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import DATA, combine_refs as combine, open_decoded  # noqa: E402

SWOT = DATA / "swot"
COORDS = ("CAST(g.attrs['cycle_number'] AS INT) AS cycle_num, "
          "CAST(g.attrs['pass_number'] AS INT) AS pass_num")


def main_granules():
    out = []
    for p in sorted(SWOT.glob("*.nc")):
        with netCDF4.Dataset(p) as nc:
            if len(nc.dimensions["num_lines"]) == 10:
                out.append(p)
    return out


@pytest.fixture
def repacked(tmp_path):
    """The main-shape granules, with ssha_karin's scale_factor ten times larger in the last two
    (the stored integers unchanged: what a reprocessing that changes the packing looks like)."""
    d = tmp_path / "granules"
    d.mkdir()
    paths = []
    for p in main_granules():
        shutil.copy(p, d / p.name)
        paths.append(d / p.name)
    for p in paths[-2:]:
        with netCDF4.Dataset(p, "a") as nc:
            v = nc.variables["ssha_karin"]
            v.setncattr("scale_factor", np.float64(v.getncattr("scale_factor") * 10))
    return d, paths


def netcdf4_decoded(path: Path):
    """netCDF4-python's decoded numeric values (masked → NaN), per variable."""
    out = {}
    with netCDF4.Dataset(path) as nc:
        nc.set_auto_maskandscale(True)
        for name, v in nc.variables.items():
            if v.dtype.kind not in "iuf":
                continue
            data = v[...]
            out[name] = np.ma.filled(np.ma.asarray(data).astype("f8"), np.nan)
    return out


def assert_decodes_like_netcdf4(refs: Path, paths):
    ds = open_decoded(refs, decode_times=False)
    checked = 0
    for p in paths:
        with netCDF4.Dataset(p) as nc:
            cell = {"cycle_num": ds.cycle_num.values.tolist().index(int(nc.cycle_number)),
                    "pass_num": ds.pass_num.values.tolist().index(int(nc.pass_number))}
        sub = ds.isel(cell)
        for name, want in netcdf4_decoded(p).items():
            if name in ("cycle_num", "pass_num"):
                continue
            got = np.asarray(sub[name].values, dtype="f8")
            assert got.shape == want.shape, name
            assert np.array_equal(got, want, equal_nan=True), f"{p.name}: {name}"
            checked += 1
    assert checked > 50 * len(paths)


@pytest.mark.parametrize("suffix", [".json", ".parq"])
def test_varying_scale_factor_is_refused_with_the_filter_that_separates(repacked, tmp_path, suffix):
    d, paths = repacked
    sql = f"SELECT url, {COORDS.replace('g.', '')} FROM granules"
    out = tmp_path / f"all{suffix}"
    code, err = combine(d, out, sql)
    assert code == 2, err
    assert not out.exists()
    assert 'array "ssha_karin"' in err and "attribute scale_factor" in err, err
    assert f"in {len(paths) - 2} (e.g." in err and "in 2 (e.g." in err, err
    assert paths[-1].name in err or paths[-2].name in err, err
    # The suggested filter selects one consistent packing; it combines and decodes correctly.
    fix = re.search(r"AND (url IN \(SELECT url FROM zarr WHERE path = 'ssha_karin' AND "
                    r"attrs\['scale_factor'\] = '[^']+'\))", err)
    assert fix, err
    majority = tmp_path / f"majority{suffix}"
    code, err = combine(d, majority, f"{sql} WHERE {fix.group(1)}")
    assert code == 0, err
    assert_decodes_like_netcdf4(majority, paths[:-2])


@pytest.mark.parametrize("suffix", [".json", ".parq", ".icechunk"])
def test_partition_by_packing_decodes_every_granule_like_netcdf4(repacked, tmp_path, suffix):
    d, paths = repacked
    sql = (f"SELECT g.url, {COORDS}, z.attrs['scale_factor'] AS packing FROM granules g "
           "JOIN zarr z ON z.url = g.url AND z.path = 'ssha_karin'")
    code, err = combine(d, tmp_path / f"p{{}}{suffix}", sql, "--partition-by", "packing")
    assert code == 0, err
    outputs = sorted(tmp_path.glob(f"p*{suffix}"))
    assert len(outputs) == 2, outputs
    by_packing = {}
    for p in paths:
        with netCDF4.Dataset(p) as nc:
            by_packing.setdefault(float(nc.variables["ssha_karin"].scale_factor), []).append(p)
    for out in outputs:
        factor = float(out.name[1:-len(suffix)])
        assert_decodes_like_netcdf4(out, by_packing[factor])


def test_unpacked_main_shape_decodes_like_netcdf4(tmp_path):
    """The bundled granules as they are: every numeric variable decoded by xarray's defaults
    equals netCDF4-python's decoded values (masked cells NaN), JSON and Parquet."""
    sql = (f"SELECT url, {COORDS.replace('g.', '')} FROM granules "
           "WHERE dims['num_lines'] = 10")
    for suffix in (".json", ".parq"):
        out = tmp_path / f"main{suffix}"
        code, err = combine(SWOT, out, sql)
        assert code == 0, err
        assert_decodes_like_netcdf4(out, main_granules())


def test_array_selection_keeps_exactly_the_kept_arrays_and_their_coordinates(tmp_path):
    sql = (f"SELECT url, {COORDS.replace('g.', '')} FROM granules "
           "WHERE dims['num_lines'] = 10")
    kept = {}
    for name, extra in [("keep", ("--arrays", "ssha_karin")),
                        ("where", ("--arrays-where", "path LIKE 'ssha%'")),
                        ("drop", ("--drop-arrays", "ssha_karin,ssh_karin"))]:
        out = tmp_path / f"{name}.json"
        code, err = combine(SWOT, out, sql, *extra)
        assert code == 0, err
        ds = open_decoded(out, decode_times=False)
        kept[name] = set(ds.variables)
    with netCDF4.Dataset(main_granules()[0]) as nc:
        coordinates = set(nc.variables["ssha_karin"].coordinates.split())
        everything = set(nc.variables)
        ssha = {n for n in nc.variables if n.startswith("ssha")}
    axes = {"cycle_num", "pass_num"}
    assert kept["keep"] == {"ssha_karin"} | coordinates | axes, kept["keep"]
    assert kept["where"] == ssha | coordinates | axes, kept["where"]
    assert kept["drop"] == (everything - {"ssha_karin", "ssh_karin"}) | axes, kept["drop"]
    # A refusal caused by an array goes away when that array is dropped.
    d = tmp_path / "repacked"
    d.mkdir()
    for p in main_granules():
        shutil.copy(p, d / p.name)
    with netCDF4.Dataset(sorted(d.glob("*.nc"))[-1], "a") as nc:
        v = nc.variables["ssha_karin"]
        v.setncattr("scale_factor", np.float64(v.getncattr("scale_factor") * 10))
    code, err = combine(d, tmp_path / "x.json", sql)
    assert code == 2 and "scale_factor" in err, err
    code, err = combine(d, tmp_path / "x.json", sql, "--drop-arrays", "ssha_karin")
    assert code == 0, err
    assert "ssha_karin" not in open_decoded(tmp_path / "x.json", decode_times=False).variables
    code, err = combine(SWOT, tmp_path / "y.json", sql, "--arrays", "no_such_array")
    assert code == 2 and "no_such_array" in err, err


@pytest.mark.parametrize("suffix", [".json", ".parq", ".icechunk"])
def test_times_decode_like_netcdf4_and_empty_cells_are_nat(tmp_path, suffix):
    """SWOT's `time` (seconds since 2000, with a _FillValue) decoded to datetime64 by xarray's
    defaults equals netCDF4-python's num2date of the source; the cells of the sparse cycle ×
    pass grid that no granule fills are NaT (kerchunk gives the epoch there)."""
    sql = (f"SELECT url, {COORDS.replace('g.', '')} FROM granules "
           "WHERE dims['num_lines'] = 10")
    out = tmp_path / f"times{suffix}"
    code, err = combine(SWOT, out, sql)
    assert code == 0, err
    ds = open_decoded(out)
    assert ds.time.dtype.kind == "M"
    filled = set()
    for p in main_granules():
        with netCDF4.Dataset(p) as nc:
            v = nc.variables["time"]
            want = netCDF4.num2date(v[...], v.units, getattr(v, "calendar", "standard"),
                                    only_use_cftime_datetimes=False,
                                    only_use_python_datetimes=True)
            want = np.array([np.datetime64(t, "ns") if t is not np.ma.masked else np.datetime64("NaT")
                             for t in np.ma.asarray(want).tolist()], dtype="datetime64[ns]")
            cell = (ds.cycle_num.values.tolist().index(int(nc.cycle_number)),
                    ds.pass_num.values.tolist().index(int(nc.pass_number)))
        filled.add(cell)
        got = ds.time.values[cell]
        assert np.array_equal(got, want, equal_nan=True), p.name
    empty = [(c, q) for c in range(ds.sizes["cycle_num"]) for q in range(ds.sizes["pass_num"])
             if (c, q) not in filled]
    assert empty
    for cell in empty:
        assert np.isnat(ds.time.values[cell]).all(), cell
