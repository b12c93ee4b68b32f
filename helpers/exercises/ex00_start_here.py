"""Exercise checker for 00_start_here."""
import torch

from ..course.failures import typed_message
from ._common import describe, shortened, values

__all__ = ["check_gate_probe"]

_TRIED_ABOVE = [-1.0, -2.0]  # the negative input notebook 00 already ran through `loaded`


def _has_branch(model) -> bool:
    """Whether ``model``'s forward program holds a prim::If (a scripted Gate does; a trace of it does not)."""
    try:
        return bool(model.graph.findAllNodes("prim::If"))
    except Exception:  # no forward, or no graph to read: then nothing says it branches
        return False


def check_gate_probe(model, x) -> bool:
    """00: ``x`` must make the loaded gate model take its ``else`` branch (output == -x)."""
    if not isinstance(model, torch.nn.Module):
        # Building the class would give the eager Gate, which is not the question: point at `loaded` directly.
        what = describe(model)
        print("✘ The first argument should be the loaded model (the file read back with torch.jit.load), as in "
              f"check_gate_probe(loaded, x); you gave {what}.")
        return False
    if not isinstance(model, torch.jit.ScriptModule):
        print(f"✘ That is the eager {type(model).__name__}: pass the model loaded from the file, "
              "check_gate_probe(loaded, x). The question is whether the loaded program still branches.")
        return False
    if isinstance(model, torch.jit.TopLevelTracedModule):
        print("✘ That is a traced module: tracing records the one path its example took, so a Python `if` does not "
              "survive in it and there is no branch to probe. Pass the model loaded from the file, "
              "check_gate_probe(loaded, x).")
        return False
    if not isinstance(x, torch.Tensor):
        what = describe(x)
        print(f"✘ x should be a tensor, like torch.tensor([-1.0, 0.5]); you gave {what}.")
        return False
    if x.layout != torch.strided:  # sparse and other layouts: the loaded program takes ordinary tensors
        print(f"✘ x is a {str(x.layout).replace('torch.', '')} tensor: give an ordinary (dense) tensor, like "
              "torch.tensor([-1.0, 0.5]).")
        return False
    if x.device.type != "cpu":
        print(f"✘ x is on the {x.device.type} device: the loaded model runs on the CPU, so make x there, like "
              "torch.tensor([-1.0, 0.5]).")
        return False
    if x.is_complex():
        print("✘ x is complex: `x.sum() > 0` has no meaning for complex numbers. Use real numbers, like "
              "torch.tensor([-1.0, 0.5]).")
        return False
    # The branch depends only on the values: the same two numbers in another shape or dtype are the same probe.
    if x.dtype != torch.bool and x.numel() == 2 and x.flatten().tolist() == _TRIED_ABOVE:
        dressed = [f"shape {tuple(x.shape)}"] if x.shape != (2,) else []
        dressed += [f"dtype {x.dtype}"] if x.dtype != torch.float32 else []
        other = f" (here as {' and '.join(dressed)}, which changes nothing for `x.sum() > 0`)" if dressed else ""
        print(f"✘ That is the input tried above, -1 and -2{other}. Find another input whose sum is not positive, "
              "for instance one mixing positive and negative values, or one whose sum is exactly 0.")
        return False
    if x.dtype == torch.bool:
        print("✘ x is a bool tensor: its sum counts the Trues, and `-x` (the else branch) is not defined for bools. "
              "Use numbers, like torch.tensor([-1.0, 0.5]).")
        return False
    if x.numel() == 0:
        print(f"✘ x is empty (shape {tuple(x.shape)}): its sum is 0, so Gate negates it, but negating no numbers shows "
              "nothing. Give at least one number, like torch.tensor([-1.0, 0.5]).")
        return False
    if x.dtype != torch.bool and bool((x == 0).all()):
        print("✘ x holds only zeros: doubled or negated, 0 stays 0, so the output cannot show which branch ran. "
              "Give numbers that are not all 0, such as two that cancel, like torch.tensor([-1.0, 1.0]).")
        return False
    if x.is_floating_point() and torch.isnan(x).all():
        print("✘ x holds only NaN: doubled or negated, NaN stays NaN, so the output cannot show which branch ran. "
              "Give at least one ordinary number, like torch.tensor([-1.0, 0.5]).")
        return False
    if x.is_floating_point() and not bool(((x != 0) & ~torch.isnan(x)).any()):
        print("✘ x holds only zeros and NaN: doubled or negated, each stays what it was, so the output cannot show "
              "which branch ran. Give at least one number other than 0, like torch.tensor([-1.0, 0.5]).")
        return False
    try:
        out = model(x.clone())  # a copy: -x below must be the negation of the input as the learner gave it
    except Exception as error:  # e.g. a bool tensor: `-x` is not defined for bools
        print(f"✘ The model fails on your x ({typed_message(error)}). "
              "Use a float tensor, like torch.tensor([-1.0, 0.5]).")
        return False
    total = x.sum().item()
    # Python's ints do not wrap around; the tensor's integer sum may (int64 past ±9.2e18, int8 past ±127)
    exact = sum(int(v) for v in x.flatten().tolist()) if not x.is_floating_point() else total
    wrapped = not x.is_floating_point() and exact != total
    kind = str(x.dtype).replace("torch.", "")
    if total > 0:
        if wrapped:
            print(f"✘ Not yet: the true sum of x, {exact:g}, is ≤ 0, but it is past the smallest {kind}, so x.sum() "
                  f"wrapped around to {total:g} > 0, and Gate takes its if branch and doubles x. Try smaller numbers.")
            return False
        print(f"✘ Not yet: sum(x) = {total:g} > 0, so Gate takes its if branch and doubles x. "
              "Try an input whose sum is ≤ 0.")
        return False
    # equal_nan: a NaN beside ordinary numbers stays NaN either way, and the ordinary numbers show the branch
    negated = isinstance(out, torch.Tensor) and out.shape == x.shape and out.dtype == x.dtype and (
        torch.equal(out, -x) or (x.is_floating_point() and torch.allclose(out, -x, rtol=0, atol=0, equal_nan=True)))
    if not negated:
        # The input is right; the model is not the loaded Gate (whatever it is, say only what it returned).
        print(f"✘ Your x is right: sum(x) = {total:g} is not positive, so Gate negates it. But this model returned "
              f"{shortened(values(out))} instead of -x = {values(-x)}: it is not the Gate loaded above. "
              "Pass that one, check_gate_probe(loaded, x).")
        return False
    if not _has_branch(model):
        print(f"✘ Your x is right: sum(x) = {total:g} is not positive. But this model's program has no `if` "
              "(no prim::If in its graph), so it negates every input and took no branch: it is not the scripted "
              "Gate. Pass the model loaded from the file, check_gate_probe(loaded, x).")
        return False
    # Whether the module came from torch.jit.load cannot be told reliably, so the praise names TorchScript only.
    shown = f"It returned {shortened(values(out), 80)}, which is -x."
    if wrapped and exact > 0:
        print(f"✔ The program negated x, but by accident: the true sum of x, {exact:g}, is past the largest {kind}, so "
              f"x.sum() wrapped around to {total:g}, which is not positive, and the program took its else branch. "
              f"{shown} An input whose true sum is ≤ 0 shows the branch without the overflow.")
        return True
    if wrapped:  # past the smallest, and still not positive: the branch is right, the printed sum is not the true one
        print(f"✔ Right: the true sum of x, {exact:g}, is not positive (x.sum() wrapped around to {total:g} in {kind}, "
              f"not positive either), so the TorchScript program took its else branch and negated x. {shown}")
        return True
    why = ("sum(x) is NaN, and NaN > 0 is false" if total != total else f"sum(x) = {total:g} is not positive")
    print(f"✔ Right: {why}, so the TorchScript program took its else branch and negated x, as the else branch of "
          f"Gate's source says. {shown}")
    return True
