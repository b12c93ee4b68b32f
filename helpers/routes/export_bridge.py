"""Bridges from TorchScript to torch.export and ONNX (introduced in 09_beyond_torchscript).

* ``with H.quiet_export():`` hides what torch's exporters print on their own (progress lines,
  partial graphs dumped on a failure, internal log lines) and keeps every warning visible;
  the hidden text stays on the object (``.hidden``) for whoever wants it.
* ``H.onnx_runner(path)`` runs an ``.onnx`` file in onnxruntime as if it were a torch model
  (tensors in, tensors out), so ``H.parity(eager, runner, ...)`` compares it with eager PyTorch.
* ``H.onnx_op_types(path)`` counts the ONNX operators in a file (is there an ``If`` node?).
* ``H.archive_names(path)`` lists what a ``.pt`` / ``.pt2`` zip archive holds.
* ``H.fact_table({...})`` renders facts computed by earlier cells as a table.
* ``H.side_by_side(a, b)`` shows two pictures (e.g. two ``H.draw_graph`` results) next to each other.
"""
import collections
import contextlib
import base64
import html
import io
import warnings
import os
import re
import zipfile
from pathlib import Path

import torch

__all__ = ["QuietExport", "quiet_export", "save_program", "OnnxRunner", "onnx_runner", "onnx_op_types",
           "archive_names", "FactTable", "fact_table", "SideBySide", "side_by_side"]


# ---------------------------------------------------------------- quiet exporters

class QuietExport:
    """Context manager: swallow the exporters' own printing, re-show every warning after the block.

    torch.export prints the partial graph of a failed capture straight to stderr (twice), and the
    ONNX exporter prints progress lines; both drown the one-line failure a notebook wants to show.
    Warnings are recorded and shown again when the block ends, so none that teaches is lost.
    """

    def __init__(self):
        self.hidden = ""
        self.warnings = []
        self._stack = None

    def __enter__(self):
        self._out, self._err = io.StringIO(), io.StringIO()
        self._stack = contextlib.ExitStack()
        self._stack.enter_context(contextlib.redirect_stdout(self._out))
        self._stack.enter_context(contextlib.redirect_stderr(self._err))
        # record=True keeps the active filters: exactly the warnings that would have shown are recorded
        self.warnings = self._stack.enter_context(warnings.catch_warnings(record=True))
        return self

    def __exit__(self, exc_type, exc, tb):
        self._stack.close()
        self.hidden = self._out.getvalue() + self._err.getvalue()
        for w in self.warnings:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
        return False  # errors go on to the caller (e.g. H.expect_failure)

    def show_hidden(self) -> None:
        """Print what the exporter printed while it was hidden."""
        print(self.hidden if self.hidden.strip() else "(the exporter printed nothing)")

    def __repr__(self):
        return f"<quiet_export: {len(self.hidden.splitlines())} hidden lines, {len(self.warnings)} warnings re-shown>"


def quiet_export() -> QuietExport:
    """``with H.quiet_export(): torch.export.export(...)``: exporter chatter hidden, warnings kept."""
    return QuietExport()


def _symbolic_bool_outputs(program) -> list:
    """The outputs of an ExportedProgram's graph that are symbolic bools (a comparison of sizes)."""
    try:
        output = next(node for node in program.graph.nodes if node.op == "output")
    except (AttributeError, StopIteration):
        return []
    return [node for node in output.all_input_nodes if isinstance(node.meta.get("val"), torch.SymBool)]


def save_program(program, f) -> None:
    """``torch.export.save(program, f)``, with a sentence for the one failure it gives no words to.

    In this torch, saving a program that returns a bool computed from sizes (``x.shape[0] > 2`` with a dynamic
    batch) stops on ``AssertionError: TODO`` in the serializer; a symbolic int or float output saves.
    """
    try:
        torch.export.save(program, f)
    except AssertionError as error:
        if str(error) != "TODO" or not _symbolic_bool_outputs(program):
            raise
        raise ValueError("torch.export.save cannot store a bool computed from sizes (`x.shape[0] > 2`, a dynamic "
                         "size): return it as a tensor or compute it after loading (torch: AssertionError: TODO)") from None


_STRING_OUTPUT = "a .pt2 cannot hold a str output: return tensors (and numbers) only, and add the string after loading"


def serializer_cause(text: str) -> str:
    """torch's own reason for a ``.pt2`` that does not load, from an error text that holds torch's logged lines.

    ``torch.export.load`` logs the serializer's error (``SerializeError: Unable to deserialize output node
    Argument(as_string=ok)``) and raises one that says only "Please check the warnings above"; "" when the text
    has no such line."""
    if "check the warnings above" not in text:
        return ""
    found = [line.strip() for line in text.splitlines() if re.search(r"\b\w*(Serialize)?Error: \S", line)
             and "check the warnings above" not in line]
    if not found:
        return ""
    cause = found[-1]
    cause = cause[cause.rfind("SerializeError:"):] if "SerializeError:" in cause else cause
    return f"{cause} ({_STRING_OUTPUT})" if "as_string=" in cause else cause


def load_program(f):
    """``torch.export.load(f)``, whose error names torch's reason instead of "check the warnings above"."""
    import logging

    logged = []

    class Keep(logging.Handler):
        def emit(self, record):
            error = record.exc_info[1] if record.exc_info else None
            logged.append(record.getMessage() + (f" {type(error).__name__}: {error}" if error is not None else ""))

    keep = Keep(logging.WARNING)
    loggers = [logging.getLogger(name) for name in ("torch.export", "torch._export")]
    saved = [(logger, logger.handlers, logger.propagate) for logger in loggers]
    for logger in loggers:  # kept off the screen (torch gives these loggers their own stderr handler): the reason
        logger.handlers = [keep]  # goes into the error instead
        logger.propagate = False
    try:
        return torch.export.load(f)
    except Exception as error:
        cause = serializer_cause("\n".join([str(error)] + logged))
        if not cause:
            raise
        raise RuntimeError(f"torch.export.load failed: {cause}") from None
    finally:
        for logger, handlers, propagate in saved:
            logger.handlers = handlers
            logger.propagate = propagate


# ---------------------------------------------------------------- ONNX

def _onnx_file(path, who) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        if hasattr(type(path), "proto"):  # H.diagnose's ONNX copy: it holds its model, not a file
            raise TypeError(f"{who} takes an .onnx file or an ONNX model: pass the copy's model, {who}(copy.proto)")
        raise TypeError(f"{who} takes the path of an .onnx file, got {type(path).__name__}: "
                        "save the model first, e.g. torch.onnx.export(model, args, WORK / 'model.onnx')")
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"{who}: no file at {path}: export the model there first with torch.onnx.export")
    if zipfile.is_zipfile(path):  # onnxruntime would only say "Protobuf parsing failed"
        raise ValueError(f"{who}: {path.name} is a zip archive (a TorchScript .pt or a .pt2), not an ONNX file: "
                         "write one with torch.onnx.export(model, args, 'model.onnx')")
    return path


# onnxruntime's input types, as torch dtypes: a number argument the file takes is fed as a 0-d tensor of its type
_ONNX_TYPES = {"tensor(int64)": torch.int64, "tensor(int32)": torch.int32, "tensor(float)": torch.float32,
               "tensor(double)": torch.float64, "tensor(bool)": torch.bool}


class OnnxRunner:
    """An ONNX file in onnxruntime, called like a torch model: ``runner(x)`` takes and returns tensors."""

    keeps_state = False  # an ONNX graph holds no values from one call to the next (H.parity reads this)

    def __init__(self, path):
        import onnxruntime as ort  # imported here: only 09 needs it
        self.path = _onnx_file(path, "onnx_runner")
        options = ort.SessionOptions()
        # fatal only: its errors reach the learner in the exception, once, not also as red log lines
        options.log_severity_level = 4
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as error:  # a file that is not ONNX, or cut short: onnxruntime's own text is a protobuf error
            typed = re.search(r"Type '(tensor\(\w+\))' of input parameter .* of operator \((\w+)\)", str(error))
            if typed:  # a whole file, with a dtype the operator's ONNX definition does not take (bfloat16 Conv)
                raise ValueError(f"onnx_runner: onnxruntime cannot load {self.path.name}: its {typed.group(2)} gets a "
                                 f"{typed.group(1)}, a type that operator does not take ({_first_line(error)}): "
                                 "export the model in float32 (model.float(), and float inputs)") from None
            kernel = re.search(r"Could not find an implementation for (\w+)\((\d+)\)", str(error))
            if kernel:  # a valid file, but no CPU kernel for that operator with the types it gets (bfloat16 Gemm)
                raise ValueError(f"onnx_runner: onnxruntime cannot load {self.path.name}: its CPU has no kernel for "
                                 f"{kernel.group(1)} (its version {kernel.group(2)}) with the types this file gives it "
                                 f"({_first_line(error)}): if the model is not float32 (bfloat16, float64 ...), export "
                                 "it in float32 (model.float(), and float inputs)") from None
            raise ValueError(f"onnx_runner: onnxruntime cannot load {self.path.name} ({_first_line(error)}): is it an "
                             "ONNX file written completely by torch.onnx.export?") from None
        self.inputs = self.session.get_inputs()
        self.input_names = [i.name for i in self.inputs]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, *args):
        leaves = torch.utils._pytree.tree_leaves(args)
        fixed = [leaf for leaf in leaves if isinstance(leaf, (int, float, str))]
        if fixed and len(leaves) == len(self.input_names) and not any(isinstance(leaf, str) for leaf in leaves):
            # a number the file takes as an input (exported with a dynamic int): as a 0-d tensor of that input's type
            types = iter([_ONNX_TYPES.get(spec.type) for spec in self.inputs])  # one per leaf, in the file's order

            def as_input(leaf):
                dtype = next(types)
                return torch.tensor(leaf, dtype=dtype) if isinstance(leaf, (int, float)) and dtype is not None else leaf
            args = torch.utils._pytree.tree_map(as_input, args)
        elif fixed and sum(isinstance(leaf, torch.Tensor) for leaf in leaves) == len(self.input_names):
            # the tensors fill the file's inputs, and the numbers beside them have none: dropped, the call would run
            # the file's own value and answer for it, with no error
            raise TypeError(f"{self.path.name}: {fixed[0]!r} is no input of the file: torch.onnx.export fixed each "
                            "number or string argument at its example's value, and the file does not record which. "
                            f"Call it with its tensor inputs only ({', '.join(self.input_names)}), and export one "
                            "file per value you need (H.parity passes eager's arguments: compare with "
                            "lambda x, k: runner(x) only at the exported value)")
        given = len(args)
        if len(args) != len(self.input_names) or not all(isinstance(a, torch.Tensor) for a in args):
            # a list or dict argument is in the file as its tensors, one ONNX input each, in pytree order; a dict's
            # in the file's order of its keys (named "<argument>_<key>"), whatever order the caller wrote them in
            args = _in_file_order(args, self.input_names, self.path.name)
            tensors = [leaf for leaf in torch.utils._pytree.tree_leaves(args) if isinstance(leaf, torch.Tensor)]
            given = len(tensors) if len(tensors) != len(args) else len(args)
            if len(tensors) == len(self.input_names):
                args = tuple(tensors)
        if len(args) != len(self.input_names) or (given and given != len(self.input_names)):
            counted = f"{given} tensors in {len(args)} argument(s)" if given != len(args) else str(len(args))
            raise TypeError(f"{self.path.name} takes {len(self.input_names)} input(s) "
                            f"({', '.join(self.input_names)}), got {counted}")
        for spec, value in zip(self.inputs, args):
            if not isinstance(value, torch.Tensor):
                raise TypeError(f"input {spec.name!r} must be a torch.Tensor, got {type(value).__name__}")
            problem = _input_problem(spec, value)
            if problem:  # onnxruntime would say it in three lines of its own words
                raise ValueError(f"{self.path.name}: input {spec.name!r} {problem}")
        feed = {name: t.detach().cpu().numpy() for name, t in zip(self.input_names, args)}
        try:
            results = self.session.run(None, feed)
        except Exception as error:  # e.g. an index out of range in a Gather: onnxruntime's first line says which node
            raise RuntimeError(f"{self.path.name}: onnxruntime failed ({_first_line(error)})") from None
        outputs = [torch.from_numpy(o) for o in results]
        return outputs[0] if len(outputs) == 1 else tuple(outputs)

    def __repr__(self):
        return f"<OnnxRunner {self.path.name}: inputs {self.input_names} -> outputs {self.output_names}>"


def _in_file_order(value, names, file_name="the file", offset=None):
    """``value`` with each dict's keys in the order the ONNX file's input names hold them (the exporter names a dict
    argument's tensors "<argument>_<key>"). A dict of several keys whose keys the names do not carry (the legacy
    exporter names inputs by position, "onnx::Mul_0") is refused: its tensors would go in by the caller's key order,
    which may not be the export's, and give wrong numbers without an error. The arguments' tensors sit in the file
    one argument after another, so each dict is matched among its own stretch of names only (two dicts with the
    same keys), and longer keys first ("attention_mask" before "mask", which it ends with)."""
    top = offset is None
    if top:  # the call's arguments: each one's stretch of names starts where the one before it ended
        offset, placed = 0, []
        for item in value:
            placed.append(_in_file_order(item, names, file_name, offset))
            offset += len(torch.utils._pytree.tree_leaves(item))
        return type(value)(placed)
    if isinstance(value, dict):
        stretch = names[offset:offset + len(torch.utils._pytree.tree_leaves(value))]
        places, free = {}, list(range(len(stretch)))
        if all(isinstance(v, torch.Tensor) for v in value.values()):  # one name each: nested values keep their order
            for key in sorted(value, key=lambda k: -len(str(k))):
                found = [i for i in free if stretch[i] == str(key) or stretch[i].endswith(f"_{key}")]
                if found:
                    places[key] = found[0]
                    free.remove(found[0])
        if len(places) == len(value):
            value = {key: value[key] for key in sorted(value, key=places.get)}
        elif len(value) > 1:
            raise ValueError(f"{file_name}: its input names ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''}) "
                             f"do not carry the dict's keys, so the order of {list(value)} cannot be checked: pass the "
                             "tensors as separate arguments, in the key order of the dict you exported with")
        ordered = {}
        for key, item in value.items():
            ordered[key] = _in_file_order(item, names, file_name, offset)
            offset += len(torch.utils._pytree.tree_leaves(item))
        return ordered
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):  # a NamedTuple is kept as it is
        placed = []
        for item in value:
            placed.append(_in_file_order(item, names, file_name, offset))
            offset += len(torch.utils._pytree.tree_leaves(item))
        return type(value)(placed)
    return value


# ONNX's names for the element types torch tensors come in ("tensor(float)"), as torch names them
_ONNX_DTYPES = {"tensor(float)": torch.float32, "tensor(double)": torch.float64, "tensor(float16)": torch.float16,
                "tensor(bfloat16)": torch.bfloat16, "tensor(int64)": torch.int64, "tensor(int32)": torch.int32,
                "tensor(int16)": torch.int16, "tensor(int8)": torch.int8, "tensor(uint8)": torch.uint8,
                "tensor(bool)": torch.bool}


def _input_problem(spec, tensor) -> str:
    """What is wrong with ``tensor`` for the ONNX input ``spec`` (its dtype, rank or a fixed size), or ""."""
    wanted = _ONNX_DTYPES.get(spec.type)
    if wanted is not None and tensor.dtype != wanted:
        return f"is {tensor.dtype}, and the file takes {wanted}: convert it, e.g. x.to({wanted})"
    shape = list(spec.shape or [])
    if shape and len(shape) != tensor.dim():
        return (f"has {tensor.dim()} dimension(s) {tuple(tensor.shape)}, and the file takes {len(shape)} "
                f"({'×'.join(str(n) if isinstance(n, int) else str(n) for n in shape)})")
    fixed = [(d, n, m) for d, (n, m) in enumerate(zip(shape, tensor.shape)) if isinstance(n, int) and n != m]
    if fixed:
        d, n, m = fixed[0]
        return (f"has size {m} in dimension {d}, and the file holds that size fixed at {n} (if the model takes other "
                "sizes there, export with it dynamic: dynamic_shapes=, or dynamic_axes= for the legacy exporter)")
    return ""


def _first_line(error) -> str:
    """onnxruntime's message without its "[ONNXRuntimeError] : 2 : INVALID_ARGUMENT :" prefix, first line only."""
    import re
    text = re.sub(r"^\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*\w+\s*:\s*", "", str(error).strip())
    line = text.splitlines()[0].strip() if text else type(error).__name__
    return line if len(line) <= 200 else line[:199] + "…"


def onnx_runner(path) -> OnnxRunner:
    """Load an ``.onnx`` file into onnxruntime (CPU); the result is called like the torch model."""
    return OnnxRunner(path)


def onnx_op_types(model, nested: bool = False) -> collections.Counter:
    """How many nodes of each ONNX operator the graph has; ``nested=True`` also counts inside If/Loop bodies."""
    import onnx  # imported here: only 09 needs it
    if isinstance(model, onnx.ModelProto):
        proto = model
    else:
        proto = onnx.load(str(_onnx_file(model, "onnx_op_types")))
    counts = collections.Counter()

    def walk(graph):
        for node in graph.node:
            counts[node.op_type] += 1
            if nested:
                for attribute in node.attribute:
                    if attribute.type == onnx.AttributeProto.GRAPH:
                        walk(attribute.g)
                    for sub in attribute.graphs:
                        walk(sub)

    walk(proto.graph)
    return counts


# ---------------------------------------------------------------- archives

def archive_names(path, *, top_folder: bool = True) -> list:
    """The member names of a saved model archive (``.pt`` from torch.jit.save, ``.pt2`` from torch.export.save or
    AOTInductor). ``top_folder=False`` drops the archive's own top folder from each name (``model/code/...`` →
    ``code/...``), which differs from file to file."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"archive_names takes the path of a saved model, got {type(path).__name__}")
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"archive_names: no file at {path}: save the model there first")
    if not zipfile.is_zipfile(path):
        raise ValueError(f"archive_names: {path.name} is not a zip archive (an .onnx file is a protobuf, not a zip)")
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return names if top_folder else [n.split("/", 1)[1] if "/" in n else n for n in names]


# ---------------------------------------------------------------- fact table

def _cell_text(value) -> str:
    if isinstance(value, bool):
        return "✔ yes" if value else "✘ no"
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], bool):
        return f"{'✔' if value[0] else '✘'} {value[1]}"
    return str(value)


class FactTable:
    """Rows of facts (row label -> {column -> value}); a bool shows as ✔/✘, ``(bool, note)`` as ✔/✘ note."""

    def __init__(self, rows: dict):
        if not isinstance(rows, dict) or not rows:
            raise TypeError("fact_table takes a non-empty dict: {row label: {column: value, ...}, ...}")
        columns = []
        for label, row in rows.items():
            if not isinstance(row, dict):
                raise TypeError(f"fact_table: row {label!r} must be a dict of column -> value, got {type(row).__name__}")
            for column in row:
                if column not in columns:
                    columns.append(column)
        self.rows = {str(k): dict(v) for k, v in rows.items()}
        self.columns = columns

    def cell(self, row: str, column: str) -> str:
        """The text shown in one cell ("" where the row has no value for that column)."""
        if row not in self.rows:
            raise KeyError(f"no row {row!r}: the rows are {list(self.rows)}")
        return _cell_text(self.rows[row][column]) if column in self.rows[row] else ""

    def markdown(self) -> str:
        lines = ["| | " + " | ".join(self.columns) + " |", "|---" * (len(self.columns) + 1) + "|"]
        for label in self.rows:
            lines.append(f"| **{label}** | " + " | ".join(self.cell(label, c).replace("|", "\\|")
                                                         for c in self.columns) + " |")
        return "\n".join(lines)

    def __repr__(self):
        return self.markdown()

    def _repr_markdown_(self):
        return self.markdown()

    def _repr_html_(self):
        def td(text):
            colour = "#1a7f37" if text.startswith("✔") else "#cf222e" if text.startswith("✘") else "inherit"
            return f"<td style='text-align:left;color:{colour}'>{html.escape(text)}</td>"

        head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
                       + "".join(td(self.cell(label, c)) for c in self.columns) + "</tr>"
                       for label in self.rows)
        return f"<table><thead><tr><th></th>{head}</tr></thead><tbody>{body}</tbody></table>"


def fact_table(rows: dict) -> FactTable:
    """A table of facts the notebook computed: ``{"torch.export": {"keeps the if": False, ...}, ...}``."""
    return FactTable(rows)


# ---------------------------------------------------------------- side by side

def _as_html(item) -> str:
    """One displayable object as HTML: its SVG if it has one (graph pictures), else its HTML, else its text."""
    svg = getattr(item, "svg", None)
    if callable(svg):  # as an image, so that the picture's own ids and styles cannot touch the page's
        data = base64.b64encode(svg().encode()).decode("ascii")
        return f"<img src='data:image/svg+xml;base64,{data}' style='max-width:100%'/>"
    if hasattr(item, "_repr_html_"):
        return item._repr_html_()
    return f"<pre>{html.escape(repr(item))}</pre>"


class SideBySide:
    """Several pictures or tables in one row, each under its caption; plain HTML, so every front end shows it."""

    def __init__(self, items, captions):
        self.items, self.captions = items, captions

    def _repr_html_(self):
        def caption(text):
            return f"<div style='font-weight:bold;margin-bottom:4px'>{html.escape(text)}</div>" if text else ""

        cells = "".join(f"<td style='vertical-align:top;text-align:center;padding:0 12px'>{caption(c)}{_as_html(i)}</td>"
                        for i, c in zip(self.items, self.captions))
        return f"<table style='border:none'><tr>{cells}</tr></table>"

    def __repr__(self):
        return "  |  ".join(f"{c}: {i!r}" if c else repr(i) for i, c in zip(self.items, self.captions))


def side_by_side(*items, captions=None) -> SideBySide:
    """Show ``items`` (e.g. two ``H.draw_graph`` pictures, which carry their own titles) next to each other."""
    if len(items) < 2:
        raise TypeError("side_by_side takes two or more things to show, e.g. side_by_side(picture_a, picture_b)")
    if captions is None:
        captions = [""] * len(items)
    if isinstance(captions, str) or len(captions) != len(items):
        raise ValueError(f"side_by_side: give one caption per item ({len(items)}), as a list of strings")
    return SideBySide(list(items), [str(c) for c in captions])
