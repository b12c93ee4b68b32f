"""One place for torch 2.14's TorchScript deprecation warnings (explained in 00 and 02).

Every ``torch.jit`` entry point warns ``FutureWarning: `torch.jit.X` is deprecated``. The
workbook shows that warning once, explains it, and then hides exactly that message and
nothing else: TracerWarnings and every other warning that teaches stay visible.
"""
import contextlib
import re
import warnings

__all__ = ["DEPRECATION_PATTERN", "hide_deprecation_warnings", "show_deprecation_warnings",
           "is_deprecation_warning", "deprecations_hidden"]

# Matches "`torch.jit.trace` is deprecated. Please switch to ..." and its siblings.
DEPRECATION_PATTERN = r"`torch\.jit\.[A-Za-z_.]+` is deprecated"


def is_deprecation_warning(message) -> bool:
    """True for the TorchScript deprecation FutureWarning, False for any other warning."""
    return re.match(DEPRECATION_PATTERN, str(message)) is not None


def hide_deprecation_warnings() -> None:
    """Silence only the TorchScript deprecation FutureWarnings; every other warning still shows."""
    warnings.filterwarnings("ignore", message=DEPRECATION_PATTERN, category=FutureWarning)


def show_deprecation_warnings() -> None:
    """Undo :func:`hide_deprecation_warnings`, to see the deprecation notices again."""
    warnings.filters[:] = [f for f in warnings.filters
                           if not (f[0] == "ignore" and f[2] is FutureWarning and f[1] is not None
                                   and f[1].pattern == DEPRECATION_PATTERN)]
    warnings.filterwarnings("always", message=DEPRECATION_PATTERN, category=FutureWarning)


@contextlib.contextmanager
def deprecations_hidden(record: bool = False):
    """A block in which only the deprecation notices are hidden; ``record=True`` yields every other warning."""
    with warnings.catch_warnings(record=record) as seen:
        if record:
            warnings.simplefilter("always")
        hide_deprecation_warnings()
        yield seen
