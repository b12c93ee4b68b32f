"""Exercise checkers for 03_tracing: each prints ✔ or ✘ with a reason and returns True or False."""
import warnings

import torch

from ..course.guards import model_instance, require_module
from ..course.failures import as_sentence, typed_message
from ..models import BranchModel, sample_model, example_input
from ..tools.parity import parity, _one_line
from ._common import describe, dtype_mistake, on_copies, same_tensor as _same, torchscript_kind as _torchscript_kind, values

__all__ = ["check_branch_without_if", "check_catching_inputs"]

_BOOL_WARNING = "Converting a tensor to a Python boolean"
_NUMBER_WARNING = "Converting a tensor to a Python "  # number (.item()), float (float()), integer (int()), index ...


def _tiny_positive_sum():
    """Two values of 0.001, the second one float32 step smaller in size: their sum is about 1.2e-10 and positive."""
    a = torch.tensor(1e-3)
    return torch.stack([a, -torch.nextafter(a, torch.tensor(0.0))])


def _branch_test_inputs():
    """Inputs on both sides of BranchModel's `if`: the boundary (sum exactly 0) and sums just either side of it."""
    return {"[1, 2, 3]": torch.tensor([1.0, 2.0, 3.0]), "[-1, -2, -3]": torch.tensor([-1.0, -2.0, -3.0]),
            "[2, -3]": torch.tensor([2.0, -3.0]), "[-1, 4, -2]": torch.tensor([-1.0, 4.0, -2.0]),
            "[1, -1]": torch.tensor([1.0, -1.0]), "zeros(4)": torch.zeros(4),
            # the sign set by the last value: a rule read from the first few values (x[:3].sum()) decides otherwise
            "[1, 1, 1, -5]": torch.tensor([1.0, 1.0, 1.0, -5.0]),
            # sums just above and below 0 (0.01 and -0.01): a condition on another threshold, such as
            # x.sum() > 0.5 or x.mean() >= 0.3, agrees on every input above and fails on one of these
            "[0.26, -0.25]": torch.tensor([0.26, -0.25]), "[-0.26, 0.25]": torch.tensor([-0.26, 0.25]),
            # a sum of 0.0005: a threshold between 0 and 0.01 (x.sum() > 1e-3) passes every case above, not this one
            "[0.0005]": torch.tensor([0.0005]),
            # a sum of about 1e-10 from two values of 0.001 that differ by one step of float32: a "float safety"
            # epsilon (x.sum() > 1e-6 or 1e-9) takes the other branch, and the outputs differ by 0.003
            "[0.001, -0.001 + one float step]": _tiny_positive_sum(),
            # sums far below that, down to the smallest float32 above 0: an epsilon of 1e-10, 1e-12 or
            # torch.finfo(x.dtype).tiny (about 1.2e-38) still negates one of these
            "[1e-30]": torch.tensor([1e-30]), "[1e-45]": torch.tensor([1e-45]),
            # 2-D: BranchModel decides on the sum of the whole input; a sum per row or per column decides otherwise
            "[[1, 2], [-3, -4]]": torch.tensor([[1.0, 2.0], [-3.0, -4.0]]),
            "[[-1, 3], [-2, 1]]": torch.tensor([[-1.0, 3.0], [-2.0, 1.0]]),
            # NaN: its sum is not > 0, so BranchModel negates it and returns NaN; a cleanup such as .nan_to_num()
            # returns a number instead (a NaN-free sign rule, x.sum() <= 0 picking -x, returns NaN too: accepted)
            "[nan]": torch.tensor([float("nan")])}


def _per_axis(x, got) -> str:
    """" (a sum per row)" or " (a sum per column)" when ``got`` is BranchModel's rule applied along one axis, else ""."""
    if x.dim() != 2 or not isinstance(got, torch.Tensor) or got.shape != x.shape:
        return ""
    for dim, which in ((-1, "per row"), (0, "per column")):
        if _same(got, torch.where(x.sum(dim, keepdim=True) > 0, x * 2, -x)):
            return (f": yours decides on a sum {which}, BranchModel on the sum of the whole input (x.sum(), "
                    "with no dimension)")
    return ""


def _above_zero(x, got) -> str:
    """A hint when a small positive sum was negated: the condition compares with a number above 0."""
    total = x.sum().item()
    if 0 < total < 0.01 and isinstance(got, torch.Tensor) and _same(got, -x):
        return (f": yours negated a sum of {total:.3g}, so its condition compares with a number above 0 (an "
                "epsilon, or a threshold); BranchModel doubles every sum above 0, however small")
    return ""


def _nan_replaced(want, got) -> str:
    """A hint when BranchModel's answer holds NaN where the learner's holds a number."""
    if isinstance(got, torch.Tensor) and got.shape == want.shape and got.is_floating_point():
        if bool((want.isnan() & ~got.isnan()).any()):
            return (": yours turned a NaN into a number (.nan_to_num(), or a mask that zeroes it); BranchModel "
                    "passes NaN through, as any arithmetic does")
    return ""


def _instantiate(model, who):
    """The learner's model as an instance, or None after printing what to pass instead (never raises)."""
    if isinstance(model, type) and issubclass(model, torch.nn.Module):
        try:
            model = model()
        except TypeError as error:
            print(f"✘ {who}: could not build {model.__name__}() without arguments ({error}); "
                  "pass an instance instead")
            return None
        except Exception as error:  # the learner's own __init__ failed (a Parameter set before super().__init__())
            print(f"✘ Building your model failed: {as_sentence(typed_message(error, 120))} "
                  "Fix __init__ and run the cell again.")
            return None
    try:  # then what model_instance names: nn.Module itself, a misspelled forward, an __init__ without super()
        return model_instance(require_module(model, who), who)
    except TypeError as error:
        print(f"✘ {as_sentence(str(error))}")
        return None


def check_branch_without_if(model) -> bool:
    """03, exercise 1: ``model`` answers like BranchModel, and its trace is right for every input."""
    model = _instantiate(model, "check_branch_without_if")
    if model is None:
        return False
    if isinstance(model, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        print(f"✘ That is already a {_torchscript_kind(model)}: torch.jit.trace hands it back unchanged, so this check "
              "cannot trace it. Pass your nn.Module itself (the class or an instance), with forward written in tensor "
              "operations (torch.where).")
        return False
    example = torch.tensor([1.0, 2.0, 3.0])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")  # the tracer's warning is part of the diagnosis
        try:
            traced = torch.jit.trace(model, example, check_trace=False)
        except Exception as error:
            cond = (" torch.jit.trace cannot trace torch.cond (09 exports it): here, compute both results and let "
                    "torch.where(condition, a, b) pick." if "dynamo-optimized" in str(error) else "")
            keep = "" if cond else " Keep forward(x) to tensor operations."  # torch.cond is one, but the tracer refuses it
            print(f"✘ Tracing your model failed ({_one_line(error)}).{keep}{cond}")
            return False
    if any(_BOOL_WARNING in str(w.message) for w in seen):
        print("✘ Not yet: tracing still warned “Converting a tensor to a Python boolean”, so forward still "
              "decides in Python (an `if` on a tensor). Compute both results and let torch.where(condition, a, b) pick.")
        return False
    number = next((str(w.message) for w in seen if _NUMBER_WARNING in str(w.message)), None)
    if number:
        said = number[number.index(_NUMBER_WARNING):].split(".")[0]  # "Converting a tensor to a Python float"
        how = ("`.tolist()` takes the numbers out of the tensor, and a decision made on them" if "Python list" in said
               else "`.item()`, `float(...)` or `int(...)` takes a number out of the tensor, and the decision made on it")
        print(f"✘ Not yet: tracing warned “{said}”: {how} is Python's too, taken once while tracing. Keep "
              "the condition a tensor and let torch.where(condition, a, b) pick.")
        return False
    # another warning (len(x) read as a Python number, a torch.tensor constant): the praise must name it, not deny it
    other = next((str(w.message) for w in seen if issubclass(w.category, torch.jit.TracerWarning)), None)
    reference = BranchModel()
    for label, x in _branch_test_inputs().items():
        want = reference(x)
        try:
            got, changed = on_copies(model, x)
        except Exception as error:
            print(f"✘ Your eager model fails on x = {label} ({_one_line(error)}).")
            return False
        if changed:
            print(f"✘ Your model changes its input in place (on x = {label}): the caller's tensor is altered. Compute a "
                  "new tensor, e.g. torch.where(condition, a, b), instead of `*=` or a method ending in _.")
            return False
        wrong_dtype = dtype_mistake(got, want, "Your model")
        if wrong_dtype:
            print(f"✘ {wrong_dtype}")
            return False
        if not isinstance(got, torch.Tensor):
            print(f"✘ For x = {label} your model returns {describe(got)}: return one tensor, as BranchModel does "
                  "(a tuple of one tensor is not a tensor).")
            return False
        if got.shape != want.shape:
            print(f"✘ For x = {label} your model returns shape {tuple(got.shape)}; BranchModel returns shape "
                  f"{tuple(want.shape)}, one value per input value.")
            return False
        # values this small sit within allclose's atol of zero, whichever branch ran: compared relative to their size
        tiny = 0 < x.abs().max().item() < 1e-6
        if not _same(got, want, atol=0.0 if tiny else 1e-8, equal_nan=True):
            total = x.sum().item()
            rule = "> 0: double" if total > 0 else "≤ 0: negate" if total <= 0 else "is not > 0: negate"
            print(f"✘ Not the same answers as BranchModel: for x = {label} it should return {values(want)} "
                  f"(sum {total:.3g} {rule}), "
                  f"yours returned {values(got)}{_per_axis(x, got) or _above_zero(x, got) or _nan_replaced(want, got)}.")
            return False
    compiled = [k for k in ("prim::If", "prim::CallFunction", "prim::CallMethod", "prim::Loop")
                if traced.inlined_graph.findNode(k) is not None]
    if compiled:
        print(f"✘ The traced graph still holds {compiled[0]}: the `if` was compiled (a scripted function or "
              "@torch.jit.script_if_tracing, which 04 teaches), not replaced. This exercise asks for tensor "
              "operations only, so that the trace itself has no branch: torch.where(condition, a, b).")
        return False
    report = parity(model, traced, inputs=_branch_test_inputs(), label="traced")
    failed = next((row for row in report.rows if row.error), None)
    if failed is not None:  # the copy raised: no Python decision to blame, torch's own error says what went wrong
        print(f"✘ Eager is right, but the traced copy fails on x = {failed.label} ({failed.error.rstrip('.')}). Trace a forward "
              "made of tensor operations alone, such as torch.where(condition, a, b).")
        return False
    if not report.all_close:
        print(f"✘ Eager is right, but the traced copy diverges first at x = {report.first_divergence}: "
              "something in forward is still decided in Python while tracing.")
        return False
    agrees = (f"the traced copy agrees with BranchModel on all {len(report.rows)} inputs, both signs, a zero sum, sums "
              "of ±0.01 and 2-D inputs included")
    if other:
        said = other.split(". ")[0].rstrip(".")
        print(f"✔ Right on the sign: no warning about a bool or a number taken from a tensor, and {agrees}. The tracer "
              f"did warn “{said}”: the trace keeps what that gave for the example, which made no difference on these "
              "inputs; read the line it points at, and keep it only if it holds for every input you will send.")
        return True
    print(f"✔ Right: no tracer warning, and {agrees}: the choice is now a tensor operation in the recorded "
          "graph, not a decision Python made once for the example.")
    return True


def _gate_sum(model, x, h) -> float:
    """What the RNN cell's `if` looks at: the sum of the new hidden state."""
    with torch.no_grad():
        return torch.tanh(model.linear(x) + h).sum().item()


def check_catching_inputs(check_inputs) -> bool:
    """03, exercise 2: ``torch.jit.trace(rnn_cell, example, check_inputs=check_inputs)`` must refuse the trace."""
    model, example = sample_model("rnn_cell"), example_input("rnn_cell")
    if isinstance(check_inputs, tuple) and len(check_inputs) == 2 and all(isinstance(t, torch.Tensor) for t in check_inputs):
        # A bare (x, h): trace takes each element as one check input and calls the cell with x alone.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                torch.jit.trace(model, example, check_inputs=check_inputs)
                what = "it ran without refusing"
            except Exception as error:
                what = f"it raised {typed_message(error)}"
        print("✘ check_inputs is a list of argument tuples: [(x, h)]. Given the bare tuple (x, h), trace takes x and "
              f"h as two separate check inputs and calls the cell with one argument each; {what}. "
              "Put your tuple in a list.")
        return False
    if isinstance(check_inputs, tuple) and check_inputs and all(isinstance(a, (tuple, list)) for a in check_inputs):
        check_inputs = list(check_inputs)  # a tuple of argument tuples: torch.jit.trace takes it as it takes a list
    if not isinstance(check_inputs, list) or not check_inputs:
        gave = "an empty list" if isinstance(check_inputs, list) else describe(check_inputs)
        print("✘ check_inputs is a non-empty list of argument tuples, e.g. [(x1, h1), (x2, h2)]; "
              f"you gave {gave}.")
        return False
    for i, args in enumerate(check_inputs):
        # a list [x, h] is taken as the arguments too, as torch.jit.trace takes it
        if not (isinstance(args, (tuple, list)) and len(args) == 2 and all(isinstance(t, torch.Tensor) for t in args)):
            kind = type(args).__name__
            inside = sorted({'None' if t is None else type(t).__name__ for t in args if not isinstance(t, torch.Tensor)}) \
                if isinstance(args, (tuple, list)) and len(args) == 2 else []
            gave = (f"a {kind} of 2 items, {' and '.join(inside)} rather than tensors (torch.tensor(...) makes one)"
                    if inside else f"a {kind} of {len(args)} item{'s' * (len(args) != 1)}"
                    if isinstance(args, (tuple, list)) else describe(args))
            print(f"✘ Check input {i} should be a tuple (x, h) of two tensors, because the cell's forward takes "
                  f"two arguments; you gave {gave}.")
            return False
        if any(t.is_floating_point() and t.isnan().any() for t in args):
            print(f"✘ Check input {i} holds NaN: the new state's sum is then NaN, and every comparison with NaN is "
                  "False, so the cell skips the halving whatever its weights do. torch would refuse the trace, but for "
                  "NaN's rule, not for an input the cell meets on the other side of its `if`. Use finite values whose "
                  "new state sums to 0 or less.")
            return False
        try:
            with torch.no_grad():
                out = model(*args)
        except Exception as error:
            print(f"✘ The eager model itself fails on check input {i} ({_one_line(error)}): "
                  "use float32 tensors shaped like the example's, x and h both (3, 4).")
            return False
        # an infinity in the input is fine where tanh takes it to ±1; one that reaches the output is not
        outs = out if isinstance(out, (tuple, list)) else (out,)
        if any(isinstance(o, torch.Tensor) and o.is_floating_point() and not torch.isfinite(o).all() for o in outs):
            print(f"✘ On check input {i} the cell's output holds NaN or infinity (from the infinity in your input), "
                  "so its `if` decided on a sum of NaN or infinity: which way that goes says nothing about the finite "
                  "inputs the cell meets. Use finite values whose new state sums to 0 or less.")
            return False
    sums = [_gate_sum(model, *args) for args in check_inputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings were shown in the notebook already
        try:
            torch.jit.trace(model, example, check_inputs=check_inputs)
        except torch.jit.TracingCheckError:
            other = next((i for i, s in enumerate(sums) if s <= 0), None)
            if other is None:  # refused, but not because a check input took the other branch
                print("✘ trace refused with TracingCheckError, but every check input makes new_h.sum() > 0 like the "
                      "example, so the refusal is not about the branch. Find an (x, h) whose new hidden state sums ≤ 0.")
                return False
            print(f"✔ Right: trace refused with TracingCheckError. Check input {other} makes new_h.sum() = "
                  f"{sums[other]:.3g} ≤ 0, so Python skipped the halving there and its recorded graph differs "
                  "from the example's.")
            return True
        except Exception as error:
            print(f"✘ Tracing failed for another reason ({_one_line(error)}).")
            return False
    shown = ", ".join(f"{s:.3g}" for s in sums)
    print(f"✘ Not yet: the trace passed its checks. On your inputs new_h.sum() = {shown}, all > 0 like the example "
          f"({_gate_sum(model, *example):.3g}), so every check ran the same branch. Find an (x, h) that makes "
          "tanh(linear(x) + h) sum to ≤ 0.")
    return False
