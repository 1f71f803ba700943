"""The Python anchor's steps (kerchunk 0.2.10, VirtualiZarr 2.5.1), one step per process so that
`compare.py` measures each step's wall time and peak RSS on its own. The steps are those of the
PO.DAAC kerchunk workflow (docs/python-baseline.md):

  refs SRC OUT [--workers N] [--dask] [--base-url URL]
      kerchunk SingleHdf5ToZarr(inline_threshold=0) on every granule of SRC, one JSON per granule
      (read from URL/<name> over HTTP with fsspec when --base-url is given)
  dmrpp SRC OUT [--workers N] [--base-url URL]
      VirtualiZarr's DMRPPParser on every <granule>.dmrpp, converted to kerchunk references
  combine REFS_DIR SELECTED OUT.json
      MultiZarrToZarr(coo_map={cycle_num: attr:cycle_number, pass_num: attr:pass_number},
      concat_dims=[cycle_num, pass_num]) of the granules listed in SELECTED; combined JSON
  parquet IN.json OUT.parq [--record-size N]
      kerchunk.df.refs_to_dataframe of a combined JSON
  icechunk SRC SELECTED OUT.icechunk
      VirtualiZarr's HDFParser on each granule listed in SELECTED, the virtual datasets
      concatenated along a new `granule` dimension (xarray cannot combine a sparse cycle x pass
      grid by coordinates), written with `.vz.to_icechunk` and committed to a new repository

Each step prints one line `@@RESULT@@{json}`.
"""
import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

COO_MAP = {"cycle_num": "attr:cycle_number", "pass_num": "attr:pass_number"}
CONCAT_DIMS = ["cycle_num", "pass_num"]


def granules(src):
    return sorted(p.name for p in Path(src).glob("*.nc"))


def write_json(refs, path: Path):
    """Writes references as kerchunk does: inline bytes made JSON-safe by `consolidate`."""
    import ujson
    from kerchunk.utils import consolidate

    inner = refs["refs"] if isinstance(refs, dict) and "refs" in refs else refs
    tmp = Path(str(path) + ".part")
    tmp.write_text(ujson.dumps(consolidate(inner)))
    os.replace(tmp, path)


def read_json(path):
    import ujson

    return ujson.loads(Path(path).read_bytes())


def refs_one(job):
    location, out = job
    from kerchunk.hdf import SingleHdf5ToZarr

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs = SingleHdf5ToZarr(location, inline_threshold=0).translate()
    write_json(refs, Path(out))
    return Path(out).stat().st_size


def dmrpp_one(job):
    location, out = job
    from obspec_utils.registry import ObjectStoreRegistry
    from virtualizarr import open_virtual_dataset
    from virtualizarr.parsers import DMRPPParser

    if location.startswith("http"):
        from obstore.store import HTTPStore

        base = location.rsplit("/", 1)[0]
        registry = ObjectStoreRegistry({base: HTTPStore.from_url(base, client_options={"allow_http": True})})
    else:
        from obstore.store import LocalStore

        location = "file://" + os.path.abspath(location)
        registry = ObjectStoreRegistry({"file://": LocalStore()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        vds = open_virtual_dataset(url=location, parser=DMRPPParser(), registry=registry,
                                   loadable_variables=[])
        refs = vds.vz.to_kerchunk(format="dict")
    write_json(refs, Path(out))
    return Path(out).stat().st_size


def run_jobs(fn, jobs, workers, use_dask):
    if use_dask:
        import dask.bag as db

        bag = db.from_sequence(jobs, npartitions=max(workers, min(len(jobs), workers * 8)))
        return bag.map(fn).compute(scheduler="processes", num_workers=workers)
    if workers == 1:
        return [fn(j) for j in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, jobs, chunksize=max(1, len(jobs) // (workers * 8))))


def step_refs(a, fn, suffix):
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    names = granules(a.src)
    where = (lambda n: f"{a.base_url}/{n}") if a.base_url else (lambda n: str(Path(a.src) / n))
    jobs = [(where(n) + suffix, str(out / (n + ".json"))) for n in names]
    t0 = time.perf_counter()
    sizes = run_jobs(fn, jobs, a.workers, a.dask)
    return {"files": len(jobs), "seconds": time.perf_counter() - t0, "bytes": sum(sizes)}


def step_combine(a):
    from kerchunk.combine import MultiZarrToZarr

    selected = Path(a.selected).read_text().split()
    t0 = time.perf_counter()
    refs = [read_json(Path(a.refs) / (s + ".json")) for s in selected]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        combined = MultiZarrToZarr(refs, coo_map=COO_MAP, concat_dims=CONCAT_DIMS).translate()
    write_json(combined, Path(a.out))
    return {"files": len(selected), "seconds": time.perf_counter() - t0,
            "bytes": Path(a.out).stat().st_size, "keys": len(combined["refs"])}


def step_parquet(a):
    import shutil

    from kerchunk.df import refs_to_dataframe

    if Path(a.out).exists():
        shutil.rmtree(a.out)
    t0 = time.perf_counter()
    refs = read_json(a.input)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        refs_to_dataframe(refs, a.out, record_size=a.record_size)
    size = sum(p.stat().st_size for p in Path(a.out).rglob("*") if p.is_file())
    return {"seconds": time.perf_counter() - t0, "bytes": size}


def step_icechunk(a):
    import icechunk
    import xarray as xr
    from obspec_utils.registry import ObjectStoreRegistry
    from obstore.store import LocalStore
    from virtualizarr import open_virtual_dataset
    from virtualizarr.parsers import HDFParser

    src = Path(a.src).resolve()
    selected = Path(a.selected).read_text().split()
    t0 = time.perf_counter()
    registry = ObjectStoreRegistry({"file://": LocalStore()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # VirtualiZarr's HDF parser fails on a bytes variable with a str _FillValue
        # (polarization_karin's "*": "Failed to encode fill_value: expected bytes for dtype
        # |S1"): left out, and listed in the result.
        dropped = ["polarization_karin"]
        vdss = [open_virtual_dataset(url=(src / s).as_uri(), parser=HDFParser(drop_variables=dropped),
                                     registry=registry, loadable_variables=[])
                for s in selected]
        combined = xr.concat(vdss, dim="granule", coords="minimal", compat="override",
                             combine_attrs="drop_conflicts")
        config = icechunk.RepositoryConfig.default()
        prefix = src.as_uri() + "/"
        config.set_virtual_chunk_container(
            icechunk.VirtualChunkContainer(prefix, icechunk.local_filesystem_store(str(src))))
        repo = icechunk.Repository.create(icechunk.local_filesystem_storage(a.out), config)
        session = repo.writable_session("main")
        combined.vz.to_icechunk(session.store)
        session.commit("VirtualiZarr to_icechunk")
    return {"files": len(selected), "seconds": time.perf_counter() - t0, "dropped": dropped}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="step", required=True)
    for name in ("refs", "dmrpp"):
        p = sub.add_parser(name)
        p.add_argument("src")
        p.add_argument("out")
        p.add_argument("--workers", type=int, default=1)
        p.add_argument("--dask", action="store_true")
        p.add_argument("--base-url")
    p = sub.add_parser("combine")
    p.add_argument("refs")
    p.add_argument("selected")
    p.add_argument("out")
    p = sub.add_parser("parquet")
    p.add_argument("input")
    p.add_argument("out")
    p.add_argument("--record-size", type=int, default=100000)
    p = sub.add_parser("icechunk")
    p.add_argument("src")
    p.add_argument("selected")
    p.add_argument("out")
    a = ap.parse_args(argv)
    if a.step == "icechunk":
        res = step_icechunk(a)
    elif a.step == "refs":
        res = step_refs(a, refs_one, "")
    elif a.step == "dmrpp":
        res = step_refs(a, dmrpp_one, ".dmrpp")
    elif a.step == "combine":
        res = step_combine(a)
    else:
        res = step_parquet(a)
    print("@@RESULT@@" + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
