"""Stale DMR++ sidecars: a sidecar whose offsets no longer match its object (shifted by 40
bytes, as a real stale corpus sidecar is; another granule's sidecar; a truncated object) must
not be trusted. Under `--metadata dmrpp` the granule fails with an error naming it and the
array that failed the check; under `auto` granary scans the HDF5 file instead, and the
references equal the HDF5 route's for every array, compressed or not."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import BIN, DATA  # noqa: E402

SWOT = DATA / "swot"


def granary(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)


def copy(tmp: Path, index=0, name="g") -> Path:
    src = sorted(SWOT.glob("*.nc"))[index]
    d = tmp / name
    d.mkdir()
    shutil.copy(src, d / src.name)
    shutil.copy(Path(str(src) + ".dmrpp"), d / (src.name + ".dmrpp"))
    return d / src.name


def refs(path: Path):
    """The references, metadata parsed (attribute order is not meaningful)."""
    out = {}
    for k, v in json.loads(path.read_text())["refs"].items():
        meta = k.rsplit("/", 1)[-1] in (".zattrs", ".zarray", ".zgroup", ".zmetadata")
        out[k] = json.loads(v) if meta and isinstance(v, str) else v
    return out


def hdf5_refs(g: Path, tmp: Path):
    out = tmp / "hdf5.json"
    r = granary("scan", g, "-o", out, "--metadata", "hdf5")
    assert r.returncode == 0, r.stderr
    return refs(out)


def shift_offsets(g: Path, by: int):
    sidecar = Path(str(g) + ".dmrpp")
    text = sidecar.read_text()
    text = re.sub(r'offset="(\d+)"', lambda m: f'offset="{max(0, int(m.group(1)) + by)}"', text)
    sidecar.write_text(text)


def assert_refused_and_fallen_back(g: Path, tmp: Path):
    out = tmp / "x.json"
    r = granary("scan", g, "-o", out, "--metadata", "dmrpp")
    assert r.returncode == 1, r.stderr
    assert "does not describe this object" in r.stderr and g.name in r.stderr, r.stderr
    assert "array" in r.stderr
    assert not out.exists()
    r = granary("scan", g, "-o", out)
    assert r.returncode == 0, r.stderr
    assert refs(out) == hdf5_refs(g, tmp)


def test_shifted_offsets_are_caught(tmp_path):
    g = copy(tmp_path)
    shift_offsets(g, -40)
    assert_refused_and_fallen_back(g, tmp_path)
    # The uncompressed arrays were shifted too; after the fallback they point where HDF5 says.
    plain = [k for k, v in refs(tmp_path / "x.json").items()
             if isinstance(v, list) and k.startswith("time/")]
    assert plain


def test_another_granules_sidecar_is_caught(tmp_path):
    g = copy(tmp_path)
    other = sorted(SWOT.glob("*.nc"))[-1]
    shutil.copy(Path(str(other) + ".dmrpp"), Path(str(g) + ".dmrpp"))
    assert_refused_and_fallen_back(g, tmp_path)


def test_a_truncated_object_is_caught(tmp_path):
    g = copy(tmp_path)
    data = g.read_bytes()
    g.write_bytes(data[: len(data) // 2])
    out = tmp_path / "t.json"
    r = granary("scan", g, "-o", out, "--metadata", "dmrpp")
    assert r.returncode == 1 and "references bytes up to" in r.stderr, r.stderr
    r = granary("scan", g, "-o", out, "--metadata", "dmrpp", "--sidecar-check", "off")
    assert r.returncode == 0, "with the check off the stale sidecar is trusted (documented)"


def test_a_current_sidecar_passes_and_gives_the_hdf5_references(tmp_path):
    g = copy(tmp_path)
    out = tmp_path / "ok.json"
    r = granary("scan", g, "-o", out, "--metadata", "dmrpp")
    assert r.returncode == 0, r.stderr
    assert refs(out) == hdf5_refs(g, tmp_path)


@pytest.mark.parametrize("name", ["{}.dmrpp.old", "sidecar.xml"])
def test_a_sidecar_under_another_name_is_recognised_by_content(tmp_path, name):
    g = copy(tmp_path)
    doc = g.parent / name.format(g.name)
    Path(str(g) + ".dmrpp").rename(doc)
    out = tmp_path / "doc.json"
    r = granary("scan", doc, "-o", out)
    assert r.returncode == 0, r.stderr
    assert refs(out) == hdf5_refs(g, tmp_path)
