"""Slide an input across a model's branch and watch a traced model go wrong (introduced in 03_tracing).

``DivergenceExplorer`` is the logic, driven by pytest: pick a sample model ("branch", "loop",
"rnn_cell"), a method ("trace" or "script") and an input ``scale * base`` (plus a sequence length for
the loop model); it runs the eager model and its traced or scripted copy and says whether they agree.
It also takes your own model: ``DivergenceExplorer(my_model, "trace", example=(x, mask))`` gives
every input a scale of its own (``set(scales=[...])``; only floating-point tensors are scaled), a batch
size (``set(batch=n)``: the rows of dimension 0, as ``H.vary_inputs`` resizes them; ``batch_dim=1`` for a
sequence-first model), and says which lines
of your Python ran, against the path the trace example took.
Each copy is made once per (model, method) and cached, so moving a slider only reruns the models.
``divergence_explorer()`` is the thin ipywidgets view over it.
"""
import html
import linecache
import time
import warnings
from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
import torch
from IPython.display import display

from ..course.deprecations import is_deprecation_warning
from ..course.failures import short_message
from ..course.guards import call_within, refuse_meta
from ..models import sample_model
from .input_variants import (as_args, batch_ambiguity, batch_dim_for, batch_of, batched_inputs, describe, leaves, own_copy,
                             per_input_dims, rebuild, with_batch, _is_image_list)
from .parity import (RELAXED_TRACE_NOTE, _compare_outputs, _is_empty, _one_line, only_nan, _within_atol_of_zero, detections_of,
                     fresh_copy, python_state, random_in_forward, state_changes, trace_copy, training_layers)
from .path_recorder import LineCoverage

__all__ = ["DivergenceExplorer", "ExplorerState", "divergence_explorer", "EXPLORER_MODELS"]

EXAMPLE_LENGTH = 3  # rows of the loop model's trace example, as in H.example_input("loop")
EAGER_SECONDS = 5.0  # the eager model on one slider position: past this, it is stopped and the panel says so


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
    batch: object = None  # your own model's batch size (None for the samples, or inputs without one)

    @property
    def name(self) -> str:
        """What the copy is called everywhere the explorer speaks of it: "traced" or "scripted"."""
        return _copy_name(self.method)


def _batch_where(batch_dim) -> str:
    """Where the batch is, in words: "dimension 1", or "dimensions (1, 0)" for one entry per input."""
    return f"dimension {batch_dim}" if isinstance(batch_dim, int) else f"dimensions {tuple(batch_dim)}"


def _copy_name(method: str) -> str:
    return "traced" if method == "trace" else "scripted"


def _is_float(t):
    return t.is_floating_point() or t.is_complex()


class _YourModel:
    """A learner's model and example: inputs at any scales, and which lines of its Python ran."""

    def __init__(self, model, example, batch_dim=0):
        if isinstance(model, type):
            raise TypeError(f"DivergenceExplorer got the class {model.__name__}: pass an instance, "
                            f"e.g. DivergenceExplorer({model.__name__}(), 'trace', example=x)")
        if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
            raise TypeError(f"DivergenceExplorer takes a sample name ({', '.join(EXPLORER_MODELS)}) or your "
                            f"eager nn.Module, got {describe(model)}")
        if example is None:
            raise TypeError(f"DivergenceExplorer({type(model).__name__}(...)) needs example=: one input the model "
                            "accepts (a tensor, or a tuple with one entry per argument)")
        refuse_meta(example, "DivergenceExplorer")
        # a copy: the explorer calls the model many times, and a counter in it must not move in the learner's own
        self.model, self.name = fresh_copy(model), type(model).__name__
        model = self.model
        self.example = as_args(example, "DivergenceExplorer", "example")
        self.scalable = [any(_is_float(t) for t in leaves(arg)) for arg in self.example]
        # a one-line error for a dimension the inputs do not have; plain ints from here on
        self.batch_dim = batch_dim = batch_dim_for(self.example, batch_dim, "DivergenceExplorer")
        # an input whose batch sits elsewhere would keep its size: no batch to change then, and set(batch=) says why
        self.batch_problem = batch_ambiguity(self.example, batch_dim)
        # a branch on the batch size only shows when the batch changes
        self.batch = None if self.batch_problem else batch_of(self.example, batch_dim)
        self.batched = batched_inputs(self.example, batch_dim)  # the inputs a batch change resizes (their indexes)
        # a list of tensors as the first input is a batch of items (a detector's images): its length is what changes
        self.batch_is_items = _is_image_list(self.example[0]) if self.example else False
        self.coverage = LineCoverage(model)
        try:
            with torch.no_grad(), self.coverage.watch("example"):
                model(*own_copy(self.example))  # a forward that changes its input in place leaves the example alone
        except Exception as error:  # one line: never the model's repr
            raise ValueError(f"DivergenceExplorer: {self.name} fails on the example "
                             f"({_one_line(error)}): pass an example it accepts") from None

    def no_batch_reason(self) -> str:
        """Why this example has no batch to change (when ``self.batch`` is None)."""
        if self.batch_problem:
            return self.batch_problem
        dims = per_input_dims(self.example, self.batch_dim)
        if all(d is None for d in dims):
            return f"batch_dim={self.batch_dim} says that no input has a batch"
        where = _batch_where(self.batch_dim)
        if any(t.dim() > d for arg, d in zip(self.example, dims) if d is not None for t in leaves(arg)):
            return (f"{self.name}'s example has an empty batch ({where}, size 0): there are no rows to repeat, so pass "
                    "an example with rows")
        return f"{self.name}'s example has no tensor with a batch ({where}) to resize"

    def inputs(self, scales, batch=None):
        scaled = tuple(rebuild(arg, lambda t, s=s: t * s if _is_float(t) else t) if ok else arg
                       for arg, s, ok in zip(self.example, scales, self.scalable))
        return with_batch(scaled, batch, self.batch_dim) if batch else scaled

    def call(self, eager, inputs):
        """``eager(*inputs)``, recording which lines of the model's Python ran, for ``path()``. One call per input:
        a model that changes its own state as it runs (a call counter) stays in step with its copy."""
        self.coverage.forget("now")
        if self.coverage.reason or not self.coverage.codes:
            return eager(*inputs)
        with self.coverage.watch("now"):
            return eager(*inputs)

    def _function_of(self, filename, line) -> str:
        """The watched function a line belongs to ("Model.forward", "gate"), the innermost one; '' if none."""
        holders = [(code, name) for code, name in self.coverage.codes.items() if code.co_filename == filename
                   and any(start == line for _, _, start in code.co_lines())]
        if not holders:
            return ""
        code, name = min(holders, key=lambda held: len({n for *_, n in held[0].co_lines()}))
        return name

    def path(self):
        """(what eager Python did in the last ``call``, what it did on the example), from the lines that ran."""
        if self.coverage.reason or not self.coverage.codes or "now" not in self.coverage.counts:
            return "", ""
        now_sides, example_sides = self.coverage.side_counts("now"), self.coverage.side_counts("example")
        now_counts, example_counts = self.coverage.forget("now"), self.coverage.counts["example"]
        now, example = set(now_counts), set(example_counts)
        if now == example:
            differ = [(key, now_counts[key], example_counts[key]) for key in sorted(now)
                      if now_counts[key] != example_counts[key]]
            if not differ and now_sides != example_sides:  # same lines, another part of one ran (a side, a body)
                only = (set(now_sides) - set(example_sides)) or (set(example_sides) - set(now_sides))
                if only:  # a side this input ran and the example did not comes first: it is what the input did
                    side = min(only, key=lambda k: (k.line, k.column, k.side, k.text))
                    ran = side in now_sides
                    return (f"eager Python takes another path than the example: in `{side.whole}` it "
                            f"{'runs' if ran else 'skips'} {side.label}, `{side.text}`, which the example "
                            f"{'skipped' if ran else 'ran'}"), "the example you passed"
                side = min((k for k in now_sides if now_sides[k] != example_sides[k]),
                           key=lambda k: (k.line, k.column, k.side, k.text))
                here, there = now_sides[side], example_sides[side]
                return (f"eager Python takes another path than the example: in `{side.whole}` it runs "
                        f"{side.label}, `{side.text}`, {here} time{'s' if here != 1 else ''} here, {there} on the "
                        "example"), "the example you passed"
            if not differ:
                return "eager Python takes the same path as the example", "the example you passed"
            (where, line), here, there = max(differ, key=lambda d: (abs(d[1] - d[2]), d[0][1]))  # the loop's body
            text = linecache.getline(where, line).strip()
            return (f"eager Python runs the same lines as the example, but not as often: `{text}` {here} time"
                    f"{'s' if here != 1 else ''} here, {there} on the example (a loop turns, or a function "
                    "calls itself, another number of times)"), "the example you passed"

        def lines(keys):
            texts = [linecache.getline(f, n).strip() for f, n in sorted(keys)]
            places = [self._function_of(f, n) for f, n in sorted(keys)]
            # a line outside forward (a method, a helper function forward calls) is named with its function
            shown = "; ".join(f"`{x}`" + (f" (in `{where}`)" if where and not where.endswith(".forward") else "")
                              for x, where in list(zip(texts, places))[:2] if x) + (" …" if len(texts) > 2 else "")
            # a model typed where Python keeps no source (python -c, exec) still gets a sentence
            return shown if any(texts[:2]) else f"{len(texts)} line{'s' if len(texts) != 1 else ''} (source not available)"

        parts = ([f"runs {lines(now - example)}"] if now - example else []) + \
                ([f"skips {lines(example - now)}"] if example - now else [])
        # a part of a line both calls ran (a one-line if's body, a side, an operand) that only this input ran: the
        # line sets cannot show it. A body says most, so it comes first.
        first = lambda keys: min(keys, key=lambda k: (k.side != "body", k.side == "operand", k.line, k.column, k.text))
        hidden = [k for k in set(now_sides) - set(example_sides) if (k.filename, k.line) in example]
        if hidden:
            side = first(hidden)
            parts.append(f"runs {side.label}, `{side.text}`, of `{side.whole}`")
        missed = [k for k in set(example_sides) - set(now_sides) if (k.filename, k.line) in now]
        if missed and not hidden:  # the other way round: the example ran it, this input did not
            side = first(missed)
            parts.append(f"skips {side.label}, `{side.text}`, of `{side.whole}`, which the example ran")
        return f"eager Python takes another path than the example: it {' and '.join(parts)}", "the example you passed"


class DivergenceExplorer:
    """Eager vs traced or scripted outputs for a chosen model, method and input; the copies are cached."""

    def __init__(self, model="branch", method: str = "trace", scale: float = 1.0,
                 length: int = EXAMPLE_LENGTH, rtol: float = 1e-5, atol: float = 1e-6, *, example=None, batch_dim=0):
        self._cache = {}          # (model, method) -> (eager model, traced/scripted copy, warnings while making it)
        self.rtol, self.atol = rtol, atol
        self.model, self.method, self.scale, self.length = "branch", "trace", 1.0, EXAMPLE_LENGTH
        self.yours = None         # a learner's model (_YourModel), when one was passed
        self.scales = [1.0]
        self.batch = None         # your own model's batch size: the example's, until set(batch=n)
        self.state = None
        if isinstance(model, str):
            if model not in EXPLORER_MODELS:
                raise ValueError(f"DivergenceExplorer: model must be one of {', '.join(EXPLORER_MODELS)} (got "
                                 f"{model!r}); for your own model pass the model object itself (a file path is not "
                                 "one), with example=...")
            if example is not None or batch_dim != 0:
                raise ValueError(f"DivergenceExplorer: example= and batch_dim= are for your own model; the sample "
                                 f"{model!r} brings its own example")
        else:
            self.yours = _YourModel(model, example, batch_dim)
            self.model = model = self.yours.name
            self.scales = [1.0] * len(self.yours.example)
            self.batch = self.yours.batch
        self.set(model=model, method=method, scale=scale, length=length)

    @property
    def models(self):
        return ([self.yours.name] if self.yours else []) + list(EXPLORER_MODELS)

    @property
    def input_count(self) -> int:
        """How many positional inputs the current model takes (one scale each)."""
        return len(self.yours.example) if self._is_yours() else 1

    @property
    def scalable(self) -> list:
        """For each input, whether a scale changes it (only floating-point tensors are scaled)."""
        return list(self.yours.scalable) if self._is_yours() else [True]

    def _is_yours(self, model=None) -> bool:
        return self.yours is not None and (model or self.model) == self.yours.name

    @property
    def methods(self):
        return list(METHODS)

    def _check_scalable(self, scales):
        """Scales that change nothing (other than 1 only on inputs with no floating-point values: token ids, a mask)
        are refused, rather than rerun to show the same verdict. Beside a scaled input, such an entry is ignored."""
        pairs = list(zip(scales, self.scalable))
        odd = next((i for i, (s, ok) in enumerate(pairs) if s != 1.0 and not ok), None)
        if odd is not None and not any(s != 1.0 and ok for s, ok in pairs):
            raise ValueError(f"DivergenceExplorer: input {odd} holds no floating-point values (integers or bools), so "
                             "a scale does not change it; to explore other values there, build the explorer with "
                             "another example")

    def set(self, model=None, method=None, scale=None, length=None, scales=None, batch=None) -> ExplorerState:
        """Change any of the settings, rerun both models and return the new state. ``scale`` is the
        first input's scale; ``scales`` gives one per input (your own model's); ``batch`` your own model's
        batch size (the sample models take ``length`` for the loop's rows)."""
        if model is not None:
            if not isinstance(model, str) or model not in self.models:
                shown = model if isinstance(model, str) else describe(model)
                raise ValueError(f"DivergenceExplorer: model must be one of {', '.join(self.models)}, got {shown!r}; "
                                 "for your own model use DivergenceExplorer(model, 'trace', example=x)")
            self.model = model
        if scales is not None:
            if (not isinstance(scales, (list, tuple)) or len(scales) != self.input_count
                    or not all(_is_scale(s) for s in scales)):
                raise ValueError(f"DivergenceExplorer: scales must be a list of {self.input_count} number(s), "
                                 f"one per input, got {scales!r}"[:300])
            self._check_scalable([float(s) for s in scales])
            self.scales = [float(s) for s in scales]
            self.scale = self.scales[0]
        if method is not None:
            if method not in METHODS:
                raise ValueError(f"DivergenceExplorer: method must be 'trace' or 'script', got {method!r}")
            self.method = method
        if scale is not None:
            if not _is_scale(scale):
                raise ValueError(f"DivergenceExplorer: scale must be a number such as -1.5 or 2, got {scale!r}"[:300])
            self._check_scalable([float(scale)])
            self.scale = float(scale)
            self.scales = [self.scale] + list(self.scales[1:])
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or not 1 <= length <= 64:
                raise ValueError(f"DivergenceExplorer: length must be a whole number of rows from 1 to 64, got {length!r}")
            self.length = length
        if batch is not None:
            if self.yours is None or self.yours.batch is None:
                what = ("the sample models take length= (the loop's rows) instead" if self.yours is None else
                        self.yours.no_batch_reason())
                raise ValueError(f"DivergenceExplorer: batch= changes the batch of your own model's inputs; {what}")
            most = max(64, self.yours.batch)
            if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= most:
                raise ValueError(f"DivergenceExplorer: batch must be a whole number from 1 to {most}, got {batch!r}"[:300])
            self.batch = batch
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
            eager = fresh_copy(self.yours.model) if self._is_yours(model) else sample_model(model)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")  # record the tracer's warnings even if shown before
                try:
                    if method == "trace":
                        copy, relaxed = trace_copy(eager, self._example(model))
                    else:
                        copy = torch.jit.script(eager)
                except Exception as error:  # one line (a scripting error can quote pages of source)
                    copy = _CannotConvert(f"torch.jit.{method} cannot convert {type(eager).__name__}. "
                                          f"torch says: {short_message(error, 160)}")
            notes = list(dict.fromkeys(str(w.message).split(". ")[0] for w in seen
                                       if not is_deprecation_warning(w.message)))
            if method == "trace" and not isinstance(copy, _CannotConvert) and relaxed:
                notes.append(RELAXED_TRACE_NOTE)
            self._cache[key] = (eager, copy, notes)
        return self._cache[key][1]

    def conversion_warnings(self, model=None, method=None) -> list:
        """First sentences of the warnings (other than deprecation notices) printed while tracing or scripting."""
        self.torchscript(model, method)
        return self._cache[(model or self.model, method or self.method)][2]

    def _example(self, model):
        if self._is_yours(model):
            return own_copy(self.yours.example)  # tracing runs forward, which may change its input in place
        return EXPLORER_MODELS[model][1](1.0, EXAMPLE_LENGTH)

    @property
    def code(self) -> str:
        """The TorchScript code of the current traced or scripted copy."""
        copy = self.torchscript()
        if isinstance(copy, _CannotConvert):
            raise ValueError(copy.reason)
        return copy.code

    def graph(self, **kwargs):
        """The graph picture of the current traced or scripted copy (H.draw_graph)."""
        from .graph import draw_graph  # imported late: only the widget and curious learners need it
        kwargs.setdefault("title", f"{self.model}, {_copy_name(self.method)}")
        copy = self.torchscript()
        if isinstance(copy, _CannotConvert):
            raise ValueError(copy.reason)
        return draw_graph(copy, **kwargs)

    def show_code(self):
        """The highlighted code of the current traced or scripted copy (H.show_code)."""
        from .code_view import show_code
        copy = self.torchscript()
        if isinstance(copy, _CannotConvert):
            raise ValueError(copy.reason)
        return show_code(copy)

    def _run(self) -> ExplorerState:
        state = self._compare()
        state.batch = self.batch if self._is_yours() else None
        return state

    def _compare(self) -> ExplorerState:
        copy = self.torchscript()
        eager = self._cache[(self.model, self.method)][0]
        name = _copy_name(self.method)
        before = python_state(eager)  # to see whether eager changes its own attributes (a call counter)
        with torch.no_grad():
            if self._is_yours():
                inputs = self.yours.inputs(self.scales, self.batch)
                try:
                    # each side its own copy: a forward that changes its input in place must not reach the other's
                    expected, answered = call_within(EAGER_SECONDS, self.yours.call, eager, own_copy(inputs))
                    message = "" if answered else (f"the eager model did not finish on this input within "
                                                   f"{EAGER_SECONDS:g} s: a loop that never ends here?")
                except Exception as error:  # these scales give an input the model itself rejects
                    message = f"the eager model itself fails on this input ({_one_line(error)})"
                    if self.batch != self.yours.batch:  # perhaps an input whose batch dimension only looked like one
                        message += (f"; the batch changed {_batch_where(self.yours.batch_dim)} of "
                                    f"{_inputs_named(self.yours.batched)}: if one of them has no batch there, its size "
                                    "only matched the batch by chance (batch_dim= says where the batch is)")
                if message:
                    return ExplorerState(self.model, self.method, self.scale, self.length, inputs, None, None,
                                         False, float("inf"), f"? {message}", "", "", message)
                path, example_path = self.yours.path()
            else:
                _, make_inputs, path_of = EXPLORER_MODELS[self.model]
                inputs = make_inputs(self.scale, self.length)
                expected = eager(*own_copy(inputs))
                path = "{} → eager Python {}".format(*path_of(eager, *own_copy(inputs)))
                example_path = "{} → {}".format(*path_of(eager, *self._example(self.model)))
            if isinstance(copy, _CannotConvert):
                return ExplorerState(self.model, self.method, self.scale, self.length, inputs, expected, None,
                                     False, float("inf"), f"✘ {copy.reason}", path, example_path, copy.reason)
            try:
                got = copy(*own_copy(inputs))
            except Exception as error:  # a copy that fails is a result to show, not a crash
                message = _one_line(error)
                return ExplorerState(self.model, self.method, self.scale, self.length, inputs, expected, None,
                                     False, float("inf"), f"✘ disagree: the {name} model fails on this input ({message})",
                                     path, example_path, message)
        detections = detections_of(eager, expected, got)  # a scripted detector adds its losses: compare detections
        got = got if detections is None else detections
        exact, close, max_diff, note = _compare_outputs(expected, got, self.rtol, self.atol, ("eager", name))
        tiny = None if exact else _within_atol_of_zero(expected, self.atol)
        if close and _is_empty(expected):  # nothing was compared: an empty output matches any other empty output
            verdict = (f"⚠ agree only on empty outputs: the eager output holds no numbers here, so nothing was "
                       f"compared; give an input for which the model returns some")
        elif close and only_nan(expected):  # NaN counts as equal to NaN: no number was compared
            verdict = (f"⚠ agree only on NaN: every number of the eager output is NaN here, so nothing was compared; "
                       f"move the input to one for which the model gives numbers")
        elif exact:
            verdict = f"✔ agree: the {name} model gives exactly the eager output"
        elif close and tiny is not None:  # any numbers that small would match: no ✔
            verdict = (f"⚠ agree only within atol={self.atol:g} of zero: the eager output is at most {tiny:.2g} in "
                       f"size, so any answer that small would match (zeros too); pass a smaller atol")
        elif close:
            verdict = f"✔ agree: the {name} model matches the eager output (largest difference {max_diff:.2g})"
        else:
            verdict = f"✘ disagree: the {name} model answers differently (largest difference {note or f'{max_diff:.3g}'})"
        changed = state_changes(before, python_state(eager))
        if close and changed and self.method != "script":  # the answers match; the state was not compared here
            # (a Python attribute is a constant of the copy; a buffer it may update, from other values or by other
            # amounts: parity compares the two states after the same calls)
            verdict = (f"⚠{verdict[1:]}; but eager changes its own state as it runs ({'; '.join(changed[:2])}), "
                       f"which this view does not compare with the {name} copy's: H.parity(model, copy, inputs=...) "
                       "does")
        if not close:
            training = training_layers(eager)
            if changed:  # a counter: eager's answer may depend on how often it ran
                verdict += (f"; eager changes its own state as it runs ({'; '.join(changed[:2])}), which this view "
                            f"does not compare with the {name} copy's: H.parity(model, copy, inputs=...) does")
            if training:  # a random layer draws anew on each call: eager differs even from itself
                verdict += (f"; but the model has layers in training mode ({', '.join(training[:3])}), so each call draws "
                            "anew: pass model.eval() to compare what was converted")
            elif random_in_forward(eager, inputs):  # torch.randn, a distribution's sample(): eager differs from itself
                verdict += ("; but eager itself gives two different answers to this input (randomness in forward: "
                            "torch.randn, a distribution's .sample(), F.dropout with training=True), so no copy can "
                            "match it call for call: seed both the same way (torch.manual_seed) before each call to "
                            "compare them")
        elif training_layers(eager):  # they agree, on a model you would not ship as it is
            verdict = (f"⚠{verdict[1:]}; but the model has layers in training mode "
                       f"({', '.join(training_layers(eager)[:3])}): pass model.eval() to compare the model you ship")
        return ExplorerState(self.model, self.method, self.scale, self.length, inputs, expected, got,
                             close, max_diff, verdict, path, example_path)

    def __repr__(self):
        if self._is_yours():
            scales = ", ".join(f"{s:g}" for s in self.scales)
            size = f"batch={self.batch}" if self.batch is not None else "no batch"
            # a dict output's trace agrees only while its keys stay the same: the caveat goes with the verdict
            relaxed = f" ({RELAXED_TRACE_NOTE})" if self.method == "trace" and RELAXED_TRACE_NOTE in \
                self.conversion_warnings() else ""
            return f"<DivergenceExplorer {self.model} · {self.method} · scale={scales} · {size}: {self.verdict}{relaxed}>"
        return (f"<DivergenceExplorer {self.model} · {self.method} · scale={self.scale:g} · "
                f"length={self.length}: {self.verdict}>")


def _inputs_named(indexes) -> str:
    return ", ".join(f"input {i}" for i in indexes) or "no input"


class _CannotConvert:
    """Stands in for a copy that torch.jit could not make; ``reason`` says why in one line."""

    def __init__(self, reason):
        self.reason = reason


def _is_scale(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and -1e6 < value < 1e6


def _fmt(value) -> str:
    """Tensors (or tuples of them) as short rounded arrays."""
    if isinstance(value, (tuple, list)):
        more = len(value) - 1
        return value and _fmt(value[0]) + (f"  (+{more} more output{'s' if more > 1 else ''})" if more else "")
    if isinstance(value, torch.Tensor):
        return np.array2string(value.detach().numpy(), precision=3, suppress_small=True, max_line_width=70)
    return repr(value)


SLOW_UPDATE_SECONDS = 0.25  # an update slower than this no longer follows the slider while it is dragged


class DivergenceExplorerWidget(widgets.VBox):
    """The view: model and method pickers, input sliders, both outputs, the verdict, graph and code."""

    def __init__(self, explorer: DivergenceExplorer):
        self.explorer = explorer
        self.model_picker = widgets.Dropdown(options=explorer.models, value=explorer.model, description="model")
        self.method_picker = widgets.ToggleButtons(options=explorer.methods, value=explorer.method, description="method")
        # step 0.25 keeps every value, 0 included, exact in binary: the branch flips exactly at 0
        self.scale_sliders = [
            widgets.FloatSlider(value=explorer.scales[i] if i < len(explorer.scales) else 1.0, min=-2.0, max=2.0,
                                step=0.25, description="scale s" if explorer.input_count == 1 else f"input {i} ×",
                                continuous_update=True)
            for i in range(explorer.input_count)]
        for slider, scalable in zip(self.scale_sliders, explorer.scalable):
            slider.layout.display = "" if scalable else "none"  # an integer or boolean input is not scaled
        self.scale_slider = self.scale_sliders[0]
        self.length_slider = widgets.IntSlider(value=explorer.length, min=1, max=8, description="rows",
                                               continuous_update=True)
        # your own model's batch: a branch on x.shape[0] never shows while only the values move
        self.batch_slider = widgets.IntSlider(value=explorer.batch or 1, min=1, max=max(8, explorer.batch or 1),
                                              description="items" if explorer.yours and explorer.yours.batch_is_items
                                              else "batch", continuous_update=True)
        self.result = widgets.HTML()
        self.graph_out, self.code_out = widgets.Output(), widgets.Output()
        tabs = widgets.Tab(children=[self.graph_out, self.code_out])
        tabs.set_title(0, "graph")
        tabs.set_title(1, "code")
        for control in (self.model_picker, self.method_picker):
            control.observe(self._on_method_change, names="value")
        for control in (*self.scale_sliders, self.length_slider, self.batch_slider):
            control.observe(self._on_input_change, names="value")
        super().__init__([widgets.HBox([self.model_picker, self.method_picker]),
                          widgets.HBox([*self.scale_sliders, self.length_slider, self.batch_slider]), self.result, tabs])
        self._on_method_change()

    def _on_method_change(self, _change=None):
        self.explorer.set(model=self.model_picker.value, method=self.method_picker.value)
        self.length_slider.layout.display = "" if self.explorer.model == "loop" else "none"
        yours = self.explorer._is_yours()
        self.batch_slider.layout.display = "" if yours and self.explorer.batch is not None else "none"
        for index, slider in enumerate(self.scale_sliders):  # a sample model has one scaled input
            slider.layout.display = "" if (index == 0 or yours) and self.explorer.scalable[min(
                index, len(self.explorer.scalable) - 1)] else "none"
        self._show_result()
        for out, show in ((self.graph_out, self.explorer.graph), (self.code_out, self.explorer.show_code)):
            out.clear_output()
            with out:
                try:
                    display(show())
                except Exception as error:  # the outputs above still teach without the picture
                    print(f"(cannot draw this view: {_one_line(error)})")

    def _on_input_change(self, _change=None):
        started = time.perf_counter()
        if self.explorer._is_yours():
            batch = self.batch_slider.value if self.explorer.batch is not None else None
            self.explorer.set(scales=[s.value for s in self.scale_sliders], batch=batch)
        else:
            self.explorer.set(scale=self.scale_slider.value, length=self.length_slider.value)
        self._show_result()
        self._settle_sliders(time.perf_counter() - started)

    def _settle_sliders(self, seconds):
        """For a model whose update takes longer than a drag step (a detector: seconds), update on release only:
        otherwise every tick of a drag queues another run of both models."""
        if seconds > SLOW_UPDATE_SECONDS:
            for slider in (*self.scale_sliders, self.length_slider, self.batch_slider):
                slider.continuous_update = False

    def _show_result(self):
        s = self.explorer.state
        name = s.name
        colour = "#1a7f37" if s.agree else "#cf222e"
        notes = self.explorer.conversion_warnings()
        traced = s.method == "trace"
        shown = ([f"tracing warned: {n}" for n in notes if n != RELAXED_TRACE_NOTE][:1]
                 + [n for n in notes if n == RELAXED_TRACE_NOTE]) if traced else []
        warned = "".join(f"<div style='color:#9a6700'>⚠ {html.escape(n)}</div>" for n in shown)
        baked = (f"<div><i>Trace example: {html.escape(s.example_path)}. The trace replays that path for every input.</i></div>"
                 if s.method == "trace" else "")
        what = EXPLORER_MODELS[s.model][0] if s.model in EXPLORER_MODELS else "your model"
        inputs = "".join(f"<div>input {i} = <code>{html.escape(_fmt_input(value))}</code></div>"
                         for i, value in enumerate(s.inputs)) if len(s.inputs) > 1 else \
            f"<div>input = {s.scale:g} × base = <code>{html.escape(_fmt_input(s.inputs[0]))}</code></div>"
        path = f"<div>{html.escape(s.path)}</div>" if s.path else ""
        yours = self.explorer.yours
        where = "" if yours is None else ("the list's length" if yours.batch_is_items else _batch_where(yours.batch_dim))
        batch = (f"<div>batch ({where}) = {s.batch}, the example's {yours.batch}; resized: "
                 f"{_inputs_named(yours.batched)}</div>" if s.batch is not None else
                 f"<div>no batch slider: {html.escape(yours.batch_problem)}</div>" if yours and yours.batch_problem
                 else "")
        unscaled = [i for i, ok in enumerate(self.explorer.scalable) if not ok] if yours is not None else []
        fixed = (f"<div>no value slider for input{'s' * (len(unscaled) > 1)} {', '.join(map(str, unscaled))}: "
                 "integers or bools, which a scale would not change; to try other values there, build the explorer "
                 "with another example</div>" if unscaled else "")
        self.result.value = (
            f"<div><b>{html.escape(s.model)}</b>: {html.escape(what)}</div>"
            f"{inputs}{batch}{fixed}{path}"
            f"{baked}{warned}"
            f"<pre style='margin:4px 0'>eager   : {html.escape(_fmt(s.eager_output))}\n"
            f"{name:8s}: {html.escape(_fmt(s.torchscript_output) if s.torchscript_output is not None else s.error)}</pre>"
            f"<div style='color:{colour};font-weight:bold;font-size:1.1em'>{html.escape(s.verdict)}</div>")


def _fmt_input(value) -> str:
    if isinstance(value, torch.Tensor):
        return _fmt(value) if value.dim() < 2 and value.numel() <= 8 else f"a {tuple(value.shape)} tensor"
    return describe(value)


def divergence_explorer(model="branch", method: str = "trace", *, example=None, batch_dim=0) -> DivergenceExplorerWidget:
    """Sliders over a model's inputs: do the eager model and its traced or scripted copy agree?
    ``model`` is a sample name, or your own nn.Module with ``example=`` (one input it accepts) and, for a
    sequence-first model, ``batch_dim=1``."""
    return DivergenceExplorerWidget(DivergenceExplorer(model=model, method=method, example=example, batch_dim=batch_dim))
