"""Each notebook runs within its time budget on a 2-core CPU.

When nbval has just run the notebooks in this pytest session (as `make test` does), their times
are reused; run alone, this test executes each notebook itself with nbclient and times it.
"""
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

import conftest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
DEFAULT_BUDGET = 20.0
BUDGETS = {"07_optimize_and_debug.ipynb": 60.0, "09_beyond_torchscript.ipynb": 30.0}


def execute_seconds(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    return time.perf_counter() - start


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_within_budget(path):
    budget = BUDGETS.get(path.name, DEFAULT_BUDGET)
    if path.name in conftest.NOTEBOOK_FAILED:
        pytest.fail(f"{path.name} failed under nbval, so its time means nothing: fix it first")
    seconds = conftest.NOTEBOOK_SECONDS.get(path.name)
    source = "nbval run"
    if seconds is None:
        seconds, source = execute_seconds(path), "own run"
    print(f"{path.name}: {seconds:.1f} s ({source}), budget {budget:.0f} s")
    assert seconds <= budget, f"{path.name} took {seconds:.1f} s, over its {budget:.0f} s budget"
