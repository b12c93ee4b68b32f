"""The classroom load test (`make test-hub`): N learners run notebooks on a real hub at the same time.

Each simulated learner logs in (a few seconds after the one before) and starts their server; once every
server is up, as when the instructor says "go", each learner, for each notebook of the set, opens it
(a kernel in the notebook's folder, as JupyterLab does), runs its code cells one by one, writes a
file of their own into the notebook's work folder and saves the notebook with its outputs (what
autosave does). A learner keeps the kernels of their last two notebooks open (LOAD_KERNELS_OPEN)
and closes older tabs, as the sizing assumes. Measured: each kernel's own
peak memory and CPU-seconds (from the kernel itself), each learner's memory in total (server +
kernels, sampled from outside every second), and the time from "run cell" to its output.

    python tests/hub/loadtest.py               # LOAD_LEARNERS, LOAD_NOTEBOOKS, LOAD_STAGGER, LOAD_TIMEOUT

writes build/hub/load_report.json and build/hub/load_report.png (and, when a learner saw an error, the
hub's log, the learners' servers' lines included, as build/hub/hub.log), and prints a table
(`python tests/hub/loadtest.py --table` prints the table of the last report without running).

Report ("schema": "hub_load/1"; seconds are wall-clock unless named cpu; MB = 10**6 bytes):
    created, machine {"cores", "memory_gb", "load_average_1min_at_end", "note"}, mode (accounts used)
    settings      {"learners", "notebooks" (numbers), "stagger_s", "kernels_open", "timeout_s"}
    wall_s        first login to the last learner done
    learners      one per learner: {"name", "login_s", "spawn_s", "errors", "finished", "peak_total_mb"
                  (server + all its kernels, sampled), "peak_server_mb", "active_s": [from, to],
                  "notebooks": {stem: {"cells", "errors", "cpu_s" (the notebook's cells, kernel and its
                  children), "kernel_start_cpu_s", "peak_kernel_mb" (the kernel's own peak), "wall_s"}}}
    notebooks     {stem: {"cpu_s_median", "cpu_s_max", "peak_kernel_mb_median", "peak_kernel_mb_max", ...}}
    summary       {"learners", "learners_finished", "max_concurrent_learners", "cells_run",
                   "cell_latency_s" {"p50", "p95", "max"} (run cell -> idle after its last output),
                   "first_output_latency_s" {"p50", "p95"}, "kernel_start_cpu_s_median",
                   "peak_kernel_mb_max", "peak_kernel_tree_mb_max" (a kernel + the processes it started,
                   sampled), "peak_learner_total_mb_max", "peak_learner_total_mb_median",
                   "peak_server_mb_max", "hub_and_proxy_peak_mb", "kernels_open_per_learner",
                   "cpu_s_per_learner_total"}
    checks        {"errors", "lost", "readable_by_others", "repo_writable", "isolation" (bool),
                   "isolation_skipped" (why, if not), "isolation_checked", "shared_notebooks_unchanged",
                   "left_running", "stop_notes"}
    timeline      [[seconds, learners' total MB, kernels running], ...]
"""
import hashlib
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hubdriver import REPO, Hub, HubError, why_not_isolated  # noqa: E402

sys.path.insert(0, str(REPO / "scripts"))
import process_memory  # noqa: E402

REPORT = REPO / "build" / "hub" / "load_report.json"
PLOT = REPORT.with_suffix(".png")
HUB_LOG = REPORT.with_name("hub.log")  # kept only from a run where a learner saw an error
SCHEMA = "hub_load/1"
MB = 1e6  # as the course benchmark counts


def settings_from_env() -> dict:
    return {"learners": int(os.environ.get("LOAD_LEARNERS", "8")),
            "notebooks": [n.strip() for n in os.environ.get("LOAD_NOTEBOOKS", "00,01,02").split(",") if n.strip()],
            "stagger_s": float(os.environ.get("LOAD_STAGGER", "4")),
            # kernels a learner keeps open: the sizing's assumption (scripts/hub_sizing.py, kernels_open)
            "kernels_open": max(1, int(os.environ.get("LOAD_KERNELS_OPEN", "2"))),
            "timeout_s": float(os.environ.get("LOAD_TIMEOUT", "1800"))}


def notebook_files(prefixes: list) -> list:
    found = []
    for prefix in prefixes:
        matches = sorted((REPO / "notebooks").glob(f"{prefix}*.ipynb"))
        if len(matches) != 1:
            raise ValueError(f"LOAD_NOTEBOOKS: {prefix!r} names {len(matches)} notebooks; use their number, e.g. 00,01,02")
        found.append(matches[0])
    return found


def percentile(values: list, q: float):
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


class Sampler(threading.Thread):
    """Every second: resident memory of each learner's processes, of the hub's own, of all kernels."""

    def __init__(self, hub: Hub, period: float = 1.0):
        super().__init__(daemon=True)
        self.hub, self.period = hub, period
        self.stop_event = threading.Event()
        self.owner = {}  # pid -> learner name ("" for the hub, proxy, culler)
        self.kernel_pids = set()  # kernels and the processes they started
        self.kernels_proper = set()
        self.peak_kernel_tree_mb = 0.0
        self.peak_learner_mb, self.peak_server_mb, self.peak_hub_mb = {}, {}, 0.0
        self.timeline = []  # (seconds, total MB of learners, number of kernels)
        self.start_time = time.monotonic()

    def _classify(self, proc):
        if proc.pid in self.owner:
            return self.owner[proc.pid]
        try:
            environ = proc.environ()
        except (psutil.Error, OSError):
            return None
        if environ.get("HUB_RUN_MARK") != self.hub.mark:
            self.owner[proc.pid] = None
            return None
        name = environ.get("JUPYTERHUB_USER", "")
        self.owner[proc.pid] = name
        return name

    def _sort(self, proc, name):
        """Server or kernel: asked on every sample, as a just-forked kernel still shows its server's command line."""
        if not name:
            return
        cmdline = proc.cmdline()
        is_server = any("jupyterhub.singleuser" in part or "learner_start.py" in part for part in cmdline)
        if is_server and self.owner.get(proc.ppid()) == name:
            is_server = False  # forked by the server, not yet a kernel by its command line
        if not is_server:
            self.kernel_pids.add(proc.pid)  # a learner's process that is not their server: a kernel or its child
            if any("ipykernel" in part for part in cmdline):
                self.kernels_proper.add(proc.pid)

    def sample(self):
        per_learner, servers, hub_mb, kernels = {}, {}, 0.0, 0
        for proc in psutil.process_iter(["pid"]):
            name = self._classify(proc)
            if name is None:
                continue
            try:
                self._sort(proc, name)
                # the waiting torch process once per learner, its forks by their own pages only
                rss = process_memory.own_bytes(proc, count_waiting=True) / MB
            except psutil.Error:
                continue
            if name == "":
                hub_mb += rss
                continue
            per_learner[name] = per_learner.get(name, 0.0) + rss
            if proc.pid in self.kernel_pids:
                kernels += proc.pid in self.kernels_proper
            else:
                servers[name] = servers.get(name, 0.0) + rss
        for pid in list(self.kernels_proper):  # a kernel with every process it started (a fresh-process check, say)
            try:
                kernel = psutil.Process(pid)
                tree = process_memory.tree_bytes(kernel)  # without the waiting torch process: sized on its own
                self.peak_kernel_tree_mb = max(self.peak_kernel_tree_mb, tree / MB)
            except psutil.Error:
                self.kernels_proper.discard(pid)
        for name, mb in per_learner.items():
            self.peak_learner_mb[name] = max(self.peak_learner_mb.get(name, 0.0), mb)
        for name, mb in servers.items():
            self.peak_server_mb[name] = max(self.peak_server_mb.get(name, 0.0), mb)
        self.peak_hub_mb = max(self.peak_hub_mb, hub_mb)
        self.timeline.append((round(time.monotonic() - self.start_time, 1), round(sum(per_learner.values()), 1), kernels))

    def run(self):
        while not self.stop_event.wait(self.period):
            try:
                self.sample()
            except Exception:  # a process vanishing mid-scan must not end the sampling
                pass


class Gate:
    """Where the class gathers: each learner arrives once their server is up (or could not start), and the
    notebooks begin when everyone has arrived, as when the instructor says "go". Without it, on a fast machine
    the first learners finish before the last have logged in, and the hub never holds the class at once."""

    def __init__(self, count: int, timeout: float):
        self.left, self.timeout, self.condition = count, timeout, threading.Condition()

    def arrive(self, wait: bool = True) -> None:
        with self.condition:
            self.left -= 1
            self.condition.notify_all()
            if wait:
                self.condition.wait_for(lambda: self.left <= 0, timeout=self.timeout)


def run_learner(hub: Hub, name: str, notebooks: list, start_at: float, record: dict, keep_open: int = 2,
                gate: Gate = None) -> None:
    """One learner's whole session; everything observed goes into ``record``."""
    record.update(name=name, errors=[], notebooks={}, latencies=[], first_output=[], files={}, saved={})
    learner = hub.learner(name)
    record["kernels"] = kernels = []
    arrived = gate is None
    try:
        time.sleep(max(0.0, start_at - time.monotonic()))
        t0 = time.monotonic()
        learner.login()
        record["login_s"] = round(time.monotonic() - t0, 2)
        t1 = time.monotonic()
        learner.start_server()
        record["spawn_s"] = round(time.monotonic() - t1, 2)
        if not arrived:
            arrived = True
            gate.arrive()
        record["active_s"] = [round(time.monotonic() - hub.started_at, 1), None]
        for path in notebooks:
            rel = f"notebooks/{path.name}"
            model = learner.api("GET", f"contents/{rel}")  # the learner's own copy, as JupyterLab opens it
            nb = model["content"]
            while len(kernels) >= keep_open:  # the learner closes their oldest tab: its kernel shuts down
                oldest = kernels.pop(0)
                oldest.close()
                learner.api("DELETE", f"sessions/{oldest.session_id}")
            t_open = time.monotonic()
            kernel = learner.open_notebook(rel)
            kernels.append(kernel)
            before = kernel.probe()
            stats = {"cells": 0, "errors": 0}
            for cell in nb["cells"]:
                if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
                    continue
                result = kernel.execute("".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"])
                cell["outputs"], cell["execution_count"] = result["outputs"], result["count"]
                stats["cells"] += 1
                record["latencies"].append(result["done_s"])
                if result["first_output_s"] is not None:
                    record["first_output"].append(result["first_output_s"])
                if result["error"]:
                    stats["errors"] += 1
                    record["errors"].append(f"{path.stem}: {result['error']}")
            secret = uuid.uuid4().hex
            mine = kernel.execute(f"_mine = WORK / 'learner_file.txt'\n_mine.write_text({secret!r})\nprint(_mine)")
            if mine["error"]:
                record["errors"].append(f"{path.stem}: writing a file: {mine['error']}")
            else:
                record["files"][mine["outputs"][0]["text"].strip()] = secret
            after = kernel.probe()
            learner.api("PUT", f"contents/{rel}", json={"type": "notebook", "format": "json", "content": nb})
            record["saved"][rel] = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
            stats.update(cpu_s=round(after["cpu_s"] - before["cpu_s"] + after["children_cpu_s"] - before["children_cpu_s"], 3),
                         kernel_start_cpu_s=round(before["cpu_s"], 3),
                         peak_kernel_mb=round(after["maxrss_kb"] * 1024 / MB, 1),
                         wall_s=round(time.monotonic() - t_open, 2))
            record["notebooks"][path.stem] = stats
        record["finished"] = True
        record["active_s"][1] = round(time.monotonic() - hub.started_at, 1)
    except Exception as exc:
        record["errors"].append(f"{type(exc).__name__}: {exc}")
        record["traceback"] = traceback.format_exc()[-2000:]
    finally:
        if not arrived:  # no server: the others need not wait for this learner
            gate.arrive(wait=False)


def isolation_checks(hub: Hub, records: list) -> dict:
    """From inside each learner's kernel: a classmate's folders and files, and the shared repo, are off limits."""
    found = {"readable_by_others": [], "repo_writable": [], "checked": 0}
    done = [r for r in records if r.get("finished") and r["kernels"]]
    for i, record in enumerate(done):
        other = done[(i + 1) % len(done)]
        if other is record:
            break
        targets = [str(hub.home_of(other["name"])), str(hub.home_of(other["name"]) / "work"), *other["files"]]
        code = ("import json, os\n_seen = {}\n"
                f"for _p in {targets!r}:\n"
                "    try:\n"
                "        os.listdir(_p) if os.path.isdir(_p) else open(_p).read()\n"
                "        _seen[_p] = 'read'\n"
                "    except PermissionError:\n"
                "        _seen[_p] = 'denied'\n"
                "    except FileNotFoundError:\n"
                "        _seen[_p] = 'missing'\n"
                f"try:\n    open({str(REPO / 'helpers' / '__init__.py')!r}, 'a').close()\n    _seen['repo'] = 'written'\n"
                "except PermissionError:\n    _seen['repo'] = 'denied'\n"
                "print('SEEN' + json.dumps(_seen))")
        kernel = record["kernels"][-1] = record["kernels"][-1].reconnect()
        result = kernel.execute(code)
        text = "".join(o.get("text", "") for o in result["outputs"])
        if result["error"] or "SEEN" not in text:
            found["readable_by_others"].append(f"{record['name']}: the check did not run ({result['error']})")
            continue
        seen = json.loads(text.split("SEEN", 1)[1].strip())
        found["checked"] += 1
        for path, how in seen.items():
            if path == "repo":
                if how != "denied":
                    found["repo_writable"].append(record["name"])
            elif how != "denied":
                found["readable_by_others"].append(f"{record['name']} {how} {path} of {other['name']}")
    return found


def lost_checks(hub: Hub, records: list) -> list:
    """Every file a learner wrote is there with their content; every saved notebook kept its outputs."""
    lost = []
    for record in records:
        for path, secret in record["files"].items():
            try:
                if Path(path).read_text() != secret:
                    lost.append(f"{record['name']}: {path} changed")
            except OSError as exc:
                lost.append(f"{record['name']}: {path}: {exc}")
        user = next((u for u in hub.users if u.name == record["name"]), None)
        for rel, outputs in record["saved"].items():
            try:
                nb = user.api("GET", f"contents/{rel}")["content"]
                kept = sum(len(c.get("outputs", [])) for c in nb["cells"] if c["cell_type"] == "code")
                if kept != outputs:
                    lost.append(f"{record['name']}: {rel} has {kept} outputs, saved {outputs}")
            except Exception as exc:
                lost.append(f"{record['name']}: reading back {rel}: {exc}")
    return lost


def max_concurrent(intervals: list) -> int:
    """Most learners running notebooks at one moment (from each learner's [start, end])."""
    events = sorted([(a, 1) for a, b in (i for i in intervals if i and i[1] is not None)]
                    + [(b, -1) for a, b in (i for i in intervals if i and i[1] is not None)], key=lambda e: (e[0], e[1]))
    best = now = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.ipynb")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def summarise(settings: dict, records: list, sampler: Sampler, checks: dict, wall_s: float, hub: Hub) -> dict:
    latencies = [x for r in records for x in r["latencies"]]
    first = [x for r in records for x in r["first_output"]]
    per_notebook = {}
    for record in records:
        for stem, stats in record["notebooks"].items():
            per_notebook.setdefault(stem, []).append(stats)
    notebooks = {stem: {"cpu_s_median": round(statistics.median(s["cpu_s"] for s in rows), 3),
                        "cpu_s_max": round(max(s["cpu_s"] for s in rows), 3),
                        "peak_kernel_mb_median": round(statistics.median(s["peak_kernel_mb"] for s in rows), 1),
                        "peak_kernel_mb_max": round(max(s["peak_kernel_mb"] for s in rows), 1),
                        "wall_s_median": round(statistics.median(s["wall_s"] for s in rows), 2),
                        "runs": len(rows)}
                 for stem, rows in per_notebook.items()}
    kernel_start = [s["kernel_start_cpu_s"] for r in records for s in r["notebooks"].values()]
    round3 = lambda v: None if v is None else round(v, 3)  # noqa: E731
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                    "load_average_1min_at_end": round(os.getloadavg()[0], 2),
                    "note": "the machine may have been busy with other work: latencies are upper bounds"},
        "mode": "one system account per learner" if hub.isolated else f"one shared account ({why_not_isolated()})",
        "settings": settings,
        "wall_s": round(wall_s, 1),
        "learners": [{k: v for k, v in r.items() if k not in ("kernels", "latencies", "first_output", "files", "saved")}
                     | {"peak_total_mb": round(sampler.peak_learner_mb.get(r["name"], 0.0), 1),
                        "peak_server_mb": round(sampler.peak_server_mb.get(r["name"], 0.0), 1)}
                     for r in records],
        "notebooks": notebooks,
        "summary": {
            "learners": len(records),
            "learners_finished": sum(bool(r.get("finished")) for r in records),
            "max_concurrent_learners": max_concurrent([r.get("active_s") for r in records]),
            "cells_run": len(latencies),
            "cell_latency_s": {"p50": round3(percentile(latencies, 0.5)), "p95": round3(percentile(latencies, 0.95)),
                               "max": round3(max(latencies, default=None) if latencies else None)},
            "first_output_latency_s": {"p50": round3(percentile(first, 0.5)), "p95": round3(percentile(first, 0.95))},
            "kernel_start_cpu_s_median": round3(statistics.median(kernel_start)) if kernel_start else None,
            "peak_kernel_mb_max": max((n["peak_kernel_mb_max"] for n in notebooks.values()), default=None),
            "peak_kernel_tree_mb_max": round(sampler.peak_kernel_tree_mb, 1),
            "peak_learner_total_mb_max": round(max(sampler.peak_learner_mb.values(), default=0.0), 1),
            "peak_learner_total_mb_median": round(statistics.median(sampler.peak_learner_mb.values()), 1) if sampler.peak_learner_mb else None,
            "peak_server_mb_max": round(max(sampler.peak_server_mb.values(), default=0.0), 1),
            "hub_and_proxy_peak_mb": round(sampler.peak_hub_mb, 1),
            "kernels_open_per_learner": min(settings["kernels_open"], len(settings["notebooks"])),
            "cpu_s_per_learner_total": round(sum(s["cpu_s"] + s["kernel_start_cpu_s"] for r in records for s in r["notebooks"].values()) / max(len(records), 1), 2),
        },
        "checks": checks,
        "timeline": sampler.timeline,
    }


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def plot(report: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    latencies = sorted(x for r in report["_latencies"] for x in r)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    if report["timeline"]:
        t, mb, kernels = zip(*report["timeline"])
        left.plot(t, [m / 1000 for m in mb], color="tab:blue")
        left.set_xlabel("seconds since the hub was started")
        left.set_ylabel("learners' memory (GB, resident)", color="tab:blue")
        twin = left.twinx()
        twin.step(t, kernels, color="tab:orange", where="post")
        twin.set_ylabel("kernels running", color="tab:orange")
    left.set_title(f"{report['summary']['learners']} learners on {report['machine']['cores']} cores")
    if latencies:
        right.plot(latencies, [(i + 1) / len(latencies) for i in range(len(latencies))])
        for q in ("p50", "p95"):
            value = report["summary"]["cell_latency_s"][q]
            right.axvline(value, linestyle="--", color="grey")
            right.text(value, 0.05, f" {q} {value:.2f} s", rotation=90, va="bottom")
        right.set_xscale("log")
    right.set_xlabel("seconds from 'run cell' to its last output")
    right.set_ylabel("share of cells")
    right.set_title(f"{report['summary']['cells_run']} cells, notebooks {', '.join(report['settings']['notebooks'])}")
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.unlink(tmp)


def table(report: dict) -> str:
    s = report["summary"]
    lines = [f"Classroom load test of {report['created']}: {s['learners']} learners ({report['mode']}), notebooks "
             f"{', '.join(report['settings']['notebooks'])}, staggered {report['settings']['stagger_s']} s, "
             f"{report['machine']['cores']} cores, {report['wall_s']} s, at most {s['max_concurrent_learners']} at once",
             f"{'learner':<10} {'login s':>8} {'spawn s':>8} {'peak MB':>8} {'server MB':>9}  " +
             "  ".join(f"{stem[:2]} cpu s / MB" for stem in report["notebooks"]) + "  errors"]
    for learner in report["learners"]:
        cells = "  ".join(f"{learner['notebooks'].get(stem, {}).get('cpu_s', float('nan')):>6.2f} / {learner['notebooks'].get(stem, {}).get('peak_kernel_mb', float('nan')):>4.0f}"
                          for stem in report["notebooks"])
        lines.append(f"{learner['name']:<10} {learner.get('login_s', float('nan')):>8.1f} {learner.get('spawn_s', float('nan')):>8.1f} "
                     f"{learner['peak_total_mb']:>8.0f} {learner['peak_server_mb']:>9.0f}  {cells}  {len(learner['errors'])}")
    lat = s["cell_latency_s"]
    lines.append(f"cells run: {s['cells_run']}; run cell -> last output p50 {lat['p50']} s, p95 {lat['p95']} s, max {lat['max']} s; "
                 f"first output p50 {s['first_output_latency_s']['p50']} s, p95 {s['first_output_latency_s']['p95']} s")
    lines.append(f"peak kernel {s['peak_kernel_mb_max']} MB ({s.get('peak_kernel_tree_mb_max')} MB with the processes it started); peak learner (server + {s['kernels_open_per_learner']} kernels) "
                 f"{s['peak_learner_total_mb_max']} MB; hub + proxy {s['hub_and_proxy_peak_mb']} MB; load average at the end "
                 f"{report['machine']['load_average_1min_at_end']} (other work on the machine inflates latencies)")
    c = report["checks"]
    lines.append(f"checks: {len(c['errors'])} errors, {len(c['lost'])} lost, "
                 + (f"{len(c['readable_by_others'])} readable by another learner ({c['isolation_checked']} learners checked), "
                    f"repo writable by {len(c['repo_writable'])}" if c["isolation"] else f"isolation not checked: {c['isolation_skipped']}")
                 + f", shared notebooks unchanged: {c['shared_notebooks_unchanged']}, processes left after stop: {c['left_running']}")
    return "\n".join(lines)


def run(settings: dict = None) -> dict:
    """Run the whole load test; always stops what it started. Returns the report (also written to build/hub/)."""
    settings = settings or settings_from_env()
    if settings["learners"] < 1:
        raise ValueError("LOAD_LEARNERS must be at least 1")
    notebooks = notebook_files(settings["notebooks"])
    before = fingerprint(REPO / "notebooks")
    hub = Hub()
    sampler = Sampler(hub)
    records = [{} for _ in range(settings["learners"])]
    checks = {"errors": [], "lost": [], "readable_by_others": [], "repo_writable": [], "isolation": hub.isolated,
              "isolation_skipped": "" if hub.isolated else why_not_isolated(), "isolation_checked": 0}
    started = time.monotonic()
    deadline = started + settings["timeout_s"]
    try:
        hub.start()
        sampler.start()
        first = time.monotonic() + 1
        gate = Gate(settings["learners"], timeout=max(0.0, deadline - time.monotonic()))
        threads = [threading.Thread(target=run_learner, daemon=True,
                                    args=(hub, f"learner{i + 1:02d}", notebooks, first + i * settings["stagger_s"], records[i],
                                          settings["kernels_open"], gate))
                   for i in range(settings["learners"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in threads):
            checks["errors"].append(f"not finished within LOAD_TIMEOUT={settings['timeout_s']:.0f} s")
        wall = time.monotonic() - started
        sampler.sample()
        checks["errors"] += [f"{r['name']}: {e}" for r in records for e in r.get("errors", [])]
        checks["lost"] = lost_checks(hub, records)
        if hub.isolated:
            found = isolation_checks(hub, records)
            checks["readable_by_others"], checks["repo_writable"] = found["readable_by_others"], found["repo_writable"]
            checks["isolation_checked"] = found["checked"]
    finally:
        sampler.stop_event.set()
        for record in records:
            for kernel in record.get("kernels", []):
                kernel.close()
        if checks["errors"] or any(r.get("errors") for r in records):
            hub.keep_log(HUB_LOG)  # the learners' servers log there too: kept for reading after the run
        notes = hub.stop()
    checks["stop_notes"] = notes
    checks["left_running"] = len(hub.processes())
    checks["shared_notebooks_unchanged"] = fingerprint(REPO / "notebooks") == before
    for record in records:
        record.setdefault("name", "?")
        for key, default in (("errors", []), ("notebooks", {}), ("latencies", []), ("first_output", []), ("files", {}), ("saved", {})):
            record.setdefault(key, default)
    report = summarise(settings, records, sampler, checks, wall, hub)
    write_atomic(REPORT, (json.dumps(report, indent=1) + "\n").encode())
    try:
        plot({**report, "_latencies": [r["latencies"] for r in records]}, PLOT)
    except Exception as exc:  # the plot is a convenience; the JSON is the record
        report["plot_error"] = str(exc)
    return report


if __name__ == "__main__":
    if "--table" in sys.argv:
        print(table(json.loads(REPORT.read_text())))
        sys.exit(0)
    result = run()
    print(table(result))
    c = result["checks"]
    sys.exit(1 if c["errors"] or c["lost"] or c["readable_by_others"] or c["repo_writable"] or c["left_running"] else 0)
