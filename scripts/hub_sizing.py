"""How big a hub a class needs, from measurements: the course benchmark and the classroom load test.

    python scripts/hub_sizing.py             # print the table from build/ (run by `make test-hub`)
    python scripts/hub_sizing.py --update    # also rewrite hub/sizing.json, the table in docs/INSTRUCTORS.md
                                             # and the sizes in hub/z2jh-config.yaml

Reads build/bench/course_bench.json (`make bench`: every notebook's CPU-seconds and peak memory in a
fresh kernel) and build/hub/load_report.json (`make test-hub`: a learner's server, the hub's own
memory, several learners at once). MB = 10**6 bytes, GB = 10**9 (as Kubernetes counts "G").

The formula (every assumption is a named number in ASSUMPTIONS):
    kernel_mb          = the largest peak memory of one notebook's kernel (benchmark and load test)
    kernel_tree_mb     = the same, with the processes a kernel starts (a fresh-process check, the C++ runner);
                         a process forked from the waiting torch process counts only its own pages, and the
                         waiting process is left out of the tree (scripts/process_memory.py)
    warm_torch_mb      = the waiting torch processes that the notebooks' fresh processes fork from (benchmark; one
                         set per learner, shared by their kernels: the first, and from 09 on the one forked from it
                         with torch's export loaders, which counts only its own pages)
    per_learner_mb     = server_mb + (kernels_open - 1) * kernel_mb + kernel_tree_mb + warm_torch_mb
                         (memory guarantee: the kernels a learner keeps open, one of them at its busiest)
    limit_mb           = per_learner_mb + kernel_mb                  (memory limit: one more kernel fits)
    heavy_cpu_s        = CPU-seconds of the heaviest notebook, kernel start included (benchmark; the load
                         test's own figures count too, for the notebooks it ran)
    learners_per_core  = floor(window_s * utilisation / heavy_cpu_s)
                         (everyone presses "Run All" at once; all are done within window_s on a core
                         kept below `utilisation` busy)
    cores(N)           = ceil(N / learners_per_core) + hub_cores
    memory_gb(N)       = (N * per_learner_mb + hub_mb + system_reserve_mb) / 1000, rounded up
"""
import argparse
import json
import math
import os
import re
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "build" / "bench" / "course_bench.json"
LOAD = ROOT / "build" / "hub" / "load_report.json"
OUT = ROOT / "build" / "hub" / "sizing.json"
COMMITTED = ROOT / "hub" / "sizing.json"
DOC = ROOT / "docs" / "INSTRUCTORS.md"
Z2JH = ROOT / "hub" / "z2jh-config.yaml"
CLASS_SIZES = (10, 30, 100)
ASSUMPTIONS = {
    "kernels_open": 2,          # the notebook in hand and the previous one (closed tabs' kernels are culled)
    "window_s": 120,            # a whole class runs one notebook top to bottom within two minutes
    "utilisation": 0.8,         # cores kept 20 % below full, for the hub, the proxy and bursts
    "hub_cores": 1,             # one core for the hub, the proxy and the system
    "system_reserve_mb": 1000,  # the operating system and file cache headroom
}


def inputs_from(bench: dict, load: dict) -> dict:
    """The measured numbers the formula uses, with where each came from."""
    if load is None:
        raise SystemExit(f"hub_sizing: no load report at {LOAD}; run `make test-hub` first")
    summary = load["summary"]
    # a notebook that stopped on an error still counts what it used until then (an under-estimate, named below)
    bench_rows = [n for n in (bench or {}).get("notebooks", []) if n.get("cpu_s") and n.get("peak_rss_mb")]
    own = [(n.get("peak_rss_mb") or 0, f"benchmark {n['key']}") for n in bench_rows]
    own += [(v["peak_kernel_mb_max"], f"load test {k[:2]}") for k, v in load["notebooks"].items()]
    kernel_mb, kernel_from = max(own)
    tree = [(max(n.get("peak_tree_rss_mb") or 0, n.get("peak_rss_mb") or 0), f"benchmark {n['key']}") for n in bench_rows]
    tree.append((max(summary.get("peak_kernel_tree_mb_max") or 0, summary.get("peak_kernel_mb_max") or 0), "load test"))
    tree_mb, tree_from = max(tree)
    start = summary.get("kernel_start_cpu_s_median") or 0.0
    cpu_candidates = [(n["cpu_s"], f"benchmark {n['key']}") for n in bench_rows]
    cpu_candidates += [(v["cpu_s_max"] + start, f"load test {k[:2]}") for k, v in load["notebooks"].items()]
    heavy_cpu_s, heavy_from = max(cpu_candidates)
    covered = sorted({n["key"] for n in bench_rows} | {k[:2] for k in load["notebooks"]})
    return {
        "kernel_mb": round(kernel_mb, 1), "kernel_mb_from": kernel_from,
        "kernel_tree_mb": round(tree_mb, 1), "kernel_tree_mb_from": tree_from,
        "server_mb": summary["peak_server_mb_max"], "hub_mb": summary["hub_and_proxy_peak_mb"],
        "warm_torch_mb": round(((bench or {}).get("warm_torch") or {}).get("rss_mb") or 0.0, 1),
        "heavy_cpu_s": round(heavy_cpu_s, 3), "heavy_cpu_s_from": heavy_from,
        "course_cpu_s_per_learner": (bench or {}).get("course", {}).get("cpu_s_per_learner"),
        "notebooks_covered": covered,
        "benchmark_stopped_early": sorted(n["key"] for n in bench_rows if not n.get("ok")),
        "benchmark": {"created": bench.get("created"), "load_avg_start": bench.get("machine", {}).get("load_avg_start")} if bench else None,
        "load_test": {"created": load["created"], "learners": summary["learners"], "cores": load["machine"]["cores"],
                      "memory_gb": load["machine"]["memory_gb"], "wall_s": load["wall_s"], "mode": load["mode"],
                      "cell_latency_s": summary["cell_latency_s"], "peak_learner_total_mb_max": summary["peak_learner_total_mb_max"],
                      "load_average_1min_at_end": load["machine"].get("load_average_1min_at_end")},
    }


# the figures the formula sizes from; a source named in "<name>_from" is carried along with its figure
_SIZED_FROM = ("kernel_mb", "kernel_tree_mb", "warm_torch_mb", "heavy_cpu_s", "server_mb", "hub_mb")


def keep_larger(inputs: dict, earlier: dict) -> dict:
    """``inputs`` with each figure raised to the earlier sizing's where that was larger: one quiet run must not
    shrink a sizing made from a busier one (the hub is a busy machine); ``--fresh`` sizes from this run alone."""
    kept = dict(inputs)
    when = ((earlier.get("benchmark") or {}).get("created") or "?")[:10]
    for name in _SIZED_FROM:
        if (earlier.get(name) or 0) > (kept.get(name) or 0):
            kept[name] = earlier[name]
            if f"{name}_from" in kept:
                source = earlier.get(f"{name}_from", "an earlier run")
                # a figure kept twice keeps the date of the sizing that measured it, not the one that kept it
                kept[f"{name}_from"] = source if "sizing of " in source else f"{source}, sizing of {when}"
            else:  # a figure with no source of its own (the server, the waiting processes): its date, said
                kept[f"{name}_kept"] = earlier.get(f"{name}_kept") or when
    return kept


def ceil_to(value: float, step: float) -> float:
    return round(math.ceil(value / step - 1e-9) * step, 3)


def size(inputs: dict, assumptions: dict = ASSUMPTIONS) -> dict:
    """The formula of the module docstring; pure, so a test can recompute a committed table."""
    a = assumptions
    per_learner_mb = (inputs["server_mb"] + (a["kernels_open"] - 1) * inputs["kernel_mb"] + inputs["kernel_tree_mb"]
                      + inputs.get("warm_torch_mb", 0.0))
    limit_mb = per_learner_mb + inputs["kernel_mb"]
    per_core = max(1, math.floor(a["window_s"] * a["utilisation"] / inputs["heavy_cpu_s"]))
    classes = [{"learners": n, "cores": math.ceil(n / per_core) + a["hub_cores"],
                "memory_gb": math.ceil((n * per_learner_mb + inputs["hub_mb"] + a["system_reserve_mb"]) / 1000)}
               for n in CLASS_SIZES]
    return {
        "per_learner": {"memory_mb": round(per_learner_mb), "memory_guarantee": f"{ceil_to(per_learner_mb / 1000, 0.1):g}G",
                        "memory_limit": f"{ceil_to(limit_mb / 1000, 0.1):g}G", "learners_per_core": per_core,
                        "cpu_guarantee": ceil_to(1 / per_core, 0.05), "cpu_limit": 1.0},
        "classes": classes,
    }


def _kept(inputs: dict, name: str, wording: str) -> str:
    """``wording`` with the date of the earlier sizing ``name`` was kept from (larger there), '' when measured now."""
    when = inputs.get(f"{name}_kept")
    return wording.format(when) if when else ""


def table(inputs: dict, sized: dict, assumptions: dict = ASSUMPTIONS) -> str:
    p, a = sized["per_learner"], assumptions
    lines = ["| learners | cores | memory |", "|---:|---:|---:|"]
    lines += [f"| {c['learners']} | {c['cores']} | {c['memory_gb']} GB |" for c in sized["classes"]]
    lines += ["",
              f"Per learner: {p['memory_mb'] / 1000:.2f} GB: a server of {inputs['server_mb']:.0f} MB{_kept(inputs, 'server_mb', ' (sizing of {})')}, "
              f"{a['kernels_open']} kernels open "
              f"(the largest peak {inputs['kernel_mb']:.0f} MB, {inputs['kernel_mb_from']}), one of them with the processes it starts "
              f"({inputs['kernel_tree_mb']:.0f} MB, {inputs['kernel_tree_mb_from']})"
              + (f", and the waiting torch processes fresh processes fork from ({inputs['warm_torch_mb']:.0f} MB, "
                 f"each page counted once{_kept(inputs, 'warm_torch_mb', ', sizing of {}')})"
                 if inputs.get("warm_torch_mb") else "")
              + f"; {p['learners_per_core']} learners per core "
              f"(the heaviest notebook, {inputs['heavy_cpu_s_from']}, takes {inputs['heavy_cpu_s']:.1f} CPU-seconds with its kernel start; "
              f"{a['window_s']} s x {a['utilisation']} / {inputs['heavy_cpu_s']:.1f}); plus {a['hub_cores']} core and "
              f"{(inputs['hub_mb'] + a['system_reserve_mb']) / 1000:.1f} GB for the hub, the proxy and the system. "
              f"Measured on notebooks {', '.join(inputs['notebooks_covered'])}"
              + (f" ({', '.join(inputs['benchmark_stopped_early'])} stopped on an error in the benchmark run: counted up to there)."
                 if inputs.get("benchmark_stopped_early") else ".")]
    return "\n".join(lines)


def load_json(path: Path):
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def replace_between(text: str, start: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"hub_sizing: markers {start} ... {end} not found")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", text)


def update_z2jh(text: str, per_learner: dict) -> str:
    """Rewrite the lines marked `# sizing: <key>` in the Zero to JupyterHub values."""
    def sub(match):
        key, value = match.group(3), per_learner[match.group(3)]
        return f"{match.group(1)}{value}{match.group(2)}# sizing: {key}"
    return re.sub(r"^(\s*\w+:\s*)\S+(\s+)# sizing: (\w+)$", sub, text, flags=re.M)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite hub/sizing.json, the doc's table and hub/z2jh-config.yaml")
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--load", type=Path, default=LOAD)
    parser.add_argument("--fresh", action="store_true",
                        help="size from these measurements alone, not keeping the committed sizing's larger figures")
    args = parser.parse_args(argv)
    bench, load = load_json(args.bench), load_json(args.load)
    if bench is None:
        print(f"hub_sizing: no course benchmark at {args.bench} (`make bench`): sizing from the load test's notebooks alone")
    inputs = inputs_from(bench, load)
    earlier = (load_json(COMMITTED) or {}).get("inputs")
    if earlier and not args.fresh:
        inputs = keep_larger(inputs, earlier)
    sized = size(inputs)
    result = {"schema": "hub_sizing/1", "formula": __doc__.split("The formula", 1)[1].strip(), "assumptions": ASSUMPTIONS,
              "inputs": inputs, **sized}
    text = table(inputs, sized)
    print(text)
    lt = inputs["load_test"]
    print(f"\nLoad test behind it: {lt['learners']} learners on {lt['cores']} cores ({lt['mode']}): run cell -> output "
          f"p50 {lt['cell_latency_s']['p50']} s, p95 {lt['cell_latency_s']['p95']} s; load average at its end "
          f"{lt['load_average_1min_at_end']} (other work on the machine inflates these).")
    per = sized["per_learner"]
    fits_cpu = max(0, lt["cores"] - ASSUMPTIONS["hub_cores"]) * per["learners_per_core"]
    fits_mem = math.floor((lt["memory_gb"] * 1000 - inputs["hub_mb"] - ASSUMPTIONS["system_reserve_mb"]) / per["memory_mb"])
    print(f"By this formula, the load test's machine ({lt['cores']} cores, {lt['memory_gb']} GB) holds "
          f"{min(fits_cpu, fits_mem)} learners ({fits_cpu} by CPU, {fits_mem} by memory); the load test ran {lt['learners']}.")
    print(f"Memory check: the formula gives {per['memory_mb']} MB per learner; in the load test a learner's server with "
          f"{load['summary'].get('kernels_open_per_learner')} kernels open peaked at {lt['peak_learner_total_mb_max']} MB "
          f"(notebooks {', '.join(load['settings']['notebooks'])} only).")
    write_atomic(OUT, json.dumps(result, indent=1) + "\n")
    if args.update:
        write_atomic(COMMITTED, json.dumps(result, indent=1) + "\n")
        write_atomic(DOC, replace_between(DOC.read_text(), "<!-- sizing:start -->", "<!-- sizing:end -->", text))
        write_atomic(Z2JH, update_z2jh(Z2JH.read_text(), sized["per_learner"]))
        print(f"updated {COMMITTED.relative_to(ROOT)}, {DOC.relative_to(ROOT)}, {Z2JH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
