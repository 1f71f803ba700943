"""The sample pipeline over remote stores served on 127.0.0.1: over http:// (range reads from a
local HTTP server), over s3:// (moto's S3 server, listing a prefix), and over an HTTP server that
fails 10 % of requests transiently. Each run's references equal the local run's, byte for byte
once the granule URLs are mapped back to the local files.
"""
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_refs import BIN, DATA  # noqa: E402
from servers import S3_ENV, MotoServer, RangeServer, env, s3_upload  # noqa: E402

ROOT = DATA.parent.parent
SWOT = DATA / "swot"
NAMES = sorted(p.name for p in SWOT.glob("*.nc"))


def sample_args(tmp: Path, paths, *sets):
    """`granary run pipelines/sample.toml` reading `paths`, state and JSON output under tmp."""
    args = [BIN, "run", str(ROOT / "pipelines" / "sample.toml"),
            "--set", f"sources.granules.paths={json.dumps(paths)}",
            "--set", f"state_dir=\"{tmp / 'state'}\"",
            "--set", "sinks.references.type=\"kerchunk_json\"",
            "--set", f"sinks.references.path=\"{tmp / 'refs.json'}\""]
    for s in sets:
        args += ["--set", s]
    return args


def run_sample(tmp: Path, paths, *sets, extra_env=None):
    out = tmp / "refs.json"
    args = sample_args(tmp, paths, *sets)
    r = subprocess.run(args, capture_output=True, text=True, env=env(**(extra_env or {})))
    assert r.returncode == 0, r.stderr
    return out.read_text(), r.stderr


@pytest.fixture(scope="module")
def local_refs(tmp_path_factory):
    text, _ = run_sample(tmp_path_factory.mktemp("local"), [str(SWOT)])
    return text


@pytest.fixture(scope="module")
def local_refs_hdf5(tmp_path_factory):
    text, _ = run_sample(tmp_path_factory.mktemp("local_hdf5"), [str(SWOT)],
                         'extractors.metadata.type="hdf5"')
    return text


def as_local(text: str, base: str) -> str:
    return text.replace(base.rstrip("/") + "/", SWOT.resolve().as_uri() + "/")


def test_over_http_equals_local(tmp_path, local_refs):
    with RangeServer(SWOT) as srv:
        text, _ = run_sample(tmp_path, [f"{srv.url}/{n}" for n in NAMES])
        assert srv.requests > 0
    assert as_local(text, srv.url) == local_refs


def test_hdf5_scan_over_http_range_reads_equals_local(tmp_path, local_refs_hdf5):
    with RangeServer(SWOT) as srv:
        text, _ = run_sample(tmp_path, [f"{srv.url}/{n}" for n in NAMES],
                             'extractors.metadata.type="hdf5"',
                             "sources.granules.storage.max_concurrent_requests=2")
        assert srv.requests > 0
    assert as_local(text, srv.url) == local_refs_hdf5


def test_over_http_with_transient_failures_equals_local(tmp_path, local_refs):
    with RangeServer(SWOT, fail_fraction=0.1) as srv:
        text, _ = run_sample(tmp_path, [f"{srv.url}/{n}" for n in NAMES])
        assert srv.failed > 0, "the server failed no request"
    assert as_local(text, srv.url) == local_refs


def test_over_s3_listing_a_prefix_equals_local(tmp_path, local_refs):
    with MotoServer() as s3:
        s3_upload(s3.endpoint, "granules", "swot", SWOT)
        text, err = run_sample(tmp_path, ["s3://granules/swot/"],
                               f"sources.granules.storage.endpoint=\"{s3.endpoint}\"",
                               extra_env=S3_ENV)
        assert "11 granules listed" in err, err
    assert as_local(text, "s3://granules/swot") == local_refs


@pytest.mark.parametrize("login", ["token", "netrc"])
def test_over_s3_with_earthdata_credentials_refreshed(tmp_path, local_refs, login):
    """Temporary keys from a fake s3credentials endpoint expiring after 60 s; with
    refresh_before_secs = 60 every use counts as about to expire, so the run fetches them again
    and again (the refresh path) and still equals the local run. No secret reaches the log."""
    from servers import FakeEarthdata  # noqa: PLC0415
    with MotoServer() as s3, FakeEarthdata(expires_in=60) as edl:
        s3_upload(s3.endpoint, "granules", "swot", SWOT)
        extra = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_REGION": "us-east-1"}
        if login == "token":
            extra["EARTHDATA_TOKEN"] = edl.TOKEN
        else:
            netrc = tmp_path / "netrc"
            netrc.write_text(f"machine 127.0.0.1 login {edl.USER} password {edl.PASSWORD}\n")
            extra.update(NETRC=str(netrc), EARTHDATA_TOKEN="")
        text, err = run_sample(
            tmp_path, ["s3://granules/swot/"],
            f"sources.granules.storage.endpoint=\"{s3.endpoint}\"",
            "sources.granules.storage.credentials=\"earthdata\"",
            f"sources.granules.storage.earthdata_url=\"{edl.url}\"",
            "sources.granules.storage.refresh_before_secs=60",
            extra_env=dict(extra, GRANARY_LOG="debug"))
        assert edl.fetches >= 2, edl.fetches
    assert as_local(text, "s3://granules/swot") == local_refs
    for secret in (edl.TOKEN, edl.PASSWORD, edl.SESSION):
        assert secret not in err and secret not in text


def test_kill_9_then_run_again_resumes_with_identical_output(tmp_path, local_refs):
    """A real `kill -9` in the middle of extraction (a slow HTTP server, one granule per commit,
    one at a time), then `granary run` again: committed granules are not read again and the
    output equals an uninterrupted run's."""
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415
    import time  # noqa: PLC0415
    with RangeServer(SWOT, delay=0.15) as srv:
        paths = [f"{srv.url}/{n}" for n in NAMES]
        sets = ["extractors.metadata.part_size=1", "extractors.metadata.concurrency=1"]
        out = tmp_path / "refs.json"
        proc = subprocess.Popen(sample_args(tmp_path, paths, *sets),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        commit = tmp_path / "state" / "inventory" / "_inventory.json"
        deadline = time.time() + 60
        parts = 0
        while time.time() < deadline and proc.poll() is None:
            if commit.is_file():
                try:
                    parts = len(json.loads(commit.read_text())["parts"])
                except (ValueError, KeyError):
                    parts = 0
                if parts >= 3:
                    break
            time.sleep(0.02)
        assert proc.poll() is None, "the run finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert 3 <= parts < len(NAMES) and not out.exists()
        text, err = run_sample(tmp_path, paths, *sets)
        unchanged = int(err.split(" unchanged")[0].rsplit(", ", 1)[1])
        assert unchanged >= 3, err
    assert as_local(text, srv.url) == local_refs
