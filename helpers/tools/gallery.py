"""The limitations gallery: what TorchScript refuses, the real error, why, and the fix (introduced in 06_limitations).

The gallery is data: ``GALLERY`` is a list of ``GalleryEntry`` holding the *source text* of a
broken and a fixed model, the error the broken one must raise, and test inputs on which the
fix must script and agree with eager PyTorch. ``check_gallery_entry`` runs one entry live and
raises ``AssertionError`` naming the entry as soon as torch stops behaving as the entry says,
so a torch release that lifts a limitation turns the tests red instead of leaving the
workbook teaching something false.

``torch.jit.script`` reads the source of what it compiles (with ``inspect``), so code built
from a string by ``exec`` cannot be scripted. ``load_snippet`` therefore writes each snippet
to a file named after its content, in this process's own work folder, and imports it from
there: the source is always retrievable, from any current directory, and two processes never
touch each other's files.
"""
import contextlib
import copy
import hashlib
import html
import importlib.util
import itertools
import os
import re
import sys
import tempfile
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..course.deprecations import is_deprecation_warning
from ..course.failures import INTERPRETER_OPENER, short_message
from ..course.workdir import work_dir

__all__ = ["SNIPPET_GLOBALS", "load_snippet", "snippet_model", "captured_native_warnings",
           "script_error_line", "script_signature",
           "GalleryEntry", "EntryCheck", "GalleryReport", "GALLERY", "gallery_entry", "check_gallery_entry",
           "check_gallery"]

# Names every snippet can use without importing them (so the gallery's code stays short).
SNIPPET_GLOBALS = {"torch": torch, "nn": nn, "F": F, "Optional": Optional, "List": List, "Dict": Dict,
                   "Tuple": Tuple, "Union": Union, "Any": Any}

_load_count = itertools.count()


def load_snippet(source: str, folder=None):
    """Import ``source`` as a module saved in a file, so that TorchScript can read its source.

    The module already has ``torch``, ``nn``, ``F`` and typing's ``Optional``, ``List``,
    ``Dict``, ``Tuple``, ``Union``, ``Any``. ``folder`` defaults to this process's work folder.
    A ``SyntaxError`` in ``source`` is raised as it is.
    """
    if not isinstance(source, str):
        raise TypeError(f"load_snippet expects the source code as a str, got {type(source).__name__}")
    folder = Path(folder) if folder is not None else work_dir("06_limitations") / "snippets"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:16]
    path = folder / f"snippet_{digest}.py"
    # Same content -> same file name; write via a private temporary file and an atomic rename,
    # so a reader never sees a half-written file.
    if not path.is_file() or path.read_text(encoding="utf-8") != source:
        tmp = folder / f".{path.stem}.{os.getpid()}.{next(_load_count)}.tmp"
        tmp.write_text(source, encoding="utf-8")
        os.replace(tmp, path)
    # A fresh module name per load: TorchScript names compiled classes after their module, and
    # a second load of the same text must not reuse the first one's state (counters, lists).
    name = f"ts_snippet_{digest}_{next(_load_count)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    module.__dict__.update(SNIPPET_GLOBALS)
    sys.modules[name] = module  # inspect finds a class's file through sys.modules[cls.__module__]
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def snippet_model(source: str, folder=None, **kwargs) -> nn.Module:
    """``Model(**kwargs)`` from a snippet that defines ``class Model(nn.Module)``."""
    module = load_snippet(source, folder)
    if not isinstance(getattr(module, "Model", None), type):
        raise ValueError("the snippet must define a class named Model, e.g. `class Model(nn.Module): ...`")
    return module.Model(**kwargs)


@contextlib.contextmanager
def captured_native_warnings():
    """Collect warnings printed by torch's C++ side (to file descriptor 2) and Python warnings.

    Some TorchScript warnings (heterogeneous lists and dicts) are written by C++ straight to the
    process's stderr, out of reach of Python's ``warnings`` module. Yields a list that holds the
    text once the block ends. The TorchScript deprecation notice is left out.
    """
    box = []
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable file descriptor 2: fall back to Python warnings only
        saved = None
    tmp = tempfile.TemporaryFile()
    try:
        if saved is not None:
            os.dup2(tmp.fileno(), 2)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield box
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        native = tmp.read().decode("utf-8", errors="replace")
        tmp.close()
        python = [f"{w.category.__name__}: {w.message}" for w in caught if not is_deprecation_warning(w.message)]
        box.append("\n".join(t for t in [native.strip(), *python] if t))


def _same_outputs(a, b, rtol: float = 1e-5, atol: float = 1e-6) -> Tuple[bool, str]:
    """Compare two model outputs (tensors, numbers, or lists/tuples/dicts of them): ``(equal, reason)``."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False, f"a {type(a).__name__} against a {type(b).__name__}"
        if a.shape != b.shape or a.dtype != b.dtype:
            return False, f"{a.dtype}{list(a.shape)} against {b.dtype}{list(b.shape)}"
        if not torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return False, f"values differ by up to {(a.double() - b.double()).abs().max().item():.3g}"
        return True, "same"
    if type(a) is not type(b):
        return False, f"a {type(a).__name__} against a {type(b).__name__}"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return False, f"{len(a)} items against {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            ok, why = _same_outputs(x, y, rtol, atol)
            if not ok:
                return False, f"item {i}: {why}"
        return True, "same"
    if isinstance(a, dict):
        if list(a) != list(b):
            return False, f"keys {list(a)} against {list(b)}"
        for k in a:
            ok, why = _same_outputs(a[k], b[k], rtol, atol)
            if not ok:
                return False, f"key {k!r}: {why}"
        return True, "same"
    return (a == b, "same") if a == b else (False, f"{a!r} against {b!r}")


# Lines of an overload error that list candidates rather than say what went wrong.
_OVERLOAD_LINES = ("The following variants are available", "aten::")
# Python objects print with their memory address, which changes on every run and says nothing.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def script_error_line(error, fragment: str = "", limit: int = 160) -> str:
    """One informative line of a (TorchScript) error: ``"Type: the line"``.

    The line holding ``fragment`` if given; else the interpreter's own message (the last
    ``RuntimeError:`` line of a run-time failure); else the first line that says what went
    wrong, skipping generic openers such as "Arguments for call are not valid." and the list
    of overloads. Memory addresses are left out.
    """
    if not isinstance(error, BaseException):
        raise TypeError(f"script_error_line expects an exception, got {type(error).__name__}")
    text = _ADDRESS.sub("", str(error))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not (fragment and fragment.lower() in text.lower()):
        inner = [ln for ln in lines if ln.startswith("RuntimeError: ")]
        if inner and INTERPRETER_OPENER in text:
            text = inner[-1][len("RuntimeError:"):].strip()  # the interpreter's own message, whatever the type
        else:
            text = "\n".join(ln for ln in lines if not ln.startswith(_OVERLOAD_LINES)) or text
    name = type(error).__name__
    pick = short_message(text, limit=len(text) + 1, fragment=fragment)  # short_message only needs str(error)
    pick = pick.rstrip(":")
    if pick.startswith(f"{name}:"):  # the interpreter repeats the type inside the text
        pick = pick[len(name) + 1:].strip()
    if len(pick) > limit:
        pick = pick[: limit - 1] + "…"
    return f"{name}: {pick}"


def script_signature(scripted, method: str = "forward") -> str:
    """The compiled signature of ``scripted.<method>`` (or of a scripted function), e.g.
    ``"forward(self, Tensor x, Tensor? bias=None) -> Tensor"``.

    The generated class name TorchScript gives ``self`` is left out: it changes from run to run.
    """
    if isinstance(scripted, torch.jit.ScriptFunction):
        return str(scripted.schema)
    if not isinstance(scripted, torch.jit.ScriptModule):
        raise TypeError(f"script_signature expects a scripted model (torch.jit.script(model)), "
                        f"got {type(scripted).__name__}")
    compiled = getattr(scripted, method, None) if isinstance(method, str) else None
    if not isinstance(compiled, torch._C.ScriptMethod):
        raise AttributeError(f"the scripted model has no compiled method {method!r}")
    return re.sub(r"^(\w+)\([^,()]*? self\b", r"\1(self", str(compiled.schema))


@dataclass(frozen=True)
class _Call:
    """One test call: positional and keyword arguments."""
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __call__(self, model):
        # Models that draw random numbers draw the same ones in eager and script; fork_rng puts the
        # caller's random state back afterwards, so checking a model never shifts a notebook's numbers.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return model(*self.args, **self.kwargs)


def _calls(items) -> List[_Call]:
    return [item if isinstance(item, _Call) else _Call(tuple(item)) for item in items]


STAGES = ("script", "run", "warn")


@dataclass(frozen=True)
class GalleryEntry:
    """One construct TorchScript rejects: broken source, the error it must raise, why, and a fixed source.

    ``stage`` says where the broken model goes wrong: ``"script"`` (``torch.jit.script``
    raises), ``"run"`` (it scripts, then the first test input fails when called) or ``"warn"``
    (it scripts with a warning; ``fragment`` is then part of the warning). ``code_fragment``
    must appear in the broken model's ``.code`` (to show a Union type, for instance).
    ``fixed_inputs`` replaces ``inputs`` for the fix when its signature differs.
    """
    key: str
    title: str
    broken: str
    fixed: str
    error_type: Optional[type]
    fragment: str
    why: str
    inputs: Callable[[], list]
    stage: str = "script"
    fixed_inputs: Optional[Callable[[], list]] = None
    code_fragment: str = ""
    same_as_broken: bool = True

    def __post_init__(self):
        if self.stage not in STAGES:
            raise ValueError(f"GalleryEntry {self.key!r}: stage must be one of {STAGES}, got {self.stage!r}")
        is_exception = isinstance(self.error_type, type) and issubclass(self.error_type, BaseException)
        if self.stage != "warn" and not is_exception:
            raise ValueError(f"GalleryEntry {self.key!r}: give the exception class the broken code raises")

    def __repr__(self):
        return f"<GalleryEntry {self.key!r}: {self.title}>"


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


def _x():
    return torch.linspace(-2.0, 2.0, 6).reshape(2, 3)


GALLERY = [
    GalleryEntry(
        key="try_except", title="try / except",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    try:
                        return x.view(-1)
                    except RuntimeError:  # a transposed x cannot be viewed
                        return x.reshape(-1)
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return x.reshape(-1)  # a view when possible, a copy otherwise
            """),
        error_type=torch.jit.frontend.UnsupportedNodeError, fragment="try blocks aren't supported",
        why="TorchScript's compiler does not support `try` / `except`: a scripted model cannot catch "
            "an error. Decide up front instead. Here `reshape` already does what the `except` branch "
            "was for: a view when possible, a copy otherwise.",
        inputs=lambda: [(_x(),), (_x().t(),)]),
    GalleryEntry(
        key="lambda", title="lambda",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    relu6 = lambda t: t.clamp(0.0, 6.0)
                    return relu6(x) + relu6(-x)
            """),
        fixed=_src("""
            def relu6(t: torch.Tensor) -> torch.Tensor:
                return t.clamp(0.0, 6.0)


            class Model(nn.Module):
                def forward(self, x):
                    return relu6(x) + relu6(-x)
            """),
        error_type=torch.jit.frontend.UnsupportedNodeError, fragment="Lambda aren't supported",
        why="TorchScript compiles named functions whose source it can read, and `lambda` is not "
            "supported inside them. Make it a module-level `def`: TorchScript compiles every "
            "function `forward` calls, so the helper comes along.",
        inputs=lambda: [(_x() * 4,)]),
    GalleryEntry(
        key="nested_def", title="a def inside forward",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    def relu6(t):
                        return t.clamp(0.0, 6.0)
                    return relu6(x) + relu6(-x)
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return self.relu6(x) + self.relu6(-x)

                def relu6(self, t):
                    return t.clamp(0.0, 6.0)
            """),
        error_type=torch.jit.frontend.UnsupportedNodeError, fragment="function definitions aren't supported",
        why="A function defined inside `forward` is rejected like a lambda. Make it a method (or a "
            "module-level function): methods that `forward` calls are compiled too.",
        inputs=lambda: [(_x() * 4,)]),
    GalleryEntry(
        key="varargs", title="*args",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, *parts):
                    return torch.cat(parts, dim=-1)
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, parts: List[torch.Tensor]):
                    return torch.cat(parts, dim=-1)
            """),
        error_type=torch.jit.frontend.NotSupportedError, fragment="can't take variable number of arguments",
        why="A scripted method has one fixed signature with a type for every argument, and `*args` "
            "has neither a fixed count nor a type. Name the arguments, or take a "
            "`List[torch.Tensor]` when the count really varies (callers then pass a list).",
        inputs=lambda: [(_x(), _x()), (_x(), _x(), _x())],
        fixed_inputs=lambda: [([_x(), _x()],), ([_x(), _x(), _x()],)]),
    GalleryEntry(
        key="kwargs", title="**kwargs",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x, **options):
                    scale = options.get("scale", 1.0)
                    return x * scale
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x, scale: float = 1.0):
                    return x * scale
            """),
        error_type=torch.jit.frontend.NotSupportedError, fragment="can't take variable number of arguments",
        why="Same reason as `*args`: `**kwargs` has no fixed names or types. Turn each option into "
            "a keyword argument with a type annotation and a default.",
        inputs=lambda: [(_x(),), _Call((_x(),), {"scale": 3.0})]),
    GalleryEntry(
        key="sum_builtin", title="Python's sum() over tensors",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return sum(x ** p for p in range(1, 4))
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return torch.stack([x ** p for p in range(1, 4)]).sum(dim=0)
            """),
        error_type=RuntimeError, fragment="found type 'List[Tensor]'",
        why="The generator expression is not the problem: TorchScript compiles it like a list "
            "comprehension (the message speaks of a `List[Tensor]`). The built-in `sum` is: "
            "TorchScript maps it to `aten::sum`, which takes one tensor or a list of numbers, not "
            "a list of tensors. Stack the tensors, then sum over the new dimension.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="numpy_call", title="a NumPy call",
        broken=_src("""
            import numpy as np


            class Model(nn.Module):
                def forward(self, x):
                    return torch.from_numpy(np.tanh(x.numpy()))
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return torch.tanh(x)
            """),
        error_type=TypeError, fragment="cannot create weak reference",
        why="A scripted model runs without Python, so it cannot call NumPy, and its tensors have no "
            "`.numpy()`. Note how unhelpful the message is: it names a NumPy object, not the "
            "limitation. Use the torch function of the same name.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="python_random", title="Python's random module",
        broken=_src("""
            import random


            class Model(nn.Module):
                def forward(self, x):
                    return x + 0.1 * random.random()
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return x + 0.1 * torch.rand(())
            """),
        error_type=RuntimeError, fragment="is currently not supported in Torchscript",
        why="`random.random` is a Python built-in, and TorchScript cannot call Python built-ins it "
            "does not know. Draw the number with torch instead: torch's random functions run inside "
            "the scripted model and follow `torch.manual_seed`.",
        inputs=lambda: [(_x(),)], same_as_broken=False),
    GalleryEntry(
        key="new_attribute", title="a new attribute on self in forward",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    self.last_input = x
                    return x * 2
            """),
        fixed=_src("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.last_input = torch.zeros(0)  # created here, with its type

                def forward(self, x):
                    self.last_input = x
                    return x * 2
            """),
        error_type=RuntimeError, fragment="Tried to set nonexistent attribute: last_input",
        why="A scripted module has a fixed set of typed attributes, known once `__init__` has run. "
            "Assigning one that `__init__` did not create is rejected. Create it in `__init__` with "
            "a value of the right type (an empty tensor here).",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="none_default", title="a None default without Optional",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x, bias=None):
                    if bias is None:
                        return x
                    return x + bias
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x, bias: Optional[torch.Tensor] = None):
                    if bias is None:
                        return x
                    return x + bias
            """),
        error_type=RuntimeError, fragment="Expected a proper Tensor but got None", stage="run",
        why="Without an annotation TorchScript takes every argument to be a Tensor, so `bias=None` "
            "becomes a Tensor argument. Scripting succeeds, `bias is None` is compiled as always "
            "false, and the first call without `bias` fails. Annotate `Optional[torch.Tensor]`.",
        inputs=lambda: [(_x(),), (_x(), torch.ones(3))]),
    GalleryEntry(
        key="mixed_list", title="a list holding a tensor and an int",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return [x * 2, x.shape[0]]
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x) -> Tuple[torch.Tensor, int]:
                    return x * 2, x.shape[0]
            """),
        error_type=None, fragment="List consists of heterogeneous types", stage="warn",
        code_fragment="List[Union[Tensor, int]]",
        why="A TorchScript list holds one type. Given a tensor and an int, it becomes a "
            "`List[Union[Tensor, int]]`, with a warning, and every later use of an item needs an "
            "`isinstance` check. A tuple has one type per position: return `Tuple[Tensor, int]`.",
        inputs=lambda: [(_x(),)], same_as_broken=False),
    GalleryEntry(
        key="mixed_dict", title="a dict with tensor and int values",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    return {"scores": x.softmax(-1), "label": int(x.argmax())}
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x) -> Dict[str, torch.Tensor]:
                    return {"scores": x.softmax(-1), "label": x.argmax()}
            """),
        error_type=None, fragment="Dict values consist of heterogeneous types", stage="warn",
        code_fragment="Dict[str, Union[Tensor, int]]",
        why="Dict values share one type too: mixing a tensor and an int makes them "
            "`Union[Tensor, int]`, with a warning. Keep every value a tensor (`x.argmax()` without "
            "`int(...)`), and annotate the return type.",
        inputs=lambda: [(_x(),)], same_as_broken=False),
    GalleryEntry(
        key="helper_ignore", title="a helper TorchScript cannot compile (keep it in Python)",
        broken=_src("""
            import statistics


            class Model(nn.Module):
                def forward(self, x):
                    return x / self.robust_scale(x)

                def robust_scale(self, x):
                    return statistics.median(x.abs().flatten().tolist()) + 1e-6
            """),
        fixed=_src("""
            import statistics


            class Model(nn.Module):
                def forward(self, x):
                    return x / self.robust_scale(x)

                @torch.jit.ignore  # stays a Python call
                def robust_scale(self, x: torch.Tensor) -> float:
                    return statistics.median(x.abs().flatten().tolist()) + 1e-6
            """),
        error_type=RuntimeError, fragment="'median' is being compiled since it was called from 'Model.robust_scale'",
        why="TorchScript compiles every function `forward` calls, recursively, down into library "
            "code (here the standard library's `statistics.median`), and stops at the first thing "
            "it cannot type. `@torch.jit.ignore` leaves the helper as a call back into Python: it "
            "needs type annotations, and the model then runs only where Python is, and cannot be saved.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="helper_unused", title="a debug-only helper (replace it by an error)",
        broken=_src("""
            import json


            class Model(nn.Module):
                def __init__(self, debug: bool = False):
                    super().__init__()
                    self.debug = debug

                def forward(self, x):
                    if self.debug:
                        self.dump(x)
                    return x.relu()

                def dump(self, x):
                    with open("activations.json", "w") as f:
                        json.dump(x.tolist(), f)
            """),
        fixed=_src("""
            import json


            class Model(nn.Module):
                def __init__(self, debug: bool = False):
                    super().__init__()
                    self.debug = debug

                def forward(self, x):
                    if self.debug:
                        self.dump(x)
                    return x.relu()

                @torch.jit.unused  # compiled as "raise an error"
                def dump(self, x: torch.Tensor) -> None:
                    with open("activations.json", "w") as f:
                        json.dump(x.tolist(), f)
            """),
        error_type=RuntimeError, fragment="Python builtin <built-in function open> is currently not supported",
        why="The debugging helper uses `open`, which TorchScript cannot compile, even though the "
            "deployed model never sets `debug`. `@torch.jit.unused` compiles the helper as "
            "'raise an error': the model scripts and saves, and only a call that reaches the "
            "helper fails.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="global_counter", title="a global counter",
        broken=_src("""
            CALLS = 0


            class Model(nn.Module):
                def forward(self, x):
                    global CALLS
                    CALLS += 1
                    return x * 2
            """),
        fixed=_src("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.calls = 0

                def forward(self, x):
                    self.calls += 1
                    return x * 2
            """),
        error_type=torch.jit.frontend.UnsupportedNodeError, fragment="global variables aren't supported",
        why="The `global` statement is rejected: a scripted model has no Python module to write "
            "back to. Keep state on the model, as an attribute created in `__init__`.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="global_list", title="a module-level list that forward appends to",
        broken=_src("""
            SEEN = []


            class Model(nn.Module):
                def forward(self, x):
                    SEEN.append(x.shape[0])
                    return x * 2
            """),
        fixed=_src("""
            class Model(nn.Module):
                seen: List[int]  # an empty list does not say what it will hold

                def __init__(self):
                    super().__init__()
                    self.seen = []

                def forward(self, x):
                    self.seen.append(x.shape[0])
                    return x * 2
            """),
        error_type=RuntimeError, fragment="attribute lookup is not defined on python value of type 'list'",
        why="A module-level list is a Python object the compiled code cannot reach, so not even "
            "its `append` can be looked up. Keep the list on the model; annotate it in the class "
            "body, since an empty list does not tell TorchScript its element type.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="global_read", title="reading a module-level number",
        broken=_src("""
            SCALE = 2.0


            class Model(nn.Module):
                def forward(self, x):
                    return x * SCALE
            """),
        fixed=_src("""
            SCALE = 2.0


            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.scale = SCALE  # read once, when the model is built

                def forward(self, x):
                    return x * self.scale
            """),
        error_type=RuntimeError, fragment="cannot be used as a value. Perhaps it is a closed over global variable?",
        why="Even reading a plain module-level number is rejected. Copy it into an attribute in "
            "`__init__`: the model then carries the value with it when it is saved.",
        inputs=lambda: [(_x(),)]),
]

_BY_KEY = {e.key: e for e in GALLERY}
assert len(_BY_KEY) == len(GALLERY), "two gallery entries share a key"


def gallery_entry(key: str) -> GalleryEntry:
    """The gallery entry called ``key`` (see ``[e.key for e in H.GALLERY]``)."""
    if isinstance(key, GalleryEntry):
        return key
    if key not in _BY_KEY:
        raise KeyError(f"no gallery entry {key!r}: choose one of {', '.join(_BY_KEY)}")
    return _BY_KEY[key]


def _script(model):
    """Script ``model``; return (scripted or None, error or None, warning text)."""
    with captured_native_warnings() as box:
        try:
            scripted, error = torch.jit.script(model), None
        except Exception as exc:  # every kind of scripting failure is data here
            scripted, error = None, exc
    return scripted, error, box[0]


def _code(scripted) -> Optional[str]:
    try:
        return scripted.code
    except Exception:  # e.g. a Tensor argument whose default is None: printing the default fails
        return None


def _expected(entry) -> str:
    what = entry.error_type.__name__ if entry.error_type is not None else "a warning"
    return f"{what} mentioning {entry.fragment!r}"


class EntryCheck:
    """The outcome of checking one gallery entry live; shows itself as a card in JupyterLab."""

    def __init__(self, entry, error, message, warning, broken_code, fixed_code, n_inputs, seconds):
        self.entry, self.error, self.message, self.warning = entry, error, message, warning
        self.broken_code, self.fixed_code = broken_code, fixed_code
        self.n_inputs, self.seconds = n_inputs, seconds

    @property
    def short(self) -> str:
        """The cause, as one line: the error's first informative line (or the warning)."""
        if self.error is not None:
            # Not the line the check matched: for a helper that fails deep inside library code that is
            # the call chain ("… is being compiled since it was called from …"), and the cause comes first.
            return script_error_line(self.error)
        return short_message(self.warning.replace("Warning: ", "", 1).split("] ", 1)[-1])

    @property
    def where(self) -> str:
        return {"script": "torch.jit.script fails", "run": "scripts, then fails when called",
                "warn": "scripts with a warning"}[self.entry.stage]

    def __repr__(self):
        return f"<EntryCheck {self.entry.key!r}: {self.where} → {self.short}; fix scripts and matches eager>"

    def _repr_html_(self):
        return _card_html(self, open_details=False)


def _highlight(source: str) -> str:
    try:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
        return highlight(source, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))
    except ImportError:  # pygments is pinned, but a plain block is still readable without it
        return f"<pre>{html.escape(source)}</pre>"


def _card_html(check: EntryCheck, open_details: bool) -> str:
    e = check.entry
    from ..course.predict import markdown_html
    code = ""
    if check.broken_code and e.code_fragment:
        code = (f"<div>The broken model's <code>.code</code> (note <code>{html.escape(e.code_fragment)}</code>):"
                f"</div>{_highlight(check.broken_code)}")
    full = html.escape(check.message)
    return (f"<div style='border:1px solid #ccc;border-radius:6px;padding:6px 10px;margin:4px 0'>"
            f"<b>{html.escape(e.title)}</b> <code>{e.key}</code>"
            f"<div><b>1 · Broken</b></div>{_highlight(e.broken)}"
            f"<div><b>2 · What happens</b> ({check.where}, checked just now):</div>"
            f"<div style='color:#b35900'>✘ {html.escape(check.short)}</div>"
            f"<details{' open' if open_details else ''}><summary>full message</summary>"
            f"<pre style='white-space:pre-wrap'>{full}</pre></details>"
            f"{code}<div><b>3 · Why</b></div>{markdown_html(e.why)}"
            f"<div><b>4 · Fix</b></div>{_highlight(e.fixed)}"
            f"<div style='color:#1a7f37'>✔ the fix scripts and matches eager PyTorch on "
            f"{check.n_inputs} test input{'s' if check.n_inputs != 1 else ''}</div></div>")


def check_gallery_entry(entry, folder=None) -> EntryCheck:
    """Run one entry live: the broken model must fail as recorded, the fix must script and match eager.

    Raises ``AssertionError`` naming the entry when torch does not behave as the entry says.
    """
    entry = gallery_entry(entry)
    start = time.perf_counter()
    name = f"gallery entry {entry.key!r}"
    calls = _calls(entry.inputs())
    fixed_calls = _calls(entry.fixed_inputs()) if entry.fixed_inputs else calls

    broken = snippet_model(entry.broken, folder)
    # Eager runs on a copy: a forward that sets attributes must not change what gets scripted.
    eager_broken = [call(copy.deepcopy(broken)) for call in calls]  # the broken code is fine Python
    scripted, error, warning = _script(broken)
    message, broken_code = "", None
    if entry.stage == "script":
        if error is None:
            raise AssertionError(f"{name}: expected torch.jit.script to fail with {_expected(entry)}, but it "
                                 "scripted: this torch version accepts the construct, so update the gallery")
    elif error is not None:
        raise AssertionError(f"{name}: expected the broken model to script, but torch.jit.script raised "
                             f"{type(error).__name__}: {short_message(error)}")
    if entry.stage == "run":
        try:
            calls[0](scripted)
        except Exception as exc:
            error = exc
        else:
            raise AssertionError(f"{name}: expected the scripted broken model to fail on its first test input "
                                 f"with {_expected(entry)}, but it ran: update the gallery")
    if entry.stage == "warn":
        message = warning
        if entry.fragment.lower() not in warning.lower():
            raise AssertionError(f"{name}: expected a warning mentioning {entry.fragment!r} while scripting, "
                                 f"got {warning[:200]!r}: this torch version changed, so update the gallery")
    else:
        message = str(error)
        if not isinstance(error, entry.error_type) or entry.fragment.lower() not in message.lower():
            raise AssertionError(f"{name}: expected {_expected(entry)}, got {type(error).__name__}: "
                                 f"{short_message(error)}") from error
    if scripted is not None:
        broken_code = _code(scripted)
        if entry.code_fragment and entry.code_fragment not in (broken_code or ""):
            raise AssertionError(f"{name}: expected {entry.code_fragment!r} in the broken model's .code")

    fixed = snippet_model(entry.fixed, folder)
    fixed_scripted, fix_error, fix_warning = _script(copy.deepcopy(fixed))
    if fix_error is not None:
        raise AssertionError(f"{name}: the fix does not script: {type(fix_error).__name__}: "
                             f"{short_message(fix_error)}") from fix_error
    if entry.stage == "warn" and entry.fragment.lower() in fix_warning.lower():
        raise AssertionError(f"{name}: the fix still warns {entry.fragment!r}")
    for i, call in enumerate(fixed_calls):
        ok, why = _same_outputs(call(copy.deepcopy(fixed)), call(fixed_scripted))
        if not ok:
            raise AssertionError(f"{name}: the scripted fix differs from eager on test input {i}: {why}")
        if entry.same_as_broken:
            ok, why = _same_outputs(eager_broken[i], call(fixed_scripted))
            if not ok:
                raise AssertionError(f"{name}: the fix changes the result of the original code "
                                     f"on test input {i}: {why}")
    return EntryCheck(entry, error, message, warning, broken_code, _code(fixed_scripted), len(fixed_calls),
                      time.perf_counter() - start)


class GalleryReport(list):
    """Every entry's ``EntryCheck``; shows as a list of cards, each folded under a one-line summary."""

    def __getitem__(self, key):
        if isinstance(key, str):
            for check in self:
                if check.entry.key == key:
                    return check
            raise KeyError(f"no gallery entry {key!r}: choose one of {', '.join(c.entry.key for c in self)}")
        return super().__getitem__(key)

    def __repr__(self):
        return "\n".join(f"✔ {c.entry.key:15} {c.where:33} {c.short}" for c in self)

    def _repr_html_(self):
        rows = "".join(f"<details><summary>✔ <b>{html.escape(c.entry.title)}</b> — {html.escape(c.where)}: "
                       f"<code>{html.escape(c.short[:110])}</code></summary>{_card_html(c, False)}</details>"
                       for c in self)
        return (f"<div><b>{len(self)} gallery entries checked live</b> (click one to open its card)</div>{rows}")


def check_gallery(entries=None, folder=None) -> GalleryReport:
    """Check every gallery entry (or the given ones) live; raises AssertionError naming the first that fails."""
    entries = GALLERY if entries is None else [gallery_entry(e) for e in entries]
    return GalleryReport(check_gallery_entry(e, folder) for e in entries)
