"""The comparison's reference check must see what it claims to: equal sets pass, an inlined chunk
equal to the referenced bytes passes, and every kind of corruption is reported."""
import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import check  # noqa: E402
import report  # noqa: E402


def sets(tmp_path):
    data = bytes(range(256)) * 4
    src = tmp_path / "g.nc"
    src.write_bytes(data)
    zarray = json.dumps({"shape": [1, 1, 8], "chunks": [1, 1, 8], "dtype": "<i4", "fill_value": 0,
                         "order": "C", "filters": None, "compressor": None, "zarr_format": 2})
    ours = {".zgroup": '{"zarr_format":2}', ".zattrs": '{"title":"t"}', "v/.zarray": zarray,
            "v/.zattrs": '{"units":"m"}', "v/0.0.0": [str(src), 100, 32], "w/.zarray": zarray,
            "w/0.0.0": [str(src), 10, 8]}
    theirs = dict(ours)
    theirs["w/0.0.0"] = "base64:" + base64.b64encode(data[10:18]).decode()
    return ours, theirs


def test_equal_sets_and_inlined_bytes_pass(tmp_path):
    ours, theirs = sets(tmp_path)
    r = check.manifest_diff(ours, theirs)
    assert r["differences"] == []
    assert (r["same_reference"], r["same_bytes_inline_vs_reference"]) == (1, 1)


def test_corruptions_are_reported(tmp_path):
    ours, theirs = sets(tmp_path)
    cases = {
        "shifted offset": ("v/0.0.0", [ours["v/0.0.0"][0], 101, 32]),
        "wrong inline bytes": ("w/0.0.0", "base64:" + base64.b64encode(b"12345678").decode()),
        "dtype": ("v/.zarray", ours["v/.zarray"].replace("<i4", "<u4")),
        "fill value": ("v/.zarray", ours["v/.zarray"].replace('"fill_value": 0', '"fill_value": 1')),
        "attribute": ("v/.zattrs", '{"units":"km"}'),
        "global attribute": (".zattrs", '{"title":"u"}'),
    }
    for name, (key, value) in cases.items():
        bad = dict(ours)
        bad[key] = value
        r = check.manifest_diff(bad, theirs, ("granary", "kerchunk"))
        assert r["differences"], name
        assert all(report.classify(d) is None for d in r["differences"]), name
    dropped = dict(ours)
    del dropped["v/0.0.0"]
    assert check.manifest_diff(dropped, theirs)["differences"] == ["chunk v/0.0.0 only in b"]


def test_only_kerchunks_known_deviations_are_excused():
    assert report.classify("variable polarization_karin: 3 of 12 cells differ (3 of them empty), e.g. cell (0, 1)")
    assert not report.classify("variable polarization_karin: 3 of 12 cells differ (2 of them empty), e.g. cell (0, 1)")
    assert not report.classify("variable ssh_karin: 3 of 12 cells differ (3 of them empty), e.g. cell (0, 1)")
    assert report.classify("global attribute history: granary None, kerchunk 'x'")
    assert not report.classify("global attribute history: granary 'y', kerchunk 'x'")
