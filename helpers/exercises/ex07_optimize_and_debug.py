"""Exercise checkers for 07_optimize_and_debug.

Each checker calls the learner's function on cases it builds itself (real models, real TorchScript
error messages, measured-looking ratios), compares with what is expected, and prints one line
starting with ✔ or ✘ that says what to do next. A wrong answer never raises: it explains.
"""
import atexit
import collections
import copy
import functools
import importlib.util
import io
import linecache
import secrets
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from ..course.deprecations import deprecations_hidden
from ..course.failures import short_message
from ._common import LearnerCodeStopped, describe, learner_code

__all__ = ["check_prepare_for_serving", "check_offending_line", "check_honest_verdict", "offending_line_cases"]


def _require_function(fn, who, example):
    """True if ``fn`` is a function to call; else print what to pass instead and return False."""
    if isinstance(fn, type):
        print(f"✘ {who} expects your function, e.g. {who}({example}); {fn.__name__} is a class.")
        return False
    if not callable(fn):
        print(f"✘ {who} expects your function itself, e.g. {who}({example}), without parentheses after its "
              f"name; you passed {describe(fn)}.")
        return False
    return True


def _quiet(fn, *args):
    """Call ``fn`` without the TorchScript deprecation notices (explained in 02)."""
    with deprecations_hidden():
        return fn(*args)


# ---------------------------------------------------------------- exercise 1: ready to serve

class _SmallConvNet(nn.Module):
    """Convolution, batch norm, ReLU, dropout, linear: what freezing should simplify."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.norm = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(4 * 6 * 6, 3)

    def forward(self, x):
        x = self.drop(torch.relu(self.norm(self.conv(x))))
        return self.head(torch.flatten(x, 1))


def _serving_case():
    torch.manual_seed(7)
    model = _SmallConvNet()
    with torch.no_grad():  # statistics a trained network would have, so batch norm really changes values
        model.norm.running_mean.uniform_(-0.5, 0.5)
        model.norm.running_var.uniform_(0.5, 2.0)
    x = torch.linspace(-1, 1, 2 * 64).reshape(2, 1, 8, 8)
    return model.train(), x  # handed over in training mode, as a model fresh from a training loop is


def _fingerprint(model) -> dict:
    """What a training loop relies on: the modules, their modes, parameters (and whether they learn), buffers."""
    return {"repr": repr(model), "training": [m.training for m in model.modules()],
            "requires_grad": [p.requires_grad for p in model.parameters()],
            "state": {k: v.clone() for k, v in model.state_dict().items()},
            "dropout_p": {name: m.p for name, m in model.named_modules() if isinstance(m, nn.Dropout)}}


def _what_changed(before: dict, after: dict) -> str:
    """How ``prepare_for_serving`` changed the model it was given, in words ('' if it did not)."""
    # the same dropout layers with another p: said first, as the layer's repr shows p too and this is the precise word
    if after["dropout_p"].keys() == before["dropout_p"].keys() and after["dropout_p"] != before["dropout_p"]:
        return "it changed a dropout's probability"
    if after["repr"] != before["repr"]:
        return "it replaced or reconfigured one of its layers"
    if after["requires_grad"] != before["requires_grad"]:
        return "it switched off requires_grad on its parameters, so the training loop would stop learning"
    changed = [k for k, v in before["state"].items()
               if k not in after["state"] or not torch.equal(after["state"][k], v)]
    statistics = [k for k in changed if k.rsplit(".", 1)[-1] in ("running_mean", "running_var", "num_batches_tracked")]
    if changed and statistics == changed:  # what a forward call in training mode does, and nothing else
        return (f"its batch norm statistics changed ({', '.join(changed[:3])}), as a forward call in training mode "
                "updates them: do not run the model you were given")
    if changed:
        return f"it changed its weights or buffers ({', '.join(changed[:3])})"
    return ""


def _one_error(error) -> str:
    """``Type: message``, without the type twice when the message repeats it (and without a type at all when the
    learner's code was stopped: the message says what it did)."""
    if isinstance(error, LearnerCodeStopped):
        return str(error)
    message = short_message(error)
    name = type(error).__name__
    return message if message.startswith(f"{name}:") else f"{name}: {message}"


def check_prepare_for_serving(prepare_for_serving) -> bool:
    """07: ``prepare_for_serving(model)`` returns a frozen TorchScript module computing what the model does in
    eval mode, which saves and loads again, and leaves the model it was given as it was (the training loop still
    owns it)."""
    if isinstance(prepare_for_serving, nn.Module):
        print("✘ check_prepare_for_serving expects your function prepare_for_serving, which takes a model; you "
              "passed a model itself.")
        return False
    if not _require_function(prepare_for_serving, "check_prepare_for_serving", "prepare_for_serving"):
        return False
    model, x = _serving_case()
    reference = copy.deepcopy(model).eval()  # taken first: the answer may change the model it is given
    before = _fingerprint(model)
    grad_before = torch.is_grad_enabled()
    try:
        with learner_code():
            served = _quiet(prepare_for_serving, model)
    except Exception as error:
        hint = (" Which mode does a model fresh from a training loop arrive in? Serve a version of it in the "
                "mode freezing needs, without changing the model the training loop still uses."
                if "eval" in str(error) else "")
        print(f"✘ prepare_for_serving raised {_one_error(error)}{hint}")
        return False
    finally:
        grad_after = torch.is_grad_enabled()
        torch.set_grad_enabled(grad_before)  # whatever the answer did to it, the kernel gets its mode back
    if grad_before and not grad_after:
        print("✘ prepare_for_serving switched autograd off for the whole process (torch.set_grad_enabled(False) as "
              "a statement): the training loop that goes on after it would compute no gradients. Freezing needs no "
              "change to the grad mode; use `with torch.no_grad():` around a block if you need one.")
        return False
    if not isinstance(served, torch.jit.ScriptModule):
        print(f"✘ Return the frozen TorchScript module, not {describe(served)}: "
              "torch.jit.freeze(torch.jit.script(...)).")
        return False
    if not served._c._has_method("forward"):
        print("✘ The module you returned has no compiled forward (an @torch.jit.ignore'd forward stays Python): "
              "script the model itself, then freeze it.")
        return False
    kinds = collections.Counter(n.kind() for n in served.graph.nodes())
    if kinds["prim::GetAttr"]:
        read = {n.s("name") for n in served.graph.findAllNodes("prim::GetAttr")}
        # training mode shows as reads of batch norm's statistics; a batch norm left beside other reads is one that
        # could not be folded, because freeze was told to keep what it folds into (preserved_attrs)
        if read & {"running_mean", "running_var", "num_batches_tracked"}:
            print("✘ The graph still reads batch norm's statistics with prim::GetAttr: a submodule was still in "
                  "training mode when it was frozen (or traced), and freeze keeps what training mode updates. Call .eval() "
                  "on the whole copy (module.eval() switches every submodule), then script and freeze it.")
        else:
            shown = ", ".join(sorted(read)[:3]) + (", ..." if len(read) > 3 else "")
            print(f"✘ The graph still reads {kinds['prim::GetAttr']} attribute(s) with prim::GetAttr ({shown}): "
                  "either it is not frozen (pass it through torch.jit.freeze), or freeze was told to keep them "
                  "(preserved_attrs=...). Serve it frozen with nothing preserved, so that every weight is a constant.")
        return False
    if kinds["aten::batch_norm"]:
        print("✘ Frozen, but aten::batch_norm survived: keep freeze's default optimize_numerics=True, "
              "which folds batch norm into the convolution before it.")
        return False
    if kinds["aten::dropout"]:
        print("✘ aten::dropout survived: freezing a module in eval mode removes it, so freeze the eval-mode version.")
        return False
    switched = [name or "the model" for name, m in model.named_modules() if not m.training]
    changed = "" if switched else _what_changed(before, _fingerprint(model))
    if changed:
        print(f"✘ prepare_for_serving changed the model it was given: {changed}. The training loop still uses "
              "that model: leave it as it is and prepare a deep copy.")
        return False
    if switched:
        print(f"✘ prepare_for_serving switched the model it was given to eval mode ({', '.join(switched[:3])}): "
              "the training loop that still uses it would go on without dropout. Leave the original as it is "
              "and prepare a deep copy, `copy.deepcopy(model)`: a shallow one (`copy.copy`) shares the submodules, "
              "so its .eval() switches the original's too.")
        return False
    try:
        with torch.no_grad(), learner_code():
            want, got = reference(x), served(x)
    except Exception as error:  # the learner's module failing on a batch is theirs to see, as one line
        print(f"✘ The module you returned fails on a batch of two 8×8 images: {_one_error(error)}")
        return False
    if not isinstance(got, torch.Tensor):
        print(f"✘ The module you returned gives a {type(got).__name__} on a batch of two 8×8 images, where the model "
              "gives one tensor: return what the model computes, frozen, with nothing added after it.")
        return False
    if got.shape != want.shape or got.dtype != want.dtype:
        what, wanted = ((f"shape {tuple(got.shape)}", f"shape {tuple(want.shape)}") if got.shape != want.shape else
                        (f"dtype {got.dtype}", f"{want.dtype}"))
        print(f"✘ The module you returned gives {what} on a batch of two 8×8 images, where the model gives "
              f"{wanted}: return what the model computes, frozen, with nothing added after it.")
        return False
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
        print(f"✘ The frozen module gives other answers than the model you were given, in eval mode (largest "
              f"|diff| {(got - want).abs().max().item():.3g}). {_other_answers_cause(model, x, got)}")
        return False
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.mul_(0.5)  # what the training loop's next optimizer step does: in place
        after = served(x)
    if not torch.equal(after, got):
        print("✘ An in-place update of the original model (as the next optimizer step makes) changed what the "
              "frozen module computes: it shares the weights freezing left alone. Freeze a deep copy.")
        return False
    restored = _modes_restored_wrongly(prepare_for_serving)
    if restored:
        print(restored)
        return False
    unsaved = _reload_failure(served)
    if unsaved:
        print(f"✘ It runs in this process, with the same answers as the model in eval mode, but it cannot be saved and "
              f"loaded again ({unsaved}), so it cannot be shipped: return the frozen module, and run "
              "torch.jit.optimize_for_inference after loading, in the serving process (section 2).")
        return False
    print(f"✔ Right: {sum(kinds.values())} nodes, no attribute reads, batch norm folded into the convolution, dropout "
          "gone, same answers as the model in eval mode, it saves and loads again, and training can go on without "
          "touching it.")
    return True


def _modes_restored_wrongly(prepare_for_serving) -> str:
    """'' unless the answer hands back a model whose modes differ from the ones it came with, when one submodule was
    kept in eval mode by the training loop (a frozen batch norm, as fine-tuning keeps it): `.eval()` on the original
    and `.train()` after it restore a model that was all in training mode, and no other."""
    model, _ = _serving_case()
    model.norm.eval()  # frozen statistics while the rest trains
    modes = [m.training for m in model.modules()]
    try:
        with learner_code(), torch.enable_grad():
            _quiet(prepare_for_serving, model)
    except Exception as error:  # noqa: BLE001 - the learner's function: any failure is feedback
        return (f"✘ prepare_for_serving raised {_one_error(error)} on a model whose batch norm the training loop keeps "
                "in eval mode (frozen statistics, as fine-tuning does); it should serve any model in training mode.")
    if [m.training for m in model.modules()] != modes:
        flipped = [name or "the model" for (name, m), was in zip(model.named_modules(), modes) if m.training != was]
        return ("✘ Handed a model whose batch norm the training loop keeps in eval mode (frozen statistics, as "
                f"fine-tuning does), prepare_for_serving gave it back with other modes ({', '.join(flipped[:3])}): "
                "`.train()` switches every submodule, so switching the original to eval and back does not restore it. "
                "Leave the original alone and switch a deep copy to eval mode.")
    return ""


def _other_answers_cause(model, x, got) -> str:
    """Why a frozen module answers otherwise, when the answer shows it: statistics a training-mode call updated."""
    stale = copy.deepcopy(model).train()
    with torch.no_grad():
        stale(x)  # what a forward call in training mode before .eval() does to batch norm's running statistics
        stale_out = stale.eval()(x)
    if torch.allclose(got, stale_out, rtol=1e-4, atol=1e-5):
        return ("It answers as the model does after one forward call in training mode: that call updated batch "
                "norm's running statistics, which were then frozen in. Freeze an untouched copy, switched to eval "
                "mode first.")
    return ("Freeze an untouched copy of the model, in eval mode, and add nothing after it: the usual causes are a "
            "forward call in training mode before .eval() (it updates batch norm's running statistics), a change to "
            "the weights, or a computation added after the model.")


def _reload_failure(served) -> str:
    """'' if the served module survives a save and a load; else the error in one line (optimize_for_inference's
    result does not survive one)."""
    buffer = io.BytesIO()
    try:
        with deprecations_hidden():
            torch.jit.save(served, buffer)
            buffer.seek(0)
            torch.jit.load(buffer)
    except Exception as error:
        return _one_error(error)
    return ""


# ---------------------------------------------------------------- exercise 2: which line broke?

class _Stack(nn.Module):
    def forward(self, x, y):
        both = torch.cat([x, y.t()], dim=0)
        return both.sum()


class _Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.stack = _Stack()

    def forward(self, x):
        doubled = x * 2
        return self.stack(doubled, x)


class _WithTry(nn.Module):
    def forward(self, x):
        try:
            return x.relu()
        except RuntimeError:
            return x


class _CallsBadHelper(nn.Module):
    # a compile error in a method forward calls: torch reports this frame first, its caller after
    def scaled(self, x):
        return x.no_such_method() * 2

    def forward(self, x):
        return self.scaled(x) + 1


class _ViewThenInvert(nn.Module):
    def forward(self, x, mask):
        y = x.view(3, -1)
        return y[~mask]  # a `~` in the line after the marked one: only the row of the arrow marks


class _Reshape(nn.Module):
    def forward(self, x):
        flat = x.view(-1)
        return flat.reshape(3, 5)


# how a compile error introduces the frames of the calls that led to the failing one (torch's wording)
_CALLED_FROM = "is being compiled since it was called from"


@functools.lru_cache(maxsize=None)
def _called_method_error() -> str:
    """The message of scripting ``_CallsBadHelper``, made once per process: torch keeps the class's half-compiled
    ``forward`` after the failure, so a second attempt fails otherwise ("Can't redefine method")."""
    try:
        _quiet(torch.jit.script, _CallsBadHelper())
    except RuntimeError as error:
        return str(error)
    return ""


def offending_line_cases() -> list:
    """(label, error message, expected line) for five real TorchScript errors (three at run time, two at compile
    time: one with the callers of the failing method after it), and the first again from the same code with other
    names, in a file of its own deleted since, and edited since."""
    cases = []
    try:
        _quiet(torch.jit.script, _Outer())(torch.ones(2, 3))
    except RuntimeError as error:
        cases.append(("a shape error inside a submodule", str(error), "both = torch.cat([x, y.t()], dim=0)"))
    try:
        _quiet(torch.jit.script, _Reshape())(torch.ones(4, 4))
    except RuntimeError as error:
        cases.append(("a reshape that cannot work", str(error), "return flat.reshape(3, 5)"))
    try:
        _quiet(torch.jit.script, _WithTry())
    except Exception as error:  # torch.jit.frontend.NotSupportedError
        cases.append(("a compile error", str(error), "try:"))
    for edited in (False, True):  # its file deleted since, or edited since: either way the line is the message's
        renamed = _renamed_case(edited)
        if renamed:
            cases.append(renamed)
    try:
        _quiet(torch.jit.script, _ViewThenInvert())(torch.ones(4, 4), torch.ones(3, dtype=torch.bool))
    except RuntimeError as error:
        cases.append(("a view, with a `~` in the line after it", str(error), "y = x.view(3, -1)"))
    message = _called_method_error()  # last: the cases before it stay the first a wrong answer meets
    if message:
        cases.append(("a compile error in a method forward calls", message, "return x.no_such_method() * 2"))
    return cases


_RENAMED_SOURCE = """import torch
from torch import nn


class Stack(nn.Module):
    def forward(self, x, y):
        {name} = torch.cat([x, y.t()], dim=0)  # rows of x, then of y{spaces}
        return {name}.sum()


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.stack = Stack()

    def forward(self, x):
        doubled = x * 2
        return self.stack(doubled, x)
"""


_RENAMED_SOURCE_LINES = {line.strip() for line in ("import math\n\n" + _RENAMED_SOURCE).splitlines()}


def _renamed_case(edited=False):
    """The first error again, from real code in a file of its own, with a variable name a hard-coded answer cannot
    know and trailing spaces on its line (an editor left them): ("label", message, expected line), or None. The file
    is deleted once the error is made, or, ``edited``, gets two lines at its top, so that the line number the message
    names now points at another line of the file."""
    name = f"joined_{secrets.token_hex(2)}"
    folder = Path(tempfile.mkdtemp(prefix="which-line-"))  # removed when Python exits: the message names the file
    atexit.register(shutil.rmtree, folder, True)
    module_name = f"_which_line_{secrets.token_hex(4)}"
    path = folder / f"{module_name}.py"
    path.write_text(_RENAMED_SOURCE.format(name=name, spaces="   "), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # torch.jit.script reads the classes' source through their module
    try:
        spec.loader.exec_module(module)
        _quiet(torch.jit.script, module.Outer())(torch.ones(2, 3))
    except RuntimeError as error:
        # the file is gone once the error is made, as the source of a logged error or a loaded .pt usually is: the
        # line must come from the message, not from the file it names
        if edited:  # someone added an import and a blank line since: the file's line N is another line now
            path.write_text("import math\n\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
        else:
            path.unlink()
        linecache.checkcache(str(path))
        since = "edited since: two lines added at its top" if edited else "since deleted"
        return (f"the same shape error, in code with other names (its file {since})", str(error),
                f"{name} = torch.cat([x, y.t()], dim=0)  # rows of x, then of y")  # two spaces inside: kept
    finally:
        sys.modules.pop(module_name, None)
    return None


def _marked_lines(message):
    lines = message.splitlines()
    return [a.strip() for a, b in zip(lines, lines[1:]) if "HERE" in b and "~" in b]


def check_offending_line(offending_line) -> bool:
    """07: ``offending_line(message)`` returns the source line that a TorchScript error marks, innermost frame."""
    if not _require_function(offending_line, "check_offending_line", "offending_line"):
        return False
    cases = offending_line_cases()
    answers = []
    for label, message, _ in cases:
        try:
            with learner_code():
                answers.append(offending_line(message))
        except Exception as error:
            print(f"✘ On {label}, offending_line raised {_one_error(error)}")
            return False
    same_for_all = len({repr(a) for a in answers}) == 1
    for (label, message, expected), got in zip(cases, answers):
        if not isinstance(got, str):
            print(f"✘ Return the line as a string, got {type(got).__name__} on {label}.")
            return False
        if got != expected and same_for_all:
            print(f"✘ On {label} you returned {got!r}, expected {expected!r}: your function returns that same text "
                  f"for all {len(cases)} messages. Read the line from the message it is given.")
            return False
        if got != expected:
            marked = _marked_lines(message)
            if not got.strip():
                hint = ("an empty line: read the line from the message itself (the file a message names may be "
                        "gone, or changed since)")
            elif got.strip() == expected:
                hint = "right line, but strip it: remove its leading and trailing whitespace, as str.strip() does"
            elif "".join(got.split()) == "".join(expected.split()):
                hint = ("right line, but keep the spaces inside it: remove only the leading and trailing "
                        "whitespace, as str.strip() does")
            elif "~" in got or "HERE" in got:
                hint = "the marker `~~~ <--- HERE` sits on the line *below* the code it points at"
            elif "edited since" in label and got.strip() in _RENAMED_SOURCE_LINES:
                hint = ("that is the line the file holds now at the number the message names, but the file was "
                        "edited since the error: read the line from the message itself")
            elif got.strip() in marked and _CALLED_FROM in message:
                hint = (f"that frame called the failing one: a compile error names where compiling failed first, and "
                        f"after '{_CALLED_FROM}' the calls that led there, the reverse of a runtime traceback")
            elif got.strip() in marked:
                hint = "that frame called the failing one: in a runtime traceback the most recent call is the last frame"
            elif got.strip() and got.strip() in expected:
                hint = ("that is only part of the line: return the whole code line above the marker, from its "
                        "first character to its last, stripped")
            else:
                hint = "find the row of `~~~ <--- HERE` and return the code line just above it, stripped"
            print(f"✘ On {label} you returned {got!r}, expected {expected!r}: {hint}.")
            return False
    print(f"✔ Right on all {len(cases)} real errors (five, two of them compile errors, and the first again twice, in "
          "renamed code whose file was deleted or edited since): the marked line is where to look first.")
    return True


# ---------------------------------------------------------------- exercise 3: an honest verdict

_VERDICT_CASES = [
    ("clearly faster", [0.41, 0.40, 0.44, 0.39, 0.42, 0.47, 0.40]),
    ("clearly slower", [1.30, 1.21, 1.25, 1.40, 1.19, 1.27, 1.33]),
    ("a faster median, but a spread across 1", [0.82, 1.10, 0.75, 0.95, 1.20, 0.70, 1.05]),
    ("a slower median, but a spread across 1", [1.25, 0.92, 1.10, 1.31, 0.97, 1.18, 1.02]),
    ("one lucky round", [1.02, 0.99, 1.01, 0.30, 1.00, 1.03, 0.98]),
    ("faster, with one slow round", [0.80, 0.82, 0.78, 0.85, 1.30, 0.79, 0.81]),
    ("slower, with one fast round", [1.20, 1.25, 0.70, 1.22, 1.31, 1.18, 1.27]),
    ("an upper quartile of exactly 1", [0.7, 0.8, 0.9, 1.0, 1.1]),
    ("a lower quartile of exactly 1", [0.9, 1.0, 1.1, 1.2, 1.3]),
    ("seven rounds, upper quartile just below 1", [0.6, 0.7, 0.8, 0.85, 0.9, 1.05, 1.2]),
    ("seven rounds, lower quartile just above 1", [0.8, 0.95, 1.1, 1.15, 1.2, 1.3, 1.4]),
    # These three tell apart mistakes the ones above cannot: a range without its lowest and highest round, the mean
    # plus or minus one standard deviation, a count of the rounds below 1, and exclusive quartiles.
    ("five rounds, the slowest above 1", [0.7, 0.8, 0.9, 0.95, 1.2]),
    ("six fast rounds and one just above 1", [0.50, 0.52, 0.49, 0.51, 0.50, 0.48, 1.02]),
    ("ten rounds, one just above 1", [0.80, 0.82, 0.78, 0.81, 0.79, 0.83, 0.80, 0.77, 0.82, 1.05]),
    # Eight rounds: quartiles taken by position (sorted(r)[n // 4], [3 * n // 4]) differ from inclusive ones here,
    # in both directions, and from the range without its lowest and highest round.
    ("eight rounds, the third fastest just above 1", [0.90, 0.98, 1.05, 1.10, 1.12, 1.15, 1.20, 1.30]),
    ("eight rounds, two slow ones", [0.50, 0.60, 0.70, 0.80, 0.85, 0.90, 1.02, 1.30]),
    # Skewed: the median sits near the fast quartile, so median ± half the interquartile range is not the range.
    ("skewed rounds", [0.50, 0.50, 0.50, 0.55, 1.02, 1.02, 1.02]),
    # Six rounds where numpy's other quartile methods ("midpoint" among them) put the lower quartile above 1 and the
    # inclusive method does not.
    ("six rounds, the lower quartile near 1", [0.97, 1.04, 1.08, 0.96, 1.06, 1.09]),
    # One round far out pulls the mean across 1, which the quartiles ignore: a rule that also asks for the mean fails
    ("faster, with one very slow round", [0.50, 0.50, 0.50, 0.50, 0.50, 0.50, 10.0]),
    # The quartiles of the speed-ups (1 / ratio) are not 1 over the ratios' quartiles: interpolation between rounds
    # differs. Here the ratios' upper quartile is 1.05, and the speed-ups' lower quartile is 1.31.
    ("four fast rounds, two very slow", [0.3, 0.3, 0.3, 0.3, 0.5, 1.6, 1.7]),
    # Quartiles a hair from 1, on each side: "strictly below / above 1" means no margin (0.99, 1.01 ...) around it.
    ("an upper quartile a hair below 1", [0.90, 0.95, 0.97, 0.999, 1.10]),
    ("a lower quartile a hair above 1", [0.90, 1.001, 1.05, 1.10, 1.20]),
]


def _by_quartiles(ratios, method="inclusive", strict=True):
    q25, _, q75 = statistics.quantiles(ratios, n=4, method=method)
    if strict:
        return "faster" if q75 < 1 else "slower" if q25 > 1 else "no clear difference"
    return "faster" if q75 <= 1 else "slower" if q25 >= 1 else "no clear difference"


def _reference_verdict(ratios):
    return _by_quartiles(ratios)


def _sides(faster: bool, slower: bool) -> str:
    return "faster" if faster else "slower" if slower else "no clear difference"


def _q(value) -> str:
    """A quartile in two decimals, or in four figures where two decimals would round it to 1 (0.999 is not 1)."""
    return f"{value:.2f}" if round(value, 2) != 1 or value == 1 else f"{value:.4g}"


def _quartiles(ratios):
    q25, _, q75 = statistics.quantiles(ratios, n=4, method="inclusive")
    return q25, q75


# The mistakes a learner really makes, each as the verdict it gives, with what to say about it.
_MISTAKES = [
    (lambda r: "faster" if statistics.median(r) < 1 else "slower",
     "your answers are the ones a single middle value (the median, say) gives, and one number is not a claim: "
     "claim a difference only when the whole interquartile range is on one side of 1"),
    (lambda r: "faster" if statistics.median(r) < 1 else "slower" if statistics.median(r) > 1 else "no clear difference",
     "your answers are the ones a single middle value (the median, say) gives, and one number is not a claim: "
     "claim a difference only when the whole interquartile range is on one side of 1"),
    (lambda r: "faster" if max(r) < 1 else "slower" if min(r) > 1 else "no clear difference",
     "your answers are the ones a judgment by the whole range (lowest to highest ratio) gives: then one odd round "
     "blocks every claim. Use the quartiles, the middle half of the rounds"),
    (lambda r: _by_quartiles(r, strict=False),
     "your answers are the ones <= and >= give: a quartile of exactly 1 is not below (or above) 1, so compare "
     "with < and >"),
    (lambda r: _by_quartiles(r, method="exclusive"),
     "your answers are the ones 'exclusive' quartiles give (statistics.quantiles' default, or a count of rounds "
     "by position): the benchmark uses method='inclusive', numpy's default"),
    (lambda r: _sides(max(sorted(r)[1:-1]) < 1, min(sorted(r)[1:-1]) > 1),
     "your answers are the ones the range without its lowest and highest round gives: the quartiles leave out a "
     "quarter of the rounds at each end, whatever their number"),
    (lambda r: _sides(statistics.mean(r) + statistics.stdev(r) < 1, statistics.mean(r) - statistics.stdev(r) > 1),
     "your answers are the ones the mean plus or minus one standard deviation gives: one odd round moves both and "
     "can block a claim the other rounds support. Use the quartiles, the middle half of the rounds"),
    (lambda r: _sides(sum(x < 1 for x in r) >= 0.9 * len(r), sum(x > 1 for x in r) >= 0.9 * len(r)),
     "your answers are the ones a share of the rounds below (or above) 1 gives: this exercise's claim rests on the "
     "interquartile range alone (the benchmark's count of rounds is a second condition, left out here)"),
    (lambda r: _sides(sorted(r)[3 * len(r) // 4] < 1, sorted(r)[len(r) // 4] > 1),
     "your answers are the ones quartiles taken by position give (sorted(ratios)[n // 4] and [3 * n // 4]): the "
     "benchmark interpolates between rounds, as statistics.quantiles(ratios, n=4, method='inclusive') does"),
    (lambda r: _sides(statistics.median(r) + (_quartiles(r)[1] - _quartiles(r)[0]) / 2 < 1,
                      statistics.median(r) - (_quartiles(r)[1] - _quartiles(r)[0]) / 2 > 1),
     "your answers are the ones the median plus or minus half the interquartile range gives: the quartiles need not "
     "sit evenly around the median (skewed rounds), so compare the quartiles themselves with 1"),
    (lambda r: _sides(_quartiles(r)[1] < 1 and statistics.mean(r) < 1, _quartiles(r)[0] > 1 and statistics.mean(r) > 1),
     "your answers also ask the mean to lie on the same side of 1: one very slow (or fast) round pulls the mean "
     "across 1 and blocks a claim the interquartile range supports. Use the quartiles alone"),
    (lambda r: _sides(_quartiles(r)[1] < 1, _quartiles(r)[1] > 1),
     "for 'slower' the whole interquartile range must lie above 1: compare the lower quartile with 1 (q25 > 1), "
     "not the upper one"),
    (lambda r: _sides(_quartiles(r)[1] < 1, False),
     "your verdict never says 'slower': when the whole interquartile range lies above 1 (q25 > 1), the variant "
     "took longer than eager"),
    (lambda r: _sides(_quartiles([1 / x for x in r])[0] > 1, _quartiles([1 / x for x in r])[1] < 1),
     "your answers are the ones the quartiles of the speed-ups (1 / ratio) give: a quartile interpolates between two "
     "rounds, so the quartiles of 1 / ratio are not 1 over the ratios' quartiles. Take the quartiles of the ratios "
     "themselves"),
    (lambda r: _sides(_quartiles(r)[1] < 0.99, _quartiles(r)[0] > 1.01),
     "your answers are the ones a margin around 1 gives (0.99 and 1.01, say): the claim needs the interquartile range "
     "strictly on one side of 1, and 1 itself is the line, with no margin"),
    (lambda r: _sides(_quartiles(r)[0] > 1, _quartiles(r)[1] < 1),
     "you read the ratio the wrong way round: it is the variant's time divided by eager's, so below 1 means the "
     "variant took less time, faster"),
]


def _answers(verdict):
    """The learner's answer on every case, or (label, error) for the first case where the function raised."""
    answers = []
    for label, ratios in _VERDICT_CASES:
        try:
            with learner_code():
                answers.append(verdict(list(ratios)))
        except Exception as error:  # any error is the learner's to see, as one line
            return answers, (label, error)
    return answers, None


def _fresh_rounds(count=12):
    """New per-round ratios at each call, drawn around 0.6, 1 and 1.4: the listed cases are on screen, and a verdict
    that looks them up instead of computing from the ratios must meet rounds it has never seen."""
    draw = secrets.SystemRandom()
    while True:
        cases = []
        for i in range(count):
            centre, spread = (0.6, 1.0, 1.4)[i % 3], draw.choice((0.05, 0.2, 0.5))
            cases.append([round(max(0.05, draw.gauss(centre, spread)), 2) for _ in range(draw.randint(5, 11))])
        # a quartile within float rounding of 1 would make the reference's side a matter of rounding: draw again
        near_one = any(abs(q - 1) < 1e-9 for r in cases for q in _quartiles(r))
        if len({_reference_verdict(r) for r in cases}) == 3 and not near_one:  # each verdict needed at least once
            return cases


def _check_fresh_rounds(verdict, allowed) -> bool:
    """After the listed cases: the same verdict on fresh rounds, named as such when it fails there only."""
    for ratios in _fresh_rounds():
        q25, median, q75 = statistics.quantiles(ratios, n=4, method="inclusive")
        shown = f"{ratios} (median {median:.2f}, interquartile range {_q(q25)}–{_q(q75)})"
        try:
            with learner_code():
                answer = verdict(list(ratios))
        except Exception as error:  # noqa: BLE001 - the learner's error, as one line
            print(f"✘ Right on the {len(_VERDICT_CASES)} listed cases, but on new rounds {shown} verdict raised "
                  f"{_one_error(error)}: it must compute from any list of ratios, not only the listed ones.")
            return False
        wanted = _reference_verdict(ratios)
        if answer != wanted:
            got = f"{answer!r}" if isinstance(answer, str) and answer in allowed else f"{answer!r} (not one of the three strings)"
            print(f"✘ Right on the {len(_VERDICT_CASES)} listed cases, but on new rounds {shown} you said {got}, "
                  f"expected {wanted!r}: compute the verdict from the quartiles of the ratios it is given, not from "
                  "the listed cases, and compare them with 1 itself (strictly below or above it, with no margin).")
            return False
    given = [1.3, 0.8, 1.1, 0.9, 1.0]
    kept = list(given)
    try:
        with learner_code():
            verdict(given)
    except Exception:  # noqa: BLE001 - it ran on every case above: a side effect is all this call looks for
        pass
    if given != kept:  # the right answers, but the caller's data changed: as the other checkers, a ✘
        change = ("reorders the list it is given (ratios.sort() works in place, so the caller's rounds lose their "
                  "order); sorted(ratios) leaves the caller's list as it was" if sorted(given) == sorted(kept) else
                  "changes the list it is given (the caller's rounds are not what they were after the call): compute "
                  "from the list without altering it")
        print(f"✘ The right verdict on every case, but it {change}.")
        return False
    print(f"✔ Right on all {len(_VERDICT_CASES)} listed cases, quartile ties and one-off rounds included, and on "
          "12 new sets of rounds drawn for this check: your verdict claims a difference only when the interquartile "
          "range is on one side of 1.")
    return True


def check_honest_verdict(verdict) -> bool:
    """07: ``verdict(ratios)`` says 'faster', 'slower' or 'no clear difference' from per-round ratios' quartiles."""
    if not _require_function(verdict, "check_honest_verdict", "verdict"):
        return False
    answers, raised = _answers(verdict)
    if raised:
        label, error = raised
        print(f"✘ On {label}, verdict raised {_one_error(error)}")
        return False
    allowed = ("faster", "slower", "no clear difference")
    odd = [a for a in answers if not isinstance(a, str) or a not in allowed]
    if odd:
        print(f"✘ verdict returned {odd[0]!r}: return one of the strings {', '.join(map(repr, allowed))}.")
        return False
    wanted = [_reference_verdict(r) for _, r in _VERDICT_CASES]
    if answers == wanted:
        return _check_fresh_rounds(verdict, allowed)
    # A mistake is named only when it alone gives every one of the answers: two that give the same ones would make
    # the name a guess.
    named = {why for mistake, why in _MISTAKES if [mistake(list(r)) for _, r in _VERDICT_CASES] == answers}
    hint = named.pop() if len(named) == 1 else ("claim a difference only when the whole interquartile range, "
                                                "computed with method='inclusive', is strictly on one side of 1")
    i = next(i for i, (a, w) in enumerate(zip(answers, wanted)) if a != w)
    label, ratios = _VERDICT_CASES[i]
    q25, median, q75 = statistics.quantiles(ratios, n=4, method="inclusive")
    print(f"✘ On {label} {ratios} (median {median:.2f}, interquartile range {_q(q25)}–{_q(q75)}) you said "
          f"{answers[i]!r}, expected {wanted[i]!r}: {hint}.")
    return False
