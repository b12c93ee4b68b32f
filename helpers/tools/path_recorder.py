"""Which lines of a model's Python ``forward`` ran, input by input (introduced in 01_dynamic_models).

``H.record_path(model, x)`` calls ``model(x)`` while Python's line tracer counts how often each
line of ``forward`` runs, and returns a ``PathRecord``: it shows the source with a count beside
every line, and answers ``record.count("h = h + x[i]")``. ``H.path_map(model, "return x * 2")``
calls the model on a grid of two-number inputs and pictures which of them ran that line.
Pass ``source=SomeClass.forward`` to watch a function other than the model's own forward:
02 uses it to show that a scripted model never runs its Python source.
``H.LineCoverage(model)`` watches every method of the model's own classes and of its submodules'
(installed libraries such as torch.nn and torchvision excepted) over several calls, and says which lines no call ran,
and which ``if`` with no ``else`` every call entered (the way past it has no line of its own):
``H.parity`` uses it to tell when a check never exercised a branch.
"""
import ast
import collections
import functools
import html
import inspect
import linecache
import math
import re
import sys
import sysconfig
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..course.failures import code_place, short_message, typed_message
from ..course.guards import refuse_meta

__all__ = ["record_path", "own_line_counts", "PathRecord", "path_map", "PathMap", "LineCoverage"]

# Why lines could not be recorded when another tracer (coverage, a debugger) replaced ours during the call
DISPLACED = "another tracer (a debugger, or coverage measurement) replaced the course's line recorder"


# A condition and what it chooses on one line: `if c: y = 1`, `while c: x = f(x)`, `a if c else b`
_ONE_LINE_CHOICE = re.compile(r"^(if|elif|while)\b.*:\s*[^\s#]|\bif\b.*\belse\b")


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
            handed = next((m.group(1) for _, text in self.lines
                           for m in [re.search(r"return self\.(\w+)\(", text)] if m), None)
            hint = (f" (forward hands its work to self.{handed}: record that method, "
                    f"H.record_path(model, x, source=type(model).{handed}))" if handed else "")
            raise ValueError(f"no line of {self.name} contains {fragment!r}: its lines are: {shown}{hint}")
        if len(hits) > 1:
            raise ValueError(f"{len(hits)} lines of {self.name} contain {fragment!r}: give a longer piece of one line")
        text = dict(self.lines)[hits[0]].strip()
        if _ONE_LINE_CHOICE.search(text):  # the line runs whether or not the side asked about does
            raise ValueError(f"the line {text!r} holds a condition and what it chooses on one line: a line count "
                             "cannot tell which side ran. Put each side on its own line to count it")
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

    def _choice_ran(self, text: str, runs: int) -> bool:
        """A line that ran and holds a condition with what it chooses (`if c: body`, `a if c else b`): its count
        says the test ran, not which side did."""
        return bool(runs) and bool(_ONE_LINE_CHOICE.search(text.strip()))

    def __str__(self):
        width = max(len(str(c)) for c in list(self.counts.values()) + [0]) + 2
        body, unsure = [], False
        for number, text in self.lines:
            runs = self.counts.get(number, 0)
            gutter = (f"{runs}×?" if self._choice_ran(text, runs) else f"{runs}×") if runs else "·"
            unsure = unsure or gutter.endswith("?")
            body.append(f"{gutter:>{width}}  {text}")
        note = ("\n?: the line ran, but it holds a condition and what it chooses: which side ran, a line count cannot "
                "tell (put each side on its own line)") if unsure else ""
        return f"{self.name}: {self.total} line runs\n" + "\n".join(body) + note

    def __repr__(self):
        return str(self)

    def _repr_html_(self):
        rows = []
        for number, text in self.lines:
            runs = self.counts.get(number, 0)
            unsure = self._choice_ran(text, runs)
            style = "background:#fbe7c6" if unsure else "background:#dff5e1" if runs else "color:#999"
            gutter = f"{runs}×?" if unsure else f"{runs}×" if runs else "·"
            rows.append(f"<tr style='{style}'><td style='text-align:right;padding-right:8px'>"
                        f"<b>{gutter}</b></td>"
                        f"<td style='text-align:left'><pre style='margin:0'>{html.escape(text)}</pre></td></tr>")
        amber = any(self._choice_ran(text, self.counts.get(number, 0)) for number, text in self.lines)
        legend = "green: ran, grey: skipped" + (", amber: its test ran, which side cannot be told from one line"
                                                 if amber else "")
        return (f"<div><b>{html.escape(self.name)}</b>: {self.total} line runs "
                f"({legend})<table>" + "".join(rows) + "</table></div>")


def _python_function(model, source):
    """The plain Python function whose lines to watch, with a one-line error if there is none. A decorated
    function (``@torch.no_grad()``) is unwrapped: its own code is what runs the lines its source shows."""
    return inspect.unwrap(_function_of(model, source))


def _function_of(model, source):
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
    refuse_meta(inputs, "record_path")
    foreign = next((type(i) for i in inputs if type(i).__module__ == "numpy"), None)
    if foreign is not None:  # torch's own message names linear() or whatever the first layer is
        raise TypeError(f"record_path: an input is a NumPy {foreign.__name__}; pass tensors, e.g. torch.from_numpy(a)")
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

    try:
        output = _traced_call(lambda: model(*inputs), on_call, function.__qualname__)
    except Exception as error:
        if str(error).startswith("record_path:"):
            raise
        # The model's own error, in one line, with the last line of the watched function that ran before it
        text_at = dict(lines)
        place = (f" at line {order[-1]} (`{text_at[order[-1]].strip()}`)" if order and order[-1] in text_at else "")
        name = function.__qualname__.rsplit('<locals>.', 1)[-1]
        if not order:  # no line of it ran: the call itself failed (the wrong number of inputs, say)
            raise RuntimeError(f"record_path: the call failed before the first line of {name} ran "
                               f"({typed_message(error, 140)}): pass the inputs it takes") from None
        raise RuntimeError(f"record_path: {name} raised{place}: {typed_message(error, 140)}; "
                           "fix that line, or pass inputs the model accepts") from None
    return PathRecord(function.__qualname__, lines, counts, order, output)


def _traced_call(call, tracer, what):
    """``call()`` with ``tracer`` as Python's trace function, handed back after; a one-line error if another tracer
    displaced it meanwhile (then some lines that ran were not counted)."""
    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        result = call()
    finally:
        displaced = sys.gettrace() is not tracer
        sys.settrace(previous)  # hand tracing back (a debugger may have been using it)
    if displaced:  # coverage, or a debugger, put its own tracer back mid-call: the counts miss lines that ran
        raise RuntimeError(f"record_path: {DISPLACED} while {what} ran, so its lines were not all recorded: "
                           "call it again without the debugger or coverage")
    return result


def own_line_counts(model, *inputs) -> dict:
    """``{(function's qualified name, line number): runs}`` for one call ``model(*inputs)``, over every line of the
    learner's own code that ran: forward, the methods and functions it calls, nested ones, submodules' forwards,
    wherever they were defined (a notebook cell, a file). Installed code (torch, the standard library) and the
    workbook's helpers are left out: a loop that forward hands to a helper counts, wherever the helper lives."""
    own = {}  # code object -> True when it is the learner's: decided once per code, not once per line
    helpers_dir = str(Path(__file__).resolve().parents[1])

    def is_own(code) -> bool:
        known = own.get(code)
        if known is None:
            filename = code.co_filename
            known = own[code] = not (filename.startswith("<frozen") or _installed(filename)
                                     or str(Path(filename).resolve()).startswith(helpers_dir))
        return known

    counts = {}

    def local(frame, event, arg):
        if event == "line":
            key = (frame.f_code.co_qualname, frame.f_lineno)
            counts[key] = counts.get(key, 0) + 1
        return local

    _traced_call(lambda: model(*inputs), lambda frame, event, arg: local if is_own(frame.f_code) else None,
                 type(model).__name__)
    return counts


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

    def __repr__(self):  # one line, not the grid's tensors
        low, high = self.values.min().item(), self.values.max().item()
        return (f"<PathMap of {self.name}: `{self.fragment}` ran for {self.fraction:.0%} of a {len(self.values)}×"
                f"{len(self.values)} grid of inputs tensor([a, b]), a and b from {low:g} to {high:g}>")

    def plot(self, line=None):
        """A picture (SVG) of the grid: one colour where the line ran, another where it did not.

        ``line=((x0, y0), (x1, y1))`` draws a dashed line over it, such as the border you expect.
        """
        from .svg_picture import MONO, Canvas

        if line is not None:
            try:
                (x0, y0), (x1, y1) = [(float(x), float(y)) for x, y in line]
            except (TypeError, ValueError):
                raise TypeError("plot(line=...) takes two points, e.g. line=((-3, 3), (3, -3))") from None
        size, left, top = 330.0, 62.0, 58.0  # the square grid, and room for the axis labels and title
        canvas = Canvas(left + size + 24, top + size + 86)
        # Each cell is centred on its input, so the picture reaches half a step past both ends.
        half = (self.values[1] - self.values[0]).item() / 2
        lo, hi = self.values[0].item() - half, self.values[-1].item() + half
        x_of = lambda a: left + (a - lo) / (hi - lo) * size
        y_of = lambda b: top + size - (b - lo) / (hi - lo) * size  # b upwards
        cell = size / len(self.values)
        colours = {True: "#8fc9a8", False: "#f2c18d"}
        for row, taken_row in enumerate(self.taken.tolist()):
            for col, taken in enumerate(taken_row):
                # a hair wider than the cell, so no white seams show between neighbours
                canvas.rect(left + col * cell, top + size - (row + 1) * cell, cell + 0.4, cell + 0.4, colours[taken])
        canvas.rect(left, top, size, size, "none", "#333333")
        for tick in range(math.ceil(lo), math.floor(hi) + 1):
            canvas.line([(x_of(tick), top + size), (x_of(tick), top + size + 5)])
            canvas.text(x_of(tick), top + size + 15, f"{tick}", 10)
            canvas.line([(left - 5, y_of(tick)), (left, y_of(tick))])
            canvas.text(left - 8, y_of(tick), f"{tick}", 10, anchor="end")
        canvas.text(left + size / 2, top + size + 32, "x[0]", 11)
        canvas.text(left - 34, top + size / 2, "x[1]", 11, rotate=-90)
        if line is not None:
            canvas.line([(x_of(x0), y_of(y0)), (x_of(x1), y_of(y1))], "#111111", width=1.2, dash="6 4")
        canvas.text(left + size / 2, 8, f"{self.name}: which inputs ran", 12, baseline="hanging")
        canvas.text(left + size / 2, 26, repr(self.fragment), 11, baseline="hanging", family=MONO)
        legend_y = top + size + 58
        for k, (taken, label) in enumerate(((True, "ran it"), (False, "did not"))):
            x = left + size / 2 - 90 + k * 100
            canvas.rect(x, legend_y - 6, 14, 12, colours[taken])
            canvas.text(x + 20, legend_y, label, 10, anchor="start")
        return canvas.picture(f"{self.name}: which inputs ran {self.fragment!r}")


def path_map(model, fragment: str, values=None) -> PathMap:
    """Call ``model`` on every ``tensor([a, b])`` with a, b from ``values`` and note if ``fragment``'s line ran."""
    if values is None:
        values = torch.linspace(-3, 3, 25)
    if not isinstance(values, torch.Tensor) or values.dim() != 1 or values.numel() < 2:
        raise TypeError("path_map(values=...) takes a 1-D tensor of at least two numbers, e.g. torch.linspace(-3, 3, 25)")
    values = values.float()
    try:  # the wrong kind of model (a class, a str) is said as such, before any call
        _python_function(model, None)
    except TypeError as error:
        raise TypeError(str(error).replace("record_path", "path_map", 1)) from None
    taken = torch.zeros(len(values), len(values), dtype=torch.bool)
    name = ""
    for row, b in enumerate(values):
        for col, a in enumerate(values):
            try:
                record = record_path(model, torch.stack([a, b]))
            except Exception as error:  # one line, never a traceback from inside the learner's model
                raise ValueError(f"path_map calls the model on one tensor of two numbers, tensor([a, b]), and "
                                 f"{type(model).__name__} fails on it ({type(error).__name__}: "
                                 f"{short_message(error, 120)}): for other inputs use H.record_path(model, ...)") \
                    from None
            taken[row, col] = record.ran(fragment)
            name = record.name
    return PathMap(values, taken, fragment, name)


# ---------------------------------------------------------------- every submodule's Python, over many calls

# False in eager: their branch runs only inside a compiler or an exporter (torch.jit, torch.compiler, torch.onnx)
_COMPILER_CHECKS = ("is_scripting", "is_tracing", "is_compiling", "is_dynamo_compiling", "is_exporting",
                    "is_in_onnx_export")


def _is_compiler_call(node) -> bool:
    return (isinstance(node, ast.Call) and not node.args
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in _COMPILER_CHECKS)


def _is_compiler_check(test) -> bool:
    """A test that is False in eager Python: a compiler check, or several joined by `or`."""
    return _is_compiler_call(test) or (isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or)
                                       and all(_is_compiler_check(v) for v in test.values))


def _compiler_only_lines(filename: str) -> frozenset:
    """Line numbers of ``filename`` that eager Python never runs: the body of ``if torch.jit.is_scripting():``
    (or ``is_tracing()``), and the ``else`` of ``if not torch.jit.is_scripting():``."""
    return _compiler_only_lines_of(filename, "".join(linecache.getlines(filename)))


@functools.lru_cache(maxsize=64)
def _compiler_only_lines_of(filename: str, source: str) -> frozenset:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return frozenset()
    lines = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.If):
            continue
        if _is_compiler_check(node.test):
            block = node.body
        elif isinstance(node.test, ast.UnaryOp) and isinstance(node.test.op, ast.Not) \
                and _is_compiler_check(node.test.operand):
            block = node.orelse
        else:
            continue
        for statement in block:
            lines.update(range(statement.lineno, (statement.end_lineno or statement.lineno) + 1))
    return frozenset(lines)


def _code_name(inner, outer, name: str) -> str:
    """How a line's function is named: a def inside a method by its own name (``Model.forward.<locals>.helper``);
    a comprehension, a generator or a lambda by the function it sits in."""
    if inner is outer or inner.co_name.startswith("<"):
        return name
    return f"{name}.<locals>.{inner.co_name}"


def _nested_codes(code):
    """``code`` and the code objects defined inside it (comprehensions, lambdas, inner functions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _nested_codes(const)


@dataclass(frozen=True)
class ConditionalSide:
    """A part of one line of the learner's Python that may or may not run when the line does: a side of
    ``a if test else b``, an operand that ``and`` / ``or`` may skip, or the body of a one-line ``if test: body``."""
    filename: str
    line: int
    column: int          # where the whole expression starts on its line: two on one line stay apart
    side: str            # "if" (``a``) or "else" (``b``), "operand", or "body"
    text: str            # the part's source, e.g. "x * 2"
    whole: str           # the whole expression's (or one-line statement's) source
    lines: tuple = ()    # the lines the part itself spans (one, unless it continues on the next)

    @property
    def label(self) -> str:
        """``the `if` side``, ``the operand``, ``the body``: how a sentence names this part."""
        return f"the `{self.side}` side" if self.side in ("if", "else") else f"the {self.side}"


class _Span:
    """Where a run of statements starts and ends, like an ast node's own positions."""

    def __init__(self, first, last):
        self.lineno, self.col_offset = first.lineno, first.col_offset
        self.end_lineno, self.end_col_offset = last.end_lineno, last.end_col_offset


@functools.lru_cache(maxsize=64)
def _conditional_nodes(filename: str, source: str) -> tuple:
    """The parts of a file's source that may not run when their line does, as (test: what always runs first,
    start: (line, column) of the whole, source of the whole, ((part node, side, source of the part), ...))."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    def text(part):  # on one line: an expression spread over several is shown with single spaces
        return " ".join((ast.get_source_segment(source, part) or "").split())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.IfExp):
            found.append((node.test, (node.lineno, node.col_offset), text(node),
                          ((node.body, "if", text(node.body)), (node.orelse, "else", text(node.orelse)))))
        elif isinstance(node, ast.BoolOp):  # `a and b`: b runs only when a does not decide
            found.append((node.values[0], (node.lineno, node.col_offset), text(node),
                          tuple((value, "operand", text(value)) for value in node.values[1:])))
        elif isinstance(node, ast.If) and node.body[0].lineno == node.test.end_lineno:  # `if test: body` on one line
            body = _Span(node.body[0], node.body[-1])
            shown = "; ".join(text(statement) for statement in node.body)
            found.append((node.test, (node.lineno, node.col_offset), f"if {text(node.test)}: {shown}",
                          ((body, "body", shown),)))
    return tuple(found)


def _inside(position, node) -> bool:
    line, end_line, column, end_column = position
    if None in position:
        return False
    return ((line, column) >= (node.lineno, node.col_offset)
            and (end_line, end_column) <= (node.end_lineno, node.end_col_offset))


@functools.lru_cache(maxsize=256)
def _conditional_sides(code) -> dict:
    """{instruction offset: the ConditionalSides it belongs to} for the parts of lines ``code`` may skip.

    Line tracing cannot tell which side of ``a if test else b`` ran when both sit on one line, nor whether ``and``
    skipped its operand or a one-line ``if`` its body; the instructions can: Python 3.11 records the columns each
    one came from (``co_positions``).
    """
    source = "".join(linecache.getlines(code.co_filename))
    positions = list(code.co_positions())
    table = collections.defaultdict(set)
    for test, (line, column), whole, parts in _conditional_nodes(code.co_filename, source):
        if not any(_inside(p, test) for p in positions):
            continue  # evaluated by another code object (a lambda or comprehension inside this one)
        for part, side, text in parts:
            key = ConditionalSide(code.co_filename, line, column, side, text, whole,
                                  tuple(range(part.lineno, part.end_lineno + 1)))
            for index, position in enumerate(positions):
                if _inside(position, part):
                    table[2 * index].add(key)
    return dict(table)


def _own_names(code) -> set:
    """The names ``code`` binds itself (arguments, locals, closures), ``self`` aside: a test that reads none of them
    reads only attributes or globals, which every input answers alike."""
    return set(code.co_varnames + code.co_cellvars + code.co_freevars) - {"self", "cls"}


@functools.lru_cache(maxsize=256)
def _one_line_if_tests(code) -> dict:
    """{the body's ConditionalSide: (the instruction offsets of its test, ``if test:``)} for each one-line
    ``if test: body`` that ``code`` runs: how often the test ran, beside how often the body did, tells whether a
    call ever took the way past the body, which has no line and no instruction of its own."""
    source = "".join(linecache.getlines(code.co_filename))
    positions = list(code.co_positions())
    own = _own_names(code)
    found = {}
    for test, (line, column), whole, parts in _conditional_nodes(code.co_filename, source):
        if len(parts) != 1 or parts[0][1] != "body" or any(_is_compiler_call(p) for p in ast.walk(test)):
            continue
        if not {p.id for p in ast.walk(test) if isinstance(p, ast.Name)} & own:
            continue  # a test on flags or globals only (`if self.use_norm: ...`): every input answers it alike
        offsets = tuple(2 * index for index, position in enumerate(positions) if _inside(position, test))
        if not offsets:
            continue  # evaluated by another code object
        part, side, text = parts[0]
        key = ConditionalSide(code.co_filename, line, column, side, text, whole,
                              tuple(range(part.lineno, part.end_lineno + 1)))
        found[key] = (offsets, f"if {' '.join((ast.get_source_segment(source, test) or '').split())}:")
    return found


_LEAVES = (ast.Return, ast.Raise, ast.Break, ast.Continue)


def _blocks_ifs(block, followed=False):
    """(if node, whether a statement follows it) for each ``if`` in a list of statements and the blocks inside them;
    an ``elif`` is followed when its whole chain is."""
    for index, statement in enumerate(block):
        after = index + 1 < len(block) or followed
        if isinstance(statement, ast.If):
            yield statement, after
            yield from _blocks_ifs(statement.body)
            is_elif = len(statement.orelse) == 1 and isinstance(statement.orelse[0], ast.If)
            yield from _blocks_ifs(statement.orelse, after if is_elif else False)
            continue
        for field in ("body", "orelse", "finalbody"):
            inner = getattr(statement, field, None)
            if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                yield from _blocks_ifs(inner)
        for part in list(getattr(statement, "handlers", None) or []) + list(getattr(statement, "cases", None) or []):
            yield from _blocks_ifs(part.body)


@functools.lru_cache(maxsize=64)
def _skippable_if_nodes(filename: str, source: str) -> tuple:
    """(if node, the names its test reads, "if" or "elif") of each multi-line ``if`` with no ``else`` in a file.

    The way past such an ``if`` that skips its body runs no line of its own, so line counts cannot tell that no
    call took it; the step from its test to the next line can (``LineCoverage`` watches it). Left out: tests a
    compiler decides (``torch.jit.is_scripting()`` ...); and bodies that leave with return, raise, break or continue
    when a statement follows the ``if``, since that statement is then the skipping path, named by line coverage.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return ()
    lines = source.splitlines()
    found = []
    for node, followed in _blocks_ifs(tree.body):
        if node.orelse or node.body[0].lineno <= node.test.end_lineno:
            continue  # an else, or a one-line `if test: body` (its body is a ConditionalSide)
        if any(_is_compiler_call(part) for part in ast.walk(node.test)):
            continue
        if followed and isinstance(node.body[-1], _LEAVES):
            continue
        names = frozenset(part.id for part in ast.walk(node.test) if isinstance(part, ast.Name))
        keyword = "elif" if lines[node.lineno - 1].lstrip().startswith("elif") else "if"
        found.append((node, names, keyword))
    return tuple(found)


@functools.lru_cache(maxsize=256)
def _skippable_ifs(code) -> dict:
    """{a line of the test: [(ConditionalSide of side "skip", the test's lines, body's first line, body's last), ...]}
    for each ``if`` without ``else`` that ``code`` runs and whose test reads one of its arguments or locals: a test
    on attributes or globals only (``if self.use_norm:``, ``if not self.training:``) gives every input the same
    answer, so no input could take the other way."""
    source = "".join(linecache.getlines(code.co_filename))
    own = _own_names(code)
    positions = list(code.co_positions())
    table = collections.defaultdict(list)
    for node, names, keyword in _skippable_if_nodes(code.co_filename, source):
        if not names & own or not any(_inside(p, node.test) for p in positions):
            continue  # a test on flags or globals, or one another code object evaluates (a nested function's)
        text = f"{keyword} {ast.unparse(node.test)}:"
        side = ConditionalSide(code.co_filename, node.lineno, node.col_offset, "skip", text, text, (node.lineno,))
        test_lines = frozenset(range(node.test.lineno, node.test.end_lineno + 1))
        entry = (side, test_lines, node.body[0].lineno, node.body[-1].end_lineno)
        for line in test_lines:
            table[line].append(entry)
    return dict(table)


_LIBRARY_DIRS = tuple({str(Path(p).resolve()) for key in ("stdlib", "platstdlib", "purelib", "platlib")
                       for p in [sysconfig.get_paths().get(key)] if p})


def _is_library(cls) -> bool:
    """True for a class installed with Python or a package (torch.nn, torchvision): not the learner's code."""
    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    if not path:
        return cls.__module__ == "builtins"
    return _installed(path)


def _installed(path) -> bool:
    """True for a file installed with Python or a package."""
    resolved = str(Path(path).resolve())
    return resolved.startswith(_LIBRARY_DIRS) or "site-packages" in resolved or "dist-packages" in resolved


def _own_classes(model):
    """The classes whose Python the model runs and the learner wrote: its own and its submodules'.
    Installed libraries (torch.nn's layers, torchvision) are left out: their branches (training-only
    code, shape checks) are not the learner's paths, and watching them is slow."""
    seen = []
    modules = model.modules() if isinstance(model, torch.nn.Module) else []
    for module in modules:
        if isinstance(module, torch.jit.ScriptModule):
            continue  # a scripted submodule runs no Python
        for cls in type(module).__mro__:
            if cls not in seen and not _is_library(cls):
                seen.append(cls)
    return seen


def _functions_behind(member, name):
    """The learner's functions that the class attribute ``name`` runs as its own body.

    Behind decorators, that is the function defined as ``def name`` (its code's own name, which functools.wraps does
    not change), wherever the wrappers keep it: ``__wrapped__``, a closure, a default argument, an attribute of a
    decorator object, a partial's ``func``, a dict or list they hold. Wrappers and the helpers they call (a logger)
    are not the model's body, and a library's wrapper (torch.compiler.disable) is not the learner's. With no such
    function (``forward = make()``), the attribute's own function, if the learner wrote it."""
    found, seen, todo = [], set(), [(member, 0)]
    while todo and len(seen) < 500:  # a class attribute holding a whole model is no decorator: stop looking
        item, depth = todo.pop(0)
        if id(item) in seen or depth > 8 or isinstance(item, torch.nn.Module):
            continue
        seen.add(id(item))
        if isinstance(item, types.FunctionType):
            if item.__code__.co_name == name and not _in_library(item):
                found.append(item)
                continue  # the body itself: what it calls is not searched
        try:
            inner = _held_by(item)
            inner.append(getattr(item, "__wrapped__", None))
            todo += [(x, depth + 1) for x in inner[:100]
                     if x is not None and (callable(x) or hasattr(x, "func") or isinstance(x, (dict, list, tuple)))]
        except Exception:  # an object whose attributes raise (a lazy namespace): nothing behind it to watch
            continue
    if not found:
        own = getattr(member, "__func__", member)
        if isinstance(own, types.FunctionType) and not _in_library(own):
            found.append(own)
    return found


def _held_by(item) -> list:
    """The objects a wrapper may keep the wrapped function in."""
    if isinstance(item, types.FunctionType):
        held = [cell.cell_contents for cell in (item.__closure__ or ()) if _has_contents(cell)]
        return held + list(item.__defaults__ or ()) + list((item.__kwdefaults__ or {}).values())
    if isinstance(item, (dict, list, tuple)):  # a table of registered functions
        return list(item.values()) if isinstance(item, dict) else list(item)
    held = [getattr(item, attribute, None) for attribute in ("__func__", "func")]
    if not isinstance(item, (type, types.ModuleType)):
        held += list(getattr(item, "__dict__", {}).values())  # a decorator object keeps the function
    return held


def _has_contents(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:  # an empty cell: the closure's variable was never set
        return False
    return True


def _in_library(function) -> bool:
    filename = getattr(getattr(function, "__code__", None), "co_filename", "")
    return bool(filename) and not filename.startswith("<") and _installed(filename)


def _functions_called_by(functions, limit=50) -> list:
    """The learner's plain functions that ``functions`` call by a global name (``gate(x)``, ``utils.gate(x)``), and
    those they call in turn: a branch in a helper function outside the class is a path of the model too. Found by
    name in each function's globals; installed libraries' functions are left out, as their classes are."""
    found, seen, todo = [], {id(f) for f in functions}, list(functions)
    while todo and len(found) < limit:
        function = todo.pop(0)
        namespace = getattr(function, "__globals__", {})
        names = {name for code in _nested_codes(function.__code__) for name in code.co_names}
        candidates = []
        for name in names:
            value = namespace.get(name)
            if isinstance(value, types.ModuleType) and not _installed(getattr(value, "__file__", None) or "/"):
                # utils.gate: a module of yours; read its namespace (a module's __getattr__ may raise or import)
                attributes = getattr(value, "__dict__", {})
                candidates += [(attributes.get(attribute), attribute) for attribute in names]
            else:
                candidates.append((value, name))
        # a helper held in a closure (a forward defined inside a function, a function a factory returned) is
        # called by a free variable's name, which the globals do not hold
        for name, cell in zip(function.__code__.co_freevars, getattr(function, "__closure__", None) or ()):
            try:
                candidates.append((cell.cell_contents, name))
            except ValueError:  # a cell not filled yet
                pass
        for value, name in candidates:
            for inner in _called_by_name(value, name):
                if id(inner) not in seen:
                    seen.add(id(inner))
                    found.append(inner)
                    todo.append(inner)
    return found


def _called_by_name(value, name) -> list:
    """The learner's functions that calling ``value`` (found under ``name``) runs as its body: the function itself,
    or the one behind a decorator (with or without functools.wraps) or a functools.partial."""
    while isinstance(value, functools.partial):
        value = value.func
        name = getattr(value, "__name__", name)
    if not callable(value) or isinstance(value, (type, torch.nn.Module)):
        return []
    try:
        return [f for f in _functions_behind(value, name) if isinstance(f, types.FunctionType)]
    except Exception:  # an object whose attributes raise: nothing behind it to watch
        return []


def _branches_or_loops(program) -> bool:
    """True unless a TorchScript program's code, its submodules' inlined, holds no ``if`` and no loop outside
    installed libraries (True too when it cannot be read). torch's own layers branch (MultiheadAttention's checks),
    and are left out here as the eager side leaves them out (``_own_classes``); a saved file keeps the source ranges."""
    try:
        graph = program.inlined_graph  # kept in a name: its nodes are invalid once the graph is freed
        ranges = [node.sourceRange() for kind in ("prim::If", "prim::Loop") for node in graph.findAllNodes(kind, True)]
        # an if the compiler added itself has no range; when no node has one, nothing tells whose they are
        named = [where for where in ranges if where.strip()]
        return bool(ranges) and (not named or any(not _library_source(where) for where in named))
    except Exception:
        return True


def _library_source(source_range: str) -> bool:
    """True when a TorchScript node's source range names a file installed with a package (torch.nn's own code)."""
    serialized = re.search(r'File "code/__torch__/([^/".]+)', source_range)  # code a loaded file wrote itself
    if serialized:  # named by the Python module it came from: code/__torch__/torch/nn/... is torch's
        package = getattr(sys.modules.get(serialized.group(1)), "__file__", None)
        return bool(package) and _installed(package)
    found = re.search(r'File "([^"]+)"', source_range)
    return bool(found) and _installed(found.group(1))


class LineCoverage:
    """Which lines of a model's Python (its class's methods, its submodules' and the plain functions they call by
    name) ran over several calls.

    ``with coverage.watch(label): model(x)`` records one call; ``coverage.uncovered()`` lists
    ``(where, line number, text)`` of each line, in a method that ran, that no call ran (and of each ``if`` with no
    ``else`` whose test reads the call's values and that every call entered: ``where`` ends "with its condition false");
    ``coverage.counts`` maps each label to how often each line ran, ``coverage.paths`` to the set of those
    lines; ``coverage.forget(label)`` drops one call's record. ``coverage.reason`` is set
    (and nothing is recorded) when there is no Python to watch, e.g. for a scripted model.
    """

    def __init__(self, model):
        self.codes = {}  # code object -> "Class.method"
        self.reason = ""
        function = getattr(model, "__func__", model)
        if isinstance(model, torch.jit.ScriptModule) or isinstance(model, torch.jit.ScriptFunction):
            if _branches_or_loops(model):  # its paths exist, but in TorchScript's code, not in Python lines
                self.reason = "a scripted or traced model runs no Python, so there are no lines to watch"
            # none: one path only, whatever the input, so there is nothing that inputs could leave untried
        elif isinstance(model, torch.nn.Module):
            methods = []
            for cls in _own_classes(model):
                for name, member in vars(cls).items():
                    if name == "__init__":
                        continue
                    for function in _functions_behind(member, name):
                        methods.append(function)
                        self._add_codes(function, f"{cls.__name__}.{name}", replace=True)
            # a function kept on the model itself (self.gate = make_gate(...)), called as self.gate(x)
            held = [(value, name) for module in model.modules() if not isinstance(module, torch.jit.ScriptModule)
                    for name, value in vars(module).items() if isinstance(value, (types.FunctionType, functools.partial))]
            for value, name in held:
                for function in _called_by_name(value, name):
                    methods.append(function)
                    self._add_codes(function, function.__qualname__)
            self._watch_called(methods)
            # no codes: built only from torch's own layers, so no Python of its own to branch in
        elif getattr(model, "unwatched", False):
            pass  # the caller knows its lines cannot be read (answers kept from earlier calls): no codes, no note
        elif callable(function) and hasattr(function, "__code__"):
            self._add_codes(function, function.__qualname__, replace=True)
            if isinstance(function, types.FunctionType):
                self._watch_called([function])
        else:
            self.reason = f"a {type(model).__name__} has no Python source to watch"
        self.counts = {}  # label -> {(filename, line number): how many times it ran}
        self.offsets = {}  # label -> {(code, instruction offset): times run} in code with conditional expressions
        self.ran_codes = set()
        # code objects holding `a if test else b`: only their frames trace instructions (line tracing cannot
        # tell the two sides of one line apart), so a model without one pays nothing more
        self.conditional_codes = {code for code in self.codes if _conditional_sides(code)}
        self.skippable = {code: table for code in self.codes for table in [_skippable_ifs(code)] if table}
        self.transitions = {}  # label -> {(ConditionalSide, entered?): times}: the step from an if's test onwards

    def _watch_called(self, functions):
        """Watch the plain functions that ``functions`` call by name too (a method's code stays under its method's
        name: a function is also a class attribute at times)."""
        for called in _functions_called_by(functions):
            self._add_codes(called, called.__qualname__)

    def _add_codes(self, function, name: str, replace: bool = False):
        """Watch ``function``'s code and the code defined inside it, under ``name`` (a def inside it by its own name,
        see ``_code_name``); ``replace=False`` keeps a name given before (a method's, when a function is also one)."""
        for inner in _nested_codes(function.__code__):
            if replace or inner not in self.codes:
                self.codes[inner] = _code_name(inner, function.__code__, name)

    @property
    def paths(self) -> dict:
        """label -> frozenset of the (filename, line number) that call ran."""
        return {label: frozenset(lines) for label, lines in self.counts.items()}

    def sides(self, label) -> frozenset:
        """The ConditionalSides (``a`` or ``b`` of ``a if test else b``) the call ``label`` ran."""
        return frozenset(self.side_counts(label))

    def side_counts(self, label) -> dict:
        """ConditionalSide -> how many times the call ``label`` ran it (a side in a loop runs once per turn)."""
        counts = {}
        for (code, offset), times in self.offsets.get(label, {}).items():
            for side in _conditional_sides(code).get(offset, ()):
                counts[side] = max(counts.get(side, 0), times)  # each of a side's instructions runs once per visit
        return counts

    def forget(self, label) -> dict:
        """Drop the record of the call ``label`` (a call that failed, a probe); returns its counts ({} if none)."""
        self.offsets.pop(label, None)
        self.transitions.pop(label, None)
        return self.counts.pop(label, {})

    def watch(self, label):
        """A context manager recording the lines one call runs under ``label``."""
        return _Watch(self, label)

    def executable_lines(self, code):
        """Line numbers of ``code`` that hold instructions (the ``def`` line itself excepted)."""
        return {line for _start, _end, line in code.co_lines()
                if line is not None and line != code.co_firstlineno}

    def uncovered(self):
        """``(where, place, source text)`` of lines no call ran (place: ``line N of a cell`` or ``file.py:N``), in methods that ran at least once.

        Lines that only a compiler runs (under ``if torch.jit.is_scripting():`` or ``is_tracing()``)
        are left out: no eager call can run them, whatever the input.
        """
        if self.reason:
            return []
        ran = set().union(*self.counts.values())
        continued = set()  # (file, line) of the lines a named part continues on: the part, not further paths
        side_counts = {label: self.side_counts(label) for label in self.counts}  # read once, used per code below
        taken = set().union(*side_counts.values())  # sides of `a if test else b` that ran
        missing = {}
        for code, where in self.codes.items():
            owner = code if code in self.ran_codes else None
            if owner is None:
                continue
            compiler_only = _compiler_only_lines(code.co_filename)
            for line in self.executable_lines(code):
                if (code.co_filename, line) not in ran and line not in compiler_only:
                    text = linecache.getline(code.co_filename, line).strip()
                    if text and not text.startswith(("#", "@")):
                        missing[(code.co_filename, line)] = (where, code_place(code.co_filename, line), text)
            # a side of `a if test else b` (an operand `and` skipped, a one-line if's body) that no call took, on a
            # line that ran (else the line is named above)
            for side in sorted({k for keys in _conditional_sides(code).values() for k in keys},
                               key=lambda k: (k.line, k.column, k.side, k.text)):
                if (side.filename, side.line) in ran and side not in taken and side.text:
                    key = (side.filename, side.line, side.column, side.side, side.text)
                    missing[key] = (f"{where}, {side.label} of `{side.whole}`", code_place(side.filename, side.line),
                                    side.text)
                    continued.update((side.filename, line) for line in side.lines if line != side.line)
            # a one-line `if test: body` whose body ran on every visit of its test: no call took the way past it
            for body, (offsets, text) in _one_line_if_tests(code).items():
                tested = [max((self.offsets.get(label, {}).get((code, o), 0) for o in offsets), default=0)
                          for label in self.counts]
                bodied = [side_counts[label].get(body, 0) for label in self.counts]
                if any(tested) and tested == bodied:
                    missing[(body.filename, body.line, body.column, "skip", text)] = (
                        f"{where}, with its condition false", code_place(body.filename, body.line), text)
            # an `if` with no `else` whose condition held on every visit: no call took the way that skips its body
            for side in {entry[0] for entries in self.skippable.get(code, {}).values() for entry in entries}:
                steps = self.transitions.values()
                if any(c.get((side, True)) for c in steps) and not any(c.get((side, False)) for c in steps):
                    missing[(side.filename, side.line, side.column, side.side, side.text)] = (
                        f"{where}, with its condition false", code_place(side.filename, side.line), side.text)
        return [missing[key] for key in sorted(missing, key=lambda k: (k[0], k[1], k[2:])) if key not in continued]

    @property
    def same_path(self) -> bool:
        """True when two or more calls were watched and every one ran exactly the same lines (and the same sides
        of every conditional expression)."""
        paths = {label: (lines, frozenset(self.side_counts(label).items())) for label, lines in self.paths.items()}
        return len(paths) > 1 and len(set(paths.values())) == 1


class _Watch:
    def __init__(self, coverage, label):
        self.coverage, self.label, self.lines = coverage, label, collections.Counter()

    def __enter__(self):
        codes, lines, ran = self.coverage.codes, self.lines, self.coverage.ran_codes
        conditional, skippable = self.coverage.conditional_codes, self.coverage.skippable
        offsets = self.offsets = collections.Counter()
        steps = self.steps = collections.Counter()
        last = {}  # id(frame) -> its last line, in code holding an `if` with no `else`

        def step(frame, line):
            """Count where the frame went from an `if`'s test: into its body, or past it (line None: it returned)."""
            previous = last.get(id(frame))
            last[id(frame)] = line
            for side, test_lines, body_first, body_last in skippable[frame.f_code].get(previous, ()):
                if line is None or line not in test_lines:  # a test over several lines moves within itself first
                    steps[(side, line is not None and body_first <= line <= body_last)] += 1

        def local(frame, event, arg):
            if event == "line":
                lines[(frame.f_code.co_filename, frame.f_lineno)] += 1  # how often, too: a loop's turns
                if frame.f_code in skippable:
                    step(frame, frame.f_lineno)
            elif event == "opcode":
                offsets[(frame.f_code, frame.f_lasti)] += 1
            elif frame.f_code in skippable:
                if event == "exception":  # raised while testing: neither way was taken
                    last[id(frame)] = None
                elif event == "return":
                    step(frame, None)
                    last.pop(id(frame), None)
            return local

        def on_call(frame, event, arg):
            if frame.f_code in codes:
                ran.add(frame.f_code)
                if frame.f_code in conditional:
                    frame.f_trace_opcodes = True  # which side of `a if test else b` runs
                return local
            return None

        self.previous, self.on_call = sys.gettrace(), on_call
        self.active = not self.coverage.reason and bool(codes)  # nothing to watch: no tracer, no slowdown
        if self.active:
            sys.settrace(on_call)
        return self

    def __exit__(self, *exc):
        if self.active:
            displaced = sys.gettrace() is not self.on_call
            sys.settrace(self.previous)  # hand tracing back (a debugger may have been using it)
            self.coverage.counts[self.label] = dict(self.lines)
            self.coverage.offsets[self.label] = self.offsets
            self.coverage.transitions[self.label] = self.steps
            if displaced:  # the counts miss lines that ran: say nothing about lines rather than something false
                self.coverage.reason = DISPLACED
        return False
