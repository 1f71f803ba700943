"""Latency mode of the comparison: granules served over HTTP with a fixed delay per request.

The server is granary's Rust range server (`benches/range-server`: tokio, keep-alive,
positioned reads), so that it is not the bottleneck on the shared cores, as the Python test
server was. Two parts:

- `compare(c)`: the first N granules read by both tools (kerchunk through fsspec's HTTP
  filesystem, VirtualiZarr through obstore, granary with its defaults);
- `sweep(c)`: granary alone over `--sweep-granules` granule names (the collection's files
  replicated under new names by hard links), both routes, for each number of granules in
  flight of `--sweep-concurrency`, beside its physical limit.

The physical limit of a run is max(latency bound, bandwidth bound): the latency bound is
ceil(granules / in flight) x dependent round trips per granule x latency (round trips as
granary counts them: the waves of a granule, each waiting for the one before); the bandwidth
bound is bytes read / the loopback bandwidth measured through the same server without delay.
"""
import json
import math
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path


class RustRangeServer:
    """The range server as a child process; `requests` and `bytes` are the server's counters."""

    def __init__(self, binary, root, latency_ms):
        self.cmd = [str(binary), str(root), str(latency_ms)]

    def __enter__(self):
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self.proc.kill()
            raise RuntimeError(f"range server did not start: {self.url!r}")
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    def stats(self, reset=False):
        with urllib.request.urlopen(self.url + "/_stats" + ("?reset" if reset else "")) as r:
            return json.load(r)


def link(data, sub, names, count):
    """`count` granule names in `sub`, the files of `names` in turn (hard links, else copies),
    each with its DMR++ sidecar. Returns the names."""
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir(parents=True)
    out = []
    for i in range(count):
        src = names[i % len(names)]
        dst = src if count <= len(names) else f"r{i:05d}_{src}"
        for a, b in ((src, dst), (src + ".dmrpp", dst + ".dmrpp")):
            try:  # the server refuses symlinks out of its root: hard links, else copies
                os.link(data / a, sub / b)
            except OSError:
                shutil.copyfile(data / a, sub / b)
        out.append(dst)
    return out


def bandwidth(binary, sub):
    """Loopback bandwidth through the range server without delay (bytes/s), measured by the
    server binary itself (Rust on both ends: 8 keep-alive clients fetching whole granules)."""
    out = subprocess.run([str(binary), "--bandwidth", str(sub)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def limit(n, concurrency, round_trips, latency_ms, nbytes, bw):
    lat = math.ceil(n / concurrency) * max(1.0, round_trips) * latency_ms / 1000.0
    band = nbytes / bw if bw else 0.0
    return {"round_trips_per_granule": round_trips, "latency_bound_s": lat, "bandwidth_bound_s": band,
            "limit_s": max(lat, band)}


def compare(c, io_stats):
    """Both tools over the first N granules (the comparison table's latency rows)."""
    a, w, g = c.a, c.work, c.bin
    names = sorted(p.name for p in c.data.glob("*.nc"))[: a.latency_granules]
    sub = w / "latency_data"
    link(c.data, sub, names, len(names))
    bw = bandwidth(a.range_server, sub)
    res = {"granules": len(names), "latency_ms": a.latency_ms, "bandwidth_bytes_s": bw}
    with RustRangeServer(a.range_server, sub, a.latency_ms) as srv:
        urls = [f"{srv.url}/{n}" for n in names]
        runs = [("k_refs", "lat_k", c.anchor("refs", sub, w / "lat_k", "--workers", c.cores,
                                             "--base-url", srv.url)),
                ("g_scan", "lat_g", [g, "scan", *urls, "-o", w / "lat_g", "--metadata", "hdf5", "--io-stats"]),
                ("v_dmrpp", "lat_v", c.anchor("dmrpp", sub, w / "lat_v", "--workers", c.cores,
                                              "--base-url", srv.url)),
                ("g_dmrpp", "lat_gd", [g, "scan", *urls, "-o", w / "lat_gd", "--metadata", "dmrpp",
                                       "--io-stats"])]
        for key, out, cmd in runs:
            srv.stats(reset=True)
            rep = a.repeat if key.startswith("g_") else 1
            r = c.step("lat_" + key, cmd, outputs=[out], repeat=rep)
            s = srv.stats()
            res[key] = {"seconds": r["seconds"], "rss_mb": r["rss_mb"], "requests": s["requests"] / rep,
                        "bytes": s["bytes"] / rep, **io_stats(r["stderr"] + r["stdout"])}
    n = len(names)
    for key in ("g_scan", "g_dmrpp"):
        rt = res[key].get("round_trips", 0) / max(1, n)
        # granary ran with its default number of granules in flight, which it reports.
        res[key]["limit"] = limit(n, res[key].get("in_flight", 1), rt, a.latency_ms, res[key]["bytes"], bw)
    return res


def sweep(c, io_stats):
    """granary alone: both routes over `sweep_granules` names, per number of granules in flight."""
    a, w, g = c.a, c.work, c.bin
    names = sorted(p.name for p in c.data.glob("*.nc"))
    sub = w / "sweep_data"
    names = link(c.data, sub, names, a.sweep_granules)
    bw = bandwidth(a.range_server, sub)
    res = {"granules": len(names), "latency_ms": a.latency_ms, "bandwidth_bytes_s": bw, "runs": []}
    with RustRangeServer(a.range_server, sub, a.latency_ms) as srv:
        urls = [f"{srv.url}/{n}" for n in names]
        for route in ("hdf5", "dmrpp"):
            for conc in a.sweep_concurrency:
                srv.stats(reset=True)
                cmd = [g, "scan", *urls, "-o", w / "sweep_out", "--metadata", route,
                       "--io-stats", "--concurrency", conc]
                r = c.step(f"sweep_{route}_{conc}", cmd, outputs=["sweep_out"], repeat=a.repeat)
                s = srv.stats()
                io = io_stats(r["stderr"] + r["stdout"])
                n = len(names)
                row = {"route": route, "concurrency": conc, "seconds": r["seconds"], "rss_mb": r["rss_mb"],
                       "requests": s["requests"] / a.repeat, "bytes": s["bytes"] / a.repeat, **io}
                row["limit"] = limit(n, conc, io.get("round_trips", 0) / n, a.latency_ms, row["bytes"], bw)
                res["runs"].append(row)
    return res
