"""Every notebook in a real JupyterLab, driven in headless Chromium (`make test-browser`).

JupyterLab runs from .venv on a free loopback port with a token, serving a scratch copy of the
notebooks (so nothing the browser does can write outputs into the tracked files). For each
notebook: run all cells, then check no cell errored, every widget rendered, graph pictures are
pictures, a prediction can be committed and only then explains itself; save a screenshot.
"""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from lab_server import ROOT, LabServer

playwright = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
OUT = ROOT / "build" / "browser"
SHOWS_GRAPHS = {"02", "03", "04", "07", "09", "11"}  # the notebooks that display graph pictures
FEEDBACK = re.compile(r"✔ Right|✘ Not quite")
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))

KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.status === 'idle';
}"""


@pytest.fixture(scope="module")
def lab():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (apt-get install chromium)")
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / "screenshots").mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks", OUT / "served" / "notebooks")
    settings = OUT / "settings"
    for plugin, values in {"@jupyterlab/docmanager-extension/plugin": {"autosave": False},
                           "@jupyterlab/apputils-extension/notification": {"fetchNews": "false"}}.items():
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    server = LabServer(OUT / "served", settings, OUT / "jupyterlab.log")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        try:
            yield server, browser
        finally:
            browser.close()
            server.stop()


def open_and_run(page, server, name):
    page.goto(server.notebook_url(name, name.split("_")[0]), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=60_000)
    ok = page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    page.wait_for_timeout(1500)  # let widgets and Mermaid finish rendering
    return ok


def visible_problems(page):
    return page.evaluate("""() => {
      const out = {errors: [], widgetErrors: 0, loading: 0, unrun: 0};
      document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
        .forEach(e => out.errors.push(e.textContent.slice(0, 300)));
      const text = document.querySelector('.jp-Notebook').innerText;
      out.widgetErrors = (text.match(/Error displaying widget/g) || []).length;
      out.loading = (text.match(/Loading widget\\.\\.\\./g) || []).length;
      document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt').forEach(p => {
        if (!/\\[\\d+\\]/.test(p.textContent)) out.unrun += 1; });
      return out;
    }""")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_in_jupyterlab(lab, name):
    server, browser = lab
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        ran = open_and_run(page, server, name)
        problems = visible_problems(page)
        page.screenshot(path=str(OUT / "screenshots" / name.replace(".ipynb", ".png")), full_page=True)
        assert problems["errors"] == [], f"{name}: cells raised: {problems['errors']}"
        assert ran, f"{name}: run-all did not complete ({problems})"
        assert problems["unrun"] == 0, f"{name}: {problems['unrun']} code cells did not run"
        assert problems["widgetErrors"] == 0, f"{name}: a widget failed to display"
        assert problems["loading"] == 0, f"{name}: a widget was still loading"
        check_graph_pictures(page, name)
        check_first_prediction(page, name)
        if name.startswith("03_"):
            check_explorer_flips_at_zero(page)
    finally:
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
        page.close()


def check_graph_pictures(page, name):
    """Every graph picture (a Mermaid output) is drawn as an SVG diagram, not left as source or an error."""
    pictures = page.locator(".jp-RenderedMermaid")
    if name[:2] in SHOWS_GRAPHS:  # a picture: a Mermaid diagram, or the SVG that side-by-side views embed
        images = page.locator(".jp-OutputArea-output img[src^='data:image/svg+xml']")
        assert pictures.count() + images.count() >= 1, f"{name}: draws graphs, yet no picture rendered"
    for i in range(pictures.count()):
        picture = pictures.nth(i)
        picture.scroll_into_view_if_needed()  # JupyterLab renders cells lazily, as they scroll into view
        # JupyterLab 4.6 draws the diagram to SVG and shows it as an image (older versions inline the <svg>)
        picture.locator("img[src^='data:image/svg+xml'], svg").first.wait_for(timeout=15_000)
        text = picture.text_content() or ""
        assert "Syntax error" not in text, f"{name}: graph picture {i} failed to parse"
        if i == 0:
            picture.screenshot(path=str(OUT / "screenshots" / name.replace(".ipynb", "-graph.png")))


def check_first_prediction(page, name):
    """The first prediction widget hides its explanation until an answer is committed."""
    found = page.locator(".widget-vbox:has(button:has-text('Commit my answer'))")
    if found.count() == 0:
        return
    box = found.first.element_handle()  # pinned: the locator would move on once the button is renamed
    box.scroll_into_view_if_needed()
    assert box.evaluate("b => !!b.closest('.jp-Cell').querySelector('.jp-InputPlaceholder')"), \
        f"{name}: the prediction's code (which holds its answer) is not folded"
    # HTML widgets drop class attributes, so look for the feedback line that heads the explanation
    assert not FEEDBACK.search(box.text_content()), f"{name}: explanation visible before commit"
    choice = box.query_selector("button.ts-choice")  # choices: a letter button beside a rendered label
    if choice:
        labels = box.evaluate("b => [...b.querySelectorAll('.widget-hbox .widget-html')].map(h => h.innerHTML)")
        assert labels and not any("`" in label for label in labels), f"{name}: a choice shows raw Markdown"
        choice.click()
        page.wait_for_function("c => c.classList.contains('mod-active')", arg=choice, timeout=5_000)
    else:
        box.query_selector("input[type=text]").fill("1")  # a number: a typed answer that is no number gets a hint, not a commit
    box.query_selector("button:has-text('Commit my answer')").click()
    page.wait_for_function("b => /Committed/.test(b.textContent)", arg=box, timeout=5_000)
    try:  # the feedback is its own widget: the browser may draw it a moment after the button's new label
        page.wait_for_function(f"b => /{FEEDBACK.pattern}/.test(b.textContent)", arg=box, timeout=10_000)
    except playwright.TimeoutError:
        pass
    assert FEEDBACK.search(box.text_content()), f"{name}: no feedback or explanation after the commit"
    assert "`" not in box.evaluate("b => b.innerText"), f"{name}: backticks shown instead of code"
    box.screenshot(path=str(OUT / "screenshots" / name.replace(".ipynb", "-prediction.png")))


def check_explorer_flips_at_zero(page):
    """The divergence explorer (traced branch model) agrees at s = 1 and disagrees once s < 0."""
    found = page.locator(".widget-vbox:has(.widget-slider:has-text('scale s'))")
    assert found.count() >= 1, "03: the divergence explorer did not render"
    box = found.last.element_handle()
    box.scroll_into_view_if_needed()
    assert "✔ agree" in box.text_content(), "03: the traced model should agree with eager at s = 1"
    handle = box.query_selector(".widget-slider:has-text('scale s') .noUi-handle")
    handle.focus()
    for _ in range(5):  # 1.0 -> -0.25 in steps of 0.25, as a learner dragging the slider would
        handle.press("ArrowLeft")
    page.wait_for_function("b => /✘ disagree/.test(b.textContent)", arg=box, timeout=10_000)
    page.screenshot(path=str(OUT / "screenshots" / "03_explorer_after_zero.png"))
