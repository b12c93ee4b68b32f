"""Painting a laid-out graph picture as a PNG with matplotlib, for draw_graph (02_what_is_torchscript)."""
import io

from .layout import _Layout, _page
from .mermaid import _REGION_COLOURS

_PNG_COLOURS = {  # style -> (fill, edge)
    "input": ("#fff4d6", "#b58900"), "output": ("#fff4d6", "#b58900"), "op": ("#eef3fb", "#5b7fb5"),
    "call": ("#efe9f7", "#7a5ea8"), "control": ("#fde8d7", "#c0622b"), "join": ("#fde8d7", "#c0622b"),
    "const": ("#f2f2f2", "#999999"), "attr": ("#f2f2f2", "#999999"), "note": ("#ffffff", "#999999"),
}


def _to_png(builder, title, message) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, PatchCollection, PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyBboxPatch, Rectangle

    layout = _Layout(builder)
    left, top, width_pt, height_pt, margin = _page(layout, title, message)
    dpi = 110.0
    pixels = (width_pt / 72.0 * dpi) * (height_pt / 72.0 * dpi)
    if pixels > 4e6:  # big pictures get fewer dots per point: PNG encoding time grows with pixels
        dpi = max(45.0, dpi * (4e6 / pixels) ** 0.5)
    figure = Figure(figsize=(width_pt / 72.0, height_pt / 72.0), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(left, left + width_pt)
    axes.set_ylim(top + height_pt, top)
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
        axes.text(centre, top + 4, title, fontsize=10, fontweight="bold",
                  ha="center", va="top", family="DejaVu Sans")
    if message:
        axes.text(centre, layout.height + margin / 2, message, fontsize=7.5,
                  ha="center", va="top", color="#555555", family="DejaVu Sans")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 3})
    return buffer.getvalue()
