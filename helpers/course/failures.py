"""Live failures, asserted (introduced in 01_dynamic_models, used by every notebook that shows an error).

``with H.expect_failure(RuntimeError, "example_kwarg_inputs"):`` runs its body and

* fails the notebook (``AssertionError``) if nothing is raised, or if the error has another
  type or does not mention the expected fragment, so a torch release that fixes a pitfall
  turns the test suite red instead of leaving the workbook teaching something false;
* otherwise prints the error as one short line, and keeps the full text and traceback on the
  returned object (``.message``, ``.show_traceback()``) for whoever wants them.
"""
import contextlib
import logging
import re
import traceback
import warnings

__all__ = ["expect_failure", "CaughtFailure", "short_message", "torch_warnings", "TorchWarnings"]


# TorchScript often opens its messages with a generic line; the cause comes later.
INTERPRETER_OPENER = "The following operation failed in the TorchScript interpreter"
_GENERIC_OPENERS = ("Arguments for call are not valid", INTERPRETER_OPENER, "Traceback of TorchScript")
# Torch's C++ checks prefix where they sit ("[enforce fail at inline_container.cc:230] .") and the zip
# reader appends a note about miniz: neither says anything about the learner's code or file.
_CPP_BOOKKEEPING = re.compile(r"\[enforce fail at [^\]]*\]\s*\.?\s*| This is an internal miniz error.*")


def release_frames(error: BaseException) -> BaseException:
    """Drop the tracebacks along ``error``'s chain (its causes and contexts) and return it.

    An error kept after ``except`` keeps its frames alive. For a failed ``torch.jit.script``, one of those frames
    still holds the compiler's record of the call it was compiling, and torch appends that record ("... is being
    compiled since it was called from ...") to every later TorchScript error in the process, pointing at the wrong
    code. Errors the helpers keep go through here first; what the learner reads (type, message) stays.
    """
    stack, seen = [error], set()
    while stack:
        link = stack.pop()
        if link is None or id(link) in seen:
            continue
        seen.add(id(link))
        link.__traceback__ = None
        stack += [link.__cause__, link.__context__]
    return error


def as_sentence(text: str) -> str:
    """``text`` ending in one full stop: a message that already ends in one (or in "…", "?", "!") gets none more."""
    text = text.rstrip()
    return text if text.endswith((".", "…", "?", "!")) else text + "."


def code_place(file: str, line: int) -> str:
    """``name.py:line``; code typed in a notebook cell lives in a temporary file named by a number, so it is
    ``line N of a cell`` (not ``cell:N``, which reads as a cell's number); code from the diagnosis editor or the
    gallery is ``line N of your code``."""
    name = file.replace(chr(92), '/').rsplit('/', 1)[-1]
    if re.search(r"ipykernel_\d+", file):
        return f"line {line} of a cell"
    if re.fullmatch(r"snippet_[0-9a-f]+\.py", name):
        return f"line {line} of your code"
    return f"{name}:{line}"


def typed_message(error: BaseException, limit: int = 160) -> str:
    """``Type: message`` in one line (``short_message``), the type said once: the last line of an error raised inside
    TorchScript's interpreter already names the error it raised ("RuntimeError: shape '[297, 64]' is invalid ...")."""
    text, name = short_message(error, limit), type(error).__name__
    while text.startswith(f"{name}: "):
        text = text[len(name) + 2:]
    if re.match(r"[A-Z]\w*(?:Error|Exception): ", text):  # the interpreter's own type, under torch.jit.Error's
        return text
    return f"{name}: {text}"


def short_message(error: BaseException, limit: int = 160, fragment=None) -> str:
    """One informative line of an error message, cut to ``limit`` characters.

    The line holding ``fragment`` when given; for an error raised inside the TorchScript interpreter,
    its last line (the interpreter's own message, after a TorchScript traceback); else the first line
    that is not a generic opener. Torch's C++ bookkeeping is left out.
    """
    lines = [ln.strip() for ln in _CPP_BOOKKEEPING.sub("", str(error)).splitlines() if ln.strip()]
    if "At:" in lines:  # a Python error raised through TorchScript ends with the Python frames it passed
        lines = lines[:len(lines) - lines[::-1].index("At:") - 1]
    pick = None
    if fragment:
        pick = next((ln for ln in lines if fragment.lower() in ln.lower()), None)
    if pick is None and lines and lines[0].startswith("Trying to flatten user inputs"):
        # torch.export's input-structure mismatch: two tree specs, then the one readable sentence
        pick = next((ln for ln in lines if ln.startswith("Please check")), None)
        pick = f"the inputs are not structured like the example's. {pick}" if pick else None
    redefined = next((found for ln in lines for found in [re.search(r"Can't redefine method: \w+ on class: "
                                                                    r"[\w.]*?(\w+) ", ln)] if found), None)
    if pick is None and redefined:  # torch keeps a class whose scripting failed: later attempts all say only this
        pick = (f"scripting {redefined.group(1)} failed earlier in this kernel and torch kept the half-made class: "
                f"run the cell defining {redefined.group(1)} again to see the first error")
    if pick is None and lines and lines[0].startswith("Arguments for call are not valid"):
        # TorchScript lists each variant of the operator with why it did not fit: the first one's reason says it
        variant = next((i for i, ln in enumerate(lines[:-1]) if re.match(r"[\w:]+(\.\w+)?\(.*:$", ln)), None)
        if variant is not None:
            name = lines[variant].split("(", 1)[0]
            pick = f"Arguments for call are not valid: {name}: {lines[variant + 1]}"
    if pick is None and lines and lines[0].startswith(INTERPRETER_OPENER):
        pick = lines[-1]
    if pick is None:
        pick = next((ln for ln in lines if not ln.startswith(_GENERIC_OPENERS)), lines[0] if lines else "(no message)")
    # a line that goes on in the next: it ends in a colon or comma, or it is onnxruntime's "for the following
    # indices", whose next line holds the dimension, the size given and the size the file expects
    goes_on = pick.endswith((":", ",", "for the following indices"))
    after = lines[lines.index(pick) + 1] if goes_on and pick in lines[:-1] else ""
    if after and not re.match(r'(File |Traceback|at |[~^])', after) and '.py", line' not in after:
        pick = f"{pick} {after}"  # a line that ends in a colon or comma goes on in the next (unless that is a place in code)
    if len(pick) <= limit:
        return pick
    cut = pick[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"  # at a word's end where one is near


class CaughtFailure:
    """Context manager that expects ``error_type`` whose message contains ``match``."""

    def __init__(self, error_type, match=None, quiet=False):
        types = error_type if isinstance(error_type, tuple) else (error_type,)
        if not types or not all(isinstance(t, type) and issubclass(t, BaseException) for t in types):
            raise TypeError("expect_failure needs an exception class, e.g. expect_failure(RuntimeError, 'text')")
        if match is not None and not isinstance(match, str):
            raise TypeError("expect_failure's match must be a piece of the message (a str) or None")
        self.error_type, self.match, self.quiet = types, match, quiet
        self.error, self._traceback = None, ""

    @property
    def expected(self) -> str:
        names = " or ".join(t.__name__ for t in self.error_type)
        return names + (f" mentioning {self.match!r}" if self.match else "")

    @property
    def message(self) -> str:
        """The whole error message (empty before the block has run)."""
        return str(self.error) if self.error is not None else ""

    def show_traceback(self) -> None:
        """Print the full traceback of the caught error (written down when it was caught)."""
        print(self._traceback or "Nothing was caught yet.")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is None:
            raise AssertionError(f"Expected {self.expected}, but the code ran without error: "
                                 "has this torch version changed the behaviour the notebook describes?")
        if not isinstance(exc, self.error_type):
            raise AssertionError(f"Expected {self.expected}, got {type(exc).__name__}: {short_message(exc)}") from exc
        if self.match and not re.search(re.escape(self.match), str(exc), flags=re.IGNORECASE):
            raise AssertionError(f"Expected {self.expected}, got {type(exc).__name__}: {short_message(exc)}") from exc
        self._traceback = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.error = release_frames(exc)  # a kept compile error would leak into later TorchScript errors
        if not self.quiet:
            # torch often repeats the type inside its message and ends a line on ':' before quoting code
            # the course's own errors are one line by design, their advice at the end: shown whole
            ours = type(exc).__module__.split(".")[0] == __name__.split(".")[0]
            line = short_message(exc, limit=400 if ours else 160, fragment=self.match).rstrip(":")
            prefix = f"{type(exc).__name__}: "
            print(f"✔ failed as expected → {line if line.startswith(prefix) else prefix + line}")
        return True  # swallow the expected error: the notebook goes on

    def __repr__(self):
        state = f"caught {type(self.error).__name__}" if self.error is not None else "nothing caught yet"
        return f"<expect_failure {self.expected}: {state}>"


def expect_failure(error_type, match=None, fn=None, *args, quiet=False, **kwargs):
    """Assert that code fails with ``error_type`` (and ``match`` in its message).

    Use as ``with expect_failure(TypeError, "text") as caught: ...`` or call it with a function:
    ``expect_failure(TypeError, "text", fn, *args)``. Either way you get the ``CaughtFailure``.
    """
    caught = CaughtFailure(error_type, match, quiet=quiet)
    if fn is None:
        return caught
    if not callable(fn):
        raise TypeError(f"expect_failure's third argument must be a function to call, got {type(fn).__name__}")
    with caught:
        fn(*args, **kwargs)
    return caught


class TorchWarnings:
    """What torch warned in a ``with H.torch_warnings() as said:`` block: ``said.warnings`` (Python warnings) and
    ``said.logs`` (log records of WARNING or above). ``bool(said)`` is whether there was anything."""

    def __init__(self):
        self.warnings, self.logs = [], []

    def __bool__(self):
        return bool(self.warnings or self.logs)

    def __repr__(self):
        shown = [str(w.message).splitlines()[0] for w in self.warnings] + [r.getMessage() for r in self.logs]
        return f"<torch_warnings: {len(self.warnings)} warnings, {len(self.logs)} log records{': ' if shown else ''}" \
               f"{'; '.join(shown[:3])}>"


@contextlib.contextmanager
def torch_warnings():
    """Record what torch warns in the block: every Python warning (ResourceWarnings aside: they are the collector's
    notes on unrelated objects) and every WARNING record of a torch logger. Several of torch's loggers (torch.export's,
    torch._inductor's) do not pass their records up to "torch", and some are made only when their module is imported
    inside the block, so the records are read where every logger handles them (``Logger.handle``), after the
    logger's own filters (this course's, on the "no CUDA runtime" notice, still apply)."""
    said = TorchWarnings()
    original = logging.Logger.handle

    def handle(logger, record):
        if (record.levelno >= logging.WARNING and (logger.name == "torch" or logger.name.startswith("torch."))
                and not logger.disabled and logger.filter(record)):
            said.logs.append(record)
        return original(logger, record)

    # a logger set quieter than WARNING would drop its warnings before they became records
    quiet = [(logger, logger.level) for name, logger in list(logging.root.manager.loggerDict.items())
             if isinstance(logger, logging.Logger) and (name == "torch" or name.startswith("torch."))
             and logger.level > logging.WARNING]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        logging.Logger.handle = handle
        for logger, _ in quiet:
            logger.setLevel(logging.WARNING)
        try:
            yield said
        finally:
            logging.Logger.handle = original
            for logger, level in quiet:
                logger.setLevel(level)
            said.warnings[:] = [w for w in caught if not issubclass(w.category, ResourceWarning)]
