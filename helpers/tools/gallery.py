"""The limitations gallery: what TorchScript refuses, the real error, why, and the fix (introduced in 06_limitations).

The gallery is data, kept apart in ``gallery_entries.py``: ``GALLERY`` is a list of ``GalleryEntry``
holding the *source text* of a broken and a fixed model, the error the broken one must raise, and
test inputs on which the fix must script and agree with eager PyTorch. This module runs them:
``check_gallery_entry`` runs one entry live and
raises ``AssertionError`` naming the entry as soon as torch stops behaving as the entry says,
so a torch release that lifts a limitation turns the tests red instead of leaving the
workbook teaching something false.

``load_snippet`` writes each snippet to a file named after its content, in this process's own
work folder, and imports it from there, so that every model it builds has a source file behind
it (``torch.jit.script`` reads that source with ``inspect``): the file is found from any
current directory, and two processes never touch each other's files.
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
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..course.deprecations import is_deprecation_warning
from ..course.failures import INTERPRETER_OPENER, release_frames, short_message, typed_message
from ..course.guards import native_stderr, with_article
from ..course.workdir import work_dir
from .gallery_entries import GALLERY, STAGES, GalleryEntry, _Call, _calls  # the entries are data

__all__ = ["SNIPPET_GLOBALS", "load_snippet", "snippet_model", "captured_native_warnings",
           "script_error_line", "argument_type_fix", "inferred_argument_line", "script_signature",
           "EntryCheck", "GalleryReport", "gallery_entry", "check_gallery_entry",
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
    with native_stderr() as native, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield box
        finally:
            python = [f"{w.category.__name__}: {w.message}" for w in caught if not is_deprecation_warning(w.message)]
    box.append("\n".join(t for t in [native.text.strip(), *python] if t))


def _is_namedtuple(value) -> bool:
    return isinstance(value, tuple) and isinstance(getattr(value, "_fields", None), tuple)


def _same_outputs(a, b, rtol: float = 1e-5, atol: float = 1e-6) -> Tuple[bool, str]:
    """Compare two model outputs (tensors, numbers, or lists/tuples/dicts of them): ``(equal, reason)``."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor)):
            return False, f"{with_article(type(a).__name__)} against {with_article(type(b).__name__)}"
        if a.shape != b.shape or a.dtype != b.dtype:
            return False, f"{a.dtype}{list(a.shape)} against {b.dtype}{list(b.shape)}"
        if not torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            return False, f"values differ by up to {(a.double() - b.double()).abs().max().item():.3g}"
        return True, "same"
    if _is_namedtuple(a) and _is_namedtuple(b) and (type(a).__name__, a._fields) == (type(b).__name__, b._fields):
        pass  # TorchScript hands back its own class for a NamedTuple: same name and fields is the same type
    elif type(a) is not type(b):
        return False, f"{with_article(type(a).__name__)} against {with_article(type(b).__name__)}"
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
# " at 0x55…", and TorchScript's " (of Python compilation unit at: 0x55…)": an address says nothing to a reader
_ADDRESS = re.compile(r" \(of Python compilation unit at: 0x[0-9a-fA-F]+\)| at 0x[0-9a-fA-F]+")


_ANNOTATIONS = {"list": "List[torch.Tensor]", "dict": "Dict[str, torch.Tensor]", "tuple": "Tuple[torch.Tensor, ...]",
                "int": "int", "float": "float", "bool": "bool", "str": "str"}


_INFERRED = re.compile(r"Expected a value of type '([^']+)' for argument '(\w+)' but instead found type "
                       r"'Tensor \(inferred\)'")


def inferred_argument_line(text: str) -> str:
    """The line of a compile error that says a value passed on was taken for a Tensor for want of an annotation
    (``Expected a value of type 'Optional[Tuple[Tensor, Tensor]]' for argument 'hx' ...``), or ""."""
    found = _INFERRED.search(str(text))
    return found.group(0) + "." if found else ""


def argument_type_fix(reason: str) -> str:
    """The annotation to add when the scripted copy was given another type than the one TorchScript assumed."""
    inferred = _INFERRED.search(reason)
    if inferred:  # at compile time: a value of the learner's, unannotated, passed where another type is wanted
        expected, argument = inferred.groups()
        return (f"the value passed for `{argument}` was taken as a Tensor, because the argument of your forward that "
                f"holds it has no type annotation: annotate that argument as `{expected}` (from typing import "
                "Optional, Tuple, List)")
    found = re.search(r"Expected a value of type '([^']+)' for argument '(\w+)' but instead found type '(\w+)", reason)
    if not found:
        return ""
    expected, argument, given = found.groups()
    if argument == "self" or "Arguments for call are not valid" in reason:
        return ""  # an operation's own argument (aten::sum's `self`), not one of forward's: the marked line says which
    if not expected.startswith("Tensor"):  # annotated already (one without is "Tensor (inferred)"): the value differs
        return (f"forward's `{argument}` is annotated as {expected}, and the call passed a {given}: pass a value of "
                "that type, or change the annotation to the type you pass")
    annotation = _ANNOTATIONS.get(given.lower(), "the type you pass")
    keys = ", or `Dict[int, torch.Tensor]` for int keys" if given.lower() == "dict" else ""
    return (f"TorchScript took `{argument}` as {expected} (an argument without a type annotation is taken as a "
            f"Tensor): annotate it in forward, e.g. `{argument}: {annotation}`{keys} (from typing import List, Dict, "
            "Tuple)")


def kept_function_cause(text: str) -> str:
    """For a function kept on a module (``self.gate = make_gate(3.0)``) that does not compile, torch's message opens
    with "Module ... has no attribute 'gate'" and gives the cause two lines below: that cause, said of the function
    ('' for any other message)."""
    kept = re.search(r"Module '(\w+)' has no attribute '(\w+)' \(This function exists as an attribute on the Python "
                     r"module, but we failed to compile it.*?The error stack is reproduced here:\s*\n\s*(\S[^\n]*)",
                     text, re.S)
    if not kept:
        return ""
    cause = kept.group(3).strip().rstrip(":")
    if cause.endswith(")") and cause.count(")") > cause.count("("):  # the parenthesis torch opened before the stack
        cause = cause[:-1].rstrip(":")
    return f"{kept.group(2)} (a function kept on {kept.group(1)}) does not compile: {cause}"


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
    if not fragment:
        text = kept_function_cause(text) or text
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not fragment and inferred_argument_line(text):  # a list of overloads: the line that names the cause
        text = inferred_argument_line(text)
    elif not (fragment and fragment.lower() in text.lower()):
        inner = [ln for ln in lines if ln.startswith("RuntimeError: ")]
        if inner and INTERPRETER_OPENER in text:
            text = inner[-1][len("RuntimeError:"):].strip()  # the interpreter's own message, whatever the type
        else:
            text = "\n".join(ln for ln in lines if not ln.startswith(_OVERLOAD_LINES)) or text
    name = type(error).__name__
    pick = short_message(text, limit=len(text) + 400, fragment=fragment)  # no cut here (a rewording may be longer)
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
            scripted, error = None, release_frames(exc)  # kept: its frames must not leak into later errors
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
        if self.entry.stage == "differs":
            first = self.message.splitlines()[0].removeprefix("scripted: ")
            return f"no error; the scripted result differs from eager: {first}"
        return short_message(self.warning.replace("Warning: ", "", 1).split("] ", 1)[-1])

    @property
    def where(self) -> str:
        return {"script": "torch.jit.script fails", "run": "scripts, then fails when called",
                "warn": "scripts with a warning", "differs": "scripts, runs, answers differently"}[self.entry.stage]

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
                             + typed_message(error))
    if entry.stage == "run":
        try:
            calls[0](scripted)
        except Exception as exc:
            error = release_frames(exc)
        else:
            raise AssertionError(f"{name}: expected the scripted broken model to fail on its first test input "
                                 f"with {_expected(entry)}, but it ran: update the gallery")
    if entry.stage == "differs":
        got, expected = calls[0](scripted), eager_broken[0]
        same, why = _same_outputs(expected, got)
        if same:
            raise AssertionError(f"{name}: expected the scripted broken model to answer differently from eager "
                                 f"on its first test input, but it matched: update the gallery")
        message = f"scripted: {got!r}\neager:    {expected!r}\n({why})"
        if entry.fragment.lower() not in repr(got).lower():
            raise AssertionError(f"{name}: expected {entry.fragment!r} in the scripted result, got {got!r}")
        error = None
    elif entry.stage == "warn":
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
        key_width = max((len(c.entry.key) for c in self), default=0)  # the longest of each sets its column
        where_width = max((len(c.where) for c in self), default=0)
        return "\n".join(f"✔ {c.entry.key:{key_width}} {c.where:{where_width}} {c.short}" for c in self)

    def _repr_html_(self):
        rows = "".join(f"<details><summary>✔ <b>{html.escape(c.entry.title)}</b> — {html.escape(c.where)}: "
                       f"<code>{html.escape(c.short[:110])}</code></summary>{_card_html(c, False)}</details>"
                       for c in self)
        return (f"<div><b>{len(self)} gallery entries checked live</b> (click one to open its card)</div>{rows}")


def check_gallery(entries=None, folder=None) -> GalleryReport:
    """Check every gallery entry (or the given ones) live; raises AssertionError naming the first that fails."""
    if entries is not None and not isinstance(entries, (list, tuple)):  # one name or entry, not a list of them
        entries = [entries]
    entries = GALLERY if entries is None else [gallery_entry(e) for e in entries]
    return GalleryReport(check_gallery_entry(e, folder) for e in entries)
