"""Move a deployed TorchScript ``.pt`` to torch.export: convert, check, explain, save (introduced in 10_shipping).

``report = H.migrate("model.pt", example)`` loads the file (no Python class needed), converts it with
torch's converter ``torch._export.converter.TS2EPConverter`` and checks the result against the
TorchScript model with ``H.parity`` over the example and variants of it. ``report.status`` is
``"ok"``, ``"restricted"`` (it matches, but refuses input shapes the ``.pt`` takes), ``"diverges"`` or
``"fails"``; ``report.program`` is the ``ExportedProgram``;
``report.save("model.pt2")`` writes it (atomically); ``report.failure`` names the TorchScript node
kind that could not be converted, the source line it came from, and what to do.

The converter is a PRIVATE API (the leading underscore in ``torch._export``): it may change or go
away in any torch release without notice. A migration plan that uses it pins torch, and keeps a CI
test that every legacy file still converts and matches (``templates/test_export_roundtrip.py``).

Dynamic shapes: the converter takes no ``dynamic_shapes``; it re-exports with ``Dim.AUTO`` on every
dimension, so a dimension whose example size is 1 is specialised to 1 (torch.export treats sizes 0
and 1 as constants), while larger ones come out dynamic. ``report.dynamic_dims`` says which did;
``report.reexport(dynamic_shapes)`` exports ``program.module()`` again with your own ``Dim``s.
"""
import math
import os
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..course.failures import short_message
from ..course.guards import model_args, odd_input
from ..tools.input_variants import SIZE_VARIANT, leaves, rebuild, shapes
from .export_bridge import save_program


def _readable(path) -> None:
    """mkstemp makes files private (0600); give them the permissions a normal new file gets (umask)."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(path, 0o666 & ~mask)


__all__ = ["MigrationReport", "MigrationFailure", "migrate", "CONVERTER_IS_PRIVATE", "loop_advice"]

CONVERTER_IS_PRIVATE = ("torch._export.converter.TS2EPConverter is a private torch API: it may change or "
                        "disappear in any release. Pin torch, and keep a CI test that each legacy file converts.")

_ADVICE = {
    "prim::Loop": ("a loop whose trip count depends on the input (e.g. `for i in range(x.size(0))`): rewrite it "
                   "with tensor operations that need no count, script and save again, then migrate (a loop converts "
                   "only when it runs the same number of times for every input, such as range(3) over three fixed "
                   "parts); or keep this model on LibTorch, where the .pt runs as it is"),
    "while": ("a `while` loop whose condition reads the data: the converter takes only loops it can count. Keep this "
              "model on LibTorch, where the .pt runs as it is, or export its Python class instead, with the loop "
              "rewritten in tensor operations or with torch.while_loop (a prototype, as torch.cond is: 09)"),
    "prim::If": ("a branch the converter could not turn into torch.cond: make both branches return tensors of the "
                 "same shape, or keep this model on LibTorch"),
}
_GENERIC_ADVICE = ("rewrite that construct in the model's Python source with plain tensor operations and export it with "
                   "torch.export.export; or keep this model on LibTorch, where the .pt runs as it is")


# torch's words when a loop's trip count depends on the input ("dynamic value of number of iterations")
DYNAMIC_LOOP = re.compile(r"number of iterations|trip count", re.I)


def loop_advice() -> str:
    """What to do about a data-dependent loop (the most common reason a conversion fails)."""
    return _ADVICE["prim::Loop"]


@dataclass
class MigrationFailure:
    """Why a conversion failed: the node kind, where it came from in the TorchScript source, and what to do."""
    node_kind: str
    location: str          # 'File "…", line N' as TorchScript recorded it ('' if unknown)
    source_line: str       # the code on that line ('' if unknown)
    cause: str             # torch's own reason, one line
    advice: str

    @property
    def at_node(self) -> bool:
        """False when it failed before any node (then node_kind is only the exception's name)."""
        return "::" in self.node_kind

    def __str__(self):
        where = f" at {self.location}: {self.source_line}" if self.location else ""
        end = "" if self.cause.endswith(("…", ".")) else "."
        if not self.at_node:
            return f"{self.cause}{end} What to do: {self.advice}"
        return f"{self.node_kind}{where} — {self.cause}{end} What to do: {self.advice}"


_TRAINING_NOTE = "the TorchScript model is in training mode (its `training` flag is True)"


@dataclass
class MigrationReport:
    """What ``migrate`` found. ``status``: "ok", "restricted" (matches where it runs, but refuses input shapes
    the TorchScript model takes: ``refused``), "diverges" or "fails"."""
    status: str
    source: str
    example: tuple
    program: object = None
    parity: object = None
    failure: MigrationFailure = None
    dynamic_dims: dict = field(default_factory=dict)
    refused: dict = field(default_factory=dict)   # input label -> why the program refused its shape
    notes: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def __bool__(self):
        return self.ok

    def save(self, path) -> Path:
        """Write the converted program as a ``.pt2`` (``torch.export.save``), atomically; returns the path."""
        if self.program is None:
            raise ValueError(f"nothing to save: the conversion {self.status} ({self.failure or 'no program'})")
        path = Path(os.fspath(path))
        if path.suffix != ".pt2":
            raise ValueError(f"save the converted program as a .pt2 file (torch.export's format), got {path.name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".pt2", dir=path.parent)
        os.close(handle)
        try:
            save_program(self.program, temporary)
            _readable(temporary)
            os.replace(temporary, path)  # readers see the old file or the whole new one
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return path

    def reexport(self, dynamic_shapes, example=None):
        """Export ``program.module()`` again with your own dynamic shapes (e.g. ``({0: Dim("batch", min=1)},)``)."""
        if self.program is None:
            raise ValueError(f"nothing to re-export: the conversion {self.status}")
        args = self.example if example is None else _example_args(example)
        try:
            program = torch.export.export(self.program.module(), args, dynamic_shapes=dynamic_shapes)
            from ..tools.diagnose import _program_shapes  # a symbol whose range holds one value counts as fixed
            sizes = [size for shape in _program_shapes(program) for size in shape]
            if dynamic_shapes is not None and sizes and None not in sizes:
                warnings.warn("reexport: every input size of the new program is fixed at the example's: the converted "
                              "program's own checks pinned the sizes you asked to free (see report.dynamic_dims)",
                              stacklevel=2)
            return program
        except Exception as error:  # torch's constraint report runs to many lines: its first sentence, and a way on
            from .export_check import torch_suggestion
            suggestion = torch_suggestion(error)
            if re.search(r"specialized it to be a constant \([01]\)", str(error)):
                way_on = ("the example's size of 1 there was fixed (torch specialized it to be a constant, as it does "
                          "with 0 and 1): migrate again with an example of 2 or more in that dimension")
            elif "Constraints violated" in str(error):
                way_on = ("a size the converted program fixed (by a branch on it in the TorchScript code, say) stays "
                          "fixed: keep it, or export the model's Python class instead")
            else:  # not torch's verdict on a Dim: the dynamic shapes themselves are malformed
                way_on = ("give one entry per input of the program, in order, each naming dimensions the input has "
                          "(report.program.module() takes the same arguments as the example)")
            raise ValueError(f"reexport: torch.export refused these dynamic shapes ({short_message(error, 200)})"
                             + (f"; {suggestion}" if suggestion else "") + f". {way_on[0].upper()}{way_on[1:]}") from None

    @property
    def summary(self) -> str:
        mark = {"ok": "✔", "restricted": "⚠", "diverges": "✘", "fails": "✘"}[self.status]
        if mark == "✔" and any("keeps no such state" in note for note in self.notes):
            mark = "⚠"  # the answers match, but the state the model keeps is gone: read the notes
        if mark == "✔" and any("batch size 0 " in note for note in self.notes):
            mark = "⚠"  # a program for empty batches only, and nothing was compared
        if mark == "✔" and any(note.startswith(("the comparison: ", _TRAINING_NOTE)) for note in self.notes):
            mark = "⚠"  # the answers matched, but the comparison proves little (tiny outputs, training mode ...)
        if self.status == "fails" and self.failure is not None and self.failure.node_kind == "torch.export.load":
            return f"{mark} {self.source}: converted, but the saved .pt2 does not load back: {self.failure}"
        if self.status == "fails":
            at = " at " if self.failure is not None and self.failure.at_node else ": "
            return f"{mark} {self.source}: conversion fails{at}{self.failure}"
        dyn = ", ".join(f"{k}: {v}" for k, v in self.dynamic_dims.items()) or "none"
        # the ranges are the program's records; its shape checks (a Linear's input size) can refuse more
        checks = " (the program's shape checks may refuse more)" if "dynamic" in dyn else ""
        return f"{mark} {self.source}: converted in {self.seconds:.1f} s · {self.verdict} · recorded dims: {dyn}{checks}"

    @property
    def verdict(self) -> str:
        """How the converted program compares with the TorchScript model, in words."""
        if self.parity is None:
            return "not checked"
        rows = self.parity.rows
        checked = [r for r in rows if r.label not in self.refused]
        bad = [r.label for r in checked if r.diverges]
        if bad:
            return f"differs from the TorchScript model on {len(bad)} of {len(checked)} inputs (first: {bad[0]})"
        return f"matches the TorchScript model on {len(checked)} inputs (largest |diff| {max(r.max_diff for r in checked):.2g})"

    def __str__(self):
        lines = [self.summary]
        lines += [f"  {'number' if 'number' in label else 'flag' if 'flag' in label else 'shape'} refused ({label}): {why}"
                  for label, why in self.refused.items()]
        lines += [f"  note: {n}" for n in self.notes]
        if self.status == "diverges" and self.parity is not None:
            lines.append(str(self.parity))
        return "\n".join(lines)

    def __repr__(self):
        return f"<MigrationReport {self.status}: {self.source}>"

    def _repr_html_(self):
        import html
        colour = "#1a7f37" if self.ok else "#cf222e"
        body = "".join(f"<li>{html.escape(line.strip())}</li>" for line in str(self).splitlines()[1:])
        return (f"<div><div style='color:{colour};font-weight:bold'>{html.escape(self.summary)}</div>"
                f"<ul style='margin:0'>{body}</ul></div>")


# ---------------------------------------------------------------- inputs

def _example_args(example) -> tuple:
    args = model_args(example)
    if args is None or not args:
        raise TypeError("migrate: example must be a tensor, a list / dict of tensors (one argument), or a tuple "
                        "with one entry per forward argument (a tensor, a number, or a list / dict of tensors), "
                        f"e.g. torch.randn(4, 3, 64, 64); got {odd_input(example)}")
    # a view laid out otherwise (a transpose) as a contiguous copy: the program records its example's strides, and
    # the compiled routes after it (AOTInductor, ExecuTorch) would be made for that layout alone
    from .aoti import _plain_layout
    return _plain_layout(args)


def _load(source):
    """(ScriptModule, its name for the report) from a path or a ScriptModule."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix == ".pt2":
            raise ValueError(f"{path.name} is already a .pt2 (torch.export or AOTInductor): there is nothing to migrate")
        if not path.is_file():
            raise FileNotFoundError(f"migrate: no file at {path}")
        from .archive import TorchScriptFileError, check_torchscript_file
        try:  # what the file is, when it is no TorchScript file (a state_dict, a pickled model, a .pt2 ...)
            check_torchscript_file(path, "migrate")
        except TorchScriptFileError as error:
            message = str(error)
            raise ValueError(message if message.startswith("migrate") else f"migrate: {message}") from None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # torch.jit.load's deprecation notice (explained in 02)
                return torch.jit.load(str(path), map_location="cpu"), path.name
        except Exception as error:
            from .export_check import foreign_operator, import_name, library_hint
            hint = library_hint(str(error))
            if hint:  # a sound file whose operators another library registers: say so, not "not TorchScript"
                module = import_name(foreign_operator(str(error))[0])
                raise ValueError(f"migrate: {path.name} could not be loaded here: {hint} (from the command line, "
                                 f"pass --import {module})") from None
            raise ValueError(f"migrate: {path.name} is not a TorchScript file torch.jit.load can read "
                             f"({short_message(error)})") from None
    if isinstance(source, type):
        raise TypeError(f"migrate takes a TorchScript model or a .pt path, not the class {source.__name__}")
    if isinstance(source, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        return source, type(source).__name__ if not hasattr(source, "original_name") else source.original_name
    if isinstance(source, torch.nn.Module):
        raise TypeError("migrate converts TorchScript models (scripted, traced, or loaded from a .pt); this is a plain "
                        "nn.Module: export it directly with torch.export.export(model, (x,))")
    raise TypeError(f"migrate takes a .pt path or a TorchScript model, got {type(source).__name__}")


# ---------------------------------------------------------------- failure details

_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def _source_line(range_text: str):
    """(location, code) from a TorchScript source range: the first line marked with ~~~ under it."""
    lines = range_text.splitlines()
    location = ""
    match = _FILE_LINE.search(range_text)
    if match:
        # a notebook cell's code sits in a file ipykernel names after a hash (/tmp/ipykernel_123/4567.py): say "a cell"
        cell = re.search(r"[/\\]ipykernel_\d+[/\\]\d+\.py$", match.group(1))
        where = "a notebook cell" if cell else Path(match.group(1)).name
        location = f'{where}, line {match.group(2)}'
    for i, line in enumerate(lines[1:], start=1):
        if line.strip() and set(line.strip()) <= set("~^") and i > 1:
            # The first marked line is the range's start, and the number after "line" is already its own: the
            # lines of context printed above it are not counted in it
            return location, lines[i - 1].strip()
    return location, ""


def _unsupported_nodes(converter) -> list:
    """The nodes the converter cannot handle (what its own explain() lists), or [] if that fails."""
    try:
        from torch._export.converter import ExplainTS2FXGraphConverter, get_block_to_lifted_attrs
        blocks, names = get_block_to_lifted_attrs(converter.ts_graph)
        explainer = ExplainTS2FXGraphConverter(converter.ts_graph, converter.name_to_param, converter.name_to_buffer,
                                               blocks, converter.name_to_non_tensor_attributes,
                                               converter.name_to_constant, names)
        explainer.explain()
        return list(explainer.unsupported_node_list)
    except Exception:
        return []


_MEMORY_ADDRESS = re.compile(r" \(of Python compilation unit at: 0x[0-9a-f]+\)")
_FOREIGN_ATTRIBUTE = re.compile(r"Unknown type __torch__\.(?:[\w.]+\.)?(\w+) encountered in handling model params")


def _failure(error, converter, model=None) -> MigrationFailure:
    match = re.search(r"failed for node (\S+)", str(error))
    kind = match.group(1) if match else ""
    cause = (short_message(error.__cause__) if error.__cause__ is not None else short_message(error)).rstrip(".")
    cause = _MEMORY_ADDRESS.sub("", cause)  # "(of Python compilation unit at: 0x55…)": an address says nothing
    location = code = ""
    nodes = _unsupported_nodes(converter) if converter is not None else []
    node = next((n for n in nodes if n.kind() == kind), nodes[0] if nodes else None)
    if node is not None:
        kind = kind or node.kind()
        try:
            location, code = _source_line(str(node.sourceRange()))
        except Exception:
            pass
    kind = kind or type(error).__name__
    inner = re.search(r"failed for node (\S+)", cause)
    if inner and inner.group(1) != kind:  # a block (prim::If) failed because of a node inside it (prim::Loop)
        cause = f"inside it, {cause}"
    advice = _ADVICE.get(kind, _GENERIC_ADVICE)
    if kind == "prim::Loop" and code.lstrip().startswith("while"):  # a count rewrite would change what it computes
        advice = _ADVICE["while"]
    elif kind == "prim::Loop" and "dynamic value of condition" in cause:  # a fixed range with a break on the data
        advice = ("the loop's count is fixed, but whether it goes on is decided from the input (a `break` or a "
                  "condition that reads a size or a value), so it still runs as many times as the input says, which "
                  "the converter cannot take: rewrite it with tensor operations that need no count, script and save "
                  "again, then migrate; or keep this model on LibTorch, where the .pt runs as it is")
    elif kind == "prim::Loop" and not DYNAMIC_LOOP.search(cause):  # a loop of constant count failed for another reason
        advice = ("the converter failed inside this loop for the reason above, not for its count: rewrite the loop "
                  "with tensor operations, script and save again, then migrate; or keep this model on LibTorch, where "
                  "the .pt runs as it is")
    attribute = _FOREIGN_ATTRIBUTE.search(cause)
    if attribute:  # before any node: an attribute of a type the converter cannot take (a torchvision BoxCoder)
        cause = cause[:attribute.end()]  # torch's next sentence is cut short anyway; the advice says the rest
        advice = (f"the converter cannot take an attribute of this model that holds an object of the scripted class "
                  f"{attribute.group(1)}: export the model from its Python class with torch.export.export instead "
                  "(H.diagnose(model, example, routes=['export']) tells whether it exports), or keep it on LibTorch")
    file = _FILE_LINE.search(str(node.sourceRange())) if node is not None else None
    if file and "/torch/" in file.group(1).replace("\\", "/"):  # torch's own module (nn.LSTM's rnn.py): not yours to edit
        module = Path(file.group(1)).stem
        advice = (f"the construct is inside torch's own {module}.py, a module the converter cannot take as it is: "
                  "export the model from its Python class with torch.export.export instead (H.diagnose(model, example, "
                  "routes=['export']) tells whether it exports), or keep it on LibTorch")
    elif "INTERNAL ASSERT FAILED" in str(error) or "INTERNAL ASSERT FAILED" in cause:
        advice = ("torch's private converter failed inside itself (a bug of the converter, not of your model): "
                  "export the model from its Python class with torch.export.export instead (H.diagnose(model, example, "
                  "routes=['export']) tells whether it exports), or keep it on LibTorch")
    optional = _optional_tensor_arguments(converter.ts_graph if converter is not None else getattr(model, "graph", None))
    if optional and (advice == _GENERIC_ADVICE or "INTERNAL ASSERT FAILED" in str(error) + cause):
        inside = ("torch's private converter failed inside itself (a bug of the converter, not of your model): "
                  if "INTERNAL ASSERT FAILED" in str(error) + cause else "")
        advice = (f"{inside}forward has an Optional[Tensor] argument ({', '.join(optional)}), which torch's converter "
                  "does not take (given None, left out or given a tensor, it fails): export the model from its Python "
                  "class with torch.export.export instead (H.diagnose(model, example, routes=['export']) tells whether "
                  "it exports), or keep it on LibTorch")
    return MigrationFailure(kind, location, code, cause, advice)


def _optional_tensor_arguments(graph) -> list:
    """The names of the scripted forward's Optional[Tensor] arguments (``Tensor?`` in its ``graph``), if any."""
    try:
        return [value.debugName().split(".")[0] for value in list(graph.inputs())[1:]
                if isinstance(value.type(), torch._C.OptionalType)
                and isinstance(value.type().getElementType(), torch._C.TensorType)]
    except Exception:  # no graph to read: nothing to say
        return []


def _reads_training(model) -> bool:
    """True when some TorchScript code of ``model`` (or of a submodule) reads ``self.training``: only then does its
    training flag change what it computes. Code that cannot be printed counts as reading it."""
    for module in model.modules():
        try:
            code = module.code
        except Exception:  # no forward to print (a container), or code torch cannot write out
            code = "" if not hasattr(module, "forward") else "training"
        if "training" in code:
            return True
    return False


def _train_time_layers(model) -> list:
    """The names of the dropout and batch-norm layers of a TorchScript module (they act otherwise in training mode)."""
    kinds = []
    for _, module in model.named_modules():
        kind = getattr(module, "original_name", type(module).__name__)
        if re.match(r"(Dropout|AlphaDropout|FeatureAlphaDropout|BatchNorm|SyncBatchNorm|InstanceNorm)", kind):
            kinds.append(kind)
    return kinds


# ---------------------------------------------------------------- dynamic dims

def _dynamic_dims(program, args) -> dict:
    """'input i dim d' -> 'dynamic [lo, hi]' or 'fixed N' for each dimension of each tensor input."""
    placeholders = [n for n in program.graph.nodes if n.op == "placeholder"]
    user_inputs = [s.arg.name for s in program.graph_signature.input_specs
                   if s.kind == torch.export.graph_signature.InputKind.USER_INPUT]
    by_name = {n.name: n for n in placeholders}
    # the program's inputs are the example's tensors flattened: one per argument only when every argument is one
    plain = all(isinstance(a, torch.Tensor) for a in args)
    out = {}
    for i, name in enumerate(user_inputs):
        value = by_name[name].meta.get("val") if name in by_name else None
        if not isinstance(value, torch.Tensor):
            continue
        for d, size in enumerate(value.shape):
            label = (f"dim {d}" if len(user_inputs) == 1 and plain else
                     f"input {i} dim {d}" if plain else f"tensor {i} dim {d}")
            if isinstance(size, torch.SymInt) and not getattr(size.node.expr, "is_number", False):
                lo, hi = _range(program, size)
                out[label] = f"dynamic [{lo}, {hi}]"
            else:
                out[label] = f"fixed {int(size.node.expr) if isinstance(size, torch.SymInt) else int(size)}"
    return out


def _size_one_notes(dims: dict, rows) -> list:
    """A note for the dimensions recorded as ``dynamic [2, …]`` on which an input of size 1 ran anyway: the
    recorded range alone would suggest size 1 is refused. Dimensions that the same input showed together (the batch
    of two inputs) share one note."""
    found = {}  # (the input's label, its outcome) -> the dimensions it ran at size 1
    for label, text in dims.items():
        if not text.startswith("dynamic [2,"):
            continue
        i, d = _position(label)
        for r in rows:  # the i-th tensor of the row's input, in the order the program flattened them
            tensors = leaves(r.args)
            if not r.error and len(tensors) > i and tensors[i].dim() > d and tensors[i].shape[d] == 1:
                found.setdefault((r.label, "differs" if r.diverges else "matches"), []).append(label)
                break
    notes = []
    for (row_label, outcome), labels in found.items():
        subject = (f"{labels[0]}'s recorded range starts" if len(labels) == 1 else
                   f"the recorded ranges of {', '.join(labels[:-1])} and {labels[-1]} start")
        notes.append(f"{subject} at 2 (a range torch.export picks itself, as with Dim.AUTO, leaves out sizes 0 and 1), yet the input "
                     f"'{row_label}', of size 1 there, ran and {outcome}: check the sizes you need by running them, "
                     "not by reading the range")
    return notes


def _position(label: str):
    """(i, d) of a ``_dynamic_dims`` label: dimension d of the program's i-th tensor input ("dim d", "input i dim d"
    or "tensor i dim d")."""
    numbers = [int(n) for n in re.findall(r"\d+", label)]
    return (0, numbers[0]) if len(numbers) == 1 else tuple(numbers)


def _widened_refusals(model, converted, args, dims, skip=()) -> dict:
    """Label -> the program's refusal, for each dimension fixed at 1 or 0 (other than ``skip``, the batch: its own note
    says so) where an input of size 2 there runs in the TorchScript model and is refused by the program. A channel
    count the model's layers need is fixed in both, and so is not named."""
    found = {}
    for label, text in dims.items():
        if text not in ("fixed 1", "fixed 0") or label in skip:
            continue
        i, d = _position(label)
        seen = iter(range(len(leaves(args))))

        def two(t):  # size 2 there: the row doubled, or for an empty dimension two rows of zeros (valid ids too)
            if t.shape[d] == 0:
                return t.new_zeros(t.shape[:d] + (2,) + t.shape[d + 1:])
            return torch.cat([t, t], dim=d)
        wide = rebuild(args, lambda t: two(t) if next(seen) == i and t.dim() > d else t)
        try:
            with torch.no_grad():
                model(*wide)
        except Exception:  # the TorchScript model needs that size too: nothing lost
            continue
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                converted(*wide)
        except Exception as error:
            found[label] = (short_message(error, limit=120), shapes(wide))
    return found


def _range(program, size):
    expr = size.node.expr
    constraint = program.range_constraints.get(expr)
    if constraint is None:
        return "?", "?"
    lo, hi = constraint.lower, constraint.upper
    hi = "∞" if (not isinstance(hi, int) and str(hi) in ("int_oo", "oo")) or (isinstance(hi, (int, float)) and math.isinf(hi)) else hi
    return lo, hi


_REFUSAL = re.compile(r"Guard failed|Expected input at|to be equal to|but got|not structured like the example",
                      re.IGNORECASE)
# A check torch.export wrote into the program on a symbolic size ("Runtime assertion failed for expression u1 >= 4",
# from a traced nn.TransformerEncoder at batch 1): on an input that differs from the example only in a size, the
# program refuses that size as a guard would, and computes nothing else. On other inputs it is not called a refusal.
_SIZE_ASSERTION = re.compile(r"Runtime assertion failed for expression")


def _refusal(label, error) -> bool:
    """True when the program's error on the input ``label`` is a refusal of its shape, not a wrong computation."""
    return bool(error) and bool(_REFUSAL.search(error) or (_SIZE_ASSERTION.search(error) and SIZE_VARIANT.match(label)))


# ---------------------------------------------------------------- the migration

def migrate(source, example, *, progress=None, batch_dim=0) -> MigrationReport:
    """Convert a TorchScript model (``.pt`` path or ScriptModule) to an ``ExportedProgram`` and check it.

    ``example``: one input (tensor) or a tuple of inputs, with a batch size of 2 or more if the batch
    should stay dynamic. ``progress``: optional function called with the name of each step.
    ``batch_dim``: where the batch sits, as for ``H.parity`` (1 for a sequence-first model, or one per input:
    an LSTM's state holds its batch in dimension 1, ``batch_dim=(0, 1)``), so that the variants the check
    tries change every input's batch together.
    Uses the private ``torch._export.converter.TS2EPConverter`` (see ``H.CONVERTER_IS_PRIVATE``).
    """
    from ..tools.parity import argument_hint, fresh_copy, parity

    step = progress if callable(progress) else (lambda name: None)
    start = time.monotonic()
    step("loading")
    model, name = _load(source)
    if model is source:  # a ScriptModule of yours: its state (a counter, a buffer) is left as it was
        model = fresh_copy(model)
    args = _example_args(example)
    from ..tools.input_variants import batch_dim_for
    batch_dim = batch_dim_for(args, batch_dim, "migrate")  # a one-line error when it does not fit the example
    try:
        with torch.no_grad():
            fresh_copy(model)(*args)  # a trial run on a copy: the program is converted from the state as it is
    except Exception as error:
        raise ValueError(f"migrate: the TorchScript model itself fails on the example with shape {shapes(args)} "
                         f"({short_message(error).rstrip('.')}{argument_hint(args, error)}): "
                         "pass an input the deployed model accepts") from None
    notes = []
    step("converting")
    from torch._export.converter import TS2EPConverter  # private: see CONVERTER_IS_PRIVATE
    converter = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the converter warns about state_dict entries and deprecations
        from .export_bridge import quiet_export
        try:
            with quiet_export():
                converter = TS2EPConverter(model, args)
                program = converter.convert()
        except Exception as error:
            failure = _failure(error, converter, model)
            if getattr(model, "training", False) and _train_time_layers(model):  # their `if training:` stays in
                failure.advice = ("the TorchScript model is in training mode (its `training` flag is True), so the "
                                  "branches batch norm and dropout take while training are in its code: call .eval() "
                                  "on it and migrate again, e.g. H.migrate(torch.jit.load(path).eval(), example). If "
                                  "that fails too: " + failure.advice)
            return MigrationReport("fails", name, args, failure=failure, notes=notes,
                                   seconds=time.monotonic() - start)
    dims = _dynamic_dims(program, args)
    first = args[0] if args and isinstance(args[0], torch.Tensor) and args[0].dim() > 0 else None
    step("checking")
    # a program that updates buffers in place keeps what calls do to them, and saves it: they are put back as
    # converted once the checks below are done
    converted_state = {key: value.clone() for key, value in program.state_dict.items()
                       if isinstance(value, torch.Tensor)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = program.module()
        check = parity(model, converted, example=args if len(args) > 1 else args[0], label="converted",
                       batch_dim=batch_dim)
    # the batch's own note speaks of dimension 0 of the first input: with the batch placed elsewhere, it is left out
    batch_label = (next((label for label in dims if _position(label) == (0, 0)), None)
                   if first is not None and batch_dim == 0 else None)
    batch_refusal = {}
    if batch_label is not None and first.shape[0] in (0, 1):  # only if the TorchScript model runs a size of 2 there
        batch_refusal = _widened_refusals(model, converted, args, {batch_label: dims[batch_label]})
    if batch_refusal or (first is not None and first.shape[0] == 0):
        notes.append(f"the example has batch size {first.shape[0]} (dim 0 of its first input, the batch in most "
                     f"models), so the converter fixed that dimension to {first.shape[0]} (torch.export treats sizes "
                     "0 and 1 as constants)" + (", and the program refuses a size of 2 there, which the TorchScript "
                     "model runs" if batch_refusal else "") + ": migrate again with 2 or more there to keep it "
                     "dynamic, then report.reexport(...) with your own Dim if you need bounds")
    check.coverage_note = ""  # the reference is TorchScript, which runs no Python lines: saying so every time is noise
    refused = {r.label: r.error for r in check.rows if _refusal(r.label, r.error)}
    diverging = [r for r in check.rows if r.diverges and r.label not in refused]
    all_refused = len(refused) == len(check.rows)
    # a shape the parity rows already tried and saw refused (their "batch 2") is counted and listed once
    refused_shapes = {r.shapes for r in check.rows if r.label in refused}

    def add_refusals(found):
        for label, (why, shape) in found.items():
            if shape not in refused_shapes:
                refused[f"{label} of size 2"] = why
                refused_shapes.add(shape)
    add_refusals(batch_refusal)
    widened = _widened_refusals(model, converted, args, dims, skip=(batch_label,))  # the batch has its own note
    if widened:
        sizes = " or ".join(sorted({dims[label].split()[-1] for label in widened}))  # "fixed 1", "fixed 0"
        notes.append(f"{', '.join(widened)} {'was' if len(widened) == 1 else 'were'} fixed at the example's size of {sizes} "
                     f"(with Dim.AUTO, torch.export makes a size of 0 or 1 in the example a constant), and the program "
                     "refuses a size of 2 there, which the TorchScript model runs: migrate again with an example of size "
                     "2 or more there")
        add_refusals(widened)
    # which of the program's tensors the checks' calls changed: the converter keeps a buffer's update as an
    # in-place operation on it (not in graph_signature.buffers_to_mutate), so the calls tell
    from ..tools.parity import script_set_attributes  # imported here as parity is above (it loads lazily)
    written = script_set_attributes(model)
    if converted_state and written:  # parity called copies: one call of the program itself tells
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                converted(*args)
        except Exception:  # a program that refuses its own example has told its story in the rows above
            pass
    moved = [key for key, value in converted_state.items() if not torch.equal(program.state_dict[key], value)]
    with torch.no_grad():  # the state as converted, not as the checks' calls left it
        for key, value in converted_state.items():
            program.state_dict[key].copy_(value)
    kept = moved or program.graph_signature.buffers_to_mutate
    plain = sorted(name for name, tensor in written.items() if not tensor or not kept)
    if plain:  # lost even when the answers match: a counter others read is gone
        notes.append(f"the TorchScript model changes its own attributes as it runs (prim::SetAttr on "
                     f"{', '.join(plain[:3])}), and the converted program keeps no such state: "
                     + ("answers that depend on it differ" if diverging else
                        "the answers matched here, but that state is lost"))
    elif written:  # tensors the program updates in place, as buffers: kept, and moved by every call
        notes.append(f"the TorchScript model updates tensors it holds as it runs ({', '.join(sorted(written)[:3])}); "
                     "the converted program updates them too, as buffers it changes in place, so every call of "
                     "report.program.module() moves them, and report.save() writes them as they are then "
                     "(this check left them as converted)")
    numbers = [label for label in refused if "number" in label]  # an int argument fixed to the example's value
    flags = [label for label in refused if "flag" in label]  # a bool argument, the same
    if len(refused) > len(numbers) + len(flags):
        notes.append(f"the program refuses {len(refused) - len(numbers) - len(flags)} input shape(s) the TorchScript model accepts "
                     "(fixed dimensions, a fixed number of items in a list, or a check the program makes on a size); "
                     "see the dims above")
    notes += _size_one_notes(dims, check.rows)
    if numbers:
        notes.append("the program fixed a number argument to the example's value and refuses others the TorchScript "
                     "model accepts: export keeps a number argument as a constant unless dynamic_shapes marks an int "
                     "one Dim.DYNAMIC or Dim.AUTO (a named Dim is refused for an int; a float stays a constant)")
    if flags:
        notes.append("the program fixed a bool argument to the example's value and refuses the other one, which the "
                     "TorchScript model accepts: export keeps a bool argument as a constant, so make one program per "
                     "value you use, or pass the flag as a tensor and choose with torch.cond")
    # what the comparison itself could not show (outputs within atol of zero, a model in training mode, empty or NaN
    # outputs): a match then proves little, and the summary says ⚠ instead of ✔
    notes += [f"the comparison: {warning}" for warning in check.warnings]
    if getattr(model, "training", False) and not check.training_mode and _reads_training(model):  # its own `if self.training:`
        notes.append(f"{_TRAINING_NOTE}: the converted program does what forward does in training (any `if "
                     "self.training:` branch), and it matched the file as it is; if you ship the model in eval mode, "
                     "call .eval() on the loaded model and migrate that")
    status = "diverges" if diverging or all_refused else "restricted" if refused else "ok"
    unloadable = _round_trip_problem(program)
    if unloadable:  # it converted and may agree, but the .pt2 that report.save() writes would not load
        failure = MigrationFailure("torch.export.load", "", "", unloadable,
                                   "change what the TorchScript model returns (tensors and numbers only), "
                                   "save it again and migrate that")
        return MigrationReport("fails", name, args, parity=check, failure=failure, dynamic_dims=dims, refused=refused,
                               notes=notes, seconds=time.monotonic() - start)
    return MigrationReport(status, name, args, program=program, parity=check, dynamic_dims=dims, refused=refused,
                           notes=notes, seconds=time.monotonic() - start)


def _round_trip_problem(program) -> str:
    """Why ``program`` saved with torch.export.save does not load back (in memory); "" when it does."""
    import io

    from .export_bridge import load_program
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            save_program(program, buffer)
            buffer.seek(0)
            load_program(buffer)
    except Exception as error:  # noqa: BLE001 - any failure means the saved file is of no use
        return short_message(error, limit=300).removeprefix("torch.export.load failed: ")
    return ""
