"""Scans on a cluster (`granary cluster`, Apache DataFusion Ballista) equal embedded runs, byte
for byte: a scheduler and two executors are started on 127.0.0.1 (ports chosen by the OS), the
sample pipeline runs embedded and with `--cluster`, then a 300-granule SWOT-like collection
served by a local HTTP server; the state directories (inventory Parquet parts, manifests) and
the combined reference sets are compared file by file. One executor is killed in the middle
of a slow run (30 ms per request): Ballista reruns its tasks on the other and the output is
still identical. An unreachable scheduler is an error before any work."""
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import BIN, DATA  # noqa: E402
from servers import RangeServer  # noqa: E402

ROOT = DATA.parent.parent
SWOT = DATA / "swot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc, what: str, log: Path, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited: {log.read_text()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not listen on {port}")


class Cluster:
    """A granary scheduler and `executors` executors on 127.0.0.1, stopped on exit; their logs
    (at `log` level) are `scheduler.log` and `executor-<i>.log` in `tmp`. `executor_env`:
    the executors' environment (default: this one)."""

    def __init__(self, tmp: Path, executors=2, executor_env=None, log="warn"):
        self.tmp, self.count, self.executors = tmp, executors, []
        self.executor_env, self.log = executor_env, log
        tmp.mkdir(parents=True, exist_ok=True)

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.tmp.glob("*.log")))

    def __enter__(self):
        port = free_port()
        self.url = f"df://127.0.0.1:{port}"
        log = self.tmp / "scheduler.log"
        self.scheduler = subprocess.Popen(
            [BIN, "cluster", "scheduler", "--bind", f"127.0.0.1:{port}",
             "--executor-timeout-secs", "5", "--log", self.log],
            stdout=subprocess.DEVNULL, stderr=log.open("w"))
        wait_port(port, self.scheduler, "the scheduler", log)
        for i in range(self.count):
            flight, grpc = free_port(), free_port()
            work = self.tmp / f"executor-{i}"
            work.mkdir(parents=True, exist_ok=True)
            log = self.tmp / f"executor-{i}.log"
            p = subprocess.Popen(
                [BIN, "cluster", "executor", "--scheduler", f"127.0.0.1:{port}",
                 "--flight-port", str(flight), "--grpc-port", str(grpc), "--task-slots", "2",
                 "--heartbeat-secs", "1", "--work-dir", str(work), "--log", self.log],
                stdout=subprocess.DEVNULL, stderr=log.open("w"), env=self.executor_env)
            wait_port(flight, p, f"executor {i}", log)
            self.executors.append(p)
        time.sleep(1.5)  # registered (first heartbeat)
        return self

    def __exit__(self, *exc):
        for p in [*self.executors, self.scheduler]:
            if p.poll() is None:
                p.kill()
            p.wait()


def run(tmp: Path, paths, *extra, wait=True):
    args = [BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
            "--set", f"sources.granules.paths={json.dumps([str(p) for p in paths])}",
            "--set", f"state_dir=\"{tmp / 'state'}\"",
            "--target", str(tmp / "refs.parq"), *extra]
    if not wait:
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r


def tree(d: Path) -> dict:
    """Every file under d (but the state lock), by relative path, with its bytes."""
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*"))
            if p.is_file() and not p.name.endswith(".lock")}


def assert_same_tree(a: Path, b: Path):
    ta, tb = tree(a), tree(b)
    assert sorted(ta) == sorted(tb)
    assert any(k.endswith(".parquet") for k in ta), sorted(ta)
    for k in ta:
        assert ta[k] == tb[k], f"{k} differs"


def test_sample_pipeline_on_the_cluster_matches_the_embedded_run(tmp_path):
    run(tmp_path / "embedded", [SWOT])
    with Cluster(tmp_path / "cluster-work") as c:
        r = run(tmp_path / "cluster", [SWOT], "--cluster", c.url)
    assert "7 granules" in r.stderr or r.returncode == 0
    assert_same_tree(tmp_path / "embedded", tmp_path / "cluster")


def test_a_granule_failing_on_an_executor_lands_in_the_errors_table(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for p in sorted(SWOT.glob("*.nc"))[:3]:
        shutil.copy(p, src / p.name)
    (src / "broken.nc").write_bytes(b"this is not HDF5")
    (src / "truncated.nc").write_bytes(sorted(SWOT.glob("*.nc"))[0].read_bytes()[:30_000])
    builds = {}
    with Cluster(tmp_path / "work", executors=1) as c:
        for name, extra in (("embedded", []), ("cluster", ["--cluster", c.url])):
            builds[name] = subprocess.run(
                [BIN, "inventory", "build", str(src), "-o", str(tmp_path / name), *extra],
                capture_output=True, text=True)
    for r in builds.values():
        assert r.returncode == 1, r.stderr  # partial: some granules failed
        assert "3 scanned, 2 failed" in r.stderr, r.stderr
    assert_same_tree(tmp_path / "embedded", tmp_path / "cluster")
    errors = subprocess.run([BIN, "sql", str(tmp_path / "cluster"), "-c",
                             "SELECT url, stage FROM errors ORDER BY url", "--format", "csv"],
                            capture_output=True, text=True).stdout
    assert "broken.nc" in errors and "truncated.nc" in errors, errors


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    """300 SWOT-like granules with DMR++ sidecars (2 cycles × 150 passes)."""
    d = tmp_path_factory.mktemp("g300")
    subprocess.run([sys.executable, ROOT / "tests/data/gen/make_swot_like.py", "--out", d,
                    "--cycles", "2", "--passes", "150", "--num-lines-base", "10",
                    "--main-lines", "10", "--main-prob", "1", "--missing-fraction", "0",
                    "--content", "fill", "--dmrpp", "--workers", "2", "--seed", "5"],
                   check=True, capture_output=True)
    names = sorted(p.name for p in d.glob("*.nc"))
    assert len(names) == 300
    return d, names


@pytest.fixture(scope="module")
def served(collection):
    """The collection over HTTP; every run of the module reads this one server, so the runs'
    granule URLs, and therefore their outputs, are comparable byte for byte."""
    d, names = collection
    with RangeServer(d) as srv:
        yield srv, [f"{srv.base}/{n}" for n in names]


@pytest.fixture(scope="module")
def embedded_300(served, tmp_path_factory):
    out = tmp_path_factory.mktemp("embedded300")
    run(out, served[1])
    return out


def test_300_http_granules_on_two_executors_match_the_embedded_run(
        served, embedded_300, tmp_path):
    _, urls = served
    with Cluster(tmp_path / "work") as c:
        r = run(tmp_path / "cluster", urls, "--cluster", c.url,
                "--set", "engine.type=\"ballista\"", "--set", "engine.granules_per_task=16")
    assert "300" in r.stderr, r.stderr
    assert_same_tree(embedded_300, tmp_path / "cluster")


def test_an_executor_killed_mid_run_changes_nothing(served, embedded_300, tmp_path):
    srv, urls = served
    srv.delay = 0.03
    try:
        with Cluster(tmp_path / "work") as c:
            srv.requests = 0
            proc = run(tmp_path / "cluster", urls, "--cluster", c.url,
                       "--set", "engine.type=\"ballista\"",
                       "--set", "engine.granules_per_task=8", wait=False)
            deadline = time.monotonic() + 60
            while srv.requests < 200 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
            assert proc.poll() is None, "the run ended before the executor could be killed"
            c.executors[0].send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=300)
    finally:
        srv.delay = 0.0
    assert proc.returncode == 0, err
    assert_same_tree(embedded_300, tmp_path / "cluster")


def test_a_client_killed_mid_run_resumes_on_the_cluster(served, embedded_300, tmp_path):
    """`kill -9` of `granary run --cluster` once two parts are committed (jobs and parts of 50
    granules, 30 ms per request); the next run skips the committed granules, and its output
    equals the embedded run's."""
    srv, urls = served
    out = tmp_path / "cluster"
    commit = out / "state" / "inventory" / "_inventory.json"
    sets = ["--set", "engine.type=\"ballista\"", "--set", "engine.granules_per_job=50",
            "--set", "engine.granules_per_task=10", "--set", "extractors.metadata.part_size=50"]
    srv.delay = 0.03
    try:
        with Cluster(tmp_path / "work") as c:
            proc = run(out, urls, "--cluster", c.url, *sets, wait=False)
            deadline, parts = time.monotonic() + 120, 0
            while time.monotonic() < deadline and proc.poll() is None:
                if commit.is_file():
                    try:
                        parts = len(json.loads(commit.read_text())["parts"])
                    except (ValueError, KeyError):
                        parts = 0
                    if parts >= 2:
                        break
                time.sleep(0.02)
            assert proc.poll() is None, "the run ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            srv.delay = 0.0
            r = run(out, urls, "--cluster", c.url, *sets)
    finally:
        srv.delay = 0.0
    unchanged = int(r.stderr.split(" unchanged")[0].rsplit(", ", 1)[1])
    assert 100 <= unchanged < 300, r.stderr
    # The resumed inventory has other part boundaries; the tables and the references match.
    ta, tb = tree(embedded_300), tree(out)
    refs = [k for k in ta if k.startswith("refs.parq")]
    assert refs and all(ta[k] == tb.get(k) for k in refs)
    same = subprocess.run([BIN, "sql", str(out / "state" / "inventory"), "-c",
                           "SELECT count(*) AS n, count(DISTINCT url) AS u FROM granules",
                           "--format", "csv"], capture_output=True, text=True).stdout
    assert same.splitlines()[-1] == "300,300", same


JOIN = ("SELECT g.name, count(*) AS arrays, sum(c.n) AS chunks FROM granules g "
        "JOIN variables v ON v.url = g.url LEFT JOIN (SELECT url, path, count(*) AS n FROM chunks "
        "GROUP BY url, path) c ON c.url = v.url AND c.path = v.path GROUP BY g.name ORDER BY g.name")


def test_sql_over_an_inventory_runs_on_the_cluster_with_the_same_result(tmp_path):
    inv = tmp_path / "inv"
    r = subprocess.run([BIN, "inventory", "build", str(SWOT), "-o", str(inv)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    here = subprocess.run([BIN, "sql", str(inv), "-c", JOIN, "--format", "csv"],
                          capture_output=True, text=True)
    assert here.returncode == 0 and here.stdout.count("\n") == 12, here.stdout + here.stderr
    with Cluster(tmp_path / "work", executors=1) as c:
        there = subprocess.run([BIN, "sql", str(inv), "-c", JOIN, "--format", "csv",
                                "--cluster", c.url, "--log", "info,ballista=info"],
                               capture_output=True, text=True)
        scanned_now = subprocess.run([BIN, "sql", str(SWOT), "-c", "SELECT 1",
                                      "--cluster", c.url], capture_output=True, text=True)
    assert there.returncode == 0, there.stderr
    assert "finished executing" in there.stderr, "the query ran as a cluster job"
    assert there.stdout == here.stdout
    assert scanned_now.returncode != 0 and "inventory directory" in scanned_now.stderr


TOKEN = "edl-token-SECRET-cluster-4711"


def test_executors_read_with_their_own_credentials_and_no_secret_travels(tmp_path):
    """Granules behind a bearer token (Earthdata Login): the client and the executors each take
    the token from their own environment; the plans the scheduler sees (logged at debug) and
    every process's log never contain it. Executors without a token fail the job, saying so."""
    import os
    with_token = dict(os.environ, EARTHDATA_TOKEN=TOKEN)
    without = {k: v for k, v in os.environ.items() if k != "EARTHDATA_TOKEN"}
    names = sorted(p.name for p in SWOT.glob("*.nc"))
    with RangeServer(SWOT, token=TOKEN) as srv:
        urls = [f"{srv.base}/{n}" for n in names]
        earthdata = ("--set", "sources.granules.storage.credentials=\"earthdata\"")
        with Cluster(tmp_path / "ok", executors=1, executor_env=with_token, log="debug") as c:
            r = subprocess.run(
                [BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
                 "--set", f"sources.granules.paths={json.dumps(urls)}",
                 "--set", f"state_dir=\"{tmp_path / 'ok-state'}\"", *earthdata,
                 "--target", str(tmp_path / "ok.parq"), "--cluster", c.url, "--log", "debug"],
                capture_output=True, text=True, env=with_token, timeout=300)
        assert r.returncode == 0, r.stderr[-3000:]
        logs = c.logs()
        assert "GranuleScanExec" in logs, "the scheduler logged the plans"
        assert TOKEN not in logs and TOKEN not in r.stderr
        assert srv.authorizations and set(srv.authorizations) == {f"Bearer {TOKEN}"}
        with Cluster(tmp_path / "no", executors=1, executor_env=without) as c:
            r = subprocess.run(
                [BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
                 "--set", f"sources.granules.paths={json.dumps(urls)}",
                 "--set", f"state_dir=\"{tmp_path / 'no-state'}\"", *earthdata,
                 "--target", str(tmp_path / "no.parq"), "--cluster", c.url],
                capture_output=True, text=True, env=with_token, timeout=300)
    # An executor that cannot connect the stores fails its tasks (and the job) at once, naming
    # what it lacks; nothing is committed.
    assert r.returncode != 0
    assert "no EARTHDATA_TOKEN" in r.stderr and "the scan stopped" in r.stderr, r.stderr[-3000:]
    assert not list((tmp_path / "no-state").rglob("*.parquet"))


def test_executors_fetch_and_refresh_their_own_temporary_s3_keys(tmp_path):
    """Granules in S3 (moto) behind Earthdata temporary keys that expire after 60 s, refreshed
    60 s before expiry (so at every use): the executor fetches keys from the s3credentials
    endpoint itself (more fetches than the client reports), the output equals the embedded
    run's, and no secret reaches a log."""
    import os
    import re
    from servers import S3_ENV, FakeEarthdata, MotoServer, s3_upload
    with MotoServer() as s3, FakeEarthdata(expires_in=60) as edl:
        s3_upload(s3.endpoint, "granules", "swot", SWOT)
        e = dict(os.environ, AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="",
                 AWS_REGION=S3_ENV["AWS_REGION"], EARTHDATA_TOKEN=edl.TOKEN)
        sets = ["--set", f"sources.granules.storage.endpoint=\"{s3.endpoint}\"",
                "--set", "sources.granules.storage.credentials=\"earthdata\"",
                "--set", f"sources.granules.storage.earthdata_url=\"{edl.url}\"",
                "--set", "sources.granules.storage.refresh_before_secs=60", "--io-stats"]
        embedded = subprocess.run(
            [BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
             "--set", "sources.granules.paths=[\"s3://granules/swot/\"]",
             "--set", f"state_dir=\"{tmp_path / 'embedded' / 'state'}\"",
             "--target", str(tmp_path / "embedded" / "refs.parq"), *sets],
            capture_output=True, text=True, env=e, timeout=300)
        assert embedded.returncode == 0, embedded.stderr[-3000:]
        before = edl.fetches
        with Cluster(tmp_path / "work", executors=1, executor_env=e, log="debug") as c:
            r = subprocess.run(
                [BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
                 "--set", "sources.granules.paths=[\"s3://granules/swot/\"]",
                 "--set", f"state_dir=\"{tmp_path / 'cluster' / 'state'}\"",
                 "--target", str(tmp_path / "cluster" / "refs.parq"), *sets,
                 "--cluster", c.url],
                capture_output=True, text=True, env=e, timeout=300)
            logs = c.logs()
        assert r.returncode == 0, r.stderr[-3000:]
        client = int(re.search(r"(\d+) credential fetches", r.stderr)[1])
        assert edl.fetches - before > client, (edl.fetches, before, client)
        for secret in (edl.TOKEN, edl.PASSWORD, edl.SESSION):
            assert secret not in logs and secret not in r.stderr
    assert_same_tree(tmp_path / "embedded", tmp_path / "cluster")


def test_an_unreachable_scheduler_fails_before_any_work(tmp_path):
    port = free_port()
    r = subprocess.run([BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
                        "--set", f"state_dir=\"{tmp_path / 'state'}\"",
                        "--target", str(tmp_path / "refs.parq"),
                        "--cluster", f"df://127.0.0.1:{port}"],
                       capture_output=True, text=True)
    assert r.returncode != 0
    assert f"cannot reach the scheduler at df://127.0.0.1:{port}" in r.stderr, r.stderr
    assert not (tmp_path / "state").exists() and not (tmp_path / "refs.parq").exists()
    r = subprocess.run([BIN, "inventory", "build", str(SWOT), "-o", str(tmp_path / "inv"),
                        "--cluster", "127.0.0.1:50050"], capture_output=True, text=True)
    assert r.returncode != 0 and "df://HOST:PORT" in r.stderr, r.stderr
    assert not (tmp_path / "inv").exists()
