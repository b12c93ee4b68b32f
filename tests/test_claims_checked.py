"""Every prediction's answer is checked by a cell, so a torch release that changes it fails the suite.

The mechanical part of the rule in CONTRIBUTING ("prose states a fact about torch only where a cell
checks it"): after each `H.predict(...)` cell, and before the next one, some code cell asserts
(`assert`, `H.expect_failure(...)`, `.assert_close()`). Whether the assertion checks the *same*
fact is for review; that there is one is checked here.
"""
import re
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
CHECK = re.compile(r"^\s*assert\b|expect_failure\(|\.assert_close\(\)", re.M)


def predictions_without_check(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    starts = [i for i, c in enumerate(cells) if "H.predict(" in c.source]
    missing = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(cells)
        if not any(CHECK.search(c.source) for c in cells[start + 1:end]):
            question = re.search(r"H\.predict\(\s*(?:question=)?\s*[\"']([^\"']{0,70})", cells[start].source)
            missing.append(question.group(1) if question else f"code cell {start}")
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_prediction_is_followed_by_a_check(path):
    missing = predictions_without_check(path)
    assert not missing, f"{path.name}: no cell checks the answer of: {missing}"


def test_the_rule_catches_an_unchecked_prediction(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('H.predict("What does it print?", answer="1", explanation="...")'),
        nbformat.v4.new_code_cell("print(1)"),
        nbformat.v4.new_code_cell('H.predict("And now?", answer="2", explanation="...")'),
        nbformat.v4.new_code_cell("print(2)\nassert True"),
    ])
    path = tmp_path / "t.ipynb"
    nbformat.write(nb, path)
    assert predictions_without_check(path) == ["What does it print?"]
