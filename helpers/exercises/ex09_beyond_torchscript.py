"""Exercise checkers for 09_beyond_torchscript: make a model exportable; export a two-input model for every batch size."""
import inspect
import re

import torch

from ..digits import load_digits, load_digits_cnn
from ..routes.export_bridge import quiet_export
from ..course.failures import as_sentence, short_message, typed_message
from ..course.guards import require_module
from ._common import describe, tensor_answer, values

__all__ = ["LIMITER_INPUTS", "reference_limiter", "check_limiter_exports",
           "TemperedDigits", "tempered_inputs", "check_tempered_digits_program"]

# Both regimes of the limiter: inputs whose largest |value| is above 1 (scaled down) and at most 1 (unchanged).
LIMITER_INPUTS = {
    "large, mixed signs": torch.tensor([[3.0, -4.0, 1.0]]),
    "small": torch.tensor([[0.2, -0.5, 0.1]]),
    "large negative": torch.tensor([[-10.0, 2.0, -0.5]]),
    "large only below -1": torch.tensor([[-3.0, 0.5, 0.2]]),  # a test on x.max() alone, or on x > 1, misses it
    "exactly 1": torch.tensor([[1.0, -1.0, 0.5]]),
    # the peak is the whole input's, not each row's: a limiter per row scales the second row up to 1
    "two rows, one large": torch.tensor([[3.0, 0.0, 0.0], [0.5, 0.0, 0.0]]),
    "two rows, the large one second": torch.tensor([[0.5, 0.0, 0.0], [3.0, 0.0, 0.0]]),  # a peak of x[0] alone misses it
    # a peak below 1 whose other measures pass 1: a test on x.norm() or x.abs().sum(), or a threshold below 1,
    # scales it up (the example's shape, so the exported program meets it too)
    "small, sum above 1": torch.tensor([[0.9, -0.9, 0.9]]),
    # a peak just above 1: a threshold above 1 (peak > 2), a norm or a range above 2, or a rounded peak leaves it
    "just above 1": torch.tensor([[1.2, -0.3, 0.1]]),
    # peaks a hair each side of 1: a threshold near 1 but not at it (peak > 1.1, peak > 0.95) gets one of them wrong
    "a hair above 1": torch.tensor([[1.02, 0.0, 0.3]]),
    "a hair below 1": torch.tensor([[0.98, -0.2, 0.0]]),
}


def reference_limiter(x: torch.Tensor) -> torch.Tensor:
    """What the limiter must compute: scale x into [-1, 1] if its largest |value| is above 1, else leave it."""
    peak = x.abs().max()
    return x / peak if peak > 1 else x


def _close(a, b) -> bool:
    """``a`` is a tensor of ``b``'s dtype, shape and values (a bool answer is a wrong answer, not a crash)."""
    return (isinstance(a, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
            and bool(torch.allclose(a, b, rtol=1e-5, atol=1e-6)))


def _torch_cause(error) -> str:
    """What a torch.cond error means, in one line, for the causes a learner meets here ('' for any other)."""
    text = str(error)
    if "input mutation" in text:
        return ("a torch.cond branch changes its input in place (`x /= p`, `x.div_(p)`), which torch.cond refuses: "
                "return a new tensor, e.g. x / p")
    merged = re.search(r"expected same (\w+) but got ([\w.]+) and ([\w.]+?)\.?[\"')]", text)
    if merged:
        what, one, other = merged.groups()
        if what in ("dtype", "dim"):  # the two rules section 1 shows; torch says "dim" for the tensors' ranks
            what = {"dim": "number of dimensions"}.get(what, what)
            return f"the two branches of torch.cond must return the same {what} (section 1); yours give {one} and {other}"
        return (f"the two branches of torch.cond return tensors laid out differently in memory (their {what} is {one} "
                f"and {other}): return new tensors, e.g. .clone() of each")
    fake = re.search(r"got RuntimeError\(['\"](.+?)['\"]\)", text, re.S)
    if fake and "stride" in fake.group(1):  # torch's own reason sits inside its "making fake tensor call" message
        return ("a torch.cond branch returns a slice or view that is not dense in memory, which torch.cond refuses: "
                "return the whole result, or .contiguous() of the slice")
    operands = re.search(r"(missing (?:a )?required positional argument|Too many positional arguments)[^'\"\n]*", text)
    if operands:  # torch's reason sits inside its "captured completely with torch.compile" message
        return (f"torch.cond calls true_fn and false_fn with exactly the operands you pass it, in order, and yours do "
                f"not match ({operands.group(0)}): give both functions one parameter per operand, e.g. "
                "lambda x, peak: ... with (x, peak)")
    if "Data-dependent branching" in text and "torch.cond" in text:
        return ("a branch of torch.cond decides in Python on a tensor (an `if` on it), which torch.cond cannot "
                "capture: inside true_fn and false_fn keep to tensor operations; the choice is torch.cond's own "
                "condition")
    if "Failed to convert args/kwargs to proxy" in text and re.search(r"Sym(Float|Int|Bool)", text):
        return ("a branch of torch.cond uses a Python number taken out of a tensor (.item(), float(...)) from outside "
                "the branch: keep it a tensor and pass it as an operand, e.g. torch.cond(peak > 1, true_fn, false_fn, "
                "(x, peak)) with peak = x.abs().max()")
    if "aliasing" in text:
        return ("a torch.cond branch returns its input itself or a view of it (x[:], x.detach(), a reshape), which "
                "torch.cond refuses (aliasing): return a new tensor instead, e.g. x.clone()")
    return ""


def _torch_cause_sentence(error) -> str:
    """``_torch_cause`` as a sentence ending in a full stop ('' for any other error)."""
    cause = _torch_cause(error)
    return as_sentence(cause) if cause else ""


def _peak(x):
    return x.abs().max()


# Wrong answers a learner writes, each as what it computes and what it does wrong. One is named only when it gives the
# model's answer on every input of LIMITER_INPUTS, so the name is never a guess from a single input.
_LIMITER_PATTERNS = [
    (lambda x: x if _peak(x) > 1 else x / _peak(x),
     "has the two branches swapped: it leaves x unchanged when its largest absolute value is above 1, and divides "
     "when that value is at most 1 (scaling small inputs up). Swap them: divide when peak > 1"),
    (lambda x: x / _peak(x),
     "divides every input by its largest absolute value, also when that value is at most 1, which scales small "
     "inputs up: the limiter leaves those unchanged, so it needs the condition peak > 1"),
    (lambda x: x.clamp(-1.0, 1.0),
     "clips each value into [-1, 1], as clamp does: the limiter divides the whole of x by its largest absolute "
     "value instead, so that the values keep their proportions"),
    (lambda x: x / x.max() if _peak(x) > 1 else x,
     "divides by x.max(), the largest value, where the limiter divides by the largest absolute value, x.abs().max()"),
    (lambda x: x / x.max() if x.max() > 1 else x,
     "divides by x.max(), the largest value, where the limiter divides by the largest absolute value, x.abs().max()"),
]


def _limiter_pattern(model):
    """'In eager mode your model <what it does wrong>' when its answers on all the inputs are one known wrong
    formula's, else None (then each input is checked on its own, with its own message)."""
    answers = []
    for x in LIMITER_INPUTS.values():
        try:
            with torch.no_grad():
                answers.append(model(x.clone()))
        except Exception:  # the per-input check reports it
            return None
    for formula, does in _LIMITER_PATTERNS:
        wanted = [formula(x) for x in LIMITER_INPUTS.values()]
        if all(_close(a, w) for a, w in zip(answers, wanted)) and not all(
                _close(w, reference_limiter(x)) for w, x in zip(wanted, LIMITER_INPUTS.values())):
            return f"In eager mode your model {does}."
    return None


def _limiter_mistake(run, label: str, x: torch.Tensor, who: str):
    """Why ``run`` (the eager model or the exported program) does not compute the limiter on ``x``, or None."""
    want = reference_limiter(x)
    got, mistake = tensor_answer(run, x, want, (who, f"on the {label} input {values(x)}"),
                                 in_place="compute a new tensor instead (not `x /= peak` or a `_` method), e.g. x / peak.",
                                 one_tensor="return one tensor, the input limited.",
                                 error_cause=_torch_cause_sentence)
    if mistake:
        return mistake
    if not torch.allclose(got, want, rtol=1e-5, atol=1e-6):
        row_peaks = x.abs().amax(dim=-1, keepdim=True)
        per_row = {"it scales each row by that row's own largest value":  x / row_peaks,
                   "it scales each row above 1 by that row's own largest value, and leaves the others":
                       x / row_peaks.clamp(min=1)}
        for did, result in per_row.items():
            if x.shape[0] > 1 and got.shape == x.shape and torch.allclose(got, result, rtol=1e-5, atol=1e-6):
                return (f"{who} gives {values(got)} for the {label} input {values(x)}: {did}, but the limiter "
                        f"divides the whole x by its one largest absolute value, x.abs().max(), giving {values(want)}")
        if torch.equal(got, x) and x.max() <= 1 < x.abs().max():  # the only value beyond 1 is below -1
            return (f"{who} leaves the {label} input {values(x)} unchanged, but its largest absolute value is "
                    f"{x.abs().max().item():g}: the condition must measure x's size in both directions, as "
                    "x.abs().max() does")
        peak = x.abs().max().item()
        eager = who == "In eager mode your model"  # an exported program's own mistakes are named by the caller
        if eager and torch.equal(got, x) and 1 < peak < 2:  # left alone though its peak passes 1: the threshold is too high
            return (f"{who} leaves the {label} input {values(x)} unchanged, but its largest absolute value is "
                    f"{peak:g}, above 1: the condition must be x.abs().max() > 1 (not a higher threshold, a rounded "
                    "peak, a norm or a range)")
        if eager and peak <= 1 and got.shape == x.shape and torch.allclose(got, x / peak, rtol=1e-5, atol=1e-6):
            return (f"{who} scales up the {label} input {values(x)}, whose largest absolute value is {peak:g}, at "
                    "most 1: the condition must be x.abs().max() > 1, not a sum, a norm or a threshold below 1")
        if torch.equal(got, x) and x.dim() > 1 and x.shape[0] > 1 and x[0].abs().max() <= 1 < x.abs().max():
            return (f"{who} leaves the {label} input {values(x)} unchanged, but its largest absolute value, "
                    f"{x.abs().max().item():g}, is in a later row: the condition must measure the whole of x, as "
                    "x.abs().max() does")
        return (f"{who} gives {values(got)} for the {label} input {values(x)}, but the limiter must give {values(want)}"
                + (". Keep what it computes; change only how." if who == "In eager mode your model" else
                   ": it seems to have kept only one branch."))
    return None


def _calls_cond(model) -> bool:
    """Whether the source of ``model``'s forward calls torch.cond (False when it cannot be read)."""
    try:
        return bool(re.search(r"\bcond\s*\(", inspect.getsource(type(model).forward)))
    except (TypeError, OSError):
        return False


def check_limiter_exports(model) -> bool:
    """09: ``model`` computes ``reference_limiter`` and torch.export captures it for inputs in both regimes."""
    try:
        require_module(model, "check_limiter_exports")
    except TypeError as error:  # a wrong kind of argument: one line saying what to pass, not a traceback
        print(f"✘ {error}")
        return False
    if isinstance(model, torch.fx.GraphModule):  # program.module(): shapes fixed at export, and not eager code
        print("✘ This is an exported program's module (program.module()), not your Python model: the check runs your "
              "model in eager mode, then exports it itself. Pass the Python model.")
        return False
    pattern = _limiter_pattern(model)
    if pattern:
        print(f"✘ {pattern}")
        return False
    for label, x in LIMITER_INPUTS.items():
        mistake = _limiter_mistake(model, label, x, "In eager mode your model")
        if mistake:
            print(f"✘ {mistake}")
            return False
    example = LIMITER_INPUTS["large, mixed signs"].clone()
    try:
        with quiet_export():
            program = torch.export.export(model, (example,))
    except Exception as error:
        cause = _torch_cause(error)
        if type(error).__name__ == "GuardOnDataDependentSymNode" and _calls_cond(model):
            print("✘ Not yet: your forward calls torch.cond, but torch.export still stops where Python needs a tensor's "
                  "value as True or False (GuardOnDataDependentSymNode): a condition turned into a Python number or bool "
                  "first (float(...), int(...), bool(...)), or an `if` left beside the cond. Pass the tensor itself as the condition: torch.cond(peak > 1, "
                  "true_fn, false_fn, (x, peak)).")
        elif type(error).__name__ == "GuardOnDataDependentSymNode":
            print("✘ Not yet: torch.export still stops where Python needs a tensor's value as True or False "
                  "(GuardOnDataDependentSymNode): an `if` on a tensor, or bool(...) of one. Replace the `if` with "
                  "torch.cond, as section 1 wrote BranchModel's `if` (mind what it says about the operands).")
        elif cause:
            print(f"✘ Almost: {cause}.")
        else:
            print(f"✘ torch.export fails: {typed_message(error, 160)}")
        return False
    exported = program.module()
    # the program was exported for the example's shape (no dynamic shapes in this exercise): it runs those inputs
    same_shape = {label: x for label, x in LIMITER_INPUTS.items() if x.shape == example.shape}
    for label, x in same_shape.items():
        mistake = _limiter_mistake(exported, label, x, "It exports, but the exported program")
        if mistake:
            print(f"✘ {mistake}")
            return False
    uses_cond = any(getattr(node.target, "__name__", "") == "cond" for node in program.graph.nodes)
    if not uses_cond:  # right, but the exercise practises torch.cond: say what the answer did, and what it skipped
        kinds = {getattr(node.target, "__name__", "") for node in program.graph.nodes if node.op == "call_function"}
        how = ("it computes both sides and selects with torch.where, so both always run"
               if any(k.startswith("where") for k in kinds) else
               "your torch.cond's condition is a plain Python bool, so export kept one branch and no cond (the "
               "condition must be a tensor, e.g. peak > 1)" if _calls_cond(model) else
               "one formula serves both cases")
        print(f"✘ Right on all {len(LIMITER_INPUTS)} inputs and it exports, but without torch.cond: {how}. This "
              "exercise practises torch.cond: rewrite the `if` as "
              "torch.cond(peak > 1, true_fn, false_fn, (x, peak)).")
        return False
    conditions, branches_differ = _conditions(exported, same_shape)
    if conditions is not None and not branches_differ:
        print(f"✘ Right on every input, and it exports with torch.cond, but its two branches give the same answer on "
              f"all {len(same_shape)} inputs of the example's shape: the choice is made inside them (torch.where, "
              "say), not by torch.cond. Let torch.cond choose: true_fn scales (x / peak), false_fn returns x.clone().")
        return False
    if conditions is not None and all(len(set(seen)) == 1 for seen in conditions):
        side = "True" if conditions[0][0] else "False"
        print(f"✘ Right on every input, and it exports with torch.cond, but the condition is {side} on all "
              f"{len(same_shape)} inputs of the example's shape, large and small alike: one branch does all the work and the other never runs. "
              "Make the condition tell the two regimes apart: torch.cond(peak > 1, true_fn, false_fn, (x, peak)).")
        return False
    boundary = ""
    if conditions is not None:  # where a peak of exactly 1 went: `>= 1` sends it with the large inputs
        order = list(same_shape)
        sides = conditions[0]
        if sides[order.index("exactly 1")] == sides[order.index("large, mixed signs")]:
            boundary = (" A peak of exactly 1 takes the scaling branch here (the reference leaves it alone); dividing "
                        "by 1 changes nothing, so both are right.")
    print(f"✔ Right on all {len(LIMITER_INPUTS)} inputs, and exported: the graph holds a torch.cond whose condition "
          "picks one branch for the large inputs and the other for the small ones; both branches travel with the "
          f"program.{boundary}")
    return True


def _conditions(program_module, inputs):
    """(for each torch.cond in the exported graph, its condition's value on each input, in order; whether its two
    branches gave different answers on any input). (None, True) if the graph cannot be run node by node here (then
    those checks are left out rather than guessed)."""
    seen, differ = {}, False

    class Recorder(torch.fx.Interpreter):
        def run_node(self, node):
            nonlocal differ
            if node.op == "call_function" and getattr(node.target, "__name__", "") == "cond":
                condition, true_fn, false_fn, operands = self.map_nodes_to_values(node.args[:4], node)
                seen.setdefault(node.name, []).append(bool(condition))
                one, other = true_fn(*operands), false_fn(*operands)  # both sides, on this input's operands
                differ = differ or any(not torch.equal(a, b) for a, b in zip(one, other))
            return super().run_node(node)

    try:
        for x in inputs.values():
            Recorder(program_module).run(x.clone())
    except Exception:
        return None, True
    return (list(seen.values()) or None), differ


class TemperedDigits(torch.nn.Module):
    """09, exercise 2: the trained digits CNN with two inputs, images and one softmax temperature per image."""

    def __init__(self):
        super().__init__()
        self.cnn = load_digits_cnn()
        self.eval()

    def forward(self, images, temperature):
        # temperature[i] divides the scores of image i: both arguments share the batch dimension
        return torch.softmax(self.cnn(images) / temperature.unsqueeze(1), dim=1)


def tempered_inputs(size: int) -> tuple:
    """The first ``size`` test digits and a temperature for each, from 0.5 to 2 (the exercise's inputs)."""
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"tempered_inputs takes a batch size of 1 or more, got {size!r}")
    images, _ = load_digits("test")
    if size > len(images):
        raise ValueError(f"tempered_inputs: there are only {len(images)} test digits, asked for {size}")
    return images[:size], torch.linspace(0.5, 2.0, size)


_SHARE_HINT = ("mark dimension 0 of both arguments as dynamic with one and the same Dim (the two sizes must "
               "always be equal), and export with an example batch of 2 or more")


def _argument_shape_mistake(program):
    """Why ``program``'s arguments do not take the exercise's (images, temperature), or None: read from its inputs."""
    try:
        specs = [s.arg.name for s in program.graph_signature.input_specs
                 if s.kind == torch.export.graph_signature.InputKind.USER_INPUT]
        values = {n.name: n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder"}
        shapes = [tuple(values[name].shape) for name in specs if isinstance(values.get(name), torch.Tensor)]
        dtypes = [values[name].dtype for name in specs if isinstance(values.get(name), torch.Tensor)]
    except Exception:  # a program this reading does not understand: let the calls below judge it
        return None
    other = next((d for d in dtypes if d != torch.float32), None)
    if other is not None:  # a model made .double() (or .half()), exported on inputs of that dtype
        return (f"The program was exported on {other} inputs; the exercise's images and temperatures are float32: "
                "export H.TemperedDigits() as built, with the float32 example H.tempered_inputs(4) gives.")
    if len(shapes) != 2:
        return None  # another model (one argument, say): the calls below say so
    wanted = {"images": 4, "temperature": 1}
    for (name, dims), shape in zip(wanted.items(), shapes):
        if len(shape) != dims:
            example = "(N, 1, 8, 8)" if name == "images" else "(N,), one number per image"
            return (f"The program's {name} argument was exported with {len(shape)} dimension"
                    f"{'s' if len(shape) != 1 else ''}; the exercise passes {name} shaped {example}: export with "
                    "the example H.tempered_inputs(4) gives.")
    return None


def check_tempered_digits_program(program) -> bool:
    """09: ``program`` is an ExportedProgram of ``TemperedDigits`` that runs any batch size from 1 to 297."""
    if isinstance(program, torch.fx.GraphModule):
        print("✘ Pass the ExportedProgram itself, as torch.export.export returns it, not program.module() "
              "(a module made from it).")
        return False
    if isinstance(program, torch.jit.ScriptModule):
        print("✘ That is a TorchScript copy (traced, scripted or loaded): this exercise exports with torch.export; "
              "pass what torch.export.export(H.TemperedDigits(), ...) returns.")
        return False
    if isinstance(program, torch.nn.Module):
        print("✘ Pass the ExportedProgram that torch.export.export returns, not the model itself.")
        return False
    if not isinstance(program, torch.export.ExportedProgram):
        what = describe(program)
        print(f"✘ Pass the ExportedProgram that torch.export.export returns; you gave {what}.")
        return False
    shape_mistake = _argument_shape_mistake(program)
    if shape_mistake:
        print(f"✘ {shape_mistake}")
        return False
    eager = TemperedDigits()
    exported = program.module()
    largest = len(load_digits("test")[0])
    sizes = (1, 2, 7, largest)
    with torch.no_grad():
        for size in sizes:
            images, temperature = tempered_inputs(size)
            try:
                got = _call_as_exported(program, exported, images, temperature)
            except Exception as error:
                message = short_message(error, 120)
                bound = re.search(r"size\(\)\[0\] ([<>]=) (\d+)", message)
                if bound:  # the batch is dynamic, but a Dim's max= or min= leaves this size out
                    hint = (f"your Dim's {'max' if bound.group(1) == '<=' else 'min'}= leaves a batch of {size} out: "
                            f"drop it, or make the range hold 1 to {largest}")
                elif "Guard failed" in message:
                    hint = _SHARE_HINT
                else:
                    hint = "export H.TemperedDigits() itself, with its two arguments (images, temperature)"
                print(f"✘ A batch of {size} fails: {type(error).__name__}: {message} → {hint}.")
                return False
            if not _close(got, eager(images, temperature)):
                print(f"✘ A batch of {size} runs but gives other probabilities than the eager model: "
                      f"{_what_differs(got, eager, images, temperature)}.")
                return False
    narrow = _declared_range_mistake(program, largest)
    if narrow:
        print(f"✘ {narrow}")
        return False
    print(f"✔ One program, two inputs, a dynamic batch: batches of {', '.join(map(str, sizes[:-1]))} and {largest} "
          f"all match the eager model, and its declared range holds 1 to {largest}.")
    return True


def _what_differs(got, eager, images, temperature) -> str:
    """Why an exported program's answer differs from TemperedDigits', as far as its numbers tell (a sentence that
    ends with the way out)."""
    scores = eager.cnn(images)
    mistakes = {  # what a copy that someone changed would return, and the change
        "the same as the CNN with no temperature: your program ignores its temperature argument":
            torch.softmax(scores, dim=1),
        "the probabilities of the scores times the temperature, not divided by it": torch.softmax(
            scores * temperature.unsqueeze(1), dim=1),
        "scores divided by the temperature with no softmax after them": scores / temperature.unsqueeze(1),
    }
    for what, answer in mistakes.items():
        if _close(got, answer):
            return f"they are {what} → export H.TemperedDigits() itself"
    return ("its weights or its forward differ from H.TemperedDigits()'s (it loads the trained CNN) → export "
            "H.TemperedDigits() itself, not a copy you changed")


def _call_as_exported(program, exported, images, temperature):
    """Call the program's module the way it was exported: by position, or by keyword when the example held keywords
    (torch.export.export(model, (), kwargs={...}) makes a program that takes its inputs by name only)."""
    args, kwargs = program.example_inputs if program.example_inputs is not None else ((), {})
    if kwargs and not args:
        return exported(images=images, temperature=temperature)
    return exported(images, temperature)


def _declared_range_mistake(program, largest):
    """Why the batch range the program declares leaves out some of 1 to ``largest`` (sizes that may have run only
    because torch adds no check for them), or "": read from its range_constraints."""
    try:
        # only the symbols the inputs' batch dimension uses: after run_decompositions() range_constraints may keep
        # stale symbols of the first export, with ranges that no input has any more
        used = set()
        for node in program.graph.nodes:
            value = node.meta.get("val") if node.op == "placeholder" else None
            if isinstance(value, torch.Tensor) and value.dim() and isinstance(value.shape[0], torch.SymInt):
                used |= {str(free) for free in value.shape[0].node.expr.free_symbols}
        ranges = [bounds for symbol, bounds in program.range_constraints.items() if str(symbol) in used]
    except Exception:  # a program this reading does not understand: the calls above judged it
        return ""
    for bounds in ranges:
        low, high = bounds.lower, bounds.upper
        if low > 1 or high < largest:
            declared = f"of {low} and more" if str(high) in ("int_oo", "oo") else f"from {low} to {high}"
            # Dim.AUTO and Dim.DYNAMIC start at 2: torch keeps sizes 0 and 1 apart (they broadcast, and 1 is often
            # a special case), so a range torch picks never holds them
            picked = (" If you used Dim.AUTO or Dim.DYNAMIC, torch picked that range: it starts at 2 (torch keeps "
                      "sizes 0 and 1 apart). A named torch.export.Dim(\"batch\") declares batches from 0 up."
                      if low == 2 else "")
            return (f"Every batch ran, but the program declares batches {declared} only (its range_constraints); "
                    "torch does not check every bound at run time, so a batch outside them runs by accident, if at "
                    f"all: give the Dim a range that holds 1 to {largest}, or none.{picked}")
    return ""
