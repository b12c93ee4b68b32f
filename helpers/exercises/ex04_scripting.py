"""Exercise checkers for 04_scripting.

Each checker scripts or traces the learner's code itself, runs it on inputs it picks, compares
with the expected behaviour, and prints one line starting with ✔ or ✘ that says what to do next.
"""
import inspect
import re
import warnings

import torch

from ..course.deprecations import deprecations_hidden
from ..tools.graph.read_torchscript import node_kinds
from .ex01_02_basics import _gist
from ._common import as_model as _as_model, describe, dtype_mistake, on_copies, same_tensor as _same, values
from ._common import torchscript_kind as _torchscript_kind

__all__ = ["check_optional_input", "check_traced_branches"]


def _quiet_jit(fn, *args, **kwargs):
    """Run a torch.jit entry point without its deprecation notice (explained in 02); return result and warnings."""
    with deprecations_hidden(record=True) as seen:
        result = fn(*args, **kwargs)
    return result, seen




# ---------------------------------------------------------------- exercise 1: an optional input

def _centre(x, mean=None):
    return x - (x.mean() if mean is None else mean)


_CENTRE_CASES = [
    ("without mean", (torch.tensor([1.0, 2.0, 6.0]),)),
    ("with mean", (torch.tensor([1.0, 2.0, 6.0]), torch.tensor(1.0))),
    # a given mean of zero is a mean like any other: x comes back (a zero tensor standing for "none" fails here)
    ("with a mean of zero", (torch.tensor([1.0, 2.0, 6.0]), torch.tensor(0.0))),
    ("with a mean per column", (torch.tensor([[1.0, 2.0], [3.0, 8.0]]), torch.tensor([1.0, 4.0]))),
    # 2-D, without mean: x.mean() is the mean of every value, which x.mean(0) (a mean per column) is not
    ("without mean, on a 2-D x", (torch.tensor([[1.0, 2.0], [3.0, 8.0]]),)),
    # means that are not whole numbers: a mean rounded (or made an integer) on the way shows
    ("with a mean of 0.4", (torch.tensor([1.0, 2.0, 6.0]), torch.tensor(0.4))),
    ("without mean, whose mean is 7/3", (torch.tensor([1.0, 2.0, 4.0]),)),
]


def _per_axis_note(args, got) -> str:
    """" That is x minus a mean along dimension d" when the answer subtracted one, else ""."""
    if len(args) != 1 or args[0].dim() < 2 or not isinstance(got, torch.Tensor):
        return ""
    x = args[0]
    for dim in range(x.dim()):
        if _same(got, x - x.mean(dim, keepdim=True)):
            which = {0: " (a mean per column)", x.dim() - 1: " (a mean per row)"}.get(dim, "")
            return (f" That is x minus its mean along dimension {dim}{which}: without `mean`, subtract x.mean(), "
                    "the mean of every value.")
    return ""


def _mean_type_hint(model, scripted) -> str:
    """A hint fitted to the type the compiler gave ``mean``: missing annotation, or the wrong one."""
    arguments = {arg.name: str(arg.type) for arg in scripted.forward.schema.arguments}
    compiled = arguments.get("mean")
    if compiled == "Optional[Tensor]" and not any(a.name == "mean" and a.has_default_value()
                                                  for a in scripted.forward.schema.arguments):
        return " `mean` has the right type but no default: give it one, `mean: Optional[torch.Tensor] = None`."
    if compiled is None or compiled == "Optional[Tensor]":
        return ""  # no `mean` argument, or already the right type: the failure lies elsewhere
    try:
        parameter = inspect.signature(type(model).forward).parameters.get("mean")
    except (TypeError, ValueError):  # a forward Python cannot introspect: fall back on the compiled type
        parameter = None
    annotated = parameter is not None and parameter.annotation is not inspect.Parameter.empty
    if compiled == "Tensor" and not annotated:
        return (" Without an annotation `mean` is typed as a plain Tensor, which can never be None: "
                "give it a type that allows None (section 3).")
    return (f" Your annotation compiles `mean` as {compiled}, but `mean` must allow both None and a Tensor: "
            "`Optional[torch.Tensor]`.")


def check_optional_input(model) -> bool:
    """04: ``model(x)`` returns x - x.mean(); ``model(x, mean)`` returns x - mean; and it scripts."""
    model = _as_model(model, "check_optional_input")
    if model is None:
        return False
    if isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):  # a trace would fail the calls below
        print(f"✘ That is already a {_torchscript_kind(model)}: pass your nn.Module class (Centre) itself; the check "
              "scripts it, with and without `mean`.")
        return False
    try:
        scripted, _ = _quiet_jit(torch.jit.script, model)
    except Exception as error:  # the compile error is the feedback
        # for "Arguments for call are not valid", torch's first line lists variants; the line that names the type
        # it found (`Any`, `Optional[Tensor]` ...) says what to change
        found = re.search(r"Expected a value of type '[^']+' for argument '\w+' but instead found type '[^']+'",
                          str(error))
        said = f"arguments for the call are not valid: {found.group(0)[0].lower()}{found.group(0)[1:]}." if found \
            else _gist(error)
        print(f"✘ torch.jit.script rejects it: {said} Keep forward as given and change only "
              "the type of `mean` (section 3).")
        return False
    if not scripted._c._has_method("forward"):
        print("✘ forward carries @torch.jit.ignore or @torch.jit.unused, so TorchScript compiled nothing: it stays "
              "Python and cannot be saved. Leave forward undecorated and change only the type of `mean`.")
        return False
    for label, args in _CENTRE_CASES:
        want = _centre(*args)
        try:
            got, changed = on_copies(scripted, *args)
        except Exception as error:
            print(f"✘ The scripted model fails {label}: {type(error).__name__}: {_gist(error)}"
                  f"{_mean_type_hint(model, scripted)}")
            return False
        if changed:
            print(f"✘ The scripted model changes its input in place ({label}): `x.sub_(...)` or `-=` alters the "
                  "caller's tensor. Return a new tensor, x - mean.")
            return False
        wrong_dtype = dtype_mistake(got, want, "The scripted model")
        if wrong_dtype:
            print(f"✘ {wrong_dtype}")
            return False
        if isinstance(got, (tuple, list)):
            print(f"✘ The scripted model returns a {type(got).__name__} of {len(got)} ({label}); return one tensor, "
                  "x minus the mean, without brackets around it.")
            return False
        if isinstance(got, torch.Tensor) and got.shape != want.shape:
            print(f"✘ The scripted model gives shape {tuple(got.shape)} ({label}, x of shape {tuple(args[0].shape)}); "
                  f"x minus a mean keeps x's shape, {tuple(want.shape)}: drop the extra reshaping.")
            return False
        if not _same(got, want):
            zero = (" A given mean of zero must give x back: do not let a zero (a tensor or a number) stand for "
                    "\"no mean\"; None does that." if label == "with a mean of zero" else "")
            mean = args[1] if len(args) > 1 else args[0].mean()
            whole = isinstance(got, torch.Tensor) and any(_same(got, args[0] - m) for m in (mean.round(), mean.trunc()))
            rounded = (" That is x minus the mean made a whole number: subtract the mean as it is, without round() "
                       "or a conversion to an integer." if whole else "")
            print(f"✘ Not yet: {label}, x = {values(args[0])} gives {values(got)}, expected {values(want)}."
                  f"{zero or rounded or _per_axis_note(args, got) or ' Subtract the given mean, or x.mean() when none is given.'}")
            return False
    arguments = {arg.name: str(arg.type) for arg in scripted.forward.schema.arguments}
    if "mean" not in arguments:  # callers pass it by name, as mean=...: a renamed argument breaks them
        others = [name for name in arguments if name not in ("self", "x")]
        called = f"is called {others[0]}" if others else "is missing"
        print(f"✘ Right answers, but forward's second argument {called}: keep its name, `mean`, since callers may "
              "pass it as mean=..., and change only its type (section 3).")
        return False
    compiled = arguments["mean"]
    if compiled != "Optional[Tensor]":  # right answers, yet a caller cannot pass None for "no mean"
        print(f"✘ Right answers, but `mean` compiles as {compiled}, so a caller cannot pass None for \"no mean\" as "
              "eager's callers do. Fix the signature instead: `mean: Optional[torch.Tensor] = None` (section 3).")
        return False
    print(f"✔ Right: `mean` compiles as {compiled}, so the scripted model takes the second input or leaves it "
          "out, and gives eager's answers with and without it.")
    return True


# ---------------------------------------------------------------- exercise 2: a branch inside a trace

def _soft_clip_times_three(x):
    peak = x.abs().max()
    return (x / peak if peak > 1 else x) * 3


# Both sides of `peak > 1`: a small input, a large one, peak exactly 1 (left alone), and a peak that is
# large only through abs().
_SMALL = torch.tensor([0.5, -0.25, 0.1])
_LARGE = torch.tensor([4.0, -2.0, 1.0])
_EDGES = [torch.tensor([1.0, -0.5]), torch.tensor([-1.5, 0.5, 0.2])]


def _ignored_helpers(model) -> list:
    """(name, "ignore" or "unused") for each function ``forward`` calls by a global name that carries one of those
    two markers: the decorators that keep a function out of the compiler, mistaken for the one that compiles it."""
    found = []
    for name, value in _forward_names(model).items():
        modifier = torch._jit_internal.get_torchscript_modifier(value) if callable(value) else None
        if modifier in (torch._jit_internal.FunctionModifiers.IGNORE, torch._jit_internal.FunctionModifiers.UNUSED):
            found.append((name, "ignore" if modifier is torch._jit_internal.FunctionModifiers.IGNORE else "unused"))
    return found


# TorchScript reads a tensor's values into a Python-level bool or number only through these nodes; shapes (aten::dim,
# aten::size) are not values
_READS_VALUES = {"aten::Bool", "aten::Float", "aten::Int", "aten::item", "aten::ScalarImplicit", "aten::FloatImplicit",
                 "aten::IntImplicit", "aten::is_nonzero", "aten::tolist"}


def _ifs_on_values(graph) -> int:
    """How many prim::If nodes in ``graph`` (blocks included) decide on a tensor's values, not only on its shape."""
    def reads_values(value, seen):
        node = value.node()
        if node in seen:
            return False
        seen.add(node)
        return node.kind() in _READS_VALUES or any(reads_values(v, seen) for v in node.inputs())

    def count(block):
        total = 0
        for node in block.nodes():
            if node.kind() == "prim::If" and reads_values(node.inputsAt(0), set()):
                total += 1
            total += sum(count(inner) for inner in node.blocks())
        return total
    return count(graph)


def check_traced_branches(model) -> bool:
    """04: the model traced on a small input must still clip a large one, by calling a compiled helper."""
    model = _as_model(model, "check_traced_branches")
    if model is None:
        return False
    # before its answers: a traced copy's answers are the trace's, and calling them "eager" would be false
    if isinstance(model, torch.jit.ScriptModule):
        print(f"✘ Your model is already a {_torchscript_kind(model)}, so torch.jit.trace returns it unchanged and "
              "traces nothing. Pass the nn.Module (the class or an instance): the exercise traces it, and compiles "
              "only the helper that holds the `if`.")
        return False
    for x in [_SMALL, _LARGE] + _EDGES:
        want = _soft_clip_times_three(x)
        try:
            got, changed = on_copies(model, x)
        except Exception as error:
            print(f"✘ Your eager model fails on {values(x)}: {type(error).__name__}: {_gist(error)}")
            return False
        if changed:
            print(f"✘ Your model changes its input in place (on {values(x)}): `x /= peak` alters the caller's tensor. Keep "
                  "the model's maths as given, which makes a new tensor (x / peak), and only add the decorator.")
            return False
        wrong_dtype = dtype_mistake(got, want, "Your model")
        if wrong_dtype:
            print(f"✘ {wrong_dtype}")
            return False
        if not isinstance(got, torch.Tensor):
            print(f"✘ Your model returns {describe(got)} on {values(x)}; keep the model's maths as "
                  "given, which returns one tensor, and only add the decorator.")
            return False
        if not _same(got, want):
            print(f"✘ Keep the model's maths as given: eager on {values(x)} gives {values(got)}, "
                  f"expected {values(want)}. Only add the decorator.")
            return False
    traces = {}
    for example, others in ((_SMALL, [_LARGE] + _EDGES), (_LARGE, [_SMALL] + _EDGES)):
        try:
            traced, seen = _quiet_jit(torch.jit.trace, model, example)
        except Exception as error:
            on_method = (" The decorator goes on the free function that holds the `if` (soft_clip), not on a method "
                         "of the model." if "argument 'self'" in str(error) else
                         " A compiled helper may not hand a bool back to the trace: decorate the helper that holds the "
                         "whole `if` and returns the tensor (soft_clip), not one that returns the condition."
                         if "value trace for type Bool" in str(error) else "")
            print(f"✘ torch.jit.trace fails: {type(error).__name__}: {_gist(error)}{on_method}")
            return False
        traces[tuple(example.tolist())] = traced
        for other in others:
            got, want = traced(other.clone()), _soft_clip_times_three(other)
            if not _same(got, want):
                warned = next((str(w.message).split(".")[0] for w in seen
                               if issubclass(w.category, torch.jit.TracerWarning)), "")
                marked = _ignored_helpers(model)
                advice = (f"{marked[0][0]} is marked @torch.jit.{marked[0][1]}, which keeps it out of TorchScript's "
                          "compiler: the tracer still runs it as Python and records the one path it took. Use "
                          "@torch.jit.script_if_tracing instead, which compiles it when a trace calls it (section 5)."
                          if marked else
                          "Decorate the helper that holds the `if` so that it is compiled, not traced (section 5).")
                print(f"✘ Not yet: traced on {values(example)}, the model gives {values(got)} for {values(other)}, but "
                      f"eager gives {values(want)}. "
                      + (f"The tracer warned (\"{warned}\"): the `if` was frozen. " if warned else "") + advice)
                return False
    traced = traces[tuple(_SMALL.tolist())]
    calls = [node for node in traced.graph.nodes() if node.kind() == "prim::CallFunction"]
    graph = traced.inlined_graph  # kept in a name: its nodes are only valid while the graph lives
    ifs, value_ifs = "prim::If" in node_kinds(graph), _ifs_on_values(graph)
    if calls and ifs and not value_ifs:
        print("✘ Both traces give the right answers, and the traced graph calls your compiled helper, but its `if` "
              "decides on something other than the values (a shape, a dimension): the scaling itself was replaced "
              "with tensor operations (torch.where or arithmetic), as in 03. This exercise asks you to keep the `if` "
              "on the peak inside the helper, and only add the decorator.")
        return False
    if calls and not ifs:
        print("✘ Both traces give the right answers, and the traced graph calls your compiled helper, but the helper "
              "holds no `if`: you replaced the branch with tensor operations (torch.where or arithmetic), as in 03. "
              "That is a fine fix in general; this exercise asks you to keep the `if` inside the helper.")
        return False
    methods = [node for node in traced.graph.nodes() if node.kind() == "prim::CallMethod"]
    if not calls and methods and value_ifs:  # the `if` kept in a scripted submodule: right, by another road
        print("✔ Right: the traced graph calls a scripted submodule (a prim::CallMethod whose graph holds the `if` on "
              "the peak), and traced on a small input it still clips large ones, and the other way round. "
              "@torch.jit.script_if_tracing on soft_clip does the same in one line, and leaves eager mode plain Python.")
        return True
    if not calls or not value_ifs:
        print("✘ Both traces give the right answers, but the traced graph holds no call to a compiled helper and no "
              "`if`: you replaced the branch with tensor operations (torch.where or arithmetic), as in 03. That is a "
              "fine fix in general; this exercise asks you to keep the `if` and add one decorator to its helper.")
        return False
    scripted_anyway = (" You compiled it with torch.jit.script, which works too, and compiles it in eager mode as well: "
                       "eager calls then run TorchScript. @torch.jit.script_if_tracing leaves eager mode plain Python "
                       "and compiles the helper only when a trace calls it." if _scripted_helper(model) else "")
    print("✔ Right: the traced graph calls your compiled helper (a prim::CallFunction whose graph holds a prim::If), "
          "and traced on a small input it still clips large ones, and the other way round." + scripted_anyway)
    return True


def _scripted_helper(model) -> bool:
    """True if ``forward`` calls a function compiled with torch.jit.script (decorated, or scripted in the call)."""
    names = _forward_names(model)
    return "script" in names or any(isinstance(value, torch.jit.ScriptFunction) for value in names.values())


def _forward_names(model) -> dict:
    """The names ``forward``'s code uses (globals and attributes), each with the global of that name or None."""
    forward = getattr(type(model), "forward", None)
    code, names = getattr(forward, "__code__", None), getattr(forward, "__globals__", {})
    return {name: names.get(name) for name in (code.co_names if code else ())}
