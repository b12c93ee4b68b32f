"""`make html`: the executed course as static pages, with prediction answers still behind a click."""
import base64
import importlib.util
import re

from helpers.course.workdir import REPO_ROOT

spec = importlib.util.spec_from_file_location("render_html", REPO_ROOT / "scripts" / "render_html.py")
render_html = importlib.util.module_from_spec(spec)
spec.loader.exec_module(render_html)


def test_start_here_renders_with_hidden_answers(tmp_path, monkeypatch):
    monkeypatch.setattr(render_html, "OUT", tmp_path)
    page = render_html.render(REPO_ROOT / "notebooks" / "00_start_here.ipynb").read_text()
    assert "application/vnd.jupyter.widget-view+json" not in page   # no dead widget placeholders
    assert "<details>" in page and "Commit to an answer, then click to reveal" in page
    outside = re.sub(r"<details>.*?</details>", "", page, flags=re.S)
    assert "the branch from the data: the sum is negative" not in outside  # the explanation is hidden
    assert 'href="01_dynamic_models.html"' in page                         # links point at rendered pages
    assert "data:image/png;base64" in page                                  # the mental-model picture is embedded


def test_graph_pictures_are_embedded_as_svg_that_needs_no_network(tmp_path, monkeypatch):
    monkeypatch.setattr(render_html, "OUT", tmp_path)
    page = render_html.render(REPO_ROOT / "notebooks" / "02_what_is_torchscript.ipynb").read_text()
    pictures = re.findall(r'data-mime-type="image/svg\+xml"[^>]*>\s*<img[^>]*src="data:image/svg\+xml;base64,([^"]+)"', page)
    assert pictures and any(b"BranchModel" in base64.b64decode(p) for p in pictures)  # embedded, not fetched
    assert '<pre class="mermaid"' not in page and 'class="jp-Mermaid"' not in page  # nothing left for the CDN script
    assert sorted(p.name for p in tmp_path.iterdir()) == ["02_what_is_torchscript.html"]  # no temporary file left
