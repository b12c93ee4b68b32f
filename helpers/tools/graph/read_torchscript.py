"""Reading a TorchScript graph into the picture's nodes and regions, for draw_graph (02_what_is_torchscript)."""
import itertools

import torch

from .builder import _Group, _attach_group, _op_label, _short_name, _short_type, _shorten

_CONSTANT_LISTS = {"prim::ListConstruct", "prim::TupleConstruct"}


def node_kinds(graph) -> set:
    """Every node kind in a TorchScript ``graph``, inside its blocks too (an operator in a branch or a loop)."""
    kinds = set()
    for node in graph.nodes():
        kinds.add(node.kind())
        for block in node.blocks():
            kinds |= node_kinds(block)
    return kinds


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

    def count_rest(self, nodes, frame, depth):
        """How many nodes of ``nodes`` would have been drawn: the budget is spent, so they are
        counted, not laid out (a detection model's inlined graph has ~6000). Constants and attribute
        reads go through their usual (cheap) handlers, so the count matches what a bigger budget draws."""
        total = 0
        for node in nodes:
            kind = node.kind()
            skipped = self.b.skipped
            if kind == "prim::Constant":
                self.constant(node, None, frame)
            elif kind == "prim::GetAttr":
                self.getattr(node, None, frame)
            elif (self.hide_constants and kind in _CONSTANT_LISTS
                  and all(self.key(frame, v) in self.constants for v in node.inputs())):
                self.b.hidden[kind] += 1
                for value in node.outputs():
                    self.constants.add(self.key(frame, value))
            elif kind in ("prim::CallMethod", "prim::CallFunction"):
                graph, module, _label, on_self = self.callee(node, frame)
                if graph is not None and depth < 12 and (on_self or not self.collapse_calls):
                    callee = next(self._frames)
                    graph_inputs = list(graph.inputs())
                    if kind == "prim::CallMethod" and graph_inputs:
                        self.paths[self.key(callee, graph_inputs[0])] = self.paths.get(
                            self.key(frame, node.inputsAt(0)), "")
                        if module is not None:
                            self.modules[self.key(callee, graph_inputs[0])] = module
                    args = list(node.inputs())[1:]
                    for value, inner in zip(args, graph_inputs[1:] if kind == "prim::CallMethod" else graph_inputs):
                        if self.key(frame, value) in self.constants:
                            self.constants.add(self.key(callee, inner))
                    total += self.count_rest(graph.nodes(), callee, depth + 1)
                else:
                    total += 1
            else:
                total += 1
                for block in node.blocks():
                    total += self.count_rest(block.nodes(), frame, depth)
            total += self.b.skipped - skipped  # a shown constant or attribute read, past the budget
            self.b.skipped = skipped
        return total

    def walk_block(self, nodes, region, frame, depth):
        nodes = list(nodes)
        for index, node in enumerate(nodes):
            if self.b.shown >= self.b.max_nodes:
                self.b.skipped += self.count_rest(nodes[index:], frame, depth)
                return
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
