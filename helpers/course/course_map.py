"""The course map and the mental-model picture (introduced in 00_start_here)."""
import html
from dataclasses import dataclass
from pathlib import Path

__all__ = ["COURSE_MAP", "course_map", "mental_model_picture"]

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class Stop:
    notebook: str
    title: str
    minutes: int  # a careful learner who does each exercise once
    idea: str
    slow: int = 0  # the slowest reviewers, who tried several wrong answers at every exercise (0: as `minutes`)

    @property
    def upper(self) -> int:
        return self.slow or self.minutes

    @property
    def time(self) -> str:
        """``55-80 min``, or ``10 min`` where both paces took the same."""
        return f"{self.minutes}-{self.upper} min" if self.upper != self.minutes else f"{self.minutes} min"


COURSE_MAP = [
    Stop("00_start_here.ipynb", "Start here", 10, "how the workbook works; a first script-save-load"),
    Stop("01_dynamic_models.ipynb", "PyTorch models are dynamic", 30, "a model is a Python program"),
    Stop("02_what_is_torchscript.ipynb", "What is TorchScript?", 55, "a static, typed program: .graph and .code", 80),
    Stop("03_tracing.ipynb", "Tracing", 80, "records one run", 105),
    Stop("04_scripting.ipynb", "Scripting", 40, "compiles the code itself", 60),
    Stop("05_save_and_load.ipynb", "Saving and loading", 70, "what a .pt holds; running it from C++", 100),
    Stop("06_limitations.ipynb", "Limitations", 75, "what TorchScript rejects, and the fixes", 120),
    Stop("07_optimize_and_debug.ipynb", "Optimize and debug", 95, "freeze, measure, profile, debug", 120),
    Stop("08_myth_busters.ipynb", "Myths and pitfalls", 55, "four myths, three pitfalls, a self-check quiz"),
    Stop("09_beyond_torchscript.ipynb", "Beyond TorchScript", 90, "torch.export, ONNX, production patterns", 130),
    Stop("10_shipping.ipynb", "Shipping in 2026", 140, "AOTInductor, ExecuTorch, ONNX traps, migrating .pt files, custom ops",
         220),
    Stop("11_your_model.ipynb", "Your own model", 60, "diagnose any model across every route; fix what it finds"),
]


class CourseMap:
    """The notebooks in order with their time estimates (a careful learner's, then the slowest reviewers'); shows as a
    linked table in JupyterLab."""

    def __init__(self, stops):
        self.stops = list(stops)

    @property
    def total_minutes(self) -> int:
        return sum(s.minutes for s in self.stops)

    @property
    def total_upper(self) -> int:
        return sum(s.upper for s in self.stops)

    def _repr_html_(self):
        rows = "".join(
            f"<tr><td>{i:02d}</td><td style='text-align:left'><a href='{s.notebook}'>{html.escape(s.title)}</a></td>"
            f"<td style='text-align:left'>{html.escape(s.idea)}</td><td style='text-align:right'>{s.time}</td></tr>"
            for i, s in enumerate(self.stops))
        return (f"<table><tr><th>#</th><th>notebook</th><th>the idea</th><th>time</th></tr>{rows}"
                f"<tr><td></td><td><b>total</b></td><td></td><td style='text-align:right'>"
                f"<b>{self.total_minutes}-{self.total_upper} min</b></td></tr></table>"
                "<p>Times: a careful learner who does each exercise once, then readers who tried several wrong answers "
                "at every exercise.</p>")

    def __repr__(self):
        lines = [f"{i:02d}  {s.title:<28} {s.time:>11}  {s.idea}" for i, s in enumerate(self.stops)]
        return "\n".join(lines + [f"    {'total':<28} {f'{self.total_minutes}-{self.total_upper} min':>11}"])


def course_map() -> CourseMap:
    """The map of all notebooks with time estimates."""
    return CourseMap(COURSE_MAP)


def mental_model_picture():
    """A picture (SVG): a dynamic Python model becomes a static, portable program."""
    from ..tools.svg_picture import MONO, Canvas

    unit, top = 90.0, 44.0  # drawn on a 10 × 4 grid of 90-pixel units, below a title line
    canvas = Canvas(10 * unit, 4 * unit + top)
    at = lambda x, y: (x * unit, top + (4 - y) * unit)  # grid units, y upwards, to pixels

    def box(x, y, w, h, text, colour):
        left, bottom = at(x, y)
        canvas.rect(left, bottom - h * unit, w * unit, h * unit, colour, "#333333", rx=8)
        canvas.text(left + w * unit / 2, bottom - h * unit / 2, text, 12)

    def arrow(x0, y0, x1, y1, label=""):
        canvas.arrow(*at(x0, y0), *at(x1, y1))
        if label:
            x, y = at((x0 + x1) / 2, (y0 + y1) / 2 + 0.18)
            canvas.text(x, y, label, 11, family=MONO)

    box(0.2, 1.3, 2.4, 1.4, "nn.Module\n(Python code,\ndecides each path\nat run time)", "#ffe9b3")
    box(4.0, 1.3, 2.4, 1.4, "TorchScript program\n(typed code that runs\nwithout Python,\n+ weights)", "#cfe8ff")
    arrow(2.7, 2.25, 3.9, 2.25, "trace")
    arrow(2.7, 1.75, 3.9, 1.75, "script")
    targets = [("Python\n(torch.jit.load)", 3.0), ("C++ / LibTorch\n(no Python)", 1.7),
               ("mobile: .ptl, lite\ninterpreter (deprecated)", 0.4)]
    for text, y in targets:
        box(7.4, y, 2.3, 0.9, text, "#d9f2d9")
        arrow(6.5, 2.0, 7.3, y + 0.45)
    canvas.text(*at(5.2, 0.9), "saved as model.pt: code + weights", 11, italic=True)
    title = "The mental model: a dynamic Python model becomes a static, portable program"
    canvas.text(5 * unit, top / 2, title, 14)
    return canvas.picture(title)
