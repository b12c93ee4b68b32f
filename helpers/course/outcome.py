"""Run an experiment and show what happened, error and warnings included (introduced in 02_what_is_torchscript).

``with H.attempt() as run: torch.jit.script(f)`` runs the block, prints the warnings it raised (in the
order they came, one line each, whole words) and the error if any, one line, then lets the notebook
go on. It asserts nothing, so an experiment cell after a prediction says nothing of the answer; a
folded check cell then asserts on ``run.error`` and ``run.warned(...)``.
"""
import os
import warnings

from .deprecations import is_deprecation_warning
from .failures import release_frames, short_message

__all__ = ["attempt", "Attempt", "one_line"]


def one_line(text, limit: int = 200) -> str:
    """The first line of ``text`` (with the next when it ends in a colon), cut at a word boundary (never mid-word)
    when longer than ``limit``."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    if line.endswith(":") and len(lines) > 1:  # "... Detailed error:" goes on in the next line: it says what
        line = f"{line} {lines[1]}"
    if len(line) <= limit:
        return line
    return line[:limit].rsplit(" ", 1)[0].rstrip(",;:") + " …"


class Attempt:
    """What a block did: ``error`` (or None), ``warnings`` (warning messages, in order), printed as it ends."""

    def __init__(self, label: str = "", show: bool = True, keep_deprecations: bool = False):
        self.label, self.show, self.keep_deprecations = label, show, keep_deprecations
        self.error = None
        self.warnings = []
        self._recorder = None

    @property
    def message(self) -> str:
        return str(self.error) if self.error is not None else ""

    @property
    def failed(self) -> bool:
        return self.error is not None

    def warned(self, category=Warning, fragment: str = "") -> list:
        """The messages (str) of the warnings of ``category`` whose text holds ``fragment``."""
        return [str(w.message) for w in self.warnings
                if issubclass(w.category, category) and fragment.lower() in str(w.message).lower()]

    def lines(self) -> list:
        out = []
        for w in self.warnings:
            where = os.path.basename(w.filename or "")
            line = f"{w.category.__name__}{f' ({where})' if where else ''}: {one_line(w.message)}"
            if out and out[-1][0] == line:
                out[-1][1] += 1
            else:
                out.append([line, 1])
        shown = [f"warned  {line}" + (f"  (×{n})" if n > 1 else "") for line, n in out]
        if self.error is not None:
            name = type(self.error).__name__
            text = short_message(self.error, limit=200).rstrip(" :")  # a colon that led to the quoted source, left out
            while text.startswith(f"{name}: "):  # torch often repeats the type, sometimes twice
                text = text.removeprefix(f"{name}: ")
            shown.append(f"raised  {name}: {text}")
            shown += [f"note    {one_line(note)}" for note in getattr(self.error, "__notes__", ())]
        shown = shown or ["no error, no warning"]
        return [f"{self.label}: {line}" for line in shown] if self.label else shown

    def __enter__(self):
        self._recorder = warnings.catch_warnings(record=True)
        self._seen = self._recorder.__enter__()
        warnings.simplefilter("always")  # a warning shown earlier in the kernel still counts here
        return self

    def __exit__(self, exc_type, exc, tb):
        self._recorder.__exit__(None, None, None)
        self.warnings = [w for w in self._seen if self.keep_deprecations or not is_deprecation_warning(w.message)]
        if exc is not None and not isinstance(exc, Exception):
            return False  # KeyboardInterrupt and the like are not part of the experiment
        self.error = release_frames(exc) if exc is not None else None  # see release_frames: no stale call chains
        if self.show:
            print("\n".join(self.lines()))
        return True

    def __repr__(self):
        return f"<attempt: {'; '.join(self.lines())}>"


def attempt(label: str = "", show: bool = True, keep_deprecations: bool = False) -> Attempt:
    """``with H.attempt() as run:`` runs a block, prints its warnings and error (if any), and keeps them.

    ``label`` starts each printed line (to tell two attempts apart). The TorchScript deprecation notice
    (explained in 02) is left out unless ``keep_deprecations=True``.
    """
    if not isinstance(label, str):
        raise TypeError(f"attempt's label is a short text, e.g. H.attempt('defaults'), not {type(label).__name__}")
    return Attempt(label=label, show=show, keep_deprecations=keep_deprecations)
