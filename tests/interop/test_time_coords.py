"""Combining along time: a TIMESTAMP or DATE selection column becomes a CF time coordinate that
xarray decodes to the granules' datetimes. L3-like daily granules (generated here: two tiles,
one (day, tile) cell missing, one day before 1970), combined along time × tile; empty cells
decode to NaN; bad time columns (NULL, duplicates, beyond datetime64[ns]) are refused."""
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import combine_refs as combine, open_decoded  # noqa: E402

DAYS = ["1969-12-31", "1970-01-01", "2024-02-29"]
MISSING = ("B", "1970-01-01")


@pytest.fixture(scope="module")
def daily(tmp_path_factory):
    d = tmp_path_factory.mktemp("l3")
    rng = np.random.default_rng(3)
    written = {}
    for tile in "AB":
        for day in DAYS:
            if (tile, day) == MISSING:
                continue
            p = d / f"L3_SST_{tile}_{day.replace('-', '')}.nc"
            with netCDF4.Dataset(p, "w") as nc:
                nc.createDimension("lat", 4)
                nc.createDimension("lon", 5)
                nc.time_coverage_start = f"{day}T00:00:00Z"
                nc.tile = tile
                lat = nc.createVariable("lat", "f4", ("lat",))
                lat[:] = np.arange(4, dtype="f4")
                lon = nc.createVariable("lon", "f4", ("lon",))
                lon[:] = np.arange(5, dtype="f4")
                sst = nc.createVariable("sst", "i2", ("lat", "lon"), fill_value=-32768,
                                        zlib=True, chunksizes=(4, 5))
                sst.scale_factor = 0.01
                sst.add_offset = 20.0
                values = rng.integers(-500, 500, size=(4, 5)).astype("i2")
                values[0, 0] = -32768  # one masked cell
                sst.set_auto_maskandscale(False)
                sst[:] = values
            with netCDF4.Dataset(p) as nc:
                written[(tile, day)] = np.ma.filled(nc.variables["sst"][...].astype("f8"), np.nan)
    return d, written


SQL = ("SELECT url, CAST(attrs['time_coverage_start'] AS TIMESTAMP) AS time, "
       "attrs['tile'] AS tile FROM granules")


@pytest.mark.parametrize("suffix", [".json", ".parq", ".icechunk"])
def test_time_coordinates_decode_to_the_granules_datetimes(daily, tmp_path, suffix):
    d, written = daily
    out = tmp_path / f"daily{suffix}"
    code, err = combine(d, out, SQL)
    assert code == 0, err
    ds = open_decoded(out)
    assert ds.time.dtype.kind == "M", ds.time.dtype
    assert [str(t)[:10] for t in ds.time.values] == DAYS
    assert ds.time.attrs.get("standard_name") == "time"
    assert ds.time.encoding["units"] == "days since 1970-01-01 00:00:00"
    assert ds.tile.values.tolist() == ["A", "B"]
    for (tile, day), want in written.items():
        got = ds.sst.sel(time=np.datetime64(day), tile=tile).values.astype("f8")
        assert np.array_equal(got, want, equal_nan=True), (tile, day)
    empty = ds.sst.sel(time=np.datetime64(MISSING[1]), tile=MISSING[0]).values
    assert np.all(np.isnan(empty))


def test_dates_work_as_time_coordinates_too(daily, tmp_path):
    d, _ = daily
    sql = SQL.replace("AS TIMESTAMP)", "AS DATE)")
    code, err = combine(d, tmp_path / "dates.json", sql)
    assert code == 0, err
    ds = open_decoded(tmp_path / "dates.json")
    assert [str(t)[:10] for t in ds.time.values] == DAYS


@pytest.mark.parametrize("select, message", [
    ("CASE WHEN attrs['tile'] = 'B' THEN NULL ELSE CAST(attrs['time_coverage_start'] AS TIMESTAMP) END",
     "is NULL"),
    ("CAST('2024-02-29T00:00:00Z' AS TIMESTAMP)", "hold more than one granule"),
    ("CAST('2300-01-01' AS DATE)", "outside what readers decode as datetime64[ns]"),
    ("CAST('1600-01-01' AS DATE)", "outside what readers decode as datetime64[ns]"),
])
def test_bad_time_columns_are_refused(daily, tmp_path, select, message):
    d, _ = daily
    sql = f"SELECT url, {select} AS time, attrs['tile'] AS tile FROM granules"
    out = tmp_path / "bad.json"
    code, err = combine(d, out, sql)
    assert code == 2, err
    assert message in err, err
    assert not out.exists()


def test_a_time_zone_aware_column_is_written_as_its_utc_instants(daily, tmp_path):
    """Arrow reads a naive timestamp cast to a zone as wall time there: midnight at +02:00 is
    22:00 UTC the day before. The coordinate holds those instants (CF times are UTC here)."""
    d, _ = daily
    sql = ("SELECT url, arrow_cast(CAST(attrs['time_coverage_start'] AS TIMESTAMP), "
           "'Timestamp(Microsecond, Some(\"+02:00\"))') AS time, attrs['tile'] AS tile "
           "FROM granules")
    code, err = combine(d, tmp_path / "tz.json", sql)
    assert code == 0, err
    ds = open_decoded(tmp_path / "tz.json")
    want = [np.datetime64(f"{day}T00:00:00") - np.timedelta64(2, "h") for day in DAYS]
    assert list(ds.time.values) == [w.astype("datetime64[ns]") for w in want]


def write_hourly(path: Path, hours, start: str, rng):
    """An L3-like granule with an existing `time` dimension: `hours` since 2024-01-01."""
    with netCDF4.Dataset(path, "w") as nc:
        nc.createDimension("time", None)
        nc.createDimension("lat", 4)
        nc.createDimension("lon", 5)
        nc.time_coverage_start = start
        t = nc.createVariable("time", "f8", ("time",), chunksizes=(1,))
        t.units = "hours since 2024-01-01 00:00:00"
        t.calendar = "standard"
        t[:] = np.asarray(hours, dtype="f8")
        sst = nc.createVariable("sst", "f4", ("time", "lat", "lon"), zlib=True,
                                chunksizes=(1, 4, 5), fill_value=np.float32(-999))
        sst[:] = rng.random((len(hours), 4, 5)).astype("f4")


@pytest.fixture
def hourly(tmp_path):
    d = tmp_path / "hourly"
    d.mkdir()
    rng = np.random.default_rng(5)
    # Written out of order on purpose: the selection orders them.
    for name, hours, start in [("h2.nc", [2, 3], "2024-01-01T02:00:00Z"),
                               ("h1.nc", [0, 1], "2024-01-01T00:00:00Z"),
                               ("h3.nc", [4, 5], "2024-01-01T04:00:00Z")]:
        write_hourly(d / name, hours, start, rng)
    return d


HOURLY = "SELECT url, CAST(attrs['time_coverage_start'] AS TIMESTAMP) AS time FROM granules"


@pytest.mark.parametrize("suffix", [".json", ".parq", ".icechunk"])
def test_existing_time_dimension_concatenates_and_inlines_its_values(hourly, tmp_path, suffix):
    out = tmp_path / f"hourly{suffix}"
    code, err = combine(hourly, out, HOURLY)
    assert code == 0, err
    ds = open_decoded(out)
    want = [np.datetime64("2024-01-01T00:00:00") + np.timedelta64(h, "h") for h in range(6)]
    assert list(ds.time.values) == [w.astype("datetime64[ns]") for w in want]
    expected = []
    for name in ("h1.nc", "h2.nc", "h3.nc"):
        with netCDF4.Dataset(hourly / name) as nc:
            expected.append(np.ma.filled(nc.variables["sst"][...].astype("f8"), np.nan))
    assert np.array_equal(np.asarray(ds.sst.values, dtype="f8"), np.concatenate(expected),
                          equal_nan=True)
    if suffix == ".json":
        import json
        refs = json.loads(out.read_text())["refs"]
        # The coordinate is one inline chunk: readers do not open every granule for it.
        assert json.loads(refs["time/.zarray"])["chunks"] == [6]
        assert isinstance(refs["time/0"], str) and "time/1" not in refs


def test_overlapping_or_unordered_time_values_are_refused(hourly, tmp_path):
    rng = np.random.default_rng(6)
    write_hourly(hourly / "h4.nc", [5, 6], "2024-01-01T05:00:00Z", rng)  # overlaps h3 at hour 5
    code, err = combine(hourly, tmp_path / "overlap.json", HOURLY)
    assert code == 2, err
    assert 'coordinate "time"' in err and "overlap" in err and "h3.nc" in err and "h4.nc" in err, err
    (hourly / "h4.nc").unlink()
    write_hourly(hourly / "h5.nc", [9, 8], "2024-01-01T08:00:00Z", rng)  # decreasing inside
    code, err = combine(hourly, tmp_path / "down.json", HOURLY)
    assert code == 2, err
    assert "do not increase within" in err and "h5.nc" in err, err
    assert not (tmp_path / "down.json").exists()
