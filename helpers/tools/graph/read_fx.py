"""Reading a torch.fx / torch.export graph into the picture's nodes and regions, for draw_graph (02_what_is_torchscript)."""
import re

import torch

from .builder import _Group, _attach_group, _op_label


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
