"""Every notebook is committed clean and has the workbook's shape."""
import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
IMPORT_LINE = "import helpers as H"


def test_there_are_notebooks():
    assert any(p.name == "00_start_here.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.outputs or c.execution_count is not None)]
    assert not dirty, (f"{path.name} has outputs or execution counts in cells {dirty}: "
                       "run `make clean-notebooks` before committing")
    assert "widgets" not in nb.metadata, f"{path.name} stores widget state: run `make clean-notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_shape(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3", "kernelspec metadata avoids a kernel dialog"
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "first cell is the title"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"what you will learn", text, re.I), "says what you will learn"
    assert "## Key takeaways" in text, "ends with key takeaways"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code[0].source.startswith(IMPORT_LINE), f"first code cell starts with `{IMPORT_LINE}`"
    imports_of_helpers = sum(c.source.count(IMPORT_LINE) for c in code)
    assert imports_of_helpers == 1, "the helpers are imported once"
    assert "raises-exception" not in json.dumps([c.metadata for c in nb.cells]), \
        "show failures with H.expect_failure, which asserts they still happen"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_to_notebooks_exist(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for target in re.findall(r"\]\(([^)#]+\.ipynb)", text):
        assert (path.parent / target).is_file(), f"{path.name} links to missing {target}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_folded_cell_is_left_out_of_the_html_too(path):
    """A cell folded in JupyterLab carries the hide-input tag, which `make html` reads: folded in both, or in neither."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.metadata.get("jupyter", {}).get("source_hidden"):
            assert "hide-input" in cell.metadata.get("tags", []), f"{path.name} cell {i}: folded without hide-input"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_prediction_code_is_folded(path):
    """The code of a prediction holds its answer, so it is folded in JupyterLab and left out of `make html`."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and ("H.predict(" in cell.source or "H.quiz(" in cell.source):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, \
                f"{path.name} cell {i}: prediction code visible; run `make clean-notebooks` to fold it"
            assert "hide-input" in cell.metadata.get("tags", []), f"{path.name} cell {i}: missing hide-input tag"
            calls = ast.parse(cell.source).body
            assert len(calls) == 1 and isinstance(calls[0], ast.Expr), \
                f"{path.name} cell {i}: a folded prediction cell must hold only the H.predict/H.quiz call"
