"""Edit a small model and its example, press a button, see every route's verdict change (introduced in 11_your_model).

``DiagnoseEditor`` holds the state (source, example text, routes) and runs ``H.diagnose``; pytest
drives it without a browser. ``H.diagnose_editor()`` wraps it in a thin widget view.
"""
import html

import ipywidgets as widgets

from ..course.failures import typed_message
from ..course.guards import LearnerCodeStopped, learner_code
from .diagnose import ALL_ROUTES, DEFAULT_ROUTES, diagnose
from .example_parser import ExampleSyntaxError, parse_example
from .gallery import load_snippet

__all__ = ["DiagnoseEditor", "DiagnoseEditorWidget", "diagnose_editor", "STARTER_MODEL"]

STARTER_MODEL = '''class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 4)

    def forward(self, x):
        scores = self.proj(x)
        if scores.max() > 1.0:          # a value-dependent branch: try torch.where instead
            scores = scores / scores.max()
        return scores
'''


class DiagnoseEditor:
    """The editor's logic: a model's source (defining ``class Model``), an example, the routes to try."""

    def __init__(self, source: str = STARTER_MODEL, example: str = "randn(4, 8)", routes=("trace", "script", "export"),
                 folder=None):
        for name, value in (("source", source), ("example", example)):
            if not isinstance(value, str):  # the editor reads both as text, as typed in its boxes
                raise TypeError(f"DiagnoseEditor: {name} is text, as typed in the editor (e.g. example=\"randn(4, 8)\"), "
                                f"got {type(value).__name__}; for a model and tensors in hand, call "
                                "H.diagnose(model, example)")
        self.source, self.example, self.folder = source, example, folder
        self.routes = tuple(routes)
        self.report = None
        self.error = ""

    def edit(self, source=None, example=None, routes=None) -> None:
        for name, value in (("source", source), ("example", example)):
            if value is not None and not isinstance(value, str):
                raise TypeError(f"edit: {name} is text, got {type(value).__name__}")
        if source is not None:
            self.source = source
        if example is not None:
            self.example = example
        if isinstance(routes, str):
            routes = [r.strip() for r in routes.split(",") if r.strip()]
        if routes is not None:
            unknown = [r for r in routes if r not in ALL_ROUTES]
            if unknown or not routes:
                raise ValueError(f"edit: routes are some of {', '.join(ALL_ROUTES)}")
            self.routes = tuple(routes)

    def run(self):
        """Build ``Model()`` from the source, read the example, diagnose. Errors become ``self.error``."""
        self.report, self.error = None, ""
        try:
            with learner_code(_BUILD_SECONDS):  # the learner's module-level code runs here, in this kernel
                module = load_snippet(self.source, folder=self.folder)
        except SyntaxError as error:
            self.error = f"The code does not parse: line {error.lineno}: {error.msg}"
            return None
        except Exception as error:  # the learner's module-level code raised, exited or hung
            self.error = f"The code {_stopped(error)} while defining the model"
            return None
        if not hasattr(module, "Model"):
            self.error = "Define `class Model(nn.Module)`: the editor builds `Model()` and diagnoses it."
            return None
        try:
            with learner_code(_BUILD_SECONDS):  # __init__ runs here too, before any worker process
                model = module.Model()
        except Exception as error:
            self.error = f"Model() {_stopped(error)}"
            return None
        try:
            example = parse_example(self.example)
        except ExampleSyntaxError as error:
            self.error = f"The example: {error}"
            return None
        try:
            self.report = diagnose(model, example, routes=self.routes, progress=False)
        except (TypeError, ValueError, TimeoutError, RuntimeError) as error:  # diagnose's one-line errors: a crash
            self.error = str(error)                                        # or a hang of the eager model included
        return self.report

    def html(self) -> str:
        if self.error:
            return f"<div style='color:#cf222e'>✘ {html.escape(self.error)}</div>"
        return self.report._repr_html_() if self.report is not None else "<i>Press “Diagnose”.</i>"


_BUILD_SECONDS = 20  # defining the class and building Model(): far more than any model here needs


def _stopped(error) -> str:
    """What stopped the learner's code, as the end of a sentence: raised ..., called sys.exit, or ran too long."""
    if isinstance(error, LearnerCodeStopped):  # its message starts "it called sys.exit ..." or "it ran for more ..."
        return str(error).removeprefix("it ")
    return f"raised {typed_message(error)}"


class DiagnoseEditorWidget(widgets.VBox):
    """The view: code, example, route boxes, a button and the verdict table."""

    def __init__(self, logic: DiagnoseEditor):
        self.logic = logic
        self.code = widgets.Textarea(value=logic.source, rows=12, layout=widgets.Layout(width="100%"))
        self.code.add_class("ts-diagnose-editor")
        self.example = widgets.Text(value=logic.example, description="Example:", layout=widgets.Layout(width="60%"))
        self.boxes = {r: widgets.Checkbox(value=r in logic.routes, description=r, indent=False,
                                          layout=widgets.Layout(width="auto")) for r in DEFAULT_ROUTES}
        self.button = widgets.Button(description="Diagnose", button_style="primary", icon="stethoscope")
        self.result = widgets.HTML(logic.html())
        self.button.on_click(self._on_button)
        header = ("<style>.ts-diagnose-editor textarea {font-family: monospace}</style>"
                  "<b>🩺 Diagnose</b>: edit <code>class Model</code> and its example, then press the button.")
        super().__init__([widgets.HTML(header), self.code, self.example,
                          widgets.HBox(list(self.boxes.values())), self.button, self.result])

    def _on_button(self, _button=None):
        routes = [r for r, box in self.boxes.items() if box.value]
        if not routes:  # nothing to run: say so, rather than run a route nobody ticked
            self.result.value = "<b style='color:#cf222e'>✘ Tick at least one route to diagnose.</b>"
            return
        self.logic.edit(source=self.code.value, example=self.example.value, routes=routes)
        self.button.disabled, self.result.value = True, "<i>running each route in a worker process…</i>"
        try:
            self.logic.run()
        except Exception as error:  # never leave "running…" on screen: whatever escaped is said in one line
            self.logic.report, self.logic.error = None, typed_message(error)
        finally:
            self.button.disabled = False
        self.result.value = self.logic.html()

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["text/html"] = (f"<div><b>🩺 Diagnose</b> (run in JupyterLab to edit)"
                               f"<pre>{html.escape(self.logic.source)}</pre>{self.logic.html()}</div>")
        bundle["text/plain"] = "Diagnose editor"
        return bundle


def diagnose_editor(source: str = STARTER_MODEL, example: str = "randn(4, 8)") -> DiagnoseEditorWidget:
    """An editor for a small model: press the button to diagnose every route."""
    if not isinstance(source, str) or not isinstance(example, str):
        raise TypeError("diagnose_editor takes the model's source and the example as text")
    return DiagnoseEditorWidget(DiagnoseEditor(source, example))
