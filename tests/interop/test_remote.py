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


def test_url_map_publishes_an_http_flavour_that_opens_with_fsspec(tmp_path, local_refs):
    """One run, two sinks: the local flavour and, through `url_map`, an HTTP flavour whose
    references open with fsspec over a Range server and read the same values."""
    import fsspec
    import numpy as np
    import xarray as xr
    with RangeServer(SWOT) as srv:
        base = srv.url.rstrip("/") + "/"
        local_prefix = SWOT.resolve().as_uri() + "/"
        http_out = tmp_path / "http.json"
        args = sample_args(tmp_path, [str(SWOT)],
                           f"sinks.http.type=\"kerchunk_json\"",
                           "sinks.http.inputs=[\"by_cycle_pass\"]",
                           f"sinks.http.path=\"{http_out}\"",
                           f"sinks.http.url_map={{\"{local_prefix}\" = \"{base}\"}}")
        r = subprocess.run(args, capture_output=True, text=True, env=env())
        assert r.returncode == 0, r.stderr
        local = (tmp_path / "refs.json").read_text()
        mapped = http_out.read_text()
        assert local_prefix not in mapped and base in mapped
        # Mapping back gives the local flavour exactly.
        assert mapped.replace(base, local_prefix) == local == local_refs

        def opened(path, protocol):
            # fsspec's HTTP filesystem is asynchronous: so must the reference one be.
            import zarr
            fs = fsspec.filesystem("reference", fo=str(path), remote_protocol=protocol,
                                   asynchronous=True, remote_options={"asynchronous": True},
                                   skip_instance_cache=True)
            store = zarr.storage.FsspecStore(fs, read_only=True, path="")
            return xr.open_dataset(store, engine="zarr", consolidated=True, zarr_format=2,
                                   mask_and_scale=False, decode_times=False)
        over_http, on_disk = opened(http_out, "http"), opened(tmp_path / "refs.json", "file")
        for name in ("ssha_karin", "time", "latitude"):
            assert np.array_equal(over_http[name].values, on_disk[name].values), name


def test_url_map_refuses_urls_it_does_not_map(tmp_path):
    args = sample_args(tmp_path, [str(SWOT)],
                       "sinks.references.url_map={\"s3://elsewhere/\" = \"https://h/\"}")
    r = subprocess.run(args, capture_output=True, text=True, env=env())
    assert r.returncode == 2, r.stderr
    assert "no prefix matches" in r.stderr and "s3://elsewhere/" in r.stderr, r.stderr
    assert not (tmp_path / "refs.json").exists()
    args = sample_args(tmp_path, [str(SWOT)],
                       "sinks.references.url_map={\"s3://b\" = \"https://h/\"}")
    r = subprocess.run(args, capture_output=True, text=True, env=env())
    assert r.returncode == 2 and "end with `/`" in r.stderr, r.stderr


def test_cmr_source_over_http_equals_the_same_granules_listed_by_path(tmp_path, local_refs):
    """A pipeline whose source is a CMR search (three pages, CMR-Search-After) of granules
    served over HTTP: the references equal the local run's once URLs are mapped back."""
    from servers import CmrServer
    with RangeServer(SWOT) as srv:
        granules = [{"name": n, "url": f"{srv.url}/{n}"} for n in NAMES]
        granules[0]["dmrpp"] = f"{srv.url}/{NAMES[0]}.dmrpp"  # a DMR++ link, never the data
        with CmrServer(granules, page_size=4) as cmr:
            text, err = run_sample(tmp_path, [],
                                   'sources.granules.type="cmr"',
                                   f'sources.granules.cmr_url="{cmr.url}"',
                                   'sources.granules.short_name="SWOT_L2_LR_SSH_2.0"',
                                   'sources.granules.access="external"')
            pages = len(cmr.queries)
            assert [after for _, after in cmr.queries] == [None, "4", "8"], cmr.queries
            assert cmr.queries[0][0]["short_name"] == ["SWOT_L2_LR_SSH_2.0"]
    assert pages == 3
    assert as_local(text, srv.url) == local_refs


def test_cmr_source_keys_are_checked_offline(tmp_path):
    r = subprocess.run([BIN, "validate", str(ROOT / "pipelines" / "sample.toml"),
                        "--set", 'sources.granules.type="cmr"'], capture_output=True, text=True)
    assert r.returncode == 2 and "remove `paths`" in r.stderr, r.stderr
    r = subprocess.run([BIN, "validate", str(ROOT / "pipelines" / "sample.toml"),
                        "--set", 'sources.granules.type="cmr"', "--set", "sources.granules.paths=[]"],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "short_name" in r.stderr, r.stderr


def test_cmr_rerun_asks_only_for_revised_granules_and_rescans_them(tmp_path, local_refs):
    from servers import CmrServer
    sets = ['sources.granules.type="cmr"', 'sources.granules.short_name="SWOT_L2_LR_SSH_2.0"',
            'sources.granules.access="external"']
    with RangeServer(SWOT) as srv:
        granules = [{"name": n, "url": f"{srv.url}/{n}"} for n in NAMES]
        with CmrServer(granules, page_size=5) as cmr:
            cmr_set = f'sources.granules.cmr_url="{cmr.url}"'
            first, _ = run_sample(tmp_path, [], cmr_set, *sets)
            assert all("updated_since" not in q for q, _ in cmr.queries)
            state = json.loads((tmp_path / "state" / "inventory" / "cmr_state.json").read_text())
            assert state["identity"].startswith(f"cmr:{cmr.url}/search/granules?")
            # CMR revises one granule between the runs.
            granules[3]["revision"] = "2999-01-01T00:00:00Z"
            cmr.queries.clear()
            (tmp_path / "refs.json").unlink()
            args = sample_args(tmp_path, [], cmr_set, *sets) + ["--set", "sinks.references.overwrite=true"]
            r = subprocess.run(args, capture_output=True, text=True, env=env())
            assert r.returncode == 0, r.stderr
            assert [q["updated_since"] for q, _ in cmr.queries] == [[state["searched_at"]]]
            assert f"{len(NAMES)} granules listed, {len(NAMES) - 1} unchanged, 1 scanned" in r.stderr, \
                r.stderr
            second = (tmp_path / "refs.json").read_text()
    assert as_local(first, srv.url) == as_local(second, srv.url) == local_refs


def test_https_with_an_earthdata_token_never_forwards_it_to_another_host(tmp_path, local_refs):
    """Granules behind Earthdata Login (bearer token), redirected to another host (a signed
    CDN URL): the run succeeds, the token reaches only the login-protected host, never the data
    host, and never the debug log; a wrong token fails naming the host and status."""
    with RangeServer(SWOT) as data:
        cdn = data.url.replace("127.0.0.1", "localhost")  # another origin
        with RangeServer(SWOT, token="s3cr3t-token", redirect_to=cdn) as front:
            paths = [f"{front.url}/{n}" for n in NAMES]
            sets = ['sources.granules.storage.credentials="earthdata"']
            args = sample_args(tmp_path, paths, *sets) + ["--log", "debug"]
            r = subprocess.run(args, capture_output=True, text=True,
                               env=env(EARTHDATA_TOKEN="s3cr3t-token"))
            assert r.returncode == 0, r.stderr[-3000:]
            assert front.authorizations and all(a == "Bearer s3cr3t-token"
                                                for a in front.authorizations)
            assert data.authorizations == [], data.authorizations[:3]
            assert data.requests > 0
            assert "s3cr3t-token" not in r.stderr
            out = (tmp_path / "refs.json").read_text()
            assert as_local(out, front.url) == local_refs
            bad = tmp_path / "bad"
            bad.mkdir()
            r = subprocess.run(sample_args(bad, paths, *sets), capture_output=True, text=True,
                               env=env(EARTHDATA_TOKEN="wrong"))
            assert r.returncode == 3, r.stderr
            assert f"every one of the {len(NAMES)} granules failed" in r.stderr, r.stderr[-2000:]
            assert "credentials tried: HTTPS: the bearer token in EARTHDATA_TOKEN" in r.stderr
            assert "401" in r.stderr and "127.0.0.1" in r.stderr, r.stderr[-2000:]
            assert "wrong" not in r.stderr


def test_cmr_direct_access_takes_the_credentials_endpoint_from_the_collection(tmp_path, local_refs):
    """In-region reads of a CMR source: S3 links, temporary keys from the s3credentials
    endpoint the collection's UMM-C names (no earthdata_url in the pipeline)."""
    from servers import CmrServer, FakeEarthdata
    with MotoServer() as s3, FakeEarthdata(expires_in=3600) as edl:
        s3_upload(s3.endpoint, "granules", "swot", SWOT)
        granules = [{"name": n, "url": f"s3://granules/swot/{n}"} for n in NAMES]
        direct = {"Region": "us-east-1", "S3BucketAndObjectPrefixNames": ["granules/swot"],
                  "S3CredentialsAPIEndpoint": edl.url}
        with CmrServer(granules, direct_access=direct) as cmr:
            extra = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                     "EARTHDATA_TOKEN": edl.TOKEN}
            text, err = run_sample(
                tmp_path, [], 'sources.granules.type="cmr"', f'sources.granules.cmr_url="{cmr.url}"',
                'sources.granules.short_name="SWOT_L2_LR_SSH_2.0"',
                f"sources.granules.storage.endpoint=\"{s3.endpoint}\"",
                "sources.granules.storage.credentials=\"earthdata\"", extra_env=extra)
            assert edl.fetches >= 1
    assert as_local(text, "s3://granules/swot") == local_refs


def test_the_bundled_cmr_pipeline_runs_against_fake_services(tmp_path):
    """pipelines/swot_l2_lr_ssh_cmr.toml as shipped, pointed at a fake CMR (its search, the
    collection's UMM-C), a fake s3credentials endpoint and moto's S3: every granule combined."""
    from servers import CmrServer, FakeEarthdata
    with MotoServer() as s3, FakeEarthdata(expires_in=3600) as edl:
        s3_upload(s3.endpoint, "podaac-swot", "SWOT_L2_LR_SSH_2.0", SWOT)
        granules = [{"name": n, "url": f"s3://podaac-swot/SWOT_L2_LR_SSH_2.0/{n}"} for n in NAMES]
        direct = {"Region": "us-west-2", "S3CredentialsAPIEndpoint": edl.url}
        with CmrServer(granules, direct_access=direct) as cmr:
            out = tmp_path / "cmr.parq"
            args = [BIN, "run", str(ROOT / "pipelines" / "swot_l2_lr_ssh_cmr.toml"),
                    "--set", f'sources.granules.cmr_url="{cmr.url}"',
                    "--set", f'sources.granules.storage.endpoint="{s3.endpoint}"',
                    "--set", f'state_dir="{tmp_path / "state"}"',
                    "--set", f'sinks.references.path="{out}"']
            r = subprocess.run(args, capture_output=True, text=True,
                               env=env(AWS_ACCESS_KEY_ID="", AWS_SECRET_ACCESS_KEY="",
                                       EARTHDATA_TOKEN=edl.TOKEN))
            assert r.returncode == 0, r.stderr[-3000:]
            q = cmr.queries[0][0]
            assert q["short_name"] == ["SWOT_L2_LR_SSH_2.0"] and q["provider"] == ["POCLOUD"]
            assert q["granule_ur"] == ["SWOT_L2_LR_SSH_Expert_*"], q
    assert "11 granules listed" in r.stderr, r.stderr
    # The newest processing per (cycle, pass), then the main shape: the 7 granules of 10 lines.
    assert f"wrote {out} [references]: 7 granules" in r.stderr, r.stderr


def test_granules_cmr_lists_that_the_inventory_lacks(tmp_path):
    """sql/cmr_not_inventoried.sql over a CMR pipeline's inventory: a granule CMR lists but the
    server does not have is reported, with its error."""
    from servers import CmrServer
    with RangeServer(SWOT) as srv:
        granules = [{"name": n, "url": f"{srv.url}/{n}"} for n in NAMES]
        granules.append({"name": "gone.nc", "url": f"{srv.url}/gone.nc"})
        with CmrServer(granules) as cmr:
            args = sample_args(tmp_path, [], 'sources.granules.type="cmr"',
                               f'sources.granules.cmr_url="{cmr.url}"',
                               'sources.granules.short_name="X"',
                               'sources.granules.access="external"')
            r = subprocess.run(args, capture_output=True, text=True, env=env())
            assert r.returncode == 1, r.stderr  # one granule failed
    r = subprocess.run([BIN, "sql", str(tmp_path / "state" / "inventory"), "--format", "ndjson",
                        "-f", str(ROOT / "sql" / "cmr_not_inventoried.sql")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert [x["native_id"] for x in rows] == ["gone.nc"], rows
    assert "404" in (rows[0]["why"] or ""), rows


def test_https_with_a_netrc_login_gets_a_token_and_reads(tmp_path, local_refs):
    """No EARTHDATA_TOKEN: the netrc user of the login host gets a bearer token from Earthdata
    Login's token API (basic auth to that host only) and the granules are read with it; the
    password and the token stay out of the debug log; a wrong password fails naming the user and
    the status."""
    from servers import FakeEarthdata
    with FakeEarthdata() as edl, RangeServer(SWOT) as data:
        cdn = data.url.replace("127.0.0.1", "localhost")
        with RangeServer(SWOT, token=edl.TOKEN, redirect_to=cdn) as front:
            paths = [f"{front.url}/{n}" for n in NAMES]
            netrc = tmp_path / "netrc"
            netrc.write_text(f"machine 127.0.0.1 login {edl.USER} password {edl.PASSWORD}\n")
            sets = ['sources.granules.storage.credentials="earthdata"',
                    f'sources.granules.storage.earthdata_login_url="{edl.base}"']
            run = tmp_path / "run"
            run.mkdir()
            args = sample_args(run, paths, *sets) + ["--log", "debug"]
            r = subprocess.run(args, capture_output=True, text=True,
                               env=env(EARTHDATA_TOKEN="", NETRC=str(netrc)))
            assert r.returncode == 0, r.stderr[-3000:]
            assert edl.token_logins == 1
            assert data.authorizations == []
            for secret in (edl.PASSWORD, edl.TOKEN):
                assert secret not in r.stderr
            assert as_local((run / "refs.json").read_text(), front.url) == local_refs
            netrc.write_text(f"machine 127.0.0.1 login {edl.USER} password wrong\n")
            bad = tmp_path / "bad"
            bad.mkdir()
            r = subprocess.run(sample_args(bad, paths, *sets), capture_output=True, text=True,
                               env=env(EARTHDATA_TOKEN="", NETRC=str(netrc)))
            assert r.returncode == 3, r.stderr
            assert f"netrc login as {edl.USER}" in r.stderr and "401" in r.stderr, r.stderr
            assert "wrong" not in r.stderr


def test_cmr_granules_table_function_for_ad_hoc_discovery(tmp_path):
    from servers import CmrServer
    granules = [{"name": n, "url": f"s3://b/swot/{n}", "size": 7} for n in NAMES]
    with CmrServer(granules, page_size=4) as cmr:
        sql = ("SELECT native_id, url, size FROM cmr_granules('SWOT_L2_LR_SSH_2.0', "
               f"'2014-01-01T00:00:00Z', '', 'POCLOUD', '{cmr.url}') ORDER BY native_id")
        r = subprocess.run([BIN, "sql", "--format", "ndjson", "-c", sql],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        q = cmr.queries[0][0]
        assert q["temporal"] == ["2014-01-01T00:00:00Z,"] and q["provider"] == ["POCLOUD"], q
    rows = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert [x["native_id"] for x in rows] == NAMES
    assert rows[0]["url"] == f"s3://b/swot/{NAMES[0]}" and rows[0]["size"] == 7


def test_https_through_earthdata_login_redirects_with_a_cookie_jar(tmp_path, local_refs):
    """https_login = "redirects": the data host sends unauthenticated requests to Earthdata
    Login (OAuth), which takes the netrc password and sends the client back with a code; the
    session cookie then carries every read. The password goes to the login host only."""
    from servers import FakeEarthdata
    with FakeEarthdata() as edl, RangeServer(SWOT) as data:
        cdn = data.url.replace("127.0.0.1", "localhost")
        with RangeServer(SWOT, urs=edl.base, redirect_to=cdn) as front:
            paths = [f"{front.url}/{n}" for n in NAMES]
            netrc = tmp_path / "netrc"
            netrc.write_text(f"machine 127.0.0.1 login {edl.USER} password {edl.PASSWORD}\n")
            sets = ['sources.granules.storage.credentials="earthdata"',
                    f'sources.granules.storage.earthdata_login_url="{edl.base}"',
                    'sources.granules.storage.https_login="redirects"']
            args = sample_args(tmp_path, paths, *sets) + ["--log", "debug"]
            r = subprocess.run(args, capture_output=True, text=True,
                               env=env(EARTHDATA_TOKEN="", NETRC=str(netrc)))
            assert r.returncode == 0, r.stderr[-3000:]
            assert edl.oauth_logins == 1 and front.logins == 1
            assert front.authorizations == [] and data.authorizations == []
            assert edl.PASSWORD not in r.stderr and "CODE-123" not in r.stderr
            assert as_local((tmp_path / "refs.json").read_text(), front.url) == local_refs
            netrc.write_text(f"machine 127.0.0.1 login {edl.USER} password wrong\n")
            bad = tmp_path / "bad"
            bad.mkdir()
            r = subprocess.run(sample_args(bad, paths, *sets), capture_output=True, text=True,
                               env=env(EARTHDATA_TOKEN="", NETRC=str(netrc)))
            assert r.returncode == 3, r.stderr
            assert f"netrc login as {edl.USER}" in r.stderr and "401" in r.stderr, r.stderr
            assert "wrong" not in r.stderr


def test_a_cmr_search_that_never_ends_is_an_error(tmp_path):
    from servers import CmrServer
    granules = [{"name": n, "url": f"https://h/{n}"} for n in NAMES]
    with CmrServer(granules, repeat_after=True) as cmr:
        args = sample_args(tmp_path, [], 'sources.granules.type="cmr"',
                           f'sources.granules.cmr_url="{cmr.url}"',
                           'sources.granules.short_name="X"', 'sources.granules.access="external"')
        r = subprocess.run(args, capture_output=True, text=True, env=env())
    assert r.returncode == 3, r.stderr
    assert "same CMR-Search-After" in r.stderr and cmr.url in r.stderr, r.stderr
    assert len(cmr.queries) == 2


def test_cmr_dmrpp_links_elsewhere_than_next_to_the_granule_are_used(tmp_path, local_refs):
    """A CMR record whose DMR++ link is not `<granule>.dmrpp` (here `meta/` beside `data/`):
    with the DMR++-only route the run succeeds only by following that link."""
    import shutil
    from servers import CmrServer
    root = tmp_path / "archive"
    (root / "data").mkdir(parents=True)
    (root / "meta").mkdir()
    for n in NAMES:
        shutil.copy(SWOT / n, root / "data" / n)
        shutil.copy(SWOT / f"{n}.dmrpp", root / "meta" / f"{n}.dmrpp")
    with RangeServer(root) as srv:
        granules = [{"name": n, "url": f"{srv.url}/data/{n}",
                     "dmrpp": f"{srv.url}/meta/{n}.dmrpp"} for n in NAMES]
        with CmrServer(granules) as cmr:
            run = tmp_path / "run"
            run.mkdir()
            text, _ = run_sample(run, [], 'sources.granules.type="cmr"',
                                 f'sources.granules.cmr_url="{cmr.url}"',
                                 'sources.granules.short_name="X"',
                                 'sources.granules.access="external"',
                                 'extractors.metadata.type="dmrpp"')
    assert as_local(text, f"{srv.url}/data") == local_refs
