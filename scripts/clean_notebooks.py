"""Strip outputs and execution counts from notebooks, so predictions stay unanswered on screen.

Usage: python scripts/clean_notebooks.py [FOLDER_OR_NOTEBOOK ...]   (what `make clean-notebooks` runs)
"""
import sys
from pathlib import Path

import nbformat


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
