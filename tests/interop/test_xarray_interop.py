"""Interop: references written by `granary scan` must open with xarray/fsspec/zarr and equal
the source files value by value (see compare_refs.py). Run by scripts/test.sh in the pinned
venv; GRANARY_BIN points at the built binary.
"""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import DATA, compare, granules, scan  # noqa: E402

HERE = Path(__file__).resolve().parent

# Variables whose source values are undefined, so there is nothing to compare: HDF5 fill time
# "never" leaves unwritten chunks uninitialised in libhdf5 (netCDF4 returns heap garbage, h5py
# zeros); the references read them as the fill value.
UNDEFINED_IN_SOURCE = {"chunks_fill_not_write"}


def compare_isolated(pairs, reader="auto"):
    """Compares (src, refs) pairs in a child process; a pair whose reader crashes the process
    is retried alone with h5py, then reported as a reader crash."""
    results = {}
    todo = list(pairs)
    while todo:
        args = [sys.executable, str(HERE / "compare_refs.py"), "--reader", reader]
        for s, r in todo:
            args += [str(s), str(r)]
        p = subprocess.run(args, capture_output=True, text=True)
        for line in p.stdout.splitlines():
            d = json.loads(line)
            results[d["src"]] = d
        todo = [(s, r) for s, r in todo if str(s) not in results]
        if todo and p.returncode != 0:
            s, r = todo.pop(0)
            if reader == "auto":
                results.update(compare_isolated([(s, r)], "h5py"))
            else:
                results[str(s)] = {"src": str(s), "crash": p.stderr.strip().splitlines()[-1:]}
    return results


SWOT = granules("swot")
NETCDF = granules("hdf5gen")
CORPUS = granules("corpus")


def test_fixture_counts():
    assert len(SWOT) >= 10, "SWOT-like fixtures missing (tests/data/swot)"
    assert len(CORPUS) >= 100


@pytest.mark.parametrize("path", SWOT + NETCDF, ids=lambda p: p.name)
def test_reference_set_equals_source(path, tmp_path):
    out = tmp_path / "refs.json"
    code, err = scan(path, out)
    if path.name.startswith("matrix_"):
        # plain HDF5 matrix: may hold types zarr v2 cannot express (vlen ints, references)
        if code != 0:
            assert "has no zarr v2 equivalent" in err or "no codec granary can reference" in err, err
            return
    assert code == 0, err
    refs = json.loads(out.read_text())
    assert refs["version"] == 1 and ".zmetadata" in refs["refs"]
    assert compare(path, out) == []


def decoded(refs_path: Path) -> dict:
    """References with metadata values parsed, so that key order inside them does not matter."""
    refs = json.loads(refs_path.read_text())["refs"]
    out = {}
    for k, v in refs.items():
        if k.endswith((".zarray", ".zattrs", ".zgroup", ".zmetadata")):
            v = json.loads(v)
        out[k] = v
    return out


@pytest.mark.parametrize("path", SWOT, ids=lambda p: p.name)
def test_dmrpp_route_equals_source_and_hdf5_route(path, tmp_path):
    via_dmrpp, via_hdf5 = tmp_path / "dmrpp.json", tmp_path / "hdf5.json"
    code, err = scan(path, via_dmrpp, "--metadata", "dmrpp")
    assert code == 0, err
    code, err = scan(path, via_hdf5, "--metadata", "hdf5")
    assert code == 0, err
    assert compare(path, via_dmrpp) == []
    assert decoded(via_dmrpp) == decoded(via_hdf5)


SKIPPED_LINE = re.compile(r'^  \S+: array "(.*)": (.*)$')


def test_corpus_sweep(tmp_path):
    """Every dataset of the corpus that h5py reads is either referenced, reading back through
    xarray/zarr equal to the source, or listed as left out with its reason (per-array policy
    `skip`, the default); no file fails as a whole for one array. Files that fail as a whole
    must be malformed (or not HDF5), with a typed error."""
    written, failed_files, errors = [], [], []
    skipped = {}  # file name -> {array path: reason}
    for path in CORPUS:
        out = tmp_path / (path.name + ".json")
        # The HDF5 route: corpus DMR++ documents are checked against HDF5 scans by the Rust
        # agreement test, with their upstream defects listed there.
        code, err = scan(path, out, "--metadata", "hdf5")
        if not out.exists():
            assert code == 1 and "0 of 1 granules" in err, err
            failed_files.append((path.name, err.strip().splitlines()[-1]))
            continue
        left_out = dict(m.groups() for m in map(SKIPPED_LINE.match, err.splitlines()) if m)
        assert code == (1 if left_out else 0), err
        skipped[path.name] = left_out
        written.append((path, out))
    total = equal = listed = 0
    unreadable = []
    for src, d in compare_isolated(written).items():
        name = Path(src).name
        if "crash" in d or ("exception" in d and "Unable to" in d["exception"]):
            unreadable.append(name)  # neither netCDF4 nor h5py reads it: nothing to compare with
            continue
        if "exception" in d:
            errors.append(f"{name}: {d['exception']}")
            continue
        left_out = skipped[name]
        bad = set()
        for e in d["errors"]:
            var = e.split(":")[0].strip("/")
            if var.rsplit("/", 1)[-1] in UNDEFINED_IN_SOURCE:
                continue
            if var in left_out and "missing from references" in e:
                continue
            bad.add(var)
            errors.append(f"{name}: {e}")
        for var in d["variables"]:
            total += 1
            if var in left_out:
                listed += 1
            elif var not in bad:
                equal += 1
        # Arrays h5py cannot read either are not counted; granary may still list them.
    print(f"corpus sweep: {total} datasets h5py reads in {len(written)} files: {equal} referenced "
          f"and equal ({100 * equal / max(total, 1):.2f} %), {listed} left out and listed")
    for name, arrays in sorted(skipped.items()):
        for path, why in arrays.items():
            print(f"  left out {name}:{path}: {why}")
    print(f"corpus sweep: {len(failed_files)} files failed as a whole; "
          f"{len(unreadable)} files no reference reader could open: {unreadable}")
    for name, why in failed_files:
        print(f"  failed {name}: {why}")
    assert errors == [], "\n".join(errors)
    assert total >= 1000 and equal + listed == total
    # Only malformed or non-HDF5 files may fail as a whole, never for one array.
    for name, why in failed_files:
        assert "malformed" in why or "not an HDF5 file" in why or "not supported" not in why, \
            f"{name}: {why}"
