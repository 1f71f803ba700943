"""Where a remote run's time goes: wall time beside the CPU time of the client and the server.

    python3 benches/compare/http_cpu.py GRANARY RANGE_SERVER DATA_DIR \\
        [--route hdf5|dmrpp] [--concurrency N] [--runs 3] [--latency-ms 30]

Serves DATA_DIR's `*.nc` granules (and their `.dmrpp` sidecars) through the benches' Rust range
server with a fixed delay per request, runs `granary scan` over all of them `--runs` times and
prints, per run: wall time, the client's CPU time (user + system, `getrusage` of the child) and
the server's CPU time over the run (`/proc/PID/stat`, Linux only). With C cores, a run whose
wall time is near (client CPU + server CPU) / C is bound by CPU, not by the round trips
(docs/benchmarks.md, "The remote run is CPU-bound, not latency-bound"). Use the sweep's data
(`full/sweep_data`, 1,000 names) for the figures there.
"""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from latency import RustRangeServer  # noqa: E402


def proc_cpu(pid):
    """User + system CPU seconds of a live process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("granary")
    p.add_argument("server")
    p.add_argument("data", type=Path)
    p.add_argument("--route", choices=["hdf5", "dmrpp"], default="hdf5")
    p.add_argument("--concurrency", type=int, help="granules in flight (default: granary's)")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--latency-ms", type=int, default=30)
    a = p.parse_args()
    names = sorted(n.name for n in a.data.glob("*.nc"))
    if not names:
        sys.exit(f"no *.nc granules in {a.data}")
    out = Path(tempfile.mkdtemp(prefix="granary-http-cpu-"))
    try:
        with RustRangeServer(a.server, a.data, a.latency_ms) as server:
            urls = [f"{server.url}/{n}" for n in names]
            cmd = [a.granary, "scan", *urls, "-o", out / "refs", "--metadata", a.route]
            if a.concurrency:
                cmd += ["--concurrency", str(a.concurrency)]
            for _ in range(a.runs):
                shutil.rmtree(out / "refs", ignore_errors=True)
                s0 = proc_cpu(server.proc.pid)
                r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.monotonic()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall = time.monotonic() - t0
                r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                user = r1.ru_utime - r0.ru_utime
                client = user + r1.ru_stime - r0.ru_stime
                print(f"{len(names)} granules, {a.route}, in flight {a.concurrency or 'default'}: "
                      f"wall {wall:.2f} s, client CPU {client:.2f} s (user {user:.2f}), "
                      f"server CPU {proc_cpu(server.proc.pid) - s0:.2f} s", flush=True)
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
