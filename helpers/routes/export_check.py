"""Export, save, reload in a fresh process, run, compare: the check to put in CI (introduced in 09_beyond_torchscript).

``H.export_roundtrip_check(model, inputs, method="export")`` exports ``model`` (``"script"``,
``"trace"`` or ``"export"``), saves it, loads the file in a new Python process that has never
imported the model's class, runs it on every input there, and compares the outputs with eager
PyTorch. It returns a ``RoundtripReport`` saying where it stopped (export, load, run, compare or
passed) and why, with a hint. ``H.export_roundtrip_checks(model, inputs, methods=(...))`` checks
several methods with one fresh process. templates/test_export_roundtrip.py is the same check
as a self-contained pytest file to copy into a project.
"""
import html
import json
import linecache
import math
import re
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .export_bridge import quiet_export, serializer_cause
from ..course.failures import short_message, typed_message
from ..course.guards import call_within, model_args, odd_input, refuse_meta, require_module, variant_seconds
from ..course.warm_torch import run_python
from ..course.workdir import atomic_path, work_dir
from ..tools.input_variants import own_copy, shapes
from ..tools.gallery import argument_type_fix
from ..tools.parity import FAST_PATH_ZEROS, _fast_path_layers, few_layers, fresh_copy, random_in_forward

__all__ = ["ROUNDTRIP_METHODS", "RoundtripReport", "RoundtripTable", "export_roundtrip_check",
           "export_roundtrip_checks", "torch_suggestion"]

ROUNDTRIP_METHODS = ("script", "trace", "export")
_SUFFIX = {"script": ".pt", "trace": ".pt", "export": ".pt2"}

# Runs in the fresh process. It imports torch only: loading must work from the file alone.
_RUNNER = r"""
import json, logging, os, sys, warnings
warnings.filterwarnings("ignore")  # the parent process reports what matters
import torch
logged = []  # torch.export.load logs the real cause (an unknown operator) before raising a vague error
class Keep(logging.Handler):
    def emit(self, record):
        error = record.exc_info[1] if record.exc_info else None
        logged.append(record.getMessage() + (f" {type(error).__name__}: {error}" if error is not None else ""))
for name in ("torch", "torch.export", "torch._export"):  # torch's loggers do not propagate to each other
    logging.getLogger(name).addHandler(Keep(logging.WARNING))
def why(error):
    chain, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error)); chain.append(f"{type(error).__name__}: {error}")
        error = error.__cause__ or error.__context__
    return "\n".join(chain + logged)
jobs, inputs_file, outputs_file = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.set_num_threads(int(sys.argv[5]))  # the caller's: another count sums in another order (a detector's boxes moved 1e-3)
def plain(value):  # a NamedTuple TorchScript made has a class pickle cannot find: send its fields as a tuple
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
inputs = torch.load(inputs_file, weights_only=True)
results = {}
try:  # libraries that register operators the files call (imports=...), as a deployment would import them
    import importlib
    for name in json.loads(sys.argv[4]):
        importlib.import_module(name)
    imported = None
except Exception as error:
    imported = error
for method, path in jobs.items():
    if imported is not None:
        results[method] = {"stage": "load", "error": f"importing what imports= names failed: {why(imported)}"}
        continue
    try:
        model = torch.export.load(path).module() if method == "export" else torch.jit.load(path)
    except Exception as error:
        results[method] = {"stage": "load", "error": why(error)}
        del logged[:]
        continue
    outputs, errors = [], []
    with torch.no_grad():
        for args in inputs:
            try:
                # a copy of the inputs for each model: a forward that changes its input in place changes that copy only
                args = torch.utils._pytree.tree_map(lambda t: t.clone() if isinstance(t, torch.Tensor) else t, args)
                outputs.append(plain(model(*args))); errors.append("")
            except Exception as error:
                outputs.append(None); errors.append(f"{type(error).__name__}: {error}")
    results[method] = {"stage": "ran", "outputs": outputs, "errors": errors}
try:
    torch.save(results, outputs_file + ".tmp")
    os.replace(outputs_file + ".tmp", outputs_file)  # whole or absent: the parent never reads a partial file
finally:
    if os.path.exists(outputs_file + ".tmp"):
        os.remove(outputs_file + ".tmp")
"""


@dataclass
class RoundtripReport:
    """One method's round trip. ``stage`` is where it stopped: export, save, load, run, compare, or passed."""
    method: str
    stage: str
    error: str = ""
    max_diffs: list = field(default_factory=list)
    failed_inputs: list = field(default_factory=list)
    path: Path = None
    hint: str = ""
    caveat: str = ""  # passed, but something says the inputs may not cover it (the tracer warned)

    @property
    def ok(self) -> bool:
        return self.stage == "passed"

    def __bool__(self):
        return self.ok

    @property
    def detail(self) -> str:
        """What happened, in one line, without the method's name."""
        if self.ok:
            worst = max(self.max_diffs) if self.max_diffs else 0.0
            n = len(self.max_diffs)
            return (f"saved, reloaded in a fresh process, agrees with eager on {'all ' if n > 1 else ''}"
                    f"{n} input{'s' if n != 1 else ''} (largest |diff| {worst:.3g})"
                    + (f"; but {self.caveat}" if self.caveat else ""))
        inputs = ", ".join(str(i) for i in self.failed_inputs)
        plural = "s" if len(self.failed_inputs) > 1 else ""
        converting = {"trace": "tracing", "script": "scripting"}.get(self.method, self.method)  # "export" stays
        where = {"export": f"{converting} failed", "save": f"{converting} worked, and saving the copy failed",
                 "load": "the fresh process could not load the file",
                 "run": f"the reloaded model fails on input{plural} {inputs}",
                 "compare": f"the reloaded model disagrees with eager on input{plural} {inputs}"}[self.stage]
        return where + (f": {self.error}" if self.error else "")

    @property
    def summary(self) -> str:
        return f"{('⚠' if self.caveat else '✔') if self.ok else '✘'} {self.method}: {self.detail}"

    def assert_ok(self):
        """Raise AssertionError with the summary and hint unless the round trip passed; return self."""
        if not self.ok:
            raise AssertionError(self.summary + (f" → {self.hint}" if self.hint else ""))
        return self

    def __str__(self):
        return self.summary + (f"\n  → {self.hint}" if self.hint and not self.ok else "")

    __repr__ = __str__


class RoundtripTable(list):
    """The reports of ``export_roundtrip_checks``, one per method; ``table["trace"]`` picks one."""

    @property
    def all_ok(self) -> bool:
        return bool(self) and all(r.ok for r in self)

    def __getitem__(self, key):
        if isinstance(key, str):
            for report in self:
                if report.method == key:
                    return report
            raise KeyError(f"no report for {key!r}: checked {[r.method for r in self]}")
        return super().__getitem__(key)

    def assert_ok(self):
        """Raise AssertionError listing every failed method; return self if all passed."""
        bad = [str(r) for r in self if not r.ok]
        if bad:
            raise AssertionError("export round trip failed:\n" + "\n".join(bad))
        return self

    def __str__(self):
        return "\n".join(str(r) for r in self)

    __repr__ = __str__

    def _repr_html_(self):
        rows = []
        for r in self:
            colour = "#1a7f37" if r.ok else "#cf222e"
            rows.append(f"<tr><td><code>{html.escape(r.method)}</code></td>"
                        f"<td style='color:{colour};font-weight:bold'>{html.escape(r.stage)}</td>"
                        f"<td style='text-align:left'>{html.escape(r.detail)}</td>"
                        f"<td style='text-align:left'>{html.escape('' if r.ok else r.hint)}</td></tr>")
        return ("<table><thead><tr><th>method</th><th>stopped at</th><th style='text-align:left'>what happened</th>"
                f"<th style='text-align:left'>what to do</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


# ---------------------------------------------------------------- pieces

def _as_input_list(inputs, who="export_roundtrip_checks") -> list:
    if isinstance(inputs, torch.Tensor) or not isinstance(inputs, (list, tuple)):
        raise TypeError(f"{who}: inputs must be a list of inputs, e.g. [x] or [x1, x2] "
                        f"(each a tensor, or a tuple with one entry per argument), got {type(inputs).__name__}")
    if not inputs:
        raise ValueError(f"{who}: inputs is empty: pass at least one input, e.g. [x]")
    result = []
    for i, value in enumerate(inputs):
        args = model_args(value)
        if args is None:
            raise TypeError(f"{who}: input {i} must be a tensor, a list / dict of tensors (one "
                            "argument), or a tuple with one entry per forward argument (a tensor, a number, or a "
                            "list / dict of tensors), "
                            f"got {odd_input(value)}")
        result.append(args)
    return result


def _leaves(out):
    if isinstance(out, (tuple, list)):
        return [leaf for o in out for leaf in _leaves(o)]
    if isinstance(out, dict):
        return [leaf for k in sorted(out, key=str) for leaf in _leaves(out[k])]
    return [out]


def _max_diff(expected, got, rtol, atol):
    """(close, largest absolute difference) of two model outputs."""
    left, right = _leaves(expected), _leaves(got)
    if len(left) != len(right):
        return False, math.inf
    close, worst = True, 0.0
    for a, b in zip(left, right):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            same = type(a) is type(b) and not isinstance(a, torch.Tensor) and a == b
            close, worst = close and bool(same), worst if same else math.inf
            continue
        if a.shape != b.shape:
            return False, math.inf
        if a.numel() == 0:
            continue
        a64, b64 = a.detach().double(), b.detach().double()
        close = close and bool(torch.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=True).all())
        diff = (a64 - b64).abs().nan_to_num(nan=0.0).max().item()
        worst = max(worst, diff)
    return close, worst


# Operator namespaces torch registers itself; any other one comes from a library the loader must import.
_TORCH_NAMESPACES = {"aten", "prim", "prims", "quantized", "_quantized", "quantized_decomposed", "higher_order",
                     "profiler", "cuda", "_c10d_functional", "c10d_functional", "debugprims", "rngprims", "onednn",
                     "mkldnn", "mkl", "_caffe2", "inductor", "_inductor_test", "mkldnn_prepacked", "torchao"}
_IMPORTS = {"torchvision": ("import torchvision", "libtorchvision"), "torchaudio": ("import torchaudio", "libtorchaudio"),
            "fbgemm": ("import fbgemm_gpu", "fbgemm_gpu"), "torchtext": ("import torchtext", "libtorchtext")}


def cause_line(text, limit=200) -> str:
    """The line of an error that says what went wrong: 'RuntimeError: Unknown builtin op: torchvision::nms.'
    (torch often puts the cause on the line after a bare 'RuntimeError:')."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    if not lines:
        return ""
    if any("Trying to flatten user inputs with exported input tree spec" in ln for ln in lines):
        return ("the input nests differently from the example the program was exported with (a list of another "
                "length?): an exported program takes only that structure")
    if any("The following operation failed in the TorchScript interpreter" in ln for ln in lines):
        # the interpreter's own cause is on its last error line, after the traceback of TorchScript frames
        last = next((ln for ln in reversed(lines) if re.match(r"^(?:\w+\.)*\w+(Error|Exception):", ln)), None)
        if last:  # raised from Python code TorchScript ran, it is named "builtins.RuntimeError: ..."
            return short_message(last.removeprefix("builtins."), limit)
    name = re.match(r"^(\w+(?:\.\w+)*):\s*$", lines[0])
    first = f"{name.group(1)}: {lines[1]}" if name and len(lines) > 1 else lines[0]
    if first.endswith("Tracing failed sanity checks!") and len(lines) > 1 and lines[1].startswith("ERROR:"):
        first = f"{first} {lines[1].removeprefix('ERROR: ')}"  # what differed: the graphs, or the values
    return short_message(first, limit)


def foreign_operator(text):
    """(namespace, operator) of an operator from another library named in an error, e.g. ('torchvision', 'nms')."""
    for pattern in (r"Unknown builtin op: (\w+)::(\w+)", r"torch\.ops\.(\w+)\.(\w+)", r"\b(\w+)::(\w+)\b"):
        for namespace, operator in re.findall(pattern, str(text)):
            if namespace not in _TORCH_NAMESPACES and not namespace.startswith("_"):
                return namespace, operator
    return None


def import_name(namespace) -> str:
    """The module to import for an operator namespace: ``fbgemm`` -> ``fbgemm_gpu``, else the namespace itself."""
    return _IMPORTS[namespace][0].removeprefix("import ") if namespace in _IMPORTS else namespace


def library_hint(text) -> str:
    """What the loading process needs for an operator of another library; "" if none is named."""
    found = foreign_operator(text)
    if not found:
        return ""
    namespace, operator = found
    if namespace in _IMPORTS:
        python, cpp = _IMPORTS[namespace]
        return (f"the file calls {namespace}::{operator}, an operator of another library: the process that loads it "
                f"must run `{python}` first (a C++ program must link {cpp})")
    # a namespace the course does not know: it may be a library's, or the learner's own torch.library op
    return (f"the file calls {namespace}::{operator}, an operator registered outside torch: the process that loads it "
            f"must first import the module that registers {namespace}:: (its library's, e.g. `import {namespace}` "
            f"if named so, or your own file), and a C++ program must link the library that defines it")


def torch_suggestion(text) -> str:
    """The fix torch itself suggests in an error ("Suggested fixes:" lines, or its strict=False advice), one line."""
    text = str(text)
    block = re.search(r"Suggested fixes:\s*\n((?:[ \t]+\S.*\n?)+)", text)
    if block:
        fixes = "; ".join(ln.strip() for ln in block.group(1).splitlines() if ln.strip())
        return f"torch suggests: {fixes}"
    sentence = re.search(r"[^.]*\bstrict=False\b[^.]*\.", text)
    if sentence:
        return f"torch suggests: {sentence.group(0).strip()}"
    return ""


def dim_conflict(error, example="the first input",
                 instead="put an input with 2 or more there first in the list") -> str:
    """What to do when torch.export refuses a ``Dim`` that the model or the example contradicts ("Constraints
    violated"), with torch's own suggested fix, in one line; "" for any other error. ``example`` names the input
    export traced and ``instead`` how to give it another size, in the words of the helper that asks.
    The one reader of that message for every helper that exports with dynamic_shapes: torch's first line says only
    "Constraints violated (batch)!", the fix is lines below it."""
    text = str(error)
    if "Constraints violated" not in text:
        return ""
    names = re.search(r"Constraints violated \(([^)]*)\)", text)
    dims = f" {names.group(1)}" if names else ""
    several = "," in dims
    if re.search(r"specialized it to be a constant \(1\)|= 1\s*$", text.split("Suggested fixes:")[-1].split("\n\n")[0]):
        return (f"{example} has a size of 1 in a dimension marked dynamic{dims and f' ({dims.strip()})'}, and "
                f"torch.export treats 1 as a constant (it broadcasts): {instead}")
    fixes = torch_suggestion(text)
    pinned = re.fullmatch(r"torch suggests: (\w+) = (\d+)", fixes)
    if pinned:  # torch's fix gives up the Dim: the size is fixed somewhere, often by an input left without the Dim
        return (f"torch.export found the size{dims} fixed at {pinned.group(2)} for this example, and torch suggests "
                f"{pinned.group(1)} = {pinned.group(2)}, which pins it instead of freeing it. If the model takes other "
                "sizes there, look for what fixes it: an input of the same size given no Dim (give every input "
                "that shares the size the same Dim), or a line that uses the size as a Python number")
    # a branch on the size (if x.shape[0] > 2) narrows the Dim's range; a reshape to a fixed multiple derives it
    return (f"the model does not take every size {'their' if several else 'its'} Dim{'s' * several}{dims} "
            f"allow{'' if several else 's'} (a branch on that size, or a shape it fixes): "
            + (f"{fixes}, then pass that in dynamic_shapes" if fixes else "read torch's suggested fixes "
               "(run torch.export.export(...) by hand) and change the Dim to match"))


def _save_hint(method, error) -> str:
    """What to do when the copy was made but could not be saved."""
    from ..tools.diagnose import known_hint
    return known_hint(str(error)) or (f"the {'scripted' if method == 'script' else 'traced' if method == 'trace' else 'exported'} "
                                      "copy was made, and saving it failed: the error names what the file cannot hold")


def _export_hint(method, error) -> str:
    name = type(error).__name__
    if "extract specialized integer" in str(error):  # int(t) or t.item() of a tensor used as a Python number
        return ("Python takes a number out of a tensor (`int(t)`, `t.item()`) and uses it as a plain number, which "
                "export cannot know ahead: pass it as a constructor argument, keep the computation in tensors, or use "
                "method='script'")
    if name == "GuardOnDataDependentSymNode":
        from ..tools.diagnose import _learner_line, _library_of  # where the decision is: the learner's code or not
        where = _learner_line(error)
        package = _library_of(where)
        if package:
            return (f"a Python decision on tensor values in {package}'s own code ({where}), not yours: this model "
                    f"does not take torch.export as it is; use method='script', or what {package} documents for "
                    "exporting it")
        cause = re.search(r"Caused by: \(([\w./-]+\.py:\d+)", str(error))  # torch names where the guard arose
        package = _library_of(cause.group(1) + ":") if cause else ""
        if package:
            return (f"a Python decision on tensor values inside {package} ({cause.group(1)}), reached from your line "
                    f"({where or 'not found'}): torch.export cannot take that call as it is; keep it out of the "
                    "exported part, or use method='script'")
        return ("a Python decision on tensor values (an `if`, or a loop's condition): rewrite an `if` with "
                "torch.cond (09) and a loop with tensor operations or torch.while_loop (a prototype, as torch.cond "
                "is), or use method='script'")
    conflict = dim_conflict(error)
    if conflict:
        return conflict
    library = library_hint(error)
    if library:
        return library
    if "serialize TreeSpec of namedtuple" in str(error):  # torch's own advice names a private function
        return ("torch.export.save cannot store a NamedTuple output (its class is not registered): return a tuple or "
                "a dict from forward, and rebuild the NamedTuple where you load the program")
    suggestion = torch_suggestion(error)
    if suggestion:
        return suggestion
    if "Tracing failed sanity checks" in str(error) and "transformer.py" in str(error):
        return ("the tracer's check runs without autograd, and nn.Transformer layers then take their fast path, so "
                "the two traces differ: trace under torch.no_grad(), or script the model (H.diagnose traces with "
                "check_trace=False and compares the outputs itself, so its trace row can agree where this check fails)")
    if "Tracing failed sanity checks" in str(error):
        return ("two traces of input 0 differ, so the model computes differently on each call (a counter it updates, "
                "a random draw, a path chosen by whether autograd is on: the tracer's check runs without it): a "
                "trace cannot hold that; keep such state out of forward, trace under torch.no_grad(), or script it")
    if method == "script" and "failed earlier in this kernel" in short_message(error):
        return ("run the cell (or import) that defines the class again to see the first error its scripting gave, and "
                "fix that (torch keeps the half-made class of the failed attempt)")
    if method == "script":
        return "the code uses Python TorchScript cannot compile: see 06 for rewrites, or try method='export'"
    if method == "trace" and "dynamo-optimized function" in str(error):
        return ("the tracer cannot take a torch.cond (nor another call compiled by torch.compile): export the model "
                "(torch.export keeps both branches), or trace a version without it")
    if method == "trace" and "NoneType]' cannot be traced" in str(error):
        from ..tools.diagnose import known_hint
        return known_hint(str(error))
    if method == "trace" and re.search(r"only tensors|Type '.*' cannot be traced", str(error)):
        return ("torch.jit.trace takes tensors only: pass the number as a tensor, make it a constructor argument of "
                "the model, or use method='script'")
    return "this row shows the error's first line; run the export by hand to see the full traceback"


def _first_line(message) -> str:
    lines = [line for line in str(message).splitlines() if line.strip()]
    return (lines[0] + (" …" if len(lines) > 1 else "")) if lines else ""


def _export_and_save(model, example, method, path, dynamic_shapes) -> str:
    """Export and save; returns a caveat for a copy that may hold one path only ('' if none)."""
    caveat = ""
    if method == "script":
        exported = torch.jit.script(model)
    elif method == "trace":
        relaxed = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", torch.jit.TracerWarning)  # recorded for the caveat, then shown
            try:
                exported = torch.jit.trace(model, example)
            except RuntimeError as error:
                if "dict at the output of the tracer" not in str(error):
                    raise
                # torch's own advice for a dict output, which the learner could not pass here: taken, as
                # H.benchmark_model and H.parity's trace do, and said in the caveat (the keys are fixed in the file)
                exported, relaxed = torch.jit.trace(model, example, strict=False), True
        told = [w for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
        # still shown, once each, in one line: the trace check's own warning lists whole tensors over many lines
        for key in dict.fromkeys((_first_line(w.message), w.filename, w.lineno) for w in told):
            warnings.warn_explicit(key[0], torch.jit.TracerWarning, key[1], key[2])
        container = next((w for w in told if "at the output of the tracer" in str(w.message)), None)
        torch_dir = str(Path(torch.__file__).resolve().parent)
        # a warning raised in torch's own modules is one of their checks (an LSTM's input size), not your path
        yours = [w for w in told if not str(Path(w.filename).resolve()).startswith(torch_dir)]
        if yours:
            source = linecache.getline(yours[0].filename, yours[0].lineno).strip()
            caveat = (f"the tracer warned ({short_message(yours[0].message, 90)}"
                      + (f", at `{source}`" if source else "") + "): the trace holds the path input 0 took, "
                      "and these inputs may all take it; add inputs that take the other paths, or script the model")
        elif container is not None:
            caveat = ("the tracer warned that a list or dict output is right only while its length and keys stay "
                      "the same for every input: return a tuple, or script the model if they change")
        if relaxed:
            from ..tools.parity import RELAXED_TRACE_NOTE
            caveat = f"{caveat}; {RELAXED_TRACE_NOTE}" if caveat else RELAXED_TRACE_NOTE
    else:
        with quiet_export():  # hides the partial graph torch prints on failure; warnings still show
            exported = torch.export.export(model, example, dynamic_shapes=dynamic_shapes)
    try:
        with atomic_path(path) as temporary:  # a save that fails half-way leaves no partial file
            (torch.export.save if method == "export" else torch.jit.save)(exported, str(temporary))
    except Exception as error:  # the copy was made: its save is what failed, and the report must say so
        raise _SaveFailed(error) from error
    return caveat


class _SaveFailed(Exception):
    """The copy was made, and saving it failed: ``error`` is the save's own error."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


def _run_fresh(jobs: dict, inputs, folder: Path, timeout: float, imports=()) -> dict:
    """Load and run every saved file in one new Python process, after importing ``imports``; method -> its results."""
    inputs_file, outputs_file = folder / "roundtrip_inputs.pt", folder / "roundtrip_outputs.pt"
    outputs_file.unlink(missing_ok=True)
    with atomic_path(inputs_file) as temporary:
        torch.save(inputs, temporary)
    arguments = ["-c", _RUNNER, json.dumps({m: str(p) for m, p in jobs.items()}), str(inputs_file), str(outputs_file),
                 json.dumps(list(imports)), str(torch.get_num_threads())]
    try:  # forked from the waiting torch process: a new process that never imported the helpers or your classes
        # (for a .pt2 file, from the one that has also imported torch's loaders: torch's modules, nothing of yours)
        done = run_python(arguments, cwd=folder, timeout=timeout, export_loaders="export" in jobs)
    except subprocess.TimeoutExpired:
        return {m: {"stage": "load", "error": f"the fresh process took more than {timeout:g} s"} for m in jobs}
    if done.returncode != 0 or not outputs_file.is_file():
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        return {m: {"stage": "load", "error": f"the fresh process exited with code {done.returncode}: {last}"}
                for m in jobs}
    return torch.load(outputs_file, weights_only=True)


# ---------------------------------------------------------------- the check

def _tie_note(model, want, got, rtol, atol) -> str:
    """H.parity's note when two outputs differ only where scores tie (a detector keeping either of two boxes that score
    the same), the scripted detector's (losses, detections) compared by its detections; "" otherwise."""
    from ..tools.parity import _compare_outputs, detections_of
    try:
        got = detections_of(model, want, got) or got
        said = _compare_outputs(want, got, rtol, atol)[3]
    except Exception:  # outputs this comparison cannot read: the plain advice stands
        return ""
    tie = next((part for part in said.split("; ") if "ties with another" in part), "")
    return (f"{tie}; eager and the reloaded copy kept different ones among equal scores, which says nothing against "
            "the copy (trained weights tie far less often)") if tie else ""


def export_roundtrip_checks(model, inputs, methods=ROUNDTRIP_METHODS, *, dynamic_shapes=None,
                            rtol=1e-5, atol=1e-6, folder=None, timeout=120.0, imports=()) -> RoundtripTable:
    """Export ``model`` with each of ``methods``, reload every file in one fresh process, compare with eager.

    ``inputs``: a list of inputs (each a tensor or a tuple of tensors); the first one is the example
    that trace and export record. ``dynamic_shapes`` is passed to torch.export.export. Files go to
    ``folder`` (default: a work folder under work/). ``imports``: modules the fresh process imports
    before loading, for files that call operators of another library (``imports=("torchvision",)``
    registers ``torchvision::nms``). A model whose forward returns a dict is traced with ``strict=False``,
    as torch's own error advises (the row's caveat says so).
    """
    return _checks(model, inputs, methods, "export_roundtrip_checks", dynamic_shapes=dynamic_shapes, rtol=rtol,
                   atol=atol, folder=folder, timeout=timeout, imports=imports)


def _checks(model, inputs, methods, who, *, dynamic_shapes=None, rtol=1e-5, atol=1e-6, folder=None, timeout=120.0,
            imports=()) -> RoundtripTable:
    """``export_roundtrip_checks``; ``who`` is the function the learner called, which every message names."""
    require_module(model, who)
    if isinstance(model, torch.jit.ScriptModule):  # its "eager" answers would be TorchScript's, and script it again
        raise TypeError(f"{who} exports the eager model and compares the files with it, and this one is already a "
                        "TorchScript copy (scripted, traced or loaded): pass the nn.Module it was made from")
    if isinstance(imports, str):
        imports = (imports,)
    if not isinstance(imports, (list, tuple)) or not all(
            isinstance(name, str) and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", name) for name in imports):
        raise ValueError(f"{who}: imports= takes module names, e.g. ('torchvision',), got {imports!r}")
    args_list = _as_input_list(inputs, who)
    refuse_meta(args_list, who)
    if isinstance(methods, str):
        methods = (methods,)
    unknown = [m for m in methods if m not in ROUNDTRIP_METHODS]
    if unknown or not methods:
        raise ValueError(f"{who}: method must be one of {ROUNDTRIP_METHODS}, got {unknown or methods}")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or tol < 0:
            raise ValueError(f"{who}: {name} must be a number >= 0, got {tol!r}")
    folder = Path(folder) if folder is not None else work_dir("export_check")
    folder.mkdir(parents=True, exist_ok=True)

    # Eager and every export start from the model as it was passed: a model that changes its own state as it runs
    # (a call counter) must not have run the inputs before it is saved, or the file starts where eager ended.
    pristine = fresh_copy(model)
    eager = fresh_copy(pristine)
    expected = []
    from ..tools.parity import python_state, state_changes
    state_before = python_state(eager)
    limit = None  # no limit on input 0, the example: then 50 times its time (at least 5 s), as parity gives variants
    with torch.no_grad():
        for i, args in enumerate(args_list):
            started = time.perf_counter()
            try:
                # own_copy: forward may change its input in place; call_within: eager runs here, in this process,
                # outside the fresh process's timeout, so a loop that never ends on one input would hang the check
                output, answered = call_within(limit, eager, *own_copy(args))
            except Exception as error:
                raise ValueError(f"{who}: the eager model itself fails on input {i} "
                                 f"({typed_message(error, 120)}): pass inputs it accepts") from None
            if not answered:
                raise ValueError(f"{who}: the eager model did not finish on input {i} within {limit:.0f} s (50 times "
                                 "its time on input 0, at least 5 s): a loop that never ends on it? Pass inputs it "
                                 "finishes on")
            expected.append(output)
            if limit is None:
                limit = variant_seconds(time.perf_counter() - started)
    # plain attributes eager changes as it runs (a call counter): trace and export keep none, script keeps its own.
    # Buffers are another matter: a traced or exported copy updates its own buffers as eager does, so no loss is
    # claimed for them; but tracing runs forward, so a traced copy starts from buffers that call moved.
    buffers = {name for name, _ in pristine.named_buffers()} if isinstance(pristine, torch.nn.Module) else set()
    state_after = python_state(eager)
    without_buffers = lambda state: {name: value for name, value in state.items() if name not in buffers}
    attributes = state_changes(without_buffers(state_before), without_buffers(state_after))
    moved_buffers = sorted(name for name in buffers if state_before.get(name) != state_after.get(name))
    state_lost = (f"eager changes its own Python attributes as it runs ({'; '.join(attributes[:2])}), and a traced "
                  "or exported copy keeps no such state: the answers matched, but that state is lost") if attributes else ""

    reports, jobs, caveats = {}, {}, {}
    for method in dict.fromkeys(methods):
        path = folder / f"roundtrip_{method}{_SUFFIX[method]}"
        path.unlink(missing_ok=True)
        try:
            caveats[method] = _export_and_save(fresh_copy(pristine), own_copy(args_list[0]), method, path, dynamic_shapes)
        except _SaveFailed as failed:  # made, but not saved: e.g. a None default compiled as an undefined Tensor
            error = failed.error
            reports[method] = RoundtripReport(method, "save", cause_line(f"{type(error).__name__}: {error}"),
                                              path=None, hint=_save_hint(method, error))
            continue
        except Exception as error:  # a failed export is a finding of the check, not a crash
            reports[method] = RoundtripReport(method, "export", cause_line(f"{type(error).__name__}: {error}"),
                                              path=None, hint=_export_hint(method, error))
            continue
        jobs[method] = path

    results = _run_fresh(jobs, args_list, folder, timeout, imports) if jobs else {}
    for method, path in jobs.items():
        result = results.get(method, {"stage": "load", "error": "no result from the fresh process"})
        if result["stage"] == "load":
            text = result["error"]
            library = library_hint(text)
            cause = serializer_cause(text) or cause_line(text)  # torch's reason, not its "check the warnings above"
            if library:
                namespace = foreign_operator(text)[0]
                if namespace not in cause:  # the vague error hid the operator: name it
                    cause = next((cause_line(ln) for ln in text.splitlines() if "failed to resolve" in ln), cause)
                if namespace in _IMPORTS:
                    module = _IMPORTS[namespace][0].removeprefix("import ")
                    library += f"; here, pass imports=({module!r},)"
                else:
                    library += "; here, pass imports=('that_module',), the name of that module"
            reports[method] = RoundtripReport(
                method, "load", cause, path=path,
                hint=library or torch_suggestion(text) or "the file does not load on its own: the cause is above")
            continue
        failed = [i for i, e in enumerate(result["errors"]) if e]
        if failed:
            first = result["errors"][failed[0]]
            hint = ("the program was exported for the example's shapes: pass dynamic_shapes=... for the dims that "
                    "vary; if export then says your code specialized a dim to a constant, forward uses that size in "
                    "Python (a loop over it, say): write it as tensor operations, or script the model"
                    if "Guard failed" in first and dynamic_shapes is None else
                    "the program was exported with dynamic_shapes and still guards this size: forward branches on it "
                    "(or needs it in a range), and a Dim cannot keep both sides of a branch on a size: write the "
                    "branch with torch.cond (09), or script the model"
                    if "Guard failed" in first else
                    argument_type_fix(first) or "run the reloaded model on that input by hand to see the traceback")
            counts = (len(args_list[failed[0]]), len(args_list[0]))
            if method == "export" and "Trying to flatten user inputs" in first and counts[0] != counts[1]:
                hint = (f"input {failed[0]} passes {counts[0]} argument{'s' * (counts[0] != 1)} and input 0, which "
                        f"the program was exported from, {counts[1]}: an exported program takes exactly input 0's "
                        "arguments (one that input 0 left at its default is part of the program, not an input)")
            listed = re.search(r"Expected (\d+) elements in a list but found (\d+)", first)
            if method == "trace" and listed:  # a trace flattens a list argument into that many inputs
                hint = (f"the trace was made from input 0, whose list holds {listed.group(1)} tensors, and a trace keeps "
                        f"that length (this input's holds {listed.group(2)}): script the model, whose List[Tensor] "
                        "takes any length, or trace one copy per length you use")
            number = re.search(r"Guard failed: (\w+) == (-?[\d.]+(?:e-?\d+)?)\s*$", first.strip())
            if method == "export" and number:  # a guard on an argument's value, not on a size
                hint = (f"the program fixed the number `{number.group(1)}` at input 0's value, {number.group(2)}: "
                        "torch.export keeps a Python number argument as a constant, and dynamic_shapes for sizes does "
                        "not change that (an int can be marked Dim.DYNAMIC; a float cannot): export one program per "
                        "value you use, or pass the number as a tensor")
            if method == "export" and re.search(r"Guard failed: .*\] == 1\b", first):
                hint = ("the program was exported from input 0, which has a size of 1 where other inputs differ, and "
                        "torch.export treats 1 as a constant (it broadcasts), even with dynamic_shapes: put an input "
                        "with 2 or more there first in the list, and pass dynamic_shapes=... for that dimension")
            from ..tools.parity import training_layers
            training = training_layers(model)
            if training:  # dropout or batch norm in training mode: eval() first, whatever else fails
                hint = (f"the model has layers in training mode ({few_layers(training)}): call model.eval() "
                        f"before exporting; then: {hint}")
            hint = library_hint(first) or hint
            # the inputs that did run may already disagree (export baked a counter in): say so beside the failure
            ran_wrong = [i for i, (want, got) in enumerate(zip(expected, result["outputs"]))
                         if i not in failed and got is not None and not _max_diff(want, got, rtol, atol)[0]]
            if ran_wrong:
                one = len(ran_wrong) == 1
                why = f" ({state_lost})" if state_lost and method != "script" else ": compare with H.parity"
                hint += (f"; and input{'' if one else 's'} {', '.join(map(str, ran_wrong))}, which ran, already "
                         f"{'disagrees' if one else 'disagree'} with eager{why}")
            reports[method] = RoundtripReport(method, "run", cause_line(first), failed_inputs=failed,
                                              path=path, hint=hint)
            continue
        diffs, bad, fast_path = [], [], ""
        for i, (want, got) in enumerate(zip(expected, result["outputs"])):
            close, diff = _max_diff(want, got, rtol, atol)
            if not close and _fast_path_layers(pristine):  # eager's no-grad path wrote zeros where the mask pads
                try:
                    with torch.enable_grad():
                        again = fresh_copy(pristine)(*own_copy(args_list[i]))
                    close, diff = _max_diff(again, got, rtol, atol)
                except Exception:  # it ran under no_grad: a failure with gradients on says nothing about the copy
                    pass
                fast_path = fast_path or (close and "compared with eager run with gradients on, since under no_grad "
                                          f"eager takes {FAST_PATH_ZEROS}, and the copy computes numbers there")
            diffs.append(diff)
            if not close:
                bad.append(i)
        if bad:
            from ..tools.parity import training_layers
            random_layers = training_layers(model)
            if random_layers:  # eager itself answers differently each call: no copy can match it
                hint = (f"the model has layers in training mode ({few_layers(random_layers)}): call model.eval() "
                        "before exporting")
            elif random_in_forward(pristine, args_list[0], rtol, atol):
                hint = ("eager itself gives two different answers to the same input (randomness in forward, such as "
                        "F.dropout with its default training=True, or state kept outside the model, such as a global "
                        "it changes?): no copy can match it, so these differences cannot be blamed on this copy, nor "
                        "can it be cleared by them")
            elif method == "trace" and moved_buffers:
                hint = (f"eager changes its buffer{'s' * (len(moved_buffers) > 1)} {', '.join(moved_buffers[:3])} as it "
                        "runs, and tracing ran forward (once, and again for its check), so the traced copy starts from "
                        "buffers those calls moved, eager from the start: export the model, or trace a copy and reset "
                        "its buffers before saving")
            elif method == "trace":
                hint = ("the trace recorded only what input 0 ran (its branches, its loop counts): script the model, "
                        "or export it after a rewrite (a data-dependent if as torch.cond; a loop over a size as one tensor "
                        "operation over that dimension, such as a sum or an amax: export fixes a loop's count too); "
                        "the tracer cannot take a torch.cond")
            elif attributes and method == "export":
                hint = (f"eager changes its own Python attributes as it runs ({'; '.join(attributes[:2])}), and an "
                        "exported copy keeps no such state: the value from the call export ran is baked in, so every call "
                        "answers as that one did. Keep such state in a registered buffer, or out of forward")
            else:
                hint = _tie_note(pristine, expected[bad[0]], result["outputs"][bad[0]], rtol, atol) or \
                    "compare the outputs input by input with H.parity to find where they part"
            reports[method] = RoundtripReport(method, "compare", max_diffs=diffs, failed_inputs=bad, path=path, hint=hint)
        else:
            from ..tools.parity import (ONE_INTEGER_NOTE, _is_empty, _within_atol_of_zero, defaults_left,
                                        one_integer_value, only_nan, tiny_in_every, training_layers)
            notes = [caveats.get(method, ""), fast_path]  # why agreeing may prove less than it seems, joined into one
            sizes = [_within_atol_of_zero(want, atol) for want in expected]
            if all(size is not None for size in sizes) and any(diffs):  # zeros would have passed as well
                notes.append(f"eager's outputs are at most {max(sizes):.2g} in size, within atol={atol:g} of zero, so "
                             "any numbers that small agree: pass a smaller atol")
            elif any(diffs):  # one part of the outputs that small, beside larger ones: zeros would pass there
                small = tiny_in_every(expected, atol)
                if small:
                    notes.append(f"{', '.join(small)} of eager's outputs lay within atol={atol:g} of zero on every "
                                 "input, so any numbers that small agree there: compare that part with a smaller atol")
            if one_integer_value(args_list):
                notes.append(ONE_INTEGER_NOTE)
            training = training_layers(model)
            if training:  # agreeing with a model in training mode says nothing of the one you ship
                notes.append(f"the model has layers in training mode ({few_layers(training)}), so the copy was made "
                             "from its training-mode path and compared with it: call model.eval() and check again")
            if expected and all(only_nan(want) for want in expected):  # NaN equals NaN here: no number was compared
                notes.append("every output eager gave was NaN, so the copy agreed on NaN only: pass inputs on which "
                             "the model gives numbers")
            if all(_is_empty(want) for want in expected):  # no numbers compared (a detector finding nothing)
                notes.append("every output eager gave was empty (no detections?), so nothing was compared: pass "
                             "inputs on which the model answers with numbers (trained weights, a real image)")
            if state_lost and method in ("trace", "export"):
                notes.append(state_lost)
            sized = any(isinstance(t, torch.Tensor) and t.dim() > 0
                        for args in args_list for t in torch.utils._pytree.tree_leaves(args))  # 0-d ones have no size
            if method == "export" and dynamic_shapes is None and sized and len({shapes(args) for args in args_list}) == 1:
                # no dynamic_shapes: every size is fixed in the program, and no input tried another
                notes.append("the program was exported without dynamic_shapes, so it takes the example's sizes only, "
                             "and every input had them: a call with other sizes fails (pass dynamic_shapes for the "
                             "sizes you ship, and inputs of those sizes)")
            left = defaults_left(model, args_list) if method in ("trace", "export") else []
            if left:  # a trace or an export writes the default into its graph: other values were never tried
                kept, one = ", ".join(f"`{d}`" for d in left), len(left) == 1
                notes.append(f"every input left forward's {kept} at {'its default' if one else 'their defaults'}, "
                             f"and the {method} fixed {'it' if one else 'them'} into its graph: a call with another "
                             "value was not checked (a scripted copy keeps it an argument)")
            if moved_buffers and method == "trace":  # the answers agree, but the saved file starts elsewhere
                notes.append(f"tracing ran forward, which moved the buffer{'s' * (len(moved_buffers) > 1)} "
                             f"{', '.join(moved_buffers[:3])}: the saved trace starts from the moved values, eager "
                             "from the start, which these answers do not show")
            caveat = "; ".join(note for note in notes if note)
            reports[method] = RoundtripReport(method, "passed", max_diffs=diffs, path=path, caveat=caveat)
    return RoundtripTable(reports[m] for m in dict.fromkeys(methods))


def export_roundtrip_check(model, inputs, method="export", *, dynamic_shapes=None, rtol=1e-5, atol=1e-6,
                           folder=None, timeout=120.0, imports=()) -> RoundtripReport:
    """One method's round trip: export, save, reload in a fresh process, run every input, compare with eager.

    ``method`` is "script", "trace" or "export"; the options as for ``export_roundtrip_checks``.
    """
    if not isinstance(method, str):
        raise TypeError(f"export_roundtrip_check: method is one string of {ROUNDTRIP_METHODS}, got {method!r}; "
                        "for several use export_roundtrip_checks(model, inputs, methods=[...])")
    return _checks(model, inputs, (method,), "export_roundtrip_check", dynamic_shapes=dynamic_shapes, rtol=rtol,
                   atol=atol, folder=folder, timeout=timeout, imports=imports)[0]
