"""Exercise checkers for 10_shipping: make a looping model migrate; a two-input ONNX file for every batch size."""
import inspect
import math
import os
import re
import secrets
import tempfile
import warnings
from pathlib import Path

import torch

from ..course.failures import as_sentence, short_message
from ..digits import load_digits
from ..tools.gallery import script_error_line
from ._common import describe as _describe, tensor_answer
from .ex09_beyond_torchscript import TemperedDigits, tempered_inputs

__all__ = ["reference_running_sum", "RUNNING_SUM_INPUTS", "check_running_sum_migrates", "check_tempered_onnx"]

# Several batch sizes (the loop's trip count), and values of both signs.
RUNNING_SUM_INPUTS = {
    "5 rows": torch.arange(15, dtype=torch.float32).reshape(5, 3) - 7,
    "1 row": torch.tensor([[1.0, -2.0, 3.0]]),
    "8 rows": torch.linspace(-4, 4, 24).reshape(8, 3),
    "12 rows": torch.linspace(3, -5, 36).reshape(12, 3),  # more rows than any size the notebook shows
    # rows of other sizes: the loop adds rows of any shape, so a sum built for rows of 3 values must not pass
    "6 rows of 4 values": torch.linspace(-2, 3, 24).reshape(6, 4),
    "4 rows of 2 × 5 values": torch.linspace(-1, 2, 40).reshape(4, 2, 5),
    # a NaN in a row: the loop's sum of that column is NaN, so a sum that skips NaN (torch.nansum) must not pass
    "3 rows, one NaN": torch.tensor([[1.0, float("nan"), 2.0], [0.5, 1.0, -1.0], [2.0, 3.0, 4.0]]),
}


def _inputs_to_check() -> dict:
    """RUNNING_SUM_INPUTS, plus one more batch whose size (13 to 40 rows) is drawn anew at each check and said
    nowhere before it: a forward that stops at the largest size the notebook names cannot pass."""
    rows = 13 + secrets.randbelow(28)
    return {**RUNNING_SUM_INPUTS, f"{rows} rows": torch.linspace(-3, 4, rows * 3).reshape(rows, 3)}


def reference_running_sum(x: torch.Tensor) -> torch.Tensor:
    """What RunningSum computes: the sum of the rows of ``x`` (shape ``x.shape[1:]``)."""
    total = torch.zeros_like(x[0])
    for i in range(x.size(0)):
        total = total + x[i]
    return total


def _fixed_count_cause(error) -> str:
    """The error, with a hint when an index ran past the rows (a loop over a fixed count, such as range(8))."""
    message = short_message(error, 120)
    name = type(error).__name__
    line = message if message.startswith(f"{name}:") else f"{name}: {message}"  # TorchScript's own line names it
    if isinstance(error, IndexError) or re.search(r"out of (bounds|range)", str(error)):
        line += (" (a loop over a fixed number of rows, such as range(8), runs past a smaller input: the count "
                 "must come from the input, and one tensor operation over dimension 0 needs no count at all)")
    return line


def _gives_the_sum(run, x) -> bool:
    """True if ``run(x)`` is the running sum of ``x`` (False on any error or other shape)."""
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            got = run(x.clone())
        return isinstance(got, torch.Tensor) and got.shape == x.shape[1:] and bool(
            torch.allclose(got, reference_running_sum(x), atol=1e-5, equal_nan=True))
    except Exception:
        return False


def _running_sum_mistake(run, label: str, x: torch.Tensor, who: str, scripted: bool):
    """Why ``run`` (eager or scripted) does not give the running sum of ``x``, or None when it does."""
    want = reference_running_sum(x)
    got, mistake = tensor_answer(
        run, x, want, (who, f"on the {label} input"),
        in_place="an in-place `+=` or `_` method on x, or on a row of it, changes the caller's tensor; add up into a "
                 "new tensor instead, e.g. x.sum(0).",
        one_tensor="return one tensor, the sum of the rows.",
        shape_hint=lambda got: (": the rows are added up, but keepdim=True keeps dimension 0 as a size of 1; drop it "
                                "(x.sum(0))" if tuple(got.shape) == (1, *want.shape) else
                                (" (TorchScript reads Python's sum(x) as torch.sum(x), which adds up every element)"
                                 if scripted and got.dim() == 0 else "") + ": add up the rows, i.e. over dimension 0"),
        error_cause=_fixed_count_cause)
    if mistake:
        return mistake
    if not torch.allclose(got, want, atol=1e-5, equal_nan=True):
        if want.isnan().any() and not got.isnan().any():  # e.g. torch.nansum, or NaN replaced by 0
            return (f"{who} gives numbers where the running sum is NaN, on the {label} input: the loop adds a NaN like "
                    "any value, so its column's sum is NaN; a sum that skips NaN (torch.nansum) computes something "
                    "else. Add up the rows as they are, e.g. x.sum(0).")
        partial = next((k for k in range(1, x.size(0)) if torch.allclose(got, x[:k].sum(0), atol=1e-5)), None)
        if partial is not None:  # e.g. x[:8].sum(0): a bound taken from the sizes tried so far
            return (f"{who} gives the sum of the first {partial} rows only on the {label} input: add up every row, "
                    "whatever their number.")
        if torch.allclose(got, want, rtol=1e-2, atol=1e-2, equal_nan=True):  # the sum, rounded on the way
            return (f"{who} gives {got} on the {label} input, close to the running sum {want} but not within float32 "
                    "rounding: part of the sum ran in a narrower type (half, bfloat16) or was rounded. Add up in the "
                    "input's own dtype, x.sum(0).")
        if torch.allclose(got, x.abs().sum(0), atol=1e-5):  # the sizes of the values, not the values
            return (f"{who} gives the sum of the rows' absolute values on the {label} input: the running sum adds the "
                    "values as they are, signs included, e.g. x.sum(0).")
        return (f"{who} gives {got} on the {label} input; the running sum is {want}: add up the rows as they are, "
                "i.e. over dimension 0.")
    return None


def _operations_per_call(run, x: torch.Tensor) -> int:
    """How many tensor operations one call of ``run`` on ``x`` dispatches (a loop over rows runs more for more rows)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.calls += 1
            return func(*args, **(kwargs or {}))

    counter = Count()
    with torch.no_grad(), counter:
        run(x.clone())
    return counter.calls


def _still_loops(run) -> str:
    """A sentence if ``run`` dispatches more tensor operations for more rows (a loop left in some path), else ''."""
    try:
        one, eight = (_operations_per_call(run, RUNNING_SUM_INPUTS[label]) for label in ("1 row", "8 rows"))
    except Exception:  # counting is a check of ours: a model it cannot count is judged by the other checks
        return ""
    if eight <= one:
        return ""
    return (f"In eager, your forward still runs more tensor operations for more rows ({one} for 1 row, {eight} for "
            "8 rows): a loop over the rows is still there. Replace it, in every path of forward, by tensor "
            "operations whose number does not depend on the rows.")


def _uses_axis(model) -> bool:
    """True when forward's source passes NumPy's ``axis=`` (eager accepts it as ``dim=``; TorchScript does not)."""
    try:
        return bool(re.search(r"\baxis\s*=", inspect.getsource(type(model).forward)))
    except (OSError, TypeError):
        return False


def _size_branch_hint(model) -> str:
    """A question about a branch on the number of rows, when forward's source reads it; '' otherwise."""
    try:
        source = inspect.getsource(type(model).forward)
    except (OSError, TypeError):
        return ""
    if re.search(r"size\(\s*0\s*\)|shape\[\s*0\s*\]", source):
        return (" Does forward branch on the number of rows (x.size(0) or x.shape[0])? The converted program keeps "
                "the side the 5-row example took.")
    return ""


def _reports_a_mistake(run, who: str, scripted: bool = False, inputs=None) -> bool:
    """Print the first input on which ``run`` misses the running sum, and say whether there was one."""
    with torch.no_grad():
        for label, x in (inputs or RUNNING_SUM_INPUTS).items():
            mistake = _running_sum_mistake(run, label, x, who, scripted)
            if mistake:
                print(f"✘ {mistake}")
                return True
    return False


def check_running_sum_migrates(model) -> bool:
    """10, exercise 1: ``model`` adds up the rows of its input, and its scripted ``.pt`` migrates to torch.export."""
    from ..routes.migrate import DYNAMIC_LOOP, migrate
    if isinstance(model, type):
        print(f"✘ Pass an instance, e.g. {model.__name__}(), not the class itself.")
        return False
    if not isinstance(model, torch.nn.Module):
        print(f"✘ Pass your model (a torch.nn.Module), not {_describe(model)}.")
        return False
    if isinstance(model, torch.jit.TopLevelTracedModule):
        wrong = [label for label, x in RUNNING_SUM_INPUTS.items() if not _gives_the_sum(model, x)]
        why = ("it gives other sums, or fails, on the " + ", ".join(wrong[:2]) + " input" + ("s" if len(wrong) > 1 else "")
               + ": tracing records the operations the example ran, a loop's as many times as the example's rows"
               if wrong else "the check scripts your model from its Python code, and a traced copy has none")
        print(f"✘ This is a traced copy (torch.jit.trace's result): {why}. Pass the Python model itself.")
        return False
    if isinstance(model, torch.fx.GraphModule):  # program.module(): an exported program, shapes fixed at export
        print("✘ This is an exported program's module (program.module()), not your Python model: the check scripts "
              "your model and migrates its .pt. Pass the Python model itself.")
        return False
    inputs = _inputs_to_check()
    if _reports_a_mistake(model, "Your model", inputs=inputs):
        return False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scripted = model if isinstance(model, torch.jit.ScriptModule) else torch.jit.script(model)
    except Exception as error:
        numpy = (" TorchScript cannot compile NumPy calls (the message names a NumPy object, not that limit): add up "
                 "with torch, e.g. x.sum(0)." if "weak reference" in str(error) and "numpy" in str(error) else
                 " TorchScript compiles no import inside forward (nor the NumPy it would bring): add up with torch, "
                 "e.g. x.sum(0)."
                 if "import statements aren't supported" in str(error) else
                 " TorchScript takes `dim=`, not NumPy's `axis=`, which eager PyTorch also accepts: x.sum(0) or "
                 "x.sum(dim=0)." if _uses_axis(model) else "")
        said = as_sentence(script_error_line(error) or short_message(error, 160))
        print(f"✘ torch.jit.script refuses your model: {said}{numpy}")
        return False
    # the .pt holds the scripted code, which can compute something else than the Python it came from
    if _reports_a_mistake(scripted, "Scripted, your model", scripted=True, inputs=inputs):
        return False
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "running_sum.pt"
        try:
            scripted.save(str(path))
        except Exception as error:
            print(f"✘ The scripted model cannot be saved: {short_message(error, 160)} (code left to Python, such as "
                  "a @torch.jit.ignore method, cannot go into a .pt: write the sum with tensor operations).")
            return False
        report = migrate(path, RUNNING_SUM_INPUTS["5 rows"])
    if report.status == "fails":
        kind = report.failure.node_kind
        # the trip-count sentence only where torch says so: a loop of constant count can fail for another reason
        if kind == "prim::Loop" and DYNAMIC_LOOP.search(report.failure.cause):
            print(f"✘ The .pt still does not convert: {kind} at {report.failure.location or 'an unknown line'}. The "
                  "loop's trip count still depends on the input: replace the loop by one tensor operation.")
        else:  # another construct the converter cannot take: its own reason and advice name it
            slicing = (" Slicing the shape (`x.shape[1:]`) is one such construct: reshape with sizes read one by one, "
                       "or sum over dimension 0 directly (`x.sum(0)`)." if "slice" in report.failure.cause else "")
            print(f"✘ The .pt still does not convert: {as_sentence(str(report.failure))}{slicing}")
        return False
    refused = list(report.refused)
    if report.status == "diverges" and not refused:
        print(f"✘ It converts, but the converted program {report.verdict}.")
        return False
    if refused:
        why = _size_branch_hint(model) or (
            " Something in forward is tied to the 5-row example's number of rows: a list made from the rows "
            "(x.unbind(0), list(x), a comprehension over x) gets that length when converted. Add up with one tensor "
            "operation over dimension 0, such as x.sum(0).")
        print(f"✘ It converts, but the program refuses some batch sizes ({', '.join(refused)}).{why}")
        return False
    loops = _still_loops(model)  # e.g. a torch.jit.is_scripting() path for the .pt, the loop kept for eager
    if loops:
        print(f"✘ The saved .pt migrates, but: {loops}")
        return False
    extra = next(label for label in inputs if label not in RUNNING_SUM_INPUTS)
    checked = "scripted" if isinstance(model, torch.jit.ScriptModule) else "eager and scripted"  # what was run
    print(f"✔ Same sums as the loop on 1, 5, 8, 12 and {extra}, and on rows of 4 and of 2 × 5 values, {checked}, "
          f"and the saved .pt now migrates to torch.export ({report.verdict}).")
    return True


def check_tempered_onnx(path) -> bool:
    """10, exercise 2: ``path`` is a legacy-exporter ONNX file of ``TemperedDigits`` that runs any batch size."""
    from ..routes.export_bridge import onnx_runner
    if path is None or not isinstance(path, (str, os.PathLike)):
        print(f"✘ Pass the path of your .onnx file, not {_describe(path) if path is not None else 'None'}.")
        return False
    path = Path(path)
    if path.is_dir():
        print(f"✘ {path} is a folder: pass the path of the .onnx file inside it that torch.onnx.export wrote.")
        return False
    if not path.is_file():
        print(f"✘ There is no file at {path.name} yet: export to it first, then run the check.")
        return False
    import onnx
    try:
        graph = onnx.load(str(path)).graph
    except Exception as error:
        print(f"✘ onnx cannot read {path.name}: {short_message(error, 120)}")
        return False
    # the inputs a caller feeds: an initializer listed among the inputs (keep_initializers_as_inputs=True) is a weight
    weights = {init.name for init in graph.initializer}
    inputs = [value for value in graph.input if value.name not in weights]
    kinds = {onnx.TensorProto.DataType.Name(value.type.tensor_type.elem_type) for value in inputs}
    if kinds - {"FLOAT"}:  # e.g. a model made .double() first: onnxruntime has no float64 Conv to run it with
        print(f"✘ {path.name} takes {', '.join(sorted(kinds))} inputs; TemperedDigits works in float32: export "
              "the model as it is, without .double() or .half().")
        return False
    try:
        runner = onnx_runner(path)
    except Exception as error:
        print(f"✘ onnxruntime cannot run {path.name}: {short_message(error, 120)}")
        return False
    names = [node.name for node in graph.node]
    if any(name.startswith("node_") for name in names) and not any(name.startswith("/") for name in names):
        # the default exporter names nodes after the aten op (node_conv2d); the legacy one after the module (/cnn/...)
        print(f"✘ {path.name} was made by the default exporter (torch.export based): this exercise is the legacy "
              "one, torch.onnx.export(tempered_script, ..., dynamo=False) with input_names and dynamic_axes.")
        return False
    if len(inputs) > 2 and not weights:  # weight-shaped inputs with no values in the file: export_params=False
        print(f"✘ The file has {len(inputs)} inputs and no weights: the layers' weights became inputs a caller would "
              "have to feed. Export with the weights in the file (export_params=True, the default).")
        return False
    if len(inputs) != 2:
        print(f"✘ The file has {len(inputs)} input(s); TemperedDigits takes two (images, temperature).")
        return False
    ranks = {value.name: len(value.type.tensor_type.shape.dim) for value in inputs}
    wanted_rank = {"images": 4, "temperature": 1}
    said = {name: ("images" if re.search(r"image|img", name, re.I) else
                   "temperature" if re.search(r"temp", name, re.I) else None) for name in ranks}
    for name, rank in ranks.items():  # names follow forward's order: a caller feeding by name trusts them
        says = said[name]
        if not says or rank == wanted_rank[says]:
            continue
        other = next((n for n in ranks if n != name), None)
        swapped = other is not None and said[other] not in (None, says) and rank == wanted_rank[said[other]] \
            and ranks[other] == wanted_rank[says]
        if swapped:  # each name sits on the other's input: the ranks are exactly exchanged
            print(f"✘ The input named {name} has {rank} dimension(s), so it is not the {says}: input_names follow "
                  "forward's order, (images, temperature). A caller feeding by name would swap them.")
        else:  # the right name, an example of another shape: temperature as (N, 1), say
            shape = "(N, 1, 8, 8)" if says == "images" else "(N,), one number per image"
            print(f"✘ The input named {name} was exported with {rank} dimension(s); TemperedDigits takes {says} "
                  f"shaped {shape}: export with the example H.tempered_inputs(4) gives.")
        return False
    fixed = []
    for value in inputs:
        first = value.type.tensor_type.shape.dim[0] if value.type.tensor_type.shape.dim else None
        if first is not None and first.HasField("dim_value"):
            fixed.append(f"{value.name} (batch fixed at {first.dim_value})")
    if fixed:
        names = [v.name for v in inputs]
        print(f"✘ Not every batch is dynamic: {', '.join(fixed)}. List each input, under the name the file gives it "
              f"({', '.join(names)}: set them with input_names), in dynamic_axes with its dimension 0.")
        return False
    batch_names = {v.name: v.type.tensor_type.shape.dim[0].dim_param for v in inputs}
    if len(set(batch_names.values())) > 1:
        shown = ", ".join(f"{name}: {dim!r}" for name, dim in batch_names.items())
        generated = (" (the list form, [0], gives each input a generated name of its own)"
                     if any("_dynamic_axes_" in dim for dim in batch_names.values()) else "")
        print(f"✘ Both batches are dynamic, under two names ({shown}){generated}: nothing in the file then says that "
              "the images and the temperatures come in the same number. Give dimension 0 of both one name, e.g. "
              "{0: 'batch'} for each: the file then records that the two batches are one size.")
        return False
    batch = next(iter(batch_names.values()))
    tied = [f"{v.name} dimension {i}" for v in inputs for i, d in enumerate(v.type.tensor_type.shape.dim)
            if i > 0 and d.HasField("dim_param") and d.dim_param == batch]
    loose = [f"{v.name} dimension {i} ({d.dim_param!r})" for v in inputs
             for i, d in enumerate(v.type.tensor_type.shape.dim) if i > 0 and d.HasField("dim_param") and d.dim_param != batch]
    if tied:  # the shared name is a claim: those sizes equal the batch, which they do not
        print(f"✘ {', '.join(tied)} carries the batch's name too ({batch!r}), so the file says that size equals the "
              "batch, which it does not (an image has 1 channel of 8x8 whatever the batch). Name only dimension 0 of "
              "each input in dynamic_axes.")
        return False
    if loose:  # a claim of any size where the model takes one: an image is 1 channel of 8x8
        print(f"✘ {', '.join(loose[:3])} is declared dynamic, so the file says it takes any size there, but "
              "TemperedDigits takes only 1 channel of 8x8 (its Linear layer fixes them). Name only dimension 0 of "
              "each input in dynamic_axes.")
        return False
    model = TemperedDigits()
    with torch.no_grad():
        for size in (1, 7, 297):
            inputs = tempered_inputs(size)
            try:
                got = runner(*inputs)
            except Exception as error:
                print(f"✘ onnxruntime fails on a batch of {size}: {short_message(error, 140)}")
                return False
            want = model(*inputs)
            if not isinstance(got, torch.Tensor) or got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
                diff = (got - want).abs().max().item() if isinstance(got, torch.Tensor) and got.shape == want.shape else math.inf
                print(f"✘ On a batch of {size} the file's answers differ from TemperedDigits (largest |diff| {diff:.3g}): "
                      "export H.TemperedDigits() itself, scripted, with the legacy exporter.")
                return False
    print("✔ Both inputs have a dynamic batch, under one name: onnxruntime matches TemperedDigits on batches of 1, 7 "
          "and 297.")
    if any(re.search(r"/[A-Za-z_]\w*\.\d+/", name) for name in names):
        # a plain nn.Module given to the legacy exporter is traced, which names each node by the module's full name
        # (/cnn/features/features.0/Conv); a scripted or traced copy names it by its place (/cnn/features/0/Conv)
        print("  Note: this file came from the plain model, which the legacy exporter traces: the same file here, "
              "since TemperedDigits has no branch, but a scripted model keeps its `if`s; the cell exports tempered_script.")
    else:  # a scripted and a traced copy give the same operations: say what tells them apart
        print("  Note: a scripted copy and a torch.jit.trace copy give the same ONNX operations here, since "
              "TemperedDigits has no branch; for a model with an `if`, only the scripted copy keeps it.")
    return True
