"""The limitations gallery's entries, as data (read by helpers/tools/gallery.py; shown in 06_limitations).

Each ``GalleryEntry`` holds the *source text* of a broken and a fixed model, where the broken one
goes wrong (``stage``), the error or warning it must produce, why, and the test inputs on which
the fix must script and agree with eager PyTorch. Nothing here runs torch.jit: ``gallery.py``
checks every entry live. To add an entry, append one ``GalleryEntry`` below and run
``pytest tests/test_gallery.py``.
"""
import textwrap
from dataclasses import dataclass, field
from typing import Callable, List, Optional

import torch

from .input_variants import own_copy

__all__ = ["GalleryEntry", "GALLERY"]

@dataclass(frozen=True)
class _Call:
    """One test call: positional and keyword arguments."""
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def __call__(self, model):
        # Models that draw random numbers draw the same ones in eager and script; fork_rng puts the
        # caller's random state back afterwards, so checking a model never shifts a notebook's numbers.
        # Each call gets its own copy of the inputs: a forward that changes its input in place changes that copy only.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            return model(*own_copy(self.args), **own_copy(self.kwargs))


def _calls(items) -> List[_Call]:
    return [item if isinstance(item, _Call) else _Call(tuple(item)) for item in items]


STAGES = ("script", "run", "warn", "differs")


@dataclass(frozen=True)
class GalleryEntry:
    """One construct TorchScript rejects: broken source, the error it must raise, why, and a fixed source.

    ``stage`` says where the broken model goes wrong: ``"script"`` (``torch.jit.script``
    raises), ``"run"`` (it scripts, then the first test input fails when called) or ``"warn"``
    (it scripts with a warning; ``fragment`` is then part of the warning) or ``"differs"`` (it
    scripts and runs, and its result on the first test input differs from eager PyTorch's;
    ``fragment`` is then part of the scripted result's ``repr``). ``code_fragment``
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
        if self.stage in ("script", "run") and not is_exception:
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
            "a list of tensors. Stack the tensors, then sum over the new dimension (on integers narrower than "
            "int64, pass `dtype=x.dtype`: torch's sum answers in int64, where Python's wraps around in the "
            "input's dtype; 08 checks it). (Given one tensor, the "
            "scripted `sum` adds up all its elements, where Python's adds its rows: 06 shows it.)",
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
    # ---------------------------------------------------------------- comprehensions: which ones compile
    GalleryEntry(
        key="comprehension_if", title="a comprehension with an if filter",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    kept = [row * 2 for row in x if bool(row.sum() > 0)]
                    return torch.stack(kept)
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    kept: List[torch.Tensor] = []
                    for row in x:  # the loop the comprehension stood for
                        if bool(row.sum() > 0):
                            kept.append(row * 2)
                    return torch.stack(kept)
            """),
        error_type=torch.jit.frontend.NotSupportedError, fragment="Comprehension ifs are not supported yet",
        why="TorchScript compiles a comprehension with one `for` and no `if` (a list or a dict "
            "comprehension). A filtering `if` is refused, in list and dict comprehensions alike. Write "
            "the loop the comprehension stands for, with the `if` inside it; a conditional *value* "
            "(`a if c else b` before the `for`) is not a filter and compiles.",
        inputs=lambda: [(_x(),), (-_x().flip(0),)]),
    GalleryEntry(
        key="comprehension_two_for", title="a comprehension with two for clauses",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    pairs = [x[i] * x[j] for i in range(x.shape[0]) for j in range(x.shape[0])]
                    return torch.stack(pairs)
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x):
                    pairs: List[torch.Tensor] = []
                    for i in range(x.shape[0]):
                        for j in range(x.shape[0]):
                            pairs.append(x[i] * x[j])
                    return torch.stack(pairs)
            """),
        error_type=torch.jit.frontend.NotSupportedError, fragment="Only a single generator is currently supported",
        why="Each `for` clause of a comprehension is a *generator*, and TorchScript compiles only one "
            "per comprehension. Nest two loops instead (a comprehension *inside* another one's value, "
            "`[[...] for i in ...]`, also compiles, but gives a list of lists).",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="set_comprehension", title="a set comprehension",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, xs: List[torch.Tensor]) -> int:
                    return len({t.shape[-1] for t in xs})  # how many different widths
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, xs: List[torch.Tensor]) -> int:
                    return len({t.shape[-1]: 0 for t in xs})  # a dict's keys are distinct too
            """),
        error_type=torch.jit.frontend.UnsupportedNodeError, fragment="SetComp aren't supported",
        why="TorchScript has no set type at all: a set comprehension is refused, and so is a set "
            "literal such as `{1, 2}`. A dict comprehension compiles, and its keys are distinct, "
            "which is often all the set was for.",
        inputs=lambda: [([_x(), _x().t(), _x()],), ([_x()],)]),
    # ---------------------------------------------------------------- dataclasses, Enum, properties, classes
    GalleryEntry(
        key="dataclass_output", title="a dataclass as the output",
        broken=_src("""
            from dataclasses import dataclass


            @dataclass
            class Out:
                logits: torch.Tensor
                total: torch.Tensor


            class Model(nn.Module):
                def forward(self, x):
                    return Out(x * 2, x.sum())
            """),
        fixed=_src("""
            from typing import NamedTuple


            class Out(NamedTuple):  # typed fields, read by name: out.logits
                logits: torch.Tensor
                total: torch.Tensor


            class Model(nn.Module):
                def forward(self, x) -> Out:
                    return Out(x * 2, x.sum())
            """),
        error_type=OSError, fragment="Failed to get source for <function Out.__init__",
        why="The message sounds like a file problem, but the file is fine: `@dataclass` *writes* the "
            "class's `__init__` at run time, so when TorchScript meets the class inside `forward`, that "
            "method has no source to read. A `typing.NamedTuple` with annotated fields compiles, and "
            "callers read it by name as before (`out.logits`). Passing the dataclass itself to "
            "`torch.jit.script` first also works: torch then writes that `__init__`'s source itself.",
        inputs=lambda: [(_x(),)], same_as_broken=False),
    GalleryEntry(
        key="dataclass_config", title="a dataclass config kept on the model",
        broken=_src("""
            from dataclasses import dataclass


            @dataclass
            class Config:
                scale: float = 2.0
                clip: bool = True


            class Model(nn.Module):
                def __init__(self, cfg: Config = Config()):
                    super().__init__()
                    self.cfg = cfg

                def forward(self, x):
                    y = x * self.cfg.scale
                    if self.cfg.clip:
                        y = y.clamp(-1.0, 1.0)
                    return y
            """),
        fixed=_src("""
            from dataclasses import dataclass


            @dataclass
            class Config:
                scale: float = 2.0
                clip: bool = True


            class Model(nn.Module):
                def __init__(self, cfg: Config = Config()):
                    super().__init__()
                    self.scale = cfg.scale  # copy the fields forward reads
                    self.clip = cfg.clip

                def forward(self, x):
                    y = x * self.scale
                    if self.clip:
                        y = y.clamp(-1.0, 1.0)
                    return y
            """),
        error_type=RuntimeError, fragment="failed to convert Python type",
        why="TorchScript turns each attribute of the module into a typed value, compiling the "
            "attribute's class when it meets one. A plain class with typed attributes compiles; a "
            "`@dataclass` met this way does not, because its `__init__` is written at run time and has "
            "no source (the message says only that the attribute could not be converted). Copy the "
            "fields `forward` reads into plain attributes in `__init__`; the config object can stay in "
            "Python, where the model is built. Passing the class `Config` itself to `torch.jit.script` "
            "first also works.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="enum_call", title="an Enum looked up by value in forward",
        broken=_src("""
            import enum


            class Mode(enum.Enum):
                SUM = "sum"
                MEAN = "mean"


            class Model(nn.Module):
                def __init__(self, mode: str = "mean"):
                    super().__init__()
                    self.mode = mode

                def forward(self, x):
                    if Mode(self.mode) == Mode.SUM:
                        return x.sum(dim=-1)
                    return x.mean(dim=-1)
            """),
        fixed=_src("""
            import enum


            class Mode(enum.Enum):
                SUM = "sum"
                MEAN = "mean"


            class Model(nn.Module):
                def __init__(self, mode: str = "mean"):
                    super().__init__()
                    self.mode = Mode(mode)  # look it up once, in Python

                def forward(self, x):
                    if self.mode == Mode.SUM:  # Enum members compile
                        return x.sum(dim=-1)
                    return x.mean(dim=-1)
            """),
        error_type=RuntimeError, fragment="cannot call a EnumClass",
        why="An `Enum` compiles: its members, `.value` and `.name`, comparisons, an Enum attribute. "
            "Calling the class to look a member up by its value (`Mode('sum')`) does not. Do the "
            "lookup in `__init__` and keep the member on the model.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="property", title="a @property that forward never reads",
        broken=_src("""
            class Model(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.weight = nn.Parameter(torch.full((3,), 0.5))

                @property
                def device(self):  # a convenience for callers
                    return next(self.parameters()).device

                def forward(self, x):
                    return x * self.weight
            """),
        fixed=_src("""
            class Model(nn.Module):
                __jit_unused_properties__ = ["device"]  # TorchScript leaves it out

                def __init__(self):
                    super().__init__()
                    self.weight = nn.Parameter(torch.full((3,), 0.5))

                @property
                def device(self):
                    return next(self.parameters()).device

                def forward(self, x):
                    return x * self.weight
            """),
        error_type=RuntimeError, fragment="Python builtin <built-in function next> is currently not supported",
        why="TorchScript compiles every `@property` of the module, even one `forward` never reads, "
            "and here `next` over `self.parameters()` cannot be compiled. A property that compiles "
            "is fine (and `forward` may read it); list the others in the class attribute "
            "`__jit_unused_properties__` (or put `@torch.jit.unused` under `@property`), and they stay "
            "Python-only.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="super_forward", title="super().forward(x) in forward",
        broken=_src("""
            class Base(nn.Module):
                def forward(self, x):
                    return x * 2


            class Model(Base):
                def forward(self, x):
                    return super().forward(x) + 1
            """),
        fixed=_src("""
            class Base(nn.Module):
                def scale(self, x):  # the shared part gets a name of its own
                    return x * 2

                def forward(self, x):
                    return self.scale(x)


            class Model(Base):
                def forward(self, x):
                    return self.scale(x) + 1
            """),
        error_type=RuntimeError, fragment="'Tensor' object has no attribute or method 'forward'",
        why="`super()` inside a compiled method is not supported, and the message does not say so: it "
            "complains about a `Tensor` with no `forward`. (`super().__init__()` is fine: `__init__` "
            "runs in Python.) Give the shared code a method name of its own and call it from both "
            "classes; calling `Base.forward(self, x)` directly is refused too.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="final_assigned", title="assigning a typing.Final attribute",
        broken=_src("""
            from typing import Final


            class Model(nn.Module):
                limit: Final[float]

                def __init__(self):
                    super().__init__()
                    self.limit = 1.0

                def forward(self, x):
                    if bool(x.abs().max() > 10):
                        self.limit = 10.0
                    return x.clamp(-self.limit, self.limit)
            """),
        fixed=_src("""
            class Model(nn.Module):
                limit: float  # a plain attribute: forward may change it

                def __init__(self):
                    super().__init__()
                    self.limit = 1.0

                def forward(self, x):
                    if bool(x.abs().max() > 10):
                        self.limit = 10.0
                    return x.clamp(-self.limit, self.limit)
            """),
        error_type=RuntimeError, fragment="Tried to set nonexistent attribute: limit",
        why="TorchScript makes a `Final` attribute a constant of the compiled code, so it is no longer "
            "an attribute that `forward` can set, and the message says it does not exist. Reading a "
            "`Final` constant compiles; drop `Final` from a value that changes.",
        inputs=lambda: [(_x(),), (_x() * 10,)]),
    # ---------------------------------------------------------------- string formatting
    GalleryEntry(
        key="fstring_spec", title="an f-string with a format spec",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x) -> Dict[str, torch.Tensor]:
                    heads: Dict[str, torch.Tensor] = {}
                    for i in range(x.shape[0]):
                        heads[f"head_{i:02d}"] = x[i] * 2
                    return heads
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x) -> Dict[str, torch.Tensor]:
                    heads: Dict[str, torch.Tensor] = {}
                    for i in range(x.shape[0]):
                        heads["head_" + str(i).zfill(2)] = x[i] * 2
                    return heads
            """),
        error_type=torch.jit.frontend.NotSupportedError, fragment="Don't support formatting in JoinedStr",
        why="A plain f-string (`f'{i} values'`) compiles, though it writes a float or a shape its own way (2.0 as "
            "`2.`); a format spec after the colon (`:02d`, "
            "`:.3f`) does not, and neither does a conversion (`!r`). Build the text with string "
            "methods TorchScript has (`str`, `zfill`, `+`), or format outside the model.",
        inputs=lambda: [(_x(),)]),
    GalleryEntry(
        key="format_spec_ignored", title="str.format with a format spec",
        broken=_src("""
            class Model(nn.Module):
                def forward(self, x) -> Dict[str, torch.Tensor]:
                    heads: Dict[str, torch.Tensor] = {}
                    for i in range(x.shape[0]):
                        heads["head_{:02d}".format(i)] = x[i] * 2
                    return heads
            """),
        fixed=_src("""
            class Model(nn.Module):
                def forward(self, x) -> Dict[str, torch.Tensor]:
                    heads: Dict[str, torch.Tensor] = {}
                    for i in range(x.shape[0]):
                        heads["head_" + str(i).zfill(2)] = x[i] * 2
                    return heads
            """),
        error_type=None, fragment="'head_{:02d}'", stage="differs",
        why="No error and no warning: TorchScript's `str.format` fills only bare `{}` placeholders "
            "and leaves any other (`{:02d}`, `{0}`) as it is, so every key here is the same text `'head_{:02d}'` "
            "and each head overwrites the last. Only comparing with eager PyTorch shows it. Build "
            "the text with `str`, `zfill` and `+` instead.",
        inputs=lambda: [(_x(),)]),
]
