"""Shared pytest setup: time each notebook while nbval runs it, for tests/test_budgets.py."""
import collections
import os

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


def pytest_collection_modifyitems(items):
    """Run the budget tests last, so they can read the times of the notebooks nbval just ran."""
    items.sort(key=lambda item: "test_budgets.py" in item.nodeid)


def pytest_terminal_summary(terminalreporter):
    """Show how long each notebook took (the agenda in docs/INSTRUCTORS.md uses these numbers)."""
    if not NOTEBOOK_SECONDS:
        return
    terminalreporter.section("notebook execution times (2-core budget: 20 s; 07: 60 s; 09: 30 s)")
    for name in sorted(NOTEBOOK_SECONDS):
        terminalreporter.write_line(f"{name:<34} {NOTEBOOK_SECONDS[name]:6.1f} s")
