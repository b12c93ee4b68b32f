"""Render every notebook, executed, to static HTML in build/html/ (what `make html` runs).

Widgets cannot run in a static page, so each widget output is replaced by its static fallback:
a prediction shows its question with the answer behind a click (<details>), a graph picture
shows its SVG (the page's Mermaid script would load Mermaid from the internet: the SVG needs nothing). Usage: python scripts/render_html.py [NOTEBOOK ...]
"""
import sys
import time
from pathlib import Path

import nbformat
from steady_client import SteadyNotebookClient as NotebookClient  # beside this file: replies read in slices
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "html"
WIDGET = "application/vnd.jupyter.widget-view+json"
MERMAID = "text/vnd.mermaid"


def static_outputs(nb) -> None:
    """Keep each output's static fallback and drop the live-widget reference it cannot render."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET in data and len(data) > 1:
                del data[WIDGET]
            if MERMAID in data and "image/svg+xml" in data:  # a graph picture: its SVG, drawn offline
                del data[MERMAID]
    nb.metadata.pop("widgets", None)


def render(path: Path) -> Path:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    static_outputs(nb)
    exporter = HTMLExporter(embed_images=True)
    # prediction cells' code holds the answers: show only their output (the question)
    exporter.register_preprocessor(TagRemovePreprocessor(remove_input_tags={"hide-input"}), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    # links between notebooks point at the rendered pages
    body = body.replace('.ipynb"', '.html"')
    target = OUT / path.with_suffix(".html").name
    sys.path.insert(0, str(ROOT))
    from helpers.course.workdir import atomic_write_text  # a page is written whole or not at all
    atomic_write_text(target, body)
    return target


def main(args):
    OUT.mkdir(parents=True, exist_ok=True)
    paths = [Path(a) for a in args] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in paths:
        start = time.perf_counter()
        target = render(path)
        print(f"{target.relative_to(ROOT)}  ({time.perf_counter() - start:.0f} s)")
    print(f"open {OUT / '00_start_here.html'}")


if __name__ == "__main__":
    main(sys.argv[1:])
