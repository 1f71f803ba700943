"""End-to-end comparison of granary with the Python tools (kerchunk 0.2.10, VirtualiZarr 2.5.1)
on one SWOT-like collection, in one run on one machine. Run it through `run.sh`, which creates
the pinned anchor venv and builds granary; see docs/benchmarks.md for a run's figures.

Every step runs in its own process; its wall time and peak RSS (of the largest process of its
tree, from wait4) are recorded. The Python steps are those of `anchor.py`; granary's are CLI
commands. Both sides' combined outputs are then compared (check.py): reference by reference,
and value by value through xarray. `--latency-ms` adds a mode in which both read the granules
over HTTP from a local server that delays every request, with the physical limit beside it.

Results: WORK/results.json and WORK/report.md (also printed).
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "interop"))
sys.path.insert(0, str(HERE))

import check  # noqa: E402
import report  # noqa: E402
import latency  # noqa: E402

SELECT = ("SELECT url, CAST(attrs['cycle_number'] AS INT) AS cycle_num, "
          "CAST(attrs['pass_number'] AS INT) AS pass_num FROM granules "
          "WHERE dims['num_lines'] = (SELECT dims['num_lines'] FROM granules "
          "GROUP BY dims['num_lines'] ORDER BY count(*) DESC, dims['num_lines'] DESC LIMIT 1)")


class StepFailed(RuntimeError):
    pass


TIME = "/usr/bin/time" if os.access("/usr/bin/time", os.X_OK) else None


def run(cmd, cpus=None, env=None):
    """Runs one step; returns wall seconds, peak RSS in MB and the step's output.

    Peak RSS comes from GNU time, which forks the step from its own small process: a child forked
    straight from this (large, after the value checks) Python process would inherit its RSS
    high-water mark in `ru_maxrss`. Without /usr/bin/time, wait4's figure is kept (an upper bound).
    """
    cmd = [str(c) for c in cmd]
    if cpus is not None:
        cmd = ["taskset", "-c", cpus, *cmd]
    rss_file = tempfile.NamedTemporaryFile(delete=False)
    rss_file.close()
    if TIME:
        cmd = [TIME, "-f", "%M", "-o", rss_file.name, *cmd]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise StepFailed(f"{' '.join(cmd[:6])} ... exited {proc.returncode}:\n{stderr[-3000:]}")
    rss_kb = usage.ru_maxrss
    if TIME:
        text = Path(rss_file.name).read_text().split()
        rss_kb = int(text[-1]) if text and text[-1].isdigit() else rss_kb
    os.unlink(rss_file.name)
    result = {"seconds": wall, "rss_mb": rss_kb / 1024.0}
    for line in stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            result["anchor"] = json.loads(line[len("@@RESULT@@"):])
    result["stdout"], result["stderr"] = stdout, stderr
    return result


def size_of(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def io_stats(text):
    """granary's `--io-stats` line: `io: N requests, B bytes, R round trips (X requests/granule, C granules
    in flight)`; C is granary's own number (its default, where the command gives none)."""
    for line in text.splitlines():
        if line.startswith("io: "):
            parts = line[4:].split(",")
            out = {"client_requests": int(parts[0].split()[0]), "client_bytes": int(parts[1].split()[0]),
                   "round_trips": int(parts[2].split()[0])}
            flight = re.search(r"(\d+) granules in flight", line)
            if flight:
                out["in_flight"] = int(flight.group(1))
            return out
    return {}


class Comparison:
    def __init__(self, a):
        self.a = a
        self.work = Path(a.work).resolve()
        self.data = Path(a.data).resolve()
        self.py = a.anchor_python
        self.bin = str(Path(a.granary).resolve())
        self.cores = str(a.workers)
        self.steps = {}

    def step(self, key, cmd, cpus=None, outputs=(), repeat=1):
        """Runs a step `repeat` times from scratch (its outputs removed before each run) and keeps
        the run of median wall time; peak RSS is the largest of the runs."""
        print(f"  {key} ...", end="", flush=True)
        runs = []
        for _ in range(repeat):
            for o in outputs:
                p = self.work / o
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            runs.append(run(cmd, cpus=cpus))
        r = sorted(runs, key=lambda x: x["seconds"])[len(runs) // 2]
        r["rss_mb"] = max(x["rss_mb"] for x in runs)
        if repeat > 1:
            r["runs_seconds"] = [x["seconds"] for x in runs]
        if "anchor" in r:
            # The Python figure is the step's own time, imports and interpreter start excluded
            # (as in a notebook); the process time is kept beside it.
            r["process_seconds"], r["seconds"] = r["seconds"], r["anchor"]["seconds"]
        r["output_bytes"] = sum(size_of(self.work / o) for o in outputs if (self.work / o).exists())
        self.steps[key] = {k: v for k, v in r.items() if k not in ("stdout", "stderr")}
        print(f" {r['seconds']:.2f} s, {r['rss_mb']:.0f} MB", flush=True)
        return r

    def anchor(self, *args):
        return [self.py, HERE / "anchor.py", *args]

    def generate(self):
        if any(self.data.glob("*.nc")):
            return
        a = self.a
        cmd = [self.py, ROOT / "tests/data/gen/make_swot_like.py", "--out", self.data, "--cycles", a.cycles,
               "--passes", a.passes, "--dmrpp", "--workers", a.workers]
        if a.seed:
            cmd += ["--seed", a.seed]
        if a.max_bytes:
            cmd += ["--max-bytes", a.max_bytes]
        if a.num_lines_base:
            cmd += ["--num-lines-base", a.num_lines_base]
        print(f"generating {self.data} ...", flush=True)
        r = run(cmd)
        print(f"  {r['seconds']:.0f} s", flush=True)

    def local(self):
        d, w, g = self.data, self.work, self.bin
        one = "0"
        self.step("k_refs_1", self.anchor("refs", d, w / "k_refs1"), cpus=one, outputs=["k_refs1"])
        rep = self.a.repeat
        self.step("g_scan_1", [g, "scan", d, "-o", w / "g_scan1", "--metadata", "hdf5"], cpus=one,
                  outputs=["g_scan1"], repeat=rep)
        self.step("k_refs_n", self.anchor("refs", d, w / "k_refs", "--workers", self.cores), outputs=["k_refs"])
        if not self.a.no_dask:
            self.step("k_refs_dask", self.anchor("refs", d, w / "k_refs_dask", "--workers", self.cores,
                                                 "--dask"), outputs=["k_refs_dask"])
        self.step("g_scan_n", [g, "scan", d, "-o", w / "g_scan", "--metadata", "hdf5"], outputs=["g_scan"],
                  repeat=rep)
        self.step("v_dmrpp_n", self.anchor("dmrpp", d, w / "v_refs", "--workers", self.cores), outputs=["v_refs"])
        self.step("g_dmrpp_n", [g, "scan", d, "-o", w / "g_dmrpp", "--metadata", "dmrpp"], outputs=["g_dmrpp"],
                  repeat=rep)
        self.step("g_inventory", [g, "inventory", "build", d, "-o", w / "g_inv", "--metadata", "hdf5"],
                  outputs=["g_inv"], repeat=rep)
        self.step("g_inventory_dmrpp", [g, "inventory", "build", d, "-o", w / "g_inv_dmrpp", "--metadata",
                                        "dmrpp"], outputs=["g_inv_dmrpp"], repeat=rep)
        selected = self.select()
        self.step("k_combine", self.anchor("combine", w / "k_refs", selected, w / "k_combined.json"),
                  outputs=["k_combined.json"])
        self.step("g_combine", [g, "combine", w / "g_inv", "-c", SELECT, "-o", w / "g_combined.json"],
                  outputs=["g_combined.json"], repeat=rep)
        self.step("k_parquet", self.anchor("parquet", w / "k_combined.json", w / "k_combined.parq"),
                  outputs=["k_combined.parq"])
        self.step("g_parquet", [g, "combine", w / "g_inv", "-c", SELECT, "-o", w / "g_combined.parq"],
                  outputs=["g_combined.parq"], repeat=rep)
        self.step("v_combine", self.anchor("combine", w / "v_refs", selected, w / "v_combined.json"),
                  outputs=["v_combined.json"])
        self.step("g_combine_dmrpp", [g, "combine", w / "g_inv_dmrpp", "-c", SELECT, "-o",
                                      w / "g_combined_dmrpp.json"], outputs=["g_combined_dmrpp.json"],
                  repeat=rep)
        # Icechunk: VirtualiZarr's HDF parser + to_icechunk, granary's combine from its inventory.
        r = self.step("v_icechunk", self.anchor("icechunk", d, selected, w / "v.icechunk"),
                      outputs=["v.icechunk"])
        self.vz_dropped = r.get("anchor", {}).get("dropped", [])
        self.step("g_icechunk", [g, "combine", w / "g_inv", "-c", SELECT, "-o", w / "g.icechunk"],
                  outputs=["g.icechunk"], repeat=rep)

    def select(self):
        """The anchor's selection (docs/python-baseline.md): the most frequent num_lines, read
        from the per-granule references' `ssh_karin/.zarray`."""
        shapes = {}
        for p in sorted((self.work / "k_refs").glob("*.json")):
            z = check.load_json_refs(p)["ssh_karin/.zarray"]
            shapes[p.name[:-5]] = (json.loads(z) if isinstance(z, str) else z)["shape"][0]
        counts = {}
        for n in shapes.values():
            counts[n] = counts.get(n, 0) + 1
        main = max(counts, key=lambda n: (counts[n], n))
        selected = [name for name, n in shapes.items() if n == main]
        path = self.work / "selected.txt"
        path.write_text("\n".join(selected) + "\n")
        self.selection = {"num_lines": main, "selected": len(selected), "histogram": counts}
        return path

    def checks(self):
        w, cells = self.work, self.a.cells
        names = ("granary", "kerchunk")
        k_json = check.load_json_refs(w / "k_combined.json")
        out = {}
        print("  checking references and values ...", flush=True)
        out["refs_json"] = check.manifest_diff(check.load_json_refs(w / "g_combined.json"), k_json, names)
        out["refs_dmrpp_json"] = check.manifest_diff(check.load_json_refs(w / "g_combined_dmrpp.json"), k_json,
                                                     ("granary DMR++", "kerchunk"))
        out["refs_virtualizarr"] = check.manifest_diff(check.load_json_refs(w / "v_combined.json"), k_json,
                                                       ("VirtualiZarr DMR++", "kerchunk"))
        selected = (w / "selected.txt").read_text().split()
        out["refs_icechunk"] = check.icechunk_diff(w / "g.icechunk", w / "v.icechunk", selected)
        out["refs_icechunk"]["dropped_by_virtualizarr"] = getattr(self, "vz_dropped", [])
        present = check.present_cells(check.load_json_refs(w / "g_combined.json"))
        out["values_json"] = check.values_diff(w / "g_combined.json", w / "k_combined.json", cells, names,
                                               present=present)
        out["values_parquet"] = check.values_diff(w / "g_combined.parq", w / "k_combined.parq", cells, names,
                                                  present=present)
        self.checked = out

    def meta(self):
        import importlib.metadata as md

        ncs = sorted(self.data.glob("*.nc"))
        self.granules = len(ncs)
        cpu = "unknown"
        try:
            for line in Path("/proc/cpuinfo").read_text().splitlines():
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        vers = {p: md.version(p) for p in ("kerchunk", "virtualizarr", "zarr", "xarray", "fsspec", "h5py",
                                          "numpy", "pandas", "fastparquet", "dask")}
        gv = subprocess.run([self.bin, "--version"], capture_output=True, text=True).stdout.strip()
        return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "versions": vers,
                "granary": gv, "granules": len(ncs), "data_bytes": sum(p.stat().st_size for p in ncs),
                "date": time.strftime("%Y-%m-%d"), "repeat": self.a.repeat}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="granule directory (generated when it holds no .nc)")
    ap.add_argument("--work", required=True, help="output directory")
    ap.add_argument("--granary", required=True, help="the granary binary")
    ap.add_argument("--anchor-python", default=sys.executable)
    ap.add_argument("--cycles", default="3")
    ap.add_argument("--passes", default="160")
    ap.add_argument("--max-bytes", default="4e9")
    ap.add_argument("--num-lines-base", default="", help="shrink granules (quick runs)")
    ap.add_argument("--seed", default="", help="generator seed (default: the generator's)")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="Python processes for 'all cores'")
    ap.add_argument("--no-dask", action="store_true", help="skip kerchunk with dask processes")
    ap.add_argument("--cells", type=int, default=48, help="(cycle, pass) cells compared per variable; 0 = all")
    ap.add_argument("--latency-ms", type=float, default=30.0)
    ap.add_argument("--latency-granules", type=int, default=100, help="0 skips the latency mode")
    ap.add_argument("--latency-only", action="store_true", help="rerun only the latency mode (after a full run)")
    ap.add_argument("--range-server", required=True, help="the range server binary (benches/range-server)")
    ap.add_argument("--sweep-granules", type=int, default=0,
                    help="granary alone over this many granule names over HTTP (0: no sweep)")
    ap.add_argument("--sweep-concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[16, 32, 64, 256],
                    help="granules in flight of the sweep, comma-separated")
    ap.add_argument("--repeat", type=int, default=3,
                    help="runs of each granary step, the median kept (the Python steps run once)")
    a = ap.parse_args(argv)
    c = Comparison(a)
    c.work.mkdir(parents=True, exist_ok=True)
    c.generate()
    meta = c.meta()
    print(f"{meta['granules']} granules, {meta['data_bytes'] / 1e9:.2f} GB; work in {c.work}", flush=True)
    if a.latency_only:
        # Rerun only the latency mode against an earlier run's local steps and checks.
        old = json.loads((c.work / "results.json").read_text())
        c.steps, c.checked, c.selection, c.granules = old["steps"], old["checks"], old["selection"], meta["granules"]
    else:
        c.local()
        c.checks()
    lat = latency.compare(c, io_stats) if a.latency_granules else None
    swept = latency.sweep(c, io_stats) if a.sweep_granules else None
    results = {"meta": meta, "selection": c.selection, "steps": c.steps, "checks": c.checked,
               "latency": lat, "sweep": swept}
    (c.work / "results.json").write_text(json.dumps(results, indent=1))
    text = report.render(results)
    (c.work / "report.md").write_text(text)
    print(text)
    return 0 if report.correct(results) else 1


if __name__ == "__main__":
    sys.exit(main())
