"""Shared pytest setup: time each notebook while nbval runs it, and report the times as ratios to the floor."""
import collections
import importlib.util
import os
from pathlib import Path

# Notebooks write under work/<user>/...; the tests never touch a learner's own folders.
os.environ.setdefault("MPLBACKEND", "Agg")

NOTEBOOK_SECONDS = collections.defaultdict(float)
NOTEBOOK_FAILED = set()


def pytest_runtest_logreport(report):
    """Add up setup, call and teardown time of every nbval cell, per notebook file."""
    path = report.nodeid.split("::")[0]
    if path.endswith(".ipynb"):
        NOTEBOOK_SECONDS[os.path.basename(path)] += report.duration
        if report.failed:
            NOTEBOOK_FAILED.add(os.path.basename(path))


def _course_bench():
    spec = importlib.util.spec_from_file_location("course_bench", Path(__file__).parent / "scripts" / "course_bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_terminal_summary(terminalreporter):
    """Each notebook's nbval time as a ratio to one floor kernel timed now: a report, never a failure.

    `make bench` is the careful measurement (floors between notebooks, CPU and memory); this is the
    quick look at the end of `make test`.
    """
    if not NOTEBOOK_SECONDS:
        return
    terminalreporter.section("notebook times as ratios to the floor (a report: nothing fails on time)")
    try:
        floor = _course_bench().measure_floor().wall_s
    except Exception as error:  # the report must never turn a green run red
        terminalreporter.write_line(f"(floor kernel not measured: {type(error).__name__}: {error})")
        floor = None
    for name in sorted(NOTEBOOK_SECONDS):
        seconds = NOTEBOOK_SECONDS[name]
        ratio = f"{seconds / floor:5.1f}× floor" if floor else ""
        failed = "  (failed: its time means little)" if name in NOTEBOOK_FAILED else ""
        terminalreporter.write_line(f"{name:<34} {seconds:6.1f} s  {ratio}{failed}")
    if floor:
        terminalreporter.write_line(f"floor: a kernel running only `import helpers as H; H.start(...)`, "
                                    f"{floor:.1f} s now; `make bench` measures ratios with floors between notebooks")


def pytest_sessionfinish(session):
    """Stop the waiting torch process the notebooks forked from, so no test run leaves a process behind.

    (A learner's next fresh process simply starts another.)
    """
    try:
        from helpers.course.warm_torch import stop_warm_torch
        stop_warm_torch()
    except Exception:  # never turn a finished run red over the clean-up
        pass
