"""The per-array policy: one array granary cannot reference (a vlen of numbers, a virtual or
external dataset, a filter no zarr reader decodes) must not sink its granule. Under `skip` (the
default) the granule's other arrays are referenced with values equal to h5py's, the array is
listed (summary, errors table) and the exit code is 1; under `error` the granule fails. Combining
leaves such an array out of the whole set, never only for some granules."""
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import BIN, combine_refs, open_group, scan  # noqa: E402

PLAIN = ("ints", "floats", "gzipped")


def write_granule(path: Path, seed: int, *, bad=True):
    rng = np.random.default_rng(seed)
    with h5py.File(path, "w") as f:
        f.create_dataset("ints", data=rng.integers(0, 100, (6, 4), dtype="i4"), chunks=(3, 2))
        f.create_dataset("floats", data=rng.random(12, dtype="f8"))
        f.create_dataset("gzipped", data=np.repeat(rng.random(40, dtype="f4"), 5), chunks=(50,),
                         compression="gzip", shuffle=True)
        if not bad:
            f.create_dataset("ragged", data=rng.random(3, dtype="f8"))
            return
        ragged = f.create_dataset("ragged", shape=(3,), dtype=h5py.vlen_dtype(np.dtype("f8")))
        for i in range(3):
            ragged[i] = rng.random(i + 1)
        # A virtual dataset over "floats" of this file.
        layout = h5py.VirtualLayout(shape=(12,), dtype="f8")
        layout[:] = h5py.VirtualSource(".", "floats", shape=(12,))
        f.create_virtual_dataset("virtual", layout)


def h5py_values(path: Path, name: str):
    with h5py.File(path) as f:
        return f[name][...]


@pytest.fixture
def granules(tmp_path):
    d = tmp_path / "granules"
    d.mkdir()
    write_granule(d / "g1.h5", 1)
    write_granule(d / "g2.h5", 2, bad=False)
    return d


def test_skip_references_the_other_arrays_and_lists_the_rest(granules, tmp_path):
    src = granules / "g1.h5"
    out = tmp_path / "g1.json"
    code, err = scan(src, out)
    assert code == 1, err
    assert "2 array(s) left out" in err, err
    assert 'array "ragged": datatype vlen<float64>' in err, err
    assert 'array "virtual": not supported: virtual dataset' in err, err
    ds = open_group(out, "")
    assert sorted(ds.data_vars) == sorted(PLAIN)
    for name in PLAIN:
        assert np.array_equal(ds[name].values, h5py_values(src, name)), name


def test_error_fails_the_granule_naming_the_array(granules, tmp_path):
    out = tmp_path / "g1.json"
    code, err = scan(granules / "g1.h5", out, "--unreferenceable", "error")
    assert code == 1, err
    assert "0 of 1 granules" in err and 'array "ragged"' in err, err
    assert not out.exists()


def test_inventory_lists_skipped_arrays_in_the_errors_table(granules, tmp_path):
    inv = tmp_path / "inv"
    r = subprocess.run([BIN, "inventory", "build", str(granules), "-o", str(inv)],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    assert "2 scanned, 0 failed" in r.stderr, r.stderr
    r = subprocess.run([BIN, "sql", str(inv), "--format", "ndjson", "-c",
                        "SELECT url, stage, array, message FROM errors ORDER BY array"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert [(Path(x["url"]).name, x["stage"], x["array"]) for x in rows] == [
        ("g1.h5", "array", "ragged"), ("g1.h5", "array", "virtual")], rows
    # A rebuild scans nothing and still lists them.
    r = subprocess.run([BIN, "inventory", "build", str(granules), "-o", str(inv)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "2 unchanged" in r.stderr and "2 array(s) left out" in r.stderr, \
        r.stderr


@pytest.mark.parametrize("suffix", [".json", ".parq"])
def test_combine_leaves_an_array_out_of_every_granule(granules, tmp_path, suffix):
    sql = "SELECT url, CASE WHEN name = 'g1.h5' THEN 1 ELSE 2 END AS n FROM granules"
    out = tmp_path / f"both{suffix}"
    code, err = combine_refs(granules, out, sql)
    assert code == 1, err
    # "ragged" is referenceable in g2 only: left out of the whole set, not half filled.
    assert 'array "ragged" left out: it cannot be referenced in 1 granule(s)' in err, err
    ds = open_group(out, "")
    assert sorted(ds.data_vars) == sorted(PLAIN)
    for i, g in enumerate(("g1.h5", "g2.h5")):
        for name in PLAIN:
            got = ds[name].isel(n=i).values
            assert np.array_equal(got, h5py_values(granules / g, name)), (g, name)
    # Over granules, `error` fails g1 at extraction: it is not combined (exit 1).
    code, err = combine_refs(granules, tmp_path / f"g2only{suffix}", sql,
                             "--unreferenceable", "error")
    assert code == 1 and "1 granules, 1 cells" in err, err
    # Over an inventory built with the default, the combine itself refuses.
    inv = tmp_path / "inv"
    r = subprocess.run([BIN, "inventory", "build", str(granules), "-o", str(inv)],
                       capture_output=True, text=True)
    assert r.returncode == 1, r.stderr
    refused = tmp_path / f"refused{suffix}"
    code, err = combine_refs(inv, refused, sql, "--unreferenceable", "error")
    assert code == 2, err
    assert "--drop-arrays ragged,virtual" in err, err
    assert not refused.exists()
    # Dropping them is the other way to a clean combine.
    clean = tmp_path / f"clean{suffix}"
    code, err = combine_refs(inv, clean, sql, "--unreferenceable", "error",
                             "--drop-arrays", "ragged,virtual")
    assert code == 0, err


def test_auto_scans_the_file_when_the_sidecar_leaves_an_array_out(tmp_path):
    """A sidecar that describes `longitude` as a DAP4 Structure (what DMR++ does for HDF5
    compounds) cannot express it: under `dmrpp` it is left out and listed; under `auto` the HDF5
    scan, which reads it, is used instead, and every array is referenced."""
    import shutil
    from compare_refs import DATA
    src = sorted((DATA / "swot").glob("*.nc"))[0]
    g = tmp_path / src.name
    shutil.copy(src, g)
    text = Path(str(src) + ".dmrpp").read_text()
    start = text.index('<Int32 name="longitude">')
    end = text.index("</Int32>", start)
    text = (text[:start] + '<Structure name="longitude">' + text[start + 24:end] + "</Structure>"
            + text[end + 8:])
    Path(str(g) + ".dmrpp").write_text(text)
    code, err = scan(g, tmp_path / "dmrpp.json", "--metadata", "dmrpp")
    assert code == 1 and 'array "longitude": not supported: DAP4 Structure' in err, err
    assert "longitude" not in open_group(tmp_path / "dmrpp.json", "").variables
    code, err = scan(g, tmp_path / "auto.json")
    assert code == 0, err
    ds = open_group(tmp_path / "auto.json", "")
    with h5py.File(src) as f:
        assert np.array_equal(ds["longitude"].values, f["longitude"][...])


@pytest.mark.parametrize("dtype", [
    [["a", "<f8"], ["c", "<f4", [2]]],  # an array member
    [["a", "<f8"], ["n", [["x", "<i2"], ["y", "<i2"]]]],  # a nested compound
])
def test_zarr_python_cannot_read_the_compounds_granary_leaves_out(dtype):
    """Why such compounds are left out rather than referenced: the pinned zarr-python refuses
    their zarr v2 spelling. When a zarr release reads them, this fails: map them then."""
    import zarr
    from zarr.core.buffer import default_buffer_prototype
    meta = {"shape": [3], "chunks": [3], "dtype": dtype, "fill_value": None, "order": "C",
            "filters": None, "compressor": None, "zarr_format": 2, "dimension_separator": "."}
    buf = default_buffer_prototype().buffer.from_bytes(json.dumps(meta).encode())
    store = zarr.storage.MemoryStore({".zarray": buf})
    with pytest.raises(ValueError, match="No Zarr data type found"):
        zarr.open_array(store, zarr_format=2, mode="r")
