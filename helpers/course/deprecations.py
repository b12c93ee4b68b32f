"""One place for the notices the workbook hides: torch 2.14's TorchScript deprecation warnings (explained in 00
and 02), and torch's "No CUDA runtime is found" log line (explained in 10).

The ``torch.jit`` calls that do TorchScript work (trace, script, save, load, freeze,
optimize_for_inference, fork, wait, ...) warn ``FutureWarning: `torch.jit.X` is deprecated``;
``set_fusion_strategy`` warns the same text as a ``DeprecationWarning``; the decorators and markers
(``ignore``, ``unused``, ``export``, ``script_if_tracing``), ``annotate``, ``isinstance`` and
``ScriptModule.save()`` do not warn (02 computes this list). The workbook shows the notice once,
explains it, and then hides exactly that FutureWarning and nothing else: TracerWarnings and every
other warning that teaches stay visible. On Python 3.14+ torch words it differently ("is not
supported in Python 3.14+"), which this pattern does not hide: the workbook supports 3.11-3.13.
"""
import contextlib
import logging
import re
import warnings

__all__ = ["DEPRECATION_PATTERN", "hide_deprecation_warnings", "show_deprecation_warnings",
           "is_deprecation_warning", "deprecations_hidden"]  # and, for the helpers only, drop_no_cuda_notice

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


NO_CUDA_NOTICE = "No CUDA runtime is found"


class _DropNoCudaNotice(logging.Filter):
    def filter(self, record):
        return NO_CUDA_NOTICE not in record.getMessage()


def drop_no_cuda_notice() -> None:
    """Drop only the 'No CUDA runtime is found' record, at the logger that emits it, once per process.

    Torch logs it when torch.utils.cpp_extension is first imported on a machine with a CUDA
    toolkit and no GPU (the benchmark's Timer and AOTInductor import it); the workbook runs on the CPU on
    purpose, so it only distracts. 10 shows where it comes from.
    """
    logger = logging.getLogger("torch.utils.cpp_extension")
    if not any(isinstance(f, _DropNoCudaNotice) for f in logger.filters):
        logger.addFilter(_DropNoCudaNotice())
