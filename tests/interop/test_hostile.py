"""Hostile input and careless use, through the `granary` binary: sidecars whose hrefs point at
local files or foreign hosts, outputs that would delete what granary did not write, concurrent
builds of one inventory, deep XML, deep SQL, and pipelines whose SQL would write. Each case is
a reproduction of a defect found by probing granary as an attacker would; each asserts the
refusal and that nothing was read, written or lost (files whose contents would show up, and
request counters of servers on 127.0.0.1)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import BIN, DATA  # noqa: E402
from servers import RangeServer  # noqa: E402

ROOT = DATA.parent.parent
SWOT = DATA / "swot"
SECRET = "TOPSECRET-granary-must-never-read-this"
MAIN = ("SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, "
        "CAST(attrs['pass_number'] AS INT) AS pass_num FROM granules WHERE dims['num_lines'] = 10")


def granary(*args, **kw):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, **kw)


def one_granule(tmp: Path, name: str = "granules") -> Path:
    """A private copy of one bundled granule and its sidecar."""
    src = sorted(SWOT.glob("*.nc"))[0]
    d = tmp / name
    d.mkdir()
    shutil.copy(src, d / src.name)
    shutil.copy(Path(str(src) + ".dmrpp"), d / (src.name + ".dmrpp"))
    return d / src.name


def poison_sidecar(granule: Path, href: str):
    """Makes the first chunk of the sidecar point at `href`, covering the secret's bytes."""
    sidecar = Path(str(granule) + ".dmrpp")
    text = sidecar.read_text()
    first = text.index("<dmrpp:chunk offset=")
    end = text.index("/>", first)
    text = text[:first] + f'<dmrpp:chunk href="{href}" offset="0" nBytes="{len(SECRET)}" ' \
        'chunkPositionInArray="[0]"' + text[end:]
    sidecar.write_text(text)


@pytest.fixture
def secret(tmp_path):
    p = tmp_path / "outside" / "secret.txt"
    p.parent.mkdir()
    p.write_text(SECRET)
    return p


def test_a_sidecar_cannot_make_granary_read_a_local_file(tmp_path, secret):
    g = one_granule(tmp_path)
    poison_sidecar(g, secret.as_uri())
    out = tmp_path / "g.json"
    # DMR++ only: refused, naming the granule, the array and the href; nothing written.
    r = granary("scan", g, "-o", out, "--metadata", "dmrpp", "--inline-threshold", 100000)
    assert r.returncode == 1, r.stderr
    assert str(g.name) in r.stderr and secret.as_uri() in r.stderr, r.stderr
    assert "outside the granule's own store" in r.stderr, r.stderr
    assert not out.exists()
    # auto: the sidecar is not used, the HDF5 scan is; the secret never reaches the output.
    r = granary("scan", g, "-o", out, "--inline-threshold", 100000)
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    assert SECRET not in text and "secret.txt" not in text
    # An explicit allow-list opens exactly what it names.
    r = granary("scan", g, "-o", tmp_path / "allowed.json", "--metadata", "dmrpp",
                "--allow-location", secret.parent.as_uri() + "/")
    assert r.returncode == 0, r.stderr


def test_a_remote_sidecar_cannot_reach_local_files_or_other_hosts(tmp_path, secret):
    g = one_granule(tmp_path)
    with RangeServer(tmp_path / "outside") as foreign:
        poison_sidecar(g, foreign.base + "/secret.txt")
        with RangeServer(g.parent) as srv:
            url = f"{srv.base}/{g.name}"
            r = granary("scan", url, "-o", tmp_path / "a.json", "--metadata", "dmrpp",
                        "--inline-threshold", 100000)
            assert r.returncode == 1, r.stderr
            assert "outside the granule's own store" in r.stderr, r.stderr
        assert foreign.requests == 0, "a request reached the foreign host"
    g = one_granule(tmp_path, "again")
    poison_sidecar(g, secret.as_uri())
    with RangeServer(g.parent) as srv:
        r = granary("scan", f"{srv.base}/{g.name}", "-o", tmp_path / "b.json",
                    "--metadata", "dmrpp", "--inline-threshold", 100000)
        assert r.returncode == 1 and secret.as_uri() in r.stderr, r.stderr
    assert not (tmp_path / "b.json").exists()


def test_combine_never_deletes_what_granary_did_not_write(tmp_path):
    precious = tmp_path / "results"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    r = granary("combine", SWOT, "-c", MAIN, "-o", precious, "--overwrite")
    assert r.returncode == 2, r.stderr
    assert "not written by granary" in r.stderr, r.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"
    for bad in [".", "..", "/"]:
        r = granary("combine", SWOT, "-c", MAIN, "-o", bad, "--overwrite", cwd=tmp_path)
        assert r.returncode == 2 and "file or directory name" in r.stderr, r.stderr
    # A granary output is replaced, and only then.
    out = tmp_path / "refs.parq"
    assert granary("combine", SWOT, "-c", MAIN, "-o", out).returncode == 0
    assert (out / ".granary-output").is_file()
    r = granary("combine", SWOT, "-c", MAIN, "-o", out, "--overwrite")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refs.parq", "results"]


def test_partition_values_cannot_escape_the_output_directory(tmp_path):
    sql = MAIN.replace("AS pass_num", "AS pass_num, '../../escape' AS part")
    out = tmp_path / "deep" / "dir"
    r = granary("combine", SWOT, "-c", sql, "--partition-by", "part", "-o", out / "c{}.json")
    assert r.returncode == 2, r.stderr
    assert "cannot be part of a file name" in r.stderr, r.stderr
    assert not (tmp_path / "escape.json").exists() and not (tmp_path / "cescape.json").exists()


def test_inventory_build_refuses_a_directory_that_is_not_an_inventory(tmp_path):
    d = tmp_path / "mine"
    (d / "granules").mkdir(parents=True)
    (d / "granules" / "notes.parquet").write_text("mine")
    r = granary("inventory", "build", SWOT, "-o", d)
    assert r.returncode == 2, r.stderr
    assert "holds no inventory" in r.stderr, r.stderr
    assert (d / "granules" / "notes.parquet").read_text() == "mine"


def test_concurrent_builds_never_duplicate_granules(tmp_path):
    """Two builds of one inventory at once: one holds the lock, the other fails clearly; the
    inventory ends with one row per granule, every trial."""
    names = sorted(p.name for p in SWOT.glob("*.nc"))
    for trial in range(4):
        inv = tmp_path / f"inv{trial}"
        procs = [subprocess.Popen([BIN, "inventory", "build", str(SWOT), "-o", str(inv),
                                   "--metadata", "hdf5", "--part-size", "2"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        results = [(p.wait(), p.stderr.read()) for p in procs]
        for code, err in results:
            assert code == 0 or (code == 3 and "being written by another process" in err), err
        assert any(code == 0 for code, _ in results)
        r = granary("sql", inv, "-c", "SELECT count(*) AS n, count(DISTINCT url) AS d FROM granules",
                    "--format", "csv")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines()[1] == f"{len(names)},{len(names)}", r.stdout


def test_deeply_nested_dmrpp_falls_back_under_auto(tmp_path):
    g = one_granule(tmp_path)
    n = 5000
    Path(str(g) + ".dmrpp").write_text(
        '<?xml version="1.0"?><Dataset name="x" dmrpp:href="OPeNDAP_DMRpp_DATA_ACCESS_URL" '
        'xmlns:dmrpp="http://xml.opendap.org/dap/dmrpp/1.0.0#">'
        + '<Group name="g">' * n + "</Group>" * n + "</Dataset>")
    inv = tmp_path / "inv"
    r = granary("inventory", "build", g.parent, "-o", inv)
    assert r.returncode == 0, r.stderr
    r = granary("sql", inv, "-c", "SELECT n_arrays FROM granules", "--format", "csv")
    assert r.stdout.splitlines()[1] == "95", r.stdout
    r = granary("scan", g, "-o", tmp_path / "x.json", "--metadata", "dmrpp")
    assert r.returncode == 1 and "nested more than" in r.stderr, r.stderr


@pytest.mark.parametrize("n", [1000, 5000])
def test_deep_sql_is_an_error_not_an_abort(n):
    r = granary("sql", "-c", "SELECT 1" + "+1" * n)
    assert r.returncode == 2, (r.returncode, r.stderr[-500:])
    assert "nested more than" in r.stderr


def test_pipeline_sql_that_writes_is_a_validation_error(tmp_path):
    target = tmp_path / "exfiltrated.csv"
    p = tmp_path / "p.toml"
    text = (ROOT / "pipelines" / "sample.toml").read_text().replace(
        'query_file = "../sql/main_shape.sql" # relative to this file',
        f"query = \"COPY (SELECT url FROM granules) TO '{target}'\"")
    p.write_text(text)
    for cmd in (["validate", p], ["run", p, "--dry-run", "--set", f'state_dir="{tmp_path / "s"}"']):
        r = granary(*cmd, cwd=ROOT)
        assert r.returncode == 2, r.stderr
        assert "p.toml" in r.stderr and "only queries" in r.stderr, r.stderr
    assert not target.exists()


def test_errors_table_exists_over_granules_scanned_now(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    shutil.copy(sorted(SWOT.glob("*.nc"))[0], d)
    (d / "broken.nc").write_bytes(b"not hdf5")
    r = granary("sql", d, "-c", "SELECT stage FROM errors", "--format", "csv",
                "--metadata", "hdf5")
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines() == ["stage", "hdf5"], r.stdout


def test_a_fifo_named_like_a_granule_does_not_hang(tmp_path):
    d = tmp_path / "g"
    d.mkdir()
    shutil.copy(sorted(SWOT.glob("*.nc"))[0], d)
    os.mkfifo(d / "pipe.nc")
    r = granary("scan", d, "-o", f"{tmp_path / 'out'}/", timeout=60)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "out").iterdir())) == 1
    r = granary("scan", d / "pipe.nc", "-o", tmp_path / "p.json", timeout=60)
    assert r.returncode == 2 and "not a regular file" in r.stderr, r.stderr


def test_error_messages_say_each_cause_once(tmp_path):
    r = granary("scan", tmp_path / "missing.nc", "-o", tmp_path / "m.json")
    assert r.returncode == 1
    line = next(l for l in r.stderr.splitlines() if "missing.nc" in l and "failed" not in l)
    # The object_store cause appears once, not repeated by every layer.
    assert line.count("No such file") <= 1, line
