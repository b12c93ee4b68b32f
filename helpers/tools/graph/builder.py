"""The picture's own small data model (nodes, regions, edges, the node budget) and its labels; used by draw_graph (02_what_is_torchscript)."""
import collections
import itertools
import re
from dataclasses import dataclass, field


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
