"""Embedded vs Ballista (`granary cluster`) over HTTP at a fixed latency per request.

`granary inventory build` over `--granules` granule names (the collection's files replicated
by hard links, as the latency sweep does), served by granary's Rust range server with
`--latency-ms` per request, for each route (DMR++ sidecars, HDF5 scan) and each engine:
embedded, and a scheduler with 1 and with 2 executors (`--task-slots` each) on this machine.
For each run: wall time, the server's request and byte counters, the granules in flight, and
the physical limit:

- HEAD phase (the client, 64 in flight): ceil(granules / 64) x latency;
- scan phase: ceil(granules / in flight) x dependent round trips per granule x latency, where
  in flight is 64 per task x task slots x executors (64 embedded), and the round trips per
  granule are the embedded run's (granary counts them);
- bandwidth: bytes read / the loopback bandwidth through the same server without delay.

The limit is max(HEAD phase + scan phase, bandwidth bound). Executors, client and server share
this machine's cores, so this measures the cluster's overhead and its behaviour, not a speedup.

  python benches/compare/cluster.py --granary target/release/granary \
      --range-server target/release/granary-range-server --data target/compare/data \
      --work target/compare/cluster --granules 2000 --latency-ms 30
"""
import argparse
import json
import math
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import RustRangeServer, bandwidth, link  # noqa: E402

PER_TASK = 64  # granules in flight per task (and HEADs in flight), set on the command line


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


class Cluster:
    def __init__(self, granary, executors, slots, work):
        self.granary, self.n, self.slots, self.work, self.procs = granary, executors, slots, work, []

    def __enter__(self):
        port = free_port()
        self.url = f"df://127.0.0.1:{port}"
        self.procs.append(subprocess.Popen([self.granary, "cluster", "scheduler", "--bind",
                                            f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL))
        wait_port(port)
        for i in range(self.n):
            flight, grpc = free_port(), free_port()
            wd = self.work / f"executor-{i}"
            wd.mkdir(parents=True, exist_ok=True)
            self.procs.append(subprocess.Popen(
                [self.granary, "cluster", "executor", "--scheduler", f"127.0.0.1:{port}",
                 "--flight-port", str(flight), "--grpc-port", str(grpc),
                 "--task-slots", str(self.slots), "--heartbeat-secs", "1", "--work-dir", str(wd)],
                stderr=subprocess.DEVNULL))
            wait_port(flight)
        time.sleep(1.5)
        return self

    def __exit__(self, *exc):
        for p in self.procs:
            p.kill()
            p.wait()


def build(granary, urls, route, out, cluster=None, per_task=None):
    shutil.rmtree(out, ignore_errors=True)
    cmd = [granary, "inventory", "build", *urls, "-o", out, "--metadata", route, "--io-stats",
           "--concurrency", str(PER_TASK)]
    if cluster:
        cmd += ["--cluster", cluster, "--granules-per-task", str(per_task)]
    t = time.monotonic()
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    wall = time.monotonic() - t
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    io = re.search(r"io: (\d+) requests, (\d+) bytes, (\d+) round trips", r.stderr)
    return wall, {"requests": int(io[1]), "bytes": int(io[2]), "round_trips": int(io[3])} if io else {}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--granary", required=True)
    p.add_argument("--range-server", required=True)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--work", required=True, type=Path)
    p.add_argument("--granules", type=int, default=2000)
    p.add_argument("--latency-ms", type=int, default=30)
    p.add_argument("--task-slots", type=int, default=2)
    p.add_argument("--routes", default="dmrpp,hdf5")
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    names = sorted(x.name for x in a.data.glob("*.nc"))
    sub = a.work / "data"
    names = link(a.data, sub, names, a.granules)
    bw = bandwidth(a.range_server, sub)
    n = len(names)
    # Every task gets a whole number of the granules, spread over all slots.
    rows = []
    with RustRangeServer(a.range_server, sub, a.latency_ms) as srv:
        urls = [f"{srv.url}/{x}" for x in names]
        for route in a.routes.split(","):
            trips = None
            for executors in (0, 1, 2):
                slots = executors * a.task_slots
                per_task = math.ceil(n / slots) if slots else None
                srv.stats(reset=True)
                out = a.work / "out"
                if executors == 0:
                    wall, io = build(a.granary, urls, route, out)
                    trips = io.get("round_trips", 0) / n  # HEADs are not counted there
                    in_flight = PER_TASK
                else:
                    with Cluster(a.granary, executors, a.task_slots, a.work / "cluster") as c:
                        wall, io = build(a.granary, urls, route, out, c.url, per_task)
                    in_flight = min(n, PER_TASK * slots)
                s = srv.stats()
                head = math.ceil(n / PER_TASK) * a.latency_ms / 1000
                scan = math.ceil(n / in_flight) * trips * a.latency_ms / 1000
                band = s["bytes"] / bw
                lim = max(head + scan, band)
                rows.append({"route": route, "engine": "embedded" if not executors else
                             f"ballista, {executors} executor(s) x {a.task_slots} slots",
                             "in_flight": in_flight, "granules_per_task": per_task, "wall_s": wall,
                             "requests": s["requests"], "bytes": s["bytes"],
                             "round_trips_per_granule": trips, "head_s": head, "scan_s": scan,
                             "bandwidth_s": band, "limit_s": lim, "wall_over_limit": wall / lim})
                print(json.dumps(rows[-1]), flush=True)
    (a.work / "results.json").write_text(json.dumps({"granules": n, "latency_ms": a.latency_ms,
                                                     "bandwidth_bytes_s": bw, "runs": rows}, indent=1))
    print("| route | engine | in flight | wall (s) | requests | bytes | limit (s): HEAD + scan, bandwidth | wall / limit |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['route']} | {r['engine']} | {r['in_flight']} | {r['wall_s']:.2f} | {r['requests']:,} | "
              f"{r['bytes']:,} | {r['limit_s']:.2f}: {r['head_s']:.2f} + {r['scan_s']:.2f}, "
              f"{r['bandwidth_s']:.2f} | {r['wall_over_limit']:.2f} |")


if __name__ == "__main__":
    main()
