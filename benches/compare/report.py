"""Renders compare.py's results as Markdown tables (times, peak RSS, output sizes, latency mode,
checks) and decides the verdict: granary's outputs must equal kerchunk's except for the
deviations of kerchunk listed in KERCHUNK_DEVIATIONS (docs/python-baseline.md, "Surprises").
"""
import re

# Differences between granary's and kerchunk's combined sets that are kerchunk's doing, each with
# the reason. A difference matching none of them fails the comparison.
KERCHUNK_DEVIATIONS = [
    (r"^array polarization_karin fill_value: granary( DMR\+\+)? 'Kg==', kerchunk 'Sw=='$",
     "kerchunk base64-encodes the char fill '*' and zarr reads the text back as 'K' (surprise 5)"),
    (r"^array polarization_karin attribute _FillValue: granary( DMR\+\+)? None, kerchunk '\*'$",
     "kerchunk keeps a char variable's _FillValue in .zattrs (granary moves it to fill_value)"),
    (r"^variable polarization_karin: (\d+) of \d+ cells differ \(\1 of them empty\)",
     "empty cells read the fill value: kerchunk's wrong 'K' against '*' (surprise 5)"),
    (r"^array (cycle_num|pass_num) compressor: granary( DMR\+\+)? None, kerchunk \{'id': 'zstd', 'level': 0\}$",
     "MultiZarrToZarr lets zarr-python 3 zstd-compress the coordinates it builds; granary stores "
     "them raw (the decoded values are compared and equal)"),
    (r"^global attribute \w+: granary( DMR\+\+)? None, kerchunk ",
     "kerchunk keeps the first granule's value of attributes that vary between granules (surprise 4); "
     "granary drops them and reports it"),
]


def classify(diff):
    for pattern, reason in KERCHUNK_DEVIATIONS:
        if re.search(pattern, diff):
            return reason
    return None


def unexplained(check):
    return [d for d in check["differences"] if classify(d) is None]


def correct(results):
    c = results["checks"]
    keys = ("refs_json", "refs_dmrpp_json", "values_json", "values_parquet", "refs_icechunk")
    return all(not unexplained(c[k]) for k in keys if k in c)


def _s(x):
    return f"{x:.2f}" if x < 100 else f"{x:.0f}"


def _ratio(a, b):
    return f"{a / b:.1f}x" if b else "-"


def _mb(n):
    return f"{n / 1e6:.2f} MB"


def times(steps, cores):
    rows = [
        ("scan, 1 core (per-granule JSON)", ["k_refs_1"], ["g_scan_1"], "kerchunk SingleHdf5ToZarr, serial"),
        (f"scan, all cores ({cores})", ["k_refs_n"], ["g_scan_n"], f"kerchunk, {cores} processes"),
        (f"scan, all cores, dask", ["k_refs_dask"], ["g_scan_n"], f"kerchunk, dask {cores} processes"),
        ("DMR++ route, all cores", ["v_dmrpp_n"], ["g_dmrpp_n"], f"VirtualiZarr DMRPPParser, {cores} processes"),
        ("combine → JSON", ["k_combine"], ["g_combine"], "MultiZarrToZarr from per-granule JSON; granary "
         "from its inventory"),
        ("Parquet write", ["k_parquet"], ["g_parquet"], "refs_to_dataframe of the combined JSON; granary "
         "combines again from the inventory and writes Parquet"),
        ("combine → Icechunk commit", ["v_icechunk"], ["g_icechunk"], "VirtualiZarr HDFParser per granule + "
         "xr.concat + `.vz.to_icechunk`; granary `combine -o X.icechunk` from its inventory"),
        ("end to end → Parquet", ["k_refs_n", "k_combine", "k_parquet"], ["g_inventory", "g_parquet"],
         "scan all cores + combine + Parquet; granary `inventory build` + `combine`"),
    ]
    out = ["| step | Python (s) | granary (s) | speed-up | peak RSS Python / granary (MB) | Python side |",
           "|---|---|---|---|---|---|"]
    for label, ks, gs, note in rows:
        if not all(k in steps for k in ks + gs):
            continue
        kt, gt = sum(steps[k]["seconds"] for k in ks), sum(steps[k]["seconds"] for k in gs)
        kr, gr = max(steps[k]["rss_mb"] for k in ks), max(steps[k]["rss_mb"] for k in gs)
        out.append(f"| {label} | {_s(kt)} | {_s(gt)} | {_ratio(kt, gt)} | {kr:.0f} / {gr:.0f} | {note} |")
    return "\n".join(out)


def sizes(steps):
    rows = [("per-granule JSON, all granules", "k_refs_n", "g_scan_n"),
            ("combined JSON", "k_combine", "g_combine"),
            ("combined Parquet", "k_parquet", "g_parquet")]
    out = ["| output | Python | granary | ratio |", "|---|---|---|---|"]
    for label, k, g in rows:
        kb, gb = steps[k]["output_bytes"], steps[g]["output_bytes"]
        out.append(f"| {label} | {_mb(kb)} | {_mb(gb)} | {_ratio(kb, gb)} |")
    out.append(f"| inventory directory (granary only) | - | {_mb(steps['g_inventory']['output_bytes'])} | |")
    return "\n".join(out)


def _limit(lim):
    return (f"{_s(lim['limit_s'])} (latency {_s(lim['latency_bound_s'])}, "
            f"bandwidth {_s(lim['bandwidth_bound_s'])})")


def latency(lat):
    n = lat["granules"]
    out = [f"{n} granules over HTTP, {lat['latency_ms']:.0f} ms added to every request "
           f"(loopback bandwidth {lat['bandwidth_bytes_s'] / 1e6:,.0f} MB/s):", "",
           "| route | tool | wall (s) | requests / granule | bytes / granule | round trips / granule | "
           "physical limit (s) | granary vs Python | wall / limit |", "|---|---|---|---|---|---|---|---|---|"]
    for route, k, g in (("HDF5", "k_refs", "g_scan"), ("DMR++", "v_dmrpp", "g_dmrpp")):
        kr, gr = lat[k], lat[g]
        lim = gr["limit"]
        out.append(f"| {route} | Python | {_s(kr['seconds'])} | {kr['requests'] / n:.1f} | {kr['bytes'] / n:,.0f} "
                   f"| (sequential) | | | |")
        flight = f" ({gr['in_flight']} in flight)" if "in_flight" in gr else ""
        out.append(f"| {route} | granary{flight} | {_s(gr['seconds'])} | {gr['requests'] / n:.1f} | {gr['bytes'] / n:,.0f} "
                   f"| {lim['round_trips_per_granule']:.2f} | {_limit(lim)} | {_ratio(kr['seconds'], gr['seconds'])} "
                   f"| {gr['seconds'] / lim['limit_s']:.2f} |")
    return "\n".join(out)


def sweep(sw):
    n = sw["granules"]
    out = [f"granary alone, {n} granules over HTTP, {sw['latency_ms']:.0f} ms added to every request "
           f"(loopback bandwidth {sw['bandwidth_bytes_s'] / 1e6:,.0f} MB/s):", "",
           "| route | in flight | wall (s) | peak RSS (MB) | requests / granule | bytes / granule | "
           "round trips / granule | physical limit (s) | wall / limit |", "|---|---|---|---|---|---|---|---|---|"]
    for r in sw["runs"]:
        lim = r["limit"]
        out.append(f"| {r['route']} | {r['concurrency']} | {_s(r['seconds'])} | {r['rss_mb']:.0f} "
                   f"| {r['requests'] / n:.1f} | {r['bytes'] / n:,.0f} | {lim['round_trips_per_granule']:.2f} "
                   f"| {_limit(lim)} | {r['seconds'] / lim['limit_s']:.2f} |")
    return "\n".join(out)


def checks(c):
    labels = {"refs_json": "references: granary JSON vs kerchunk JSON",
              "refs_dmrpp_json": "references: granary (DMR++ route) JSON vs kerchunk JSON",
              "refs_virtualizarr": "references: VirtualiZarr (DMR++) + MZZ vs kerchunk JSON (for information)",
              "refs_icechunk": "Icechunk: granary's repository vs VirtualiZarr's to_icechunk (chunk bytes, codecs, values)",
              "values_json": "values through xarray: granary JSON vs kerchunk JSON",
              "values_parquet": "values through xarray: granary Parquet vs kerchunk Parquet"}
    out = []
    for key, label in labels.items():
        if key not in c:
            continue
        r = c[key]
        if key == "refs_icechunk":
            head = (f"{r['chunks']} chunks of {r['arrays']} arrays in both, {r['same_reference']} stored as the "
                    f"same bytes; {r['values_compared']} (array, granule) values compared; VirtualiZarr left out "
                    f"{', '.join(r.get('dropped_by_virtualizarr', [])) or 'nothing'}")
        elif "chunks" in r:
            head = (f"{r['chunks']} chunk keys in both ({r['same_reference']} same reference, "
                    f"{r['same_bytes_inline_vs_reference']} stored differently with the same bytes: inlined by "
                    f"kerchunk or differently compressed), "
                    f"{r['arrays']} arrays")
        else:
            head = f"{r['variables']} variables, {r['cells']} (cycle, pass) cells each, {r['compared']} comparisons"
        bad = unexplained(r)
        verdict = "equal" if not r["differences"] else (
            "equal except kerchunk's known deviations" if not bad else f"{len(bad)} unexplained differences")
        out.append(f"- **{label}**: {head}: {verdict}")
        for d in r["differences"][:12]:
            why = classify(d)
            out.append(f"  - {d}" + (f" — {why}" if why else ""))
        if len(r["differences"]) > 12:
            out.append(f"  - ... {len(r['differences']) - 12} more")
    return "\n".join(out)


def render(res):
    m, sel = res["meta"], res["selection"]
    parts = [
        f"# granary vs kerchunk/VirtualiZarr, {m['date']}", "",
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}; {m['granary']}; "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items()), "",
        f"Data: {m['granules']} SWOT-like granules, {m['data_bytes'] / 1e9:.2f} GB; main shape num_lines = "
        f"{sel['num_lines']} ({sel['selected']} granules; histogram {sel['histogram']})", "",
        f"Python: each step's own time, run once; granary: the whole command, median of "
        f"{m.get('repeat', 1)} runs; peak RSS: the largest process of the step (of any run).", "",
        times(res["steps"], m["cores"]), "", sizes(res["steps"]), "",
    ]
    if res.get("latency"):
        parts += [latency(res["latency"]), ""]
    if res.get("sweep"):
        parts += [sweep(res["sweep"]), ""]
    parts += ["Checks:", "", checks(res["checks"]), "",
              "Verdict: " + ("granary's outputs equal kerchunk's (up to kerchunk's known deviations)"
                             if correct(res) else "UNEXPLAINED DIFFERENCES"), ""]
    return "\n".join(parts)
