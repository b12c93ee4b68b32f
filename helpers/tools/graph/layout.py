"""Placing a graph picture's boxes, regions and arrows on a page (no graphviz needed), for draw_graph (02_what_is_torchscript)."""
import collections

from .builder import _Node, _Region

_CHAR_W, _LINE_H, _PAD_X, _PAD_Y = 5.0, 10.5, 6.0, 4.0  # points, for 8 pt DejaVu Sans Mono
_H_GAP, _V_GAP, _REGION_PAD, _REGION_TITLE = 12.0, 16.0, 7.0, 12.0


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


_MARGIN = 14.0  # points around the picture


def _page(layout, title, message):
    """The page a laid-out picture is painted on, in points: (left, top, width, height, margin).

    Wide enough for every box, every detour, the title and the footer; the graph's own y runs from
    0 at the first row, so the title sits above it (top < 0) and the footer below it."""
    heading = 18.0 if title else 0.0
    footer = 14.0 if message else 0.0
    xs = [0.0, layout.width] + [x for points, _ in layout.routes for x, _ in points]
    left, right = min(xs) - _MARGIN, max(xs) + _MARGIN
    width = max(right - left, len(title or "") * 6.5 + 2 * _MARGIN, len(message) * 5.0 + 2 * _MARGIN)
    left -= (width - (right - left)) / 2
    return left, -_MARGIN - heading, width, layout.height + 2 * _MARGIN + heading + footer, _MARGIN
