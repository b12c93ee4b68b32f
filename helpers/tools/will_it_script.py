"""“Will it script?”: edit a small model, see at once whether TorchScript takes it (introduced in 06_limitations).

``attempt_script(source)`` is the logic and returns a ``ScriptAttempt``: a verdict, the error
as one line plus its full text, any warning, and the generated ``.code``. It never raises for
what the learner typed: a ``SyntaxError`` is reported as "not valid Python", an error in the
module's own code as a Python error, and Python that runs too long (building the model, or calling
it) is stopped after ``time_limit`` seconds, scaled up for a big model. ``torch.jit.script`` itself
is never stopped: a slow compile is reported as slow, not as an endless loop. Eager and scripted
models are compared fairly: each side is one copy called on the test inputs in order, so a model
with state (a counter, a running buffer) gets the same history on both sides.
``WillItScript`` holds the editor's state (presets from the gallery, the text, the test
inputs); ``WillItScriptWidget`` is its thin ipywidgets view; ``H.will_it_script()`` builds both.
"""
import ast
import contextlib
import html
import io
import inspect
import os
import re
import textwrap
import time
import traceback
from dataclasses import dataclass
from typing import Optional

import ipywidgets as widgets
import torch

from ..course.failures import as_sentence
from ..course.guards import TimeLimitReached as _TimeLimit, numpy_part, time_limit as _time_limit
from .parity import (ONE_INTEGER_NOTE, _is_empty, only_nan, _within_atol_of_zero, detections_of, fresh_copy,
                     one_integer_value, tiny_in_every, training_layers)
from .gallery_entries import _Call
from .gallery import (GALLERY, _calls, _highlight, _script, _same_outputs, script_error_line, argument_type_fix,
                      snippet_model)

__all__ = ["ScriptAttempt", "attempt_script", "WillItScript", "WillItScriptWidget", "will_it_script",
           "VERDICTS", "STARTER_FORWARD"]

VERDICTS = {
    "scripts": "✔ scripts",
    "fails to script": "✘ torch.jit.script fails",
    "fails when run": "✘ scripts, but fails when called on the test input",
    "differs from eager": "✘ scripts and runs, but differs from eager PyTorch",
    "not valid Python": "✘ not valid Python (a SyntaxError, before TorchScript is even asked)",
    "Python error": "✘ the code fails as plain Python, before TorchScript is asked",
    "eager fails": "✘ scripts, but the eager model itself cannot be called on the test input",
    "no model": "✘ nothing to script",
    "timed out": "✘ stopped: the code ran longer than the time limit",
}

# Past this many parameters the time limit grows in proportion (calling mobilenet takes longer than a toy).
PARAMETERS_PER_LIMIT = 1_000_000
SLOW_COMPILE_SECONDS = 2.0  # a compile slower than this is mentioned in the note

STARTER_FORWARD = textwrap.dedent("""\
    def forward(self, x):
        # Edit me, then press "Will it script?". Try a lambda, a try/except, y=None ...
        return [x + i for i in range(3)]
    """)


@dataclass
class ScriptAttempt:
    """What happened to one piece of source: ``verdict`` is a key of ``VERDICTS``."""
    source: str
    verdict: str
    short_error: str = ""
    full_error: str = ""
    warning: str = ""
    code: Optional[str] = None
    note: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.verdict == "scripts"

    @property
    def headline(self) -> str:
        return VERDICTS[self.verdict]

    def __repr__(self):
        tail = f" → {self.short_error}" if self.short_error else ""
        return f"<ScriptAttempt {self.verdict}{tail} ({self.seconds * 1000:.0f} ms)>"

    def _repr_html_(self):
        return attempt_html(self)


def check_time_limit(time_limit, who="attempt_script"):
    """A positive number of seconds (or None for no limit); a one-line error otherwise."""
    if time_limit is None:
        return None
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)):
        raise TypeError(f"{who}(time_limit=...) takes a number of seconds such as 5, got {time_limit!r}"[:200])
    if not time_limit > 0 or time_limit == float("inf"):
        raise ValueError(f"{who}(time_limit=...) must be a positive number of seconds such as 5 "
                         f"(or None for no limit), got {time_limit!r}")
    return float(time_limit)


def _scaled(time_limit, model):
    """The limit for calling ``model``: ``time_limit`` per million parameters, never less than ``time_limit``."""
    if time_limit is None:
        return None
    size = sum(p.numel() for p in model.parameters()) if isinstance(model, torch.nn.Module) else 0
    return time_limit * max(1.0, size / PARAMETERS_PER_LIMIT)


_TORCH_BASES = {"Module", "Sequential", "ModuleList", "ModuleDict"}


def _module_source(source: str):
    """The source to import and, for each of its lines, the line of ``source`` it came from (None for a line
    added); ``(None, [])`` if there is nothing to script.

    A snippet that defines ``class Model`` is used as it is. Otherwise, if it defines a top-level
    ``forward``, that ``forward`` and the top-level functions written as methods (a first parameter ``self``, or a
    decorator such as ``@torch.jit.export``) become the methods of a ``class Model(nn.Module)``; everything else
    (imports, constants, plain helper functions that ``forward`` calls by name) stays at module level, above the
    class.
    """
    top = ast.parse(source).body
    own = list(range(1, len(source.splitlines()) + 1))
    if any(isinstance(n, ast.ClassDef) and n.name == "Model" for n in top):
        return source, own
    # the torch models it defines: a base from torch.nn (Module, Sequential, ...) or another of its own models
    classes = [n for n in top if isinstance(n, ast.ClassDef)]
    modules = set()
    for _ in classes:  # enough passes for any chain of subclasses
        modules |= {n.name for n in classes if any(ast.unparse(b).split(".")[-1] in _TORCH_BASES | modules
                                                  for b in n.bases)}
    bases = {ast.unparse(b).split(".")[-1] for n in classes if n.name in modules for b in n.bases}
    leaves = [name for name in modules if name not in bases]  # the most derived: the model, not its base class
    if len(leaves) == 1:  # inspect.getsource(MyNet): the one torch model it defines is the one to script
        return source.rstrip("\n") + f"\n\n\nModel = {leaves[0]}\n", own
    is_def = lambda n: isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    if not any(is_def(n) and n.name == "forward" for n in top):
        return None, []
    lines = [line if line.endswith("\n") else line + "\n" for line in source.splitlines(keepends=True)]
    module_part, class_part, done = [], [], 0
    def is_method(node):  # `def helper(x)` beside forward is called as `helper(x)`: a function, not a method
        if not is_def(node):
            return False
        first = (node.args.posonlyargs + node.args.args)[:1]
        return node.name == "forward" or bool(node.decorator_list) or (first and first[0].arg == "self")

    for node in top:  # each piece takes the comments and blank lines just above it along
        (class_part if is_method(node) else module_part).append(range(done, node.end_lineno))
        done = node.end_lineno
    class_part.append(range(done, len(lines)))
    module_lines = [i for piece in module_part for i in piece]
    class_lines = [i for piece in class_part for i in piece]
    body = "".join(lines[i] for i in class_lines)
    if body and not body.endswith("\n"):
        body += "\n"
    wrapped = ("".join(lines[i] for i in module_lines) + "class Model(nn.Module):\n" + textwrap.indent(body, "    "))
    return wrapped, [i + 1 for i in module_lines] + [None] + [i + 1 for i in class_lines]


_SNIPPET_PLACE = re.compile(r'File "[^"]*snippet_[0-9a-f]+\.py", line (\d+)')


def _in_your_lines(text: str, origin: list) -> str:
    """TorchScript's places in the module made from the learner's code, named by the learner's own line numbers
    (``your code, line 3``) instead of the hidden file's path and its shifted lines."""
    def place(match):
        line = int(match.group(1))
        mine = origin[line - 1] if 0 < line <= len(origin) else None
        return f"your code, line {mine}" if mine else "the class line added around your code"
    return _SNIPPET_PLACE.sub(place, text)


def _argument_tuples(inputs) -> list:
    """``inputs`` as a list of argument tuples: a tensor alone is one call with one argument, never its rows, and a
    list inside is one argument (``[[x1, x2]]`` calls forward with the list)."""
    if inputs is None:
        return []
    if isinstance(inputs, torch.Tensor):
        inputs = [inputs]
    if not isinstance(inputs, (list, tuple)):
        raise TypeError(f"attempt_script(inputs=...) takes a list of inputs, each a tensor or a tuple of arguments, "
                        f"got {type(inputs).__name__}")
    # as parity reads them: a plain tuple is one entry per argument; a tensor, list or dict is one argument
    calls = [item if type(item) is tuple or isinstance(item, _Call) else (item,) for item in inputs]
    if numpy_part([call for call in calls if type(call) is tuple]) is not None:  # eager takes one; script does not
        raise TypeError("attempt_script(inputs=...): a scripted model takes tensors, not NumPy arrays: "
                        "convert each with torch.from_numpy(array)")
    return calls


def _check_source(source, who: str):
    """The code to try must be text: a class or a model gets one line saying how to pass its source."""
    if isinstance(source, str):
        if re.fullmatch(r"[\w ./\\~:-]+\.(py|pt|pt2|pth|onnx|pte|ts)", source.strip(), re.IGNORECASE):
            raise TypeError(f"{who} takes the model's source code as text, and {source.strip()!r} looks like a file "
                            "name: pass its text, e.g. Path(name).read_text() for a .py file (a saved model has "
                            "already taken its route: load it instead)")
        return
    if isinstance(source, type) or isinstance(source, torch.nn.Module):
        cls = source if isinstance(source, type) else type(source)
        raise TypeError(f"{who} takes the model's source code as text, not the "
                        f"{'class' if source is cls else 'model'} {cls.__name__}: pass inspect.getsource({cls.__name__}) "
                        "(the class must be defined in a file or a notebook cell)")
    if isinstance(source, os.PathLike):
        raise TypeError(f"{who} takes the model's source code as text, not a path: pass Path(...).read_text()")
    raise TypeError(f"{who} takes the model's source code as a str, got {type(source).__name__}")


def attempt_script(source: str, inputs=None, time_limit: float = 5.0, folder=None) -> ScriptAttempt:
    """Try to script ``source`` (a ``class Model(nn.Module)`` or just ``def forward(self, ...)``).

    With ``inputs`` (a list of inputs, each a tensor or a tuple of arguments) the scripted model is also
    called on each and compared with eager PyTorch. Every outcome is returned as a ``ScriptAttempt``, never raised.
    """
    _check_source(source, "attempt_script")
    time_limit = check_time_limit(time_limit)
    start = time.perf_counter()
    first_fix = ""  # said before any other note: set once a forward without `self` is found
    origin = []  # the learner's line for each line of the module actually imported

    def done(verdict, error=None, **fields):
        if first_fix:
            fields["note"] = f"{first_fix} {fields.get('note', '')}".strip()
        if error is not None:
            fields.setdefault("short_error", script_error_line(error))
            fields.setdefault("full_error", "".join(traceback.format_exception_only(type(error), error))
                              if isinstance(error, SyntaxError) else str(error))
            fields["full_error"] = _in_your_lines(fields["full_error"], origin)
        return ScriptAttempt(source, verdict, seconds=time.perf_counter() - start, **fields)

    if not source.strip():
        return done("no model", short_error="The editor is empty: write a `def forward(self, x): ...`")
    try:
        compile(source, "<your code>", "exec")
        wrapped, origin = _module_source(source)
    except SyntaxError as exc:
        where = f" (line {exc.lineno})" if exc.lineno else ""
        return done("not valid Python", exc, short_error=f"SyntaxError: {exc.msg}{where}")
    except (ValueError, RecursionError, MemoryError) as exc:  # e.g. null bytes, absurdly nested code
        return done("not valid Python", exc)
    if wrapped is None:
        classes = [n.name for n in ast.parse(source).body if isinstance(n, ast.ClassDef)]
        named = (f" (your code defines {', '.join(classes)}: name the one to script `Model`)" if len(classes) > 1
                 else "")
        return done("no model", short_error="Define `class Model(nn.Module)`, or write just "
                                            "`def forward(self, x): ...` (imports and helper defs may go with it)" + named)
    argument_tuples = _argument_tuples(inputs)
    calls = _calls(argument_tuples)

    def stopped(exc, limit, while_doing):
        return done("timed out", short_error=f"Stopped after {limit:g} s while {while_doing}: does the code loop forever?",
                    full_error=str(exc))

    try:
        with _time_limit(time_limit):
            model = snippet_model(wrapped, folder)
    except _TimeLimit as exc:
        return stopped(exc, time_limit, "running your module's code and building Model()")
    except (Exception, SystemExit) as exc:  # NameError, ImportError, ... in the learner's module
        return done("Python error", exc)
    if not isinstance(model, torch.nn.Module):
        return done("no model", short_error="`Model` must be a torch model: write `class Model(nn.Module):`")
    eager = fresh_copy(model)  # one copy per side, made before either runs: the same starting state
    compile_start = time.perf_counter()
    scripted, error, warning = _script(fresh_copy(model))  # not under the alarm: a compile is slow, never endless
    compile_seconds = time.perf_counter() - compile_start
    slow = (f"Scripting took {compile_seconds:.1f} s (a big model compiles slowly; it did not loop). "
            if compile_seconds > SLOW_COMPILE_SECONDS else "")
    first_fix = _forgotten_self(model)  # whatever happens next, a forward without `self` is the first thing to fix
    if error is not None:  # an unannotated value passed where a tuple or list is wanted gets its annotation named
        from .diagnose import known_hint  # e.g. a lambda outside forward: torch names no construct, the hint does
        fix = argument_type_fix(str(error)) or known_hint(str(error))
        fix = as_sentence(fix[:1].upper() + fix[1:]) if fix else ""
        return done("fails to script", error, warning=warning, note=f"{slow}{fix}".strip())
    code, note = None, slow
    try:
        code = scripted.code
    except Exception as exc:  # e.g. a Tensor argument defaulting to None cannot be printed
        note += f"It scripted, but printing its `.code` fails: {as_sentence(script_error_line(exc))}"
    limit = _scaled(time_limit, model)
    hollow = []  # per test input, why matching eager there proves little ('' when it proves something)
    outputs = []  # eager's answer to each test input
    printed = {"eager": io.StringIO(), "scripted": io.StringIO()}  # what forward prints: compared, not only shown
    for i, call in enumerate(calls):
        try:
            with _time_limit(limit), contextlib.redirect_stdout(printed["eager"]):
                expected = call(eager)
        except _TimeLimit as exc:
            return stopped(exc, limit, f"calling the eager model on test input {i}")
        except (Exception, SystemExit) as exc:
            if first_fix:  # the module sits where the input should: eager cannot be called, whatever TorchScript said
                return done("eager fails", exc, warning=warning, code=code)
            note += (f" Not run on the test input: the eager model fails on it too "
                     f"({script_error_line(exc)}), so that is not a TorchScript problem.")
            note += _training_note(model, [])  # batch norm in training mode refuses one value per channel
            break
        try:
            with _time_limit(limit), contextlib.redirect_stdout(printed["scripted"]):
                got = call(scripted)
        except _TimeLimit as exc:
            return stopped(exc, limit, f"calling the scripted model on test input {i}")
        except Exception as exc:  # an unannotated list or int argument: TorchScript took it for a Tensor
            from .diagnose import known_hint  # e.g. a None default without Optional: an undefined Tensor
            known = known_hint(str(exc))
            fix = argument_type_fix(str(exc)) or (as_sentence(known[:1].upper() + known[1:]) if known else "")
            return done("fails when run", exc, warning=warning, code=code, note=f"{note} {fix}".strip())
        detections = detections_of(eager, expected, got)  # a scripted detector adds its losses, by design
        same, why = _same_outputs(expected, got if detections is None else detections)
        hollow.append("empty" if _is_empty(expected) else "NaN" if only_nan(expected) else
                      "tiny" if _within_atol_of_zero(expected, 1e-6) is not None else "")
        outputs.append(expected)
        if not same:
            return done("differs from eager", short_error=f"test input {i}: {why} (eager's first, the scripted copy's second)", warning=warning,
                        code=code, note=f"{note}{_training_note(model, calls)}{_functional_dropout_note(model)}".strip())
    else:
        inputs = f"{len(calls)} test input{'s' * (len(calls) != 1)}"
        if calls and hollow and all(hollow):  # no ✔ for agreeing on nothing (parity says the same)
            what = {"empty": "empty (no values at all)", "NaN": "all NaN",
                    "tiny": "all within 1e-6 of zero, where any tiny numbers, zeros included, would match"}
            were = what[hollow[0]] if len(set(hollow)) == 1 else "empty, NaN or within 1e-6 of zero"
            note += (f" Runs on {inputs}, but eager's outputs were {were}, so matching them proves little: use "
                     "inputs and weights that give other numbers.")
        elif calls:
            note += f" Runs and matches eager PyTorch on {inputs}."
            small = [] if any(hollow) else tiny_in_every(outputs, 1e-6)  # a part that small beside larger ones
            if one_integer_value(argument_tuples):
                note += f" But {ONE_INTEGER_NOTE}."
            if small:  # one part that small beside larger ones: zeros there would have matched too
                note += (f" But {', '.join(small)} of eager's output lay within 1e-6 of zero on every input, where "
                         "any tiny numbers, zeros included, would match: that part is hardly checked.")
        note += _printed_note(*(text.getvalue() for text in printed.values()))
        note += _save_note(scripted)
        note += _unannotated_note(model) + _training_note(model, calls) + _functional_dropout_note(model)
    if warning:  # the gallery files such code as "scripts with a warning": the verdict says so, not only the panel
        note = ("TorchScript warned while compiling it (the warning is shown with the verdict): read it before you "
                "rely on this copy. " + note.lstrip())
    return done("scripts", warning=warning, code=code, note=note.strip())


def _save_note(scripted) -> str:
    """A sentence when the scripted copy runs but cannot be saved ('' otherwise): a method marked
    @torch.jit.ignore stays a Python call, which torch.jit.save refuses (06 section 3)."""
    try:
        torch.jit.save(scripted, io.BytesIO())
    except Exception as error:
        if "Could not export Python function" in str(error):
            return (" But it cannot be saved: a function it calls is marked @torch.jit.ignore and stays Python, which "
                    "a .pt file cannot hold (mark it @torch.jit.unused to save a copy that raises if it is reached).")
        return f" But it cannot be saved: {as_sentence(script_error_line(error))}"
    return ""


def _forgotten_self(model) -> str:
    """A sentence when forward's first parameter is not ``self``: Python passes the module there, so the name the
    learner meant for the input holds the Model ('' otherwise, and for ``*args``, which has other troubles)."""
    cls = type(model)
    if isinstance(inspect.getattr_static(cls, "forward", None), classmethod):
        return ""  # the class comes first, the input second: nothing forgotten
    if isinstance(inspect.getattr_static(cls, "forward", None), staticmethod):
        return ("forward is a @staticmethod, but TorchScript compiles it as a method that receives the module first: "
                "remove @staticmethod and write `self` as its first parameter.")
    try:
        signature = inspect.signature(cls.forward)
    except (TypeError, ValueError):
        return ""
    parameters = list(signature.parameters.values())
    if not parameters or parameters[0].name == "self" or parameters[0].kind not in (
            inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return ""
    if _used_as_the_module(cls.forward, parameters[0].name, model):
        return ""  # `this.linear`, or never read at all: another name for self, not a forgotten one
    with_self = signature.replace(parameters=[inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                                              *parameters], return_annotation=inspect.Signature.empty)
    return (f"forward's first parameter is the module itself (Python passes it), so `{parameters[0].name}` holds the "
            f"Model, not your input: write `def forward{with_self}:`.")


def _used_as_the_module(function, name: str, model) -> bool:
    """Whether forward's first parameter, ``name``, reads like the module under another name: never read in the
    body, or read for an attribute the model has (``this.linear``); an input is read, for tensor work."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return False  # no source to read: the signature alone speaks
    body = [node for top in tree.body for statement in getattr(top, "body", []) for node in ast.walk(statement)]
    reads = [node for node in body if isinstance(node, ast.Name) and node.id == name]
    if not reads:
        return True
    own = set(vars(model)) | set(dict(model.named_children())) | set(dict(model.named_parameters(recurse=False)))
    own |= set(dict(model.named_buffers(recurse=False))) | {n for c in type(model).__mro__[:-1]
                                                            if c.__module__ != "torch.nn.modules.module" for n in vars(c)}
    attributes = {node.attr for node in body if isinstance(node, ast.Attribute)
                  and isinstance(node.value, ast.Name) and node.value.id == name}
    return bool(attributes & own)


def _printed_note(eager: str, scripted: str) -> str:
    """A sentence when what forward printed differs between eager and the scripted copy ('' otherwise): the verdict
    compares only what forward returns, and TorchScript writes sizes and numbers its own way."""
    if eager == scripted:
        return ""
    def first(text):
        line = next((line for line in text.splitlines() if line.strip()), "nothing")
        return repr(line if len(line) <= 60 else line[:59] + "…")
    return (f" But what forward printed differs: eager printed {first(eager)}, the scripted copy {first(scripted)} "
            "(the verdict compares what forward returns; TorchScript writes sizes and numbers its own way, as 06 shows).")


# torch.nn.functional's dropouts (and torch.dropout): called as functions, they are no layer training_layers sees
_FUNCTIONAL_DROPOUTS = {"dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout"}


def _forward_tree(model):
    """The syntax tree of ``type(model).forward``, or None when its source cannot be read or parsed."""
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(type(model).forward)))
    except (TypeError, ValueError, OSError, SyntaxError):
        return None


def _functional_dropouts(model) -> tuple:
    """(calls that drop in eval mode too, calls that follow ``self.training``) among forward's functional dropouts,
    each as written (``F.dropout``). A call is the first kind, as (written, left at the default), when its training
    argument is left at its default (True) or is ``True``; a layer called as ``self.drop(x)`` is neither
    (``training_layers`` names it)."""
    tree = _forward_tree(model)
    if tree is None:
        return [], []
    always, follows = [], []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in _FUNCTIONAL_DROPOUTS or (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                                                and func.value.id == "self"):
            continue
        written = ast.unparse(func)
        training = next((k.value for k in node.keywords if k.arg in ("training", "train")),
                        node.args[2] if len(node.args) > 2 else None)
        if training is None or (isinstance(training, ast.Constant) and training.value is True):
            if written not in [w for w, _ in always]:
                always.append((written, training is None))
        elif ast.unparse(training) == "self.training" and written not in follows:
            follows.append(written)
    return always, follows


def _functional_dropout_note(model) -> str:
    """A sentence when forward calls a functional dropout that drops in eval mode too (``F.dropout(x, p)``: its
    ``training`` defaults to True), whatever mode Model() is in: ``Model().eval()`` does not turn it off."""
    always, _ = _functional_dropouts(model)
    sentences = [f" `{written}` in forward drops values in eval mode too: its training argument is "
                 f"{'left at its default, True' if default else 'True'}, and `eval()` does not change an argument. "
                 "Pass `self.training` as that argument." for written, default in always]
    return "".join(sentences)


def _training_note(model, calls) -> str:
    """A sentence when Model() is in training mode with layers that act differently then (Dropout, BatchNorm, or a
    functional dropout given ``training=self.training``): the comparison seeds both sides alike, so a match says
    nothing about the model a learner would ship."""
    layers = training_layers(model, own_forwards=False)  # a forward of your own is named by what it calls, below
    if getattr(model, "training", False):
        layers += [f"{name} given self.training" for name in _functional_dropouts(model)[1]]
    if not layers:
        return ""
    dropout, norm = any("dropout" in name.lower() for name in layers), any("Norm" in name for name in layers)
    seeded = " Both sides were seeded alike for the comparison." if calls and dropout else ""
    then = " and ".join((["dropout then passes its input through"] if dropout else []) +
                        (["batch norm uses its running statistics"] if norm else []))
    return (f" Model() has layers in training mode here ({', '.join(layers[:3])} active), and so is its scripted copy."
            f"{seeded} To ship it, script Model().eval(): {then}.")


def _unannotated_note(model) -> str:
    """A sentence when forward uses an argument without a type as a container (``for t in xs``, ``len(xs)``,
    ``xs.items()``): TorchScript takes it for a Tensor, so a test with a tensor passes though the argument is meant
    to be a list or a dict ('' otherwise: a plain ``x`` used as a tensor needs no note)."""
    try:
        parameters = inspect.signature(model.forward).parameters.values()
    except (TypeError, ValueError):
        return ""
    tree = _forward_tree(model)
    if tree is None:
        return ""
    bare = {p.name for p in parameters if p.annotation is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    as_container = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)):
            looped = node.iter.value if isinstance(node.iter, ast.Subscript) else node.iter  # `xs` or `xs[1:]`
            if isinstance(looped, ast.Name):
                as_container.add(looped.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len" and node.args \
                and isinstance(node.args[0], ast.Name):
            as_container.add(node.args[0].id)
        elif isinstance(node, ast.Attribute) and node.attr in ("items", "keys", "values", "append") \
                and isinstance(node.value, ast.Name):
            as_container.add(node.value.id)
    used = sorted(bare & as_container)
    if not used:
        return ""
    names = ", ".join(f"`{n}`" for n in used)
    return (f" TorchScript took {names} for {'a Tensor' if len(used) == 1 else 'Tensors'} (no annotation), though "
            "forward loops over it or takes its len: if it is a list or a dict, annotate it (e.g. "
            "`xs: List[torch.Tensor]`) and test it with one.")


def attempt_html(attempt: ScriptAttempt) -> str:
    """The widget's result panel for one attempt."""
    colour = "#1a7f37" if attempt.ok else "#b35900"
    parts = [f"<div style='color:{colour};font-weight:bold'>{html.escape(attempt.headline)}</div>"]
    if attempt.short_error:
        parts.append(f"<div><code>{html.escape(attempt.short_error)}</code></div>")
    if attempt.full_error and attempt.full_error.strip() != attempt.short_error.strip():
        parts.append(f"<details><summary>full message</summary>"
                     f"<pre style='white-space:pre-wrap'>{html.escape(attempt.full_error)}</pre></details>")
    if attempt.warning:
        parts.append(f"<details open><summary>⚠ warning while scripting</summary>"
                     f"<pre style='white-space:pre-wrap'>{html.escape(attempt.warning)}</pre></details>")
    if attempt.note:
        parts.append(f"<div><i>{html.escape(attempt.note)}</i></div>")
    if attempt.code:
        parts.append(f"<div>TorchScript's <code>.code</code>:</div>{_highlight(attempt.code)}")
    parts.append(f"<div style='color:#777;font-size:smaller'>took {attempt.seconds * 1000:.0f} ms</div>")
    return "".join(parts)


def _default_inputs():
    return [(torch.linspace(-2.0, 2.0, 6).reshape(2, 3),)]


OWN_CODE = "(your own code)"


class WillItScript:
    """The editor's state: current text, test inputs, presets (every gallery entry, broken and fixed)."""

    def __init__(self, source: str = STARTER_FORWARD, inputs=None, time_limit: float = 5.0, folder=None):
        _check_source(source, "WillItScript")
        self.source, self.time_limit, self.folder = source, check_time_limit(time_limit, "WillItScript"), folder
        self.inputs = inputs if inputs is not None else _default_inputs()
        self.presets = {}
        for entry in GALLERY:
            self.presets[f"✘ {entry.title} (broken)"] = (entry.broken, entry.inputs)
            self.presets[f"✔ {entry.title} (fixed)"] = (entry.fixed, entry.fixed_inputs or entry.inputs)
        self.attempt = None

    def choose(self, label: str) -> ScriptAttempt:
        """Load a preset into the editor and try it."""
        if label not in self.presets:
            raise KeyError(f"no preset {label!r}: choose one of the dropdown's entries")
        source, make_inputs = self.presets[label]
        self.source, self.inputs = source, make_inputs()
        return self.update()

    def edit(self, source: str) -> None:
        """Replace the editor's text (the test inputs stay)."""
        if not isinstance(source, str):
            raise TypeError(f"edit expects the code as a str, got {type(source).__name__}")
        self.source = source

    def update(self) -> ScriptAttempt:
        """Try the current text; the result is also kept in ``self.attempt``."""
        self.attempt = attempt_script(self.source, self.inputs, self.time_limit, self.folder)
        return self.attempt


class WillItScriptWidget(widgets.VBox):
    """The view: a preset dropdown, a code editor, a button, and the result panel."""

    def __init__(self, logic: WillItScript):
        self.logic = logic
        self.preset = widgets.Dropdown(options=[OWN_CODE, *logic.presets], value=OWN_CODE,
                                       description="Preset:", layout=widgets.Layout(width="auto"))
        self.editor = widgets.Textarea(value=logic.source, rows=12, layout=widgets.Layout(width="100%"))
        self.editor.add_class("ts-will-it-script-editor")
        self.button = widgets.Button(description="Will it script?", button_style="primary", icon="play")
        self.result = widgets.HTML("")
        self.preset.observe(self._on_preset, names="value")
        self.button.on_click(self._on_button)
        header = ("<style>.ts-will-it-script-editor textarea {font-family: monospace}</style>"
                  "<b>🧪 Will it script?</b> Edit the model (or pick a preset), then press the button.")
        super().__init__([widgets.HTML(header),
                          self.preset, self.editor, self.button, self.result])
        self._show(logic.update())

    def _show(self, attempt: ScriptAttempt) -> None:
        self.result.value = attempt_html(attempt)

    def _on_preset(self, change):
        if change["new"] == OWN_CODE:
            return
        self._show(self.logic.choose(change["new"]))
        self.editor.value = self.logic.source

    def _on_button(self, _button=None):
        self.logic.edit(self.editor.value)
        self._show(self.logic.update())

    def _repr_mimebundle_(self, **kwargs):
        bundle = super()._repr_mimebundle_(**kwargs)
        # Without a live kernel (a static render) show the starting code and its result.
        attempt = self.logic.attempt
        bundle["text/html"] = (f"<div><b>🧪 Will it script?</b> (run in JupyterLab to edit)"
                               f"<pre>{html.escape(self.logic.source)}</pre>"
                               f"{attempt_html(attempt) if attempt else ''}</div>")
        bundle["text/plain"] = f"Will it script? {attempt!r}"
        return bundle


def will_it_script(source: str = STARTER_FORWARD, inputs=None, time_limit: float = 5.0) -> WillItScriptWidget:
    """An editor that says whether a small model scripts, why not, and what TorchScript made of it."""
    _check_source(source, "will_it_script")
    check_time_limit(time_limit, "will_it_script")
    return WillItScriptWidget(WillItScript(source, inputs, time_limit))
