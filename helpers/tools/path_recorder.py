"""Which lines of a model's Python ``forward`` ran, input by input (introduced in 01_dynamic_models).

``H.record_path(model, x)`` calls ``model(x)`` while Python's line tracer counts how often each
line of ``forward`` runs, and returns a ``PathRecord``: it shows the source with a count beside
every line, and answers ``record.count("h = h + x[i]")``. ``H.path_map(model, "return x * 2")``
calls the model on a grid of two-number inputs and pictures which of them ran that line.
Pass ``source=SomeClass.forward`` to watch a function other than the model's own forward:
02 uses it to show that a scripted model never runs its Python source.
"""
import html
import inspect
import sys
import textwrap
from dataclasses import dataclass, field

import torch

__all__ = ["record_path", "PathRecord", "path_map", "PathMap"]


@dataclass
class PathRecord:
    """The lines of one Python function and how many times each ran during one call."""
    name: str
    lines: list                      # [(line number in the file, source text)]
    counts: dict                     # line number -> times it ran
    order: list = field(default_factory=list)   # line numbers in the order they ran
    output: object = None

    @property
    def total(self) -> int:
        """How many line executions Python performed in the watched function."""
        return sum(self.counts.values())

    def _line_of(self, fragment: str) -> int:
        if not isinstance(fragment, str) or not fragment.strip():
            raise TypeError("count() takes a piece of one source line, e.g. record.count('return x * 2')")
        hits = [number for number, text in self.lines if fragment in text]
        if not hits:
            shown = "; ".join(text.strip() for _, text in self.lines)
            raise ValueError(f"no line of {self.name} contains {fragment!r}: its lines are: {shown}")
        if len(hits) > 1:
            raise ValueError(f"{len(hits)} lines of {self.name} contain {fragment!r}: give a longer piece of one line")
        return hits[0]

    def count(self, fragment: str) -> int:
        """How many times the one line containing ``fragment`` ran."""
        return self.counts.get(self._line_of(fragment), 0)

    def ran(self, fragment: str) -> bool:
        """Whether the line containing ``fragment`` ran at least once."""
        return self.count(fragment) > 0

    @property
    def steps(self) -> list:
        """The source text of each executed line, in order: the path Python took."""
        texts = dict(self.lines)
        return [texts[number].strip() for number in self.order]

    def __str__(self):
        width = max(len(str(c)) for c in list(self.counts.values()) + [0]) + 1
        body = []
        for number, text in self.lines:
            runs = self.counts.get(number, 0)
            gutter = f"{runs}×" if runs else "·"
            body.append(f"{gutter:>{width}}  {text}")
        return f"{self.name}: {self.total} line runs\n" + "\n".join(body)

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        rows = []
        for number, text in self.lines:
            runs = self.counts.get(number, 0)
            style = "background:#dff5e1" if runs else "color:#999"
            rows.append(f"<tr style='{style}'><td style='text-align:right;padding-right:8px'>"
                        f"<b>{f'{runs}×' if runs else '·'}</b></td>"
                        f"<td style='text-align:left'><pre style='margin:0'>{html.escape(text)}</pre></td></tr>")
        return (f"<div><b>{html.escape(self.name)}</b>: {self.total} line runs "
                "(green: ran, grey: skipped)<table>" + "".join(rows) + "</table></div>")


def _python_function(model, source):
    """The plain Python function whose lines to watch, with a one-line error if there is none."""
    if source is not None:
        function = getattr(source, "__func__", source)
        if not hasattr(function, "__code__"):
            raise TypeError(f"record_path(source=...) needs a Python function such as MyModel.forward, "
                            f"got {type(source).__name__}")
        return function
    if isinstance(model, torch.jit.ScriptModule):
        raise TypeError("record_path: a scripted or traced model has no Python forward to watch; pass the "
                        "eager class's code, e.g. record_path(scripted, x, source=MyModel.forward)")
    if isinstance(model, torch.nn.Module):
        return type(model).forward
    if isinstance(model, type):
        raise TypeError(f"record_path expects a model instance, got the class {model.__name__}: "
                        f"add parentheses, e.g. {model.__name__}()")
    function = getattr(model, "__func__", model)
    if callable(function) and hasattr(function, "__code__"):
        return function
    raise TypeError(f"record_path expects an nn.Module or a Python function, got {type(model).__name__}")


def record_path(model, *inputs, source=None) -> PathRecord:
    """Call ``model(*inputs)`` and count how many times each line of its Python ``forward`` runs."""
    if not inputs:
        raise TypeError("record_path needs the input(s) to call the model with, e.g. record_path(model, x)")
    function = _python_function(model, source)
    code = function.__code__
    try:
        text, first = inspect.getsourcelines(function)
    except (OSError, TypeError) as error:
        raise TypeError(f"record_path cannot read the source of {function.__qualname__} ({error}): "
                        "define it in a file or a notebook cell") from None
    text = textwrap.dedent("".join(text)).splitlines()
    lines = [(first + i, line) for i, line in enumerate(text)]
    counts, order = {}, []

    def local(frame, event, arg):
        if event == "line":
            counts[frame.f_lineno] = counts.get(frame.f_lineno, 0) + 1
            order.append(frame.f_lineno)
        return local

    def on_call(frame, event, arg):
        # Only frames running the watched code get a line tracer; every other call runs untraced.
        return local if frame.f_code is code else None

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        output = model(*inputs)
    finally:
        sys.settrace(previous)  # hand tracing back (a debugger may have been using it)
    return PathRecord(function.__qualname__, lines, counts, order, output)


@dataclass
class PathMap:
    """For each point (a, b) of a grid, whether calling the model on ``tensor([a, b])`` ran one line."""
    values: torch.Tensor
    taken: torch.Tensor             # bool, [row = b, column = a]
    fragment: str
    name: str

    @property
    def fraction(self) -> float:
        """Share of the grid's inputs that ran the line."""
        return self.taken.float().mean().item()

    def plot(self, ax=None):
        """Draw the grid: one colour where the line ran, another where it did not."""
        import matplotlib.pyplot as plt
        from matplotlib.colors import ListedColormap
        from matplotlib.patches import Patch

        if ax is None:
            _, ax = plt.subplots(figsize=(4.4, 4.4), layout="constrained")
        # Each cell is centred on its input, so the picture reaches half a step past both ends.
        half = (self.values[1] - self.values[0]).item() / 2
        lo, hi = self.values[0].item() - half, self.values[-1].item() + half
        ax.imshow(self.taken.int().numpy(), origin="lower", extent=[lo, hi, lo, hi],
                  cmap=ListedColormap(["#f2c18d", "#8fc9a8"]), vmin=0, vmax=1)
        ax.set_xlabel("x[0]")
        ax.set_ylabel("x[1]")
        ax.set_title(f"{self.name}: which inputs ran\n{self.fragment!r}", fontsize=10)
        ax.legend(handles=[Patch(color="#8fc9a8", label="ran it"), Patch(color="#f2c18d", label="did not")],
                  loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8)
        return ax.figure


def path_map(model, fragment: str, values=None) -> PathMap:
    """Call ``model`` on every ``tensor([a, b])`` with a, b from ``values`` and note if ``fragment``'s line ran."""
    if values is None:
        values = torch.linspace(-3, 3, 25)
    if not isinstance(values, torch.Tensor) or values.dim() != 1 or values.numel() < 2:
        raise TypeError("path_map(values=...) takes a 1-D tensor of at least two numbers, e.g. torch.linspace(-3, 3, 25)")
    values = values.float()
    taken = torch.zeros(len(values), len(values), dtype=torch.bool)
    name = ""
    for row, b in enumerate(values):
        for col, a in enumerate(values):
            record = record_path(model, torch.stack([a, b]))
            taken[row, col] = record.ran(fragment)
            name = record.name
    return PathMap(values, taken, fragment, name)
