"""Strip outputs and execution counts from notebooks, so predictions stay unanswered on screen.

It also folds the code of every prediction and quiz cell (`H.predict(...)`, `H.quiz(...)`): that
code holds the answer and its explanation, so JupyterLab shows it collapsed and `make html`
leaves it out (tag `hide-input`).

Usage: python scripts/clean_notebooks.py [FOLDER_OR_NOTEBOOK ...]   (what `make clean-notebooks` runs)
"""
import sys
from pathlib import Path

import nbformat


ANSWER_CALLS = ("H.predict(", "H.quiz(")


def holds_answers(cell) -> bool:
    """A code cell whose source spells out a prediction's answer and explanation."""
    return cell.cell_type == "code" and any(call in cell.source for call in ANSWER_CALLS)


def clean(path: Path) -> bool:
    """Clean one notebook in place; return True if it changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if holds_answers(cell):
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            tags = cell.metadata.setdefault("tags", [])
            if "hide-input" not in tags:
                tags.append("hide-input")
    nb.metadata.pop("widgets", None)  # saved widget state is output too
    after = nbformat.writes(nb)
    if after != before:
        path.write_text(after + ("" if after.endswith("\n") else "\n"), encoding="utf-8")
    return after != before


def main(args):
    paths = []
    for arg in args or ["notebooks"]:
        p = Path(arg)
        paths += sorted(p.rglob("*.ipynb")) if p.is_dir() else [p]
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    changed = [p for p in paths if clean(p)]
    print(f"cleaned {len(changed)} of {len(paths)} notebooks" + "".join(f"\n  {p}" for p in changed))


if __name__ == "__main__":
    main(sys.argv[1:])
