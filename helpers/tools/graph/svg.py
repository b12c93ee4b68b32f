"""Painting a laid-out graph picture as SVG text, for draw_graph (02_what_is_torchscript).

Plain string building on purpose: the picture is shown in every notebook that draws a graph, and
painting it with matplotlib would import matplotlib (about a third of a second) just for that.
"""
from .layout import _Layout, _page
from .mermaid import _REGION_COLOURS
from .png import _PNG_COLOURS
from ..svg_picture import MONO as _MONO, _n, _points, _text, arrow_head

_SCALE = 110.0 / 72.0  # points to pixels at the PNG's 110 dots per inch, so both come out the same size


def _to_svg(builder, title, message) -> str:
    """The same picture as the PNG (boxes, regions, arrows, title, footer), as one SVG document."""
    layout = _Layout(builder)
    left, top, width, height, margin = _page(layout, title, message)
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_n(width * _SCALE)}' height='{_n(height * _SCALE)}' "
             f"viewBox='{_n(left)} {_n(top)} {_n(width)} {_n(height)}'>",
             f"<rect x='{_n(left)}' y='{_n(top)}' width='{_n(width)}' height='{_n(height)}' fill='white'/>"]

    for x, y, w, h, region in layout.regions:
        fill, stroke = _REGION_COLOURS.get(region.style, _REGION_COLOURS["call"])
        parts.append(f"<rect x='{_n(x)}' y='{_n(y)}' width='{_n(w)}' height='{_n(h)}' fill='{fill}' "
                     f"stroke='{stroke}' stroke-width='0.8'/>")
        parts.append(_text(x + 4, y + 3, region.label, 7.5, anchor="start", baseline="hanging", colour=stroke,
                           bold=True))

    for points, style in layout.routes:
        colour, dash = ("#c0622b", " stroke-dasharray='3 2'") if style == "control" else ("#6b7280", "")
        parts.append(f"<polyline points='{_points(points)}' fill='none' stroke='{colour}' stroke-width='0.8'{dash}/>")
        head, _ = arrow_head(points, 5, 2.5)
        parts.append(f"<polygon points='{_points(head)}' fill='#6b7280'/>")

    for node_id, (x, y, w, h) in layout.boxes.items():
        node = layout.nodes[node_id]
        fill, stroke = _PNG_COLOURS[node.style]
        rounding = h / 2 if node.style in ("input", "output", "join") else 3.0
        dash = " stroke-dasharray='3 3'" if node.style == "note" else ""
        parts.append(f"<rect x='{_n(x)}' y='{_n(y)}' width='{_n(w)}' height='{_n(h)}' rx='{_n(rounding)}' "
                     f"fill='{fill}' stroke='{stroke}' stroke-width='0.9'{dash}/>")
        parts.append(_text(x + w / 2, y + h / 2, node.label, 8, family=_MONO))

    centre = left + width / 2
    if title:
        parts.append(_text(centre, top + 4, title, 10, baseline="hanging", bold=True))
    if message:
        parts.append(_text(centre, layout.height + margin / 2, message, 7.5, baseline="hanging", colour="#555555"))
    parts.append("</svg>")
    return "\n".join(parts)
