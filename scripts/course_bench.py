"""The course benchmark (`make bench`): each notebook's cost as a ratio to the floor, measured in one run.

The floor is a kernel that only runs ``import helpers as H; H.start("floor")``. It is started
and timed between the notebooks of the same run, so the ratios hold on a busy machine as well as
a quiet one (the absolute seconds do not). A kernel that only runs ``import torch`` is timed too:
the floor should stay within 1.2x of it. Each notebook runs in a fresh kernel with nbclient,
kernel start included, cell by cell as "Restart & Run All" does. After each notebook, its imports
kernel runs the floor's code and then imports every module the notebook's kernel ended with, running
nothing of the notebook: what its libraries alone cost, below which no cut of its own work can go.

    make bench                                 # every notebook in notebooks/
    make bench NOTEBOOKS="00 07"               # a cheap subset (numbers or names)
    python scripts/course_bench.py 03_tracing  # the same without make
    make bench REPEAT=3                        # the whole plan three times: each notebook's median, and its spread
    python scripts/course_bench.py --no-imports   # without the imports kernels (a shorter run)
    python scripts/course_bench.py --show build/bench/course_bench.json --markdown   # the docs' table

It reports and never fails on time: the exit code is 0 unless a notebook raised an error
(then 1) or the arguments are wrong (2). The figures go to build/bench/course_bench.json
(written atomically) with a plot beside it (course_bench.png), and a table is printed.
docs/INSTRUCTORS.md's tables and the classroom load test read the JSON.

JSON schema ("schema": "course_bench/1"); seconds are wall-clock unless named cpu; MB = 10**6 bytes:
    schema            "course_bench/1"
    created           UTC time of the run, ISO 8601
    machine           {"cpus", "load_avg_start": [1, 5, 15 min], "load_avg_end", "platform", "python", "torch"}
    settings          {"notebooks": [file names asked for], "timeout_s", "warmup": bool, "repeat" (the whole
                       plan run this many times, floors and all), "reruns": ["label: why", ...] (kernel steps
                       run again because the kernel left a request unread), "imports": bool (imports kernels ran)}
    floor             a reference kernel, see below; code 'import helpers as H; H.start("floor")'
    torch_only        a reference kernel, see below; code 'import torch'
      reference kernel: {"code", "runs": [measurement...], "wall_s" (median of runs), "wall_s_min",
                         "wall_s_max", "wall_s_q1", "wall_s_q3" (quartiles of the runs), "start_s" (median
                         kernel start), "cpu_s" (median), "peak_rss_mb" (median)}
    floor_over_torch  floor.wall_s / torch_only.wall_s (target <= 1.2)
    floor_over_torch_range  [floor.wall_s_q1 / torch_only.wall_s_max, floor.wall_s_q3 / torch_only.wall_s_min]
    notebooks         one per notebook, in run order: {"name" (file name), "key" ("07"), "ok", "error" (one
                      line or null), "cells" (code cells run), "wall_s" (kernel start + every cell),
                      "start_s" (kernel start alone), "ratio" (wall_s / floor.wall_s), "work_s"
                      (wall_s - floor.wall_s), "cpu_s" (CPU-seconds of the kernel and every process it
                      started, start-up included), "cpu_ratio" (cpu_s / floor.cpu_s), "peak_rss_mb" (the
                      kernel's own peak resident memory), "peak_tree_rss_mb" (kernel + live children,
                      sampled; the waiting torch process left out, its forks' own pages only: see
                      scripts/process_memory.py), "target_ratio", "within_target" (ratio <= target_ratio),
                      "ratio_low", "ratio_high" (the fastest and slowest of the notebook's runs over the
                      floor's third and first quartile: how far the floor's spread, and the notebook's own
                      when it ran more than once, move the ratio), "call" ("within", "over", or "too close
                      to call" when the target lies between ratio_low and ratio_high), "runs" (how many
                      times it ran: settings.repeat), "wall_s_runs" (each run's wall_s); with repeat > 1,
                      wall_s, start_s and cpu_s are medians of the runs and the memory figures the largest;
                      from its imports kernels (null when none ran): "imports_s" (their median wall_s),
                      "imports_s_runs" (each one's), "imports_ratio" (imports_s / floor.wall_s),
                      "imports_ratio_low" (the fastest over the floor's third quartile), "imports_over_target"
                      (imports_ratio_low > target_ratio: the target lies below what the imports alone cost),
                      "libraries" ({library: seconds its imports took in the last imports kernel}, the six
                      largest; a module is charged to the library whose import brought it in first, torch's own
                      subpackages named one level down, as "torch._dynamo"), "cell_s" ([[cell index in the
                      notebook, seconds from request to reply, its first line], ...] for each code cell run, the
                      median of the runs that reached it; the tables list each notebook's heaviest beyond the floor)}
    course            {"notebooks_run", "complete" (every notebook of notebooks/ ran), "all_ok", "wall_s" (sum),
                       "ratio_total" (sum of ratios), "work_beyond_floor" (sum of ratio - 1),
                       "work_beyond_floor_today" (the same over the ten notebooks 00-09 that ran),
                       "work_beyond_floor_today_range" ([low, high]: the same from ratio_low and ratio_high),
                       "imports_beyond_floor_today" (sum of imports_ratio - 1 over those notebooks, or null),
                       "cpu_s_per_learner" (sum of cpu_s: one learner running every notebook run once),
                       "peak_rss_mb_max" (the largest notebook's peak)}
    targets           {"notebook_ratio": 3.0, "per_notebook": {key: ratio}, "new_notebook_ratio": 2.0,
                       "work_beyond_floor_today": 12.0, "floor_over_torch": 1.2}
    verdicts          {"notebooks_within_target": bool, "work_beyond_floor_today_within": bool or null
                       (null unless all ten ran), "floor_over_torch_within": bool, "floor_over_torch_call"
                       ("within", "over" or "too close to call", from floor_over_torch_range)}
    warm_torch        {"running": bool, "processes" (how many waiting torch processes: the first, and the one with
                       torch's export loaders if a notebook asked for it), "rss_mb" (their memory, each page once),
                       "cpu_s" (theirs and their forks', in all)}
    measurement       {"wall_s", "start_s", "cpu_s", "peak_rss_mb", "peak_tree_rss_mb", "ok", "error", "cells"}
"""
import argparse
import datetime
import inspect
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import process_memory  # noqa: E402  -- beside this file

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # this checkout's helpers, whatever PYTHONPATH or the venv's link say
    sys.path.insert(0, str(ROOT))

SCHEMA = "course_bench/1"
NOTEBOOK_DIR = ROOT / "notebooks"
OUT_DIR = ROOT / "build" / "bench"
FLOOR_CODE = 'import helpers as H\nWORK = H.start("floor")'
TORCH_CODE = "import torch"
TODAY = tuple(f"{i:02d}" for i in range(10))  # the ten notebooks the targets of the whole course were set for
TARGETS = {"notebook_ratio": 3.0, "per_notebook": {"07": 5.0}, "new_notebook_ratio": 2.0,
           "work_beyond_floor_today": 12.0, "floor_over_torch": 1.2}
MB = 1e6


@dataclass
class Measurement:
    """One kernel's run: wall seconds from launch to the last cell's reply, and what it cost."""
    wall_s: float
    start_s: float
    cpu_s: float
    peak_rss_mb: float
    peak_tree_rss_mb: float
    ok: bool = True
    error: str = None
    cells: int = 0
    # The modules the kernel had imported when its last cell ended, in import order (sys.modules): kept in memory
    # for the imports kernel (see imports_code), never written to the report.
    modules: list = field(default=None, repr=False, compare=False)
    # An imports kernel's seconds per library (see imports_code), also kept out of the report's runs.
    import_seconds: dict = field(default=None, repr=False, compare=False)
    # A notebook's code cells: [[index in the notebook, seconds from request to reply, first line], ...] (see heaviest_cells)
    cell_s: list = field(default=None, repr=False, compare=False)


def _as_dict(m: Measurement) -> dict:
    return {f.name: getattr(m, f.name) for f in fields(m) if f.name not in ("modules", "import_seconds", "cell_s")}


def first_line(source: str, width: int = 70) -> str:
    """A cell's first non-empty line, shortened: how the tables name a cell beside its index."""
    line = next((l.strip() for l in source.splitlines() if l.strip()), "")
    return line if len(line) <= width else line[:width - 1] + "…"


# ---------------------------------------------------------------- choosing notebooks

def notebook_key(name: str) -> str:
    """'07_optimize_and_debug.ipynb' -> '07' (the two-digit number, else the stem)."""
    stem = Path(name).stem
    head = stem.split("_", 1)[0]
    return head if head.isdigit() else stem


def select_notebooks(wanted=None, folder: Path = NOTEBOOK_DIR) -> list:
    """The notebooks to run: all of ``folder``, or those named by number ('07'), stem or file name.

    ``wanted`` is a list of names or one string separated by spaces or commas (the NOTEBOOKS variable).
    """
    available = sorted(Path(folder).glob("*.ipynb"))
    if isinstance(wanted, str):
        wanted = wanted.replace(",", " ").split()
    if not wanted:
        return available
    chosen = []
    for name in wanted:
        base = Path(name).name
        matches = [p for p in available if base in (p.name, p.stem, notebook_key(p.name))]
        if len(matches) != 1:
            known = ", ".join(notebook_key(p.name) for p in available)
            raise ValueError(f"no single notebook matches {name!r}: give a number or a name ({known})")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def one_cell_notebook(code: str):
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


# ---------------------------------------------------------------- measuring one kernel

def _kernel_pid(client):
    provisioner = getattr(client.km, "provisioner", None)
    process = getattr(provisioner, "process", None)
    return getattr(process, "pid", None) or getattr(provisioner, "pid", None)


def tree_cpu_seconds(process, skip=()) -> float:
    """CPU-seconds of ``process`` (a psutil.Process), the children it has waited for, and its live descendants.

    ``skip``: pids left out with their descendants (the waiting torch process, counted on its own).
    """
    import psutil
    times = process.cpu_times()
    total = times.user + times.system + times.children_user + times.children_system
    skipped = set(skip)
    for child in process.children(recursive=True):
        try:
            if child.pid in skipped or child.ppid() in skipped:
                skipped.add(child.pid)
                continue
            t = child.cpu_times()
        except psutil.Error:
            continue
        # a live descendant is not yet in its parent's children_* figures; its own waited children are in its
        total += t.user + t.system + t.children_user + t.children_system
    return total


def peak_rss_bytes(pid: int):
    """The process's own peak resident memory from /proc (VmHWM), or None where there is no /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


class _Sampler(threading.Thread):
    """Samples the resident memory of a process and its descendants until stopped; keeps the peaks."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        import psutil
        self.process, self.interval = psutil.Process(pid), interval
        self.peak_self = self.peak_tree = 0
        self._stop_event = threading.Event()

    def sample(self):
        import psutil
        try:
            own = self.process.memory_info().rss
        except psutil.Error:
            return
        tree = process_memory.tree_bytes(self.process)  # forks of the waiting torch process: their own pages only
        self.peak_self, self.peak_tree = max(self.peak_self, own), max(self.peak_tree, tree)

    def run(self):
        while not self._stop_event.wait(self.interval):
            self.sample()

    def stop(self):
        self._stop_event.set()
        self.join()


def run_kernel(nb, cwd: Path = NOTEBOOK_DIR, timeout: float = 600) -> Measurement:
    """Run every code cell of ``nb`` in a fresh kernel; time it from launch, and count its CPU and memory."""
    from nbclient.exceptions import CellExecutionError
    from steady_client import SteadyNotebookClient  # beside this file: replies read in slices, no lost wake-up

    client = SteadyNotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(cwd)}})
    # The kernel's stderr (ipykernel's start-up notices) goes to a scratch file, shown only if the kernel fails.
    with tempfile.TemporaryFile(mode="w+") as kernel_log:
        try:
            return _run_in_kernel(client, nb, kernel_log, CellExecutionError)
        except Exception as exc:
            kernel_log.seek(0)
            tail = "".join(kernel_log.readlines()[-5:]).strip()
            if tail:
                raise RuntimeError(f"the kernel failed ({type(exc).__name__}: {exc}); its stderr ends:\n{tail}") from exc
            raise


LOST = "no reply"  # how a run whose request the kernel never read is marked (see run_course)


def _run_in_kernel(client, nb, kernel_log, CellExecutionError) -> Measurement:
    import psutil
    from helpers.course.warm_torch import warm_torch_status
    ok, error, cells, cell_s = True, None, 0, []
    warm_before = warm_torch_status().get("cpu_s", 0.0)
    start = time.perf_counter()
    with client.setup_kernel(stderr=kernel_log):
        started = time.perf_counter()
        pid = _kernel_pid(client)
        sampler = _Sampler(pid)
        sampler.sample()
        sampler.start()
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                asked = time.perf_counter()
                try:
                    client.execute_cell(cell, index)
                    cell_s.append([index, round(time.perf_counter() - asked, 3), first_line(cell.source)])
                except CellExecutionError as exc:
                    ename, evalue = getattr(exc, "ename", type(exc).__name__), getattr(exc, "evalue", "")
                    first = (str(evalue).splitlines() or [""])[0]
                    ok, error = False, f"cell {index}: {ename}: {first}"[:300]
                    break
                except TimeoutError:  # nbclient's CellTimeoutError: no execute_reply within the cell timeout
                    ok, error = False, f"cell {index}: {LOST} within {client.timeout:g} s"
                    break
                cells += 1
            done = time.perf_counter()
            sampler.stop()
            sampler.sample()
            process = psutil.Process(pid)
            # The processes the notebook forked from the waiting torch process ran outside the kernel's tree:
            # their CPU (and the waiting process's start, in the notebook that started it) is its delta.
            warm = warm_torch_status()
            cpu = tree_cpu_seconds(process, skip=warm.get("pids", []))  # before shutdown: counters go with it
            cpu += max(0.0, warm.get("cpu_s", 0.0) - warm_before)
            hwm = peak_rss_bytes(pid)
            modules, seconds = _kernel_modules(client) if ok else (None, None)  # after the figures: not timed
        finally:
            if sampler.is_alive():
                sampler.stop()
    peak_self = max(hwm or 0, sampler.peak_self)
    return Measurement(wall_s=done - start, start_s=started - start, cpu_s=cpu, peak_rss_mb=peak_self / MB,
                       peak_tree_rss_mb=max(sampler.peak_tree, peak_self) / MB, ok=ok, error=error, cells=cells,
                       modules=modules, import_seconds=seconds, cell_s=cell_s)


def _kernel_modules(client) -> tuple:
    """(the names in the kernel's sys.modules in the order they were imported, an imports kernel's seconds per
    library or None); (None, None) if the kernel does not say."""
    import nbformat
    probe = nbformat.v4.new_code_cell("import json as _json, sys as _sys\n"
                                      "print(_json.dumps([list(_sys.modules), globals().get('_import_seconds')]))")
    client.nb.cells.append(probe)  # nbclient keeps each executed cell in its notebook: give it a place
    try:
        client.execute_cell(probe, len(client.nb.cells) - 1)
    except Exception:  # the report must not fail over this extra figure
        return None, None
    finally:
        client.nb.cells.pop()
    text = "".join(o.get("text", "") for o in probe.outputs if o.get("output_type") == "stream")
    try:
        modules, seconds = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError, TypeError):
        return None, None
    return modules or None, seconds


def imports_code(modules: list) -> str:
    """The imports kernel's code: the floor, then every module a notebook's kernel ended with, in its import order.

    Its time is what the notebook's libraries cost to import and nothing of its own work (the processes it
    forked, the files it loaded, the code it ran): no notebook can run in less while it uses those libraries.
    A module that cannot be imported by name (made at run time, an alias) is skipped.
    Each import is timed and charged to library_of(its name) in ``_import_seconds``: what a module's import
    brings in with it is charged to that module's library.
    """
    names = [name for name in modules if name != "__main__"]
    return (FLOOR_CODE + "\nimport importlib as _importlib, sys as _sys, time as _time\n"
            + inspect.getsource(library_of) +
            "_import_seconds = {}\n"
            f"for _name in {names!r}:\n"
            "    if _name not in _sys.modules:\n"
            "        _start = _time.perf_counter()\n"
            "        try:\n"
            "            _importlib.import_module(_name)\n"
            "        except Exception:\n"
            "            pass\n"
            "        _library = library_of(_name)\n"
            "        _import_seconds[_library] = _import_seconds.get(_library, 0.0) + _time.perf_counter() - _start\n")


def library_of(name: str) -> str:
    """The library a module belongs to: its top-level package, or for torch's own modules the subpackage one
    level down ('torch._dynamo.utils' -> 'torch._dynamo')."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == "torch" and len(parts) > 1 else parts[0]


def largest_libraries(seconds: dict, top: int = 6) -> dict:
    """The ``top`` libraries that took longest to import, rounded to hundredths: {'torch._dynamo': 0.61, ...}."""
    ranked = sorted((seconds or {}).items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return {library: round(value, 2) for library, value in ranked if round(value, 2) > 0}


def measure_floor(timeout: float = 600) -> Measurement:
    """One floor kernel: ``import helpers as H; H.start("floor")``, kernel start included."""
    return run_kernel(one_cell_notebook(FLOOR_CODE), timeout=timeout)


# ---------------------------------------------------------------- the run and its summary

def plan(notebooks: list, warmup: bool = True, imports: bool = True) -> list:
    """The order of kernels: (kind, notebook or None). Floors sit between notebooks, torch-only at both ends
    and after every fourth notebook; with ``imports``, each notebook's imports kernel right after it."""
    steps = [("warmup", None)] if warmup else []
    steps += [("torch", None), ("floor", None)]
    for i, path in enumerate(notebooks, 1):
        steps += [("notebook", path)] + ([("imports", path)] if imports else []) + [("floor", None)]
        if i % 4 == 0 and i < len(notebooks):  # more torch-only runs on a long run: its median steadies
            steps.append(("torch", None))
    steps.append(("torch", None))
    return steps


def _quartiles(values: list) -> tuple:
    """First and third quartile (the median's own value for fewer than four runs)."""
    if len(values) < 4:
        middle = statistics.median(values)
        return middle, middle
    q1, _, q3 = statistics.quantiles(values, n=4)
    return q1, q3


def _reference(code: str, runs: list) -> dict:
    walls = [m.wall_s for m in runs]
    q1, q3 = _quartiles(walls)
    return {"code": code, "runs": [_as_dict(m) for m in runs], "wall_s": statistics.median(walls),
            "wall_s_min": min(walls), "wall_s_max": max(walls), "wall_s_q1": q1, "wall_s_q3": q3,
            "start_s": statistics.median(m.start_s for m in runs), "cpu_s": statistics.median(m.cpu_s for m in runs),
            "peak_rss_mb": statistics.median(m.peak_rss_mb for m in runs)}


def target_for(key: str) -> float:
    if key in TARGETS["per_notebook"]:
        return TARGETS["per_notebook"][key]
    return TARGETS["notebook_ratio"] if key in TODAY else TARGETS["new_notebook_ratio"]


def _median_run(runs: list) -> "Measurement":
    """One notebook's repeated runs as one: median times, the largest memory, the first error."""
    failed = [r for r in runs if not r.ok]
    return Measurement(wall_s=statistics.median(r.wall_s for r in runs), start_s=statistics.median(r.start_s for r in runs),
                       cpu_s=statistics.median(r.cpu_s for r in runs), peak_rss_mb=max(r.peak_rss_mb for r in runs),
                       peak_tree_rss_mb=max(r.peak_tree_rss_mb for r in runs), ok=not failed,
                       error=failed[0].error if failed else None, cells=runs[0].cells, cell_s=_median_cells(runs))


def _median_cells(runs: list):
    """Each code cell's median seconds over the runs that reached it, in the first run's order (None if untimed)."""
    timed = [r.cell_s for r in runs if r.cell_s]
    if not timed:
        return None
    seconds = {}
    for cells in timed:
        for index, took, _ in cells:
            seconds.setdefault(index, []).append(took)
    lines = {index: line for cells in timed for index, _, line in cells}
    return [[index, round(statistics.median(seconds[index]), 3), lines[index]] for index in sorted(seconds)]


def heaviest_cells(row: dict, floor: dict, top: int = 3) -> list:
    """A notebook's ``top`` costliest code cells beyond the floor, as [(index, floors, seconds, first line)]. The
    first code cell (which runs H.start) is counted beyond the floor's own cell (its wall time less its kernel start)."""
    cells = row.get("cell_s") or []
    if not cells or not floor.get("wall_s"):
        return []
    floor_cell = floor["wall_s"] - floor["start_s"]
    beyond = [(index, took - floor_cell if position == 0 else took, line)
              for position, (index, took, line) in enumerate(cells)]
    beyond.sort(key=lambda cell: -cell[1])
    return [(index, took / floor["wall_s"], took, line) for index, took, line in beyond[:top] if took > 0]


def target_call(low: float, high: float, target: float) -> str:
    """Within or over the target, or too close to call when the floor's spread puts the ratio on both sides."""
    if high <= target:
        return "within"
    if low > target:
        return "over"
    return "too close to call"


def summarise(results: list, floors: list, torches: list, *, imports=(), libraries=None, all_names=None,
              settings=None, load_start=None, load_end=None) -> dict:
    """The report (see the schema above) from measurements: results is [(notebook file name, Measurement)],
    imports the same for the notebooks' imports kernels, libraries {file name: largest_libraries(...)}."""
    floor, torch_only = _reference(FLOOR_CODE, floors), _reference(TORCH_CODE, torches)
    rows, runs_of, imports_of = [], {}, {}
    for name, m in results:  # a repeated run: each notebook once, from the median of its runs
        runs_of.setdefault(name, []).append(m)
    for name, m in imports:
        if m.ok:
            imports_of.setdefault(name, []).append(m.wall_s)
    for name, runs in runs_of.items():
        m = _median_run(runs)
        key = notebook_key(name)
        ratio = m.wall_s / floor["wall_s"]
        walls = [r.wall_s for r in runs]
        low, high = min(walls) / floor["wall_s_q3"], max(walls) / floor["wall_s_q1"]
        rows.append({"name": name, "key": key, "ok": m.ok, "error": m.error, "cells": m.cells,
                     "wall_s": m.wall_s, "start_s": m.start_s, "ratio": ratio, "work_s": m.wall_s - floor["wall_s"],
                     "cpu_s": m.cpu_s, "cpu_ratio": m.cpu_s / floor["cpu_s"] if floor["cpu_s"] else None,
                     "peak_rss_mb": m.peak_rss_mb, "peak_tree_rss_mb": m.peak_tree_rss_mb,
                     "target_ratio": target_for(key), "within_target": ratio <= target_for(key),
                     "ratio_low": low, "ratio_high": high, "call": target_call(low, high, target_for(key)),
                     "runs": len(runs), "wall_s_runs": walls, **_imports_fields(imports_of.get(name), floor, key),
                     "libraries": (libraries or {}).get(name), "cell_s": m.cell_s})
    ran = {r["name"] for r in rows}
    today = [r for r in rows if r["key"] in TODAY]
    all_today = {k for k in TODAY} <= {r["key"] for r in rows}
    work_today = sum(r["ratio"] - 1 for r in today)
    work_today_range = [sum(r["ratio_low"] - 1 for r in today), sum(r["ratio_high"] - 1 for r in today)]
    imports_today = (sum(r["imports_ratio"] - 1 for r in today)
                     if today and all(r["imports_ratio"] is not None for r in today) else None)
    floor_over_torch = floor["wall_s"] / torch_only["wall_s"]
    floor_over_torch_range = [floor["wall_s_q1"] / torch_only["wall_s_max"], floor["wall_s_q3"] / torch_only["wall_s_min"]]
    try:  # the installed version, without importing torch into this process
        from importlib.metadata import version
        torch_version = version("torch")
    except Exception:
        torch_version = None
    return {
        "schema": SCHEMA,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg_start": load_start, "load_avg_end": load_end,
                    "platform": platform.platform(), "python": platform.python_version(), "torch": torch_version},
        "settings": settings or {},
        "floor": floor,
        "torch_only": torch_only,
        "floor_over_torch": floor_over_torch,
        "floor_over_torch_range": floor_over_torch_range,
        "notebooks": rows,
        "course": {"notebooks_run": len(rows), "complete": all_names is not None and set(all_names) <= ran,
                   "all_ok": all(r["ok"] for r in rows), "wall_s": sum(r["wall_s"] for r in rows),
                   "ratio_total": sum(r["ratio"] for r in rows),
                   "work_beyond_floor": sum(r["ratio"] - 1 for r in rows),
                   "work_beyond_floor_today": work_today,
                   "work_beyond_floor_today_range": work_today_range,
                   "imports_beyond_floor_today": imports_today,
                   "cpu_s_per_learner": round(sum(r["cpu_s"] for r in rows), 2),
                   "peak_rss_mb_max": max((r["peak_rss_mb"] for r in rows), default=0.0)},
        "targets": TARGETS,
        "verdicts": {"notebooks_within_target": all(r["within_target"] for r in rows),
                     "work_beyond_floor_today_within": (work_today <= TARGETS["work_beyond_floor_today"])
                     if all_today else None,
                     "floor_over_torch_within": floor_over_torch <= TARGETS["floor_over_torch"],
                     "floor_over_torch_call": target_call(*floor_over_torch_range, TARGETS["floor_over_torch"])},
    }


def _imports_fields(walls, floor: dict, key: str) -> dict:
    """A row's imports figures: the median imports kernel over the floor, and whether even that exceeds the target."""
    if not walls:
        return {"imports_s": None, "imports_ratio": None, "imports_ratio_low": None, "imports_s_runs": [],
                "imports_over_target": None}
    low = min(walls) / floor["wall_s_q3"]
    return {"imports_s": statistics.median(walls), "imports_ratio": statistics.median(walls) / floor["wall_s"],
            "imports_ratio_low": low, "imports_s_runs": list(walls), "imports_over_target": low > target_for(key)}


def resummarise(report: dict) -> dict:
    """The summary made again from the measurements a written report keeps (for --show: older reports
    get the fields added since); when it was made, on what machine, and the waiting process's figures stay."""
    fields = Measurement.__dataclass_fields__
    measured = lambda row: Measurement(**{name: row.get(name) for name in fields})
    runs = [(r["name"], measured({**r, "wall_s": wall})) for r in report["notebooks"]
            for wall in r.get("wall_s_runs") or [r["wall_s"]]]  # a repeated run keeps each run's time
    imports = [(r["name"], Measurement(wall_s=wall, start_s=0.0, cpu_s=0.0, peak_rss_mb=0.0, peak_tree_rss_mb=0.0))
               for r in report["notebooks"] for wall in r.get("imports_s_runs") or []]
    again = summarise(runs,
                      [measured(m) for m in report["floor"]["runs"]], [measured(m) for m in report["torch_only"]["runs"]],
                      imports=imports, libraries={r["name"]: r.get("libraries") for r in report["notebooks"]},
                      all_names=[r["name"] for r in report["notebooks"]] if report["course"]["complete"] else None,
                      settings=report.get("settings"))
    again.update({key: report[key] for key in ("created", "machine", "warm_torch") if key in report})
    return again


def run_course(notebooks: list, timeout: float = 600, warmup: bool = True, runner=run_kernel, log=print,
               repeat: int = 1, before_pass=lambda: None, imports: bool = True) -> dict:
    """Run the plan (floors interleaved) ``repeat`` times and return the summary. ``runner(nb, timeout=...)``
    runs one kernel; ``before_pass()`` runs before each pass (one learner's way through the course);
    ``imports``: after each notebook, time a kernel that only imports what that notebook's kernel ended with."""
    import nbformat
    load_start = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    floors, torches, results, reruns, imported = [], [], [], [], []
    modules_of, libraries = {}, {}
    passes = [plan(notebooks, warmup, imports)] + [plan(notebooks, False, imports) for _ in range(repeat - 1)]
    steps = [step for one in passes for step in [("pass", None), *one]]
    for kind, path in steps:
        if kind == "pass":
            before_pass()
            continue
        if kind == "imports":
            if not modules_of.get(path.name):  # the notebook stopped, or its kernel did not list its modules
                continue
            label, nb = f"  its imports alone", one_cell_notebook(imports_code(modules_of[path.name]))
        elif kind == "notebook":
            label, nb = path.name, nbformat.read(path, as_version=4)
        else:
            label, nb = kind, one_cell_notebook(TORCH_CODE if kind == "torch" else FLOOR_CODE)
        m = runner(nb, timeout=timeout)
        if not m.ok and LOST in str(m.error):
            # ipykernel 7 can leave a request unread while it stands idle (ipykernel issue #1554): that is not the
            # notebook's time. Say so, and run the same kernel step again, once.
            log(f"  {label:<34} ✘ {m.error}: the kernel stood idle with the request unread; running it again",
                flush=True)
            reruns.append(f"{label}: {m.error}")
            m = runner(nb, timeout=timeout)
        log(f"  {label:<34} {m.wall_s:6.1f} s{'' if m.ok else '  ✘ ' + str(m.error)}", flush=True)
        if kind == "notebook":
            results.append((path.name, m))
            modules_of[path.name] = m.modules if m.ok else None
        elif kind == "imports":
            imported.append((path.name, m))
            if m.import_seconds:
                libraries[path.name] = largest_libraries(m.import_seconds)
        elif kind == "floor":
            floors.append(m)
        elif kind == "torch":
            torches.append(m)
    load_end = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    settings = {"notebooks": [p.name for p in notebooks], "timeout_s": timeout, "warmup": warmup, "repeat": repeat,
                "reruns": reruns, "imports": imports}
    return summarise(results, floors, torches, imports=imported, libraries=libraries,
                     all_names=[p.name for p in sorted(NOTEBOOK_DIR.glob("*.ipynb"))],
                     settings=settings, load_start=load_start, load_end=load_end)


# ---------------------------------------------------------------- output

def format_table(report: dict) -> str:
    """The report as the table `make bench` prints."""
    floor, torch_only, course = report["floor"], report["torch_only"], report["course"]
    lines = [f"{'notebook':<34} {'wall s':>7} {'× floor':>8} {'range':>11} {'target':>7} {'imports ×':>10} "
             f"{'CPU s':>7} {'peak MB':>8}"]
    marks = {"within": "✔", "over": "✘", "too close to call": "≈"}
    for r in report["notebooks"]:
        mark, spread = marks[r["call"]], f"{r['ratio_low']:.2f}–{r['ratio_high']:.2f}"
        lines.append(f"{r['name']:<34} {r['wall_s']:7.1f} {r['ratio']:8.2f} {spread:>11} "
                     f"{'≤' + format(r['target_ratio'], 'g'):>6}{mark} {_imports_text(r):>10} "
                     f"{r['cpu_s']:7.1f} {r['peak_rss_mb']:8.0f}" + ("" if r["ok"] else f"  ✘ {r['error']}"))
    lines.append("range: the notebook's fastest and slowest run over the floor's interquartile range in this run; "
                 "✔ within the target, ✘ over it, ≈ too close to call (the target lies inside the range)")
    lines += _imports_lines(report)
    lines += _heaviest_lines(report)
    lines.append("")
    lines.append(f"floor ({floor['code'].replace(chr(10), '; ')}): {floor['wall_s']:.2f} s "
                 f"(median of {len(floor['runs'])}, {floor['wall_s_min']:.2f}–{floor['wall_s_max']:.2f}; "
                 f"kernel start {floor['start_s']:.2f} s), {floor['cpu_s']:.1f} CPU-s, {floor['peak_rss_mb']:.0f} MB")
    within = {"within": "✔", "over": "✘"}.get(report["verdicts"]["floor_over_torch_call"], "≈")
    lines.append(f"torch only ({torch_only['code']}): {torch_only['wall_s']:.2f} s (median of {len(torch_only['runs'])})"
                 f" → the floor is {report['floor_over_torch']:.2f}× it, range "
                 f"{report['floor_over_torch_range'][0]:.2f}–{report['floor_over_torch_range'][1]:.2f} "
                 f"(target ≤ {TARGETS['floor_over_torch']:g} {within})")
    today = report["verdicts"]["work_beyond_floor_today_within"]
    today_text = ("" if today is None else
                  f"; notebooks 00–09: {course['work_beyond_floor_today']:.1f}, range "
                  f"{course['work_beyond_floor_today_range'][0]:.1f}–{course['work_beyond_floor_today_range'][1]:.1f} "
                  f"(target ≤ {TARGETS['work_beyond_floor_today']:g} "
                  f"{ {'within': '✔', 'over': '✘'}.get(target_call(*course['work_beyond_floor_today_range'], TARGETS['work_beyond_floor_today']), '≈')})")
    lines.append(f"course ({course['notebooks_run']} notebook{'s' * (course['notebooks_run'] != 1)}"
                 f"{'' if course['complete'] else ', a subset'}): {course['wall_s']:.1f} s = "
                 f"{course['ratio_total']:.1f} floors; work beyond the floor Σ(ratio − 1) = "
                 f"{course['work_beyond_floor']:.1f}{today_text}")
    lines.append(f"CPU-seconds per learner for {'the whole course' if course['complete'] else 'these notebooks'}: "
                 f"{course['cpu_s_per_learner']:.0f}; largest kernel peak {course['peak_rss_mb_max']:.0f} MB")
    load = report["machine"].get("load_avg_start")
    if load:
        lines.append(f"load average at start {load[0]:.2f}, at end {report['machine']['load_avg_end'][0]:.2f} on "
                     f"{report['machine']['cpus']} CPUs: seconds inflate with load; ratios to the same run's floor less so")
    return "\n".join(lines)


def _imports_text(row: dict) -> str:
    """'3.41' (the imports kernel over the floor), with '!' when even its fastest run is over the target."""
    if row.get("imports_ratio") is None:
        return "–"
    return f"{row['imports_ratio']:.2f}" + ("!" if row.get("imports_over_target") else "")


def _imports_lines(report: dict) -> list:
    """What the imports column means, and which targets lie below what a notebook's imports alone cost."""
    rows = [r for r in report["notebooks"] if r.get("imports_ratio") is not None]
    if not rows:
        return []
    lines = ["imports ×: a kernel that runs H.start, then imports every module the notebook's kernel ended with and "
             "runs nothing of the notebook, over the floor: the notebook cannot take less while it uses those libraries"]
    below = [r for r in rows if r["imports_over_target"]]
    if below:
        lines.append("! target below the imports alone (their fastest run over the floor's third quartile): "
                     + ", ".join(f"{r['key']} ({r['imports_ratio_low']:.2f} > {r['target_ratio']:g}; "
                                 + ", ".join(f"{lib} {sec:.1f} s" for lib, sec in list((r.get("libraries") or {}).items())[:3])
                                 + ")" for r in below))
    today = report["course"].get("imports_beyond_floor_today")
    if today is not None and report["verdicts"].get("work_beyond_floor_today_within") is not None:
        lines.append(f"notebooks 00–09: their imports alone are Σ(imports × − 1) = {today:.1f} of the "
                     f"Σ(ratio − 1) = {report['course']['work_beyond_floor_today']:.1f}")
    return lines


def _over(report: dict) -> list:
    """The rows not within their target (over it, or too close to call) that have their cells' times."""
    return [r for r in report["notebooks"] if r["call"] != "within" and heaviest_cells(r, report["floor"])]


def _heaviest_lines(report: dict) -> list:
    """Where the notebooks over their target spend their time: their three heaviest cells, in floors."""
    over = _over(report)
    if not over:
        return []
    lines = ["heaviest cells of the notebooks over their target ([cell index] floors: first line; the first cell "
             "counted beyond the floor's own):"]
    for r in over:
        lines.append(f"  {r['key']}: " + " · ".join(f"[{index}] {floors:.2f}: {line[:40]}"
                                                  for index, floors, _, line in heaviest_cells(r, report["floor"])))
    return lines


def markdown_table(report: dict) -> str:
    """The per-notebook figures as a Markdown table, for docs/INSTRUCTORS.md (made from the JSON, not typed)."""
    floor = report["floor"]
    lines = [f"Measured {report['created'][:10]} with torch {report['machine'].get('torch')} on "
             f"{report['machine'].get('cpus')} CPUs; floor (kernel start + `H.start`) {floor['wall_s']:.1f} s, "
             f"{floor['cpu_s']:.1f} CPU-s, {floor['peak_rss_mb']:.0f} MB"
             + (f"; load average {report['machine']['load_avg_start'][0]:.1f} at the start."
                if report["machine"].get("load_avg_start") else "."), "",
             "| notebook | × floor | range | target | imports × | wall s | CPU s | peak MB |",
             "|---|---|---|---|---|---|---|---|"]
    marks = {"within": "✔", "over": "✘", "too close to call": "≈"}
    for r in report["notebooks"]:
        name = Path(r["name"]).stem + ("" if r["ok"] else " (stopped by an error)")
        imports = "–" if r.get("imports_ratio") is None else f"{r['imports_ratio']:.1f}" + \
            (" (over the target)" if r.get("imports_over_target") else "")
        lines.append(f"| {name} | {r['ratio']:.1f} | {r['ratio_low']:.1f}–{r['ratio_high']:.1f} | "
                     f"≤{r['target_ratio']:g} {marks[r['call']]} | {imports} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
                     f"{r['peak_rss_mb']:.0f} |")
    course = report["course"]
    lines.append(f"| **{'course' if course['complete'] else 'these notebooks'}** | {course['ratio_total']:.1f} | | | | "
                 f"{course['wall_s']:.1f} | {course['cpu_s_per_learner']:.1f} | {course['peak_rss_mb_max']:.0f} (max) |")
    repeat = (report.get("settings") or {}).get("repeat") or 1
    lines += ["", ("Range: the notebook's fastest and slowest run" if repeat > 1 else "Range: the ratio")
              + " over the floor's interquartile range in this run"
              + (f" (`make bench REPEAT={repeat}`: {repeat} runs of each notebook; the ratio is their median)" if repeat > 1 else "")
              + ". ✔ within the target, ✘ over it, ≈ too close to call (the target lies inside the range)."]
    if any(r.get("imports_ratio") is not None for r in report["notebooks"]):
        lines += ["", "Imports ×: a kernel that runs `H.start`, then imports every module the notebook's kernel ended "
                      "with and runs nothing of the notebook, timed in the same run. No notebook takes less while it "
                      "uses those libraries; *over the target* marks one whose target lies below even that."]
    over = _over(report)
    if over:
        lines += ["", "Where the notebooks over their target spend their time: their three heaviest cells beyond the "
                      "floor (the cell's index among all the notebook's cells, from 0; the first cell counted beyond "
                      "the floor's own), in floors and seconds of this run.", "",
                  "| notebook | cell | × floor | s | first line |", "|---|---|---|---|---|"]
        for r in over:
            for index, floors, took, line in heaviest_cells(r, report["floor"]):
                lines.append(f"| {r['key']} | {index} | {floors:.2f} | {took:.2f} | "
                             f"`{line.replace('|', '¦').replace('`', '')}` |")
    warm = report.get("warm_torch") or {}
    if warm.get("running"):
        two = warm.get("processes", 1) > 1
        lines += ["", "Besides the kernels: the waiting torch process that fresh processes fork from"
                      + (", and the one forked from it with torch's export loaders (from 09 on)," if two else ",")
                      + f" {warm['rss_mb']:.0f} MB resident, each page counted once (one set per learner; "
                      "their CPU-seconds are in the notebooks that used them)."]
    return "\n".join(lines)


def write_report(report: dict, out_dir: Path = OUT_DIR) -> tuple:
    """Write course_bench.json and course_bench.png into ``out_dir``, each atomically; return both paths."""
    from helpers.course.workdir import atomic_path, atomic_write_text
    out_dir = Path(out_dir)
    json_path, png_path = out_dir / "course_bench.json", out_dir / "course_bench.png"
    atomic_write_text(json_path, json.dumps(report, indent=1) + "\n")
    with atomic_path(png_path) as temporary:
        plot(report, temporary)
    return json_path, png_path


def plot(report: dict, path):
    """Bars: each notebook's ratio to the floor, with its range and its target as a tick; the floor is the line at 1."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = report["notebooks"]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(rows) + 2), 3.8))
    xs = range(len(rows))
    colours = [{"within": "#2f6fb0", "over": "#cf5a2a"}.get(r["call"], "#9a8fb0") for r in rows]
    bars = ax.bar(xs, [r["ratio"] for r in rows], color=colours)
    ranged = [(x, r) for x, r in zip(xs, rows) if r.get("ratio_low") is not None and r.get("ratio_high") is not None]
    if ranged:  # the range each median is read with (the table's Range column)
        ax.errorbar([x for x, _ in ranged], [r["ratio"] for _, r in ranged],
                    yerr=[[r["ratio"] - r["ratio_low"] for _, r in ranged], [r["ratio_high"] - r["ratio"] for _, r in ranged]],
                    fmt="none", ecolor="#333333", elinewidth=1, capsize=3, label="range")
    for bar, r in zip(bars, rows):
        if not r["ok"]:  # stopped by an error: its time covers only the cells before it
            bar.set_hatch("//")
            bar.set_edgecolor("black")
    ax.scatter(xs, [r["target_ratio"] for r in rows], marker="_", s=400, color="black", label="target")
    ax.axhline(1.0, color="grey", linewidth=1, linestyle="--", label=f"floor = {report['floor']['wall_s']:.1f} s")
    ax.set_xticks(list(xs), [r["key"] for r in rows])
    ax.set_ylabel("× floor (kernel start + H.start)")
    course = report["course"]
    today = course.get("work_beyond_floor_today")  # notebooks 00-09, the ones the Σ target speaks of
    today_text = (f" ({today:.1f} for 00-09, target {TARGETS['work_beyond_floor_today']:g})"
                  if today is not None and course["complete"] else "")
    ax.set_title(f"course benchmark{'' if course['complete'] else ' (a subset)'}: Σ(ratio − 1) = "
                 f"{course['work_beyond_floor']:.1f}{today_text}"
                 f"\n{course['cpu_s_per_learner']:.0f} CPU-s per learner · "
                 f"load {report['machine']['load_avg_start'][0]:.1f} on {report['machine']['cpus']} CPUs"
                 if report["machine"].get("load_avg_start") else
                 f"course benchmark: Σ(ratio − 1) = {course['work_beyond_floor']:.1f}", fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def main(argv=None, runner=run_kernel, out_dir: Path = OUT_DIR) -> int:
    parser = argparse.ArgumentParser(description="Time each notebook as a ratio to the floor kernel, in one run.")
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: $NOTEBOOKS, else all)")
    parser.add_argument("--timeout", type=float, default=180,
                        help="seconds allowed per cell (the slowest cell of the course takes well under a minute with "
                             "`make aoti` done; a request the kernel left unread shows up as a timeout, and is rerun)")
    parser.add_argument("--no-warmup", action="store_true", help="skip the uncounted first kernel")
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("REPEAT") or 1),
                        help="run the whole plan this many times (default: $REPEAT, else 1)")
    parser.add_argument("--no-imports", action="store_true",
                        help="skip each notebook's imports kernel (what its libraries alone cost to import)")
    parser.add_argument("--show", metavar="JSON", help="print the table of a report already written; run nothing")
    parser.add_argument("--markdown", action="store_true", help="with --show: as a Markdown table")
    parser.add_argument("--plot", metavar="PNG", help="with --show: draw the report's plot again into this file")
    args = parser.parse_args(argv)
    if args.show:
        try:
            report = json.loads(Path(args.show).read_text())
        except (OSError, ValueError) as error:
            print(f"course_bench: cannot read {args.show}: {error}", file=sys.stderr)
            return 2
        if report.get("schema") != SCHEMA:
            print(f"course_bench: {args.show} is not a {SCHEMA} report", file=sys.stderr)
            return 2
        report = resummarise(report)
        print(markdown_table(report) if args.markdown else format_table(report))
        if args.plot:  # draw the report's picture again, e.g. after a change to the plot
            plot(report, args.plot)
        return 0
    try:
        notebooks = select_notebooks(args.notebooks or os.environ.get("NOTEBOOKS"))
    except ValueError as error:
        print(f"course_bench: {error}", file=sys.stderr)
        return 2
    # Kernels inherit the environment: make them import this checkout's helpers too.
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    os.environ.setdefault("MPLBACKEND", "Agg")
    print(f"course benchmark: {len(notebooks)} notebook(s), each between floor kernels", flush=True)
    from helpers.course.warm_torch import stop_warm_torch, warm_torch_status
    if args.repeat < 1:
        print(f"course_bench: --repeat takes a whole number of at least 1, got {args.repeat}", file=sys.stderr)
        return 2
    # Each pass is one learner's: the first notebook that forks from the waiting torch process pays its start, as a
    # learner's first does, in every pass.
    before_pass = stop_warm_torch if runner is run_kernel else (lambda: None)
    report = run_course(notebooks, timeout=args.timeout, warmup=not args.no_warmup, runner=runner, repeat=args.repeat,
                        before_pass=before_pass, imports=not args.no_imports)
    warm = warm_torch_status() if runner is run_kernel else {}
    # One per learner, shared by their notebooks: its memory is counted once in the hub sizing.
    report["warm_torch"] = {"running": bool(warm), "processes": len(warm.get("pids", [])), "rss_mb": warm.get("rss_mb"),
                            "cpu_s": warm.get("cpu_s")}
    json_path, png_path = write_report(report, out_dir)
    print()
    print(format_table(report))
    if report["warm_torch"]["running"]:
        print(f"waiting torch processes ({report['warm_torch']['processes']}; they fork the notebooks' fresh processes): "
              f"{report['warm_torch']['rss_mb']:.0f} MB "
              f"resident, {report['warm_torch']['cpu_s']:.1f} CPU-s in all, counted in the notebooks that used it")
    print(f"\nwritten: {json_path} and {png_path}")
    return 0 if report["course"]["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
