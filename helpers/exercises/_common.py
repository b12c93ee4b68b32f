"""What several notebooks' checkers share (not re-exported as H.*)."""
import torch

from ..course.failures import as_sentence
from ..course.guards import model_instance


def same_tensor(got, want) -> bool:
    """``got`` is a tensor with ``want``'s shape and values (never raises, whatever the learner returned)."""
    if not isinstance(got, torch.Tensor) or got.shape != want.shape:
        return False
    try:
        return bool(torch.allclose(got.to(want.dtype), want))
    except (RuntimeError, TypeError):
        return False


def as_model(model, who):
    """The learner's answer as a module instance, or None after printing what to pass instead."""
    try:
        return model_instance(model, who)
    except TypeError as error:
        print(f"✘ {as_sentence(str(error))}")
        return None
