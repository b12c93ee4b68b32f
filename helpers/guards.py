"""Input checks shared by every helper a learner calls (introduced in 00_start_here).

Each raises a one-line error that says what to pass instead, so a typo in a notebook cell
gives a sentence to act on rather than a traceback from deep inside torch.
"""
import torch

__all__ = ["require_module", "require_tensor"]


def require_module(obj, who: str = "this helper"):
    """Return ``obj`` if it is a torch model (``nn.Module`` or ``ScriptModule``), else raise TypeError."""
    if isinstance(obj, torch.nn.Module):
        return obj
    hint = " (did you pass the class instead of an instance? add parentheses)" if isinstance(obj, type) else ""
    raise TypeError(f"{who} expects a torch model (an nn.Module instance), got {type(obj).__name__}{hint}")


def require_tensor(obj, who: str = "this helper"):
    """Return ``obj`` if it is a tensor, else raise TypeError naming what was passed."""
    if isinstance(obj, torch.Tensor):
        return obj
    raise TypeError(f"{who} expects a torch.Tensor input, got {type(obj).__name__}: wrap it with torch.tensor(...)")
