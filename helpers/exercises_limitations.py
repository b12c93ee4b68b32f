"""Exercise checkers for 06_limitations.

Each checker scripts the learner's model itself, runs it on inputs it picks, compares with the
expected behaviour, and prints one line starting with ✔ or ✘ that says what to do next; it
returns True or False. A wrong answer never raises: the notebook keeps running.
"""
import io
import warnings

import torch

from .deprecations import DEPRECATION_PATTERN
from .gallery import script_error_line

__all__ = ["check_standardize_scriptable", "check_call_counter", "check_saveable_debug_helper"]


def _instance(model, who, **kwargs):
    if isinstance(model, type):
        try:
            model = model(**kwargs)
        except TypeError as error:
            raise TypeError(f"{who}: building {model.__name__}({', '.join(kwargs)}) failed ({error}); "
                            "keep the constructor's arguments as given") from None
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{who} expects your nn.Module class (or an instance of it), got {type(model).__name__}")
    return model


def _script(model):
    """Script without the deprecation notice (explained in 02); other warnings stay visible."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=DEPRECATION_PATTERN, category=FutureWarning)
        return torch.jit.script(model)


def _try_script(model, hint):
    try:
        return _script(model)
    except Exception as error:  # the compile error is the feedback
        print(f"✘ torch.jit.script still fails: {script_error_line(error)}. {hint}")
        return None


# ---------------------------------------------------------------- exercise 1: make it scriptable

def _standardize(x, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    return ((x - mean) / (x.std(dim=-1, keepdim=True) + eps)).clamp(-3.0, 3.0), mean


_STANDARDIZE_CASES = [
    ("a 3x5 batch", torch.linspace(-4.0, 6.0, 15).reshape(3, 5), {}),
    ("a row with an outlier", torch.cat([torch.linspace(-0.5, 0.5, 19), torch.tensor([10.0])]).reshape(1, 20), {}),
    ("eps=0.5", torch.linspace(-1.0, 1.0, 8).reshape(2, 4), {"eps": 0.5}),
]


def check_standardize_scriptable(model) -> bool:
    """06 exercise 1: ``Standardize`` scripts, gives the same result, takes ``eps=...`` and keeps ``last_mean``."""
    model = _instance(model, "check_standardize_scriptable")
    scripted = _try_script(model, "Fix the construct the message points at, then run this cell again.")
    if scripted is None:
        return False
    for label, x, kwargs in _STANDARDIZE_CASES:
        want, mean = _standardize(x, **kwargs)
        try:
            got = scripted(x, **kwargs)
        except Exception as error:
            hint = (" Keep `eps` as an argument: `eps: float = 1e-5`." if "eps" in str(error) else "")
            print(f"✘ The scripted model fails on {label}: {script_error_line(error)}.{hint}")
            return False
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.allclose(got, want, atol=1e-6):
            print(f"✘ Scripts, but the result changed on {label}: keep the maths of Standardize as it is "
                  "and change only what TorchScript rejects.")
            return False
        last = getattr(scripted, "last_mean", None)
        if not isinstance(last, torch.Tensor) or last.shape != mean.shape or not torch.allclose(last, mean):
            print("✘ Scripts and computes the right values, but `last_mean` is no longer kept: create it in "
                  "`__init__` (e.g. `self.last_mean = torch.zeros(0)`) so forward may update it.")
            return False
    print("✔ Right: it scripts, matches the original on every input, takes eps=..., and still keeps last_mean.")
    return True


# ---------------------------------------------------------------- exercise 2: state without globals

def check_call_counter(model) -> bool:
    """06 exercise 2: doubles its input and counts its calls in ``calls``, a count that survives save/load."""
    model = _instance(model, "check_call_counter")
    scripted = _try_script(model, "Keep the count on the model (`self.calls`), not in a global.")
    if scripted is None:
        return False
    if not isinstance(getattr(scripted, "calls", None), int):
        print("✘ The scripted model has no integer attribute `calls`: create `self.calls = 0` in `__init__`.")
        return False
    start = scripted.calls
    x = torch.tensor([1.0, -2.0, 3.0])
    for _ in range(3):
        try:
            got = scripted(x)
        except Exception as error:
            print(f"✘ The scripted model fails when called: {script_error_line(error)}")
            return False
        if not isinstance(got, torch.Tensor) or not torch.equal(got, x * 2):
            print(f"✘ It should still return x * 2: got {got} for x = {x.tolist()}.")
            return False
    if start != 0 or scripted.calls != 3:
        print(f"✘ After 3 calls `calls` went from {start} to {scripted.calls}; it should go from 0 to 3: "
              "add 1 in forward, every time.")
        return False
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    loaded(x)
    if loaded.calls != 4:
        print(f"✘ Saved after 3 calls and called once more after loading, `calls` is {loaded.calls}, not 4.")
        return False
    print("✔ Right: the count lives on the model, so it is compiled, and even saved and loaded with it.")
    return True


# ---------------------------------------------------------------- exercise 3: ignore or unused?

def check_saveable_debug_helper(model_class) -> bool:
    """06 exercise 3: the Clipper class scripts, saves, loads and clamps; its debug report may fail when reached."""
    if not (isinstance(model_class, type) and issubclass(model_class, torch.nn.Module)):
        raise TypeError("check_saveable_debug_helper expects your class itself (no parentheses), "
                        f"got {type(model_class).__name__}")
    model = _instance(model_class, "check_saveable_debug_helper", debug=False)
    scripted = _try_script(model, "Decorate the helper that TorchScript cannot compile.")
    if scripted is None:
        return False
    buffer = io.BytesIO()
    try:
        torch.jit.save(scripted, buffer)
    except Exception as error:
        hint = (" That is what @torch.jit.ignore does: the helper stays a Python call, which cannot be saved. "
                "The deployed model never reports, so use @torch.jit.unused."
                if "Could not export Python function" in str(error) else "")
        print(f"✘ It scripts but cannot be saved: {script_error_line(error)}.{hint}")
        return False
    buffer.seek(0)
    loaded = torch.jit.load(buffer)
    x = torch.tensor([-3.0, -0.5, 0.25, 2.0])
    got = loaded(x)
    if not isinstance(got, torch.Tensor) or not torch.equal(got, x.clamp(-1.0, 1.0)):
        print(f"✘ Saved and loaded, but it should still clamp to [-1, 1]: got {got} for x = {x.tolist()}.")
        return False
    print("✔ Right: @torch.jit.unused compiles the report as 'raise an error', so the model scripts, saves "
          "and runs without Python; only a call with debug=True would fail.")
    return True
