"""Pictures of TorchScript, torch.fx and torch.export graphs (introduced in 02_what_is_torchscript).

``H.draw_graph(scripted)`` turns a graph into a diagram: one box per operation, arrows for the
values that flow between them, and a shaded region per block of a ``prim::If`` / ``prim::Loop``
(or of a ``torch.cond`` in an exported program). Constants, attribute reads and calls into
submodules are folded away by default so that a picture of a whole network stays readable.

JupyterLab (4.1 and later) draws the ``text/vnd.mermaid`` source itself, offline. Other front
ends (a static HTML export, VS Code) get a PNG drawn here with matplotlib and the Mermaid text.
"""
import base64
import collections
import io
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = ["draw_graph", "count_nodes", "GraphPicture"]

DEFAULT_MAX_NODES = 120  # past this a diagram is a wall of boxes; the rest is summarised in one node
MERMAID_LIMITS = (50_000, 500)  # Mermaid's default maxTextSize and maxEdges: past them it draws an error

# Shown in error messages: what draw_graph can read.
_ACCEPTS = ("a scripted or traced model or function (torch.jit.script / torch.jit.trace), its .graph, "
            "a torch.export ExportedProgram or a torch.fx GraphModule")


# ----------------------------------------------------------------------------------------------
# The picture's own small data model: what both renderers (Mermaid text and PNG) draw.

@dataclass
class _Node:
    id: str
    label: str
    kind: str
    style: str  # op, input, output, call, control, join, const, attr, note


@dataclass
class _Region:
    id: str
    label: str
    kind: str
    style: str  # if_true, if_false, loop, call
    items: list = field(default_factory=list)  # _Node or _Group, in graph order


@dataclass
class _Group:
    """A control-flow node (header, one region per block, join) or an expanded call (one region)."""
    header: object  # _Node or None
    blocks: list
    join: object  # _Node or None


class _Builder:
    """Collects nodes, regions and edges while a graph is walked, and enforces the node budget."""

    def __init__(self, max_nodes):
        self.max_nodes = max_nodes
        self.root = _Region("root", "", "graph", "root")
        self.edges = []  # (source id, target id, "data" | "control" | "order")
        self._edge_set = set()
        self.kinds = collections.Counter()
        self.hidden = collections.Counter()
        self.regions = []
        self.blocks = []
        self.shown = 0
        self.skipped = 0
        self.last_counted = None
        self._ids = itertools.count()

    def make(self, label, kind, style, counted=True):
        """A new node, or None once the budget is spent (the node is then counted as not drawn)."""
        if counted:
            if self.shown >= self.max_nodes:
                self.skipped += 1
                return None
            self.shown += 1
            self.kinds[kind] += 1
        node = _Node(f"n{next(self._ids)}", label, kind, style)
        if counted:
            self.last_counted = node.id
        return node

    def node(self, parent, label, kind, style, counted=True):
        """Add a node to ``parent`` and return its id (None once the budget is spent)."""
        node = self.make(label, kind, style, counted)
        if node is None:
            return None
        parent.items.append(node)
        return node.id

    def region(self, label, kind, style):
        return _Region(f"r{next(self._ids)}", label, kind, style)

    def edge(self, source, target, style="data"):
        if source is None or target is None or source == target:
            return
        key = (source, target, style)
        if key not in self._edge_set:
            self._edge_set.add(key)
            self.edges.append(key)


def _add_order_links(builder):
    """Keep nodes with no visible input (an ``if training`` whose condition is a hidden attribute)
    in program order: an invisible link from the item before them, else layouts float them to the top."""
    fed = {target for _source, target, _style in builder.edges}
    linked = {(source, target) for source, target, _style in builder.edges}

    def item_is_output(item):  # "return" goes last, under everything, as in the code
        return isinstance(item, _Node) and item.style == "output"

    def visit(region):
        previous = None
        for item in region.items:
            if isinstance(item, _Node):
                entry, exit_ = item.id, item.id
                if item.style in ("input", "const", "attr"):
                    continue
            else:
                for block in item.blocks:
                    visit(block)
                entry = item.header.id if item.header else _first_node_id(item.blocks[0])
                exit_ = item.join.id if item.join else None
            if (previous is not None and entry is not None and (previous, entry) not in linked
                    and (entry not in fed or item_is_output(item))):
                builder.edge(previous, entry, "order")
            previous = exit_ or previous

    visit(builder.root)


def _first_node_id(region):
    for item in region.items:
        if isinstance(item, _Node):
            return item.id
        for part in [item.header, *item.blocks, item.join]:
            if isinstance(part, _Node):
                return part.id
            if isinstance(part, _Region):
                found = _first_node_id(part)
                if found:
                    return found
    return None


def _attach_group(builder, parent, header, blocks, join_label, returns):
    """Put an if / loop / cond (header, its blocks, a join) into ``parent``; returns the join's id."""
    if header is None:
        return None  # the budget ran out before this if/loop: it is part of "K more nodes"
    for block, outs in zip(blocks, returns):
        if not block.items:  # an empty branch still gets a box, so both branches are visible
            builder.node(block, "passes value on" if outs else "does nothing", "note", "note", counted=False)
        builder.edge(header.id, _first_node_id(block), "control")
    join = builder.make(join_label, "join", "join", counted=False)
    for outs in returns:
        for source in outs:
            builder.edge(source, join.id)
    parent.items.append(_Group(header, blocks, join))
    return join.id


# ----------------------------------------------------------------------------------------------
# Labels

def _short_name(debug_name):
    """'new_h.1' -> 'new_h'; numbered temporaries ('%12') have no name worth showing."""
    name = re.sub(r"\.\d+$", "", debug_name)
    return "" if name.isdigit() else name


def _short_type(text):
    """'Float(1, 3, 64, 64, strides=[...], requires_grad=0, device=cpu)' -> 'Float(1, 3, 64, 64)';
    '__torch__.torch.nn.modules.linear.Linear' -> 'Linear'."""
    if text.startswith("__torch__"):
        return text.rsplit(".", 1)[-1]
    return re.sub(r"(, )?(strides=\[[^\]]*\]|requires_grad=\d|device=\w+)", "", text).replace("(, ", "(")


def _shorten(text, limit=24):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _op_label(short_kind, names):
    names = [n for n in names if n]
    return f"{', '.join(names)} = {short_kind}" if names else short_kind


# ----------------------------------------------------------------------------------------------
# TorchScript graphs

_CONSTANT_LISTS = {"prim::ListConstruct", "prim::TupleConstruct"}


class _TorchScriptWalker:
    def __init__(self, builder, hide_constants, collapse_calls, hide_getattr):
        self.b = builder
        self.hide_constants, self.collapse_calls, self.hide_getattr = hide_constants, collapse_calls, hide_getattr
        self.env = {}  # value key -> node id that produces it (None: hidden)
        self.paths = {}  # value key -> attribute path of a module value ("" for self)
        self.modules = {}  # value key -> torch._C.ScriptModule it refers to, when known
        self.functions = {}  # value key -> qualified name of a function constant
        self.constants = set()  # value keys that are (hidden) constants
        self._frames = itertools.count(1)  # one namespace of value numbers per graph walked

    @staticmethod
    def key(frame, value):
        return frame, value.unique()

    def walk_graph(self, graph, region, frame, owner=None, inputs=None, depth=0):
        """Walk ``graph`` into ``region``; ``inputs`` maps its inputs to the caller's ids. Returns output ids."""
        graph_inputs = list(graph.inputs())
        for index, value in enumerate(graph_inputs):
            key = self.key(frame, value)
            is_self = index == 0 and value.type().kind() == "ClassType"
            if is_self:
                self.paths[key] = "" if inputs is None else inputs[0][1]
                if owner is not None:
                    self.modules[key] = owner
            if inputs is not None:
                self.env[key] = inputs[index][0]
                if inputs[index][2]:
                    self.constants.add(key)
                continue
            if is_self and self.hide_getattr:
                self.env[key] = None
                continue
            name = _short_name(value.debugName()) or value.debugName()
            label = f"{name}: {_short_type(value.type().str())}"
            self.env[key] = self.b.node(region, label, "input", "input", counted=False)
        self.walk_block(graph.nodes(), region, frame, depth)
        return [self.env.get(self.key(frame, v)) for v in graph.return_node().inputs()]

    def source(self, frame, value):
        return self.env.get(self.key(frame, value))

    def walk_block(self, nodes, region, frame, depth):
        for node in nodes:
            kind = node.kind()
            outs = list(node.outputs())
            ins = list(node.inputs())
            if kind == "prim::Constant":
                self.constant(node, region, frame)
            elif kind == "prim::GetAttr":
                self.getattr(node, region, frame)
            elif kind in ("prim::CallMethod", "prim::CallFunction"):
                self.call(node, region, frame, depth)
            elif kind == "prim::If":
                self.if_node(node, region, frame, depth)
            elif kind == "prim::Loop":
                self.loop_node(node, region, frame, depth)
            elif (self.hide_constants and kind in _CONSTANT_LISTS
                  and all(self.key(frame, v) in self.constants for v in ins)):
                # a list of constants (conv strides, paddings) is itself a constant
                self.b.hidden[kind] += 1
                for value in outs:
                    self.env[self.key(frame, value)] = None
                    self.constants.add(self.key(frame, value))
            else:
                short = kind.split("::", 1)[-1]
                label = _op_label(short, [_short_name(v.debugName()) for v in outs])
                node_id = self.b.node(region, label, kind, "op")
                for value in ins:
                    self.b.edge(self.source(frame, value), node_id)
                for value in outs:
                    self.env[self.key(frame, value)] = node_id

    def constant(self, node, region, frame):
        value = node.output()
        key = self.key(frame, value)
        if value.type().kind() == "FunctionType":
            self.functions[key] = (str(value.type()), node.s("name"))  # qualified name, short name
        self.constants.add(key)
        if self.hide_constants:
            self.b.hidden["prim::Constant"] += 1
            self.env[key] = None
            return
        if value.type().kind() == "FunctionType":
            text = f"function {node.s('name')}"
        else:
            try:
                text = repr(value.toIValue())
            except Exception:  # some constants (devices, objects) have no Python value
                text = _short_type(value.type().str())
        self.env[key] = self.b.node(region, _shorten(text), "prim::Constant", "const")

    def getattr(self, node, region, frame):
        source, value = node.input(), node.output()
        name = node.s("name")
        parent_path = self.paths.get(self.key(frame, source))
        path = name if not parent_path else f"{parent_path}.{name}"
        key = self.key(frame, value)
        self.paths[key] = path
        owner = self.modules.get(self.key(frame, source))
        if owner is not None and value.type().kind() == "ClassType":
            try:
                self.modules[key] = owner.getattr(name)
            except Exception:  # an attribute torch cannot hand back: the call stays folded
                pass
        if self.hide_getattr:
            self.b.hidden["prim::GetAttr"] += 1
            self.env[key] = None
            return
        node_id = self.b.node(region, f"self.{path}", "prim::GetAttr", "attr")
        self.b.edge(self.source(frame, source), node_id)
        self.env[key] = node_id

    def callee(self, node, frame):
        """The graph a call runs, its owner module, and a label; graph is None when unknown."""
        kind = node.kind()
        target = node.inputsAt(0)
        if kind == "prim::CallMethod":
            method = node.s("name")
            path = self.paths.get(self.key(frame, target))
            who = path if path else "self"
            type_name = _short_type(target.type().str())
            label = f"{who}.{method}()\n{type_name}"
            module = self.modules.get(self.key(frame, target))
            graph = None
            if module is not None:
                try:
                    graph = module._get_method(method).graph
                except Exception:
                    graph = None
            return graph, module, label, path == ""
        qualified, name = self.functions.get(self.key(frame, target), ("", "function"))
        graph = None
        if qualified:
            try:
                function = torch.jit._state._python_cu.find_function(qualified)
                graph = function.graph if function is not None else None
            except Exception:
                graph = None
        return graph, None, f"{name}()", False

    def call(self, node, region, frame, depth):
        kind = node.kind()
        graph, module, label, on_self = self.callee(node, frame)
        # A helper method of the module itself (resnet's self._forward_impl) is opened, not folded:
        # folding it would leave a one-box picture of the whole network.
        expand = graph is not None and depth < 12 and (on_self or not self.collapse_calls)
        target, args = node.inputsAt(0), list(node.inputs())[1:]  # input 0: the module or the function
        if not expand:
            node_id = self.b.node(region, label, kind, "call")
            for value in args + ([target] if kind == "prim::CallMethod" else []):
                self.b.edge(self.source(frame, value), node_id)  # the module's edge exists only if shown
            for value in node.outputs():
                self.env[self.key(frame, value)] = node_id
            return
        title = label.split("\n")[0]
        block = self.b.region(title, kind, "call")
        arguments = [(self.source(frame, v), None, self.key(frame, v) in self.constants) for v in args]
        if kind == "prim::CallMethod":  # the callee's first input is its self
            arguments.insert(0, (self.source(frame, target), self.paths.get(self.key(frame, target), ""), False))
        place = len(self.b.regions)
        results = self.walk_graph(graph, block, next(self._frames), owner=module, inputs=arguments,
                                  depth=depth + 1)
        if block.items:
            self.b.regions.insert(place, kind)
            self.b.blocks.insert(place, title)
            region.items.append(_Group(None, [block], None))
        for value, result in zip(node.outputs(), results):
            self.env[self.key(frame, value)] = result

    def if_node(self, node, region, frame, depth):
        condition = node.inputsAt(0)
        name = _short_name(condition.debugName())
        header = self.b.make(f"if {name}" if name else "if", "prim::If", "control")
        header_id = header.id if header else None
        self.b.edge(self.source(frame, condition), header_id)
        if header is not None:
            self.b.regions.append("prim::If")
            self.b.blocks.extend(["if true", "if false"])
        blocks, returns = [], []
        for index, block in enumerate(node.blocks()):
            label = "if true" if index == 0 else "if false"
            sub = self.b.region(label, "prim::If", "if_true" if index == 0 else "if_false")
            self.walk_block(block.nodes(), sub, frame, depth)
            returns.append([self.source(frame, v) for v in block.returnNode().inputs()])
            blocks.append(sub)
        join = _attach_group(self.b, region, header, blocks, "end if", returns)
        for value in node.outputs():
            self.env[self.key(frame, value)] = join

    def loop_node(self, node, region, frame, depth):
        ins = list(node.inputs())  # trip count, initial condition, carried values
        header = self.b.make("loop", "prim::Loop", "control")
        header_id = header.id if header else None
        for value in ins:  # trip count, initial condition, initial carried values
            self.b.edge(self.source(frame, value), header_id)
        if header is not None:
            self.b.regions.append("prim::Loop")
            self.b.blocks.append("loop body")
        body = next(iter(node.blocks()))
        for value in body.inputs():  # the iteration number and the carried values come from the loop
            self.env[self.key(frame, value)] = header_id
        sub = self.b.region("loop body", "prim::Loop", "loop")
        self.walk_block(body.nodes(), sub, frame, depth)
        returns = [[self.source(frame, v) for v in list(body.returnNode().inputs())[1:]]]
        join = _attach_group(self.b, region, header, [sub], "end loop", returns)
        for value in node.outputs():
            self.env[self.key(frame, value)] = join


# ----------------------------------------------------------------------------------------------
# torch.fx graphs (a GraphModule, or the graph inside a torch.export ExportedProgram)

def _fx_kind(target):
    schema = getattr(target, "_schema", None)
    if schema is not None:
        return schema.name  # "aten::linear", the same spelling as in TorchScript graphs
    if isinstance(target, torch._ops.HigherOrderOperator):
        return f"higher_order::{target.name()}"
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__name__", None) or str(target)
    module = "operator" if module in ("_operator", "operator") else module.split(".")[0]
    return f"{module}.{name}" if module else name


def _fx_value_text(node):
    value = node.meta.get("val")
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"{node.name}: {str(value.dtype).replace('torch.', '')}{list(shape)}"
    return node.name


class _FxWalker:
    def __init__(self, builder, hide_constants, collapse_calls, hide_getattr, input_kinds=None):
        self.b = builder
        self.hide_constants, self.collapse_calls, self.hide_getattr = hide_constants, collapse_calls, hide_getattr
        self.input_kinds = input_kinds or {}  # placeholder name -> "parameter" / "buffer" / "constant"

    def walk(self, graph_module, region, inputs=None, depth=0):
        env = {}
        placeholders = iter(inputs or [])
        outputs = []
        for node in graph_module.graph.nodes:
            op = node.op
            if op == "placeholder":
                if inputs is not None:
                    env[node] = next(placeholders, None)
                    continue
                what = self.input_kinds.get(node.name, "input")
                hide = self.hide_getattr if what in ("parameter", "buffer") else self.hide_constants
                if what != "input" and hide:
                    self.b.hidden[f"placeholder ({what})"] += 1
                    env[node] = None
                elif what == "input":
                    env[node] = self.b.node(region, _fx_value_text(node), "input", "input", counted=False)
                else:
                    env[node] = self.b.node(region, f"{what} {node.target}", f"placeholder:{what}", "attr")
            elif op == "get_attr":
                if self.hide_getattr or isinstance(_fx_attr(graph_module, node.target), torch.fx.GraphModule):
                    self.b.hidden["get_attr"] += 1
                    env[node] = None
                else:
                    env[node] = self.b.node(region, f"self.{node.target}", "get_attr", "attr")
            elif op == "output":
                outputs = [env.get(n) for n in _fx_flat(node.args[0])]
            elif op == "call_function" and _fx_kind(node.target) == "operator.getitem":
                env[node] = env.get(node.args[0])  # picking one result of a tuple: not an operation
                self.b.hidden["operator.getitem"] += 1
            elif op == "call_function" and _fx_kind(node.target) == "higher_order::cond":
                env[node] = self.cond(graph_module, node, env, region, depth)
            else:
                env[node] = self.operation(graph_module, node, env, region, depth)
        if inputs is None:
            output_id = self.b.node(region, "output", "output", "output", counted=False)
            for source in outputs:
                self.b.edge(source, output_id)
        return outputs

    def operation(self, graph_module, node, env, region, depth):
        if node.op == "call_module" and node.target == "_guards_fn":
            self.b.hidden["call_module (input guards)"] += 1  # ep.module() checks its inputs: not a layer
            return None
        if node.op == "call_module":
            submodule = _fx_attr(graph_module, node.target)
            type_name = type(submodule).__name__
            if isinstance(submodule, torch.fx.GraphModule) and not self.collapse_calls and depth < 12:
                block = self.b.region(f"{node.target}()", "call_module", "call")
                sources = [env.get(n) for n in node.all_input_nodes]
                place = len(self.b.regions)
                results = self.walk(submodule, block, inputs=sources, depth=depth + 1)
                if block.items:
                    self.b.regions.insert(place, "call_module")
                    self.b.blocks.insert(place, block.label)
                    region.items.append(_Group(None, [block], None))
                return results[0] if results else None
            kind, label, style = f"call_module:{type_name}", f"{node.target}()\n{type_name}", "call"
        elif node.op == "call_method":
            kind, label, style = f"call_method:{node.target}", f".{node.target}()", "op"
        else:
            kind = _fx_kind(node.target)
            short = re.split(r"::|\.", kind)[-1]
            generated = re.fullmatch(rf"{re.escape(short)}(_\d+)?", node.name)  # fx's own names add nothing
            kind, label, style = kind, _op_label(short, [] if generated else [node.name]), "op"
        node_id = self.b.node(region, label, kind, style)
        for source in node.all_input_nodes:
            self.b.edge(env.get(source), node_id)
        return node_id

    def cond(self, graph_module, node, env, region, depth):
        predicate, true_fn, false_fn, operands = node.args[:4]
        header = self.b.make("torch.cond", "higher_order::cond", "control")
        header_id = header.id if header else None
        self.b.edge(env.get(predicate), header_id)
        if header is not None:
            self.b.regions.append("torch.cond")
            self.b.blocks.extend(["true branch", "false branch"])
        blocks, returns = [], []
        for label, style, branch in (("true branch", "if_true", true_fn), ("false branch", "if_false", false_fn)):
            block = self.b.region(label, "torch.cond", style)
            submodule = _fx_attr(graph_module, branch.target)
            sources = [env.get(n) for n in _fx_flat(operands)]
            returns.append(self.walk(submodule, block, inputs=sources, depth=depth + 1))
            blocks.append(block)
        return _attach_group(self.b, region, header, blocks, "end cond", returns)


def _fx_attr(graph_module, target):
    value = graph_module
    for part in str(target).split("."):
        value = getattr(value, part)
    return value


def _fx_flat(args):
    flat = []
    torch.fx.node.map_arg(args, flat.append)
    return flat


def _export_input_kinds(program):
    kinds = {}
    for spec in program.graph_signature.input_specs:
        name = getattr(spec.arg, "name", None)
        kind = spec.kind.name.lower()
        kinds[name] = {"parameter": "parameter", "buffer": "buffer", "constant_tensor": "constant",
                       "user_input": "input"}.get(kind, "constant")
    return kinds


# ----------------------------------------------------------------------------------------------
# Input checks

def _describe_bad_input(obj, who):
    if obj is None:
        return f"{who} got None: pass {_ACCEPTS}"
    if isinstance(obj, str):
        return f"{who} got a string: pass the model itself, e.g. {who}(torch.jit.script(model))"
    if isinstance(obj, type):
        return f"{who} got the class {obj.__name__}: create an instance, then pass torch.jit.script(instance)"
    if isinstance(obj, torch.nn.Module):
        name = type(obj).__name__
        return (f"{who} got a plain nn.Module ({name}) that has no graph yet: pass torch.jit.script(model) "
                f"or torch.jit.trace(model, example_input)")
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
        how = "traced" if isinstance(obj, torch.jit.TracedModule) else "scripted"
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
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise TypeError(f"draw_graph(max_nodes=...) takes a positive int, got {max_nodes!r}")
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


class GraphPicture:
    """A drawn graph: ``.mermaid`` text, ``.png()`` bytes, ``.save(path)``, and what was drawn.

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
        # Too big for Mermaid's defaults: JupyterLab would show an error box, so only the PNG is offered.
        self.mermaid_fits = len(self.mermaid) <= MERMAID_LIMITS[0] and len(builder.edges) <= MERMAID_LIMITS[1]
        self._png = None

    def png(self) -> bytes:
        """The picture as PNG bytes (drawn once, on first use)."""
        if self._png is None:
            self._png = _to_png(self._builder, self.title, self.message)
        return self._png

    def save(self, path):
        """Write the PNG to ``path`` (or the Mermaid text when the name ends in .mmd); returns the path."""
        if not isinstance(path, (str, Path)):
            raise TypeError(f"save() takes a file path such as WORK / 'graph.png', got {type(path).__name__}")
        path = Path(path)
        from ..course.workdir import atomic_write_bytes, atomic_write_text  # whole file or none
        if path.suffix.lower() in (".mmd", ".mermaid"):
            atomic_write_text(path, self.mermaid)
        else:
            atomic_write_bytes(path, self.png())
        return path

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        # JupyterLab ranks text/vnd.mermaid (61) above image/png (90), so it draws the Mermaid
        # diagram; front ends that do not know Mermaid fall back to the PNG. No text/html on
        # purpose: it would outrank both.
        notes = [self.message] if self.message else []
        if self.mermaid_fits:
            bundle = {"text/vnd.mermaid": self.mermaid}
        else:
            bundle = {}
            notes.append("Too big for Mermaid's limits: shown as a PNG (lower max_nodes for a diagram).")
        bundle["text/plain"] = "\n".join(notes + [self.mermaid])
        wanted = lambda mime: (include is None or mime in include) and not (exclude and mime in exclude)
        if wanted("image/png"):
            bundle["image/png"] = base64.b64encode(self.png()).decode("ascii")
        return bundle

    def __repr__(self):
        regions = ", ".join(self.regions) if self.regions else "none"
        more = f", {self.not_drawn} more not drawn" if self.not_drawn else ""
        return f"<GraphPicture {self.title!r}: {self.node_count} nodes{more}; regions: {regions}>"


# ----------------------------------------------------------------------------------------------
# Mermaid

_MERMAID_SHAPES = {  # style -> (open, close)
    "input": ('(["', '"])'), "output": ('(["', '"])'), "op": ('["', '"]'), "call": ('[["', '"]]'),
    "control": ('{{"', '"}}'), "join": ('("', '")'), "const": ('>"', '"]'), "attr": ('>"', '"]'),
    "note": ('[/"', '"/]'),
}
_MERMAID_CLASSES = {
    "input": "fill:#fff4d6,stroke:#b58900,color:#3b2f00",
    "output": "fill:#fff4d6,stroke:#b58900,color:#3b2f00",
    "op": "fill:#eef3fb,stroke:#5b7fb5,color:#14243b",
    "call": "fill:#efe9f7,stroke:#7a5ea8,color:#2b1d40",
    "control": "fill:#fde8d7,stroke:#c0622b,color:#4a2108",
    "join": "fill:#fde8d7,stroke:#c0622b,color:#4a2108",
    "const": "fill:#f2f2f2,stroke:#999,color:#333",
    "attr": "fill:#f2f2f2,stroke:#999,color:#333",
    "note": "fill:#ffffff,stroke:#999,color:#555,stroke-dasharray:3 3",
}
_REGION_COLOURS = {  # style -> (fill, stroke)
    "if_true": ("#e6f4ea", "#3c9a55"), "if_false": ("#fbe9e9", "#c0504d"),
    "loop": ("#e3f0fa", "#3a7cc0"), "call": ("#f3f0f8", "#8a78b0"),
}


def mermaid_escape(text) -> str:
    """Text safe inside a quoted Mermaid label (quotes, angle brackets, # and & as entity codes)."""
    text = str(text).replace("#", "#35;")
    for char, code in (("&", "#amp;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
        text = text.replace(char, code)
    return text.replace("\n", "<br>")


def _to_mermaid(builder, title):
    lines = []
    if title:
        # front matter is YAML inside which Mermaid escapes HTML itself: keep the title plain
        safe_title = re.sub(r"[\\\"<>]", "'", str(title)).replace("&", "and")
        lines += ["---", f'title: "{safe_title}"', "---"]
    lines.append("flowchart TD")
    for style, css in _MERMAID_CLASSES.items():
        lines.append(f"  classDef gp_{style} {css}")
    region_styles = []

    def emit_node(node, indent):
        opening, closing = _MERMAID_SHAPES[node.style]
        lines.append(f"{indent}{node.id}{opening}{mermaid_escape(node.label)}{closing}:::gp_{node.style}")

    def emit_items(items, indent):
        for item in items:
            if isinstance(item, _Node):
                emit_node(item, indent)
                continue
            if item.header is not None:
                emit_node(item.header, indent)
            for block in item.blocks:
                lines.append(f'{indent}subgraph {block.id}["{mermaid_escape(block.label)}"]')
                lines.append(f"{indent}  direction TB")
                emit_items(block.items, indent + "  ")
                lines.append(f"{indent}end")
                fill, stroke = _REGION_COLOURS.get(block.style, _REGION_COLOURS["call"])
                region_styles.append(f"  style {block.id} fill:{fill},stroke:{stroke},color:#222")
            if item.join is not None:
                emit_node(item.join, indent)

    emit_items(builder.root.items, "  ")
    for source, target, style in builder.edges:
        arrow = {"data": "-->", "control": "-.->", "order": "~~~"}[style]
        lines.append(f"  {source} {arrow} {target}")
    lines += region_styles
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------
# PNG: a small layered layout drawn with matplotlib (no graphviz needed)

_CHAR_W, _LINE_H, _PAD_X, _PAD_Y = 5.0, 10.5, 6.0, 4.0  # points, for 8 pt DejaVu Sans Mono
_H_GAP, _V_GAP, _REGION_PAD, _REGION_TITLE = 12.0, 16.0, 7.0, 12.0
_PNG_COLOURS = {  # style -> (fill, edge)
    "input": ("#fff4d6", "#b58900"), "output": ("#fff4d6", "#b58900"), "op": ("#eef3fb", "#5b7fb5"),
    "call": ("#efe9f7", "#7a5ea8"), "control": ("#fde8d7", "#c0622b"), "join": ("#fde8d7", "#c0622b"),
    "const": ("#f2f2f2", "#999999"), "attr": ("#f2f2f2", "#999999"), "note": ("#ffffff", "#999999"),
}


def _node_size(node):
    lines = node.label.split("\n")
    return max(36.0, max(len(x) for x in lines) * _CHAR_W + 2 * _PAD_X), len(lines) * _LINE_H + 2 * _PAD_Y


class _Layout:
    def __init__(self, builder):
        self.edges = builder.edges
        self.sizes = {}
        self.boxes = {}  # node id -> (x, y, w, h)
        self.nodes = {}  # node id -> _Node
        self.regions = []  # (x, y, w, h, region)
        self.predecessors = collections.defaultdict(set)
        for source, target, _style in self.edges:
            self.predecessors[target].add(source)
        self.width, self.height = self.size_of(builder.root, top=True)
        self.place_sequence(builder.root.items, 0.0, 0.0, self.width)
        self.lanes = []  # (top, bottom, x) of side lanes already taken
        self.routes = [(self.route(self.boxes[s], self.boxes[t]), style) for s, t, style in self.edges
                       if s in self.boxes and t in self.boxes and style != "order"]

    @staticmethod
    def node_ids(item, into):
        if isinstance(item, _Node):
            into.append(item.id)
            return into
        for part in [item.header, item.join]:
            if part is not None:
                into.append(part.id)
        for block in item.blocks:
            for inner in block.items:
                _Layout.node_ids(inner, into)
        return into

    def layers(self, items):
        """Longest-path layers of a sequence (graph order is already topological)."""
        owner = {}
        for index, item in enumerate(items):
            for node_id in self.node_ids(item, []):
                owner[node_id] = index
        layer, preds = [], []
        for index, item in enumerate(items):
            before = {owner[s] for n in self.node_ids(item, []) for s in self.predecessors[n]
                      if owner.get(s, index) < index}
            preds.append(before)
            layer.append(max((layer[p] + 1 for p in before), default=0))
        return layer, preds

    def size_of(self, item, top=False):
        key = id(item)
        if key in self.sizes:
            return self.sizes[key]
        if isinstance(item, _Node):
            size = _node_size(item)
        elif isinstance(item, _Region):
            layer, _ = self.layers(item.items)
            rows = collections.defaultdict(list)
            for index, sub in enumerate(item.items):
                rows[layer[index]].append(self.size_of(sub))
            width = max((sum(w for w, _ in row) + _H_GAP * (len(row) - 1) for row in rows.values()),
                        default=36.0)
            height = sum(max(h for _, h in row) for row in rows.values()) + _V_GAP * max(len(rows) - 1, 0)
            if not top:
                width = max(width, len(item.label) * _CHAR_W) + 2 * _REGION_PAD
                height += 2 * _REGION_PAD + _REGION_TITLE
            size = (width, height)
        else:
            blocks = [self.size_of(b) for b in item.blocks]
            parts = [self.size_of(p) for p in (item.header, item.join) if p is not None]
            width = max([sum(w for w, _ in blocks) + _H_GAP * max(len(blocks) - 1, 0)] + [w for w, _ in parts])
            height = max((h for _, h in blocks), default=0) + sum(h + _V_GAP for _, h in parts)
            size = (width, height)
        self.sizes[key] = size
        return size

    def centre_x(self, item):
        ids = self.node_ids(item, [])
        return self.boxes[ids[0]][0] + self.boxes[ids[0]][2] / 2 if ids and ids[0] in self.boxes else None

    def place_sequence(self, items, x0, y0, width):
        layer, preds = self.layers(items)
        rows = collections.defaultdict(list)
        for index in range(len(items)):
            rows[layer[index]].append(index)
        y = y0
        for row_number in sorted(rows):
            row = rows[row_number]

            def barycentre(index):  # order a row by where its inputs sit, to cross fewer arrows
                xs = [self.centre_x(items[p]) for p in preds[index]]
                xs = [v for v in xs if v is not None]
                return (sum(xs) / len(xs) if xs else x0 + width / 2, index)

            row.sort(key=barycentre)
            sizes = [self.size_of(items[i]) for i in row]
            row_width = sum(w for w, _ in sizes) + _H_GAP * (len(row) - 1)
            x = x0 + (width - row_width) / 2
            for index, (w, h) in zip(row, sizes):
                self.place(items[index], x, y, w)
                x += w + _H_GAP
            y += max(h for _, h in sizes) + _V_GAP

    def place(self, item, x, y, width):
        w, h = self.size_of(item)
        if isinstance(item, _Node):
            self.boxes[item.id] = (x + (width - w) / 2, y, w, h)
            self.nodes[item.id] = item
            return
        x += (width - w) / 2
        cursor = y
        if item.header is not None:
            self.place(item.header, x, cursor, w)
            cursor += self.size_of(item.header)[1] + _V_GAP
        blocks = [self.size_of(b) for b in item.blocks]
        total = sum(bw for bw, _ in blocks) + _H_GAP * max(len(blocks) - 1, 0)
        bx = x + (w - total) / 2
        tallest = max((bh for _, bh in blocks), default=0)
        for block, (bw, bh) in zip(item.blocks, blocks):
            self.regions.append((bx, cursor, bw, tallest, block))
            inner = bw - 2 * _REGION_PAD
            self.place_sequence(block.items, bx + _REGION_PAD, cursor + _REGION_PAD + _REGION_TITLE, inner)
            bx += bw + _H_GAP
        cursor += tallest + _V_GAP
        if item.join is not None:
            self.place(item.join, x, cursor, w)

    def route(self, source, target):
        """Points of an arrow: straight when nothing is in the way, else down a free lane beside the boxes."""
        start = (source[0] + source[2] / 2, source[1] + source[3])
        end = (target[0] + target[2] / 2, target[1])
        if end[1] <= start[1] + 1:
            return [start, end]
        between = [b for b in self.boxes.values()
                   if b is not source and b is not target and b[1] < end[1] and b[1] + b[3] > start[1]]

        def line_x(y):
            return start[0] + (end[0] - start[0]) * (y - start[1]) / (end[1] - start[1])

        def blocked(box):
            x, y, w, h = box
            xa, xb = line_x(max(y, start[1])), line_x(min(y + h, end[1]))
            return max(xa, xb) > x - 3 and min(xa, xb) < x + w + 3

        if not any(blocked(b) for b in between):
            return [start, end]
        top, bottom = start[1] + _V_GAP * 0.5, end[1] - _V_GAP * 0.5
        right = max(b[0] + b[2] for b in between) + 8
        left = min(b[0] for b in between) - 8
        detour = {side: abs(start[0] - x) + abs(end[0] - x) for side, x in ((1, right), (-1, left))}
        side = 1 if detour[1] <= detour[-1] else -1
        lane = right if side > 0 else left
        taken = [x for t, b, x in self.lanes if t < bottom and b > top]
        while any(abs(lane - x) < 4 for x in taken):  # keep parallel detours apart
            lane += 6 * side
        self.lanes.append((top, bottom, lane))
        return [start, (lane, top), (lane, bottom), end]


def _to_png(builder, title, message) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Rectangle

    layout = _Layout(builder)
    margin = 14.0
    heading = 18.0 if title else 0.0
    footer = 14.0 if message else 0.0
    xs = [0.0, layout.width] + [x for points, _ in layout.routes for x, _ in points]
    left, right = min(xs) - margin, max(xs) + margin
    width_pt = max(right - left, len(title or "") * 6.5 + 2 * margin, len(message) * 5.0 + 2 * margin)
    left -= (width_pt - (right - left)) / 2
    height_pt = layout.height + 2 * margin + heading + footer
    dpi = 110.0
    pixels = (width_pt / 72.0 * dpi) * (height_pt / 72.0 * dpi)
    if pixels > 4e6:  # big pictures get fewer dots per point: PNG encoding time grows with pixels
        dpi = max(45.0, dpi * (4e6 / pixels) ** 0.5)
    figure = Figure(figsize=(width_pt / 72.0, height_pt / 72.0), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(left, left + width_pt)
    axes.set_ylim(layout.height + margin + footer, -margin - heading)
    axes.axis("off")
    centre = left + width_pt / 2

    boxes, fills, strokes = [], [], []
    for x, y, w, h, region in layout.regions:
        fill, stroke = _REGION_COLOURS.get(region.style, _REGION_COLOURS["call"])
        boxes.append(Rectangle((x, y), w, h))
        fills.append(fill)
        strokes.append(stroke)
        axes.text(x + 4, y + 3, region.label, fontsize=7.5, color=stroke, va="top", ha="left",
                  fontweight="bold", family="DejaVu Sans", zorder=1)

    axes.add_collection(PatchCollection(boxes, facecolors=fills, edgecolors=strokes, linewidths=0.8, zorder=0))
    segments, heads, dashed = [], [], []
    for points, style in layout.routes:
        (dashed if style == "control" else segments).append(points)
        (x0, y0), (x1, y1) = points[-2], points[-1]
        length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-6)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        bx, by = x1 - 5 * ux, y1 - 5 * uy
        heads.append([(x1, y1), (bx - 2.5 * uy, by + 2.5 * ux), (bx + 2.5 * uy, by - 2.5 * ux)])
    axes.add_collection(LineCollection(segments, colors="#6b7280", linewidths=0.8, zorder=2))
    axes.add_collection(LineCollection(dashed, colors="#c0622b", linewidths=0.8, linestyles="dashed", zorder=2))
    axes.add_collection(PolyCollection(heads, facecolors="#6b7280", edgecolors="none", zorder=2))

    patches, faces, edges = [], [], []
    for node_id, (x, y, w, h) in layout.boxes.items():
        node = layout.nodes[node_id]
        fill, stroke = _PNG_COLOURS[node.style]
        rounding = h / 2 if node.style in ("input", "output", "join") else 3.0
        patches.append(FancyBboxPatch((x, y), w, h, boxstyle=f"round,pad=0,rounding_size={rounding}"))
        faces.append(fill)
        edges.append(stroke)
        axes.text(x + w / 2, y + h / 2, node.label, fontsize=8, family="DejaVu Sans Mono",
                  ha="center", va="center", color="#1f2937", zorder=4, linespacing=1.1)
    axes.add_collection(PatchCollection(patches, facecolors=faces, edgecolors=edges, linewidths=0.9, zorder=3))

    if title:
        axes.text(centre, -margin - heading + 4, title, fontsize=10, fontweight="bold",
                  ha="center", va="top", family="DejaVu Sans")
    if message:
        axes.text(centre, layout.height + margin / 2, message, fontsize=7.5,
                  ha="center", va="top", color="#555555", family="DejaVu Sans")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 3})
    return buffer.getvalue()

