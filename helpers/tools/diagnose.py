"""Diagnose any model across every export route: does it convert, and does the copy compute the same? (introduced in 11_your_model).

``report = H.diagnose(model, example)`` takes the model through ``trace``, ``script``, ``export``
and ``onnx`` (``aoti`` on request), each in a forked worker process that is stopped at its time
limit, so a route that hangs inside C++ cannot hang the notebook; the workers run side by side, one
per core. For each route it reports:

- ``"fails"``: the route raised. The report gives the first line of the real cause, the line of
  the learner's source that triggered it when one can be found, and the fix from the limitations
  gallery (06) or from a short table of export hints.
- ``"diverges"``: the copy converted (and survived a save and a reload) but gives other answers
  than the eager model on at least one varied input (``H.vary_inputs``; for trace and script also
  another size eager takes in each dimension outside the batch, "size 6 in dim 1", at most four).
- ``"ok"``: the copy agrees with eager on every input that was tried, with any caveat the
  comparison raised (for example: no input took the other side of a branch).

``report.status("trace")`` returns the verdict, ``report.recommend()`` names a route in one
sentence, and the report shows as a table in JupyterLab and as text in a terminal. The command
line does the same: ``python -m helpers.diagnose my_model.py:make_model``.
"""
import dataclasses
import functools
import html
import inspect
import io
import linecache
import logging
import math
import os
import pickle
import re
import signal
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import torch

from ..course.failures import as_sentence, code_place, short_message, typed_message
from ..course.guards import call_within, first_call_seconds, numpy_part, refuse_meta, variant_seconds
from ..course.onnx_table import keep_onnx_function_table
from ..routes.export_bridge import save_program
from .gallery import argument_type_fix, inferred_argument_line, kept_function_cause
from .input_variants import (SIZE_VARIANT, _is_int, _resized, batch_dim_for, batch_of, leaves, own_copy,
                             per_input_dims, rebuild, time_first_note, with_batch)
from .parity import (TWO_ANSWERS_CAUSES, _nesting, argument_hint, few_layers, fresh_copy, is_exported_program, parity, training_layers,
                     vary_inputs)

__all__ = ["diagnose", "Diagnosis", "RouteResult", "DEFAULT_ROUTES", "ALL_ROUTES"]

DEFAULT_ROUTES = ("trace", "script", "export", "onnx")
ALL_ROUTES = DEFAULT_ROUTES + ("aoti",)  # AOTInductor compiles C++ (tens of seconds): opt-in only
STATUSES = ("ok", "diverges", "fails")

_HELPERS_DIR = str(Path(__file__).resolve().parents[1]) + os.sep
_TORCH_DIR = str(Path(torch.__file__).resolve().parent) + os.sep  # the separator keeps torchvision out

# First-line fragments of export and ONNX errors that have a known fix. The limitations gallery (06)
# covers torch.jit.script's errors; these cover the routes the gallery does not.
# the way out that keeps Python logic but leads to TorchScript only: export_hint leaves it out
_SCRIPT_WAY = "; or torch.jit.script, which keeps the Python logic"
_DATA_DEPENDENT = ("Python reads a tensor's value here: an `if` or `while` on it, or a number taken from it (`int(t.max())`, "
                   "`.item()`) that sets a size. For an `if`, torch.cond (or torch.where to compute both sides); for a "
                   "size, pass it in (a constructor argument); for a `while`, tensor operations of a fixed shape"
                   + _SCRIPT_WAY)
_NUMPY = ("a NumPy call: a scripted model runs without Python, so it cannot call NumPy, and its tensors have no "
          ".numpy(); use the torch function of the same name (see the gallery in 06, entry 'numpy_call')")
# a function kept on the module (self.gate = make_gate(3.0)) whose body reads a variable of the function that made
# it: torch asks whether it is "a closed over global variable"; here it is a closure's
_CLOSED_OVER = ("a function kept on the module reads a number from outside its body (a variable of the function that "
                "made it, or a module-level one), which TorchScript cannot capture: keep the number as an attribute "
                "(self.k = 3.0) and make the function a method that reads self.k")
_FX_NAME_CLASH = ("a submodule, parameter or buffer named like an attribute torch.fx's GraphModule has itself (meta, "
                  "graph, code, recompile ...: the name in torch's message) is hidden by it when the program becomes "
                  "a module again: rename it (its state_dict keys change with it)")
_HINTS = (
    # a lambda outside forward (module level, or kept as an attribute): its line is no function definition to compile
    ("expected a single top-level function", "a lambda outside forward (at module level, or kept as an attribute): "
                                             "TorchScript compiles a function from its source, and a lambda is no "
                                             "`def` wherever it sits; write it as a module-level `def` (see the "
                                             "gallery in 06, entry 'lambda')"),
    # torch.cond scripted: the compiler reads torch's own cond.py, whose nested function it refuses
    ("_higher_order_ops/cond.py", "TorchScript cannot compile torch.cond (the nested function is in torch's own "
                                  "cond code, not yours): keep torch.cond for export and AOTInductor, and give the "
                                  "scripted copy a plain `if` behind `torch.jit.is_scripting()`, as 10's "
                                  "H.DualRouteNet does"),
    ("cannot create weak reference to 'numpy", _NUMPY),  # np.tanh(...): TorchScript's message names NumPy's object
    ("has no attribute or method 'numpy'", _NUMPY),      # x.numpy()
    ("data-dependent", _DATA_DEPENDENT),
    ("guardondatadependent", _DATA_DEPENDENT),
    ("unsupported index type 'str'", "TorchScript takes an argument without an annotation for a Tensor, so "
                                     "`d[\"key\"]` indexes a tensor with a string: annotate the dict argument, "
                                     "`d: Dict[str, Tensor]` (from typing)"),
    ("could not guard on data-dependent", _DATA_DEPENDENT),
    ("constraints violated", "a dimension you marked dynamic is fixed by the code: drop it from dynamic_shapes"),
    ("unsupported operator", "this operator has no ONNX translation: rewrite it with common ops, or stay on torch.export"),
    # onnxruntime's message for an input dtype it has no type for (a complex tensor: NumPy's type 14, complex64)
    ("can't be converted to mldatatype", "onnxruntime has no type for one of the inputs' dtypes (a complex one, say): "
                                         "pass the real and imaginary parts as one float tensor (torch.view_as_real), "
                                         "or stay on torch.export"),
    # torch's own namespaces: no library to import, the name is a Python-only torch function (torch.enable_grad)
    ("unknown builtin op: aten::", "TorchScript has no operator of that name: a Python-only torch function (such as "
                                   "`torch.enable_grad`) cannot be compiled: take it out of forward, or keep that "
                                   "code outside the scripted model"),
    ("unknown builtin op: prim::", "TorchScript has no operator of that name: a Python-only torch function cannot be "
                                   "compiled: take it out of forward, or keep that code outside the scripted model"),
    ("unknown builtin op", "an operator from another library: import that library (e.g. `import torchvision`) before loading"),
    ("failed to get source", "TorchScript cannot read this class's source (a dataclass or a class made at run time): "
                             "pass plain values, or mark the method @torch.jit.ignore"),
    # a submodule called meta, graph or code: torch.fx's GraphModule has attributes of those names, which hide it
    # when the exported program is made into a module again (ExportedProgram.module(), AOTInductor, a round trip)
    ("references nonexistent attribute", _FX_NAME_CLASH),
    ("' already exists", _FX_NAME_CLASH),  # a parameter or buffer of such a name: register_parameter refuses it
    ("encountering a dict at the output of the tracer", "torch.jit.trace(model, x, strict=False) accepts a dict "
                                                        "output, if its keys never change with the input"),
    ("is not a module", "use an nn.Module, or wrap the function in one"),
    # an attribute holding an object of a Python class TorchScript has not compiled (a config dataclass, say)
    ("failed to convert python type", "TorchScript cannot type an attribute that holds an object of a Python class "
                                      "it has not compiled: copy the fields forward reads into plain attributes in "
                                      "__init__, or, for a class from a .py file, compile it first "
                                      "(torch.jit.script(ConfigClass)): one defined in a notebook cell has no "
                                      "source TorchScript can read"),
    # an argument whose default is None, without an annotation: TorchScript types it Tensor, and None becomes an
    # undefined tensor, which fails when the code (or the save) touches it
    ("expected a proper tensor but got none", "an argument with the default None and no annotation compiles as a "
                                              "plain Tensor: annotate it, e.g. `mask: Optional[torch.Tensor] = None` "
                                              "(from typing)"),
    ("called on an undefined tensor", "an argument with the default None and no annotation compiles as a plain "
                                      "Tensor (None becomes an undefined tensor): annotate it, "
                                      "e.g. `mask: Optional[torch.Tensor] = None` (from typing)"),
    # a method marked @torch.jit.ignore stays Python: the scripted copy calls it, and a .pt cannot hold it
    ("could not export python function call", "forward calls Python code that a saved file cannot hold: a method "
                                              "marked @torch.jit.ignore (mark it @torch.jit.unused instead: the saved "
                                              "copy then raises if that call is reached; or write it in TorchScript), "
                                              "or a custom torch.autograd.Function (torch.export traces through its "
                                              "forward: export the model)"),
    ("apply of functionmeta", "a custom torch.autograd.Function cannot be scripted: torch.export traces through its "
                              "forward (export the model), or move its forward's operations into the model's forward"),
    ("serialize treespec of namedtuple", "torch.export.save cannot store a NamedTuple output (its class is not "
                                         "registered): return a tuple or a dict from forward, and rebuild the "
                                         "NamedTuple where you load the program"),
    # a detection model's list of dicts: tracing takes one level of list, tuple or dict around tensors, no deeper
    ("can be output from traced functions", "a traced output holds tensors only: a None or a number in it is "
                                            "refused, and a list may hold tensors only, so a list of dicts or of "
                                            "tuples (what detection models return) is refused, with or without "
                                            "strict=False (tuples, and with strict=False dicts, may nest): script the "
                                            "model, or wrap it so that forward returns tensors only (one per key)"),
    ("nonetype]' cannot be traced", "torch.jit.trace takes tensors only, and None is not one: trace a "
                                    "wrapper whose forward calls the model with that argument left out (or given a "
                                    "tensor), or script the model, which keeps an Optional argument"),
    ("cannot be traced. only tensors", "torch.jit.trace takes tensors only: pass the number as a tensor, make it a "
                                       "constructor argument of the model, or script the model"),
    # torch.export traces with fake tensors, which have no values: a call that makes sizes from a tensor fails
    ("but got faketensor", "torch needs plain integers here (a size) and got a tensor, which has no values while "
                           "torch.export traces. `pack_padded_sequence` is one such call (its lengths become sizes): "
                           "run the RNN on the padded batch and take each sequence's last valid step, "
                           "`out[torch.arange(len(x)), lengths - 1]` for a one-way RNN with batch_first, or keep "
                           "torch.jit.script, which runs it"),
    ("could not find an implementation for", "ONNX Runtime has no kernel for this operator with these input types "
                                             "here (its CPU Gemm, a Linear layer, takes no bfloat16, for one): export "
                                             "a float32 copy (`model.float()`, float32 inputs, and no `torch.autocast` "
                                             "block in forward, which computes in its own dtype (bfloat16 on the "
                                             "CPU by default) whatever the model's), or run the file where such a kernel exists"),
    ("does not have a field with name '__obj_flatten__'", "an eager-mode quantized module (`quantize_dynamic`) keeps "
                                                          "its weights in a TorchScript class that torch.export cannot "
                                                          "trace: export the float model and quantize the exported "
                                                          "program (torchao's `prepare_pt2e`/`convert_pt2e` with "
                                                          "ExecuTorch's `XNNPACKQuantizer`), or keep torch.jit.script "
                                                          "or trace for this model"),
)


def known_hint(message: str) -> str:
    """The hint of the table above whose fragment is in ``message`` (torch's error), or ''."""
    lowered = message.lower()
    return next((hint for fragment, hint in _HINTS if fragment in lowered), "")


def export_hint(message: str) -> str:
    """``known_hint`` for a route that must end in an exported program (ExecuTorch, AOTInductor): without the
    TorchScript way out, which makes no such file."""
    return known_hint(message).replace(_SCRIPT_WAY, "")


_TRACER_NOTE = "the tracer warned: "  # how _convert's note on a TracerWarning begins


@dataclasses.dataclass
class RouteResult:
    """One route's verdict, with what a learner needs to act on it."""
    route: str
    status: str
    reason: str = ""            # first line of the cause (fails) or of the divergence (diverges)
    fix: str = ""               # what to do, when known
    where: str = ""             # "file.py:12: the source line" that triggered a failure
    first_divergence: str = ""  # label of the first input on which the copy differs
    notes: list = dataclasses.field(default_factory=list)  # caveats that do not change the verdict
    seconds: float = 0.0
    parity_text: str = ""
    parity: object = None       # the ParityReport of the comparison (a table in JupyterLab)
    untested: bool = False      # ok, but some of the model's own lines ran for no input: a caveat
    refuses_sizes: bool = False  # its shape checks refused another batch size or list length eager takes
    tiny: bool = False          # eager's outputs (or a part) lay within the tolerance of zero: zeros would agree there
    empty: bool = False         # every eager output was empty (a detector with no detections): agreed on emptiness
    nan: bool = False           # eager's outputs were NaN (the rest within atol of zero): no telling number compared
    model_problem: bool = False  # agrees, but with an eager model in training mode (or random): not the one you ship
    batch_one: bool = False     # its copy refuses other batches because the example's batch of 1 was fixed
    fixed_sizes: bool = False   # its copy takes only the example's size in a dimension where eager takes others
    state_unknown: bool = False  # eager changes state that the copy (a runner) hides, and the outputs do not show it
    defaults_kept: bool = False  # no input passed some of forward's options: only their defaults were checked
    one_integer: bool = False   # every integer input held one and the same value: only that value was checked
    retyped: bool = False       # agrees in value, but returns other types (keys lost, a number as a tensor, a list)
    fixed_strings: bool = False  # a str argument is a constant of the copy: only the example's value was checked
    input_effect: str = ""  # "keeps" / "changes" / "otherwise": the copy's in-place change of its input is not eager's
    foreign_ops: list = dataclasses.field(default_factory=list)  # "torchvision::nms": operators of other libraries
    copy: object = None         # the converted copy, reloaded on request (None when the route failed)
    _saved: object = dataclasses.field(default=None, repr=False)  # (bytes, suffix, record) of the saved copy

    @property
    def tracer_warned(self) -> bool:
        """The tracer recorded a value as a constant (its warning is in the notes): if the value came from the input,
        agreeing proves less."""
        return any(note.startswith(_TRACER_NOTE) for note in self.notes)

    @property
    def mark(self) -> str:
        if self.status == "ok" and (self.refuses_sizes or self.untested or self.tiny or self.empty or self.nan
                                    or self.tracer_warned
                                    or self.model_problem or self.fixed_sizes or self.state_unknown
                                    or self.defaults_kept or self.one_integer or self.retyped or self.fixed_strings
                                    or self.input_effect):
            return "⚠"  # agrees where it ran, with a caveat in its notes: not a plain ✔
        return {"ok": "✔", "diverges": "⚠", "fails": "✘"}[self.status]

    def detail(self) -> str:
        parts = [self.reason] if self.reason else []
        if self.where:
            parts.append(f"at {self.where}")
        if self.fix:
            parts.append(f"fix: {self.fix}")
        parts += self.notes
        return " — ".join(parts) if parts else ""


class Diagnosis:
    """The verdict of every route for one model. ``status(route)``, ``recommend()``, ``copy(route)``."""

    def __init__(self, model_name, results, notes, inputs, spec=None, model_problem=""):
        self.model_name = model_name
        self._spec = spec
        self.results = {r.route: r for r in results}
        self.notes = list(notes)
        self.model_problem = model_problem  # the eager model's own trouble (training mode, randomness), if any
        self.inputs = inputs  # label -> tuple of arguments, as compared ("size N in dim D" by trace and script only)

    def status(self, route: str) -> str:
        if route not in self.results:
            raise KeyError(f"this diagnosis did not run route {route!r}; it ran {', '.join(self.results)}")
        return self.results[route].status

    def parity(self, route: str):
        """The parity table of a route that converted: every input compared, the diverging ones marked."""
        result = self.results.get(route)
        if result is None:
            raise KeyError(f"this diagnosis did not run route {route!r}; it ran {', '.join(self.results)}")
        if result.parity is None:
            raise ValueError(f"route {route!r} {result.status}: there is no comparison to show")
        return result.parity

    def copy(self, route: str):
        """The converted copy of a route that worked, reloaded here from its saved file (to draw or call it)."""
        result = self.results.get(route)
        if result is None:
            raise KeyError(f"this diagnosis did not run route {route!r}; it ran {', '.join(self.results)}")
        if result.copy is None and getattr(result, "_saved", None) is None:
            raise ValueError(f"route {route!r} {result.status}: there is no copy to show ({result.reason or 'no file'})")
        if result.copy is None:
            with tempfile.TemporaryDirectory(prefix="diagnose-") as folder:
                spec = self._spec() if route == "onnx" and self._spec else None
                result.copy = _load(route, *result._saved, folder, spec)
        return result.copy

    def recommend(self) -> str:
        """One sentence: the route to use and why, from the routes that ran."""
        ran = self.results
        ok = [r for r in ("export", "aoti", "script", "onnx", "trace") if r in ran and ran[r].status == "ok"]
        # a route that takes every size eager takes comes before one that refuses some (script before an export
        # that keeps one side of a branch on the batch); the trace, right only on the paths it recorded, comes last
        refuses = lambda r: ran[r].refuses_sizes  # a batch-1 example's copy too: a new example may branch otherwise
        ok = ([r for r in ok if r != "trace" and not refuses(r)]
              + [r for r in ok if r != "trace" and refuses(r)] + [r for r in ok if r == "trace"])
        diverging = [r for r, res in ran.items() if res.status == "diverges"]
        one = len(diverging) == 1
        warn = (f" Do not ship {' or '.join(diverging)}: {'its copy gives' if one else 'their copies give'} other "
                f"answers than eager, {'refuses' if one else 'refuse'} inputs eager takes, or "
                f"{'loses' if one else 'lose'} state eager keeps." if diverging else "")
        if self.model_problem:  # the model, not the routes, explains the verdicts: say that first
            tail = (f" The routes that diverge ({', '.join(diverging)}) may differ because of that, not because of the "
                    "route." if diverging else " Until then, each route was compared with a model you would not ship.")
            return f"Fix the eager model first, then diagnose again: {self.model_problem}.{tail}"
        caveat = lambda r: ((" It refuses some input sizes eager takes: see its notes." if refuses(r) and not ran[r].batch_one
                             else "")
            + (" Its copy refuses other batches because the example has batch 1, which torch.export fixes: convert "
               "again with a batch of 2 or more, and diagnose that copy (a forward that branches on the batch size "
               "may then take the other branch at batch 1)." if ran[r].refuses_sizes and ran[r].batch_one else "")
            + (" Its copy takes only the example's size in a dimension where eager takes others: see its notes."
               if ran[r].fixed_sizes else "")
            + (" It agreed only on the paths the inputs took: see its notes." if ran[r].untested else "")
            + (" It was checked with forward's options at their defaults only: see its notes." if ran[r].defaults_kept
               else "")
            + (" Its copy holds a string argument fixed at the example's value: see its notes." if ran[r].fixed_strings
               else "")
            + {"keeps": " Its copy does not change its input in place as eager does: see its notes.",
               "changes": " Its copy changes its input in place where eager does not: see its notes.",
               "otherwise": " Its copy changes its input in place otherwise than eager: see its notes."
               }.get(ran[r].input_effect, "")
            + (" Every output was empty, so it agreed on emptiness only: see its notes." if ran[r].empty else "")
            + (" Its outputs were NaN (or within the tolerance of zero), so it agreed on no number that tells: see "
               "its notes." if ran[r].nan else "")
            + (" Every integer input held one value, so it was checked on that value only: see its notes."
               if ran[r].one_integer else "")
            + (" Its copy returns other types than eager (keys lost, a tensor for a number, a list for a tuple): see "
               "its notes."
               if ran[r].retyped else "")
            + (" Eager's outputs (or a part of them) were within the tolerance of zero, so agreeing there says little: "
               "see its notes." if ran[r].tiny else "")
            + (" The tracer warned that it recorded a value as a constant (its message is in the notes): if that "
               "value comes from the input, inputs that change it may disagree." if ran[r].tracer_warned else ""))
        best = ok[0] if ok else None
        if best == "aoti" and "export" not in ran:  # only the package was tried: say what agreed, built on export
            return ("Use torch.export: AOTInductor's package, built from torch.export, agrees with eager on every input "
                    "it accepts (the export itself was not tried alone: pass routes= with export to see its row), and "
                    "it is the route PyTorch develops." + caveat(best) + warn)
        if best in ("export", "aoti"):
            return ("Use torch.export: it agrees with eager on every input it accepts, and it is the route PyTorch develops, "
                    "on to AOTInductor (server) or ExecuTorch (device)." + caveat(best) + warn)
        if best == "script":
            export = ran.get("export")
            state = ("torch.export refuses other batches here, because the example has batch 1: convert again with "
                     "a batch of 2 or more, and diagnose that copy" if export and export.status == "ok" and export.batch_one
                     else "torch.export refuses some input sizes eager takes here (see its row)"
                     if export and export.status == "ok" else
                     f"torch.export {'fails' if export.status == 'fails' else 'diverges'} here (see its row)"
                     if export else "torch.export was not tried")
            foreign = ran["script"].foreign_ops
            what = "an operator of another library" if len(foreign) == 1 else "operators of other libraries"
            linked = (f" Its program calls {', '.join(foreign[:3])}, {what}: the C++ program "
                      f"must link that library's C++ build too (for torchvision::, libtorchvision built against "
                      f"LibTorch), as Python must import it before loading." if foreign else "")
            return ("Use torch.jit.script for a LibTorch deployment today, and plan the move to torch.export: "
                    f"{state}." + linked + caveat("script") + warn)
        if best == "onnx":
            return "ONNX agrees: ship it with ONNX Runtime." + caveat("onnx") + warn
        if best == "trace":
            alone = ("Only the trace agrees" if len(ran) > 1 else
                     "The trace, the one route tried, agrees (pass routes= with more to compare them)")
            return (f"{alone}, and only on the inputs tried: add inputs that take every branch "
                    "before trusting it." + caveat("trace") + warn)
        failing = [res for res in ran.values() if res.status == "fails"]
        first = ran.get("export") if "export" in ran and ran["export"].status == "fails" else (failing[0] if failing else None)
        hint = f" Start with {first.route}'s failure: {as_sentence(first.reason.rstrip(' :'))}" if first else ""
        return "No route agrees with eager yet." + hint + warn

    # ---------------------------------------------------------------- display
    def rows(self):
        return [(r.route, r.status, r.detail(), r.seconds) for r in self.results.values()]

    def _inputs_text(self) -> str:
        """'9 input(s)', and how many of them only some routes compared (another size outside the batch)."""
        resized = sum(1 for label in self.inputs if _DIM_VARIANT.match(label))
        others = [r for r in self.results if r not in _ROUTES_ON_OTHER_DIMS]
        if not resized or not others:
            return f"{len(self.inputs)} input(s)"
        ran = [r for r in self.results if r in _ROUTES_ON_OTHER_DIMS]
        return (f"{len(self.inputs)} input(s), {resized} of them with another size outside the batch "
                f"({' and '.join(ran)} only)")

    def __str__(self):
        head = f"Diagnosis of {self.model_name} on {self._inputs_text()}"
        lines = [head, "-" * len(head)]
        for r in self.results.values():
            lines.append(f"{r.mark} {r.route:<7} {r.status:<9} {r.seconds:5.1f} s  {r.detail()}")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"→ {self.recommend()}")
        return "\n".join(lines)

    def __repr__(self):
        return f"<Diagnosis of {self.model_name}: " + ", ".join(f"{k} {v.status}" for k, v in self.results.items()) + ">"

    def _repr_html_(self):
        colours = {"ok": "#1a7f37", "diverges": "#9a6700", "fails": "#cf222e"}
        rows = "".join(
            f"<tr><td><b>{html.escape(r.route)}</b></td>"
            f"<td style='color:{colours[r.status]};font-weight:bold'>{r.mark} {r.status}</td>"
            f"<td style='text-align:left'>{html.escape(r.detail())}</td>"
            f"<td style='text-align:right'>{r.seconds:.1f} s</td></tr>" for r in self.results.values())
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        return (f"<div><b>Diagnosis of {html.escape(self.model_name)}</b> on {html.escape(self._inputs_text())}"
                "<table><thead><tr><th>route</th><th>verdict</th><th style='text-align:left'>why</th>"
                f"<th>time</th></tr></thead><tbody>{rows}</tbody></table>"
                + (f"<ul style='margin:0'>{notes}</ul>" if notes else "")
                + f"<div>→ {html.escape(self.recommend())}</div></div>")


# ---------------------------------------------------------------- checks of the learner's input

def _model_name(model) -> str:
    return type(model).__name__


def _check_model(model):
    if isinstance(model, type):
        raise TypeError(f"diagnose expects a model instance, got the class {model.__name__}: add parentheses, "
                        f"e.g. H.diagnose({model.__name__}(), example)")
    if isinstance(model, (str, os.PathLike)):
        raise TypeError("diagnose takes the eager model itself, not a file: a saved TorchScript file has already "
                        "taken a route (H.migrate(path, example) checks one against torch.export)")
    if isinstance(model, torch.jit.ScriptModule):  # tracing one hands it back unchanged: a trace row would compare it with itself
        raise TypeError("diagnose takes the eager model, and this one is already a TorchScript copy (scripted or traced): "
                        "pass the nn.Module it was made from, or check the copy against torch.export with "
                        "H.migrate(copy, example)")
    if is_exported_program(model):
        raise TypeError("diagnose takes the eager model, and this is already an ExportedProgram: pass the nn.Module it "
                        "was exported from")
    if not isinstance(model, torch.nn.Module):
        advice = ("wrap a function in a small nn.Module" if callable(model) else
                  "pass the model itself (an nn.Module instance)")
        raise TypeError(f"diagnose expects an nn.Module, got {type(model).__name__}: {advice}")
    required = _required_keyword_only(model)
    if required:  # no example can reach it: every route (and the check) calls forward with positional arguments
        names = ", ".join(required)
        raise TypeError(f"diagnose: forward's keyword-only argument{'s' * (len(required) > 1)} {names} "
                        f"(after the *) must be given by name, and the routes call forward with positional arguments "
                        f"only: wrap the model in a module whose forward takes {names} positionally and passes "
                        f"{'them' if len(required) > 1 else 'it'} on by name")


def _required_keyword_only(model) -> list:
    """The names of forward's keyword-only parameters that have no default."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):  # no signature to read: nothing to say
        return []
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty]


def _as_call(example) -> tuple:
    """An example as the tuple of positional arguments (a tuple means several arguments)."""
    if example is None or isinstance(example, (str, bytes)):
        raise TypeError(f"diagnose: the example is an input for the model (a tensor, a list or dict of them, or a "
                        f"tuple with one per argument), got {type(example).__name__}")
    if isinstance(example, tuple) and not example:
        raise ValueError("diagnose: the example is an empty tuple: pass one input, or a tuple with one input per argument")
    if inspect.isgenerator(example) or isinstance(example, (map, filter, zip, range)):  # read once, then empty
        raise TypeError(f"diagnose: the example is a {type(example).__name__}, which gives its items once: pass the "
                        "input itself, or tuple(...) of the arguments")
    _refuse_numpy(example, "the example")
    refuse_meta(example, "diagnose")
    parts = torch.utils._pytree.tree_leaves(example)  # through tuples, lists, dicts and registered dataclasses
    if parts and all(isinstance(part, (bool, int, float)) for part in parts):
        # the comparisons read tensors: with none, every route would "fail" in the diagnosis itself
        raise ValueError(f"diagnose: the example holds Python numbers only ({repr(example)[:40]}): the diagnosis "
                         "compares tensors, so it needs one among forward's arguments; for a forward of numbers "
                         "only, compare a few calls of torch.jit.script(model) with eager yourself (torch.export "
                         "keeps a number argument as a constant)")
    return example if isinstance(example, tuple) else (example,)


def _passed_through(error, part) -> bool:
    """Whether ``error``, or an error it was raised from, passed through a file whose path holds ``part``."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        tb = error.__traceback__
        while tb is not None:
            if part in tb.tb_frame.f_code.co_filename.replace(os.sep, "/"):
                return True
            tb = tb.tb_next
        error = error.__cause__ or error.__context__
    return False


def _refuse_numpy(value, what):
    """The routes take tensors: a NumPy array would fail later, in a comparison, with numpy's words; say it now."""
    array = numpy_part(value)
    if array is not None:
        raise TypeError(f"diagnose: {what} holds a NumPy {type(array).__name__}; the export routes take tensors: "
                        "convert it with torch.as_tensor(...)")


def _time_limit(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or value != value:
        raise ValueError(f"diagnose: time_limit is seconds per route, a number > 0 (e.g. 60); got {value!r}")
    return float(value)


def _routes(routes) -> tuple:
    if routes is None:
        return DEFAULT_ROUTES
    if isinstance(routes, str):
        routes = [r.strip() for r in routes.split(",") if r.strip()]
    routes = tuple(routes)
    unknown = [r for r in routes if r not in ALL_ROUTES]
    if unknown or not routes:
        raise ValueError(f"diagnose: routes are some of {', '.join(ALL_ROUTES)}; got {', '.join(map(str, unknown)) or 'none'}")
    return routes


# ---------------------------------------------------------------- where the failure came from

# Symbolic-shape bookkeeping torch appends to data-dependent errors: true, but no help to the learner.
_TORCH_NOISE = re.compile(r"\s*\((?:unhinted|Size-like symbols):(?:[^()]|\([^()]*\))*\)\.?")

# The exporters' own packages: a line there is never the model's.
_TOOL_PACKAGES = ("onnx", "onnxscript", "onnxruntime", "onnx_ir", "executorch", "sympy")

_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def _is_learner_file(filename: str) -> bool:
    if not filename or filename.startswith("<"):  # <string>, <frozen ...>: generated code, no line to show
        return False
    real = os.path.realpath(filename) if os.path.exists(filename) else filename
    return not (real.startswith(_TORCH_DIR) or real.startswith(_HELPERS_DIR) or "site-packages" in real
                or real.startswith(sys.prefix) or real.startswith(sys.base_prefix))


def _source_line(filename, lineno) -> str:
    text = linecache.getline(filename, lineno).strip()
    place = code_place(filename, lineno) if filename.startswith("/") else f"{filename}:{lineno}"
    return place + (f": {text}" if text else "")


def _learner_line(error: BaseException) -> str:
    """The learner's line that triggered ``error``: from the message's source range, else the traceback."""
    for filename, lineno in reversed(_FILE_LINE.findall(str(error))):
        if _is_learner_file(filename):
            return _source_line(filename, int(lineno))
    frames = []
    seen = set()
    chain = error
    while chain is not None and id(chain) not in seen:  # the cause often hides in __cause__/__context__
        seen.add(id(chain))
        frames += traceback.extract_tb(chain.__traceback__)
        chain = chain.__cause__ or chain.__context__
    learner = [f for f in frames if _is_learner_file(f.filename)]
    if learner:
        return _source_line(learner[-1].filename, learner[-1].lineno)
    # A library model (torchvision's): its own line is the next best thing, shown from the package's folder.
    library = [f for f in frames if "site-packages" in f.filename
               and not os.path.realpath(f.filename).startswith((_TORCH_DIR, _HELPERS_DIR))
               and not any(f"site-packages/{tool}" in f.filename for tool in _TOOL_PACKAGES)]
    if library:
        f = library[-1]
        shown = f.filename.split("site-packages/", 1)[1]
        text = linecache.getline(f.filename, f.lineno).strip()
        return f"{shown}:{f.lineno}" + (f": {text}" if text else "")
    # torch's own code the message points into (a parametrization, a layer's forward): no line of the learner's,
    # but the file says which part of torch the model used there
    own = [(f, n) for f, n in _FILE_LINE.findall(str(error))
           if os.path.realpath(f).startswith(_TORCH_DIR) and not f.replace(os.sep, "/").split("/torch/")[-1].startswith("jit/")]
    if own:
        filename, lineno = own[-1]
        shown = filename.replace(os.sep, "/").split("/torch/", 1)[-1]
        text = linecache.getline(filename, int(lineno)).strip()
        return f"torch's own {shown}:{lineno}" + (f": {text}" if text else "")
    return ""


def _library_of(where: str) -> str:
    """The installed package a ``where`` line points into ('torchvision/ops/boxes.py:86: ...'), or ''."""
    first = where.split("/", 1)[0] if "/" in where.split(":", 1)[0] else ""
    if not first.isidentifier():
        return ""
    import importlib.util
    try:
        spec = importlib.util.find_spec(first)
    except (ImportError, ValueError):
        return ""
    return first if spec is not None and spec.origin and "site-packages" in spec.origin else ""


def _gallery_fix(message: str, where: str = "") -> str:
    """The limitations gallery's fix for this error, when an entry matches it; else a known export hint.

    A gallery entry matches when its error fragment is in the message and, for fragments that many
    errors share ("is currently not supported"), when the entry's construct is on the failing line too.
    """
    lowered = message.lower()
    if "this function exists as an attribute on the python module" in lowered and "closed over" in lowered:
        return _CLOSED_OVER
    try:
        from .gallery import GALLERY
    except Exception:  # the gallery is a nice-to-have here; a diagnosis must not fail for it
        GALLERY = []
    line = where.split(": ", 1)[-1] if where else ""
    for entry in GALLERY:
        fragment = (getattr(entry, "fragment", "") or "").lower()
        if not fragment or fragment not in lowered:
            continue
        construct = getattr(entry, "code_fragment", "") or ""
        specific = len(fragment) > 45 or (construct and construct in line)
        if specific:
            return f"{entry.title} (see the gallery in 06, entry {entry.key!r})"
    return known_hint(message)


# Messages of errors that only wrap the real one (the ONNX exporter's, the converter's).
_WRAPPERS = ("failed to export", "an error occurred", "failed to convert", "conversionerror")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cause(error: BaseException) -> BaseException:
    """torch wraps the real error (the converter, the ONNX exporter): follow the chain to the most specific one."""
    seen = set()
    best = error
    chain = error
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        text = str(chain).strip()
        if text and not text.lower().startswith(_WRAPPERS):
            best = chain
            break
        chain = chain.__cause__ or chain.__context__
    return best


# ---------------------------------------------------------------- the routes (run inside the worker)

def _as_signature(model, specs) -> tuple:
    """``specs`` (one per argument) grouped as forward's parameters: the arguments a ``*inputs`` parameter collects
    get one tuple of specs, as torch.export matches dynamic_shapes to the signature."""
    try:
        parameters = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError, AttributeError):
        return tuple(specs)
    star = next((i for i, p in enumerate(parameters) if p.kind == inspect.Parameter.VAR_POSITIONAL), None)
    if star is None or star >= len(specs):  # nothing for *inputs to collect: no entry for it either
        return tuple(specs)
    return tuple(specs[:star]) + (tuple(specs[star:]),)


def _dynamic_batch(model, args, batch_dim=0):
    """dynamic_shapes that let export decide each tensor's batch dimension (AUTO specialises where it must)."""
    from torch.export import Dim
    def spec(a, d):
        if isinstance(a, torch.Tensor):
            return {d: Dim.AUTO} if d is not None and a.dim() > d else None
        if isinstance(a, (list, tuple)):
            return type(a)(spec(x, d) for x in a)
        if isinstance(a, dict):
            return {k: spec(v, d) for k, v in a.items()}
        return None
    return _as_signature(model, [spec(a, d) for a, d in zip(args, per_input_dims(args, batch_dim))])


_BATCH_ONE_NOTE = "the example has batch 1"  # how the notes on a batch-1 example begin


_FIXED_NOTE = "eager also takes other sizes in dimension"  # how the note on sizes the copy fixed begins


def _sizes_note(model, args, shapes, batch_dim=0, others=(), strict=False) -> str:
    """What a converted copy holds fixed that eager does not, or "": from the copy's input shapes (None for a dynamic
    size), with each fixed size n tried on a copy of eager at other sizes (n+1 to n+4, 2n, 3n) until eager takes two
    of them; alone first, then together with every other fixed size n (two inputs that must agree, q and k).
    A size eager takes fewer than two of these (a Linear's features; 33 but not 34 after a floor pooling) is no
    restriction worth a Dim, so it goes unsaid; one eager takes only some of (even lengths, for a model that pools in
    pairs) is said. For those sizes, one more export with Dim.AUTO on them, run on the sizes eager took, tells whether
    a Dim frees them, or the code ties them to the example's. A size of 1 (not the batch's, which has a note of its
    own) cannot be freed from this example at all: export fixes 0 and 1 (0/1 specialization). ``others``: the
    learner's own inputs (argument tuples eager ran); the Dim.AUTO program runs those too, as they are. ``strict``:
    the export mode that worked for the copy, which the Dim.AUTO export uses too."""
    flat = leaves(list(args))  # the copy's inputs are the tensors inside lists and dicts, in this order
    if len(shapes) != len(flat) or any(t.dim() != len(shape) for t, shape in zip(flat, shapes)):
        return ""  # the copy's inputs are not the example's tensors one for one: nothing is said
    batch_dims = [d for a, d in zip(args, per_input_dims(args, batch_dim)) for _ in leaves(a)]
    fixed = {(i, d): n for i, shape in enumerate(shapes) for d, n in enumerate(shape)
             if n is not None and n != 0 and not (n == 1 and d == batch_dims[i])}  # the batch-1 note: a batch of 1
    free, ones, taken, seen = [], [], {}, set()  # groups of (tensor, dimension); the other sizes eager took there
    limit = None  # seconds eager may take on a resized example
    eager_refused = {}  # group -> the sizes eager refused among those tried (odd ones, for a model that pools pairs)
    for position, n in fixed.items():
        if position in seen:
            continue
        together = tuple(p for p, m in fixed.items() if m == n and p not in seen)  # q and k's shared length
        for group in ((position,), together) if len(together) > 1 else ((position,),):
            not_taken = []
            if limit is None:  # measured once, for every size tried below
                limit = _example_limit(model, args)
            sizes = _sizes_eager_takes(model, args, group, n, not_taken, limit)
            if len(sizes) == 2:
                (free if n > 1 else ones).append(group)
                taken[group] = sizes
                eager_refused[group] = [m for m in not_taken if m < max(sizes)]  # those tried before the second
                seen.update(group)
                break
    if not free and not ones:
        return ""
    freed = _freed_by_auto(model, args, shapes, free, taken, others, strict) if free else {}
    cut = freed is _PROBE_CUT
    freed = None if cut else freed

    one_for_one = len(flat) == len(args) and all(isinstance(a, torch.Tensor) for a in args)
    whose = "input" if one_for_one else "tensor"  # in a list or dict: the tensors counted in order

    def words(groups):  # "1", "0 and 2", "1 of input 0 and 2 of input 1", "1 of input 0 and 1 of input 1 together"
        names = [" and ".join(f"{d} of {whose} {i}" if len(flat) > 1 else str(d) for i, d in group)
                 + (" together" if len(group) > 1 else "") for group in groups]
        return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]

    def plural(groups):
        return "s" * (len(groups) > 1 or len(groups[0]) > 1)

    said = sorted(free + ones)
    shown = ", ".join("×".join("·" if n is None else str(n) for n in shape) or "() (no dimensions)" for shape in shapes)
    dot = " (· a dynamic size)" if any(n is None for shape in shapes for n in shape) else ""
    each = [" and ".join(map(str, taken[g])) + " ran"  # "14 and 16 ran, 13 and 15 did not"
            + (f", {_and(eager_refused[g])} did not" if eager_refused.get(g) else "") for g in said]
    tried = f"{each[0]}, in each" if len(each) > 1 and len(set(each)) == 1 else "; ".join(each)  # height and width alike
    note = (f"{_FIXED_NOTE}{plural(said)} {words(said)} ({tried}), but the copy takes the "
            f"example's there: {shown}{dot}")
    # None: the Dim.AUTO export itself failed, so nothing is known of what ties those sizes (not "tied")
    tied = [] if freed is None else [g for g in free if g not in freed]
    if cut:
        note += (f"; whether Dim.AUTO frees {'it' if len(free) == 1 else 'them'} was not found out: that export took "
                 f"more than {AUTO_PROBE_SECONDS:.0f} s here (try it yourself with dynamic_shapes and Dim.AUTO)")
    ran = {g: r for g, r in (freed or {}).items() if not r[2]}
    refused = {g: r for g, r in (freed or {}).items() if r[2]}
    if ran:
        narrowed = [f"{lo} to {'∞' if hi is None else hi}" for lo, hi, _ in ran.values()
                    if lo == "?" or lo > 2 or hi is not None]  # from 2 up is every Dim's range (0/1 specialization)
        only = f", though it declares only sizes {', '.join(narrowed)}" if narrowed else ""
        note += (f"; Dim.AUTO frees dimension{plural(list(ran))} {words(list(ran))} (its program ran those "
                 f"sizes{only}): export with Dim.AUTO there (a Dim of your own must fit the code's rules on that size, "
                 "and torch's error says when it does not), then run each size you ship through the program")
    if refused:
        sizes = "; ".join(" and ".join(map(str, r[2])) for r in refused.values())
        note += (f"; with Dim.AUTO, export makes dimension{plural(list(refused))} {words(list(refused))} dynamic, but "
                 f"its program still refuses {sizes}, which eager takes: the code's own checks on that size tie it, so "
                 "run each size you ship, export one program per size, or use torch.jit.script")
    if tied:
        note += (f"; even with Dim.AUTO, export keeps dimension{plural(tied)} {words(tied)} at the example's "
                 "size: the code (yours, or a layer's) ties it, so export one program per size you ship, or use "
                 "torch.jit.script")
    if ones:
        note += (f"; export fixes a size of 1 (0/1 specialization), so no Dim frees dimension{plural(ones)} "
                 f"{words(ones)} from this example: give an example with a size of 2 or more there")
    return note


def _and(numbers) -> str:
    """'13', '13 and 15', '17, 18, 19 and 20'."""
    words = [str(n) for n in numbers]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _with_resized(args, group, size, fresh=False):
    """A copy of ``args`` with each (tensor, dimension) of ``group`` given ``size``; tensors counted as ``leaves``.
    ``fresh``: the resized tensors get new values in the example's range (``_fresh_like``), not copies of its own."""
    count = iter(range(len(leaves(list(args)))))

    def resize(t):
        i = next(count)
        resized = False
        for j, d in group:
            if j == i:
                t, resized = _resized(t, size, d), True
        return _fresh_like(t, seed=i) if fresh and resized else t
    return tuple(rebuild(list(own_copy(args)), resize))


def _fresh_like(t, seed=0):
    """``t`` with new values in the range of its own (floats uniform between its least and greatest, integers drawn
    from that range, bools at random), from a seeded generator: the same on every run. A longer input made of copies
    of the example's own steps agrees with a trace that stopped early on any loop whose later steps add nothing new
    (a running max, the set of ids seen); new values do not."""
    if t.numel() == 0 or t.is_complex() or not (t.is_floating_point() or t.dtype == torch.bool or _is_int(t)):
        return t
    generator = torch.Generator().manual_seed(1234 + seed)
    if t.dtype == torch.bool:
        return torch.rand(t.shape, generator=generator) < 0.5
    low, high = t.min().item(), t.max().item()
    if t.is_floating_point():
        if not (math.isfinite(low) and math.isfinite(high)) or low == high:
            return t  # NaN, inf or one value throughout: its values may be the point (a mask, a constant)
        return (torch.rand(t.shape, generator=generator, dtype=torch.float64) * (high - low) + low).to(t.dtype)
    return torch.randint(int(low), int(high) + 1, t.shape, generator=generator, dtype=t.dtype)


def _other_sizes(n) -> list:
    """The sizes tried in place of a size ``n``, in order, once each (n + 4 == 2n at 4)."""
    return list(dict.fromkeys((n + 1, n + 2, n + 3, n + 4, 2 * n, 3 * n)))


def _example_limit(model, args) -> float:
    """Seconds eager may take on a resized example: 50 times its time on the example itself, at least 5 s."""
    started = time.perf_counter()
    with torch.no_grad():
        fresh_copy(model)(*own_copy(args))
    return variant_seconds(time.perf_counter() - started)


def _sizes_tried(model, args, group, n, limit, fresh=False):
    """Each of ``_other_sizes(n)`` in turn, at every position of ``group``, run on a fresh copy of eager (no state
    carried between sizes): (size, True) when eager took it, (size, False) when it refused it (odd, when it pools in
    pairs), and (size, None) when it did not finish within ``limit``, after which none is tried (a loop that waits for
    the example's size would cost ``limit`` again for each). ``fresh``: as for ``_with_resized``."""
    for size in _other_sizes(n):
        try:
            with torch.no_grad():
                _, answered = call_within(limit, fresh_copy(model), *_with_resized(args, group, size, fresh))
        except Exception:
            yield size, False
            continue
        yield size, (True if answered else None)
        if not answered:
            return


def _sizes_eager_takes(model, args, group, n, refused=None, limit=None) -> list:
    """Up to two sizes other than ``n`` that eager takes with every position of ``group`` at that size; the sizes it
    refused before those go into ``refused`` (a list) when one is given. A size eager does not finish within 50 times
    the example's time is not taken, and none after it is tried: the route's own time limit is not spent on eager."""
    limit = _example_limit(model, args) if limit is None else limit
    taken = []
    for size, took in _sizes_tried(model, args, group, n, limit):
        if took is False and refused is not None:
            refused.append(size)
        if took:
            taken.append(size)
            if len(taken) == 2:
                break
    return taken


def _spec_tree(value, specs):
    """``value``'s structure with each tensor replaced by the next of ``specs``, anything else by None."""
    if isinstance(value, torch.Tensor):
        return next(specs)
    if isinstance(value, dict):
        return {k: _spec_tree(v, specs) for k, v in value.items()}
    if isinstance(value, list):
        return [_spec_tree(v, specs) for v in value]
    if isinstance(value, tuple):
        return tuple(_spec_tree(v, specs) for v in value)
    return None  # a number argument: no dynamic shapes of its own


AUTO_PROBE_SECONDS = 30.0  # the sizes note's export with Dim.AUTO: past this, the note says it was not tried
_PROBE_CUT = "cut"


def _freed_by_auto(model, args, shapes, groups, taken, others=(), strict=False):
    """Which of ``groups`` an export with Dim.AUTO on them (and on the sizes already dynamic) leaves dynamic, each
    with the range that export declares (low, high or None) and the sizes eager took there that its program still
    refuses (a `// 4 == 1` check of the code's own, or a branch on the size). The sizes tried are ``taken`` and
    those of the learner's own inputs ``others`` at that group, each of those run as it is. None when the export
    fails (in ``strict`` mode when that is the one that exported the copy)."""
    from torch.export import Dim
    from ..routes.aoti import size_range  # the range H.aoti_package records, read the same way
    positions = {p for group in groups for p in group}
    specs = iter([{d: Dim.AUTO for d, n in enumerate(shape) if n is None or (i, d) in positions} or None
                  for i, shape in enumerate(shapes)])
    wanted = [_spec_tree(a, specs) for a in args]  # each tensor's spec, where the tensor sits
    try:
        # a probe for a note: on a large model Dim.AUTO on several sizes can take minutes (swin_t: about 170 s on
        # 2 cores, its plain export 4 s), which would push the route past its own time limit
        program, answered = call_within(AUTO_PROBE_SECONDS, lambda: torch.export.export(
            fresh_copy(model), own_copy(args), dynamic_shapes=_as_signature(model, wanted), strict=strict))
        if not answered:
            return _PROBE_CUT
        sizes = _program_sizes(program)
        again = _program_shapes(program, sizes)
        module = program.module()
    except Exception:
        return None
    freed = {}
    for group in groups:
        if not all(i < len(again) and again[i][d] is None for i, d in group):
            continue
        refused = []
        for size in taken[group]:
            try:
                with torch.no_grad():
                    module(*_with_resized(args, group, size))
            except Exception:  # the program's own check on that size
                refused.append(size)
        for size, other in _own_sizes(others, group, len(shapes)):
            if size in refused:
                continue
            try:
                with torch.no_grad():
                    module(*own_copy(other))
            except Exception:  # a size of the learner's own that the program refuses (a branch on it)
                refused.append(size)
        i, d = group[0]
        low, high = size_range(program, sizes[i][d]) or ("?", None)  # a size torch wrote as 2*s0 has no range
        freed[group] = (low, high, refused)
    return freed


def _own_sizes(others, group, count) -> list:
    """(size, arguments) for each of the learner's inputs ``others`` whose tensors all have one size at ``group``'s
    positions, other than the example's sizes: at most one input per size. Inputs of another structure are left out."""
    found = {}
    for other in others:
        flat = leaves(list(other))
        if len(flat) != count or any(d >= flat[i].dim() for i, d in group):
            continue
        sizes = {int(flat[i].shape[d]) for i, d in group}
        if len(sizes) == 1:
            found.setdefault(sizes.pop(), other)
    return list(found.items())


def _program_sizes(program) -> list:
    """The sizes (ints or torch's symbols) of an ExportedProgram's tensor inputs, in ``_program_shapes``' order."""
    user = set(program.graph_signature.user_inputs)
    return [tuple(node.meta["val"].shape) for node in program.graph.nodes
            if node.op == "placeholder" and node.name in user and isinstance(node.meta.get("val"), torch.Tensor)]


def _program_shapes(program, sizes=None) -> list:
    """The shapes of an ExportedProgram's tensor inputs (the learner's, not its weights), None for a symbolic size;
    from ``sizes`` (``_program_sizes(program)``) when the caller has them already."""
    ranges = program.range_constraints

    def size(n):  # a symbol whose range holds one value (a guard pinned it) is a fixed size too
        if isinstance(n, int):
            return n
        expr = getattr(getattr(n, "node", None), "expr", None)
        if getattr(expr, "is_number", False):  # a symbol torch has already replaced by its one value
            return int(expr)
        bounds = ranges.get(expr)
        if bounds is not None and bounds.lower == bounds.upper:
            return int(bounds.lower)
        return None

    return [tuple(size(n) for n in shape) for shape in (_program_sizes(program) if sizes is None else sizes)]


def _onnx_shapes(path) -> list:
    """The shapes of an ONNX file's inputs, None for a named (dynamic) size."""
    import onnx  # already imported by torch.onnx.export, which wrote the file
    inputs = onnx.load(str(path), load_external_data=False).graph.input
    return [tuple(d.dim_value if d.HasField("dim_value") else None for d in i.type.tensor_type.shape.dim)
            for i in inputs if i.type.HasField("tensor_type")]


def _batch_is(size, args, batch_dim=0) -> bool:
    """Whether every tensor argument that has the batch dimension holds ``size`` rows there."""
    found = [(a, d) for a, d in zip(args, per_input_dims(args, batch_dim))
             if isinstance(a, torch.Tensor) and d is not None and a.dim() > d]
    return bool(found) and all(a.shape[d] == size for a, d in found)


def _eager_takes_two(model, args, batch_dim=0) -> bool:
    """Whether a copy of eager runs the example with a batch of 2 (its rows repeated)."""
    try:
        with torch.no_grad():
            fresh_copy(model)(*with_batch(own_copy(args), 2, batch_dim))
        return True
    except Exception:
        return False


def _exported(model, args, batch_dim, notes, strict=False):
    """torch.export with a dynamic batch, else with the example's shapes (and a note saying so)."""
    try:
        return torch.export.export(model, args, dynamic_shapes=_dynamic_batch(model, args, batch_dim), strict=strict)
    except Exception:
        program = torch.export.export(model, args, strict=strict)
        notes.append("exported for the example's shapes only (a dynamic batch failed)")
        return program


def _export_program(model, args, notes, batch_dim=0, others=(), to="torch.export.export"):
    """The exported program of the copy, with its notes: strict=True is tried when the default fails, and the note
    says to pass it ``to`` the call that exports (torch.export.export, or H.aoti_package, which takes it too)."""
    strict = False
    try:
        program = _exported(model, args, batch_dim, notes)
    except Exception as default_error:
        # strict=True traces forward's bytecode instead of running it, and takes some code the default refuses (an
        # int() of a tensor's .item() used as a size); torch.onnx.export retries that way too, so the ONNX row of the
        # same model would otherwise pass where this one failed without a word
        strict_notes = []
        try:
            program = _exported(model, args, batch_dim, strict_notes, strict=True)
        except Exception:
            raise default_error from None
        strict = True
        first = _TORCH_NOISE.sub("", short_message(default_error, limit=160).splitlines()[0]).strip()[:120]
        notes.extend(strict_notes)
        notes.append(f"torch.export's default (strict=False) failed ({first}); strict=True, which traces forward's "
                     f"bytecode instead of running it, exported it: pass strict=True to {to}")
    fixed = _sizes_note(model, args, _program_shapes(program), batch_dim, others, strict)
    if fixed:
        notes.append(fixed)
    if _batch_is(1, args, batch_dim) and _eager_takes_two(model, args, batch_dim):  # once it exported: a failure
        # for another reason is not the batch's fault; and only if eager takes a batch of 2 (a reshape to 1 may not)
        notes.append(f"{_BATCH_ONE_NOTE}, which torch.export fixes at 1: give an example with a batch "
                     "of 2 or more, then diagnose that copy (its batch range starts at 2, and a forward that branches "
                     "on the batch size may answer a batch of 1 from the other branch, with no error)")
    program.course_strict = strict  # read by the aoti route: a strict export is another package in its cache
    return program


def _onnx_batch_fixed_at_one(path, args, batch_dim=0) -> bool:
    """True if every tensor input of the ONNX file at ``path`` has its batch dimension fixed at 1 (not a symbol)."""
    import onnx  # already imported by torch.onnx.export, which wrote the file
    inputs = onnx.load(str(path), load_external_data=False).graph.input
    dims = [i.type.tensor_type.shape.dim for i in inputs if i.type.HasField("tensor_type")]
    wanted = [d for a, d in zip(args, per_input_dims(args, batch_dim)) if isinstance(a, torch.Tensor)]
    if len(wanted) != len(dims):  # the file's inputs are not the example's tensors one for one: nothing to say
        return False
    firsts = [shape[d] for shape, d in zip(dims, wanted) if d is not None and len(shape) > d]
    return bool(firsts) and all(d.HasField("dim_value") and d.dim_value == 1 for d in firsts)


def _to_bytes(save, obj) -> bytes:
    buffer = io.BytesIO()
    save(obj, buffer)
    return buffer.getvalue()


def _warned_where(warning) -> str:
    """`` (in torch's own nn/modules/rnn.py:361)`` when a warning came from inside torch, so that a learner can tell
    a check in torch's layers from a decision in their own code; "" otherwise."""
    path = (warning.filename or "").replace("\\", "/")
    if "/torch/" not in path:
        return ""
    return f" (in torch's own {path.rsplit('/torch/', 1)[1]}:{warning.lineno})"


def _convert(route, model, args, folder, notes, batch_dim=0, others=(), cache_dir=None):
    """Convert, save and reload: what a deployment does. Returns (bytes of the saved file, suffix, record): the
    record is an AOTInductor package's input record, None for the other routes. ``others``: the
    learner's own inputs, which the notes on fixed sizes try too."""
    if route == "trace":
        buffers = {name: b.clone() for name, b in model.named_buffers()}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            traced = torch.jit.trace(model, args, check_trace=False)
        # tracing runs forward once: a buffer that call changes in place (a counter) is where the traced copy
        # starts from; a buffer the call replaces (self.mean = ...) leaves the copy holding the tensor from before
        copies = dict(traced.named_buffers())
        moved = [name for name, b in model.named_buffers() if name in buffers and not torch.equal(buffers[name], b)
                 and name in copies and copies[name].shape == b.shape and torch.equal(copies[name], b)]
        if moved:
            notes.append(f"tracing ran forward once, which changed the buffer{'s' * (len(moved) > 1)} "
                         f"{', '.join(moved[:3])}: the traced copy starts from those values, eager from the start")
        tracer = sorted({short_message(w.message, limit=110) + _warned_where(w) for w in caught
                         if issubclass(w.category, torch.jit.TracerWarning)})
        if tracer:
            notes.append(f"{_TRACER_NOTE}{tracer[0]}" + (f" (+{len(tracer) - 1} more)" if len(tracer) > 1 else ""))
        return _to_bytes(torch.jit.save, traced), ".pt", None
    if route == "script":
        return _to_bytes(torch.jit.save, torch.jit.script(model)), ".pt", None
    if route == "export":
        return _to_bytes(save_program, _export_program(model, args, notes, batch_dim, others)), ".pt2", None
    if route == "onnx":
        path = Path(folder) / "model.onnx"
        keep_onnx_function_table()  # as H.start does: diagnosing in a plain script exports to ONNX as often
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # torch.onnx.export reads a dict at the end of args as keyword arguments: an empty one after it
            # keeps a dict argument positional, as its documentation says
            positional = (*args, {}) if args and isinstance(args[-1], dict) else args
            torch.onnx.export(model, positional, str(path), dynamo=True,
                              dynamic_shapes=_dynamic_batch(model, args, batch_dim), verbose=False, external_data=False)
        fixed = _sizes_note(model, args, _onnx_shapes(path), batch_dim, others)
        if fixed:
            notes.append(fixed)
        if (_batch_is(1, args, batch_dim) and _onnx_batch_fixed_at_one(path, args, batch_dim)
                and _eager_takes_two(model, args, batch_dim)):
            notes.append(f"{_BATCH_ONE_NOTE}, and the ONNX file fixes its inputs' batch dimension at 1: give an "
                         "example with a batch of 2 or more, then diagnose that file (a forward that branches on the "
                         "batch size may answer a batch of 1 from the other branch)")
        return path.read_bytes(), ".onnx", None
    if route == "aoti":
        program = _export_program(model, args, notes, batch_dim, others, to="H.aoti_package")
        # what H.aoti_package keeps beside a package, so that the copy checks its inputs as H.load_aoti's do: the
        # compiled code itself checks none of the program's ranges (10 shows torch's own loader running others)
        from ..routes.aoti import input_record
        return _aoti_bytes(program, model, args, batch_dim, folder, cache_dir), ".pt2", input_record(program, args, model)
    raise ValueError(route)


def _aoti_bytes(program, model, args, batch_dim, folder, cache_dir) -> bytes:
    """The compiled package's bytes: from the course's AOTInductor cache when this model, example and torch were
    compiled there before (a diagnosis run again on an unchanged model takes seconds, not a compile), else compiled
    now and kept there, under a temporary name renamed into place when complete."""
    from ..course.workdir import atomic_write_bytes
    from ..routes.aoti import aoti_cache_key, _cached_target
    # the key of H.aoti_package, with what decides this route's export in place of dynamic_shapes
    key = aoti_cache_key(model, args, ("diagnose", batch_dim, "strict") if getattr(program, "course_strict", False)
                         else ("diagnose", batch_dim))
    target, _ = _cached_target("diagnose", key, cache_dir)
    if target.is_file():
        return target.read_bytes()
    path = Path(folder) / "model_aoti.pt2"
    torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    data = path.read_bytes()
    try:
        atomic_write_bytes(target, data)  # not there: the path is in the folder to write
    except OSError:  # a cache that cannot be written costs the next diagnosis a compile, nothing more
        pass
    return data


class _OnnxCopy:
    """An ONNX file in onnxruntime, answering in the eager model's output structure (dicts by key)."""

    keeps_state = False  # an ONNX graph holds no values from one call to the next (H.parity reads this)

    def __init__(self, path, spec, data: bytes):
        import onnxruntime as ort  # imported here: only the onnx route needs it
        # spec is (treespec, kinds): ONNX drops None outputs, so they are put back where eager had them
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.spec = spec
        self._bytes = data  # the file's contents (the file itself is a temporary one): for .proto

    @property
    def proto(self):
        """The ONNX model itself (an onnx.ModelProto): ``H.onnx_op_types(copy.proto)`` counts its operators."""
        import onnx  # imported here: only the onnx route needs it
        return onnx.load_from_string(self._bytes)

    def __repr__(self):
        return ("<an ONNX copy in onnxruntime: call it like the model; it has no TorchScript graph or code "
                "(H.onnx_op_types(copy.proto) counts its ONNX operators)>")

    def __call__(self, *args):
        from torch.utils._pytree import tree_flatten, tree_unflatten
        leaves = [a for a in tree_flatten(args)[0] if isinstance(a, torch.Tensor)]
        names = [i.name for i in self.session.get_inputs()]
        if len(names) != len(leaves):
            raise TypeError(f"the ONNX file takes {len(names)} tensor input(s), got {len(leaves)}")
        outs = iter(torch.from_numpy(o) for o in self.session.run(None, {n: t.numpy() for n, t in zip(names, leaves)}))
        treespec, kinds = self.spec
        return tree_unflatten([None if kind == "none" else next(outs, None) for kind in kinds], treespec)


def _onnx_structure_note(spec) -> list:
    """A note when ONNX Runtime's flat list of arrays is not the shape of eager's output (a dict, a NamedTuple,
    nesting, a None), which _OnnxCopy rebuilt for the comparison: the learner's own calling code must rebuild it too."""
    from torch.utils._pytree import tree_unflatten
    treespec, kinds = spec
    shaped = tree_unflatten([torch.empty(0) if kind == "value" else None for kind in kinds], treespec)
    flat = isinstance(shaped, torch.Tensor) or (type(shaped) in (tuple, list)
                                                and all(isinstance(v, torch.Tensor) for v in shaped))
    if flat:
        return []
    count = kinds.count("value")
    dropped = " (None outputs left out)" if "none" in kinds else ""
    return [f"ONNX Runtime returns a flat list of {count} array{'s' if count != 1 else ''}{dropped}, where eager "
            f"returns {_nesting(shaped)}: this row put eager's structure back around them to compare; code that "
            "runs the .onnx file must do the same (its outputs come in eager's order, flattened)"]


def _load(route, data, suffix, record, folder, eager_out_spec):
    path = Path(folder) / f"copy_{route}{suffix}"
    path.write_bytes(data)
    if record is not None:  # an AOTInductor package's input record, read by load_aoti beside the package
        from ..routes.aoti import write_input_record
        write_input_record(path, record)
    if route in ("trace", "script"):
        return torch.jit.load(str(path))
    if route == "export":
        from ..routes.export_bridge import load_program  # its error names torch's reason, not "the warnings above"
        with _without_unused_symbol_notes():
            return load_program(str(path)).module()
    if route == "onnx":
        return _OnnxCopy(path, eager_out_spec, data)
    if route == "aoti":  # the course's loader: no aotinductor_* folder left behind, and no "No CUDA" notice
        from ..routes.aoti import load_aoti
        return load_aoti(path)
    raise ValueError(route)


class _without_unused_symbol_notes:
    """Drop one log line of torch.export.load, "Symbol u2 did not appear in the graph that was deserialized": a size
    the program computed from data (an unbacked symbol) that its saved graph no longer names. It is about torch's
    bookkeeping, not the copy, and would reach the learner as a red line under the cell. Every other record passes."""

    _LOGGER = "torch._export.serde.serialize"

    @staticmethod
    def filter(record) -> bool:
        return not str(record.msg).startswith("Symbol %s did not appear in the graph that was deserialized")

    def __enter__(self):
        logging.getLogger(self._LOGGER).addFilter(self.filter)

    def __exit__(self, *exc):
        logging.getLogger(self._LOGGER).removeFilter(self.filter)
        return False


def _batch_one_unchecked(path) -> str:
    """Why an exported copy can answer a batch of 1 otherwise than eager, read from its saved program."""
    try:
        lows = [int(r.lower) for r in torch.export.load(str(path)).range_constraints.values()]
    except Exception:  # noqa: BLE001 - the note is an aid; without the program there is nothing to read
        return ""
    if not lows or min(lows) < 2:
        return ""
    return ("the program's dynamic sizes start at 2 (torch.export assumes a size it keeps dynamic is neither 0 nor 1), "
            "yet it ran a batch of 1 without a check and answered otherwise: code that treats a batch of 1 apart "
            "(an `if x.shape[0] == 1`, say) keeps the side of larger batches there; check batch 1 on its own")


def _eager_spec(model, args):
    """The structure of eager's output, and which leaves are None (ONNX has no output for those)."""
    from torch.utils._pytree import tree_flatten
    with torch.no_grad():
        leaves, treespec = tree_flatten(model(*args))
    return treespec, ["none" if leaf is None else "value" for leaf in leaves]


# The label of a variant with another size in a dimension outside the batch ("size 6 in dim 1"), and the routes
# compared on it: their copies can be silently wrong there (a trace's loop count). Export's, ONNX's and AOTInductor's
# hold that size static and refuse another, which their note on fixed sizes (_FIXED_NOTE) tells where it matters.
_DIM_VARIANT = re.compile(r"^size \d+ in dims? ")
_ROUTES_ON_OTHER_DIMS = ("trace", "script")

# Copies compiled by other kernels (oneDNN, onnxruntime, Inductor) round float32 differently from eager:
# 1e-6 apart is the same answer. A divergence that matters is orders of magnitude larger.
RTOL, ATOL = 1e-4, 1e-5



def _refusal_advice(route, refused, batch_one=False) -> str:
    """What to do about a copy that refuses sizes eager takes; a Dim is advised only where one can help."""
    error = refused[0].error
    if batch_one and all(r.label.startswith("batch ") for r in refused):
        return "the example's batch of 1 was fixed (see the note on it): convert again with an example batch of 2 or more"
    if all(r.label.endswith(("item", "items")) for r in refused):
        return ("the copy fixed the list's length to the example's; no dynamic size changes that, so convert with the "
                "length you will ship, or keep the list out of the converted part")
    if route == "trace" and any(_DIM_VARIANT.match(r.label) for r in refused):
        return ("the trace recorded sizes its code computes from the input (a reshape or view to the example's sizes, "
                "say): torch.jit.script computes them on each call; torch.export keeps the batch free, and another "
                "dimension only where a Dim frees it")
    if route == "trace":
        return "the trace recorded the example's sizes; torch.jit.script or torch.export keep them free"
    if re.search(r"Guard failed: .*(>=|<=|>|<) ", error) and "==" not in error:
        return ("its guard keeps one side of a condition on the size (a branch on it): a Dim cannot keep both "
                "sides; torch.cond can (09), or torch.jit.script")
    guard = re.search(r"Guard failed: (.*)", error)
    tied = sorted(set(re.findall(r"(\w+)\.size\(\)", guard.group(1)))) if guard else []
    if route in ("export", "aoti") and "==" in error and len(tied) > 1:  # two inputs' sizes tied together
        return (f"the program ties the sizes of {' and '.join(tied)} together (its guard: {guard.group(1).strip()}), "
                "and this variant changed one without the other: pass inputs= of your own whose sizes keep that "
                "relation; to name it when exporting, derive one Dim from the other (2 * Dim('n'), say)")
    if route in ("export", "aoti") and re.search(r"Guard failed: .*==", error):
        # Dim.AUTO gave way: forward needs this size fixed, and a named Dim would only raise "specialized it"
        return ("torch.export fixed that size at the example's, so a Dim cannot free it: the model's code (yours, or "
                "a layer's) ties it to a fixed number (a branch on the size, a reshape to fixed numbers, or another "
                "size it must match). If that "
                "input has no batch, say so with batch_dim= (None for it); a branch can become torch.cond (09), or "
                "use torch.jit.script")
    if route == "aoti" and all(re.search(r"size 1 at dimension \d+, outside the range it was exported for \(2 to", r.error or "")
                               for r in refused):
        # torch.export's range for a free size starts at 2 (it treats 0 and 1 apart); the course's loader keeps to it
        return ("the package was compiled for sizes from 2 up, the range torch.export gives a free size (it treats 0 "
                "and 1 as special), and the course's loader keeps to that range. To serve a size of 1, compile with "
                "a Dim whose min is 1 for that dimension, torch.export.Dim('batch', min=1, max=64), in "
                "H.aoti_package's dynamic_shapes=")
    if route == "onnx":
        return ("the ONNX file refuses sizes eager takes, whatever its inputs declare (its graph can fix a size "
                "inside): compare with the export row, and ship only the sizes you checked")
    return ("its shape checks accept fewer sizes than eager does; if you ship those sizes, say so when converting "
            "(dynamic_shapes with a Dim for torch.export)")


# parity's notes that say the eager model has layers in training mode (see ParityReport.warnings)
_TRAINING_WARNING = re.compile(r"^\S+ (gives two different answers to the same input: it )?has layers in training mode")


def _parity_verdict(eager, copy_, inputs, label, training_note, batch_one=False):
    """(status, reason, first divergence, notes, text, report, flags) from the course's parity checker;
    ``flags``: RouteResult's caveats that do not change the verdict (untested, refuses_sizes). A copy whose outputs
    match but which loses state eager changes as it runs (a call counter) diverges.

    A copy that refuses another *batch size* with a shape guard is not silently wrong: it says so,
    and that becomes a note. A refusal of the learner's own inputs or of a value variant counts as a divergence:
    the copy does not do what eager does on them; a refusal of the example itself is a failure.
    """
    report = parity(eager, copy_, inputs=inputs, label=label, rtol=RTOL, atol=ATOL, scale_atol=True)
    notes = [str(n) for n in getattr(report, "warnings", []) or []]
    text = str(report)
    example_raises = any(r.label == "example" and r.diverges and getattr(r, "error", None) for r in report.rows)
    # a copy that refuses the example itself refuses more than sizes: its other refusals are the same failure
    refused = [] if example_raises else [r for r in report.rows if r.diverges and getattr(r, "error", None)
                                         and SIZE_VARIANT.match(r.label)]
    wrong = [r for r in report.rows if r.diverges and r not in refused]
    if refused:
        notes.append(f"refuses {', '.join(repr(r.label) for r in refused)} ({refused[0].error}): "
                     + _refusal_advice(label, refused, batch_one))
    rows = getattr(report, "rows", None) or []
    flags = {"untested": bool(getattr(report, "uncovered", None)), "empty": bool(getattr(report, "empty", False)),
             # NaN on every input, or on every input but those whose outputs lay within the tolerance of zero
             # (zeros in, zeros out): no number that tells was compared
             "nan": any(getattr(r, "nan", False) for r in rows)
             and all(getattr(r, "nan", False) or getattr(r, "tiny", None) is not None or getattr(r, "empty", False)
                     for r in rows),
             "refuses_sizes": bool(refused), "tiny": bool(getattr(report, "tiny", False) or getattr(report, "tiny_parts", None)),
             "batch_one": bool(refused) and batch_one,
             "state_unknown": getattr(report, "state_unreadable", "") == "unknown",
             "defaults_kept": bool(getattr(report, "defaults_kept", None)),
             "one_integer": bool(getattr(report, "one_integer", False)),
             "retyped": bool(getattr(report, "unkeyed", "") or getattr(report, "retyped", "")),
             # eager's in-place change of its input is not the copy's, or the other way round
             "input_effect": next((effect for effect, flag in (("keeps", "copy_keeps_input"),
                                                               ("changes", "copy_changes_input"),
                                                               ("otherwise", "copy_changes_input_otherwise"))
                                   if getattr(report, flag, False)), "")}
    lost = [] if getattr(report, "state_settled", False) else list(getattr(report, "state_lost", []) or [])
    if not wrong and lost:  # the outputs match, but state eager keeps (a counter) is gone or frozen in the copy
        notes = [n for n in notes if "does not keep it (" not in n]  # the reason says it
        return ("diverges", f"does not keep the state eager changes as it runs: {lost[0]}", "", notes, text, report,
                flags)
    if not wrong:
        if training_note:  # agreeing with a model in training mode says nothing about the one you will ship
            flags["model_problem"] = True  # (parity's own note, among the notes, says why)
        return "ok", "", "", notes, text, report, flags
    row = wrong[0]
    if example_raises:  # not a divergence on some inputs: the copy cannot run the one input it was made from
        notes = [n for n in notes if "no input ran" not in n]  # which paths were tried says nothing of a failure
        example = next(r for r in report.rows if r.label == "example")
        reason = f"converts, but the copy raises on the example itself, which eager runs: {example.error}"
        if training_note:
            reason += f"; {training_note}"
        return "fails", reason, "example", notes, text, report, flags
    if getattr(row, "error", None):
        reason = f"raises on input {row.label!r} where eager does not: {row.error}"
        if row.label == "numbers changed" and label == "aoti":
            reason += (" (torch.export keeps a number argument as a constant, the example's value, and an AOTInductor "
                       "package cannot take one as an input: with an int marked dynamic it ignores the number it is "
                       "called with, so H.aoti_package refuses that; make one package per value you use)")
        elif row.label == "numbers changed" and label in ("export", "onnx"):
            reason += (" (torch.export keeps a number argument as a constant, the example's value, unless "
                       "dynamic_shapes marks an int one Dim.DYNAMIC or Dim.AUTO, which fails where the code picks a "
                       "module or a list entry by the int: a named Dim is refused for an int, and "
                       "a float stays a constant, so for a float make one program per value you use)")
        if row.label == "flags flipped" and label in ("export", "onnx", "aoti"):
            reason += (" (torch.export keeps a bool argument as a constant, the example's value: make one program "
                       "per value you use, or pass the flag as a tensor and choose with torch.cond)")
    else:
        gap = (f"output {row.diff_text}" if str(row.diff_text).startswith("shape") else
               f"largest |diff| {row.diff_text}")
        reason = f"differs from eager on input {row.label!r} ({gap})"
    if training_note:
        reason += f"; {training_note}"
        # the reason gives the training-mode advice: parity's note would say it a second time in the same row
        notes = [n for n in notes if not _TRAINING_WARNING.search(n)]
    return "diverges", reason, row.label, notes, text, report, flags


def _run_route(route, model, example, inputs, folder, training_note, batch_dim=0, cache_dir=None):
    """Everything one route does, in the worker. Returns a RouteResult without its copy, and the file bytes."""
    start = time.perf_counter()
    notes = []
    eager = fresh_copy(model)           # state (counters, buffers) equal on both sides before the comparison
    subject = fresh_copy(model)
    try:
        # own copies: a forward that changes its input in place would otherwise change the example under the others
        spec = _eager_spec(fresh_copy(model), own_copy(example))
        own = [a for label, a in inputs.items() if label.startswith("your input")]  # the learner's, eager ran them
        data, suffix, record = _convert(route, subject, own_copy(example), folder, notes, batch_dim, own, cache_dir)
        copy_ = _load(route, data, suffix, record, folder, spec)
    except BaseException as error:  # noqa: BLE001 - every failure is the finding
        if isinstance(error, KeyboardInterrupt):
            raise
        cause = _cause(error)
        kept = kept_function_cause(str(cause))  # a function kept on the module: its own cause
        message = _TORCH_NOISE.sub("", _ANSI.sub("", kept or short_message(cause, limit=400))).strip()
        message = message if len(message) <= 200 else message[:199] + "…"
        if message and type(cause).__name__ not in message:
            message = f"{type(cause).__name__}: {message}"
        where = _learner_line(cause) or _learner_line(error)
        fix = _gallery_fix(str(cause), where)
        inferred = inferred_argument_line(str(cause)) if route == "script" else ""
        if inferred:  # the list of overloads says less than this line
            message, fix = f"{type(cause).__name__}: {inferred}", argument_type_fix(str(cause))
        if "data-dependent" in message and _passed_through(error, "torch/distributions/"):
            # the value read is torch.distributions' own argument check, not a branch of the model's
            fix = ("the value is read by torch.distributions' own check of its arguments (validate_args): build the "
                   "distribution with validate_args=False, e.g. Normal(loc, scale, validate_args=False), for export (once "
                   "torch.compile or an eager torch.cond has run in a process, torch has turned these checks off for "
                   "every distribution there)")
        package = _library_of(where)
        if package and fix:  # the fix would mean editing the library's code: say so instead
            fix = (f"the failing line is in {package}'s own code, not yours: this model does not take the {route} "
                   f"route as it is; use a route that worked here, or what {package} documents for exporting it")
        return RouteResult(route, "fails", reason=message, fix=fix,
                           where=where, notes=notes,
                           seconds=time.perf_counter() - start), None
    restructured = _onnx_structure_note(spec) if route == "onnx" else []  # eager's structure rebuilt around a flat list
    notes.extend(restructured)
    if route not in _ROUTES_ON_OTHER_DIMS:  # its copy guards the example's sizes there, as its sizes note says
        inputs = {label: args for label, args in inputs.items() if not _DIM_VARIANT.match(label)}
    batch_one = any(note.startswith(_BATCH_ONE_NOTE) for note in notes)
    fixed_sizes = any(note.startswith(_FIXED_NOTE) for note in notes)
    status, reason, first, parity_notes, text, report, flags = _parity_verdict(eager, copy_, inputs, route,
                                                                               training_note, batch_one)
    if restructured:
        flags["retyped"] = True  # the row compared eager's structure rebuilt around the file's flat list: a caveat
    if route == "aoti" and status == "ok" and getattr(report, "state_unreadable", "") in ("refused", "unknown"):
        in_python = [key for key in _changed_keys(report) if _python_attribute(eager, key)]
        if in_python:  # the package's state cannot be read, but compiled code holds no Python attribute at all
            status, first = "diverges", ""
            reason = (f"does not keep the state eager changes as it runs: self.{in_python[0]} is a Python attribute, "
                      "which the compiled code cannot hold (torch.export made it a constant)")
            parity_notes = [n for n in parity_notes if "changed its own state" not in n]
            flags["state_unknown"] = False
    if status == "diverges" and reason.startswith("does not keep the state") and \
            any(n.startswith("tracing ran forward once") for n in notes):
        # the traced copy updates buffers too, from the values tracing's own call left: "does not keep" would be
        # wrong, and the head start (in the notes) may or may not be why the two differ
        reason = f"its state differs from eager's after the same calls: {reason.split(': ', 1)[1]}"
    other_batches = [r for r in getattr(report, "rows", []) if r.label.startswith("batch ") and r.label != "batch 1"]
    if route == "export" and status == "diverges" and first == "batch 1" and other_batches \
            and not any(r.diverges for r in other_batches):  # batch 1 alone: not a state or value problem
        parity_notes += [n for n in [_batch_one_unchecked(Path(folder) / f"copy_{route}{suffix}")] if n]
    strings = _string_arguments_note(route, example, inputs) if status == "ok" else ""
    if strings:  # no variant can change a string (no other valid value is known): say what the copy did with it
        parity_notes.append(strings)
        flags["fixed_strings"] = True
    try:
        pickle.dumps(report)
    except Exception:  # the text is enough where the report holds something unpicklable
        report = None
    return RouteResult(route, status, reason=reason, first_divergence=first, notes=notes + parity_notes,
                       fix=(argument_type_fix(reason) if route == "script" else "")
                       or (known_hint(reason) if status == "fails" else ""),  # a copy that cannot run the example
                       seconds=time.perf_counter() - start, parity_text=text, parity=report,
                       fixed_sizes=fixed_sizes and status == "ok", foreign_ops=_foreign_ops(copy_), **flags), (data, suffix, record)


_STRING_FATE = {
    "export": "torch.export keeps the example's as a constant: the program refuses any other (a guard fails)",
    "onnx": "the ONNX file has no input for a string: it computes as for the example's whatever is passed",
    "aoti": "the package holds the example's as a constant and computes as for it (H.load_aoti refuses another)",
}


def _string_arguments_note(route, example, inputs=None) -> str:
    """A note for a copy that fixed a str argument (export, ONNX, AOTInductor), a string inside a list, tuple or
    dict included, naming the strings the inputs compared; "" when there is none or the route (trace fails on one;
    script types it str) takes any value."""
    fate = _STRING_FATE.get(route)
    if not fate:
        return ""

    def strings(call):
        args = call if type(call) is tuple else (call,)
        return {i: [s for s in torch.utils._pytree.tree_leaves(a) if isinstance(s, str)] for i, a in enumerate(args)}

    tried = {}  # argument -> the strings the compared inputs held there, in order
    for call in [example, *((inputs or {}).values())]:
        for i, found in strings(call).items():
            for text in found:
                if text not in tried.setdefault(i, []):  # an argument gets a list only once it holds a string
                    tried[i].append(text)
    if not tried:
        return ""
    which = "; ".join(f"argument {i}: {', '.join(map(repr, found))}" for i, found in tried.items())
    return (f"only these strings were compared ({which}), and {fate}: make one copy per value you use, or pass "
            "the choice as a tensor")


def _changed_keys(report) -> list:
    """The attribute paths eager changed while parity ran ("calls", "head.seen"), from its report."""
    return [line.split(":", 1)[0].removeprefix("self.") for line in getattr(report, "state_changes", None) or []]


def _python_attribute(model, key: str) -> bool:
    """Whether ``model``'s attribute at the dotted ``key`` holds a plain Python value (a number, a list), not a tensor:
    a buffer changed in place is kept by torch.export's program, a Python value is not."""
    value = model
    for part in key.split("."):
        value = getattr(value, part, _MISSING_ATTRIBUTE)
        if value is _MISSING_ATTRIBUTE:
            return False
    return not isinstance(value, torch.Tensor)


_MISSING_ATTRIBUTE = object()


def _foreign_ops(copy) -> list:
    """The operators of other libraries a TorchScript copy calls ("torchvision::nms"): a LibTorch program must link
    those libraries too. [] for any other copy, or when its graph cannot be read."""
    if not isinstance(copy, torch.jit.ScriptModule):
        return []
    from ..routes.export_check import _TORCH_NAMESPACES  # the namespaces torch itself registers
    from .graph.read_torchscript import node_kinds
    try:
        graph = copy.inlined_graph  # held: its nodes are invalid once the graph object is freed
        kinds = node_kinds(graph)
    except Exception:
        return []
    return sorted(k for k in kinds if "::" in k and k.split("::")[0] not in _TORCH_NAMESPACES
                  and not k.split("::")[0].startswith("_"))


# ---------------------------------------------------------------- the worker process

class _Stopped(Exception):
    """The worker ran past its time limit and was stopped."""


class _Crashed(Exception):
    """The worker died without an answer (a signal inside torch's C++, for example)."""


class _Worker:
    """``fn(*args)`` in a forked child process, stopped at ``time_limit`` seconds.

    A child can be stopped wherever it is, a C++ call included, which a signal in this process cannot
    do. The child writes its result to a file (pickled) and exits without running the parent's cleanup.
    ``poll()`` says whether it has ended (stopping it once its time is up); ``result()`` then returns
    what ``fn`` returned, or ("error", exception text) for an exception inside ``fn``, or raises
    _Stopped or _Crashed.
    """

    def __init__(self, name, folder, time_limit, fn, *args):
        self.result_path = Path(folder) / f"result_{name}.pkl"
        self.time_limit, self.status, self.stopped = time_limit, None, False
        self.start = time.perf_counter()
        self.ended = None  # when poll() saw it end: each route's own time, though the routes run side by side
        self.pid = os.fork()
        if self.pid == 0:  # the worker: never return into the caller's code
            self._run(fn, args, folder)

    def _run(self, fn, args, folder):
        code = 1
        try:
            sys.stdout = sys.stderr = io.StringIO()  # the kernel's output streams belong to the parent
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)  # C++ libraries (onnxruntime) write their own error lines to fd 2
            os.environ["TMPDIR"] = str(folder)  # AOTInductor unpacks here; the parent removes the folder
            tempfile.tempdir = str(folder)
            torch.set_num_threads(1)  # as DataLoader workers do: thread pools do not survive fork
            try:
                outcome = ("ok", fn(*args))
                pickle.dumps(outcome)
            except Exception as error:  # noqa: BLE001 - reported to the parent, never raised there
                outcome = ("error", typed_message(error, 300))
            tmp = self.result_path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                pickle.dump(outcome, f)
            os.replace(tmp, self.result_path)
            code = 0
        finally:
            os._exit(code)

    def poll(self) -> bool:
        """True once the worker has ended: by itself, or stopped here because its time was up."""
        if self.pid is None:
            return True
        done, status = os.waitpid(self.pid, os.WNOHANG)
        if done:
            self.pid, self.status, self.ended = None, status, time.perf_counter()
            return True
        if time.perf_counter() - self.start > self.time_limit:
            self.stopped = True
            self.kill()
            return True
        return False

    def kill(self):
        """Stop the worker if it still runs (its time is up, or the caller was interrupted): none is left behind."""
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.pid, self.ended = None, time.perf_counter()

    def result(self):
        if self.stopped:
            raise _Stopped()
        if not self.result_path.exists():
            status = self.status
            raise _Crashed(f" (signal {os.WTERMSIG(status)})" if status is not None and os.WIFSIGNALED(status) else "")
        with open(self.result_path, "rb") as f:
            return pickle.load(f)


def _run_workers(workers: dict, at_most: int, on_end=lambda name: None) -> dict:
    """Start each of ``workers`` (name -> (folder, time_limit, fn, *args)), at most ``at_most`` at a time, and wait
    for them all; return name -> ended _Worker. ``on_end(name)`` is called as each one ends."""
    waiting, running, ended = list(workers.items()), {}, {}
    try:
        while waiting or running:
            while waiting and len(running) < at_most:
                name, (folder, time_limit, fn, *args) = waiting.pop(0)
                running[name] = _Worker(name, folder, time_limit, fn, *args)
            for name in [n for n, worker in running.items() if worker.poll()]:
                ended[name] = running.pop(name)
                on_end(name)
            if running:
                time.sleep(0.02)
    finally:  # interrupted (Ctrl-C, a kernel interrupt): never leave a worker running
        for worker in running.values():
            worker.kill()
    return ended


def _forked(name, folder, time_limit, fn, *args):
    """``fn(*args)`` in one forked worker (see _Worker); returns its result or raises _Stopped or _Crashed."""
    return _run_workers({name: (folder, time_limit, fn, *args)}, 1)[name].result()


def _route_result(route, worker, time_limit):
    """The RouteResult (and the file's bytes, or None) of one route's ended worker."""
    seconds = (worker.ended or time.perf_counter()) - worker.start
    try:
        kind, value = worker.result()
    except _Stopped:
        return RouteResult(route, "fails", reason=f"stopped after {time_limit:.0f} s (time_limit): the route is too slow "
                           "for this limit, or hangs", fix="raise time_limit=, or try this route alone",
                           seconds=seconds), None
    except _Crashed as crash:
        return RouteResult(route, "fails", reason=f"the worker process crashed{crash} inside torch",
                           seconds=seconds), None
    if kind == "error":  # a bug of the diagnosis itself: say so, never blame the model
        return RouteResult(route, "fails", reason=f"the diagnosis itself failed here ({value})",
                           seconds=seconds), None
    result, saved = value
    result.seconds = seconds
    return result, saved


def _parallel_workers() -> int:
    """How many route workers run at once: one per core this process may use (each runs torch on one thread).

    On a hub node a learner's container usually sees every core of the node but may use only its CPU limit (a
    cgroup quota, which the affinity does not show): the quota, rounded up, caps the count, so that the memory
    of the workers forked at once stays what the sizing measured on a small machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    return max(1, min(cores, math.ceil(quota)) if quota else cores)


def _cgroup_cpu_limit(path: str = "/sys/fs/cgroup/cpu.max"):
    """The CPU limit of this process's cgroup (v2) in cores, e.g. 1.5; None when there is none or it cannot be read."""
    try:
        quota, period = Path(path).read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        return None


def _eager_notes(model, example):
    """Things about the eager model itself that explain divergences on every route."""
    notes = []
    training = ""
    # every layer that is random or uses the batch's own statistics in training mode, whatever mode the model as a
    # whole says (one batch norm left in train()); a dropout of probability 0 drops nothing and is left out
    active = training_layers(model)
    if active:
        shown = few_layers(active)
        training = f"the model has layers in training mode ({shown}): call model.eval() before exporting"
        notes.append(training)
    return notes, training


# At most this many variants change a dimension outside the batch (each costs the trace and script rows one more
# comparison), found in at most this many runs of eager, whatever it refuses
_MOST_DIM_VARIANTS, _MOST_DIM_TRIES = 4, 36


def _dims_words(group, count, whose) -> str:
    """'dim 1', 'dims 2 and 3', 'dim 1 of inputs 0 and 1', 'dim 2 of tensor 0 and dim 1 of tensor 1'."""
    dims, tensors = sorted({d for _, d in group}), sorted({i for i, _ in group})
    if count == 1:
        return f"dim{'s' * (len(dims) > 1)} {_and(dims)}"
    if len(dims) == 1:
        return f"dim {dims[0]} of {whose}{'s' * (len(tensors) > 1)} {_and(tensors)}"
    return " and ".join(f"dim {d} of {whose} {i}" for i, d in group)


def _first_size_taken(model, args, group, n, limit, runs):
    """The first of ``_other_sizes(n)`` eager takes at every position of ``group``, with new values, or None; each
    size tried goes into ``runs`` (a list), and none is tried once it holds _MOST_DIM_TRIES."""
    tries = _sizes_tried(model, args, group, n, limit, fresh=True)
    while len(runs) < _MOST_DIM_TRIES:
        size, took = next(tries, (None, None))
        if size is None:
            return None
        runs.append(size)
        if took is not False:  # taken, or it did not finish (then no other size is tried)
            return size if took else None
    return None


def _dim_variants(model, args, batch_dim=0, limit=None, untried=None) -> dict:
    """Label -> arguments: the example with another size eager takes in a dimension outside the batch, per dimension,
    the resized tensors holding new values (``_fresh_like``). ``untried`` (a list), when given, receives the words for
    the dimensions the limits left untried."""
    # Each dimension of size 2 or more is tried alone, then (if eager refuses it alone) with every position of that
    # size at once, as q and k must share a length. One where eager takes no other size (a Linear's features) is left
    # out unsaid: no copy can be asked about a size eager itself refuses. The first such dimension of every tensor
    # comes before the second of any, so that an image's height and width do not use up the limits before the
    # sequence beside it is tried.
    flat = leaves(list(args))  # counted as the sizes note counts them: the tensors inside lists and dicts, in order
    if any(t.layout != torch.strided or t.is_quantized or t.is_nested for t in flat):
        return {}  # vary_inputs leaves these alone and says so
    batch_dims = [d for a, d in zip(args, per_input_dims(args, batch_dim)) for _ in leaves(a)]
    found = [(rank, i, d, n) for i, t in enumerate(flat)
             for rank, (d, n) in enumerate((d, n) for d, n in enumerate(t.shape) if d != batch_dims[i] and n >= 2)]
    positions = {(i, d): n for _, i, d, n in sorted(found)}
    whose = "input" if len(flat) == len(args) and all(isinstance(a, torch.Tensor) for a in args) else "tensor"
    variants, seen, tried, runs = {}, set(), set(), []
    left = []  # positions never tried: a limit came first
    for position, n in positions.items():
        if position in seen:
            continue
        if len(variants) >= _MOST_DIM_VARIANTS or len(runs) >= _MOST_DIM_TRIES:
            left.append(position)
            continue
        together = tuple(p for p, m in positions.items() if m == n and p not in seen)  # q and k's shared length
        for group in ((position,), together) if len(together) > 1 else ((position,),):
            if group in tried:  # the same positions together, refused for an earlier one
                continue
            tried.add(group)
            size = _first_size_taken(model, args, group, n, limit, runs)
            if size is not None:
                variants[f"size {size} in {_dims_words(group, len(flat), whose)}"] = _with_resized(args, group, size,
                                                                                                 fresh=True)
                seen.update(group)
                break
    if left and untried is not None:
        untried.append(_dims_words(tuple(left), len(flat), whose))
    return variants


def _labelled_inputs(model, example, inputs, batch_dim=0, other_dims=True):
    """Label -> argument tuple: the example, its variants the eager model accepts (values, batch sizes, then, with
    ``other_dims``, other sizes outside the batch), and the learner's own."""
    labelled = {}
    skipped = {}
    varied = True
    try:
        batch = batch_of(example, batch_dim)
        # batch 1 alone hides shape branches whose two sides agree on one row (sum vs mean): try 2 and 3 too
        sizes = sorted({1, 2, 3, batch + 2}) if batch else None
        variants = vary_inputs(example, batch_sizes=sizes, batch_dim=batch_dim)
        labelled.update({k: tuple(v) for k, v in variants.items()})
        skipped.update(getattr(variants, "skipped", {}) or {})
    except (TypeError, ValueError) as error:  # inputs vary_inputs cannot vary: keep the example alone
        labelled["example"] = example
        skipped["variants"] = short_message(error, limit=120)
        varied = False
    for i, extra in enumerate(inputs or []):
        labelled[f"your input {i}"] = _as_call(extra)
    usable = {}
    probe = fresh_copy(model)
    limit = None  # seconds for a variant, from the example's time: a loop that never ends on zeros is dropped
    with torch.no_grad():
        for label, args in labelled.items():
            started = time.perf_counter()
            try:
                # own_copy: a forward that changes its input in place must leave the inputs the routes get alone
                _, answered = call_within(limit, probe, *own_copy(args))  # no limit until the example has run
            except Exception as error:
                if label == "example":
                    raise ValueError(f"diagnose: the eager model fails on the example ({short_message(error, limit=200)}"
                                     f"{argument_hint(args, error)}): fix the model, or pass an input it accepts") from None
                skipped[label] = f"the eager model rejects this variant: {short_message(error, limit=90)}"
                continue
            if not answered:
                skipped[label] = (f"the eager model did not finish on this variant within {limit:.0f} s "
                                  "(a loop that never ends on it?)")
                continue
            if label == "example":
                limit = variant_seconds(time.perf_counter() - started)
            usable[label] = args
        random = not _same_answers(fresh_copy(model)(*own_copy(example)), fresh_copy(model)(*own_copy(example)))
    # a trace writes in a loop's count or a view's sizes from the example: only another size outside the batch shows
    # it. Each was run by eager as it was found; they go before the learner's own inputs
    untried = []
    resized = _dim_variants(model, usable["example"], batch_dim, limit, untried) if varied and other_dims else {}
    if untried:  # said, so that a ✔ on the trace is not read as covering those sizes too
        skipped["other sizes"] = (f"another size in {untried[0]} was not tried (at most {_MOST_DIM_VARIANTS} variants "
                                  f"of other sizes outside the batch, found in at most {_MOST_DIM_TRIES} runs of eager): "
                                  "pass inputs=[...] with other sizes there yourself")
    if resized:
        own = {label: args for label, args in usable.items() if label.startswith("your input")}
        usable = {**{k: v for k, v in usable.items() if k not in own}, **resized, **own}
    return usable, skipped, random


def _skipped_note(skipped: dict, batch_dim=0, labelled=()) -> str:
    """One note for the inputs not compared; the batch sizes eager rejected share one explanation."""
    rejected = [k for k, v in skipped.items() if k.startswith("batch ") and v.startswith("the eager model rejects")]
    parts = [f"{k} ({v})" for k, v in skipped.items() if k not in rejected]
    if rejected:
        sizes = ", ".join(k.removeprefix("batch ") for k in rejected)
        where = f"dimension {batch_dim}" if isinstance(batch_dim, int) else "batch dimension"
        every = not any(k.startswith("batch ") for k in labelled)  # no other batch size ran at all
        parts.append(f"batch {sizes} ({'the first: ' if len(rejected) > 1 else ''}{skipped[rejected[0]]}; only "
                     f"tensors whose {where} is the example's batch were resized: pass inputs=[...] of other sizes "
                     "yourself" + (", or batch_dim= if the batch is in another dimension (1 for a sequence-first "
                                   "model; one entry per input where they differ)" if every else "") + ")")
    return "not compared: " + "; ".join(parts)


def _same_answers(a, b) -> bool:
    """Two eager outputs for one input: equal tensors (and equal everything else)?"""
    from torch.utils._pytree import tree_flatten
    leaves_a, spec_a = tree_flatten(a)
    leaves_b, spec_b = tree_flatten(b)
    if spec_a != spec_b:
        return False
    for x, y in zip(leaves_a, leaves_b):
        if isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor):
            if x.shape != y.shape or x.dtype != y.dtype:
                return False
            if x.is_floating_point() or x.is_complex():  # NaN != NaN: an example holding NaN is not randomness
                if not torch.allclose(x, y, rtol=0, atol=0, equal_nan=True):
                    return False
            elif not torch.equal(x, y):
                return False
        elif x != y:
            return False
    return True


@functools.cache
def _first_export():
    """torch.export's first call sets up what every later call reuses: done once here, each forked worker
    inherits it instead of setting it up again and throwing it away."""
    torch.export.export(torch.nn.Linear(2, 2), (torch.ones(1, 2),))


def _warm_up(routes):
    """Import in this process what the workers need, so each forked worker does not import it again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if {"export", "onnx", "aoti"} & set(routes):
            import torch._dynamo  # noqa: F401 - the slow part of torch.export's first call
            _first_export()
        if "onnx" in routes:
            import onnxruntime  # noqa: F401
            import onnxscript  # noqa: F401
            import torch.onnx._internal.exporter._core  # noqa: F401
        if "aoti" in routes:
            import torch._inductor  # noqa: F401


def diagnose(model, example, inputs=None, routes=None, time_limit=None, progress=True, batch_dim=0,
             cache_dir=None) -> Diagnosis:
    """Run ``model`` through every export route and check each copy against eager.

    ``example``: one input, or a tuple with one input per argument (tensors, lists, dicts, ints).
    ``inputs``: more inputs to compare on, each like ``example``. ``routes``: some of
    ``trace, script, export, onnx, aoti`` (default: all but aoti). ``time_limit``: seconds per
    route (default: 60 s plus 10 s per million parameters). ``batch_dim``: the dimension that holds
    the batch (1 for a sequence-first model, or one entry per input): the other batch sizes are made there, and
    export keeps it dynamic; trace and script are also compared on another size in each other dimension eager allows.
    ``cache_dir``: where the aoti route keeps its compiled packages (default: the course's AOTInductor cache,
    ``build/aoti``, or your own when that is read-only), so that diagnosing an unchanged model again compiles nothing.
    """
    _check_model(model)
    routes = _routes(routes)
    limit = _time_limit(time_limit) or first_call_seconds(model)  # 60 s, more for big models
    example = _as_call(example)
    # checked here, where a mistake is an error and not a skipped check in the worker; plain ints from here on
    batch_dim = batch_dim_for(example, batch_dim, "diagnose")
    if _batch_is(0, example, batch_dim):  # no rows: nothing to compare, no batch to vary, export would fix it at 0
        raise ValueError("diagnose: the example has a batch of 0 (no rows), so its outputs hold no numbers to compare, "
                         "no other batch can be made from it, and torch.export would take a batch of 0 only: give "
                         "an example with 2 or more rows")
    if inputs is not None and not isinstance(inputs, (list, tuple)):
        raise TypeError("diagnose: inputs= is a list of more inputs, each like the example")
    for index, given in enumerate(inputs or ()):
        _refuse_numpy(given, f"inputs[{index}]")
    with tempfile.TemporaryDirectory(prefix="diagnose-") as probe_folder:
        try:
            kind, value = _forked("eager", probe_folder, limit, _labelled_inputs, model, example, inputs, batch_dim,
                                  any(route in _ROUTES_ON_OTHER_DIMS for route in routes))
        except _Stopped:
            raise TimeoutError(f"diagnose: the eager model did not finish on the example and the variants made from "
                               f"it within {limit:.0f} s (time_limit): does forward loop forever on some input?") from None
        except _Crashed as crash:
            raise RuntimeError(f"diagnose: the eager model crashed the process{crash} on the example or on a variant "
                               "made from it (zeros, another batch ...): pass inputs= of your own, or fix the "
                               "crash") from None
    if kind == "error":
        raise ValueError(value.split(": ", 1)[1] if value.startswith(("ValueError: ", "TypeError: ")) else
                         f"diagnose: the eager model fails on the example ({value}): fix the model, or pass an input it accepts")
    labelled, skipped, random = value
    notes, training_note = _eager_notes(model, example)
    if random and not training_note:
        training_note = (f"eager itself gives two answers to one input ({TWO_ANSWERS_CAUSES}): no copy can match it "
                         "exactly, and what each copy does with that state is not checked")
        notes.append(training_note)
    if skipped:
        notes.append(_skipped_note(skipped, batch_dim, labelled))
    time_first = time_first_note(model, batch_dim, example)
    if time_first:
        notes.append(time_first)
    results = []
    _warm_up(routes)
    bar = _Progress(routes, progress)
    with tempfile.TemporaryDirectory(prefix="diagnose-") as folder:
        # The routes run side by side, each in its own worker (forked, one torch thread): on a machine with
        # two cores the diagnosis takes about half as long, and no route sees another's state.
        ended = _run_workers({route: (folder, limit, _run_route, route, model, example, labelled, folder, training_note,
                                      batch_dim, cache_dir)
                              for route in routes}, _parallel_workers(), on_end=bar.ended)
        for route in routes:
            result, saved = _route_result(route, ended[route], limit)
            result._saved = saved  # loaded on first use of report.copy(route): most diagnoses never need it
            results.append(result)
    bar.close()
    return Diagnosis(_model_name(model), results, notes, labelled, spec=lambda: _eager_spec(fresh_copy(model), example),
                     model_problem=training_note)


class _Progress:
    """The diagnosis's progress bar: one step per route as it ends (the routes run side by side)."""

    def __init__(self, routes, progress):
        self.bar = None
        if progress:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=len(routes), leave=False, unit="route", desc="diagnose: " + ", ".join(routes))

    def ended(self, route):
        if self.bar is not None:
            self.bar.set_description(f"diagnose: {route} done")
            self.bar.update(1)

    def close(self):
        if self.bar is not None:
            self.bar.close()
