"""Writing a graph picture as Mermaid flowchart text, for draw_graph (02_what_is_torchscript)."""
import re

from .builder import _Node

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
