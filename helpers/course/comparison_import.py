"""Used by H.start in every notebook: torch's tensor comparison no longer imports DTensor's package to find no DTensor."""
import sys

import torch.testing._comparison as _comparison

__all__ = ["skip_needless_dtensor_import"]

_DTENSOR_MODULE = "torch.distributed.tensor"


def skip_needless_dtensor_import() -> bool:
    """Make ``torch.testing.assert_close`` skip importing ``torch.distributed.tensor`` while nothing has imported it.

    With torch 2.14, the first ``assert_close`` in a process imports that package (and sympy with it) only to ask
    whether either tensor is a ``DTensor``: about half a CPU-second on this course's machines, paid by the first
    ``torch.jit.trace`` of a notebook, whose trace check compares with ``assert_close``. A ``DTensor`` is an instance
    of a class defined inside that package, so before the package is imported no object can be one, and the answer
    is known without the import. Once anything has imported the package, torch's own function runs unchanged.
    Returns whether the comparison now skips the import (False if this torch has no such function).
    """
    original = getattr(_comparison, "_unwrap_dtensor_for_comparison", None)
    if original is None:
        return False
    if getattr(original, "_skips_needless_import", False):
        return True

    def unwrap_dtensor_for_comparison(actual, expected):
        if _DTENSOR_MODULE not in sys.modules:  # no DTensor class exists yet, so neither input is one
            return actual, expected
        return original(actual, expected)

    unwrap_dtensor_for_comparison._skips_needless_import = True
    unwrap_dtensor_for_comparison.__wrapped__ = original
    _comparison._unwrap_dtensor_for_comparison = unwrap_dtensor_for_comparison
    return True
