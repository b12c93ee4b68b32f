"""Exercise checker for 00_start_here."""
import torch

from ..course.failures import short_message

__all__ = ["check_gate_probe"]


def check_gate_probe(model, x) -> bool:
    """00: ``x`` must make the loaded gate model take its ``else`` branch (output == -x)."""
    if not isinstance(model, torch.nn.Module):
        extra = " (the class itself: build it with parentheses)" if isinstance(model, type) else ""
        print(f"✘ The first argument should be the loaded model, e.g. check_gate_probe(loaded, x); "
              f"you gave a {type(model).__name__}{extra}.")
        return False
    if not isinstance(model, torch.jit.ScriptModule):
        print(f"✘ That is the eager {type(model).__name__}: pass the model loaded from the file, "
              "check_gate_probe(loaded, x). The question is whether the loaded program still branches.")
        return False
    if not isinstance(x, torch.Tensor):
        what = f"the class {x.__name__}" if isinstance(x, type) else f"a {type(x).__name__}"
        print(f"✘ x should be a tensor, like torch.tensor([1.0, 2.0]); you gave {what}.")
        return False
    if x.is_complex():
        print("✘ x is complex: `x.sum() > 0` has no meaning for complex numbers. Use real numbers, like "
              "torch.tensor([-1.0, 0.5]).")
        return False
    if x.dtype == torch.float32 and x.shape == (2,) and torch.equal(x, torch.tensor([-1.0, -2.0])):
        print("✘ That is the input tried above. Find another whose sum is not positive, for instance one mixing "
              "positive and negative values, or one whose sum is exactly 0.")
        return False
    if x.dtype == torch.bool:
        print("✘ x is a bool tensor: its sum counts the Trues, and `-x` (the else branch) is not defined for bools. "
              "Use numbers, like torch.tensor([-1.0, 0.5]).")
        return False
    if x.is_floating_point() and torch.isnan(x).any():
        print("✘ x holds NaN: the model negates it (NaN > 0 is false), but -NaN never equals anything, so no "
              "check can confirm the branch. Use ordinary numbers whose sum is ≤ 0.")
        return False
    try:
        out = model(x)
    except Exception as error:  # e.g. a bool tensor: `-x` is not defined for bools
        print(f"✘ The model fails on your x ({type(error).__name__}: {short_message(error)}). "
              "Use a float tensor, like torch.tensor([-1.0, 0.5]).")
        return False
    total = x.sum().item()
    if isinstance(out, torch.Tensor) and out.shape == x.shape and torch.equal(out, -x):
        print(f"✔ Right: sum(x) = {total:g} is not positive, so the loaded program took its else branch and negated x, "
              "as the eager Gate does.")
        return True
    print(f"✘ Not yet: sum(x) = {total:g} > 0, so the model doubled x. Try an input whose sum is ≤ 0.")
    return False
