"""draw_graph, count_nodes and GraphPicture: what a learner calls to see a graph (02_what_is_torchscript)."""
import collections
import os
from pathlib import Path

import torch

from .builder import _Builder, _add_order_links
from .mermaid import _to_mermaid
from .png import _to_png
from .svg import _to_svg
from .read_fx import _FxWalker, _export_input_kinds
from .read_torchscript import _TorchScriptWalker

__all__ = ["draw_graph", "count_nodes", "GraphPicture"]

DEFAULT_MAX_NODES = 120  # past this a diagram is a wall of boxes; the rest is summarised in one node
MERMAID_LIMITS = (50_000, 500)  # Mermaid's default maxTextSize and maxEdges: past them it draws an error

# Shown in error messages: what draw_graph can read.
_ACCEPTS = ("a scripted or traced model or function (torch.jit.script / torch.jit.trace), its .graph, "
            "a torch.export ExportedProgram or a torch.fx GraphModule")


def _describe_bad_input(obj, who):
    if obj is None:
        return f"{who} got None: pass {_ACCEPTS}"
    if isinstance(obj, (str, os.PathLike)):
        if str(obj).endswith(".pt2") and os.path.isfile(obj):
            from ...routes.cpp_runner import _archive_kind
            if _archive_kind(obj) == "aoti":  # AOTInductor's package: compiled code, which torch.export.load refuses
                return (f"{who} got the path of an AOTInductor package, which holds compiled code, not a graph to "
                        f"draw: draw the ExportedProgram it was made from, {who}(torch.export.export(model, "
                        "(example_input,)))")
        if str(obj).endswith((".pt", ".pt2", ".pte", ".onnx")) and not os.path.exists(obj):
            return f"{who} got the path {os.fspath(obj)!r}, where there is no file: check the name and folder"
        if str(obj).endswith((".pt", ".pt2")):  # a saved file: load it first, as its kind wants
            load = "torch.export.load(path)" if str(obj).endswith(".pt2") else "torch.jit.load(path)"
            return f"{who} got a path: load the file first, e.g. {who}({load})"
        if str(obj).endswith((".pte", ".onnx")):  # compiled or ONNX files: no graph this picture reads
            return (f"{who} got the path of an {'ExecuTorch program' if str(obj).endswith('.pte') else 'ONNX file'}, "
                    "which holds no graph it can draw: draw the ExportedProgram it was made from, "
                    f"{who}(torch.export.export(model, (example_input,)))"
                    + (", or count its ONNX operators with H.onnx_op_types(path)" if str(obj).endswith(".onnx") else ""))
        return f"{who} got a string: pass the model itself, e.g. {who}(torch.jit.script(model))"
    if isinstance(obj, type):
        return f"{who} got the class {obj.__name__}: create an instance, then pass torch.jit.script(instance)"
    if isinstance(obj, torch.nn.Module):
        name = type(obj).__name__
        return (f"{who} got a plain nn.Module ({name}) that has no graph yet: pass torch.jit.script(model), "
                f"torch.jit.trace(model, example_input) or torch.export.export(model, (example_input,))")
    if type(obj).__name__ == "_OnnxCopy":  # H.diagnose's copy for the onnx route
        return (f"{who} got an ONNX copy, which runs in onnxruntime and has no TorchScript graph: "
                "H.onnx_op_types(copy.proto) counts its ONNX operators (H.onnx_op_types(path) those of an .onnx file)")
    if type(obj).__name__ == "ONNXProgram":  # what torch.onnx.export(..., dynamo=True) returns
        return (f"{who} got an ONNXProgram (torch.onnx.export's result), whose graph is ONNX's: pass its "
                f"torch.export program, {who}(onnx_program.exported_program), or count its ONNX operators with "
                "H.onnx_op_types(path)")
    kind = type(obj).__name__
    if kind in ("CheckedPackage", "AOTICompiledModel", "PteRunner"):  # H.load_aoti, torch's loader, H.pte_runner
        made = "an ExecuTorch program (.pte)" if kind == "PteRunner" else "a compiled AOTInductor package"
        return (f"{who} got {made}, which holds compiled code, not a graph to draw: draw the ExportedProgram it was "
                f"made from, {who}(torch.export.export(model, (example_input,)))")
    if kind in ("OnnxRunner", "InferenceSession", "ModelProto"):  # H.onnx_runner, onnxruntime's session, onnx.load
        what = "an ONNX model (onnx.load)" if kind == "ModelProto" else "an onnxruntime session on an .onnx file"
        return (f"{who} got {what}, which has no TorchScript graph: "
                "H.onnx_op_types(path) counts its ONNX operators")
    if callable(obj):
        name = getattr(obj, "__name__", type(obj).__name__)
        if name == "<lambda>":
            return (f"{who} got a lambda, which has no graph: write it with def, then pass "
                    "torch.jit.script(fn) or torch.jit.trace(fn, example_input)")
        return (f"{who} got the Python function {name}, which has no graph: pass torch.jit.script({name}) "
                f"or torch.jit.trace({name}, example_input)")
    return f"{who} got {type(obj).__name__}: pass {_ACCEPTS}"


def _source(obj, inlined, who):
    """(kind, object, graph, title) for anything draw_graph accepts; one-line TypeError otherwise."""
    if not isinstance(inlined, bool):
        raise TypeError(f"{who}(inlined=...) takes True or False, got {type(inlined).__name__}")
    if isinstance(obj, torch.export.ExportedProgram):
        return "export", obj, obj.graph_module, "ExportedProgram · torch.export graph"
    if isinstance(obj, torch.fx.GraphModule):
        return "fx", obj, obj, f"{type(obj).__name__} · torch.fx graph"
    if isinstance(obj, torch.jit.ScriptModule):
        try:
            graph = obj.inlined_graph if inlined else obj.graph
        except RuntimeError as error:
            if "is not defined" not in str(error):
                raise
            raise TypeError(f"{who}: this ScriptModule has no forward method to draw; "
                            "pass a module that defines forward") from None
        # a trace reloaded from a file is a plain ScriptModule, like a scripted one: only a live trace is known as one
        how = "traced" if isinstance(obj, torch.jit.TracedModule) else "TorchScript"
        name = getattr(obj, "original_name", type(obj).__name__)
        return "ts", obj, graph, f"{name} · {how} · {'inlined_graph' if inlined else 'graph'}"
    if isinstance(obj, torch.jit.ScriptFunction):
        graph = obj.inlined_graph if inlined else obj.graph
        return "ts", None, graph, f"{obj.name} · function · {'inlined_graph' if inlined else 'graph'}"
    if isinstance(obj, torch._C.ScriptMethod):
        return "ts", None, obj.graph, f"{obj.name} · method · graph"
    if isinstance(obj, torch._C.Graph):
        if inlined:
            raise TypeError(f"{who}(graph, inlined=True) cannot inline a bare graph: "
                            "pass the model itself, or its .inlined_graph")
        return "ts", None, obj, "TorchScript graph"
    raise TypeError(_describe_bad_input(obj, who))


# ----------------------------------------------------------------------------------------------
# Public API

def draw_graph(obj, *, inlined=False, hide_constants=True, collapse_calls=True, hide_getattr=True,
               max_nodes=DEFAULT_MAX_NODES, title=None):
    """A picture of the graph of ``obj``: a ScriptModule / ScriptFunction (scripted or traced),
    its ``.graph``, a torch.export ``ExportedProgram`` or a torch.fx ``GraphModule``.

    ``inlined=True`` draws ``.inlined_graph`` (every call replaced by its operations);
    ``hide_constants`` drops ``prim::Constant`` nodes (and lists built only from constants);
    ``collapse_calls`` folds each call of a submodule or function into one box (``False`` opens
    it as a region, when the model itself was passed); ``hide_getattr`` drops attribute reads
    (``prim::GetAttr``, parameters). Past ``max_nodes`` operations the rest is summarised in one
    "… K more nodes" box.
    """
    kind, owner, graph, default_title = _source(obj, inlined, "draw_graph")
    for name, value in (("hide_constants", hide_constants), ("collapse_calls", collapse_calls),
                        ("hide_getattr", hide_getattr)):
        if not isinstance(value, bool):
            raise TypeError(f"draw_graph({name}=...) takes True or False, got {value!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int):
        raise TypeError(f"draw_graph(max_nodes=...) takes a positive int, got {max_nodes!r}")
    if max_nodes < 1:
        raise ValueError(f"draw_graph(max_nodes=...) takes a positive int, got {max_nodes!r}")
    if title is not None and not isinstance(title, str):
        raise TypeError(f"draw_graph(title=...) takes a string, got {type(title).__name__}")
    builder = _Builder(max_nodes)
    if kind == "ts":
        walker = _TorchScriptWalker(builder, hide_constants, collapse_calls, hide_getattr)
        module = owner._c if owner is not None else None
        results = walker.walk_graph(graph, builder.root, 0, owner=module)
        output_id = builder.node(builder.root, "return", "output", "output", counted=False)
        for source in results:
            builder.edge(source, output_id)
    else:
        input_kinds = _export_input_kinds(owner) if kind == "export" else {}
        walker = _FxWalker(builder, hide_constants, collapse_calls, hide_getattr, input_kinds)
        walker.walk(graph, builder.root)
    _add_order_links(builder)
    message = ""
    if builder.skipped:
        total = builder.shown + builder.skipped
        message = (f"Showing the first {builder.shown} of {total} nodes: "
                   f"pass max_nodes={total} to draw them all.")
        more = builder.node(builder.root, f"… {builder.skipped} more nodes not drawn", "note", "note",
                            counted=False)
        builder.edge(builder.last_counted, more, "control")
    return GraphPicture(builder, title if title is not None else default_title, message)


def count_nodes(obj, *, inlined=False) -> int:
    """How many nodes torch stores in the graph of ``obj``, nested blocks, constants and attribute
    reads included (for torch.fx / torch.export graphs: every node except inputs and the output)."""
    kind, _owner, graph, _title = _source(obj, inlined, "count_nodes")
    if kind != "ts":
        return sum(1 for n in graph.graph.nodes if n.op not in ("placeholder", "output"))

    def count(nodes):
        total = 0
        for node in nodes:
            total += 1
            for block in node.blocks():
                total += count(block.nodes())
        return total

    return count(graph.nodes())


def constant_argument(module, kind: str, name: str):
    """The value of the argument ``name`` of the first ``kind`` node in a TorchScript module's inlined graph, when
    the graph holds it as a constant: ``H.constant_argument(traced, "aten::batch_norm", "training")`` -> True."""
    if not isinstance(module, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        raise TypeError(f"constant_argument reads a traced or scripted module's graph, got {type(module).__name__}: "
                        "pass torch.jit.trace(model, x) or torch.jit.script(model)")
    graph = module.inlined_graph if isinstance(module, torch.jit.ScriptModule) else module.graph
    node = next((n for n in graph.nodes() if n.kind() == kind), None)  # top level: a constant sits outside blocks
    if node is None:
        raise ValueError(f"the graph has no {kind} node at its top level")
    schema = node.schema()
    names = [] if schema == "(no schema)" else [a.name for a in torch._C.parse_schema(schema).arguments]
    if name not in names:
        raise ValueError(f"{kind} has no argument {name!r}: its arguments are {', '.join(names) or 'unknown'}")
    value = list(node.inputs())[names.index(name)]
    if value.node().kind() != "prim::Constant":
        raise ValueError(f"the argument {name!r} of {kind} is computed in the graph, not a constant")
    return value.toIValue()


class GraphPicture:
    """A drawn graph: ``.mermaid`` text, ``.svg()`` text, ``.png()`` bytes, ``.save(path)``, and what was drawn.

    ``node_count`` is the number of operations drawn (inputs, outputs and "end if" markers are not
    counted); ``kinds`` counts them by kind (``sum(kinds.values()) == node_count``); ``regions``
    lists the control-flow or call regions (one entry per ``prim::If`` / ``prim::Loop`` /
    opened call), ``blocks`` their block labels; ``hidden`` counts what was left out.
    """

    def __init__(self, builder, title, message):
        self._builder = builder
        self.title = title
        self.message = message
        self.node_count = builder.shown
        self.kinds = builder.kinds
        self.regions = list(builder.regions)
        self.blocks = list(builder.blocks)
        self.hidden = collections.Counter({k: v for k, v in builder.hidden.items() if v})
        self.not_drawn = builder.skipped
        self.mermaid = _to_mermaid(builder, title)
        # Too big for Mermaid's defaults: JupyterLab would show an error box, so only the SVG is offered.
        self.mermaid_fits = len(self.mermaid) <= MERMAID_LIMITS[0] and len(builder.edges) <= MERMAID_LIMITS[1]
        self._png = self._svg = None

    def svg(self) -> str:
        """The picture as SVG text (drawn once, on first use): what notebooks show where Mermaid is not drawn."""
        if self._svg is None:
            self._svg = _to_svg(self._builder, self.title, self.message)
        return self._svg

    def png(self) -> bytes:
        """The picture as PNG bytes (drawn once, on first use, with matplotlib): for files, not for display."""
        if self._png is None:
            self._png = _to_png(self._builder, self.title, self.message)
        return self._png

    def save(self, path):
        """Write the picture to ``path``: PNG, or SVG for .svg, or the Mermaid text for .mmd; returns the path."""
        if not isinstance(path, (str, Path)):
            raise TypeError(f"save() takes a file path such as WORK / 'graph.png', got {type(path).__name__}")
        path = Path(path)
        from ...course.workdir import atomic_write_bytes, atomic_write_text  # whole file or none
        if path.suffix.lower() in (".mmd", ".mermaid"):
            atomic_write_text(path, self.mermaid)
        elif path.suffix.lower() == ".svg":
            atomic_write_text(path, self.svg())
        elif path.suffix.lower() == ".png":
            atomic_write_bytes(path, self.png())
        else:  # a .jpg would hold PNG bytes under a name that says otherwise
            raise ValueError(f"save() writes .png, .svg or .mmd (Mermaid text): give a path with one of those endings, "
                             f"such as WORK / 'graph.png' (got {path.name!r:.80})")
        return path

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # JupyterLab ranks text/vnd.mermaid (61) above image/svg+xml (80), so it draws the Mermaid
        # diagram; front ends that do not know Mermaid fall back to the SVG. No text/html on
        # purpose: it would outrank both. SVG rather than PNG: no matplotlib import to show a graph.
        notes = [self.message] if self.message else []
        if self.mermaid_fits:
            bundle = {"text/vnd.mermaid": self.mermaid}
        else:
            bundle = {}
            notes.append("Too big for Mermaid's limits: shown as an SVG picture (lower max_nodes for a diagram).")
        bundle["text/plain"] = "\n".join(notes + [self.mermaid])
        wanted = lambda mime: (include is None or mime in include) and not (exclude and mime in exclude)
        if wanted("image/svg+xml"):
            bundle["image/svg+xml"] = self.svg()
        return bundle

    def __repr__(self):
        regions = ", ".join(self.regions) if self.regions else "none"
        more = f", {self.not_drawn} more not drawn" if self.not_drawn else ""
        return f"<GraphPicture {self.title!r}: {self.node_count} nodes{more}; regions: {regions}>"
