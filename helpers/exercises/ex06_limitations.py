"""Exercise checkers for 06_limitations.

Each checker scripts the learner's model itself, runs it on inputs it picks, compares with the
expected behaviour, and prints one line starting with ✔ or ✘ that says what to do next; it
returns True or False. A wrong answer never raises: the notebook keeps running.
"""
import copy
import inspect
import io
import math
import re

import torch

from ..course.deprecations import deprecations_hidden
from ..course.failures import as_sentence, short_message
from ..course.guards import learner_code, with_article
from ..tools.gallery import script_error_line
from ..tools.parity import script_set_attributes
from ._common import as_model, describe, on_copies, tensor_answer, values

__all__ = ["check_standardize_scriptable", "check_running_peak", "check_saveable_debug_helper"]


def _script(model):
    """Script without the deprecation notice (explained in 02); other warnings stay visible."""
    with deprecations_hidden():
        return torch.jit.script(model)


def _try_script(model, hint, hints=None):
    """Script ``model`` or print why not; ``hints`` maps a fragment of the error to a better hint (or to a
    function of the error that writes it)."""
    try:
        return _script(model)
    except Exception as error:  # the compile error is the feedback
        if "Can't redefine method" in str(error):  # the message is about the kernel, not the code: no hint
            hint = ""
        for fragment, better in (hints or {}).items():
            if fragment in str(error):
                hint = better(error) if callable(better) else better
                break
        print(f"✘ torch.jit.script still fails: {as_sentence(script_error_line(error))} {hint}".rstrip())
        return None


def _answer(model, who, **kwargs):
    """The learner's model as an instance, or None after printing one ✘ line saying what to pass."""
    if isinstance(model, torch.jit.TopLevelTracedModule):  # tracing keeps no attribute updates: hints would mislead
        print("✘ This is a traced copy (torch.jit.trace's result): tracing records tensor operations only, so the "
              "attributes forward updates are not kept. Pass your Python model (or its class); the check scripts it.")
        return None
    return as_model(model, who, **kwargs)


def _same_tensor(got, want) -> bool:
    """``got`` is a float tensor of ``want``'s shape and values (a bool or int tensor is not: no crash on it)."""
    return (isinstance(got, torch.Tensor) and got.dtype == want.dtype and got.shape == want.shape
            and bool(torch.allclose(got, want, atol=1e-6)))


def _save_and_load(scripted):
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


def _python_call(scripted) -> str:
    """torch.jit.save's words for a Python call left in ``scripted`` (a method marked @torch.jit.ignore), or ""."""
    try:
        torch.jit.save(scripted, io.BytesIO())
    except Exception as error:
        found = re.search(r"Could not export Python function call '\w+'", str(error))
        return found.group(0) if found else ""
    return ""


def _runs_in_python(model, x, **kwargs) -> bool:
    """True if the learner's model itself runs in Python on ``x`` (a copy of it is called); else print why.

    TorchScript checks some things less than Python does: an ``nn.Parameter`` attribute that forward reassigns
    with a plain tensor compiles and runs scripted, but Python refuses the assignment, so the model no longer
    runs as the class it is."""
    try:
        spare = copy.deepcopy(model)
    except Exception:  # a model that cannot be copied is judged by its scripted copy alone
        return True
    try:
        with learner_code(), torch.no_grad():
            spare(x.clone(), **kwargs)
    except Exception as error:  # LearnerCodeStopped too: an endless loop or sys.exit, named in one line
        hint = ("In Python an `nn.Parameter` attribute can only be replaced by a Parameter (TorchScript does not "
                "enforce that): keep the state as a plain tensor attribute, `self.name = torch.zeros(...)`, or a "
                "buffer (`self.register_buffer(...)`)." if "as parameter" in str(error)
                else "The class must still run in Python, as it did before: fix it there first.")
        print(f"✘ It scripts, but your model itself fails in Python on {tuple(x.shape)}-shaped input: "
              f"{as_sentence(short_message(error))} {hint}")
        return False
    return True


# ---------------------------------------------------------------- exercise 1: make it scriptable

def _standardize(x, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return ((x - mean) / (x.std(dim=-1, keepdim=True) + eps)).clamp(-3.0, 3.0), mean


# Outliers on both sides, so that a clip on one side only shows; eps=0.5 so that a dropped eps shows. In the row of
# nearly equal values the standard deviation (about 1.6e-5) is as small as eps itself, so another default for eps
# (0, 1e-6) changes the result there; on the other rows it changes it by less than the comparison sees.
_NEARLY_EQUAL = "a row of nearly equal values"
_STANDARDIZE_CASES = [
    ("a 3x5 batch", torch.linspace(-4.0, 6.0, 15).reshape(3, 5), {}),
    ("a row with a large outlier", torch.cat([torch.linspace(-0.5, 0.5, 19), torch.tensor([10.0])]).reshape(1, 20), {}),
    ("a row with a negative outlier", torch.cat([torch.linspace(-0.5, 0.5, 19), torch.tensor([-10.0])]).reshape(1, 20),
     {}),
    (_NEARLY_EQUAL, torch.linspace(-2e-5, 2e-5, 5).reshape(1, 5), {}),
    ("eps=0.5", torch.linspace(-1.0, 1.0, 8).reshape(2, 4), {"eps": 0.5}),
    # three dimensions: dim=1 in place of dim=-1 agrees on every 2-D input, not here
    ("a 2x3x4 batch", torch.linspace(-3.0, 3.0, 24).reshape(2, 3, 4) ** 3, {}),
    # float64: a forward that casts to float32 first answers in another dtype
    ("a float64 batch", torch.linspace(-2.0, 5.0, 12, dtype=torch.float64).reshape(3, 4), {}),
]

_MODIFIERS = {torch._jit_internal.FunctionModifiers.IGNORE: "@torch.jit.ignore",
              torch._jit_internal.FunctionModifiers.UNUSED: "@torch.jit.unused"}


def _compiled_forward(model, scripted, instead="change the constructs TorchScript rejects") -> bool:
    """True if ``forward`` was compiled; else print why (a decorator on forward itself leaves nothing compiled).
    ``instead``: what the exercise asks for in its place."""
    if scripted._c._has_method("forward"):
        return True
    decorator = _MODIFIERS.get(getattr(type(model).forward, "_torchscript_modifier", None), "a decorator")
    print(f"✘ `forward` itself carries {decorator}, so TorchScript compiled nothing: the saved file has no forward "
          f"at all. Leave forward undecorated and {instead}.")
    return False


def _same_values(got, want) -> bool:
    """``_same_tensor`` that also takes a shape of zero elements (``torch.zeros(0)``) without a crash."""
    return (isinstance(got, torch.Tensor) and got.dtype == want.dtype and got.shape == want.shape
            and (got.numel() == 0 or bool(torch.allclose(got, want, atol=1e-6))))


def _wrong_mean(last, mean, initial, earlier) -> str:
    """What is wrong with the ``last_mean`` kept after a call ("" when it is the input's mean, shape included).

    ``initial`` is its value before any call, ``earlier`` the (label, mean) of the inputs seen before this one:
    a value that is still one of those was not assigned on this call, whatever its shape.
    """
    if not isinstance(last, torch.Tensor):
        return ("`last_mean` is no longer kept: create it in `__init__` (e.g. `self.last_mean = torch.zeros(0)`) "
                "so forward may update it.")
    if _same_tensor(last, mean):
        return ""
    if isinstance(initial, torch.Tensor) and _same_values(last, initial):
        return ("`last_mean` still holds its value from `__init__` after the call: forward does not keep the "
                "input's mean there. Assign it on every call, `self.last_mean = x.mean(dim=-1, keepdim=True)`.")
    for label, before in reversed(earlier):
        if _same_tensor(last, before):
            return (f"`last_mean` still holds the mean of an earlier input ({label}), not of this one: "
                    "assign it on every call, not only on some.")
    if last.shape != mean.shape:
        if last.numel() == mean.numel() and _same_tensor(last.reshape(mean.shape), mean):
            return (f"`last_mean` has shape {tuple(last.shape)}; the original keeps the mean with keepdim=True, "
                    f"shape {tuple(mean.shape)} here.")
        return (f"`last_mean` has shape {tuple(last.shape)}, and the mean of this input, "
                f"`x.mean(dim=-1, keepdim=True)`, has shape {tuple(mean.shape)}: keep that mean in it.")
    if last.dtype != mean.dtype:
        same = _same_tensor(last.to(mean.dtype), mean)
        return (f"`last_mean` is {last.dtype}{', with the right values,' if same else ''} where the mean of this input "
                f"is {mean.dtype}: keep `x.mean(dim=-1, keepdim=True)` as it comes, without converting it.")
    return "`last_mean` holds other values than the mean of the last input: keep `x.mean(dim=-1, keepdim=True)`."


def _attribute_type_hint(error) -> str:
    """For "Wrong type for attribute assignment": TorchScript typed the attribute from its value in ``__init__``."""
    found = re.search(r"Expected (\w+) but got Tensor", str(error))
    kind = found.group(1) if found else "another type"
    name = _assigned_attribute(error) or "last_mean"
    if kind == "NoneType":
        return (f"TorchScript types `self.{name}` from its value in `__init__`, and one that starts as None can only "
                f"ever hold None. Start it as a tensor: `self.{name} = torch.zeros(0)`. (Declaring "
                f"`{name}: Optional[torch.Tensor]` in the class body, not in `__init__`, scripts too, but then forward "
                "must compute with a local tensor: TorchScript does not use an Optional attribute as a Tensor.)")
    return (f"TorchScript types `self.{name}` from its value in `__init__`, a {kind}, so it cannot hold a Tensor "
            f"later: start it as a tensor, `self.{name} = torch.zeros(0)`.")


def _assigned_attribute(error) -> str:
    """The ``x`` of the ``self.x = ...`` line that a TorchScript error marks with ``<--- HERE`` ("" if none)."""
    lines = str(error).splitlines()
    for above, line in zip(lines, lines[1:]):
        if "<--- HERE" in line:
            found = re.search(r"self\.(\w+)\s*(?::[^=]*)?=", above)
            if found:
                return found.group(1)
    return ""


def _takes_eps(scripted) -> bool:
    """True if the compiled forward has an argument named ``eps`` (the schema is what TorchScript compiled)."""
    try:
        return any(argument.name == "eps" for argument in scripted.forward.schema.arguments)
    except (AttributeError, RuntimeError):  # no schema to read: let the call itself say what is wrong
        return True


def _eps_mistake(scripted) -> str:
    """What is wrong with the compiled ``eps`` argument's type or default ("" when nothing shows there).

    Eager PyTorch ignores annotations, but TorchScript holds the scripted forward to them: ``eps: int`` refuses
    eps=0.5 and ``eps: bool`` turns it into True, so the annotation, not the maths, is what the learner must change.
    A default other than 1e-5 changes the result only where the rows vary as little as eps, so it is named here.
    """
    try:
        eps = next((a for a in scripted.forward.schema.arguments if a.name == "eps"), None)
    except (AttributeError, RuntimeError):  # no schema to read: the calls below say what is wrong
        return ""
    if eps is None:  # said by the check of the eps=0.5 case, with the signature TorchScript compiled
        return ""
    kind = str(eps.type)
    default = eps.default_value if eps.has_default_value() else None
    other_default = isinstance(default, (int, float)) and not math.isclose(default, 1e-5, rel_tol=1e-6)
    if kind not in ("float", "Optional[float]"):
        x = next(x for _, x, kwargs in _STANDARDIZE_CASES if "eps" in kwargs)
        try:  # on a copy: the cases after this one judge last_mean from its first value
            probe = copy.deepcopy(scripted)
        except Exception:  # a model that cannot be copied is probed itself
            probe = scripted
        try:
            got = probe(x.clone(), eps=0.5)
        except Exception as error:  # what the annotation does to a float: say it with TorchScript's words
            if "argument 'eps'" not in str(error):
                return ""  # another failure: the cases show it
            what = f"refuses a float: called with eps=0.5, it raises {as_sentence(script_error_line(error))}"
        else:
            if kind != "bool" or _same_tensor(got, _standardize(x, eps=0.5)[0]):
                return ""  # a type that takes 0.5 as it is (or a result the cases judge)
            what = "turns eps=0.5 into a bool, True, and the result changes."
        also = f" Its default, {default!r}, also differs from the original's 1e-5." if other_default else ""
        return (f"`eps` is annotated `{kind}`, and TorchScript holds the scripted forward to its annotations (eager "
                f"PyTorch ignores them): the scripted model {what}{also} Annotate it as a float: "
                "`eps: float = 1e-5`.")
    if not eps.has_default_value():
        return ("`eps` has no default, so the scripted model cannot be called without eps=...: give it the "
                "original's default, `eps: float = 1e-5`.")
    if other_default:
        return (f"the default of `eps` is {default!r}, where the original's is 1e-5: a call without eps=... gives "
                "other results wherever the rows vary as little as eps (a standard deviation near 1e-5). "
                "Write `eps: float = 1e-5`.")
    return ""


# a lambda moved out of forward (to the module, or to an attribute) still is a lambda: TorchScript compiles a
# function from its source, and a lambda's line is not a function definition it can compile
_LAMBDA_OUTSIDE = ("That is a lambda moved out of forward: TorchScript compiles a function from its source, and a "
                   "lambda still is no `def`, wherever it sits. Write the clip as a module-level `def` (or inline "
                   "the clamp in forward).")


def check_standardize_scriptable(model) -> bool:
    """06 exercise 1: ``Standardize`` scripts, gives the same result, takes ``eps=...`` and keeps ``last_mean``."""
    model = _answer(model, "check_standardize_scriptable")
    if model is None:
        return False
    scripted = _try_script(model, "Fix the construct the message points at, then run this cell again.",
                           hints={"Expected a single top-level function": _LAMBDA_OUTSIDE,
                                  "Wrong type for attribute assignment": _attribute_type_hint,
                                  'on parameter "eps"': _EPS_DEFAULT_TYPE,
                                  "found type 'Optional[float]'": _optional_eps_hint})
    if scripted is None or not _compiled_forward(model, scripted):
        return False
    eps_mistake = _eps_mistake(scripted)
    if eps_mistake:
        print(f"✘ Scripts, but {eps_mistake}")
        return False
    initial = getattr(scripted, "last_mean", None)
    if isinstance(initial, torch.Tensor):
        initial = initial.clone()  # the calls below replace it; its first value tells "never assigned" apart
    earlier = []
    for label, x, kwargs in _STANDARDIZE_CASES:
        if "eps" in kwargs and not _takes_eps(scripted):
            print(f"✘ The scripted forward has no `eps` argument (it compiled `{_signature(scripted)}`), so "
                  "`eps=...` cannot be passed. Keep `eps` as an argument: `eps: float = 1e-5`.")
            return False
        want, mean = _standardize(x, **kwargs)
        got, mistake = tensor_answer(lambda given: scripted(given, **kwargs), x, want,
                                     ("The scripted model", f"on {label}"),
                                     in_place="compute a new tensor (`x - mean`), as the original does.",
                                     one_tensor="return the clipped tensor, as the original does.",
                                     error_cause=lambda error: _call_error(error))
        if mistake:
            print(f"✘ {as_sentence(mistake)}")
            return False
        if not _same_tensor(got, want):
            low, high = float(want.min()), float(want.max())
            clip = (" The original clips on both sides, to [-3, 3]." if low <= -3.0 or high >= 3.0 else "")
            small = (" There the standard deviation is as small as eps, so eps matters: without eps=..., add 1e-5, "
                     "as the original does." if label == _NEARLY_EQUAL and _right_with_eps(scripted, x) else
                     " The result is what the formula gives without eps: keep `+ eps` in the denominator, as the "
                     "original has it." if _same_tensor(got, _standardize(x, eps=0.0)[0]) else "")
            print(f"✘ Scripts, but the result changed on {label}: keep the maths of Standardize as it is "
                  f"and change only what TorchScript rejects.{clip}{small}")
            return False
        wrong = _wrong_mean(getattr(scripted, "last_mean", None), mean, initial, earlier)
        if wrong:
            print(f"✘ Scripts and computes the right values, but {wrong}")
            return False
        earlier.append((label, mean))
    # A deployed model runs in eval mode: last_mean must be kept there too, not only while training
    try:
        deployed = _script(copy.deepcopy(model)).eval()
        label, x, kwargs = _STANDARDIZE_CASES[0]
        deployed(x.clone(), **kwargs)
        kept = getattr(deployed, "last_mean", None)
    except Exception:  # a model that cannot be copied or run again was judged above: no second pass
        kept, x = None, None
    if x is not None and not _same_tensor(kept, _standardize(x)[1]):
        print("✘ Scripts and computes the right values in training mode, but in eval mode (`model.eval()`, as a "
              "deployed model runs) `last_mean` is not updated: keep the mean on every call, whatever "
              "`self.training` says.")
        return False
    try:  # shipping means saving: a helper left as Python (@torch.jit.ignore) cannot be
        _save_and_load(scripted)
    except Exception as error:
        python_call = re.search(r"Could not export Python function call '\w+'", str(error))
        print("✘ Scripts and computes the right values, but torch.jit.save refuses it"
              + (f" ({python_call.group(0)}): a method marked @torch.jit.ignore stays a Python call, which no .pt "
                 "can hold. Rewrite the construct TorchScript rejects instead of hiding it."
                 if python_call else f": {as_sentence(script_error_line(error))}"))
        return False
    if not _runs_in_python(model, _STANDARDIZE_CASES[0][1]):  # last: the scripted checks name more mistakes
        return False
    print("✔ Right: it scripts, matches the original on every input the check tries (2-D and 3-D), takes eps=..., still keeps last_mean, and saves.")
    return True


def _right_with_eps(scripted, x) -> bool:
    """True if ``scripted`` gives the original's result on ``x`` when eps=1e-5 is passed: then its default is wrong."""
    try:
        return _same_tensor(scripted(x.clone(), eps=1e-5), _standardize(x)[0])
    except Exception:  # it cannot take eps=1e-5: the maths, not the default, is what to look at
        return False


def _signature(scripted) -> str:
    """``forward(x)``: the compiled forward's arguments, without ``self`` and types."""
    names = [a.name for a in scripted.forward.schema.arguments if a.name != "self"]
    return f"forward({', '.join(names)})"


def _call_error(error) -> str:
    """The one line to show for a failed call, with a hint when ``eps`` is the cause, or a helper marked unused ran.
    TorchScript's message quotes the source around the failing line, which names ``eps`` whatever failed: only a
    message about the argument itself (``argument 'eps'``) is about ``eps``."""
    text = str(error)
    if "annotated to be ignored and cannot be run" in text:
        hint = (" A helper marked @torch.jit.unused raises when forward reaches it, as every call here does: "
                "rewrite what it holds in a form TorchScript compiles, and call that instead.")
    elif "argument 'eps'" in text:
        hint = " Write `eps` as the original takes it: `eps: float = 1e-5`."
    else:
        hint = ""
    return as_sentence(script_error_line(error)) + hint


# TorchScript checks a default against the annotation, and types an argument without one as a Tensor
_EPS_DEFAULT_TYPE = ("The default 1e-5 is a float, and TorchScript checks it against the annotation (a missing one "
                     "means Tensor): write `eps: float = 1e-5`.")


def _optional_eps_hint(error) -> str:
    """For an ``Optional[float]`` added to a tensor: TorchScript wants the None case handled first."""
    if "eps" not in str(error):
        return "Fix the construct the message points at, then run this cell again."
    return ("`eps` is an Optional[float], and TorchScript adds only a number to a tensor: write `eps: float = 1e-5`, "
            "or replace None first, `if eps is None: eps = 1e-5`.")


# ---------------------------------------------------------------- exercise 2: state without globals

# Inputs whose peaks go up, stay, then go up again, so that a peak reset on every call shows; the second and the
# last have their largest absolute value on the negative side, so that a peak without abs() shows, and in the last
# even the largest positive value stays below the peak so far, so that a comparison without abs() shows too
# (`if x.max() > self.peak: self.peak = x.abs().max()`).
# A first peak below 1 (a floor such as max(self.peak, 1.0) shows), then a larger one, a smaller input after it (a
# peak that is not kept shows), and a larger one again.
_PEAK_INPUTS = [torch.tensor([0.5, -0.25]), torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.25, -1.0]),
                torch.tensor([-4.0, 1.0, 1.5])]
_PEAK_AFTER_LOAD = torch.tensor([2.0, -1.0])


def _peak_value(model):
    """The model's ``peak`` as a float (a number or a one-value tensor), or None."""
    peak = getattr(model, "peak", None)
    if isinstance(peak, torch.Tensor) and peak.numel() == 1:
        return float(peak)
    if isinstance(peak, (int, float)) and not isinstance(peak, bool):
        return float(peak)
    return None


def _peak_hint(got, call, kept, whole=False, stores=True) -> str:
    """Which common mistake ``got`` (the answer to ``_PEAK_INPUTS[call]``) matches, as what to change; ``kept`` is
    the scripted model's ``peak`` after the call, ``whole`` whether that attribute is an int, ``stores`` whether its
    forward writes ``peak`` at all (a prim::SetAttr in its graph)."""
    inputs = _PEAK_INPUTS[: call + 1]
    x = inputs[-1]
    running = max(float(i.abs().max()) for i in inputs)
    rounded = kept is not None and kept != running and kept in (math.floor(running), math.ceil(running))
    # a peak of 1 while the running peak is below 1 and the answer is x / 1: a floor of 1.0, not a rounding
    floored = kept == 1.0 and running < 1.0 and _same_tensor(got, x / 1.0) and not whole
    # int(...), a floor or a ceil: the peak is stored, without its fraction (a floor of a peak below 1 stores 0.0)
    if rounded and not floored and (whole or kept != 0.0 or stores):
        return (f"`self.peak` is {kept:g} after {call + 1} call{'s' * (call > 0)}, while the largest absolute value "
                f"seen is {running:g}: it was rounded to a whole number ({'an int attribute, ' if whole else ''}int(), "
                "floor or ceil). Keep it a float: start at 0.0 and store `float(x.abs().max())`.")
    if kept == 0.0:  # nothing was stored, whatever forward divided by
        return (f"After {call + 1} calls `self.peak` is still 0.0, so the running peak is not kept on the model and "
                "each call starts again from 0.0. Store it: `self.peak = max(self.peak, ...)`.")
    if _same_tensor(got, x / x.abs().max()):
        return "It divides by this call's own peak: keep the largest value seen over all calls, `max(self.peak, ...)`."
    if running < 1.0 and _same_tensor(got, x / 1.0):
        return (f"It divides by 1, not by the peak {running:g}: `self.peak` is 1 after the call, as a floor such as "
                "`max(self.peak, 1.0)` or a rounding up (ceil) leaves it while the peak is below 1. Divide by the "
                "peak itself, kept as a float.")
    signed = max(0.0, *(float(i.max()) for i in inputs))
    if signed and _same_tensor(got, x / signed):
        return "It divides by the largest signed value: the peak is the largest absolute value, `x.abs().max()`."
    if kept == running:
        if isinstance(got, torch.Tensor) and got.shape == x.shape and bool(torch.allclose(got, x / running, rtol=1e-2)):
            return (f"`self.peak` is right after the call ({kept:g}), and forward divides by nearly that: an epsilon "
                    "added to the peak (`self.peak + 1e-3`) changes every answer. Divide by `self.peak` itself: it is "
                    "above 0 from the first input on.")
        return (f"`self.peak` is right after the call ({kept:g}), but forward did not divide by it: update "
                "`self.peak` first, then return `x / self.peak`.")
    return "Keep the largest absolute value seen over all calls: `max(self.peak, float(x.abs().max()))`."


def _peak_type_hint(error) -> str:
    """For "Wrong type for attribute assignment": the peak is already on the model, its values' types disagree."""
    found = re.search(r"Expected ([\w\[\]]+) but got ([\w\[\]]+)", str(error))
    kept, given = found.groups() if found else ("", "")
    name = _assigned_attribute(error) or "peak"
    if (kept, given) == ("int", "float"):
        return f"TorchScript gives `self.{name}` the type of its value in `__init__`, and 0 is an int: start it at 0.0."
    if kept == "float" and given == "number":  # what .item() gives in TorchScript: a Scalar of unknown kind
        what = "`.item()`" if ".item()" in str(error) else "the value assigned"
        return (f"`self.{name}` is a float, and TorchScript types {what} as a number, not a float: "
                "convert with `float(x.abs().max())`.")
    if kept == "float" and given == "Tensor":
        return (f"`self.{name}` starts as a float, so TorchScript keeps it a float: assign a float, "
                f"`self.{name} = max(self.{name}, float(x.abs().max()))`, not a Tensor.")
    if kept == "Tensor":
        return (f"`self.{name}` starts as a Tensor, so TorchScript keeps it a Tensor: assign a Tensor, "
                f"`torch.maximum(self.{name}, x.abs().max())`, or start it as a float, `self.{name} = 0.0`.")
    return (f"TorchScript gives `self.{name}` the type of its value in `__init__`: assign it values of that type, "
            f"or start it as a float, `self.{name} = 0.0`.")


def _peak_fallback_hint(model) -> str:
    """The hint for a compile error no other hint names: the global one only while forward still uses a global."""
    forward = getattr(type(model), "forward", None)
    source = _source(forward)
    if "global" in source:
        return "Keep the peak on the model (`self.peak`), not in a global."
    if re.search(r"\bPEAK\b", source):  # the module-level number still read: a Python value TorchScript cannot use
        return ("forward still reads the module-level `PEAK`, a Python number TorchScript cannot use as a value "
                "there: read only `self.peak`.")
    return "Read the line it points at: TorchScript keeps `self.peak` one type, the type of its value in `__init__`."


def _peak_calls(scripted, mode) -> bool:
    """Call ``scripted`` on ``_PEAK_INPUTS`` and compare with the running peak; print one ✘ line on a mistake.

    ``mode`` is "" for the first pass, or the words naming the mode of a second pass ("in eval mode ...").
    """
    peak = 0.0
    for i, x in enumerate(_PEAK_INPUTS):
        peak = max(peak, float(x.abs().max()))
        want = x / peak
        got, mistake = tensor_answer(scripted, x, want, ("The scripted model", f"on call {i + 1}{mode}"),
                                     in_place="divide into a new tensor (`x / self.peak`), not `x /= ...`.",
                                     one_tensor="return the divided tensor.",
                                     error_cause=_call_error)  # with its hint for a helper marked unused
        if mistake:
            print(f"✘ {as_sentence(mistake)}")
            return False
        if not _same_tensor(got, want):
            kept = _peak_value(scripted)
            if mode and kept == 0.0:
                print(f"✘ In training mode it keeps the running peak, but{mode} `peak` stays 0.0: call {i + 1}, "
                      f"x = {values(x)}, gives {values(got)} instead of {values(want)}. It updates `peak` in "
                      "training mode only; a deployed model runs in eval mode, so update it on every call, whatever "
                      "`self.training` says.")
            elif mode:
                print(f"✘ In training mode it keeps the running peak, but{mode} call {i + 1}, x = {values(x)}, "
                      f"gives {values(got)} instead of {values(want)}: it should divide by the largest absolute "
                      "value seen so far in both modes.")
            else:
                whole = isinstance(getattr(scripted, "peak", None), int)  # an int attribute: fractions dropped
                stores = "peak" in script_set_attributes(scripted)  # forward writes it: a 0.0 there was computed
                print(f"✘ Call {i + 1}, x = {values(x)}: expected {values(want)} (the largest absolute value so "
                      f"far is {peak:g}), got {values(got)}. {_peak_hint(got, i, kept, whole, stores)}")
            return False
        kept = _peak_value(scripted)  # right outputs so far, but what the next call (or a saved file) will divide by
        if kept is not None and kept not in (peak, 0.0):  # 0.0: never stored, named by the next call's output
            last = kept == float(x.abs().max())
            nudged = abs(kept - peak) <= 1e-4 * peak  # an epsilon "for safety" added to the stored peak
            print(f"✘ Call {i + 1}{mode}, x = {values(x)}, gives the right {values(got)}, but afterwards `peak` is "
                  f"{kept!r}, where the largest absolute value seen so far is {peak:g}"
                  + (": it keeps this call's largest value, not the largest over all calls. Keep the larger of the "
                     "two, `self.peak = max(self.peak, float(x.abs().max()))`." if last else
                     f", {kept - peak:+.2g} off: store the largest value itself, with nothing added (an epsilon "
                     "guards a division by zero where you divide, not in what you keep)." if nudged else
                     ": keep in `peak` the largest absolute value seen over all calls."))
            return False
    return True


def _used_instance(model) -> str:
    """Advice when ``model`` is an instance whose class builds one with peak 0.0: it has run before the check."""
    try:
        fresh = type(model)()
    except Exception:  # a class that needs arguments: nothing to compare with
        return ""
    if _peak_value(fresh) != 0.0:
        return ""
    return (f"the {type(model).__name__} you passed has run before the check (a new one starts at 0.0), so pass a "
            f"new one, check_running_peak({type(model).__name__}()), or the class itself")


def check_running_peak(model) -> bool:
    """06 exercise 2: divides by the largest absolute value seen so far, kept in ``peak``, which survives save/load;
    in eval mode too, since that is how a deployed model runs."""
    model = _answer(model, "check_running_peak")
    if model is None:
        return False
    scripted = _try_script(model, _peak_fallback_hint(model), hints={
        "global variables aren't supported": "Keep the peak on the model (`self.peak`), not in a global.",
        "Wrong type for attribute assignment": _peak_type_hint,
        "for argument 'self' but instead found type 'float'": (
            "`self.peak` is a float, and torch.max / torch.maximum take tensors: use Python's "
            "`max(self.peak, float(x.abs().max()))`, or start the peak as a tensor."),
        "attribute: data on a non-class": (
            "`.data` cannot be assigned in TorchScript: assign the attribute itself, `self.peak = ...`."),
        "has no attribute 'peak'": "TorchScript knows the attributes that `__init__` sets on the model (not those "
                                   "of the class body): create it there, `self.peak = 0.0`."})
    if scripted is None or not _compiled_forward(model, scripted):
        return False
    python_call = _python_call(scripted)
    if python_call:  # checked first: such a helper keeps the peak in Python, where the passes below cannot see it
        print(f"✘ It scripts, but forward still calls Python ({python_call}): a method marked @torch.jit.ignore runs "
              "as Python, so what it keeps lives in Python, not in the compiled model, and torch.jit.save refuses "
              "the model. Keep the peak on the model, `self.peak = max(self.peak, ...)`, in forward itself.")
        return False
    if _peak_value(scripted) is None:
        print("✘ The scripted model has no number `peak`: create `self.peak = 0.0` in `__init__`.")
        return False
    if _peak_value(scripted) != 0.0:
        used = _used_instance(model)
        print(f"✘ `peak` starts at {_peak_value(scripted)}: "
              f"{used or 'start it at 0.0, since nothing has been seen yet'}.")
        return False
    try:  # the scripted model shares its tensors with the eager one: an in-place update (peak.copy_) reaches both
        spare = copy.deepcopy(model)
    except Exception:  # a model that cannot be copied is checked in training mode only
        spare = None
    scripted.train()  # the first pass as a freshly built model runs; eval mode is checked next
    if not _peak_calls(scripted, ""):
        return False
    peak = max(float(x.abs().max()) for x in _PEAK_INPUTS)
    deployed = _try_script(spare, "") if spare is not None else None  # a second copy, its peak still at 0.0
    if spare is not None and deployed is None:
        return False
    if deployed is not None and not _peak_calls(deployed.eval(),
                                                " in eval mode (`model.eval()`, as a deployed model runs)"):
        return False
    try:
        loaded = _save_and_load(scripted)
        loaded_peak = _peak_value(loaded)  # read before the call below, which may change it
        got = loaded(_PEAK_AFTER_LOAD.clone())
    except Exception as error:
        print(f"✘ It runs, but saving, loading and calling it again fails: {script_error_line(error)}")
        return False
    if loaded_peak != peak:
        print(f"✘ Saved and loaded, the model should still hold {peak:g}, the peak seen before saving; "
              f"its `peak` is {loaded_peak}.")
        return False
    if not _same_tensor(got, _PEAK_AFTER_LOAD / peak):
        print(f"✘ Saved and loaded, its `peak` is {peak:g}, but on x = {values(_PEAK_AFTER_LOAD)} it gives "
              f"{values(got)}, not x / {peak:g} = {values(_PEAK_AFTER_LOAD / peak)}.")
        return False
    if not _runs_in_python(model, _PEAK_INPUTS[0]):  # last: the scripted checks name more mistakes
        return False
    modes = " kept in training and eval mode alike," if deployed is not None else ""
    print(f"✔ Right: the peak lives on the model, so it is compiled, typed,{modes} and saved and loaded with it.")
    return True


# ---------------------------------------------------------------- exercise 3: ignore or unused?

# Values exactly at the limits are not clipped: a count with `>=` instead of `>` shows.
# 1.25 sits just past 1: a count with another threshold (> 1.5, say) gets another number
_CLIPPER_X = torch.tensor([-3.0, -1.0, -0.5, 0.25, 1.0, 1.25, 2.0])
_OUTSIDE = int((_CLIPPER_X.abs() > 1).sum())  # what the original counts on one call


def check_saveable_debug_helper(model_class) -> bool:
    """06 exercise 3: Clipper scripts, saves, loads and clamps; in eager PyTorch its debug count still works."""
    if not (isinstance(model_class, type) and issubclass(model_class, torch.nn.Module)):
        what = ("a scripted model: pass the class you scripted, `Clipper`, not torch.jit.script(...)"
                if isinstance(model_class, torch.jit.ScriptModule) else
                "an instance: drop the parentheses" if isinstance(model_class, torch.nn.Module) else
                describe(model_class))
        print(f"✘ check_saveable_debug_helper expects your class itself, `Clipper`; you gave {what}.")
        return False
    try:
        default = inspect.signature(model_class.__init__).parameters.get("debug")
    except (TypeError, ValueError):
        default = None
    if default is not None and default.default is not inspect.Parameter.empty and default.default is not False:
        print(f"✘ `debug` defaults to {default.default!r} now: a `{model_class.__name__}()` built without arguments, "
              "as a deployment builds it, would count on every call (and, scripted, raise). Keep `debug: bool = "
              "False` and change only the helper.")
        return False
    model = _answer(model_class, "check_saveable_debug_helper", debug=False)
    if model is None:
        return False
    modifier = getattr(getattr(model_class, "count_outside", None), "_torchscript_modifier", None)
    decorated = _MODIFIERS.get(modifier)
    if modifier == torch._jit_internal.FunctionModifiers.EXPORT:
        hint = ("The helper carries @torch.jit.export, which asks TorchScript to compile its body, NumPy and all: "
                "use @torch.jit.unused, which leaves the body out.")
    elif decorated is None:
        hint = "Decorate the helper that TorchScript cannot compile."
    else:
        hint = "Fix the construct the message points at, then run this cell again."
    scripted = _try_script(model, hint, hints={
        "Wrong type for attribute assignment": lambda error: _count_type_hint(error, decorated)})
    if scripted is None or not _compiled_forward(
            model, scripted, "decorate the NumPy helper that forward calls instead, as the exercise asks"):
        return False
    try:
        loaded = _save_and_load(scripted)
    except Exception as error:
        hint = (" That is what @torch.jit.ignore does: the helper stays a Python call, which cannot be saved. "
                "The deployed model never counts, so use @torch.jit.unused."
                if "Could not export Python function" in str(error) else "")
        python_call = re.search(r"Could not export Python function call '\w+'", str(error))
        line = f"RuntimeError: {python_call.group(0)}" if python_call else script_error_line(error)
        print(f"✘ It scripts but cannot be saved: {as_sentence(line)}{hint}")
        return False
    want = _CLIPPER_X.clamp(-1.0, 1.0)
    # tensor_answer calls on a copy: an in-place clamp_ would otherwise change _CLIPPER_X for every later check
    got, mistake = tensor_answer(loaded, _CLIPPER_X, want,
                                 ("Saved and loaded, the model", f"on x = {values(_CLIPPER_X)}"),
                                 in_place="compute a new tensor, `x.clamp(-1.0, 1.0)`, as the original does.",
                                 one_tensor="return the clamped tensor.",
                                 error_cause=_unguarded_helper_cause)
    if mistake:
        print(f"✘ {as_sentence(mistake)}")
        return False
    if not torch.equal(got, want):
        print(f"✘ Saved and loaded, but it should still clamp to [-1, 1]: got {values(got)} for "
              f"x = {values(_CLIPPER_X)}.")
        return False
    debugging = _answer(model_class, "check_saveable_debug_helper", debug=True)
    if debugging is None:
        return False
    start = getattr(debugging, "outside", None)
    try:
        _, changed = on_copies(debugging, _CLIPPER_X)
    except Exception as error:
        print(f"✘ It scripts and saves, but in eager PyTorch `{model_class.__name__}(debug=True)` fails: "
              f"{as_sentence(script_error_line(error))} {_count_mistake(model_class, debugging, start)}")
        return False
    if changed:
        print(f"✘ It scripts and saves, but in eager PyTorch `{model_class.__name__}(debug=True)` changes its input "
              "in place: compute a new tensor, `x.clamp(-1.0, 1.0)`, as the original does.")
        return False
    if _as_count(getattr(debugging, "outside", None)) != _OUTSIDE:
        print(f"✘ It scripts and saves, but in eager PyTorch `{model_class.__name__}(debug=True)` should count the "
              f"{_OUTSIDE} values of {values(_CLIPPER_X)} outside [-1, 1]; `outside` is "
              f"{_shown(getattr(debugging, 'outside', None))}. {_count_mistake(model_class, debugging, start)}")
        return False
    try:  # `outside` counts over calls: a second call must add to it, not replace it
        on_copies(debugging, _CLIPPER_X)
        twice = getattr(debugging, "outside", None)
    except Exception as error:
        print(f"✘ It scripts and saves, but in eager PyTorch a second call of `{model_class.__name__}(debug=True)` "
              f"fails: {as_sentence(script_error_line(error))}")
        return False
    if _as_count(twice) != 2 * _OUTSIDE:
        print(f"✘ It scripts and saves, and in eager PyTorch `{model_class.__name__}(debug=True)` counts {_OUTSIDE} on "
              f"one call, but after a second call `outside` is {_shown(twice)}, not {2 * _OUTSIDE}: the count should add up over "
              "calls, as the original's `self.outside += self.count_outside(x)` does.")
        return False
    how = _how_the_helper_was_handled(model_class, scripted)
    if how is None:
        return False
    print(f"✔ Right: {how + ' ' if how else ''}The model scripts, saves, loads and clamps, "
          "and in eager PyTorch it still counts.")
    return True


def _unguarded_helper_cause(error) -> str:
    """The error of the loaded Clipper (built with debug=False), and, when it ran a helper left out of the
    compiled code, why: the call no longer sits under ``if self.debug:``."""
    line = script_error_line(error)
    if "annotated to be ignored and cannot be run" in str(error):
        line = (f"{as_sentence(line)} It was built with debug=False, as a deployment builds it, and still called "
                "the helper left out of the compiled code: keep that call under `if self.debug:`")
    return line


def _count_type_hint(error, decorated) -> str:
    """For "Wrong type for attribute assignment" on ``self.outside += self.count_outside(x)``: the helper's return
    type and the attribute's type disagree; what TorchScript takes the return type from depends on the decorator."""
    found = re.search(r"Expected ([\w\[\]]+) but got ([\w\[\]]+)", str(error))
    kept, given = found.groups() if found else ("", "")
    if not kept:
        return "TorchScript gives `self.outside` the type of its value in `__init__`: add values of that type."
    if decorated is None:  # the body is compiled: its own return value is what TorchScript typed
        return (f"`self.outside` is {with_article(kept)}, and `count_outside`, compiled as it is, returns "
                f"{with_article(given)}: return {with_article(kept)}, e.g. `{kept}(...)` around the count.")
    if given == "Tensor":
        return (f"TorchScript does not compile a decorated helper's body, so it trusts the helper's signature, and "
                f"without annotations it assumes Tensors in and out. Annotate it: "
                f"`(self, x: torch.Tensor) -> {kept}`.")
    return (f"The helper already carries {decorated}, so TorchScript now checks forward against its annotations: "
            f"`self.outside` is {with_article(kept)}, so `count_outside` must be annotated `-> {kept}`.")


def _shown(value) -> str:
    """``value`` for a message: a tensor's or a NumPy array's values as a list, anything else as its repr."""
    if isinstance(value, torch.Tensor):
        return values(value)
    if hasattr(value, "tolist") and hasattr(value, "shape"):  # a NumPy array or number, without NumPy's repr
        return repr(value.tolist())
    return repr(value)


def _as_count(value):
    """``value`` as a float when it is one number (Python, NumPy, or a one-value tensor), else None."""
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):  # several values, or no number at all
        return None


def _count_mistake(model_class, model, start) -> str:
    """Which part of the class to change when an eager ``debug=True`` model does not count as the original does: the one that differs
    from the original. ``start`` is its ``outside`` before the call. The helper is called alone: if it counts right,
    the count is lost in forward, and the hint must not send the learner back to a helper they left as it was."""
    if _as_count(start) != 0:
        return f"`outside` starts at {_shown(start)}: start it at 0 in `__init__`, as the original does."
    if vars(model).get("debug") is False:
        return (f"`{model_class.__name__}(debug=True)` has `self.debug` = {model.debug!r}, so forward never counts: "
                "keep `self.debug = debug` in `__init__`, as the original does.")
    helper = getattr(model_class, "count_outside", None)
    if not callable(helper):
        return "It has no `count_outside` any more: keep the helper, with its body as it was."
    try:
        alone = helper(model, _CLIPPER_X.clone())
    except Exception as error:
        return (f"`count_outside` alone fails on x = {values(_CLIPPER_X)}: {as_sentence(script_error_line(error))} "
                "Keep the helper's body as it was.")
    if _as_count(alone) != _OUTSIDE:
        return (f"`count_outside` alone returns {_shown(alone)} for x = {values(_CLIPPER_X)}, not {_OUTSIDE}: keep the "
                "helper's body as it was.")
    return (f"`count_outside` alone counts {_OUTSIDE}, so the count is lost in forward: keep its "
            "`if self.debug: self.outside += self.count_outside(x)` as the original has it.")


def _scripted_debug_count(model_class):
    """``(outside, error, debug_scripted)`` after one call of the scripted ``model_class(debug=True)`` on a copy of
    the input; ``debug_scripted`` is that scripted model, None when ``debug=True`` does not even script (the error is
    then the compiler's)."""
    try:
        with deprecations_hidden():
            scripted = torch.jit.script(model_class(debug=True))
    except Exception as error:  # a Final flag kept the helper out for debug=False only
        return None, error, None
    try:
        on_copies(scripted, _CLIPPER_X)
    except Exception as error:  # raising is what @torch.jit.unused makes a reached helper do
        return None, error, scripted
    return getattr(scripted, "outside", None), None, scripted


def _saves(debug_scripted) -> bool:
    """Whether a scripted ``Clipper(debug=True)`` can be saved (True when there is none, as it does not even script:
    that case is named elsewhere)."""
    if debug_scripted is None:
        return True
    try:
        torch.jit.save(debug_scripted, io.BytesIO())
    except Exception:
        return False
    return True


def _how_the_helper_was_handled(model_class, scripted):
    """What the learner did to ``count_outside``, read from its modifier, from what TorchScript compiled, and from
    a scripted ``debug=True`` model: the words of praise ("" for none), or None after printing a ✘ line.

    A scripted ``debug=True`` model that runs and counts nothing is not an answer: it differs from eager PyTorch
    without a word (a call dropped by a ``torch.jit.is_scripting()`` guard does that, decorated or not).
    """
    helper = getattr(model_class, "count_outside", None)
    modifier = getattr(helper, "_torchscript_modifier", None)
    outside, error, debug_scripted = _scripted_debug_count(model_class)
    if error is None and _as_count(outside) != _OUTSIDE:
        # Name the guard where the learner put it: the other part is as the original has it
        in_forward = "is_scripting" in _source(getattr(model_class, "forward", None))
        in_helper = "is_scripting" in _source(helper)
        unused = modifier == torch._jit_internal.FunctionModifiers.UNUSED
        decorate = ("it already carries @torch.jit.unused, which is all it needs" if unused else
                    "decorate the helper with @torch.jit.unused")
        if in_forward and in_helper:
            why, fix = ("forward and `count_outside` both skip the count when scripted, `torch.jit.is_scripting()`",
                        f"Drop both guards, so that forward calls the helper and the helper counts; {decorate}")
        elif in_helper:
            why, fix = ("`count_outside` skips the count when scripted, `torch.jit.is_scripting()` in its body",
                        f"Keep the helper's body as it was, and {decorate}")
        elif in_forward:
            why, fix = ("forward skips the call when scripted, `torch.jit.is_scripting()`",
                        f"Drop the guard and call the helper as the original does; {decorate}")
        else:
            why, fix = ("", "Keep forward's call and the helper's body as the original has them, and decorate the "
                            "helper with @torch.jit.unused")
        print(f"✘ It scripts and saves, but a scripted `{model_class.__name__}(debug=True)` runs without a word and "
              f"leaves `outside` at {_shown(outside)}, where eager PyTorch counts {_OUTSIDE}{f' ({why})' if why else ''}. "
              f"{fix}: the deployed model still never counts, and a scripted model that reaches the helper raises "
              "instead of skipping the count.")
        return None
    if modifier == torch._jit_internal.FunctionModifiers.UNUSED:
        drop = (" (@torch.jit.ignore(drop=True) does that too, and is deprecated: write @torch.jit.unused)"
                if re.search(r"ignore\(\s*drop\s*=\s*True", _source(helper)) else "")
        try:
            annotated = any(p.annotation is not inspect.Parameter.empty
                            for p in inspect.signature(helper).parameters.values()) \
                or inspect.signature(helper).return_annotation is not inspect.Signature.empty
        except (TypeError, ValueError):
            annotated = False
        try:
            returns = inspect.signature(helper).return_annotation is not inspect.Signature.empty
        except (TypeError, ValueError):
            returns = False
        if annotated and not returns and isinstance(getattr(scripted, "outside", None), int):
            annotated = False  # a parameter annotated, no return type: the int(...) around the call did the typing
        if annotated:
            kept = getattr(scripted, "outside", None)
            retyped = ("" if isinstance(kept, int) and not isinstance(kept, bool) else
                       f" Your `outside` is a {type(kept).__name__} now, where the original counts in ints: "
                       "`self.outside = 0` and `-> int` keep what it computes.")
            return ("count_outside is compiled as 'raise an error' (what @torch.jit.unused does), and its annotations "
                    f"let forward type-check around the call.{retyped}{drop}")
        if isinstance(getattr(scripted, "outside", None), int):  # int(...) around the call kept the int count
            return ("count_outside is compiled as 'raise an error' (what @torch.jit.unused does); with no return "
                    "annotation TorchScript takes its result for a Tensor, and your int(...) around the call keeps "
                    f"`outside` an int.{drop}")
        return ("count_outside is compiled as 'raise an error' (what @torch.jit.unused does); with no annotations "
                "TorchScript takes its result for a Tensor, which fits `outside` as you typed it (annotating the "
                f"helper, `-> int`, would keep the original int count).{drop}")
    if modifier == torch._jit_internal.FunctionModifiers.IGNORE and not _saves(debug_scripted):
        # Final dropped the branch for debug=False, so that model saves; the ignored call is still Python
        print("✘ It scripts and saves with debug=False, but only because `debug` is Final: TorchScript drops the "
              "branch that calls `count_outside`. A scripted `Clipper(debug=True)` keeps the call, and "
              "@torch.jit.ignore leaves it a Python call, which torch.jit.save refuses (\"Could not export Python "
              "function call 'count_outside'\"). Use @torch.jit.unused: the compiled model then raises if it reaches "
              "the helper, and saves whatever `debug` is.")
        return None
    if modifier is not None or helper is None:
        return ""
    # Two fixes that work and skip the choice this exercise is about: said as such, like 04's torch.where answer
    if scripted._c._has_method("count_outside"):
        print("✘ It scripts, saves and clamps, and `count_outside` now compiles as it is: you rewrote the NumPy count "
              "in torch. That is a fine fix in general; this exercise keeps the helper as the debugging tool it is "
              "(NumPy, which TorchScript cannot compile) and asks which decorator lets the model script and save "
              "around it: @torch.jit.ignore or @torch.jit.unused.")
        return None
    if debug_scripted is None:
        print("✘ It scripts, saves and clamps with debug=False, without a decorator: TorchScript takes `debug` for "
              "a constant now (Final), so it drops the branch that calls `count_outside`, and a scripted debug=True "
              "model does not script at all. That is a fine technique in general; this exercise asks which "
              "decorator on the helper lets any `Clipper` script and save: @torch.jit.ignore or @torch.jit.unused.")
        return None
    if error is not None:
        return ("count_outside is left out of the compiled model, and a scripted debug=True model raises rather "
                "than skip the count.")
    return "count_outside is left out of the compiled model, and the scripted model still counts with debug=True."


def _source(function) -> str:
    """The source of ``function``, or "" when Python cannot find it."""
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""
