"""Exercise checker for 00_start_here."""
import torch

from ..course.guards import require_module

__all__ = ["check_other_branch"]


def check_other_branch(model, x) -> bool:
    """00: ``x`` must make the loaded gate model take its ``else`` branch (output == -x)."""
    require_module(model, "check_other_branch")
    if not isinstance(x, torch.Tensor):
        print(f"✘ x should be a tensor, like torch.tensor([1.0, 2.0]); you gave a {type(x).__name__}.")
        return False
    out = model(x)
    if torch.equal(out, -x):
        print(f"✔ Right: sum(x) = {x.sum().item():g} is not positive, so the loaded program negated x.")
        return True
    print(f"✘ Not yet: sum(x) = {x.sum().item():g} > 0, so the model doubled x. Try an input whose sum is ≤ 0.")
    return False
