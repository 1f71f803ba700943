"""Local servers for the remote-store tests, on 127.0.0.1 only:

- `RangeServer`: a static HTTP server honouring single `Range: bytes=a-b` requests (206 with
  Content-Range), HEAD with Content-Length/ETag/Last-Modified, optionally failing a fraction
  of requests with 503 (transient errors the client must retry) and delaying every request by a
  fixed latency (the end-to-end comparison's latency mode); it counts requests and body bytes;
- `moto_server()`: moto's S3 server in a child process (port chosen by the OS).
"""
import hashlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def reply(handler, code, body=b"", headers=()):
    """Sends a complete response (HTTP/1.1 keep-alive needs the Content-Length)."""
    handler.send_response(code)
    for k, v in headers:
        handler.send_header(k, v)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    # A HEAD answer has no body (writing one would corrupt the next answer on the connection).
    if body and handler.command != "HEAD":
        handler.wfile.write(body)


class Server(ThreadingHTTPServer):
    # The default listen backlog (5) drops connections when a client opens hundreds at once
    # (granary: 64 granules × 8 ranges); the client then waits for TCP's 1 s SYN retry.
    request_queue_size = 1024
    daemon_threads = True


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (port chosen by the OS), run as a context manager."""

    def serve(self, handler):
        self.httpd = Server(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class RangeServer(LocalServer):
    """`token`: requests without `Authorization: Bearer <token>` get 401. `redirect_to`: every
    request for an existing file is answered 302 to the same path there (a signed CDN URL). Every
    Authorization header received is kept in `authorizations`."""

    def __init__(self, root: Path, fail_fraction: float = 0.0, seed: int = 7, delay: float = 0.0,
                 token=None, redirect_to=None, urs=None):
        self.root = Path(root)
        # `urs`: Earthdata Login's base URL; requests without the session cookie are sent there
        # (OAuth), and /login?code= sets the cookie (what a TEA data host does).
        self.urs = urs
        self.logins = 0
        self.token = token
        self.redirect_to = redirect_to
        self.authorizations = []
        self.delay = delay
        self.fail_fraction = fail_fraction
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.failed = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _file(self):
                p = (server.root / self.path.lstrip("/").split("?")[0]).resolve()
                if server.root.resolve() not in p.parents or not p.is_file():
                    return None
                return p

            def _maybe_fail(self):
                auth = self.headers.get("Authorization")
                if auth is not None:
                    with server.lock:
                        server.authorizations.append(auth)
                if server.urs is not None:
                    from urllib.parse import parse_qs, quote, urlparse
                    u = urlparse(self.path)
                    if u.path == "/login":
                        q = parse_qs(u.query)
                        if q.get("code") != ["CODE-123"]:
                            reply(self, 401)
                            return True
                        with server.lock:
                            server.logins += 1
                        reply(self, 302, headers=[("Location", q["state"][0]),
                                                  ("Set-Cookie", "tea=ok; Path=/")])
                        return True
                    if "tea=ok" not in self.headers.get("Cookie", ""):
                        back = quote(server.base + "/login", safe="")
                        reply(self, 302, headers=[(
                            "Location", f"{server.urs}/oauth/authorize?client_id=tea&"
                                        f"redirect_uri={back}&state={quote(self.path, safe='')}")])
                        return True
                if server.token is not None and auth != f"Bearer {server.token}":
                    reply(self, 401, b"Earthdata Login required")
                    return True
                if server.redirect_to is not None and self._file() is not None:
                    reply(self, 302, headers=[("Location", server.redirect_to + self.path)])
                    return True
                if server.delay:
                    time.sleep(server.delay)
                with server.lock:
                    server.requests += 1
                    fail = server.random.random() < server.fail_fraction
                    if fail:
                        server.failed += 1
                if fail:
                    reply(self, 503)
                return fail

            def _headers(self, p, length):
                st = p.stat()
                self.send_header("Content-Length", str(length))
                self.send_header("ETag", '"%s"' % hashlib.md5(f"{p}{st.st_mtime_ns}".encode()).hexdigest())
                self.send_header("Last-Modified", formatdate(st.st_mtime, usegmt=True))
                self.send_header("Accept-Ranges", "bytes")

            def do_HEAD(self):
                if self._maybe_fail():
                    return
                p = self._file()
                if p is None:
                    return reply(self, 404)
                self.send_response(200)
                self._headers(p, p.stat().st_size)
                self.end_headers()

            def do_GET(self):
                if self._maybe_fail():
                    return
                p = self._file()
                if p is None:
                    return reply(self, 404)
                size = p.stat().st_size
                rng = self.headers.get("Range")
                with open(p, "rb") as fh:
                    if rng and rng.startswith("bytes="):
                        a, _, b = rng[6:].partition("-")
                        start = int(a)
                        end = min(int(b) if b else size - 1, size - 1)
                        if start >= size:
                            return reply(self, 416, headers=[("Content-Range", f"bytes */{size}")])
                        fh.seek(start)
                        body = fh.read(end + 1 - start)
                        self.send_response(206)
                        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
                    else:
                        body = fh.read()
                        self.send_response(200)
                with server.lock:
                    server.bytes += len(body)
                self._headers(p, len(body))
                self.end_headers()
                self.wfile.write(body)

        self.serve(Handler)
        self.url = self.base


class CmrServer(LocalServer):
    """A fake CMR granule search: `/search/granules.umm_json` answers UMM-G JSON pages of
    `page_size` items, the next page named by the `CMR-Search-After` header (as CMR does).
    `granules` is a list of dicts: name, url (the data link), and optionally dmrpp (a DMR++
    link), revision (revision date). It records every query string it is asked."""

    def __init__(self, granules, page_size=4, direct_access=None, repeat_after=False):
        self.granules = granules
        # A broken server: the same CMR-Search-After on every page.
        self.repeat_after = repeat_after
        self.page_size = page_size
        # The collection's UMM-C DirectDistributionInformation, served by the collection search.
        self.direct_access = direct_access
        self.queries = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                import json
                from urllib.parse import parse_qs, urlparse
                u = urlparse(self.path)
                if u.path == "/search/collections.umm_json":
                    items = [] if server.direct_access is None else [
                        {"meta": {"concept-id": "C1-FAKE"},
                         "umm": {"DirectDistributionInformation": server.direct_access}}]
                    return reply(self, 200, json.dumps({"items": items}).encode(),
                                 [("Content-Type", "application/json")])
                if u.path != "/search/granules.umm_json":
                    return reply(self, 404, b"not found")
                q = parse_qs(u.query)
                server.queries.append((q, self.headers.get("CMR-Search-After")))
                if "short_name" not in q and "collection_concept_id" not in q:
                    return reply(self, 400, b'{"errors":["name a collection"]}')
                since = q.get("updated_since", [None])[0]
                items = [g for g in server.granules
                         if since is None or g.get("revision", "2024-01-01T00:00:00Z") > since]
                start = int(self.headers.get("CMR-Search-After") or 0)
                page = items[start:start + server.page_size]
                body = json.dumps({"hits": len(items), "items": [{
                    "meta": {"concept-id": f"G{server.granules.index(g)}-FAKE", "revision-id": 1,
                             "revision-date": g.get("revision", "2024-01-01T00:00:00Z"),
                             "native-id": g["name"]},
                    "umm": {"GranuleUR": g["name"],
                            "TemporalExtent": {"RangeDateTime": {
                                "BeginningDateTime": "2014-04-12T12:00:00Z",
                                "EndingDateTime": "2014-04-12T12:46:18Z"}},
                            "DataGranule": {"ArchiveAndDistributionInformation": [
                                {"Name": g["name"], "SizeInBytes": g.get("size", 0),
                                 "Checksum": {"Value": g.get("md5", ""), "Algorithm": "MD5"}}]},
                            "RelatedUrls": [{"URL": g["url"], "Type": "GET DATA VIA DIRECT ACCESS"
                                             if g["url"].startswith("s3://") else "GET DATA"}]
                            + ([{"URL": g["dmrpp"], "Type": "EXTENDED METADATA",
                                 "Subtype": "DMR++"}] if g.get("dmrpp") else [])},
                } for g in page]}).encode()
                headers = [("Content-Type", "application/json")]
                if server.repeat_after:
                    headers.append(("CMR-Search-After", "0"))
                elif start + server.page_size < len(items):
                    headers.append(("CMR-Search-After", str(start + server.page_size)))
                reply(self, 200, body, headers)

        self.serve(Handler)
        self.url = self.base


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The python of the servers venv (moto, boto3); scripts/test.sh sets it.
SERVERS_PYTHON = os.environ.get("GRANARY_SERVERS_PYTHON", sys.executable)


def s3_upload(endpoint: str, bucket: str, prefix: str, directory: Path):
    script = Path(__file__).resolve().parent / "s3_upload.py"
    subprocess.run([SERVERS_PYTHON, str(script), endpoint, bucket, prefix, str(directory)],
                   check=True)


class MotoServer:
    """moto's S3 server; `endpoint` is its URL."""

    def __enter__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [SERVERS_PYTHON, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("moto server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)


S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_REGION": "us-east-1"}


def env(**extra):
    e = dict(os.environ)
    e.update(extra)
    return e


class FakeEarthdata(LocalServer):
    """A fake Earthdata `s3credentials` endpoint on 127.0.0.1 handing out moto's keys with a
    short expiry. Bearer token flow: `Authorization: Bearer TOKEN` on /s3credentials. Login flow:
    /s3credentials redirects to /oauth (basic auth from netrc), which sets a cookie and redirects
    back. `fetches` counts credentials handed out."""

    TOKEN = "edl-token-SECRET-123"
    USER, PASSWORD = "edluser", "edl-password-SECRET-456"
    SESSION = "session-token-SECRET-789"

    def __init__(self, expires_in=60):
        self.fetches = 0
        self.token_logins = 0
        self.oauth_logins = 0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, code, body=b"", headers=()):
                reply(self, code, body, headers)

            def do_POST(self):
                # Earthdata Login's user-token API, basic auth (what earthaccess uses).
                import base64
                import json as _json
                want = "Basic " + base64.b64encode(f"{fake.USER}:{fake.PASSWORD}".encode()).decode()
                if self.path != "/api/users/find_or_create_token":
                    return self._send(404)
                if self.headers.get("Authorization", "") != want:
                    return self._send(401, b'{"error":"invalid_credentials"}')
                fake.token_logins += 1
                body = _json.dumps({"access_token": fake.TOKEN, "token_type": "Bearer",
                                    "expiration_date": "12/31/2099"})
                self._send(200, body.encode(), [("Content-Type", "application/json")])

            def do_GET(self):
                import base64
                import datetime
                import json as _json
                auth = self.headers.get("Authorization", "")
                if self.path.startswith("/oauth/authorize"):
                    # Earthdata Login's OAuth step of a data host's redirect: basic auth, then
                    # back to the data host with a code.
                    from urllib.parse import parse_qs, urlencode, urlparse
                    want = "Basic " + base64.b64encode(
                        f"{fake.USER}:{fake.PASSWORD}".encode()).decode()
                    if auth != want:
                        return self._send(401, b"bad credentials")
                    fake.oauth_logins += 1
                    q = parse_qs(urlparse(self.path).query)
                    back = q["redirect_uri"][0] + "?" + urlencode(
                        {"code": "CODE-123", "state": q["state"][0]})
                    return self._send(302, headers=[("Location", back)])
                if self.path.startswith("/oauth"):
                    want = "Basic " + base64.b64encode(
                        f"{fake.USER}:{fake.PASSWORD}".encode()).decode()
                    if auth != want:
                        return self._send(401)
                    return self._send(302, headers=[("Location", "/s3credentials"),
                                                    ("Set-Cookie", "edl=ok; Path=/")])
                if not self.path.startswith("/s3credentials"):
                    return self._send(404)
                logged_in = "edl=ok" in self.headers.get("Cookie", "")
                if auth != f"Bearer {fake.TOKEN}" and not logged_in:
                    return self._send(302, headers=[("Location", "/oauth?client=x")])
                fake.fetches += 1
                exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                    seconds=expires_in)
                body = _json.dumps({"accessKeyId": "testing", "secretAccessKey": "testing",
                                    "sessionToken": fake.SESSION,
                                    "expiration": exp.strftime("%Y-%m-%d %H:%M:%S+00:00")})
                self._send(200, body.encode(), [("Content-Type", "application/json")])

        self.serve(Handler)
        self.url = f"{self.base}/s3credentials"
