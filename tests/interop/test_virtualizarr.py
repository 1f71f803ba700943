"""Interop: VirtualiZarr 2.5.1's kerchunk readers (JSON and Parquet) load granary's combined
reference sets: same dims, variables, dtypes and chunk grids, and every chunk entry (path,
offset, length) equal to the reference set's. VirtualiZarr cannot read inlined references
(its issue 489), so the inline coordinate arrays are skipped with `skip_variables`.
"""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import BIN, DATA  # noqa: E402

virtualizarr = pytest.importorskip("virtualizarr")
from obspec_utils.registry import ObjectStoreRegistry  # noqa: E402
from obstore.store import LocalStore  # noqa: E402
from virtualizarr.parsers import KerchunkJSONParser, KerchunkParquetParser  # noqa: E402

ROOT = DATA.parent.parent
INLINE = ["cycle_num", "pass_num"]


def combine(out: Path):
    r = subprocess.run([BIN, "combine", str(DATA / "swot"), "-f", str(ROOT / "sql" / "main_shape.sql"),
                        "-o", str(out), "--format", "json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def open_virtual(url: str, parser):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return virtualizarr.open_virtual_dataset(
            url, registry=ObjectStoreRegistry({"file://": LocalStore()}), parser=parser,
            loadable_variables=[])


@pytest.mark.parametrize("fmt", ["json", "parquet"])
def test_virtualizarr_reads_the_combined_references(tmp_path, fmt):
    js = tmp_path / "refs.json"
    combine(js)
    refs = json.loads(js.read_text())["refs"]
    if fmt == "json":
        url, parser = js.as_uri(), KerchunkJSONParser(skip_variables=INLINE)
    else:
        pq = tmp_path / "refs.parq"
        r = subprocess.run([BIN, "combine", str(DATA / "swot"), "-f",
                            str(ROOT / "sql" / "main_shape.sql"), "-o", str(pq)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        url, parser = pq.as_uri(), KerchunkParquetParser(skip_variables=INLINE)
    vds = open_virtual(url, parser)
    assert dict(vds.sizes) == {"cycle_num": 2, "pass_num": 5, "num_lines": 10,
                               "num_pixels": 71, "num_sides": 2}
    arrays = [k[:-len("/.zarray")] for k in refs if k.endswith("/.zarray")]
    assert set(vds.variables) == set(arrays) - set(INLINE)
    checked = 0
    for name in vds.variables:
        zarray = json.loads(refs[f"{name}/.zarray"])
        var = vds[name]
        assert list(var.shape) == zarray["shape"], name
        assert np.dtype(var.dtype) == np.dtype(zarray["dtype"]), name
        m = var.data.manifest
        grid = m.shape_chunk_grid
        for idx in np.ndindex(*grid):
            key = f"{name}/" + ".".join(map(str, idx))
            path = str(m._paths[idx])
            if key in refs:
                want_url, want_off, want_len = refs[key]
                assert (path, int(m._offsets[idx]), int(m._lengths[idx])) == \
                    (want_url, want_off, want_len), key
                checked += 1
            else:
                assert path == "", key
    assert checked == 665  # every reference of the set (the inline coordinates are not refs)
