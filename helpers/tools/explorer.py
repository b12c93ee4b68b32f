"""Slide an input across a model's branch and watch a traced model go wrong (introduced in 03_tracing).

``DivergenceExplorer`` is the logic, driven by pytest: pick a sample model ("branch", "loop",
"rnn_cell"), a method ("trace" or "script") and an input ``scale * base`` (plus a sequence length for
the loop model); it runs the eager model and its traced or scripted copy and says whether they agree.
Each copy is made once per (model, method) and cached, so moving a slider only reruns the models.
``divergence_explorer()`` is the thin ipywidgets view over it.
"""
import html
import warnings
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display

from ..course.deprecations import is_deprecation_warning
from ..models import sample_model
from .parity import _compare_outputs, _one_line

__all__ = ["DivergenceExplorer", "ExplorerState", "divergence_explorer", "EXPLORER_MODELS"]

EXAMPLE_LENGTH = 3  # rows of the loop model's trace example, as in H.example_input("loop")


def _branch_inputs(scale, length):
    return (scale * torch.tensor([1.0, 2.0, 3.0]),)


def _loop_inputs(scale, length):
    return (scale * torch.arange(4.0 * length).reshape(length, 4),)


def _rnn_inputs(scale, length):
    return (scale * torch.linspace(-1, 1, 12).reshape(3, 4), torch.zeros(3, 4))


def _branch_path(model, x):
    total = x.sum().item()
    return f"x.sum() = {total:.3g}", "doubles x" if total > 0 else "negates x"


def _loop_path(model, x):
    return f"x has {x.shape[0]} rows", f"runs {x.shape[0]} loop steps"


def _rnn_path(model, x, h):
    with torch.no_grad():
        total = torch.tanh(model.linear(x) + h).sum().item()
    return f"new_h.sum() = {total:.3g}", "halves new_h" if total > 0 else "keeps new_h as is"


# name -> (one-line description, inputs(scale, length), (condition, what eager Python does) for given inputs)
EXPLORER_MODELS = {
    "branch": ("doubles x when x.sum() > 0, negates it otherwise", _branch_inputs, _branch_path),
    "loop": ("adds up the rows of x, one loop step per row", _loop_inputs, _loop_path),
    "rnn_cell": ("one RNN step that halves its new state when that state sums positive", _rnn_inputs, _rnn_path),
}
METHODS = ("trace", "script")


@dataclass
class ExplorerState:
    """What the explorer shows for one setting: inputs, both outputs and the verdict."""
    model: str
    method: str
    scale: float
    length: int
    inputs: tuple
    eager_output: object
    torchscript_output: object  # None when the traced or scripted copy raised
    agree: bool
    max_diff: float
    verdict: str
    path: str            # e.g. "x.sum() = -6 → eager Python negates x"
    example_path: str    # the same for the trace example: the path a trace has baked in
    error: str = ""

    @property
    def name(self) -> str:
        """What the copy is called everywhere the explorer speaks of it: "traced" or "scripted"."""
        return _copy_name(self.method)


def _copy_name(method: str) -> str:
    return "traced" if method == "trace" else "scripted"


class DivergenceExplorer:
    """Eager vs traced or scripted outputs for a chosen model, method and input; the copies are cached."""

    def __init__(self, model: str = "branch", method: str = "trace", scale: float = 1.0,
                 length: int = EXAMPLE_LENGTH, rtol: float = 1e-5, atol: float = 1e-6):
        self._cache = {}          # (model, method) -> (eager model, traced/scripted copy, warnings while making it)
        self.rtol, self.atol = rtol, atol
        self.model, self.method, self.scale, self.length = "branch", "trace", 1.0, EXAMPLE_LENGTH
        self.state = None
        self.set(model=model, method=method, scale=scale, length=length)

    @property
    def models(self):
        return list(EXPLORER_MODELS)

    @property
    def methods(self):
        return list(METHODS)

    def set(self, model=None, method=None, scale=None, length=None) -> ExplorerState:
        """Change any of the four settings, rerun both models and return the new state."""
        if model is not None:
            if model not in EXPLORER_MODELS:
                raise ValueError(f"DivergenceExplorer: model must be one of {', '.join(EXPLORER_MODELS)}, got {model!r}")
            self.model = model
        if method is not None:
            if method not in METHODS:
                raise ValueError(f"DivergenceExplorer: method must be 'trace' or 'script', got {method!r}")
            self.method = method
        if scale is not None:
            if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not -1e6 < scale < 1e6:
                raise ValueError(f"DivergenceExplorer: scale must be a number such as -1.5 or 2, got {scale!r}")
            self.scale = float(scale)
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 64:
                raise ValueError(f"DivergenceExplorer: length must be a whole number of rows from 1 to 64, got {length!r}")
            self.length = length
        self.state = self._run()
        return self.state

    @property
    def verdict(self) -> str:
        return self.state.verdict

    def torchscript(self, model=None, method=None):
        """The traced or scripted copy for (model, method), made on first use and then reused."""
        model, method = model or self.model, method or self.method
        key = (model, method)
        if key not in self._cache:
            eager = sample_model(model)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")  # record the tracer's warnings even if shown before
                if method == "trace":
                    copy = torch.jit.trace(eager, self._example(model), check_trace=False)
                else:
                    copy = torch.jit.script(eager)
            notes = list(dict.fromkeys(str(w.message).split(". ")[0] for w in seen
                                       if not is_deprecation_warning(w.message)))
            self._cache[key] = (eager, copy, notes)
        return self._cache[key][1]

    def conversion_warnings(self, model=None, method=None) -> list:
        """First sentences of the warnings (other than deprecation notices) printed while tracing or scripting."""
        self.torchscript(model, method)
        return self._cache[(model or self.model, method or self.method)][2]

    @staticmethod
    def _example(model):
        return EXPLORER_MODELS[model][1](1.0, EXAMPLE_LENGTH)

    @property
    def code(self) -> str:
        """The TorchScript code of the current traced or scripted copy."""
        return self.torchscript().code

    def graph(self, **kwargs):
        """The graph picture of the current traced or scripted copy (H.draw_graph)."""
        from .graph import draw_graph  # imported late: only the widget and curious learners need it
        kwargs.setdefault("title", f"{self.model}, {_copy_name(self.method)}")
        return draw_graph(self.torchscript(), **kwargs)

    def show_code(self):
        """The highlighted code of the current traced or scripted copy (H.show_code)."""
        from .code_view import show_code
        return show_code(self.torchscript())

    def _run(self) -> ExplorerState:
        copy = self.torchscript()
        eager = self._cache[(self.model, self.method)][0]
        _, make_inputs, describe = EXPLORER_MODELS[self.model]
        inputs = make_inputs(self.scale, self.length)
        name = _copy_name(self.method)
        with torch.no_grad():
            expected = eager(*inputs)
            path = "{} → eager Python {}".format(*describe(eager, *inputs))
            example_path = "{} → {}".format(*describe(eager, *self._example(self.model)))
            try:
                got = copy(*inputs)
            except Exception as error:  # a copy that fails is a result to show, not a crash
                message = _one_line(error)
                return ExplorerState(self.model, self.method, self.scale, self.length, inputs, expected, None,
                                     False, float("inf"), f"✘ disagree: the {name} model fails on this input ({message})",
                                     path, example_path, message)
        exact, close, max_diff, note = _compare_outputs(expected, got, self.rtol, self.atol, ("eager", name))
        if exact:
            verdict = f"✔ agree: the {name} model gives exactly the eager output"
        elif close:
            verdict = f"✔ agree: the {name} model matches the eager output (largest difference {max_diff:.2g})"
        else:
            verdict = f"✘ disagree: the {name} model answers differently (largest difference {note or f'{max_diff:.3g}'})"
        return ExplorerState(self.model, self.method, self.scale, self.length, inputs, expected, got,
                             close, max_diff, verdict, path, example_path)

    def __repr__(self):
        return (f"<DivergenceExplorer {self.model} · {self.method} · scale={self.scale:g} · "
                f"length={self.length}: {self.verdict}>")


def _fmt(value) -> str:
    """Tensors (or tuples of them) as short rounded arrays."""
    if isinstance(value, (tuple, list)):
        return value and _fmt(value[0]) + (f"  (+{len(value) - 1} more output)" if len(value) > 1 else "")
    if isinstance(value, torch.Tensor):
        return np.array2string(value.detach().numpy(), precision=3, suppress_small=True, max_line_width=70)
    return repr(value)


class DivergenceExplorerWidget(widgets.VBox):
    """The view: model and method pickers, input sliders, both outputs, the verdict, graph and code."""

    def __init__(self, explorer: DivergenceExplorer):
        self.explorer = explorer
        self.model_picker = widgets.Dropdown(options=explorer.models, value=explorer.model, description="model")
        self.method_picker = widgets.ToggleButtons(options=explorer.methods, value=explorer.method, description="method")
        # step 0.25 keeps every value, 0 included, exact in binary: the branch flips exactly at 0
        self.scale_slider = widgets.FloatSlider(value=explorer.scale, min=-2.0, max=2.0, step=0.25,
                                                description="scale s", continuous_update=True)
        self.length_slider = widgets.IntSlider(value=explorer.length, min=1, max=8, description="rows",
                                               continuous_update=True)
        self.result = widgets.HTML()
        self.graph_out, self.code_out = widgets.Output(), widgets.Output()
        tabs = widgets.Tab(children=[self.graph_out, self.code_out])
        tabs.set_title(0, "graph")
        tabs.set_title(1, "code")
        for control in (self.model_picker, self.method_picker):
            control.observe(self._on_method_change, names="value")
        for control in (self.scale_slider, self.length_slider):
            control.observe(self._on_input_change, names="value")
        super().__init__([widgets.HBox([self.model_picker, self.method_picker]),
                          widgets.HBox([self.scale_slider, self.length_slider]), self.result, tabs])
        self._on_method_change()

    def _on_method_change(self, _change=None):
        self.explorer.set(model=self.model_picker.value, method=self.method_picker.value)
        self.length_slider.layout.display = "" if self.explorer.model == "loop" else "none"
        self._show_result()
        for out, show in ((self.graph_out, self.explorer.graph), (self.code_out, self.explorer.show_code)):
            out.clear_output()
            with out:
                try:
                    display(show())
                except Exception as error:  # the outputs above still teach without the picture
                    print(f"(cannot draw this view: {_one_line(error)})")

    def _on_input_change(self, _change=None):
        self.explorer.set(scale=self.scale_slider.value, length=self.length_slider.value)
        self._show_result()

    def _show_result(self):
        s = self.explorer.state
        name = s.name
        colour = "#1a7f37" if s.agree else "#cf222e"
        notes = self.explorer.conversion_warnings()
        warned = (f"<div style='color:#9a6700'>⚠ tracing warned: {html.escape(notes[0])}</div>"
                  if notes and s.method == "trace" else "")
        baked = (f"<div><i>Trace example: {html.escape(s.example_path)}. The trace replays that path for every input.</i></div>"
                 if s.method == "trace" else "")
        shown = " and ".join(_fmt(t) if t.dim() < 2 else f"a {tuple(t.shape)} tensor" for t in s.inputs[:1])
        self.result.value = (
            f"<div><b>{html.escape(s.model)}</b>: {html.escape(EXPLORER_MODELS[s.model][0])}</div>"
            f"<div>input = {s.scale:g} × base = <code>{html.escape(shown)}</code>: {html.escape(s.path)}</div>"
            f"{baked}{warned}"
            f"<pre style='margin:4px 0'>eager   : {html.escape(_fmt(s.eager_output))}\n"
            f"{name:8s}: {html.escape(_fmt(s.torchscript_output) if s.torchscript_output is not None else s.error)}</pre>"
            f"<div style='color:{colour};font-weight:bold;font-size:1.1em'>{html.escape(s.verdict)}</div>")


def divergence_explorer(model: str = "branch", method: str = "trace") -> DivergenceExplorerWidget:
    """Sliders over a sample model's input: do the eager model and its traced or scripted copy agree?"""
    return DivergenceExplorerWidget(DivergenceExplorer(model=model, method=method))
