"""Pictures of TorchScript, torch.fx and torch.export graphs (introduced in 02_what_is_torchscript).

``H.draw_graph(scripted)`` turns a graph into a diagram: one box per operation, arrows for the
values that flow between them, and a shaded region per block of a ``prim::If`` / ``prim::Loop``
(or of a ``torch.cond`` in an exported program). Constants, attribute reads and calls into
submodules are folded away by default so that a picture of a whole network stays readable.

JupyterLab (4.1 and later) draws the ``text/vnd.mermaid`` source itself, offline. Other front
ends (a static HTML export, VS Code) get an SVG written here as plain text, and the Mermaid text;
``.save("graph.png")`` paints a PNG file with matplotlib.

Reading a graph is apart from drawing it:
- ``read_torchscript`` and ``read_fx`` walk a graph into ``builder``'s nodes and regions;
- ``layout`` places them, ``svg`` and ``png`` paint them, ``mermaid`` writes them as text;
- ``picture`` holds what a learner calls: ``draw_graph``, ``count_nodes``, ``constant_argument``, ``GraphPicture``.
"""
from .picture import GraphPicture, constant_argument, count_nodes, draw_graph

__all__ = ["draw_graph", "count_nodes", "constant_argument", "GraphPicture"]
