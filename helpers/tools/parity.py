"""Does a traced, scripted or exported copy give the eager model's answers? (introduced in 02_what_is_torchscript, used by every later notebook).

``H.parity(eager, traced, example=x, label="traced")`` runs both models over ``x`` and variants of it
(``H.vary_inputs``: every argument and dtype varied in ways that keep it valid) and returns a
``ParityReport``: one row per input saying whether the outputs are exact, close, and how far apart.
``label`` names the copy in the verdict ("✘ traced diverges from eager …"); without it the copy is
called "converted" ("loaded" for a file). Outputs may be tensors, numbers, None, or nested tuples,
lists, NamedTuples and dicts (compared by key). The report also says when the comparison proves
little: outputs that are all empty, a line of the eager model's Python that no input ran (or a part of one:
a side of ``a if c else b``, an operand ``and``/``or`` skipped, a one-line ``if``'s body; or the way past an ``if``
with no ``else`` that every input entered), a copy that returns other types than eager, an eager model in
training mode. It displays as a table in JupyterLab, and works in tests:
``assert H.parity(m, traced, example=x).all_close``, ``report.assert_close()``, ``report.status``.
``H.compare(name, a, b)`` is the one-line version for two tensors you already have.
"""
import contextlib
import copy
import html
import inspect
import io
import math
import os
import re
import signal
import sys
import time
import types
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..course.failures import INTERPRETER_OPENER, short_message, typed_message
from ..course.guards import call_within, first_call_seconds, refuse_meta, variant_seconds, with_article
from .input_variants import (InputVariants, _is_int, as_args, changed_in_place, describe, in_place_difference, leaves, own_copy, shapes,
                             time_first_note, vary_inputs)
from .path_recorder import LineCoverage

__all__ = ["parity", "ParityReport", "ParityRow", "compare"]

# Neutral on purpose: the copy may be traced, scripted, exported with torch.export or run by onnxruntime,
# and "exported" would suggest torch.export. Callers name it with label="traced" etc.
DEFAULT_LABEL = "converted"

_as_args, _describe, _shapes = as_args, describe, shapes  # the names other helpers used
_ = (InputVariants, vary_inputs)  # re-exported here for callers that import them from parity


# ---------------------------------------------------------------- outputs

def _align(a, b):
    """``b`` arranged like ``a`` where that is safe: a dict's entries in ``a``'s key order (a copy may
    return them in another order, or as a plain sequence in insertion order, as ONNX does)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) == set(b):
            return {k: _align(a[k], b[k]) for k in a}
        return b
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return [_align(x, y) for x, y in zip(a, b)]
    if isinstance(a, dict) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return [_align(x, y) for x, y in zip(a.values(), b)]
    return b


def _flatten(out, path="out"):
    """(path, leaf) pairs of a tensor or of nested tuples/lists/dicts (dicts in their own key order)."""
    if isinstance(out, (tuple, list)):
        return [pair for i, o in enumerate(out) for pair in _flatten(o, f"{path}[{i}]")]
    if isinstance(out, dict):
        return [pair for k, v in out.items() for pair in _flatten(v, f"{path}[{k!r}]")]
    return [(path, out)]


def _same_nesting(a, b) -> bool:
    """True when ``b`` nests its leaves as ``a`` does (a tuple and a list count as the same; a dict may come
    back as the sequence of its values, as ONNX gives it)."""
    if isinstance(a, dict):
        if isinstance(b, dict):
            return set(a) == set(b) and all(_same_nesting(a[k], b[k]) for k in a)
        return (isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same_nesting(x, y) for x, y in zip(a.values(), b)))
    if isinstance(a, (tuple, list)):
        return (isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same_nesting(x, y) for x, y in zip(a, b)))
    return not isinstance(b, (dict, tuple, list))


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and hasattr(type(value), "_fields")


def _dict_as_sequence(a, b) -> bool:
    """True when somewhere ``a`` holds a dict (or a NamedTuple) where ``b`` holds the plain sequence of its values
    (keys or field names lost)."""
    if isinstance(a, dict):
        if isinstance(b, dict):
            return any(_dict_as_sequence(a[k], b[k]) for k in a if k in b)
        return isinstance(b, (tuple, list))
    if _is_namedtuple(a) and isinstance(b, (tuple, list)) and not _is_namedtuple(b):
        return True
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return any(_dict_as_sequence(x, y) for x, y in zip(a, b))
    return False


def _retyped_part(a, b, path="out", reference="eager") -> str:
    """Where the copy's output ``b`` holds another type than the reference's ``a`` (eager's, or a TorchScript
    model's) with the same values, in words: a tensor in place of a Python number (int, float, bool), or a list in
    place of a tuple (a torch.Size); "" if nowhere."""
    at = f" at {path}" if path != "out" else ""
    if isinstance(a, (bool, int, float)) and isinstance(b, torch.Tensor):
        return f"a tensor{at} where {reference} returns the {type(a).__name__} {a!r}"
    if isinstance(a, dict) and isinstance(b, dict):
        return next((n for k in a if k in b for n in [_retyped_part(a[k], b[k], f"{path}[{k!r}]", reference)] if n), "")
    if not (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list))):
        return ""
    inner = next((n for i, (x, y) in enumerate(zip(a, b))
                  for n in [_retyped_part(x, y, f"{path}[{i}]", reference)] if n), "")
    if isinstance(a, tuple) and type(b) is list and not _is_namedtuple(a):  # a torch.Size scripted is a List[int]
        kind = "a torch.Size" if isinstance(a, torch.Size) else with_article(type(a).__name__)
        return f"a list{at} where {reference} returns {kind}" + (f", and {inner}" if inner else "")
    return inner


# Why eager may give two answers to one input: said by parity, the diagnosis and the benchmark alike
TWO_ANSWERS_CAUSES = "randomness in forward, or state kept outside the model, such as a global it changes?"


def _losses_and_detections(expected, got) -> bool:
    """True for a scripted torchvision detector's answer: (losses dict, detections) where eager gives detections."""
    return (isinstance(expected, list) and isinstance(got, tuple) and len(got) == 2 and isinstance(got[0], dict)
            and isinstance(got[1], list) and len(got[1]) == len(expected))


def _holds_detector(model) -> bool:
    """True when ``model`` is or contains a torchvision detection model (looking through a wrapper's ``.model``)."""
    while not isinstance(model, torch.nn.Module) and isinstance(getattr(model, "model", None), torch.nn.Module):
        model = model.model  # e.g. the benchmark's eager model with its answers kept
    return isinstance(model, torch.nn.Module) and any(
        type(m).__module__.startswith("torchvision.models.detection") for m in model.modules())


def detections_of(eager, expected, got):
    """``got[1]`` when ``got`` is a scripted torchvision detector's (losses, detections) where eager gave detections
    (scripting keeps both, by torchvision's design), else None: what to compare with eager's answer."""
    return got[1] if _losses_and_detections(expected, got) and _holds_detector(eager) else None


def _nesting(value, limit: int = 60) -> str:
    """How an output nests, in a few characters: ``tuple(dict(2 keys), list(tensor))``."""
    def words(v):
        if isinstance(v, dict):
            return f"dict({len(v)} key{'s' if len(v) != 1 else ''})" if v else "dict()"
        if isinstance(v, (tuple, list)):
            name = f"NamedTuple {type(v).__name__}" if _is_namedtuple(v) else type(v).__name__
            return f"{name}({', '.join(words(x) for x in v[:4])}{', ...' if len(v) > 4 else ''})"
        return "tensor" if isinstance(v, torch.Tensor) else type(v).__name__
    text = words(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _key_note(a, b, path="out"):
    """Where two dicts inside the outputs have different keys, in words; "" when they do not."""
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            missing, extra = [k for k in a if k not in b], [k for k in b if k not in a]
            parts = ([f"missing {missing}"] if missing else []) + ([f"extra {extra}"] if extra else [])
            return f"{path}: keys differ ({', '.join(parts)})"
        return next((n for k in a for n in [_key_note(a[k], b[k], f"{path}[{k!r}]")] if n), "")
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b):
        return next((n for i, (x, y) in enumerate(zip(a, b)) for n in [_key_note(x, y, f"{path}[{i}]")] if n), "")
    return ""


def _compare_leaf(a, b, rtol, atol, names=("eager", DEFAULT_LABEL)):
    """(exact, close, largest absolute difference, note) for one pair of output leaves."""
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        if isinstance(a, (int, float)) and isinstance(b, torch.Tensor) and b.dim() == 0:
            b = b.item()  # a number the copy returns as a 0-d tensor (ONNX does)
        if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
            return False, False, math.inf, f"{describe(a)} vs {describe(b)}"
        if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
            same = a == b or (math.isnan(a) and math.isnan(b))
            close = same or math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
            return same, close, (0.0 if same else abs(a - b)), ""
        same = type(a) is type(b) and a == b
        same = bool(same) if isinstance(same, bool) else False
        return same, same, (0.0 if same else math.inf), ("" if same else f"{a!r} vs {b!r}")
    a, b = a.detach(), b.detach()
    if a.shape != b.shape:
        return False, False, math.inf, f"shape {tuple(a.shape)} ({names[0]}) vs {tuple(b.shape)} ({names[1]})"
    note = "" if a.dtype == b.dtype else f"dtype {a.dtype} vs {b.dtype}"
    if a.numel() == 0:
        return not note, True, 0.0, note
    if not note and torch.equal(a, b):  # the common case, bit for bit (no NaN): what the full comparison would find
        return True, True, 0.0, ""
    wide = torch.complex128 if (a.is_complex() or b.is_complex()) else torch.float64
    a64, b64 = a.to(wide), b.to(wide)
    both_nan = torch.isnan(a64) & torch.isnan(b64)
    # equal places count 0: the same infinity on both sides is no difference (inf - inf would read as NaN, then inf)
    diff = torch.where(both_nan | (a64 == b64), torch.zeros_like(a64), a64 - b64).abs()
    max_diff = diff.max().item()
    max_diff = math.inf if math.isnan(max_diff) else max_diff
    exact = not note and bool(((a64 == b64) | both_nan).all())
    if not (a.is_floating_point() or a.is_complex() or b.is_floating_point() or b.is_complex()):
        # integers (class indices, counts, ids) and bools: no tolerance, a neighbouring value is another answer
        same = bool((a64 == b64).all())
        return exact, same, max_diff, note if same else _join(note, _reordered(a64, b64, rtol, 0.0, names))
    close = bool(torch.isclose(a64, b64, rtol=rtol, atol=atol, equal_nan=True).all())
    half = next((t.dtype for t in (a, b) if t.dtype in _HALF_STEPS), None)
    if not close and half is not None:
        # a float16 or bfloat16 output holds ~3 or ~2 significant digits: float32's tolerances would call one
        # rounding step a difference. Within a few steps of its precision counts as close, and says so.
        step = _HALF_STEPS[half]
        scale = float(a64.abs().max()) if a64.numel() else 0.0
        if bool(torch.isclose(a64, b64, rtol=max(rtol, step), atol=max(atol, step * scale), equal_nan=True).all()):
            close = True
            note = _join(note, f"close within {half}'s precision ({_STEPS} rounding steps), not float32's tolerance")
    if not close:
        note = _join(note, _reordered(a64, b64, rtol, atol, names))
    nan_a, nan_b = torch.isnan(a64), torch.isnan(b64)
    if not close and (nan_a != nan_b).any():  # say which side gave NaN: an "inf" alone hides it
        only_a, only_b = int((nan_a & ~nan_b).sum()), int((nan_b & ~nan_a).sum())
        where = [f"{name} gives NaN at {count} place{'s' if count != 1 else ''} where {other} gives numbers"
                 for count, name, other in ((only_a, *names), (only_b, *names[::-1])) if count]
        note = "; ".join(filter(None, [note, *where]))
    return exact, close, max_diff, note


_STEPS = 4  # rounding steps of a half-precision dtype within which two outputs count as close
_HALF_STEPS = {torch.float16: _STEPS * torch.finfo(torch.float16).eps,
               torch.bfloat16: _STEPS * torch.finfo(torch.bfloat16).eps}


def _join(*notes) -> str:
    return "; ".join(filter(None, notes))


# _reordered's notes, taken out of the rows again when eager turns out to differ from itself (training mode)
_REORDER_GUESS = re.compile(r";?\s*the same (?:rows|values) in another order \([^)]*\)")


def _reordered(a64, b64, rtol, atol, names) -> str:
    """A note when two tensors that differ hold the same values in another order (boxes or scores that tie,
    sorted one way by eager and another by the copy), else "". Complex and NaN-holding tensors are left alone."""
    if a64.numel() < 2 or a64.is_complex() or torch.isnan(a64).any() or torch.isnan(b64).any():
        return ""
    if not torch.isclose(a64.flatten().sort().values, b64.flatten().sort().values, rtol=rtol, atol=atol).all():
        return ""
    if a64.dim() >= 2:  # say whether whole rows moved (a detection's box) or the numbers were shuffled
        rows_a = sorted(map(tuple, a64.flatten(1).tolist()))
        rows_b = sorted(map(tuple, b64.flatten(1).tolist()))
        if all(math.isclose(x, y, rel_tol=rtol, abs_tol=atol) for ra, rb in zip(rows_a, rows_b) for x, y in zip(ra, rb)):
            return f"the same rows in another order ({names[1]}'s; tied scores sorted otherwise?)"
    return f"the same values in another order ({names[1]}'s; ties sorted otherwise?)"


def _containers(value):
    """How an output nests, dicts' contents left out: two outputs alike here differ, if at all, in keys or leaves."""
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (tuple, list)):
        return tuple(_containers(v) for v in value)
    return "leaf"


def _where_nesting_differs(a, b, names, path="out") -> str:
    """The first place inside two outputs where their nesting differs, in words ("out['parts'] is list(tensor,
    tensor, tensor) in eager, list(tensor, tensor) in onnx"), or "" when it differs only at the top."""
    def both(x, y):
        return f"{path} is {_nesting(x)} in {names[0]}, {_nesting(y)} in {names[1]}"
    if isinstance(a, dict) and isinstance(b, dict):
        return next((w for k in a if k in b for w in [_where_nesting_differs(a[k], b[k], names, f"{path}[{k!r}]")] if w),
                    "")
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return both(a, b) if path != "out" else ""
        return next((w for i, (x, y) in enumerate(zip(a, b))
                     for w in [_where_nesting_differs(x, y, names, f"{path}[{i}]")] if w), "")
    if isinstance(a, torch.Tensor) != isinstance(b, torch.Tensor) or isinstance(a, (dict, tuple, list)) != \
            isinstance(b, (dict, tuple, list)):
        return both(a, b) if path != "out" else ""
    return ""


def _compare_outputs(a, b, rtol, atol, names=("eager", DEFAULT_LABEL)):
    # keys are worth naming only where the containers around them match: otherwise the nesting is the news
    keys = _key_note(a, b) if _containers(a) == _containers(b) else ""
    if keys:
        return False, False, math.inf, keys
    if not _same_nesting(a, b):  # the same leaves wrapped otherwise: a caller indexing the output breaks
        where = _where_nesting_differs(a, b, names)
        return False, False, math.inf, (f"the output nests differently: {where}" if where else
                                        f"the output nests differently: {names[0]} {_nesting(a)}, {names[1]} {_nesting(b)}")
    left, right = _flatten(a), _flatten(_align(a, b))
    if len(left) != len(right):
        return False, False, math.inf, f"{names[0]} gives {len(left)} outputs, {names[1]} {len(right)}"
    exact, close, worst, notes = True, True, 0.0, []
    compared = []
    for (path, x), (_, y) in zip(left, right):
        # a callable atol scales with each eager leaf (parity's scale_atol): boxes in pixels beside probabilities
        e, c, d, n = _compare_leaf(x, y, rtol, atol(x) if callable(atol) else atol, names)
        exact, close, worst = exact and e, close and c, max(worst, d)
        compared.append((path, x, y, c, n))
        if n:
            notes.append(n if len(left) == 1 else f"{path}: {n}")
    if not close:
        notes.extend(_tied_indices(compared))
    return exact, close, worst, "; ".join(notes)


def _tied_in_row(values) -> torch.Tensor:
    """True where a value equals another in its last-dimension row: sorted, a tie is a neighbour's equal (n log n,
    where comparing every pair of a segmentation's rows would take memory by the row's length squared)."""
    ordered, order = values.sort(dim=-1)
    equal_next = ordered[..., 1:] == ordered[..., :-1]
    tied = torch.zeros_like(ordered, dtype=torch.bool)
    tied[..., 1:] |= equal_next
    tied[..., :-1] |= equal_next
    return torch.zeros_like(tied).scatter_(-1, order, tied)


def _tied_indices(compared) -> list:
    """Notes for integer outputs that differ only where the float output beside them (same shape, agreeing) holds
    a value that ties with another in its row: topk or sort of equal numbers may return either index. The row still
    diverges (a caller may use the index); the note says why it may not matter. Not for a leaf already said to hold
    the same values in another order (a detection's labels beside tied scores)."""
    notes = []
    for path, x, y, same, said in compared:
        if same or "in another order" in said or not all(isinstance(t, torch.Tensor) for t in (x, y)) or x.shape != y.shape or x.dim() == 0 \
                or x.is_complex() or x.dtype == torch.bool:
            continue
        index_note = None if x.is_floating_point() else _tied_index_note(path, x, y, compared)
        notes.extend([index_note] if index_note else _kept_among_ties(path, x, y, compared))
    return notes


def _container(path: str) -> str:
    """The path of the container an output leaf sits in: ``out[1]`` for ``out[1]['boxes']``, ``out`` for ``out[0]``."""
    return path[:path.rfind("[")] if path.endswith("]") and "[" in path else ""


def _tied_index_note(path, x, y, compared):
    """The note for integer indices that differ only where the float values beside them (same shape, in the same
    container: another image's scores say nothing of this one's) tie, or None."""
    differ = x != y
    for values_path, v, _, v_same, _ in compared:
        if _container(values_path) == _container(path) and v_same and isinstance(v, torch.Tensor) and v.is_floating_point() and v.shape == x.shape \
                and bool(_tied_in_row(v)[differ].all()):
            return (f"{path} differs only at places where {values_path} ties with another value in its row: "
                    "a topk or sort of equal numbers may return either index")
    return None


def _kept_among_ties(path, x, y, compared) -> list:
    """A note when the rows of ``x`` and ``y`` differ only where a 1-D float output beside them, one score per row and
    the same in both, ties with another score: a detector that keeps its best boxes keeps either of two boxes that
    score the same (random weights tie many scores), so the two may keep different ones."""
    if x.dim() < 1 or x.shape[0] < 2:
        return []
    differ = (x != y).reshape(x.shape[0], -1).any(dim=1)
    for scores_path, v, _, v_same, _ in compared:
        # the scores beside the rows, in the same container: another image's scores say nothing of these rows
        if scores_path == path or _container(scores_path) != _container(path) \
                or not (v_same and isinstance(v, torch.Tensor) and v.is_floating_point()
                                       and v.dim() == 1 and v.shape[0] == x.shape[0]):
            continue
        if bool(_tied_in_row(v)[differ].all()):
            return [f"{path} differs only in rows whose {scores_path} ties with another score: a top-k or sort of "
                    "equal scores may keep either row (random weights tie many scores)"]
    return []


def _is_empty(output) -> bool:
    """True when an output holds no values at all (no detections, empty tensors, only None): a bool, a number or a
    string is a value, compared exactly."""
    tensors = leaves(output) if not isinstance(output, torch.Tensor) else [output]
    values = [leaf for _, leaf in _flatten(output) if isinstance(leaf, (int, float, str))]
    return not values and all(t.numel() == 0 for t in tensors)


def output_scale(output) -> float:
    """The largest finite |value| among an output's floating-point tensors, at least 1: what an absolute tolerance
    is scaled by, so that float32 rounding on large outputs is not taken for a difference."""
    return max([1.0, *(_largest_finite(t) for t in leaves(output) if t.is_floating_point() and t.numel())])


def _largest_finite(t) -> float:
    """The largest finite |value| of a floating tensor (0.0 when it holds none); no masked copy unless it holds
    NaN or ±inf, since a large output's copies cost far more than the model's own call."""
    largest = t.detach().abs().max().item()
    if math.isfinite(largest):
        return largest
    finite = t.detach()[torch.isfinite(t.detach())]
    return finite.abs().max().item() if finite.numel() else 0.0


def _within_atol_of_zero(output, atol: float):
    """The largest |value| of an output's floating numbers when all of them lie within ``atol`` of zero (NaN left
    out), else None: then a copy returning zeros, or any other tiny numbers, agrees with it."""
    # integer and bool parts (an argmax beside the logits) are left out: they are compared exactly, and the float
    # parts beside them still prove nothing when they are this small
    tensors = [t for t in (leaves(output) if not isinstance(output, torch.Tensor) else [output])
               if t.numel() and (t.is_floating_point() or t.is_complex())]
    if not tensors:
        return None
    largest = None
    for t in (t.detach() for t in tensors):  # detached: no autograd warning for a scalar
        top = t.abs().max()
        if not top.isfinite() and t.isnan().any():  # only then the masked copy, which a large output pays dearly for
            # (a complex inf+nanj has an infinite abs, yet counts as NaN)
            kept = t[~t.isnan()].abs()
            if not kept.numel():
                continue
            top = kept.max()
        largest = float(top) if largest is None else max(largest, float(top))
    if largest is None:
        return None
    return largest if largest <= atol else None


def _tiny_parts(output, atol: float) -> tuple:
    """The paths (``out[1]``, ``out['b']``) of an output's floating tensors whose numbers all lie within ``atol`` of
    zero while some other part's do not: a copy returning zeros there agrees on that part. () for one tensor, or
    when every part is that small (the whole output is then called tiny)."""
    parts = [(path, leaf) for path, leaf in _flatten(output)
             if isinstance(leaf, torch.Tensor) and leaf.numel() and (leaf.is_floating_point() or leaf.is_complex())]
    if len(parts) < 2:
        return ()
    small = tuple(path for path, leaf in parts if _within_atol_of_zero(leaf, atol) is not None)
    return small if len(small) < len(parts) else ()


def tiny_in_every(outputs, atol: float) -> list:
    """The parts (``out[1]``) that lie within ``atol`` of zero, beside larger parts, in every one of ``outputs``."""
    parts = [set(_tiny_parts(output, atol)) for output in outputs]
    return sorted(set.intersection(*parts)) if parts else []


ONE_INTEGER_NOTE = ("every integer tensor held one and the same value on every input: the model was checked on "
                    "that value only (one row of an embedding, one index); pass inputs with other integers")


def one_integer_value(argument_lists) -> bool:
    """True when the inputs (argument tuples) hold integer tensors, and all of them, on every input, hold one and the
    same value: a comparison then says nothing of the other values (an embedding's other rows)."""
    seen = set()
    for args in argument_lists:
        for leaf in leaves(list(args) if isinstance(args, (tuple, list)) else [args]):
            if isinstance(leaf, torch.Tensor) and leaf.numel() and _is_int(leaf):
                seen.update(leaf.unique().tolist())
                if len(seen) > 1:
                    return False
    return len(seen) == 1


def _infinities(output) -> int:
    """How many places of an output's floating-point tensors hold ±inf."""
    tensors = leaves(output) if not isinstance(output, torch.Tensor) else [output]
    return sum(int(torch.isinf(t).sum()) for t in tensors if t.is_floating_point() or t.is_complex())


def only_nan(output) -> bool:
    """True when every number an output holds is NaN (NaN counts as equal to NaN here, so agreeing proves nothing)."""
    tensors = [t for t in (leaves(output) if not isinstance(output, torch.Tensor) else [output]) if t.numel()]
    numbers = [leaf for _, leaf in _flatten(output) if isinstance(leaf, (int, float)) and not isinstance(leaf, bool)]
    return bool(tensors) and all(t.is_floating_point() and bool(t.isnan().all()) for t in tensors) \
        and all(math.isnan(n) for n in numbers)


# ---------------------------------------------------------------- models

def plain_value(value, depth: int = 0) -> bool:
    """True for a plain Python setting: a number, a string, None, or a small container of them."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if depth < 2 and isinstance(value, (tuple, list)) and len(value) <= 64:
        return all(plain_value(v, depth + 1) for v in value)
    if depth < 2 and isinstance(value, dict) and len(value) <= 64:
        return all(isinstance(k, str) and plain_value(v, depth + 1) for k, v in value.items())
    return False


def _own_attributes(module) -> dict:
    """A module's own Python attributes, by name: ``training`` and private ones left out."""
    return {key: value for key, value in vars(module).items() if not key.startswith("_") and key != "training"}


def plain_attributes(module) -> dict:
    """A module's own plain Python attributes (``training`` and private ones left out), by name."""
    return {key: value for key, value in _own_attributes(module).items() if plain_value(value)}


def _copy_or_none(model):
    try:
        return copy.deepcopy(model)
    except Exception:  # nothing to compare with then: the state stays unread
        return None


def _outputs_show_state(pristine, last, rtol, tolerance) -> bool:
    """Whether eager from before any call answers the last input otherwise than eager after all of them did."""
    if pristine is None or last is None:
        return False
    args, expected = last
    try:
        with torch.no_grad():
            alone = pristine(*own_copy(args))
        return not _compare_outputs(alone, expected, rtol, tolerance)[1]
    except Exception:  # it ran this input before: a failure now says nothing either way
        return False


def fresh_copy(model):
    """A deep copy of ``model`` as it is now, so that running one copy cannot change another's state (a call
    counter, a cache); the model itself if it cannot be copied."""
    try:
        return copy.deepcopy(model)
    except Exception:  # a model that cannot be copied is used as it is
        return model


RELAXED_TRACE_NOTE = ("traced with strict=False, as torch advises for a dict output: right while its keys never change "
                      "with the input")


def trace_copy(model, example):
    """(torch.jit.trace of ``model``, whether it took ``strict=False``): a dict output is traced with it, as torch's
    own error advises (the explorer then compares the dicts key by key, the benchmark says so in its row)."""
    result, failure = None, None
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        try:
            try:
                result = torch.jit.trace(model, example, check_trace=False), False
            except RuntimeError as error:
                if "dict at the output of the tracer" not in str(error):
                    raise
                result = torch.jit.trace(model, example, check_trace=False, strict=False), True
        except RuntimeError as error:
            failure = _output_error(error)
    # Passed on to the caller's own filters. When the trace failed, torch printed the output into its message while
    # still tracing: from the first warning of its tensor printing on, the tracer's warnings from torch's own files
    # are that printing's, not the model's (which came before it).
    printing = next((i for i, w in enumerate(seen) if w.filename.endswith(os.path.join("torch", "_tensor_str.py"))),
                    len(seen)) if failure else len(seen)
    for i, w in enumerate(seen):
        if not (i >= printing and issubclass(w.category, torch.jit.TracerWarning) and _in_torch(w.filename)):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if failure is not None:
        raise failure from None
    return result


def _in_torch(filename) -> bool:
    return os.path.dirname(os.path.abspath(torch.__file__)) in os.path.abspath(filename or "")


def _output_error(error):
    """torch's refusal of a traced output in one line, without the tensors it prints inside its message."""
    text = str(error)
    matching = re.search(r"only outputs matching (.+?) can be a dictionary output", text)
    if "cannot be understood by the tracer" in text and matching:
        return RuntimeError("a traced model cannot return this dict: its keys must be strings or tensors, and its "
                            "values tensors or tuples of tensors")
    if text.startswith("Tracer cannot infer type of") and "\n:" in text:
        why = text.split("\n:", 1)[1].strip()  # after the printed value: torch's reason
        return RuntimeError(f"a traced model cannot have this output: {why}")
    return error


def random_in_forward(model, args, rtol=1e-5, atol=1e-6) -> bool:
    """True when two fresh copies of ``model``, each called once on ``args``, answer differently: randomness in
    forward itself (F.dropout left at training=True, torch.randn_like). A counter starts anew in each copy and answers
    the same both times; a model that cannot be copied or fails says nothing (False)."""
    try:
        with torch.no_grad():
            first = fresh_copy(model)(*own_copy(args))
            second = fresh_copy(model)(*own_copy(args))
        return not _compare_outputs(first, second, rtol, atol)[1]
    except Exception:  # it ran on these inputs already: a failure now says nothing of randomness
        return False


def script_set_attributes(model) -> dict:
    """The attributes a TorchScript model's forward writes (``self.calls += 1`` compiled to prim::SetAttr): name ->
    True when the value is a tensor; {} for any other model, or one whose graph cannot be read."""
    if not isinstance(model, torch.jit.ScriptModule):
        return {}
    try:
        graph = model.inlined_graph  # held: its nodes are invalid once the graph object is freed
        return {node.s("name"): isinstance(node.inputsAt(1).type(), torch._C.TensorType)
                for node in graph.findAllNodes("prim::SetAttr")}
    except Exception:  # a model whose graph cannot be read is judged by its answers alone
        return {}


def python_state(model) -> dict:
    """``{"block.calls": "3", ...}``: the plain Python attributes of a module and its submodules, as text."""
    if not isinstance(model, torch.nn.Module) or isinstance(model, torch.jit.ScriptModule):
        return {}
    # a plain value as its repr; any other (a list of objects, a function) by its type, and its length when it has
    # one: a change of kind shows, and so does a list that grows on every call (a history of outputs)
    state = {f"{path}.{key}" if path else key: repr(value) if plain_value(value) else _kind_and_size(value)
             for path, module in model.named_modules() for key, value in _own_attributes(module).items()}
    # buffers are state too (a call counter kept as a tensor, batch norm's running statistics in training mode)
    state.update({name: _tensor_text(buffer) for name, buffer in model.named_buffers() if buffer is not None})
    return state


def _tensor_text(t) -> str:
    """A buffer's value as text that changes when any of its numbers does: the numbers of a small one, a sum of
    a large one's."""
    t = t.detach()
    if t.numel() <= 4:
        return f"tensor {t.tolist()}"
    return f"<a tensor {tuple(t.shape)}, sum {t.double().sum().item():.17g}>"


def _kind_and_size(value) -> str:
    """``<a list of 3>`` for a container, ``<a function>`` for anything without a length."""
    try:
        return f"<a {type(value).__name__} of {len(value)}>"
    except Exception:  # no len(), or one that fails
        return f"<a {type(value).__name__}>"


_MISSING = "<missing>"


def copy_state(copy_, keys) -> dict:
    """The copy's values of eager's ``python_state`` keys ("block.calls"), as text; ``_MISSING`` where it has none.

    A scripted copy keeps its module attributes under the same names; a traced or exported copy, an ONNX or
    AOTInductor runner has none of them."""
    found = {}
    for key in keys:
        value = copy_
        for part in key.split("."):
            try:
                value = getattr(value, part)
            except Exception:  # no such attribute (a ScriptModule raises AttributeError, others may raise more)
                value = _MISSING
                break
        found[key] = (value if value is _MISSING else _tensor_text(value) if isinstance(value, torch.Tensor) else
                      repr(value) if plain_value(value) else _kind_and_size(value))
    return found


def state_on_copy(before: dict, after: dict, copy_before: dict, copy_after: dict) -> list:
    """``["self.calls: the copy has no such attribute", ...]``: how the copy fails to keep eager's changed state
    (``before``/``after``: eager's ``python_state``; ``copy_*``: the copy's ``copy_state`` of the same keys)."""
    lost = []
    for key in sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k)):
        if copy_after.get(key, _MISSING) == _MISSING:
            lost.append(f"self.{key}: the copy has no such attribute")
        elif copy_before.get(key) == copy_after.get(key) and before.get(key) != after.get(key):
            lost.append(f"self.{key}: stays {copy_after[key]} on the copy, while eager's went "
                        f"{before.get(key, 'unset')} → {after.get(key, 'unset')}")
        elif copy_after.get(key) != after.get(key):
            lost.append(f"self.{key}: {copy_after[key]} on the copy, {after.get(key, 'unset')} in eager")
    return lost


def state_changes(before: dict, after: dict) -> list:
    """``["self.calls: 0 → 3", ...]``: what changed between two ``python_state`` snapshots, by attribute name."""
    return [f"self.{k}: {before.get(k, 'unset')} → {after.get(k, 'unset')}"
            for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]


def is_exported_program(obj) -> bool:
    """True for a torch.export ExportedProgram; torch.export is not imported for this (none exists without it)."""
    exported = sys.modules.get("torch.export")
    return exported is not None and isinstance(obj, exported.ExportedProgram)


def require_callable(obj, who, role):
    """``obj`` if it can be called (a saved TorchScript path is loaded); a one-line TypeError otherwise."""
    if isinstance(obj, (str, Path)) and role == "model to check":
        path = Path(obj)
        if not path.is_file():
            raise FileNotFoundError(f"{who}: no file at {path}: save the traced or scripted model there first, or pass the model itself")
        from ..routes.archive import load_torchscript  # the same one-line errors for a wrong or damaged file
        return load_torchscript(path)
    if isinstance(obj, type):
        raise TypeError(f"{who} expects the {role}, got the class {obj.__name__}: "
                        f"pass an instance, e.g. {obj.__name__}()")
    if is_exported_program(obj):  # callable, but every call raises
        raise TypeError(f"{who} expects the {role} as something to call, and an ExportedProgram is not called "
                        "directly: pass program.module()")
    if not callable(obj):
        raise TypeError(f"{who} expects the {role} (an nn.Module, a traced or scripted model, "
                        f"or a function), got {describe(obj)}")
    return obj


def eager_failure(model, args):
    """None if ``model(*args)`` runs, else a one-line description of the error. The model gets a copy of ``args``:
    a forward that changes its input in place must leave the caller's input as it was."""
    try:
        with torch.no_grad():
            model(*own_copy(args))
    except Exception as error:  # any failure means: this input is not one the model accepts
        return _one_line(error) + argument_hint(args, error)
    return None


def argument_hint(args, error) -> str:
    """A word on how inputs map to arguments, when forward missed one and the input was a list: '' otherwise."""
    # Python's "missing 1 required positional argument", TorchScript's "... but instead found type 'list'"
    if re.search(r"missing \d+ required positional argument|but instead found type 'list'", str(error)) \
            and len(args) == 1 and isinstance(args[0], list):
        return "; a list is one argument, a tuple (x, y) is two"
    # Python's "takes 2 positional arguments but 3 were given": a tuple of tensors meant as one list argument
    if re.search(r"takes \d+ positional arguments? but \d+ (were|was) given", str(error)) \
            and len(args) > 1 and all(isinstance(a, torch.Tensor) for a in args):
        return (f"; a tuple is one argument per entry, so these {len(args)} tensors were {len(args)} arguments: "
                "if forward takes them as one list, pass a list [x, y]")
    return ""


_require_callable, _eager_failure = require_callable, eager_failure


def _one_line(error: BaseException) -> str:
    """``Type: message`` in one line; for TorchScript interpreter errors, the real cause on their last line."""
    if str(error).lstrip().startswith(INTERPRETER_OPENER):
        return short_message(error, 140)  # its last line already reads "RuntimeError: select(): index 1 out of range ..."
    return typed_message(error, 120)


_RANDOM_IN_TRAINING = (torch.nn.modules.dropout._DropoutNd, torch.nn.modules.batchnorm._BatchNorm, torch.nn.RReLU)


_RANDOM_NAMES = ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
                 "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "RReLU")


def _acts_otherwise_in_training(m) -> bool:
    """Layers outside _RANDOM_IN_TRAINING that do something else in training: a recurrent layer's dropout between
    its layers, and an instance norm that keeps running statistics (eval mode uses them, training the input's own)."""
    if isinstance(m, torch.nn.RNNBase):
        return m.training and m.dropout > 0 and m.num_layers > 1
    if isinstance(m, torch.nn.modules.instancenorm._InstanceNorm):
        return m.training and m.track_running_stats
    return False


def few_layers(names) -> str:
    """The first three of ``names`` and a count of the rest: a whole network in training mode has dozens."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _reads_training(code) -> bool:
    """True if ``code`` (or a function or lambda defined in it) reads an attribute named ``training``."""
    return "training" in code.co_names or any(_reads_training(c) for c in code.co_consts if hasattr(c, "co_names"))


def _forward_reads_training(m) -> bool:
    """A module of your own (not one of torch's layers) whose forward reads ``self.training``: a branch on the mode,
    or a functional dropout given it (``F.dropout(x, p, self.training)``)."""
    if type(m).__module__.startswith("torch."):
        return False  # torch's own layers: the ones that act otherwise in training are named above
    code = getattr(getattr(type(m), "forward", None), "__code__", None)
    return code is not None and _reads_training(code)


def training_layers(model, own_forwards: bool = True) -> list:
    """Names of the layers of ``model`` that act otherwise in training mode and are in it: Dropout, BatchNorm and
    the like (random, or using the batch's own statistics), and modules of your own whose forward reads
    ``self.training``: why an eager model can differ from itself, or from a copy, or a copy from the model you ship.
    A scripted or loaded TorchScript model keeps each layer's class name and training flag too.
    ``own_forwards=False``: torch's layers only (for a caller that names the modules of your own otherwise)."""
    if not isinstance(model, torch.nn.Module):
        return []
    found = []
    for name, m in model.named_modules():
        own = False
        if isinstance(m, torch.jit.ScriptModule):
            kind = getattr(m, "original_name", "")
            random = kind in _RANDOM_NAMES and getattr(m, "training", False)
        else:
            kind = type(m).__name__
            random = (isinstance(m, _RANDOM_IN_TRAINING) and m.training) or _acts_otherwise_in_training(m)
            own = own_forwards and not random and m.training and _forward_reads_training(m)
        if random and "Dropout" in kind and getattr(m, "p", None) == 0:
            random = False  # a dropout of probability 0 drops nothing, in training too
        if random:
            found.append(f"{kind} {name!r}" if name else kind)
        elif own:
            found.append(f"{kind} {name!r}, whose forward reads self.training" if name
                         else f"{kind}, whose forward reads self.training")
    return found


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
    empty: bool = False   # the eager output holds no numbers (e.g. no detections): agreeing proves little
    nan: bool = False     # every number of the eager output is NaN: agreeing proves nothing
    infinite: int = 0     # places where the eager output holds ±inf: equal there says only that both overflow alike
    tiny: float = None    # the eager output's largest |value| when all lie within atol of zero: zeros would agree
    tiny_parts: tuple = ()  # paths of output parts within atol of zero while other parts are not
    args: tuple = field(default=(), repr=False)  # the model arguments of this input
    close_if_scaled: bool = False  # not close, but close with atol scaled to the output's size (scale_atol=True)
    scale: float = 1.0  # the eager output's largest finite |value| (at least 1)

    @property
    def diverges(self) -> bool:
        return bool(self.error) or not self.close

    @property
    def diff_text(self) -> str:
        if self.error:
            return f"error: {self.error}"
        empty = " (empty output)" if self.empty else ""
        if math.isinf(self.max_diff):
            return (self.note or "inf") + empty
        nan = " (all NaN)" if self.nan else ""
        return f"{self.max_diff:.3g}" + (f" ({self.note})" if self.note else "") + empty + nan


@dataclass
class ParityReport:
    """What ``parity`` found: one ``ParityRow`` per input, in order. Truthy when every input is close.

    For tools that build on it: ``status`` is "ok", "diverges" or "fails" (the copy raised on every
    input); ``first_divergence`` / ``first_diverging_input`` name and give the first input where
    the two disagree; ``warnings`` lists, in plain sentences, why an agreement may prove little
    (``uncovered`` lines of the eager model's Python no input ran, ``empty`` outputs, eager in
    ``training_mode``); ``coverage_note`` says when coverage could not be recorded.
    """
    rows: list
    rtol: float
    atol: float
    skipped: dict = field(default_factory=dict)
    names: tuple = ("eager", DEFAULT_LABEL)
    uncovered: list = field(default_factory=list)   # (where, place: 'line N of a cell' or 'file.py:N', source text)
    coverage_note: str = ""
    same_path: bool = False
    training_mode: list = field(default_factory=list)  # active Dropout / BatchNorm layers of eager
    copy_training: list = field(default_factory=list)  # the copy's, when eager has none: made before model.eval()
    self_divergent: bool = False  # eager gave two different answers to the same input
    state_changes: list = field(default_factory=list)  # "name: before → after" of eager's Python attributes
    state_settled: bool = False  # they changed on the first call only (a lazy cache), not on every call
    atol_scaled: bool = False  # atol was multiplied by each output's largest |value| (parity's scale_atol)
    state_lost: list = field(default_factory=list)  # how the copy fails to keep those changes (empty: it keeps them)
    # a copy whose state cannot be read (an AOTInductor or ExecuTorch runner): "shown" when its outputs followed
    # eager's as the state changed (so it keeps an equivalent), "unknown" when the outputs do not depend on it
    state_unreadable: str = ""
    unkeyed: str = ""  # how eager's dict came back as a plain sequence from the copy ('' when it did not)
    retyped: str = ""  # where the copy returns another type than eager (a tensor for a number, a list for a tuple)
    detections_only: bool = False  # a scripted torchvision detector's (losses, detections): its detections compared
    changes_input: bool = False  # eager changed an input tensor in place (each model got its own copy of each input)
    copy_changes_input: bool = False  # the copy changed its input in place where eager did not
    copy_keeps_input: bool = False  # eager changed its input in place where the copy did not (an ONNX file, say)
    copy_changes_input_otherwise: bool = False  # both changed an input tensor in place, to other values
    time_first: str = ""  # the variants resized dimension 0 of a model with time-first layers (batch_dim=1?)
    uncopied: str = ""  # why the eager model could not be copied, so that parity ran it itself ('' when copied)
    defaults_kept: list = field(default_factory=list)  # "scale=2": forward's options that no input passed
    copy_arguments: object = None  # the names a TorchScript copy's forward takes (None: not known)

    @property
    def all_close(self) -> bool:
        """True when the checked model ran on every input and its outputs are close to eager's."""
        return bool(self.rows) and not any(r.diverges for r in self.rows)

    @property
    def status(self) -> str:
        """"ok" (every input agrees), "fails" (the copy raised on every input) or "diverges"."""
        if self.all_close:
            return "ok"
        return "fails" if self.rows and all(r.error for r in self.rows) else "diverges"

    @property
    def first_divergence(self):
        """Label of the first input where the two models disagree (or the checked one fails); None if none."""
        return next((r.label for r in self.rows if r.diverges), None)

    @property
    def first_diverging_input(self):
        """The model arguments (a tuple) of the first diverging input; None if every input agrees."""
        return next((r.args for r in self.rows if r.diverges), None)

    @property
    def divergences(self) -> list:
        return [r.label for r in self.rows if r.diverges]

    @property
    def max_diff(self) -> float:
        return max((r.max_diff if not r.error else math.inf) for r in self.rows) if self.rows else 0.0

    @property
    def empty(self) -> bool:
        """True when every eager output was empty: the two agree on nothing but emptiness."""
        return bool(self.rows) and all(r.empty for r in self.rows)

    @property
    def proves_little(self) -> bool:
        """True when the inputs left a line of the eager model unrun, or every output was empty or all NaN."""
        return (self.empty or bool(self.uncovered) or (bool(self.rows) and all(r.nan for r in self.rows))
                or self.tiny or bool(self.tiny_parts))

    @property
    def loses_state(self) -> bool:
        """True when eager changed its own attributes on every call and the copy does not keep those changes."""
        return bool(self.state_changes and self.state_lost and not self.state_settled)

    @property
    def tiny(self) -> bool:
        """True when on every input eager's outputs all lay within atol of zero: a copy returning zeros agrees."""
        return bool(self.rows) and all(r.tiny is not None for r in self.rows)

    @property
    def one_integer(self) -> bool:
        """True when the inputs hold integer tensors, and all of them, on every input, hold one and the same value."""
        return one_integer_value([row.args for row in self.rows])

    @property
    def tiny_parts(self) -> list:
        """Parts of the output (``out[1]``) within atol of zero on every input while others are larger: a copy
        returning zeros for those parts agrees. [] when none (or when the whole output is tiny)."""
        if not self.rows or self.tiny:
            return []
        named = dict.fromkeys(p for r in self.rows for p in r.tiny_parts)  # in order, once each
        # a row whose whole output was that small (the zeros input) counts for every part
        return [p for p in named if all(r.tiny is not None or p in r.tiny_parts for r in self.rows)]

    @property
    def warnings(self) -> list:
        """Plain sentences saying why this check may prove less than it seems; [] when none applies."""
        notes = []
        layers = few_layers(self.training_mode)
        if self.self_divergent and layers:
            notes.append(f"{self.names[0]} gives two different answers to the same input: it has layers in "
                         f"training mode ({layers}); call "
                         f"model.eval() before comparing: the differences are not the {self.names[1]} copy's fault")
        elif self.self_divergent:  # no random layer in training mode: the randomness is the model's own
            notes.append(f"{self.names[0]} gives two different answers to the same input ({TWO_ANSWERS_CAUSES}): "
                         f"no copy can match it exactly, so these differences cannot be blamed on the {self.names[1]} copy, nor can it be "
                         "cleared by them")
        elif self.training_mode and not self.all_close:
            notes.append(f"{self.names[0]} has layers in training mode ({layers}): call model.eval() "
                         f"first; the {self.names[1]} copy may not be to blame")
        elif self.training_mode:
            notes.append(f"{self.names[0]} has layers in training mode ({layers}): the two agree as "
                         "they are now, which says nothing about the model in eval mode, the one you ship; call "
                         "model.eval() and compare again")
        if self.copy_training and not self.training_mode:  # a copy keeps the flags it was made with
            notes.append(f"the {self.names[1]} copy has layers in training mode ({few_layers(self.copy_training)}) "
                         f"where {self.names[0]} has none: it was made before model.eval(), or set back to training (a "
                         "scripted or traced copy keeps its own flags); call .eval() on the copy")
        diverging = [r for r in self.rows if r.diverges]
        if diverging and all(r.close_if_scaled for r in diverging):
            notes.append(f"every difference (at most {max(r.max_diff for r in diverging):.2g}) is small beside outputs "
                         f"up to {max(r.scale for r in diverging):.3g} in size: atol={self.atol:g} is absolute, tight "
                         "beside numbers that large, whose last digits float32 rounding alone can move; "
                         "scale_atol=True multiplies atol by each output's largest |value|, and with it they agree")
        if self.empty:
            notes.append("every output was empty (e.g. no detections): the copy agreed on emptiness only; "
                         "use inputs that give results (trained weights, real data)")
        elif any(r.empty for r in self.rows):
            empty = [r.label for r in self.rows if r.empty]
            notes.append(f"the output was empty on {', '.join(repr(e) for e in empty)}: those rows prove little")
        dtypes = sorted({m.group(0) for r in self.rows if r.close and r.note
                         for m in re.finditer(r"dtype torch\.\w+ vs torch\.\w+", r.note)})
        if dtypes:  # close in value, but a caller that relies on the dtype (int64 ids, float64 sums) gets another
            notes.append(f"the values agree, but the {self.names[1]} copy returns another dtype ({'; '.join(dtypes)}, "
                         f"{self.names[0]} first): code that relies on the dtype gets another one")
        infinite = [r for r in self.rows if r.infinite and not r.diverges]
        if infinite:  # inf equals inf: those places agree without telling how close the numbers behind them were
            places = ", ".join(f"{r.infinite} place{'s' if r.infinite != 1 else ''} on {r.label!r}" for r in infinite[:3])
            notes.append(f"{self.names[0]}'s output holds ±inf ({places}{', ...' if len(infinite) > 3 else ''}), and the "
                         f"{self.names[1]} copy the same infinity there: those places show only that both reach the same infinity; "
                         "the finite numbers were compared as usual")
        nan = [r.label for r in self.rows if r.nan and not r.diverges]
        if nan:
            notes.append(f"every output number was NaN on {', '.join(repr(n) for n in nan)}: NaN counts as equal to "
                         "NaN here, so agreeing there proves nothing; use inputs that give numbers")
        if self.tiny:  # on every input: one such row among others (zeros in, zeros out) is no cause for a note
            largest, where = max(r.tiny for r in self.rows), "every input"
            if largest == 0:
                notes.append(f"{self.names[0]}'s floating-point outputs were all exactly 0 on {where}: any copy returning zeros "
                             "agrees there; use weights and inputs that give other numbers (a layer initialised "
                             "to zero gives zeros)")
            else:
                notes.append(f"{self.names[0]}'s floating-point outputs were at most {largest:.2g} in size on {where}, within "
                             f"atol={self.atol:g} of zero: any copy returning numbers that small agrees there, zeros "
                             "included; compare with H.parity and an atol below the outputs' size, or use weights "
                             "and inputs that give larger outputs")
        if self.one_integer:
            notes.append(ONE_INTEGER_NOTE)
        if self.tiny_parts:
            parts = ", ".join(self.tiny_parts)
            notes.append(f"{parts} of {self.names[0]}'s output lay within atol={self.atol:g} of zero on every input, "
                         f"while other parts did not: any copy returning numbers that small there agrees, zeros "
                         "included; compare that part on its own with an atol below its size")
        if self.uncovered:
            shown = "; ".join(f"`{text}` ({where}, {place})" for where, place, text in self.uncovered[:3])
            more = f" and {len(self.uncovered) - 3} more lines" if len(self.uncovered) > 3 else ""
            path = "every input took the same path, and " if self.same_path else ""
            notes.append(f"{path}no input ran {shown}{more}: the copy was not tested on "
                         f"{'that path' if len(self.uncovered) == 1 else 'those paths'}")
        if self.coverage_note:
            notes.append(f"which lines ran could not be recorded: {self.coverage_note}")
        if self.time_first:
            notes.append(self.time_first)
        if self.uncopied:
            notes.append(f"{self.names[0]} could not be copied ({self.uncopied}), so parity ran your model itself: "
                         "any state it keeps (a counter, running statistics) moved with these runs")
        if self.defaults_kept:
            kept = ", ".join(f"`{d}`" for d in self.defaults_kept)
            one = len(self.defaults_kept) == 1
            how = ("pass it in inputs" if one else "pass them in inputs") + (
                " (a keyword-only one through a wrapper module that sets it)" if "keyword-only" in kept else "")
            names = {d.split("=")[0].split()[-1] for d in self.defaults_kept}  # "scale=2" -> "scale"
            fixed = ("" if self.copy_arguments is not None and names <= self.copy_arguments else  # a script keeps them
                     f", and a trace or an export fixes {'it' if one else 'them'} into its graph")
            notes.append(f"every input left forward's {kept} at {'its default' if one else 'their defaults'}: other "
                         f"values were not checked{fixed}; {how} to check other values")
        if self.copy_changes_input:
            notes.append(f"the {self.names[1]} copy changes its input in place where {self.names[0]} does not: each model "
                         "got its own copy of each input here; a caller that uses the input again after calling the "
                         "copy sees it changed")
        if self.copy_changes_input_otherwise:
            notes.append(f"{self.names[0]} and the {self.names[1]} copy both change an input in place, to other "
                         "values: each model got its own copy of each input here; a caller that reads the input "
                         "after the call sees other values after each")
        if self.changes_input and self.copy_keeps_input:
            notes.append(f"{self.names[0]} changes its input in place (x.mul_(2), x += ...) and the {self.names[1]} copy "
                         "does not: each model got its own copy of each input here; a caller that reads the input "
                         f"after the call sees it changed after {self.names[0]}, unchanged after the copy")
        elif self.changes_input:
            notes.append(f"{self.names[0]} changes its input in place (x.mul_(2), x += ...): each model got its own "
                         "copy of each input here; a caller that uses the input again after the call sees it changed")
        if self.detections_only:
            notes.append(f"{self.names[1]} returns (losses, detections), as torchvision's detection models do when "
                         "scripted; its detections, [1], were compared with eager's output: index [1] where you "
                         "call it")
        if self.unkeyed:
            notes.append(f"{self.names[1]} returns {self.unkeyed}: the values match in order, but code that reads "
                         "the output by key or field name (out.logits) breaks; rebuild the dict or NamedTuple around "
                         "the copy (its keys or fields, in eager's order)")
        if self.retyped:
            notes.append(f"{self.names[1]} returns {self.retyped}: the values match, but code that relies on the "
                         "type sees another (a tensor used in range(n), an index, an `if` or a JSON field; a list "
                         "compared with == to a tuple); convert it where you call the copy (int(...), .item(), "
                         "tuple(...))")
        if self.state_changes and self.state_settled:
            shown = "; ".join(self.state_changes[:3]) + ("; ..." if len(self.state_changes) > 3 else "")
            notes.append(f"{self.names[0]} set some of its own state (attributes or buffers) on its first call and "
                         f"left it alone after ({shown}): a one-time set-up, such as a cache filled lazily, not a "
                         "change on every call")
        elif self.state_changes and self.state_unreadable:
            shown = "; ".join(self.state_changes[:3]) + ("; ..." if len(self.state_changes) > 3 else "")
            copy_ = f"the {self.names[1]} copy"
            why = {"shown": f"{copy_}'s state cannot be read, but its outputs followed eager's on every call as that "
                            "state changed: it keeps an equivalent",
                   "unknown": f"{copy_}'s state cannot be read, and the outputs do not depend on it, so this check "
                              "cannot tell whether the copy keeps it",
                   "differs": f"{copy_}'s state cannot be read, and its outputs differ from eager's (above), so this "
                              "check cannot tell whether the state is part of why",
                   "refused": f"{copy_} refused some inputs, so it ran fewer calls than eager: the two states were "
                              "not compared"}[self.state_unreadable]
            notes.append(f"{self.names[0]} changed its own state (attributes or buffers) while running ({shown}); {why}")
        elif self.state_changes and self.state_lost:
            shown = "; ".join(self.state_lost[:3]) + ("; ..." if len(self.state_lost) > 3 else "")
            notes.append(f"{self.names[0]} changed its own state (attributes or buffers) while running, and the "
                         f"{self.names[1]} copy does not keep it ({shown}): "
                         + ("the outputs above match, the state does not travel" if self.all_close else
                            "the state does not travel, and the outputs above differ as well"))
        elif self.state_changes:
            shown = "; ".join(self.state_changes[:3]) + ("; ..." if len(self.state_changes) > 3 else "")
            notes.append(f"{self.names[0]} changed its own state (attributes or buffers) while running ({shown}), and "
                         f"the {self.names[1]} copy's state of the same names changed the same way")
        return notes

    def __bool__(self):  # so that `assert H.parity(...)` means what it says
        return self.all_close

    def __getitem__(self, label) -> ParityRow:
        for row in self.rows:
            if row.label == label:
                return row
        raise KeyError(f"no input labelled {label!r}: the labels are {[r.label for r in self.rows]}")

    def assert_close(self, allow_caveats: bool = False):
        """Raise AssertionError showing the table unless every input agrees, and also, unless ``allow_caveats``, when
        agreeing proves little (``proves_little``: a line no input ran, outputs all empty, NaN or within atol of
        zero), so that a test cannot pass on a comparison of nothing; return the report otherwise.
        ``assert report`` checks agreement only."""
        if not self.all_close:
            raise AssertionError(f"{self.names[1]} diverges from {self.names[0]} "
                                 f"first at {self.first_divergence!r}:\n{self}")
        if self.proves_little and not allow_caveats:
            raise AssertionError(f"{self.names[1]} agrees with {self.names[0]}, but that proves little (see the notes): "
                                 f"pass inputs that exercise it, or assert_close(allow_caveats=True) to accept it:\n{self}")
        return self

    @property
    def summary(self) -> str:
        n = len(self.rows)
        tol = f"rtol={self.rtol:g}, atol={self.atol:g}" + (" × each output's largest |value| (at least 1)" if self.atol_scaled else "")
        notes = []
        if self.skipped:
            notes.append(f"{len(self.skipped)} variant{'s' if len(self.skipped) > 1 else ''} not built, see below")
        if self.warnings:
            notes.append("⚠ read the notes below")
        tail = f"; {'; '.join(notes)}" if notes else ""
        if self.all_close:
            where = "its 1 input" if n == 1 else f"all {n} inputs"
            if self.tiny:  # no ✔: zeros would have agreed as well
                return (f"⚠ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}), but only as numbers within "
                        f"atol of zero, as eager's outputs are{tail}")
            if self.tiny_parts:  # no ✔: zeros in those parts would have agreed as well
                return (f"⚠ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}), but {', '.join(self.tiny_parts)} "
                        f"only as numbers within atol of zero{tail}")
            if self.training_mode and not self.self_divergent:  # no ✔: agreeing with a model you would not ship
                return (f"⚠ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}), but {self.names[0]} has layers "
                        f"in training mode{tail}")
            if self.rows and all(r.nan for r in self.rows):  # no ✔: NaN counts as equal to NaN
                return (f"⚠ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}), but every output was "
                        f"NaN: it agreed on NaN only{tail}")
            if self.empty:  # no ✔: any copy returning nothing agrees with nothing
                return (f"⚠ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}), but every output was "
                        f"empty: it agreed on emptiness only{tail}")
            if self.uncovered:  # no ✔: a part of forward no input ran was never compared (a trace may hold the other)
                took = "the path it took" if n == 1 else "the paths they took"
                return (f"⚠ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}), but only on {took}: a part "
                        f"of forward ran on no input{tail}")
            if self.state_changes and self.state_unreadable == "unknown" and not self.state_settled:
                return (f"⚠ {self.names[1]} gives {self.names[0]}'s outputs on {where} ({tol}), but whether it keeps "
                        f"the state {self.names[0]} changes as it runs cannot be read{tail}")
            if self.copy_changes_input:  # the outputs match, but the copy alters what its caller passed
                return (f"⚠ {self.names[1]} gives {self.names[0]}'s outputs on {where} ({tol}), but changes its input "
                        f"in place where {self.names[0]} does not{tail}")
            if self.copy_changes_input_otherwise:  # the outputs match, the caller's input is changed otherwise
                return (f"⚠ {self.names[1]} gives {self.names[0]}'s outputs on {where} ({tol}), but changes its input "
                        f"in place otherwise than {self.names[0]} does{tail}")
            if self.copy_keeps_input:  # the outputs match, but the caller's input is not changed as eager changes it
                return (f"⚠ {self.names[1]} gives {self.names[0]}'s outputs on {where} ({tol}), but leaves its input "
                        f"unchanged where {self.names[0]} changes it in place{tail}")
            if self.loses_state:  # the outputs match, the state eager keeps does not travel
                return (f"⚠ {self.names[1]} gives {self.names[0]}'s outputs on {where} ({tol}), but not the state "
                        f"{self.names[0]} changes as it runs{tail}")
            return f"✔ {self.names[1]} agrees with {self.names[0]} on {where} ({tol}){tail}"
        inputs = f"input{'s' if n > 1 else ''}"
        failed = [r for r in self.rows if r.error]
        if not failed:
            return (f"✘ {self.names[1]} diverges from {self.names[0]} on {len(self.divergences)} of {n} {inputs}, "
                    f"first at {self.first_divergence!r} ({tol}){tail}")
        # an input the copy raised on is no numeric divergence: say that it failed, and with what
        differs = len(self.divergences) - len(failed)
        also = f", and diverges from {self.names[0]} on {differs} more ({tol})" if differs else ""
        return (f"✘ {self.names[1]} fails on {len(failed)} of {n} {inputs}, first at {failed[0].label!r} "
                f"({failed[0].error}){also}{tail}")

    def __str__(self):
        head = ("input", "shape", "exact", "close", "largest |diff|")
        body = [(r.label, r.shapes, "✔" if r.exact else "✘", "✔" if r.close and not r.error else "✘", r.diff_text)
                for r in self.rows]
        widths = [max(len(str(row[i])) for row in [head] + body) for i in range(4)]
        lines = [self.summary]
        for row in [head] + body:
            lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(row[:4], widths)) + "  " + row[4])
        lines += [f"  skipped {label}: {why}" for label, why in self.skipped.items()]
        lines += [f"⚠ {note}" for note in self.warnings]
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
        warnings = "".join(f"<div style='color:#9a6700'>⚠ {html.escape(w)}</div>" for w in self.warnings)
        return (f"<div><div style='color:{colour};font-weight:bold'>{html.escape(self.summary)}</div>"
                "<table><thead><tr><th>input</th><th>shape</th><th>exact</th><th>close</th>"
                "<th style='text-align:left'>largest |diff|</th></tr></thead>"
                f"<tbody>{''.join(rows)}</tbody></table>"
                + (f"<ul style='margin:0'>{skipped}</ul>" if skipped else "") + warnings + "</div>")


def _labelled_inputs(inputs, example, batch_dim=0):
    if inputs is not None and example is not None:
        raise ValueError("parity takes inputs=[...] or example=x, not both: "
                         "put the example in the inputs list if you want it checked too")
    if batch_dim != 0 and example is None:
        raise ValueError("parity: batch_dim= says where example='s variants change the batch; with inputs=[...] "
                         "you choose the sizes yourself: leave batch_dim out")
    if example is not None:
        try:
            # variants the eager model rejects are skipped by parity
            variants = vary_inputs(example, batch_dim=batch_dim)
        except (TypeError, ValueError) as error:  # said as parity's, the function the learner called
            raise type(error)(str(error).replace("vary_inputs: input 'example'", "parity: example=", 1)
                              .replace("vary_inputs:", "parity:", 1)) from None
        return list(variants.items()), dict(variants.skipped)
    if inputs is None:
        raise ValueError("parity needs inputs to run: pass example=x (variants are made for you) or inputs=[x1, x2, ...]")
    if isinstance(inputs, dict):
        labelled = [(str(k), as_args(v, "parity", str(k))) for k, v in inputs.items()]
    elif isinstance(inputs, torch.Tensor):
        raise TypeError("parity: inputs must be a list of inputs, e.g. inputs=[x] or inputs=[x1, x2]; "
                        "for one example use example=x")
    elif not isinstance(inputs, (list, tuple)):
        raise TypeError(f"parity: inputs must be a list of inputs or a dict label -> input, got {describe(inputs)}")
    else:
        labelled = [(f"input {i}", as_args(v, "parity", f"input {i}")) for i, v in enumerate(inputs)]
    if not labelled:
        raise ValueError("parity got an empty list of inputs: pass at least one, e.g. inputs=[x] or example=x")
    return labelled, {}


def crashing_inputs(model, labelled, time_limit: float = 60.0) -> dict:
    """Label -> why, for the inputs on which calling ``model`` takes the whole process down, or never returns.

    Tried in a forked child, so this process survives. Needed for a TorchScript reference: a trace keeps no shape
    checks (an LSTM's hidden size, say), and a variant that eager would refuse goes straight into torch's C++ code,
    which can corrupt memory. The child runs the inputs in turn and tells which one it is on; a child that dies is
    replaced for the inputs after the one that killed it. Empty where fork is not available."""
    if not hasattr(os, "fork") or not labelled:
        return {}
    found, remaining = {}, list(labelled)
    while remaining:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: nothing it does may reach this process, not even torch's crash message
            os.close(read_end)
            code = 0
            try:
                sys.stdout = sys.stderr = io.StringIO()  # a kernel's output streams belong to the parent
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
                torch.set_num_threads(1)  # as DataLoader workers do: thread pools do not survive fork
                with torch.no_grad():
                    for i, (_, args) in enumerate(remaining):
                        os.write(write_end, f"{i}\n".encode())
                        try:
                            model(*args)
                        except Exception:  # an error is the caller's to report, not a crash
                            pass
                os.write(write_end, b"done\n")
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        deadline, seen, status = time.monotonic() + time_limit, b"", None
        while status is None:
            done, status_now = os.waitpid(pid, os.WNOHANG)
            if done:
                status = status_now
            elif time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                status = -1
            else:
                time.sleep(0.005)
        while True:  # what the child wrote before it ended
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            seen += chunk
        os.close(read_end)
        lines = seen.decode().split()
        if lines and lines[-1] == "done":
            break
        if not lines:  # it died before the first input: nothing to learn from it
            break
        last = int(lines[-1])
        found[remaining[last][0]] = ("never returned" if status == -1 else
                                     f"it takes the process down (signal {os.WTERMSIG(status)})"
                                     if os.WIFSIGNALED(status) else "it ends the process")
        remaining = remaining[last + 1:]
    return found


def parity(eager, exported, inputs=None, example=None, rtol=1e-5, atol=1e-6, label=None,
           scale_atol=False, batch_dim=0) -> ParityReport:
    """Run ``eager`` and ``exported`` (the copy to check) on each input and compare their outputs.

    ``inputs``: a list of inputs, or a dict label -> input. Each input is a tensor, a tuple (one
    entry per model argument), or a list / dict (ONE structured argument, e.g. a list of images).
    ``example``: one input, from which ``vary_inputs`` makes variants (those the eager model rejects
    are skipped and listed). Pass one of the two. ``batch_dim``: where the example's batch sits (1 for a
    sequence-first model), so that its "batch N" variants change that dimension.
    ``exported`` may be a traced or scripted model, a torch.export module, any function, or the path
    of a saved TorchScript file. ``label`` is the word the verdict uses for it ("traced", "scripted",
    "exported", ...); by default "converted", or "loaded" for a path.
    An input on which the checked model raises counts as a divergence; one on which the eager
    model raises is a mistake in the inputs and raises ValueError.
    The eager model runs as a deep copy, so that its runs leave your model as it was (a call counter, batch norm's
    running statistics in training mode).
    ``scale_atol=True`` multiplies ``atol`` by the largest |value| of each eager output tensor, on each input
    (at least 1): float32 rounding grows with the numbers, and one scale for the whole model would let a
    wrong small output (a score beside boxes in pixels) pass under a large one's tolerance.
    """
    if label is None:
        label = "loaded" if isinstance(exported, (str, Path)) else DEFAULT_LABEL
    elif not isinstance(label, str):
        raise TypeError(f"parity: label is the word the verdict uses for the checked model, "
                        f"e.g. label='traced' or label='scripted'; got {type(label).__name__}")
    elif not label.strip() or "\n" in label:
        raise ValueError(f"parity: label must be a short word on one line, e.g. label='traced'; got {label!r}")
    eager = require_callable(eager, "parity", "eager model")
    exported = require_callable(exported, "parity", "model to check")
    refuse_meta(inputs, "parity")
    refuse_meta(example, "parity")
    uncopied = ""
    if isinstance(eager, torch.nn.Module):
        try:
            eager = copy.deepcopy(eager)  # the runs change this copy's state (a counter, batch norm's statistics)
        except Exception as error:  # a lock, an open file: run the model itself, and say so
            uncopied = _one_line(error)
    if isinstance(exported, torch.jit.ScriptModule):
        exported = fresh_copy(exported)  # likewise for a scripted copy's counter. Not program.module(): with torch
        # 2.14 a deep copy of it drops the check of the inputs' structure (a list of 3 items where the program took
        # 2 then runs, its third item silently left out), so an exported module is run as it is
    # A runner object (AOTInductor's, ExecuTorch's) may keep state out of reach: eager as it is before any call then
    # shows whether the outputs depend on that state. A module's state is read by name; a function has nowhere to
    # keep a module's state, and an ONNX runner says it keeps none.
    readable = isinstance(exported, torch.nn.Module) or getattr(exported, "keeps_state", None) is False
    pristine = None if readable else _copy_or_none(eager)
    with _buffers_restored(exported):  # program.module() runs as it is: its buffers are put back afterwards
        report = _parity(eager, exported, inputs, example, rtol, atol, label, scale_atol, batch_dim, readable, pristine)
    report.uncopied = uncopied
    return report


# what nn.TransformerEncoder's no-grad fast path does that a copy does not (the notes of parity, the benchmark and
# the round trip say it in these words)
FAST_PATH_ZEROS = "nn.TransformerEncoder's fast path, which writes zeros where the mask pads"


def _fast_path_layers(model) -> str:
    """"nn.TransformerEncoder" when ``model`` holds one, else ''. Under no_grad, with a padding mask, its fast path
    turns the batch into a nested tensor and writes zeros at the padded positions, where its ordinary path, and any
    copy, computes numbers. Only for it is eager's no-grad answer compared again with gradients on: a model of the
    learner's own that branches on torch.is_grad_enabled() must not have its no-grad answer excused."""
    model = _uncached(model)
    if not isinstance(model, torch.nn.Module):
        return ""
    return next(("nn.TransformerEncoder" for m in model.modules() if type(m) is torch.nn.TransformerEncoder), "")


def _uncached(eager):
    """The model itself behind a reference that answers from kept outputs (the benchmark's, marked ``unwatched``)."""
    return eager.model if getattr(eager, "unwatched", False) and hasattr(eager, "model") else eager


def _agrees_with_grad(eager, args, got, rtol, tolerance, names):
    """(exact, close, largest difference) when eager, run again with gradients on, agrees with ``got``; else None.
    Eager's no-grad fast paths (nn.MultiheadAttention's) can give NaN where its ordinary path, and the copies, give
    numbers: that is eager's own disagreement, not the copy's."""
    try:
        with torch.enable_grad():
            again = _uncached(eager)(*own_copy(args))
    except Exception:  # it ran under no_grad: a failure with gradients on says nothing about the copy
        return None
    exact, close, max_diff, _ = _compare_outputs(again, got, rtol, tolerance, names)
    return (exact, close, max_diff) if close else None


@contextlib.contextmanager
def _buffers_restored(module):
    """Put ``module``'s buffers back as they were on leaving (a running count, statistics): parity runs the caller's
    exported module itself, and its program would otherwise be saved with the count parity left in it."""
    saved = ({name: b.detach().clone() for name, b in module.named_buffers()}
             if isinstance(module, torch.nn.Module) and not isinstance(module, torch.jit.ScriptModule) else {})
    try:
        yield
    finally:
        with torch.no_grad():
            for name, buffer in (module.named_buffers() if saved else ()):
                if name in saved and buffer.shape == saved[name].shape:
                    buffer.copy_(saved[name])


class EagerDidNotFinish(ValueError):
    """Eager did not finish on an input of the learner's own within its limit: said as it is, not as a failure."""


def _parity(eager, exported, inputs, example, rtol, atol, label, scale_atol, batch_dim, readable, pristine):
    """The body of ``parity``, once its arguments are checked and its models copied."""
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not isinstance(tol, (int, float)) or isinstance(tol, bool) or tol < 0:
            raise ValueError(f"parity: {name} must be a number >= 0, got {tol!r}")
    labelled, skipped = _labelled_inputs(inputs, example, batch_dim)

    def scaled(leaf):  # scale_atol's tolerance; also tried when it is off, to say a difference is only rounding
        return atol * output_scale(leaf)
    tolerance = scaled if scale_atol else atol

    # the word for the reference: a TorchScript file or module is no eager model (10 compares with a legacy .pt)
    scripted_reference = isinstance(eager, (torch.jit.ScriptModule, torch.jit.ScriptFunction))
    names = ("the TorchScript model" if scripted_reference else "eager", label.strip())
    if scripted_reference and example is not None:  # variants only: the example is the caller's own input
        probe = fresh_copy(eager)  # timed and probed on a copy: a counter in the reference must not move here
        started = time.perf_counter()
        with torch.no_grad():
            try:
                probe(*own_copy(labelled[0][1]))  # the example, first of the variants
            except Exception:  # reported below, as for any reference
                pass
        limit = variant_seconds(time.perf_counter() - started)
        variants = [(k, a) for k, a in labelled if k != "example"]
        for row_label, why in crashing_inputs(probe, variants, time_limit=limit).items():
            skipped[row_label] = f"the TorchScript model cannot run it: {why}"
        labelled = [(k, a) for k, a in labelled if k not in skipped]
    coverage = LineCoverage(eager)
    state_before = python_state(eager)
    copy_before = copy_state(exported, state_before)
    state_first = None  # after the first call: a one-time set-up changes then, a counter keeps changing
    detections_only = False
    rows, unkeyed, retyped, changes_input = [], "", "", False
    copy_changes_input = copy_keeps_input = copy_changes_input_otherwise = False
    last = None  # (arguments, eager's output) of the last input compared
    variant_limit = None  # seconds for eager on a variant parity made: a loop that never ends on zeros must not hang
    with torch.no_grad():
        for row_label, args in labelled:
            started = time.perf_counter()
            try:
                # every input after the first gets a limit from the first one's time: a loop that never ends on
                # zeros (a variant) or on an input of the learner's own must not hang the kernel
                eager_args = own_copy(args)  # a forward that changes its input in place must not reach the copy's
                limit = variant_limit if variant_limit is not None else first_call_seconds(eager)
                with coverage.watch(row_label):
                    expected, answered = call_within(limit, eager, *eager_args)
                changes_input = changes_input or changed_in_place(args, eager_args)
                if not answered:
                    coverage.forget(row_label)
                    if example is None or variant_limit is None:  # the learner's own input: not left out quietly
                        what = "the example" if example is not None else f"input {row_label!r}"
                        why = ("50 times its time on the first input, at least 5 s" if variant_limit is not None else
                               "the first input's limit: 60 s, plus 10 s per million parameters")
                        raise EagerDidNotFinish(f"parity: the eager model did not finish on {what} within {limit:.0f} s "
                                                f"({why}): a loop that never ends on it? Pass inputs it finishes on") from None
                    skipped[row_label] = (f"the eager model did not finish on it within {variant_limit:.0f} s: a "
                                          "loop that never ends on this input?")
                    continue
                if state_first is None:
                    state_first = python_state(eager)
            except EagerDidNotFinish:
                raise
            except Exception as error:
                coverage.forget(row_label)
                if example is not None and row_label != "example":
                    skipped[row_label] = f"the eager model itself rejects it: {_one_line(error)}"
                    continue
                what = "the example" if example is not None else f"input {row_label!r}"
                tuple_read_as_inputs = (type(inputs) is tuple and len(inputs) > 1
                                        and re.search(r"missing \d+ required positional argument", str(error)))
                advice = (f"inputs= is a list of inputs, so a tuple of {len(inputs)} is {len(inputs)} inputs: for one "
                          "input of several arguments pass inputs=[(x, y)]" if tuple_read_as_inputs else
                          "pass inputs the eager model accepts")
                raise ValueError(f"parity: the eager model itself fails on {what} with shape "
                                 f"{shapes(args)} ({_one_line(error)}{argument_hint(args, error)}): {advice}") from None
            if variant_limit is None:  # the first input eager ran: the example, or the first of inputs=
                variant_limit = variant_seconds(time.perf_counter() - started)
            empty, nan = _is_empty(expected), only_nan(expected)
            tiny = None if empty or nan else _within_atol_of_zero(expected, atol)
            tiny_parts = () if empty or nan or tiny is not None else _tiny_parts(expected, atol)
            last = (args, expected)
            try:
                copy_args = own_copy(args)
                got = exported(*copy_args)
                difference = in_place_difference(args, eager_args, copy_args)  # tensor by tensor
                copy_changes_input = copy_changes_input or difference == "changes"
                copy_keeps_input = copy_keeps_input or difference == "keeps"
                copy_changes_input_otherwise = copy_changes_input_otherwise or difference == "otherwise"
            except Exception as error:  # the point of the check: report it as a divergence, do not crash
                rows.append(ParityRow(row_label, shapes(args), False, False, math.inf,
                                      error=_one_line(error), empty=empty, nan=nan, tiny=tiny,
                                      tiny_parts=tiny_parts, args=args))
                continue
            detections = detections_of(eager, expected, got)
            if detections is not None:
                got, detections_only = detections, True
            exact, close, max_diff, note = _compare_outputs(expected, got, rtol, tolerance, names)
            # eager's own no-grad fast paths: NaN where every key is masked (attention), zeros where the mask pads
            # (nn.TransformerEncoder); the copy agreeing with eager run with gradients on is not the copy's fault
            fast_path = "" if close else (
                f"{names[0]} gave NaN here under torch.no_grad, where a fast path of its own runs (attention with "
                "every key masked takes one)" if f"{names[0]} gives NaN at" in note else
                f"{names[0]} gave other values here under torch.no_grad, where {_fast_path_layers(eager)}'s fast path "
                "runs (with a padding mask it writes zeros at the padded positions)" if _fast_path_layers(eager) else "")
            redone = _agrees_with_grad(eager, args, got, rtol, tolerance, names) if fast_path else None
            if redone is not None:
                exact, close, max_diff = redone
                note = f"{fast_path}, and with gradients on gave the numbers the {names[1]} copy gives"
            if close and not unkeyed and _dict_as_sequence(expected, got):
                unkeyed = f"{_nesting(got)} where eager returns {_nesting(expected)}"
            if close and not retyped:
                retyped = _retyped_part(expected, got, reference=names[0])
            # a difference that only the absolute atol calls one: float rounding beside large outputs (scale_atol)
            close_if_scaled = (not close and not scale_atol and not empty and not nan
                               and _compare_outputs(expected, got, rtol, scaled,
                                                    names)[1])
            rows.append(ParityRow(row_label, shapes(args), exact, close, max_diff, note, empty=empty, nan=nan,
                                  tiny=tiny, tiny_parts=tiny_parts, args=args, infinite=_infinities(expected),
                                  close_if_scaled=bool(close_if_scaled), scale=output_scale(expected)))
        training = training_layers(eager)
        self_divergent = False
        state_after = python_state(eager)  # read before the probe below: its two calls are not the comparison's
        # randomness can sit in any layer, or in forward itself (torch.randn_like, in eval mode too): whenever a row
        # diverges, eager is asked to agree with itself, not only when a known random layer is found
        if rows and any(r.diverges for r in rows):
            first = rows[0].args  # does eager even agree with itself? (dropout: no)
            probe = fresh_copy(eager)  # asked on a copy: a counter in the learner's model must not move twice more
            kept = python_state(probe)
            try:
                again = _compare_outputs(probe(*own_copy(first)), probe(*own_copy(first)), rtol, tolerance)
                # with no layer known to be random, two answers from a model whose state moved between the calls (a
                # counter) say nothing of randomness: the state note speaks for that. A TorchScript model's state is
                # not readable as Python attributes, but its graph says whether forward writes any (prim::SetAttr)
                self_divergent = not again[1] and (bool(training) or (python_state(probe) == kept
                                                                       and not script_set_attributes(eager)))
            except Exception:  # it ran once already; a second failure says nothing new
                pass
            if self_divergent:  # random outputs that happen to match in another order are no tie sorted otherwise
                for row in rows:
                    row.note = _REORDER_GUESS.sub("", row.note).strip(" ;")
    lost = state_on_copy(state_before, state_after, copy_before, copy_state(exported, set(state_before) | set(state_after)))
    unreadable = ""
    if lost and any(r.error for r in rows):  # the copy refused some inputs, so its state saw fewer calls than eager's
        unreadable, lost = "refused", []
    elif lost and not readable and all(line.endswith("the copy has no such attribute") for line in lost):
        if rows and all(r.close and not r.error for r in rows):
            unreadable = "shown" if _outputs_show_state(pristine, last, rtol, tolerance) else "unknown"
        else:
            unreadable = "differs"  # the outputs already differ; whether the state is part of why cannot be read
        lost = []
    return ParityReport(rows, rtol, atol, skipped, names, uncovered=coverage.uncovered(),
                        state_changes=state_changes(state_before, state_after),
                        state_settled=_settled(eager, rows, state_first, state_after),
                        state_lost=lost, state_unreadable=unreadable,
                        coverage_note=coverage.reason, same_path=coverage.same_path,
                        training_mode=training, self_divergent=self_divergent, unkeyed=unkeyed, retyped=retyped,
                        copy_training=[] if training else training_layers(exported),
                        detections_only=detections_only, atol_scaled=bool(scale_atol), changes_input=changes_input,
                        copy_changes_input=copy_changes_input, copy_keeps_input=copy_keeps_input,
                        copy_changes_input_otherwise=copy_changes_input_otherwise,
                        time_first=time_first_note(eager, batch_dim, next((a for k, a in labelled if k == "example"), None))
                        if example is not None else "",
                        defaults_kept=defaults_left(eager, [a for _, a in labelled]),
                        copy_arguments=_forward_arguments(exported))


def _forward_arguments(model):
    """The argument names of a TorchScript copy's forward (a scripted one keeps forward's options, a trace has only
    the inputs it was traced with); None for anything else."""
    try:
        function = model if isinstance(model, torch.jit.ScriptFunction) else model.forward
        return {a.name for a in function.schema.arguments}
    except Exception:  # not TorchScript, or no schema to read
        return None


def defaults_left(model, argument_lists) -> list:
    """``["scale=2", "shift=0.0"]``: the parameters of ``model``'s forward that have a default and that no input
    passed. Keyword-only ones too: the inputs are positional. Empty for a signature Python cannot read."""
    forward = getattr(model, "forward", model) if isinstance(model, torch.nn.Module) else model
    if isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        return []  # its defaults are the scripted code's; the eager model's are what a learner would vary
    try:
        parameters = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return []
    passed = max((len(a) for a in argument_lists if isinstance(a, tuple)), default=0)
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    # a function as a default is a wrapper's plumbing (``_fn=fn``), not an option of the model
    # a torchvision detector's `targets` is for training (it computes the losses): in eval mode nothing varies it
    training_only = {"targets"} if isinstance(model, torch.nn.Module) and not model.training \
        and _holds_detector(model) else set()
    left = [p for i, p in enumerate(parameters) if p.default is not inspect.Parameter.empty
            and not isinstance(p.default, (types.FunctionType, types.BuiltinFunctionType, type))
            and p.name not in training_only
            and (p.kind == inspect.Parameter.KEYWORD_ONLY or (p.kind in positional and i >= passed))]
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    return [f"{p.name}={_short_repr(p.default)}" + (" (keyword-only)" if p.kind == keyword_only else "") for p in left]


def _short_repr(value) -> str:
    text = repr(value)
    return text if len(text) <= 30 else text[:29] + "…"


def _settled(eager, rows, state_first, state_after) -> bool:
    """Whether eager's attributes changed on its first call only (a cache filled once), not on every call: with one
    input, eager runs it once more to tell."""
    if len(rows) > 1:
        return state_first == state_after
    if not rows or state_first is None:
        return False
    try:
        with torch.no_grad():
            eager(*own_copy(rows[0].args))
    except Exception:  # it ran this input already; a failure now says nothing about settling
        return False
    return python_state(eager) == state_after


def compare(name, a, b, rtol=1e-5, atol=1e-6) -> bool:
    """Print one line: is ``b`` exactly / approximately ``a``, and their largest difference. Returns close."""
    if not isinstance(name, str):
        raise TypeError(f"compare(name, a, b) takes a label first, e.g. compare('logits', a, b); got {type(name).__name__}")
    for side, value in (("a", a), ("b", b)):
        if not all(isinstance(leaf, torch.Tensor) for _, leaf in _flatten(value)):
            raise TypeError(f"compare: {side} must be a tensor or a tuple/list of tensors, got {_describe(value)}")
    exact, close, max_diff, note = _compare_outputs(a, b, rtol, atol, names=("a", "b"))
    diff = note if math.isinf(max_diff) and note else f"{max_diff:.3g}" + (f" ({note})" if note else "")
    if close and not exact and _within_atol_of_zero(a, atol) is not None:
        diff += f" (a is within atol={atol:g} of zero: any numbers that small are close, so close says little)"
    print(f"{name:15s} | exact: {str(exact):5s} | close: {str(close):5s} | largest |diff|: {diff}")
    return close
