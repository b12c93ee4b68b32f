"""Exercise checkers for 11_your_model: a dataclass config, a branch on shape, a dict output.

Each checker converts or runs the learner's answer itself on inputs it picks, prints one line
starting with ✔ or ✘ that names what happened, and returns True or False. A wrong answer never
raises: the notebook keeps running.
"""
import dataclasses
import inspect
import io
import linecache
import re
import warnings

import torch
from torch import nn

from ..course.deprecations import deprecations_hidden
from ..course.failures import as_sentence, short_message
from ..course.guards import with_article

__all__ = ["HeadConfig", "ConfiguredHead", "PairPool", "Summary", "check_configured_head",
           "check_shipped_pool", "check_dict_trace"]


def _sentence(error, limit: int = 160) -> str:
    """An error's informative line as one sentence, with no stray punctuation at its end.

    TorchScript ends a line with ':' before quoting the code ("... method 'activation'.:"), which as_sentence
    would turn into ".:."; and a line cut just after a full stop ends ".…", where the full stop alone is true.
    """
    text = short_message(error, limit)
    if text.endswith("…") and text[:-1].rstrip().endswith((".", ":", ";", ",")):
        text = text[:-1]
    return as_sentence(text.rstrip(" :;,"))


# ---------------------------------------------------------------- exercise 1: a dataclass config

@dataclasses.dataclass
class HeadConfig:
    scale: float = 2.0
    clip: float = 1.0
    activation: str = "relu"


class ConfiguredHead(nn.Module):
    """The model as a learner meets it: a config object kept whole on the module."""

    def __init__(self, cfg: HeadConfig = HeadConfig()):
        super().__init__()
        self.cfg = cfg
        self.lin = nn.Linear(6, 3)

    def forward(self, x):
        y = self.lin(x)
        y = y.relu() if self.cfg.activation == "relu" else y.tanh()
        return (y * self.cfg.scale).clamp(-self.cfg.clip, self.cfg.clip)


_CONFIGS = [HeadConfig(), HeadConfig(scale=3.0, clip=0.5, activation="tanh"), HeadConfig(scale=0.5, clip=4.0)]


def _takes_cfg(model_class) -> bool:
    """Whether ``model_class(cfg=...)`` can be called (a signature torch cannot read counts as yes)."""
    try:
        parameters = inspect.signature(model_class).parameters
    except (TypeError, ValueError):
        return True
    return "cfg" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _script_save_load(model):
    with deprecations_hidden():
        scripted = torch.jit.script(model)
        buffer = io.BytesIO()
        torch.jit.save(scripted, buffer)
        buffer.seek(0)
        return torch.jit.load(buffer)


def _untypeable_attribute(model) -> str:
    """The first plain attribute of ``model`` that holds a dataclass or a dict of mixed values, described."""
    for name, value in vars(model).items():
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return f"self.{name} (a dataclass, {type(value).__name__})"
        if isinstance(value, dict) and len({type(v) for v in value.values()}) > 1:
            return f"self.{name} (a dict whose values have different types)"
    return ""


def _reference(cfg, x):
    """What ConfiguredHead computes for ``cfg`` on ``x``, with the weights every build gets (seed 0)."""
    torch.manual_seed(0)
    return ConfiguredHead(cfg)(x)


def _eager_mistake(model, x, expected, cfg) -> str:
    """What the learner's eager model gets wrong against ConfiguredHead(cfg), before any scripting; '' if nothing."""
    given = x.clone()  # the learner's model gets a copy: an in-place change must not alter the checker's input
    try:
        with torch.no_grad():
            got = model(given)
    except Exception as error:
        return f"Your model fails in eager with {cfg}: {type(error).__name__}: {_sentence(error, 120)}"
    if not torch.equal(given, x):
        return (f"With {cfg} your forward changes its input in place (a method ending in _, such as clamp_): "
                "ConfiguredHead leaves x alone; use the form without the underscore.")
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        what = f"shape {tuple(got.shape)}" if isinstance(got, torch.Tensor) else with_article(type(got).__name__)
        return f"Your model returns {what} with {cfg}; ConfiguredHead returns shape {tuple(expected.shape)}."
    if got.dtype != expected.dtype:
        return (f"With {cfg} your model returns {got.dtype}, ConfiguredHead {expected.dtype}: keep the dtype "
                "(no .double(), .half() or .long() at the end).")
    if torch.allclose(got, expected, atol=1e-6):
        return ""
    if torch.allclose(got, _reference(HeadConfig(), x), atol=1e-6):
        return (f"With {cfg} your model gives the default config's numbers: the config it was built with does not "
                "reach forward (a hard-coded scale, clip or activation, or an __init__ that does not keep the "
                "config it is given).")
    for field, other in (("activation", "tanh" if cfg.activation == "relu" else "relu"),
                         ("scale", HeadConfig.scale), ("clip", HeadConfig.clip)):
        if getattr(cfg, field) != other and torch.allclose(
                got, _reference(dataclasses.replace(cfg, **{field: other}), x), atol=1e-6):
            return (f"With {cfg} your model computes with {field}={other!r}, not {getattr(cfg, field)!r}: the "
                    f"config's {field} does not reach forward (hard-coded, taken from another field, or not kept by "
                    "__init__).")
    torch.manual_seed(0)
    lin = ConfiguredHead(cfg).lin
    with torch.no_grad():
        bare = (lin(x) * cfg.scale).clamp(-cfg.clip, cfg.clip)  # the head with its activation left out
    if torch.allclose(got, bare, atol=1e-6) and not torch.allclose(bare, expected, atol=1e-6):
        return (f"With {cfg} your model applies no {cfg.activation}: forward leaves the activation out (keep "
                "`y.relu() if ... else y.tanh()` between the layer and the scale).")
    torch.manual_seed(0)
    weights = ConfiguredHead(cfg).lin.weight
    linears = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    if linears and not any(w.shape == weights.shape and torch.equal(w, weights) for w in linears):
        return (f"With {cfg} your model's Linear holds other weights than ConfiguredHead's: the checker builds both "
                "after torch.manual_seed(0), so build `self.lin = nn.Linear(6, 3)` first in __init__, before any other "
                "layer or random number.")
    i, j = divmod(int((got - expected).abs().argmax()), got.shape[1])
    return (f"With {cfg} your forward, still in eager, computes something else than ConfiguredHead: at [{i}, {j}] it "
            f"gives {got[i, j].item():.4g}, ConfiguredHead {expected[i, j].item():.4g}. Keep the maths (both bounds "
            "of the clamp, scale before clamp), change only where forward reads the config from, and read each "
            "setting from its own field (scale, clip, activation).")


def check_configured_head(model_class) -> bool:
    """11 exercise 1: the head scripts, saves, and follows every config (scale, clip, activation)."""
    if not isinstance(model_class, type) or not issubclass(model_class, nn.Module):
        print("✘ Pass your class itself (e.g. check_configured_head(MyHead)): the checker builds it "
              "with several configs.")
        return False
    x = torch.linspace(-3.0, 3.0, 24).reshape(4, 6)
    for cfg in _CONFIGS:
        expected = _reference(cfg, x)
        if not _takes_cfg(model_class):
            print(f"✘ {model_class.__name__}(cfg=HeadConfig(...)) cannot be called: keep the constructor taking the "
                  "config as given (cfg); only what forward reads from it should change.")
            return False
        try:
            torch.manual_seed(0)  # the same weights as the reference (same seed, same layers)
            model = model_class(cfg=cfg)
        except Exception as error:  # a typo or a wrong type inside the learner's __init__
            print(f"✘ {model_class.__name__}(cfg={cfg}) fails in its __init__: {type(error).__name__}: "
                  f"{_sentence(error).rstrip('.')}. Check the lines that read the config there.")
            return False
        mistake = _eager_mistake(model, x, expected, cfg)
        if mistake:
            print(f"✘ {mistake}")
            return False
        try:
            loaded = _script_save_load(model)
        except Exception as error:
            text = str(error)
            if "Could not export Python function" in text or "ignored" in text.lower():
                print("✘ It scripts, but torch.jit.save refuses it: an @torch.jit.ignore'd method stays Python. "
                      "Copy the config's fields into plain attributes instead.")
            else:
                kept = _untypeable_attribute(model)
                if not kept:
                    print(f"✘ torch.jit.script fails on it: {_sentence(error)} Copy the fields forward "
                          "reads (scale, clip, activation) into attributes of their own in __init__.")
                else:  # torch's own sentence up to its long parenthesis, which a one-line cut would leave open
                    said = as_sentence(text.strip().splitlines()[0].split(" (")[0].rstrip(" :."))
                    dataclass = "(a dataclass" in kept
                    # HeadConfig comes from a .py file; a class written in a notebook cell could not be compiled
                    compile_it = (", or compile the class first with torch.jit.script(HeadConfig) (it comes from a "
                                  ".py file; a class defined in a notebook cell has no source TorchScript can read)")
                    print(f"✘ torch.jit.script fails on it: {said} TorchScript cannot type the attribute {kept}"
                          f"{', whose class it has not compiled' if dataclass else ''}. Copy the fields forward "
                          "reads (scale, clip, activation) into attributes of their own in __init__"
                          f"{compile_it if dataclass else ''}.")
            return False
        try:
            got = loaded(x.clone())
        except Exception as error:
            if "forward" in str(error):
                print("✘ The saved file has no forward: @torch.jit.ignore or @torch.jit.unused on forward leaves it "
                      "uncompiled, and torch.jit.save stores no Python. Copy the config's fields into attributes "
                      "instead.")
            else:
                print(f"✘ The saved model fails when called: {_sentence(error)}")
            return False
        if (not isinstance(got, torch.Tensor) or got.shape != expected.shape or got.dtype != expected.dtype
                or not torch.allclose(got, expected, atol=1e-6)):
            print(f"✘ With {cfg} the saved model gives other numbers than your eager model, which is right: "
                  "scripting changed what forward computes. Compare the two on this config to find the line.")
            return False
    print("✔ Your head scripts and saves, and it follows each config it was built with "
          f"({len(_CONFIGS)} configs, relu and tanh).")
    return True


# ---------------------------------------------------------------- exercise 2: a branch on shape

class PairPool(nn.Module):
    """Sequences longer than 8 are averaged in pairs first; then a running sum."""

    def forward(self, x):
        if x.shape[-1] > 8:
            x = x.unflatten(-1, (-1, 2)).mean(-1)
        return x.cumsum(-1)


_LENGTHS = tuple(range(4, 21, 2))  # both sides of `> 8`, and the boundary itself (even: pairs)


def _suggested_fix(error) -> str:
    """The 'Suggested fixes' lines of torch.export's constraint error, on one line; "none given" when there are none."""
    text = str(error)
    if "Suggested fixes:" not in text:
        return "none given"
    lines = text.split("Suggested fixes:", 1)[1].lstrip("\n").split("\n")
    fixes = []
    for line in lines:
        if not line.startswith("  ") or not line.strip():
            break
        fixes.append(line.strip())
    return "; ".join(f"`{f}`" for f in fixes) or "none given"


def _short_lengths_left_out(fix) -> str:
    """A sentence if the Dim torch suggests starts above the shortest length checked (4 = 2 * 2)."""
    low = re.search(r"Dim\(['\"]\w+['\"], min=(\d+)", fix)
    if low and 2 * int(low.group(1)) > _LENGTHS[0]:
        return (f" The lengths checked run from {_LENGTHS[0]} to {_LENGTHS[-1]}, and this Dim starts at "
                f"{2 * int(low.group(1))}: give it no min, or one of {_LENGTHS[0]} or less.")
    return ""


def _constraint_hint(error) -> str:
    """What to do about a violated constraint that is not the `> 8` bound: torch's suggestion, read for this model."""
    fix = _suggested_fix(error)
    derived = re.search(r"=\s*2\s*\*\s*(\w+)", fix)  # whatever the Dim is called: length = 2*_length
    if derived:  # unflatten(-1, (-1, 2)) pairs values, in either branch
        return (f" torch's own suggestion: {fix}: pooling pairs the values, so the length must be even, and a Dim "
                f"that says so (`2 * Dim(\"{derived.group(1)}\")`) is what torch asks for. If `forward` still has the "
                "plain `if`, an export keeps one side of `x.shape[-1] > 8` even then: the branch has to be part of "
                "the program (torch.cond, or torch.jit.script)." + _short_lengths_left_out(fix))
    return (f" torch's own suggestion: {fix}. The lengths checked run from 4 to 20; if `forward` still has the plain "
            "`if`, an export keeps one side of `x.shape[-1] > 8`: make the branch part of the program (torch.cond, "
            "or torch.jit.script).")


def _holds_cond(copy) -> bool:
    """Whether an exported copy's graph (or one of its submodules') calls torch.cond."""
    cond = getattr(torch.ops.higher_order, "cond", None)
    graphs = [m.graph for m in copy.modules() if isinstance(m, torch.fx.GraphModule)] \
        if isinstance(copy, torch.fx.GraphModule) else []
    return any(node.target is cond for graph in graphs for node in graph.nodes)


_MODEL_NAMES = ("model", "module", "net", "m", "eager")  # what a parameter holding the model is usually called


def _argument_order_hint(ship) -> str:
    """A hint when ``ship`` names its arguments the other way round, (example, model): the check passes (model, example)."""
    try:
        names = list(inspect.signature(ship).parameters)
    except (TypeError, ValueError):
        return ""
    if len(names) >= 2 and names[1].lower() in _MODEL_NAMES and names[0].lower() not in _MODEL_NAMES:
        return (f" The check calls ship(model, example), in that order, and your function takes ({names[0]}, "
                f"{names[1]}): swap its arguments.")
    return ""


def check_shipped_pool(ship) -> bool:
    """11 exercise 2: ``ship(model, example)`` returns a copy that agrees with eager on every length."""
    if not callable(ship) or isinstance(ship, (nn.Module, type)):
        what = f" ({ship.__name__} is a class)" if isinstance(ship, type) else ""
        print(f"✘ Pass your function, e.g. check_shipped_pool(ship){what}: it takes (model, example) and returns "
              "the copy.")
        return False
    model, example = PairPool(), torch.randn(3, 12)
    try:
        # the tracer's warning about the `if` is part of the feedback below, not a raw line pointing into this file
        with deprecations_hidden(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", torch.jit.TracerWarning)
            copy = ship(PairPool(), example.clone())
    except Exception as error:
        hint = (" check_inputs made the tracer compare lengths, and it found the trace wrong: that is the "
                "warning to listen to." if "TracingCheckError" in type(error).__name__ else
                " A Dim must stay free, but the `if x.shape[-1] > 8` ties the length to one side of 8: make the "
                "branch part of the program (torch.cond, or torch.jit.script)."
                if "Constraints violated" in str(error) and re.search(r"\b9 <=|<= ?8\b|[<>]=? ?[89]\b", str(error)) else
                _constraint_hint(error) if "Constraints violated" in str(error) else "")
        print(f"✘ ship(...) raised {type(error).__name__}: {_sentence(error)}{hint or _argument_order_hint(ship)}")
        return False
    if copy is None or isinstance(copy, PairPool):
        print("✘ ship(...) must return the converted copy (a scripted, traced or exported module), "
              "not None or the eager model itself.")
        return False
    if isinstance(copy, torch.export.ExportedProgram):
        copy = copy.module()
    if not isinstance(copy, (torch.jit.ScriptModule, torch.jit.ScriptFunction, torch.fx.GraphModule)):
        compiled = " torch.compile keeps running your Python class; it makes nothing to ship." \
            if type(copy).__name__ == "OptimizedModule" else ""
        print(f"✘ ship(...) returned {with_article(type(copy).__name__)}, not a converted copy.{compiled} Return what "
              "torch.jit.script, torch.jit.trace or torch.export.export gives you: a copy that runs without the "
              "Python class.")
        return False
    if isinstance(copy, torch.fx.GraphModule):  # an fx graph that calls a module of your own as a leaf still runs its Python
        leaf = next((node.target for node in copy.graph.nodes if node.op == "call_module"
                     and not type(copy.get_submodule(node.target)).__module__.startswith("torch.")), None)
        if leaf is not None:
            print(f"✘ The copy's graph calls your module {leaf!r} ({type(copy.get_submodule(leaf)).__name__}) as one "
                  "step, so that step still runs its Python forward: nothing was converted there. Return what "
                  "torch.jit.script or torch.export.export gives you.")
            return False
    traced = isinstance(copy, torch.jit.TopLevelTracedModule)
    if isinstance(copy, torch.jit.ScriptModule):  # shipping means saving: Python left in the copy cannot go
        buffer = io.BytesIO()
        try:
            with deprecations_hidden():
                torch.jit.save(copy, buffer)
        except Exception as error:
            print(f"✘ The copy cannot be saved, so it cannot ship: {_sentence(error, 140)} "
                  "(a @torch.jit.ignore'd method stays Python). Script or export the model itself.")
            return False
        buffer.seek(0)
        copy = torch.jit.load(buffer)  # what ships is the file: the copy in memory may still call Python
        if not hasattr(copy, "forward"):
            print("✘ The saved file has no forward: @torch.jit.ignore or @torch.jit.unused on forward leaves it "
                  "uncompiled, and torch.jit.save stores no Python. Script the model with its forward compiled.")
            return False
    if isinstance(copy, torch.jit.ScriptFunction) and any(a.name == "self" for a in copy.schema.arguments):
        print("✘ ship(...) scripted the method forward on its own, which still wants `self` as an argument: "
              "script the model itself, torch.jit.script(model).")
        return False
    warning = next((str(w.message).split(". ")[0] for w in caught if issubclass(w.category, torch.jit.TracerWarning)
                    and "x.shape[-1] > 8" in linecache.getline(w.filename, w.lineno)), None)
    why = ("" if not traced else f" (a trace records the one path its example took; as it traced, the tracer warned "
           f"about the `if` on the shape: \"{warning}\")" if warning else " (a trace records the one path its example took)")
    torch.manual_seed(1)
    for n in _LENGTHS:
        x = torch.randn(3, n)
        given = x.clone()  # the copy gets its own input: eager below must see the values the copy was given
        try:
            got = copy(given)
        except Exception as error:
            message = short_message(error, limit=110).rstrip(" :;,")  # it sits in parentheses below
            bound = re.search(r"[<>]=?\s*\d", message) and "Guard" in message
            if bound and _holds_cond(copy):  # the branch is in the program: the bound is the learner's Dim range
                fixed = (f" Your program holds the branch (a torch.cond), so this bound is its range of lengths: the "
                         f"Dim's min or max leaves length {n} out. The lengths checked run from {_LENGTHS[0]} to "
                         f"{_LENGTHS[-1]}.")
            elif bound:  # export kept one side of `> 8`
                fixed = (" Export kept the example's side of `x.shape[-1] > 8` as a guard, so lengths on the other "
                         "side are refused: the branch has to be part of the program (torch.cond, or "
                         "torch.jit.script).")
            elif any(w in message for w in ("Guard", "size", "shape", "Expected")):
                fixed = (" It was fixed to the example's shape: your program holds the branch (a torch.cond), so what "
                         "is left is the length, which has to stay free (dynamic_shapes with a Dim)."
                         if _holds_cond(copy) else
                         " It was fixed to the example's shape: the length has to stay free, and the branch has to "
                         "travel with the model (with the length fixed, export works out `12 > 8` once and keeps that "
                         "side only, even of a torch.cond: dynamic_shapes with a Dim).")
            else:
                fixed = ""
            print(f"✘ The copy fails on length {n} ({message}).{fixed}")
            return False
        if not torch.equal(given, x):
            print(f"✘ On length {n} the copy changes its input in place (a method ending in _, such as relu_): "
                  "PairPool leaves x alone, and the caller's tensor must stay as it was; use the form without the "
                  "underscore.")
            return False
        want = model(x)
        if isinstance(got, torch.Tensor) and got.dtype != want.dtype:  # before any comparison: allclose needs one dtype
            print(f"✘ On length {n} the copy returns {got.dtype}, eager {want.dtype}: ship the model as it is, "
                  "without a change of dtype.")
            return False
        if not isinstance(got, torch.Tensor):
            one = isinstance(got, (tuple, list)) and len(got) == 1 and isinstance(got[0], torch.Tensor)
            print(f"✘ On length {n} the copy returns {with_article(type(got).__name__)}"
                  f"{' holding one tensor' if one else ''}, where eager returns a tensor"
                  + (": an exported program's graph_module returns its outputs in a tuple; return the program's "
                     ".module(), which gives back eager's output structure." if one and isinstance(copy, torch.fx.GraphModule)
                     else "."))
            return False
        if got.shape != want.shape or not torch.allclose(got, want, atol=1e-5):
            pools = n > 8
            other = x.cumsum(-1) if pools else x.unflatten(-1, (-1, 2)).mean(-1).cumsum(-1)
            if isinstance(got, torch.Tensor) and got.shape == other.shape and torch.allclose(got, other, atol=1e-5):
                took = (f"eager {'pools' if pools else 'does not pool'} there (`{n} > 8` is {pools}), your copy "
                        f"{'does not' if pools else 'does'}")
                print(f"✘ On length {n} the copy takes the other side of the branch: {took}{why}.")
            else:
                print(f"✘ On length {n} the copy computes something else than eager{why}.")
            return False
    kind = ("scripted" if isinstance(copy, torch.jit.ScriptModule) else
            "exported" if isinstance(copy, torch.fx.GraphModule) else "converted")
    saved = ", saved and loaded again," if isinstance(copy, torch.jit.ScriptModule) else ""
    print(f"✔ Your {kind} copy{saved} agrees with eager on every even length from {_LENGTHS[0]} to {_LENGTHS[-1]} "
          "(batches of 3, as the example: the check changes only the length), on both sides of `> 8`: the branch on "
          "the shape is part of the copy.")
    return True


# ---------------------------------------------------------------- exercise 3: a dict output

class Summary(nn.Module):
    def forward(self, x):
        return {"mean": x.mean(-1), "top": x.argmax(-1)}


def check_dict_trace(trace_it) -> bool:
    """11 exercise 3: ``trace_it(model, example)`` returns a *traced* copy whose dict output matches eager."""
    if not callable(trace_it) or isinstance(trace_it, (nn.Module, type)):
        what = f" ({trace_it.__name__} is a class)" if isinstance(trace_it, type) else ""
        print(f"✘ Pass your function, e.g. check_dict_trace(trace_it){what}: it takes (model, example) and returns "
              "the trace.")
        return False
    model = Summary()
    try:
        with deprecations_hidden():
            traced = trace_it(Summary(), torch.randn(2, 5))
    except Exception as error:
        # the flag is at the end of torch's message, past what one line shows: quote that sentence
        way_out = next((f" It ends: \"{part.strip()}\"" for part in str(error).split(". ") if "strict=False" in part), "")
        if "example_kwarg_inputs" in str(error):  # trace called without an example: torch asks for keyword inputs
            hint = " The example is missing: torch.jit.trace(model, example, ...) records a run on it."
        elif "Encountering a dict at the output" in str(error):
            hint = way_out or " torch's message names the flag that allows a dict output."
        else:
            hint = ""
        print(f"✘ trace_it(...) raised {type(error).__name__}: {_sentence(error)}{hint}")
        return False
    if isinstance(traced, torch.jit.ScriptFunction):
        print("✘ That is a traced function, not the traced model: trace the module itself, "
              "torch.jit.trace(model, example, ...), so its output stays the dict.")
        return False
    if isinstance(traced, torch.jit.RecursiveScriptModule) and not isinstance(traced, torch.jit.TopLevelTracedModule):
        # a script, or a trace that went through torch.jit.save/load or freeze: the check cannot tell them apart
        print("✘ That is a ScriptModule, but not the module torch.jit.trace returns (a scripted copy, or a trace "
              "saved and loaded again, or frozen): return torch.jit.trace's own result.")
        return False
    if not isinstance(traced, torch.jit.TopLevelTracedModule):
        what = "None (a missing return?)" if traced is None else with_article(type(traced).__name__)
        print(f"✘ trace_it(...) returned {what}; return what torch.jit.trace gives you.")
        return False
    for x in (torch.randn(3, 5), torch.randn(1, 7)):
        given = x.clone()  # the trace gets its own input: eager must see the values the trace was given
        got, want = traced(given), model(x)
        if not torch.equal(given, x):
            print("✘ The traced copy changes its input in place (a method ending in _, such as abs_): Summary leaves "
                  "x alone; trace the model as given.")
            return False
        if not isinstance(got, dict):
            # a wrapper may have returned a plain tuple or a NamedTuple: the trace gives a plain tuple for both
            named = " (a wrapper returning a NamedTuple would give a plain tuple here too)" if isinstance(got, tuple) else ""
            print(f"✘ The traced copy returns a {type(got).__name__}{named}: callers index it by key, so it must stay "
                  "a dict.")
            return False
        if set(got) != set(want):
            print(f"✘ The keys changed: {sorted(got)} instead of {sorted(want)}.")
            return False
        for key in want:
            if not isinstance(got[key], torch.Tensor):
                print(f"✘ The traced copy's {key!r} is {with_article(type(got[key]).__name__)}; eager's is a tensor.")
                return False
            # torch.equal ignores dtype (tensor([1., 2.]) equals tensor([1, 2])): the dtype is compared on its own
            if got[key].dtype != want[key].dtype:
                print(f"✘ The traced copy's {key!r} has dtype {got[key].dtype}, eager's {want[key].dtype}: callers "
                      "of the copy would get other types. Trace the model as given, so its outputs keep their dtypes.")
                return False
            if got[key].shape != want[key].shape or not torch.equal(got[key], want[key]):
                print(f"✘ The traced copy's {key!r} differs from eager's on a new input of shape {tuple(x.shape)}.")
                return False
    print("✔ torch.jit.trace accepted the dict output, and the copy answers by key, equal to eager (values and dtypes) "
          "on new inputs.")
    return True
