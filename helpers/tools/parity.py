"""Does a traced, scripted or exported copy give the eager model's answers? (introduced in 02_what_is_torchscript, used by every later notebook).

``H.parity(eager, traced, example=x, label="traced")`` runs both models over ``x`` and variants of it
(negated, scaled, zeros, another batch size) and returns a ``ParityReport``: one row per input saying
whether the outputs are exact, close, and how far apart. ``label`` names the copy in the verdict
("✘ traced diverges from eager …"); without it the copy is called "converted" ("loaded" for a file).
It displays as a table in JupyterLab, and works in tests:
``assert H.parity(m, traced, example=x).all_close`` or ``report.assert_close()``.
``H.compare(name, a, b)`` is the one-line version for two tensors you already have.
"""
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..course.failures import INTERPRETER_OPENER, short_message
from ..course.guards import input_args

__all__ = ["parity", "ParityReport", "ParityRow", "vary_inputs", "InputVariants", "compare"]

# Neutral on purpose: the copy may be traced, scripted, exported with torch.export or run by onnxruntime,
# and "exported" would suggest torch.export. Callers name it with label="traced" etc.
DEFAULT_LABEL = "converted"


# ---------------------------------------------------------------- inputs

def _as_args(value, who: str, label: str) -> tuple:
    """One input as the tuple of positional arguments the model is called with."""
    args = input_args(value)
    if args is not None:
        return args
    raise TypeError(f"{who}: input {label!r} must be a tensor or a tuple of tensors (one per model argument), "
                    f"got {_describe(value)}")


def _describe(value) -> str:
    if isinstance(value, (tuple, list)):
        inner = ", ".join(type(v).__name__ for v in value[:4]) + (", …" if len(value) > 4 else "")
        return f"a {type(value).__name__} of ({inner})" if value else f"an empty {type(value).__name__}"
    return f"a {type(value).__name__}"


def _resized(t: torch.Tensor, size: int) -> torch.Tensor:
    """``t`` with ``size`` rows on dim 0, repeating its own rows so the values stay like the example's."""
    reps = math.ceil(size / t.shape[0])
    return torch.cat([t] * reps, dim=0)[:size]


class InputVariants(dict):
    """Label -> tuple of model arguments; ``.skipped`` maps each dropped variant's label to the reason."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.skipped = {}

    def __repr__(self):
        shapes = ", ".join(f"{k}: {' & '.join(str(tuple(t.shape)) for t in v)}" for k, v in self.items())
        skipped = f"; skipped {', '.join(self.skipped)}" if self.skipped else ""
        return f"<InputVariants {shapes}{skipped}>"


def vary_inputs(example, model=None, batch_sizes=None) -> InputVariants:
    """The example and variants of it by sign, scale and shape, each a tuple of model arguments.

    Variants: ``negated``, ``x0.1``, ``x10``, ``zeros`` (floating-point arguments only) and
    ``batch N`` (every argument that shares the first one's leading dimension gets N rows, reusing
    its own rows). ``batch_sizes`` defaults to 1 and the example's size + 2. With ``model`` given,
    variants the model itself rejects are dropped, and ``.skipped`` says which and why.
    """
    args = _as_args(example, "vary_inputs", "example")
    variants = InputVariants(example=args)
    floats = [t.is_floating_point() or t.is_complex() for t in args]

    def scaled(fn):
        return tuple(fn(t) if f else t for t, f in zip(args, floats))

    candidates = {}
    if any(floats):
        candidates["negated"] = scaled(torch.neg)
        candidates["x0.1"] = scaled(lambda t: t * 0.1)
        candidates["x10"] = scaled(lambda t: t * 10)
        candidates["zeros"] = scaled(torch.zeros_like)
    else:
        variants.skipped["sign and scale"] = "no floating-point argument to vary"

    lead = args[0].shape[0] if args[0].dim() > 0 else None
    if lead is None or lead == 0:
        variants.skipped["batch"] = "the first argument has no leading dimension to change"
    else:
        if batch_sizes is None:
            batch_sizes = [1, lead + 2] if lead != 1 else [2, 3]
        for size in batch_sizes:
            if not isinstance(size, int) or isinstance(size, bool) or size < 1:
                raise ValueError(f"vary_inputs: batch_sizes must be positive ints, got {size!r}")
            if size == lead:
                continue
            candidates[f"batch {size}"] = tuple(_resized(t, size) if t.dim() > 0 and t.shape[0] == lead else t
                                                for t in args)

    if model is not None:
        model = _require_callable(model, "vary_inputs", "model")
        failure = _eager_failure(model, args)
        if failure:
            raise ValueError(f"vary_inputs: the model itself fails on the example ({failure}): "
                             "pass an example the model accepts")
    for label, variant in candidates.items():
        failure = _eager_failure(model, variant) if model is not None else None
        if failure:
            variants.skipped[label] = f"the model itself rejects it: {failure}"
        else:
            variants[label] = variant
    return variants


# ---------------------------------------------------------------- outputs

def _flatten(out, path="out"):
    """(path, leaf) pairs of a tensor or of tuples/lists/dicts of tensors, in a stable order."""
    if isinstance(out, (tuple, list)):
        return [pair for i, o in enumerate(out) for pair in _flatten(o, f"{path}[{i}]")]
    if isinstance(out, dict):
        return [pair for k in sorted(out, key=str) for pair in _flatten(out[k], f"{path}[{k!r}]")]
    return [(path, out)]


def _compare_leaf(a, b, rtol, atol):
    """(exact, close, largest absolute difference, note) for one pair of output leaves."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        same = type(a) is type(b) and a == b
        if isinstance(same, torch.Tensor):  # a tensor compared with a number
            same = False
        return bool(same), bool(same), (0.0 if same else math.inf), ("" if same else f"{a!r} vs {b!r}")
    a, b = a.detach(), b.detach()
    if a.shape != b.shape:
        return False, False, math.inf, f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
    note = "" if a.dtype == b.dtype else f"dtype {a.dtype} vs {b.dtype}"
    if a.numel() == 0:
        return not note, True, 0.0, note
    wide = torch.complex128 if (a.is_complex() or b.is_complex()) else torch.float64
    a64, b64 = a.to(wide), b.to(wide)
    both_nan = torch.isnan(a64) & torch.isnan(b64)
    diff = torch.where(both_nan, torch.zeros_like(a64), a64 - b64).abs()
    max_diff = diff.max().item()
    max_diff = math.inf if math.isnan(max_diff) else max_diff
    exact = not note and bool(((a64 == b64) | both_nan).all())
    close = bool(torch.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=True).all())
    return exact, close, max_diff, note


def _compare_outputs(a, b, rtol, atol, names=("eager", DEFAULT_LABEL)):
    left, right = _flatten(a), _flatten(b)
    if len(left) != len(right):
        return False, False, math.inf, f"{names[0]} gives {len(left)} outputs, {names[1]} {len(right)}"
    exact, close, worst, notes = True, True, 0.0, []
    for (path, x), (_, y) in zip(left, right):
        e, c, d, n = _compare_leaf(x, y, rtol, atol)
        exact, close, worst = exact and e, close and c, max(worst, d)
        if n:
            notes.append(n if len(left) == 1 else f"{path}: {n}")
    return exact, close, worst, "; ".join(notes)


# ---------------------------------------------------------------- models

def _require_callable(obj, who, role):
    if isinstance(obj, (str, Path)) and role == "model to check":
        path = Path(obj)
        if not path.is_file():
            raise FileNotFoundError(f"{who}: no file at {path}: save the traced or scripted model there first, or pass the model itself")
        from ..routes.archive import load_torchscript  # the same one-line errors for a wrong or damaged file
        return load_torchscript(path)
    if isinstance(obj, type):
        raise TypeError(f"{who} expects the {role}, got the class {obj.__name__}: "
                        f"pass an instance, e.g. {obj.__name__}()")
    if not callable(obj):
        raise TypeError(f"{who} expects the {role} (an nn.Module, a traced or scripted model, "
                        f"or a function), got {type(obj).__name__}")
    return obj


def _eager_failure(model, args):
    """None if ``model(*args)`` runs, else a one-line description of the error."""
    try:
        with torch.no_grad():
            model(*args)
    except Exception as error:  # any failure means: this input is not one the model accepts
        return _one_line(error)
    return None


def _one_line(error: BaseException) -> str:
    """``Type: message`` in one line; for TorchScript interpreter errors, the real cause on their last line."""
    if str(error).lstrip().startswith(INTERPRETER_OPENER):
        return short_message(error, 140)  # its last line already reads "RuntimeError: select(): index 1 out of range ..."
    return f"{type(error).__name__}: {short_message(error, 120)}"


def _shapes(args) -> str:
    return " & ".join(str(tuple(t.shape)) for t in args)


# ---------------------------------------------------------------- report

@dataclass
class ParityRow:
    """One input of a parity check: its label, shapes, and how the two outputs compare."""
    label: str
    shapes: str
    exact: bool
    close: bool
    max_diff: float
    note: str = ""
    error: str = ""

    @property
    def diverges(self) -> bool:
        return bool(self.error) or not self.close

    @property
    def diff_text(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if math.isinf(self.max_diff):
            return self.note or "inf"
        return f"{self.max_diff:.3g}" + (f" ({self.note})" if self.note else "")


@dataclass
class ParityReport:
    """What ``parity`` found: one ``ParityRow`` per input, in order. Truthy when every input is close."""
    rows: list
    rtol: float
    atol: float
    skipped: dict = field(default_factory=dict)
    names: tuple = ("eager", DEFAULT_LABEL)

    @property
    def all_close(self) -> bool:
        """True when the checked model ran on every input and its outputs are close to eager's."""
        return bool(self.rows) and not any(r.diverges for r in self.rows)

    @property
    def first_divergence(self):
        """Label of the first input where the two models disagree (or the checked one fails); None if none."""
        return next((r.label for r in self.rows if r.diverges), None)

    @property
    def divergences(self) -> list:
        return [r.label for r in self.rows if r.diverges]

    @property
    def max_diff(self) -> float:
        return max((r.max_diff if not r.error else math.inf) for r in self.rows) if self.rows else 0.0

    def __bool__(self):  # so that `assert H.parity(...)` means what it says
        return self.all_close

    def __getitem__(self, label) -> ParityRow:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"no input labelled {label!r}: the labels are {[r.label for r in self.rows]}")

    def assert_close(self):
        """Raise AssertionError showing the table unless every input agrees; return the report otherwise."""
        if not self.all_close:
            raise AssertionError(f"{self.names[1]} diverges from {self.names[0]} "
                                 f"first at {self.first_divergence!r}:\n{self}")
        return self

    @property
    def summary(self) -> str:
        n = len(self.rows)
        tol = f"rtol={self.rtol:g}, atol={self.atol:g}"
        if self.all_close:
            where = "its 1 input" if n == 1 else f"all {n} inputs"
            return f"✔ {self.names[1]} agrees with {self.names[0]} on {where} ({tol})"
        bad = len(self.divergences)
        return (f"✘ {self.names[1]} diverges from {self.names[0]} on {bad} of {n} input{'s' if n > 1 else ''}, "
                f"first at {self.first_divergence!r} ({tol})")

    def __str__(self):
        head = ("input", "shape", "exact", "close", "largest |diff|")
        body = [(r.label, r.shapes, "✔" if r.exact else "✘", "✔" if r.close and not r.error else "✘", r.diff_text)
                for r in self.rows]
        widths = [max(len(str(row[i])) for row in [head] + body) for i in range(4)]
        lines = [self.summary]
        for row in [head] + body:
            lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        lines += [f"  skipped {label}: {why}" for label, why in self.skipped.items()]
        return "\n".join(lines)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        def mark(ok):
            colour, sign = ("#1a7f37", "✔") if ok else ("#cf222e", "✘")
            return f"<td style='color:{colour};text-align:center;font-weight:bold'>{sign}</td>"

        rows = []
        for r in self.rows:
            style = " style='background:#fff0f0'" if r.diverges else ""
            rows.append(f"<tr{style}><td>{html.escape(r.label)}</td><td><code>{html.escape(r.shapes)}</code></td>"
                        f"{mark(r.exact)}{mark(r.close and not r.error)}"
                        f"<td style='text-align:left'>{html.escape(r.diff_text)}</td></tr>")
        colour = "#1a7f37" if self.all_close else "#cf222e"
        skipped = "".join(f"<li>skipped <b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in self.skipped.items())
        return (f"<div><div style='color:{colour};font-weight:bold'>{html.escape(self.summary)}</div>"
                "<table><thead><tr><th>input</th><th>shape</th><th>exact</th><th>close</th>"
                "<th style='text-align:left'>largest |diff|</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>"
                + (f"<ul style='margin:0'>{skipped}</ul>" if skipped else "") + "</div>")


def parity(eager, exported, inputs=None, example=None, rtol=1e-5, atol=1e-6, label=None) -> ParityReport:
    """Run ``eager`` and ``exported`` (the copy to check) on each input and compare their outputs.

    ``inputs``: a list of inputs (each a tensor, or a tuple of tensors for a model with several
    arguments), or a dict label -> input. ``example``: one input, from which ``vary_inputs`` makes
    variants (those the eager model rejects are skipped and listed). Pass one of the two.
    ``exported`` may be a traced or scripted model, a torch.export module, any function, or the path
    of a saved TorchScript file. ``label`` is the word the verdict uses for it ("traced", "scripted",
    "exported", ...); by default "converted", or "loaded" for a path.
    An input on which the checked model raises counts as a divergence; one on which the eager
    model raises is a mistake in the inputs and raises ValueError.
    """
    if label is None:
        label = "loaded" if isinstance(exported, (str, Path)) else DEFAULT_LABEL
    elif not isinstance(label, str):
        raise TypeError(f"parity: label is the word the verdict uses for the checked model, "
                        f"e.g. label='traced' or label='scripted'; got {type(label).__name__}")
    elif not label.strip() or "\n" in label:
        raise ValueError(f"parity: label must be a short word on one line, e.g. label='traced'; got {label!r}")
    eager = _require_callable(eager, "parity", "eager model")
    exported = _require_callable(exported, "parity", "model to check")
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or tol < 0:
            raise ValueError(f"parity: {name} must be a number >= 0, got {tol!r}")
    if inputs is not None and example is not None:
        raise ValueError("parity takes inputs=[...] or example=x, not both: "
                         "put the example in the inputs list if you want it checked too")
    skipped = {}
    if example is not None:
        labelled = list(vary_inputs(example).items())  # variants the eager model rejects are skipped below
    elif inputs is None:
        raise ValueError("parity needs inputs to run: pass example=x (variants are made for you) or inputs=[x1, x2, ...]")
    elif isinstance(inputs, dict):
        labelled = [(str(k), _as_args(v, "parity", str(k))) for k, v in inputs.items()]
    elif isinstance(inputs, torch.Tensor):
        raise TypeError("parity: inputs must be a list of inputs, e.g. inputs=[x] or inputs=[x1, x2]; "
                        "for one example use example=x")
    else:
        labelled = [(f"input {i}", _as_args(v, "parity", f"input {i}")) for i, v in enumerate(inputs)]
    if not labelled:
        raise ValueError("parity got an empty list of inputs: pass at least one, e.g. inputs=[x] or example=x")

    names = ("eager", label.strip())
    rows = []
    with torch.no_grad():
        for row_label, args in labelled:
            try:
                expected = eager(*args)
            except Exception as error:
                if example is not None and row_label != "example":
                    skipped[row_label] = f"the eager model itself rejects it: {_one_line(error)}"
                    continue
                what = "the example" if example is not None else f"input {row_label!r}"
                raise ValueError(f"parity: the eager model itself fails on {what} with shape "
                                 f"{_shapes(args)} ({_one_line(error)}): "
                                 "pass inputs the eager model accepts") from None
            try:
                got = exported(*args)
            except Exception as error:  # the point of the check: report it as a divergence, do not crash
                rows.append(ParityRow(row_label, _shapes(args), False, False, math.inf,
                                      error=_one_line(error)))
                continue
            exact, close, max_diff, note = _compare_outputs(expected, got, rtol, atol, names)
            rows.append(ParityRow(row_label, _shapes(args), exact, close, max_diff, note))
    return ParityReport(rows, rtol, atol, skipped, names)


def compare(name, a, b, rtol=1e-5, atol=1e-6) -> bool:
    """Print one line: is ``b`` exactly / approximately ``a``, and their largest difference. Returns close."""
    if not isinstance(name, str):
        raise TypeError(f"compare(name, a, b) takes a label first, e.g. compare('logits', a, b); got {type(name).__name__}")
    for side, value in (("a", a), ("b", b)):
        if not all(isinstance(leaf, torch.Tensor) for _, leaf in _flatten(value)):
            raise TypeError(f"compare: {side} must be a tensor or a tuple/list of tensors, got {_describe(value)}")
    exact, close, max_diff, note = _compare_outputs(a, b, rtol, atol, names=("a", "b"))
    diff = note if math.isinf(max_diff) and note else f"{max_diff:.3g}" + (f" ({note})" if note else "")
    print(f"{name:15s} | exact: {str(exact):5s} | close: {str(close):5s} | largest |diff|: {diff}")
    return close
