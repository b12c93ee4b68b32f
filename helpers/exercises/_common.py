"""What several notebooks' checkers share (not re-exported as H.*)."""
import torch

from ..course.failures import as_sentence, typed_message
from ..course.guards import LearnerCodeStopped, learner_code, model_instance, with_article  # noqa: F401 - checkers import both from here


def same_tensor(got, want, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """``got`` is a tensor with ``want``'s shape, dtype and values (never raises, whatever the learner returned);
    ``atol=0`` compares tiny values relative to their own size; ``equal_nan`` counts NaN as equal to NaN."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape or got.dtype != want.dtype:
        return False
    try:
        return bool(torch.allclose(got, want, atol=atol, equal_nan=equal_nan))
    except (RuntimeError, TypeError):
        return False


def dtype_mistake(got, want, who: str) -> str:
    """A sentence when ``got`` is a tensor of another dtype than ``want`` ('' otherwise)."""
    if isinstance(got, torch.Tensor) and isinstance(want, torch.Tensor) and got.dtype != want.dtype:
        return f"{who} returns {got.dtype}; keep the input's dtype, {want.dtype}."
    return ""


def _unchanged(before, after) -> bool:
    if before.shape != after.shape or before.dtype != after.dtype:
        return False
    if before.is_floating_point() or before.is_complex():
        return bool(torch.equal(torch.nan_to_num(before), torch.nan_to_num(after))
                    and torch.equal(before.isnan(), after.isnan()))
    return bool(torch.equal(before, after))


def on_copies(run, *args):
    """``(run(*copies of args), changed)``: the learner's code gets copies, so an in-place change cannot alter the
    course's inputs; ``changed`` says whether it altered one. Errors from ``run`` propagate."""
    copies = tuple(a.clone() if isinstance(a, torch.Tensor) else a for a in args)
    with learner_code():  # sys.exit or an endless loop in the learner's forward: one line, not a dead kernel
        got = run(*copies)
    changed = any(isinstance(a, torch.Tensor) and not _unchanged(a, c) for a, c in zip(args, copies))
    return got, changed


def shortened(value, limit: int = 60) -> str:
    """``repr(value)`` (``str`` for a str), cut to ``limit`` characters with "…" when longer."""
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def values(t) -> str:
    """A tensor's values as a nested list for a message, floats to 4 significant digits (0.2, not 0.20000000298...)."""
    def tidy(v):
        if isinstance(v, list):
            return "[" + ", ".join(tidy(item) for item in v) + "]"
        return repr(float(f"{v:.4g}")) if isinstance(v, float) else repr(v)  # 1.0 stays 1.0: a float, not an int
    return tidy(t.tolist()) if isinstance(t, torch.Tensor) else repr(t)


def as_model(model, who, **kwargs):
    """The learner's answer as a module instance (a class is built with ``kwargs``), or None after printing one ✘
    line: what to pass instead, or why the learner's own ``__init__`` failed (never a traceback)."""
    try:
        return model_instance(model, who, **kwargs)
    except TypeError as error:  # a wrong kind of argument, or a constructor that wants arguments
        print(f"✘ {as_sentence(str(error))}")
    except Exception as error:  # the learner's own __init__ failed (a missing super().__init__(), say)
        print(f"✘ Building your model failed: {as_sentence(typed_message(error, 120))} "
              "Fix __init__ and run the cell again.")
    return None


def describe(obj) -> str:
    """A learner's answer in a few words: None, the class X, a Tensor ..."""
    if obj is None:
        return "None"
    if isinstance(obj, type):
        return f"the class {obj.__name__}"
    return with_article(type(obj).__name__)


def tensor_answer(run, x, want, said, *, in_place, one_tensor, shape_hint=lambda got: "", error_cause=lambda e: ""):
    """(got, mistake) for ``run`` on a copy of ``x``, whose answer should be a tensor shaped and typed like ``want``.

    ``mistake`` names the first of: an error, an in-place change of the input, not a tensor, another shape, another
    dtype; it is None when those are right, and the values are the caller's to judge. ``said``: "{who} ... on the
    {label} input" as the messages start; ``in_place`` and ``one_tensor``: what to do instead, in the exercise's words.
    """
    who, on = said
    try:
        with torch.no_grad():
            got, changed = on_copies(run, x)  # a copy: an in-place change must not alter the course's inputs
    except LearnerCodeStopped as error:
        return None, f"{who} fails {on}: {error}"
    except Exception as error:
        cause = error_cause(error) or typed_message(error, 120)
        return None, f"{who} fails {on}: {cause}"
    if changed:
        return got, f"{who} changed its input in place {on}: {in_place}"
    if not isinstance(got, torch.Tensor):
        return got, f"{who} returns {describe(got)} {on}; {one_tensor}"
    if got.shape != want.shape:
        return got, (f"{who} gives shape {tuple(got.shape)} {on}; the answer has shape {tuple(want.shape)}"
                     f"{shape_hint(got)}.")
    if got.dtype != want.dtype:
        return got, f"{who} returns {got.dtype} {on}; keep the input's dtype, {want.dtype}."
    return got, None


def torchscript_kind(model) -> str:
    """What a TorchScript object is, in a learner's words (a traced module is a ScriptModule too)."""
    if isinstance(model, torch.jit.TopLevelTracedModule):
        return "traced module (torch.jit.trace's result)"
    if isinstance(model, torch.jit.ScriptFunction):
        return "TorchScript function"
    return "scripted module (torch.jit.script's result)"
