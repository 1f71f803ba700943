"""Interop: Icechunk repositories written by granary (the `icechunk` sink, `granary combine -o
X.icechunk`) read with Python icechunk 1.1.21 + xarray.

- a pipeline run over a growing collection commits once per run: the first snapshot still reads
  the old shape, the second the grown one, and a rerun with nothing new commits nothing;
- a granule file replaced after the commit makes reading its chunks fail (the ETag checksum),
  never return the new file's bytes;
- groups keep their arrays and attributes, value for value with netCDF4-python;
- the repository declares exactly the virtual chunk containers its references need.

Values of the SWOT-like sets are also compared through the `.icechunk` cases of test_combine,
test_decoding, test_fill_values and test_time_coords.
"""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import (BIN, DATA, combine_refs, icechunk_session,  # noqa: E402
                          open_icechunk, values_equal)

SWOT = DATA / "swot"
SQL_FILE = Path(__file__).resolve().parents[2] / "sql" / "main_shape.sql"


def main_granules():
    out = []
    for p in sorted(SWOT.glob("*.nc")):
        with netCDF4.Dataset(p) as nc:
            if len(nc.dimensions["num_lines"]) == 10:
                out.append((p, int(nc.cycle_number), int(nc.pass_number)))
    return out


def pipeline(tmp_path: Path, src: Path, repo: Path) -> Path:
    f = tmp_path / "ice.toml"
    f.write_text(f"""version = 1
name = "ice"
state_dir = "{tmp_path / 'state'}"

[sources.granules]
type = "files"
paths = ["{src}"]

[extractors.metadata]
type = "auto"
inputs = ["granules"]

[transforms.main_shape]
type = "sql"
inputs = ["metadata"]
query_file = "{SQL_FILE}"

[transforms.by_cycle_pass]
type = "combine"
inputs = ["main_shape"]

[sinks.repo]
type = "icechunk"
inputs = ["by_cycle_pass"]
path = "{repo}"
branch = "main"
""")
    return f


def run(f: Path):
    r = subprocess.run([BIN, "run", str(f)], capture_output=True, text=True)
    return r.returncode, r.stderr


def history(repo: Path):
    r, _ = icechunk_session(repo)
    return [(s.id, s.message) for s in r.ancestry(branch="main")]


def test_each_run_commits_what_changed_and_history_stays_readable(tmp_path):
    src = tmp_path / "granules"
    src.mkdir()
    granules = main_granules()
    first = [g for g in granules if g[1] == 1]
    assert 0 < len(first) < len(granules)
    for p, _, _ in first:
        shutil.copy(p, src / p.name)
    repo = tmp_path / "swot.icechunk"
    f = pipeline(tmp_path, src, repo)
    code, err = run(f)
    assert code == 0, err
    assert f"{len(first)} granule(s) added" in err, err
    for p, _, _ in granules[len(first):]:
        shutil.copy(p, src / p.name)
    code, err = run(f)
    assert code == 0, err
    grown = len(granules) - len(first)
    assert f"{grown} granule(s) added, 0 changed, 0 removed" in err, err
    # The tip's fingerprints spared the unchanged cycle: of the tip's hundreds of references
    # only the grown coordinate arrays' (one inline chunk each) were read to compare.
    read = int(re.search(r"(\d+) read from the tip to compare", err).group(1))
    assert read <= 2, err
    commits = history(repo)
    assert len(commits) == 3, commits  # two runs + "Repository initialized"
    (second, msg2), (first_id, msg1) = commits[0], commits[1]
    assert "granary run ice.toml, sink repo" in msg1 and "main_shape" not in msg1
    assert f"{grown} granule(s) added" in msg2 and "selection:" in msg2
    old = open_icechunk(repo, snapshot=first_id, mask_and_scale=False, decode_times=False)
    new = open_icechunk(repo, mask_and_scale=False, decode_times=False)
    assert old.sizes["cycle_num"] == 1 and new.sizes["cycle_num"] == 2
    assert old.cycle_num.values.tolist() == [1]
    for ds, selected in ((old, first), (new, granules)):
        for path, c, p in selected:
            cell = {"cycle_num": ds.cycle_num.values.tolist().index(c),
                    "pass_num": ds.pass_num.values.tolist().index(p)}
            with netCDF4.Dataset(path) as nc:
                nc.set_auto_maskandscale(False)
                for name in ("ssha_karin", "time", "latitude"):
                    assert values_equal(nc.variables[name][...],
                                        ds[name].isel(cell).values), (path.name, name)
    # Nothing new: no commit.
    code, err = run(f)
    assert code == 0, err
    assert "nothing changed: no commit" in err, err
    assert "0 chunk reference(s) read from the tip" in err, err
    assert len(history(repo)) == 3


def test_a_replaced_granule_fails_to_read_instead_of_returning_other_bytes(tmp_path):
    src = tmp_path / "granules"
    src.mkdir()
    granules = main_granules()[:2]
    for p, _, _ in granules:
        shutil.copy(p, src / p.name)
    repo = tmp_path / "r.icechunk"
    sql = ("SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, "
           "CAST(attrs['pass_number'] AS INT) AS pass_num FROM granules")
    code, err = combine_refs(src, repo, sql)
    assert code == 0, err
    ds = open_icechunk(repo, mask_and_scale=False, decode_times=False)
    (a, c, p), (b, _, _) = granules
    cell = {"cycle_num": ds.cycle_num.values.tolist().index(c),
            "pass_num": ds.pass_num.values.tolist().index(p)}
    before = ds.ssha_karin.isel(cell).values
    # The same name now holds another granule's bytes (what a reprocessing in place looks like).
    tmp = src / "incoming.nc"
    shutil.copy(b, tmp)
    tmp.replace(src / a.name)
    ds = open_icechunk(repo, mask_and_scale=False, decode_times=False)
    with pytest.raises(Exception, match="(?i)modified|etag|precondition|changed"):
        ds.ssha_karin.isel(cell).values
    assert before.size > 0


def write_grouped(path: Path, cycle: int):
    with netCDF4.Dataset(path, "w") as nc:
        nc.title = "grouped"
        nc.cycle = np.int32(cycle)
        nc.createDimension("n", 6)
        v = nc.createVariable("top", "f4", ("n",), fill_value=np.float32(-1), zlib=True)
        v[:] = np.arange(6, dtype="f4") * cycle
        v[2] = np.ma.masked
        for side in ("left", "right"):
            g = nc.createGroup(side)
            g.side = side
            x = g.createVariable("ssh", "i2", ("n",), fill_value=np.int16(-999), zlib=True,
                                 shuffle=True, chunksizes=(3,))
            x.scale_factor = 0.01
            x.units = "m"
            x[:] = np.arange(6, dtype="i2") + 10 * cycle + (side == "right")


def test_groups_equal_netcdf4(tmp_path):
    src = tmp_path / "g"
    src.mkdir()
    paths = [src / f"g{c}.nc" for c in (1, 2)]
    for c, p in enumerate(paths, start=1):
        write_grouped(p, c)
    repo = tmp_path / "grouped.icechunk"
    sql = "SELECT url, CAST(attrs['cycle'] AS INT) AS cycle FROM granules"
    code, err = combine_refs(src, repo, sql)
    assert code == 0, err
    for group in ("left", "right"):
        ds = open_icechunk(repo, group=group)
        assert ds.attrs["side"] == group
        assert ds.ssh.attrs["units"] == "m"
        for i, p in enumerate(paths):
            with netCDF4.Dataset(p) as nc:
                want = np.ma.filled(nc[group].variables["ssh"][...].astype("f8"), np.nan)
            got = np.asarray(ds.ssh.isel(cycle=i).values, dtype="f8")
            assert np.array_equal(got, want, equal_nan=True), (group, p.name)
    top = open_icechunk(repo)
    assert top.attrs["title"] == "grouped"
    with netCDF4.Dataset(paths[1]) as nc:
        want = np.ma.filled(nc.variables["top"][...].astype("f8"), np.nan)
    assert np.array_equal(np.asarray(top.top.isel(cycle=1).values, "f8"), want, equal_nan=True)


def test_containers_cover_exactly_the_referenced_prefixes(tmp_path):
    repo = tmp_path / "c.icechunk"
    sql = ("SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, "
           "CAST(attrs['pass_number'] AS INT) AS pass_num FROM granules "
           "WHERE dims['num_lines'] = 10")
    code, err = combine_refs(SWOT, repo, sql)
    assert code == 0, err
    r, s = icechunk_session(repo)
    prefixes = list(r.config.virtual_chunk_containers)
    assert prefixes == [SWOT.resolve().as_uri() + "/"]
    locations = set(s.all_virtual_chunk_locations())
    assert locations and all(u.startswith(prefixes[0]) for u in locations)
    # Without authorization, icechunk refuses to read them.
    import icechunk  # noqa: PLC0415
    bare = icechunk.Repository.open(icechunk.local_filesystem_storage(str(repo)))
    import xarray as xr  # noqa: PLC0415
    ds = xr.open_dataset(bare.readonly_session("main").store, engine="zarr", consolidated=False,
                         zarr_format=3, mask_and_scale=False, decode_times=False)
    with pytest.raises(Exception, match="(?i)authoriz|credentials|container"):
        ds.ssha_karin.values


def test_a_location_that_is_not_a_repository_is_left_alone(tmp_path):
    out = tmp_path / "precious.icechunk"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    sql = "SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num FROM granules LIMIT 1"
    code, err = combine_refs(SWOT, out, sql)
    assert code == 2, err
    assert "not an Icechunk repository" in err, err
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_cli_help_names_the_format():
    r = subprocess.run([BIN, "combine", "--help"], capture_output=True, text=True)
    assert "icechunk" in r.stdout


def test_a_repository_in_s3(tmp_path):
    """The sink commits to `s3://bucket/prefix` (moto's S3 on 127.0.0.1, credentials from the
    environment); Python icechunk reads it back from there, value for value."""
    from servers import S3_ENV, MotoServer, env, s3_upload  # noqa: PLC0415
    import icechunk  # noqa: PLC0415
    import xarray as xr  # noqa: PLC0415
    empty = tmp_path / "empty"
    empty.mkdir()
    src = tmp_path / "granules"
    src.mkdir()
    granules = main_granules()[:3]
    for p, _, _ in granules:
        shutil.copy(p, src / p.name)
    with MotoServer() as s3:
        s3_upload(s3.endpoint, "repos", "none", empty)
        f = pipeline(tmp_path, src, "s3://repos/swot.icechunk")
        f.write_text(f.read_text() + f'[sinks.repo.storage]\nendpoint = "{s3.endpoint}"\n')
        r = subprocess.run([BIN, "run", str(f)], capture_output=True, text=True,
                           env=env(**S3_ENV))
        assert r.returncode == 0, r.stderr
        assert "3 granule(s) added" in r.stderr, r.stderr
        storage = icechunk.s3_storage(bucket="repos", prefix="swot.icechunk",
                                      endpoint_url=s3.endpoint, allow_http=True,
                                      force_path_style=True, region="us-east-1",
                                      access_key_id="testing", secret_access_key="testing")
        prefix = src.resolve().as_uri() + "/"
        repo = icechunk.Repository.open(storage, authorize_virtual_chunk_access={prefix: None})
        assert list(repo.config.virtual_chunk_containers) == [prefix]
        ds = xr.open_dataset(repo.readonly_session("main").store, engine="zarr",
                             consolidated=False, zarr_format=3, mask_and_scale=False,
                             decode_times=False)
        for path, c, p in granules:
            cell = {"cycle_num": ds.cycle_num.values.tolist().index(c),
                    "pass_num": ds.pass_num.values.tolist().index(p)}
            with netCDF4.Dataset(path) as nc:
                nc.set_auto_maskandscale(False)
                assert values_equal(nc.variables["ssha_karin"][...],
                                    ds.ssha_karin.isel(cell).values), path.name
