"""Pictures written as SVG text, without matplotlib: the mental model (00_start_here), path maps
(01_dynamic_models), benchmark plots (07_optimize_and_debug, 08_myth_busters) and graph pictures (02).

Plain string building on purpose: importing matplotlib and painting with it costs a learner half a
second to a second in each notebook that shows one of these simple pictures; writing the SVG takes
a few milliseconds, and the picture stays sharp at any zoom and draws offline in a saved page.
"""
import math
from html import escape
from pathlib import Path

__all__ = ["SvgPicture"]

SANS = "DejaVu Sans, Verdana, sans-serif"
MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")  # one colour per report


def _n(value: float) -> str:
    """A coordinate with at most one decimal: short SVG, and the same text on every machine."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _points(points) -> str:
    """An SVG points list: 'x,y x,y ...'."""
    return " ".join(f"{_n(x)},{_n(y)}" for x, y in points)


def arrow_head(points, length, half_width):
    """The head of an arrow along ``points``, pointing at the last one: (its three corners, the point
    where the shaft should stop so that its end hides under the head)."""
    (x0, y0), (x1, y1) = points[-2], points[-1]
    size = max(math.hypot(x1 - x0, y1 - y0), 1e-6)
    ux, uy = (x1 - x0) / size, (y1 - y0) / size
    bx, by = x1 - length * ux, y1 - length * uy
    corners = [(x1, y1), (bx - half_width * uy, by + half_width * ux), (bx + half_width * uy, by - half_width * ux)]
    return corners, (bx, by)


def _text(x, y, text, size, *, anchor="middle", baseline="middle", family=SANS, colour="#1f2937", bold=False,
          italic=False, rotate=None):
    """A text element; several lines (split on newlines) are centred on y, or hang below it."""
    lines = str(text).split("\n")
    style = (" font-weight='bold'" if bold else "") + (" font-style='italic'" if italic else "")
    turn = f" transform='rotate({_n(rotate)} {_n(x)} {_n(y)})'" if rotate else ""
    head = (f"<text x='{_n(x)}' y='{_n(y)}' font-size='{_n(size)}' font-family='{family}' fill='{colour}' "
            f"text-anchor='{anchor}'{style}{turn}>")
    if len(lines) == 1 and baseline == "middle":
        return head + f"<tspan dy='0.35em'>{escape(lines[0])}</tspan></text>"
    # several lines centred on y (or hanging below it): each line one line-height below the last
    step = size * 1.1
    first = -(len(lines) - 1) * step / 2 + size * 0.35 if baseline == "middle" else size * 0.8
    spans = [f"<tspan x='{_n(x)}' dy='{_n(first if i == 0 else step)}'>{escape(line)}</tspan>"
             for i, line in enumerate(lines)]
    return head + "".join(spans) + "</text>"


class SvgPicture:
    """A picture as SVG text: a notebook shows it, ``save("x.svg")`` writes it."""

    def __init__(self, svg: str, title: str):
        self.svg = svg
        self.title = title

    def _repr_svg_(self):
        return self.svg

    def save(self, path):
        """Write the picture to ``path`` (a .svg file), whole or not at all; returns the path."""
        if not isinstance(path, (str, Path)) or Path(path).suffix.lower() != ".svg":
            raise ValueError(f"save() writes SVG: give a path ending in .svg, such as WORK / 'picture.svg' "
                             f"(got {path!r:.80})")
        from ..course.workdir import atomic_write_text  # a learner's file is never left half-written
        return atomic_write_text(path, self.svg)

    def __repr__(self):
        return f"<SvgPicture {self.title!r}>"


class Canvas:
    """Shapes and text in pixels, top left at (0, 0); ``picture()`` closes the document."""

    def __init__(self, width: float, height: float):
        self.parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{_n(width)}' height='{_n(height)}' "
                      f"viewBox='0 0 {_n(width)} {_n(height)}'>",
                      f"<rect x='0' y='0' width='{_n(width)}' height='{_n(height)}' fill='white'/>"]

    def rect(self, x, y, w, h, fill, stroke="none", *, rx=0, width=1.0, dash=None):
        dashed = f" stroke-dasharray='{dash}'" if dash else ""
        self.parts.append(f"<rect x='{_n(x)}' y='{_n(y)}' width='{_n(w)}' height='{_n(h)}' rx='{_n(rx)}' "
                          f"fill='{fill}' stroke='{stroke}' stroke-width='{_n(width)}'{dashed}/>")

    def line(self, points, colour="#333333", *, width=1.0, dash=None):
        dashed = f" stroke-dasharray='{dash}'" if dash else ""
        self.parts.append(f"<polyline points='{_points(points)}' fill='none' stroke='{colour}' "
                          f"stroke-width='{_n(width)}'{dashed}/>")

    def arrow(self, x0, y0, x1, y1, colour="#333333", *, head=9.0):
        """A line from (x0, y0) with a filled head at (x1, y1)."""
        tip, base = arrow_head([(x0, y0), (x1, y1)], head, head * 0.4)
        self.line([(x0, y0), base], colour, width=1.4)
        self.parts.append(f"<polygon points='{_points(tip)}' fill='{colour}'/>")

    def marker(self, kind, x, y, colour, size=7.0):
        """One point: 'o' circle, 's' square, '^' triangle, '|' a tall tick."""
        r = size / 2
        if kind == "o":
            self.parts.append(f"<circle cx='{_n(x)}' cy='{_n(y)}' r='{_n(r)}' fill='{colour}'/>")
        elif kind == "s":
            self.rect(x - r, y - r, size, size, colour)
        elif kind == "^":
            corners = [(x, y - r * 1.15), (x - r, y + r * 0.85), (x + r, y + r * 0.85)]
            self.parts.append(f"<polygon points='{_points(corners)}' fill='{colour}'/>")
        else:
            self.line([(x, y - size), (x, y + size)], colour, width=2.0)

    def text(self, x, y, text, size=11.0, **style):
        self.parts.append(_text(x, y, text, size, **style))

    def picture(self, title: str) -> SvgPicture:
        return SvgPicture("\n".join(self.parts + ["</svg>"]), title)


class LogScale:
    """Values from ``low`` to ``high`` on a log scale, mapped onto pixels ``start`` to ``end``."""

    def __init__(self, low, high, start, end):
        self.low, self.high, self.start, self.end = low, high, start, end
        self._span = math.log(high) - math.log(low)

    def __call__(self, value):
        return self.start + (math.log(value) - math.log(self.low)) / self._span * (self.end - self.start)


def seconds_label(value: float) -> str:
    """1e-05 -> '10 µs', 0.1 -> '100 ms', 2 -> '2 s': tick labels a reader takes in at a glance."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if value >= scale * 0.999:
            return f"{value / scale:g} {unit}"
    return f"{value:g} s"
