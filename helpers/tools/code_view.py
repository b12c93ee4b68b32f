"""TorchScript ``.code``, highlighted, alone or side by side (introduced in 02_what_is_torchscript).

``H.show_code(scripted)`` shows the code TorchScript keeps for a model (with ``submodules=True``,
the code of every submodule too); ``H.compare_code(traced, scripted)`` puts two listings side by
side and marks the lines that differ, which is how the workbook shows what tracing dropped.
Both display as HTML in JupyterLab and as plain text anywhere else.
"""
import difflib
import html

import torch
from pygments import lex
from pygments.lexers import PythonLexer
from pygments.styles import get_style_by_name

__all__ = ["show_code", "show_source", "compare_code", "CodeListing", "CodeComparison"]

_STYLE = get_style_by_name("default")
_PRE = ("font-family:var(--jp-code-font-family, monospace);font-size:12px;line-height:1.45;"
        "background:#f7f7f9;color:#1f2328;padding:8px 10px;border-radius:4px;overflow-x:auto;margin:4px 0")
_CELL = "text-align:left;vertical-align:top;border:none;padding:0 8px;white-space:pre;"
_CHANGED = {"left": "#ffebe9", "right": "#e6ffec"}  # removed / added, as code reviews colour them
_FILLER = "#f0f1f3"
_HEADING = "color:#59636e;font-family:monospace;margin-top:6px"
_TABLE = ("border-collapse:collapse;font-family:var(--jp-code-font-family, monospace);font-size:12px;"
          "line-height:1.45;margin:4px 0")


def _token_css(token_type):
    """Inline CSS for a pygments token (inline, so the colours survive any notebook front end)."""
    style = _STYLE.style_for_token(token_type)
    css = f"color:#{style['color']};" if style["color"] else ""
    if style["bold"]:
        css += "font-weight:bold;"
    if style["italic"]:
        css += "font-style:italic;"
    return css


def highlight_lines(code: str) -> list:
    """``code`` as one HTML string per line, coloured by pygments' Python lexer."""
    lines, current = [], []
    for token_type, text in lex(code, PythonLexer()):
        css = _token_css(token_type)
        for index, piece in enumerate(text.split("\n")):
            if index:  # a token that spans lines (a docstring) is cut at each newline
                lines.append("".join(current))
                current = []
            if piece:
                escaped = html.escape(piece)
                current.append(f'<span style="{css}">{escaped}</span>' if css else escaped)
    if current:
        lines.append("".join(current))
    # the lexer always ends with a newline: drop the empty line it adds
    count = len(code.splitlines())
    return (lines + [""] * count)[:count]


def _code_of(obj, who: str) -> str:
    """The TorchScript source of a scripted/traced module or function; one-line TypeError otherwise."""
    if isinstance(obj, (torch.jit.ScriptModule, torch.jit.ScriptFunction, torch._C.ScriptMethod)):
        try:
            return obj.code
        except AttributeError:  # a scripted container (ModuleList) has no forward, hence no code
            raise TypeError(f"{who}: this {type(obj).__name__} has no forward method, so it has no code; "
                            "pass the module that defines forward") from None
        except RuntimeError as error:  # a Tensor argument whose default is None: its default cannot be written out
            if "undefined Tensor" not in str(error):
                raise
            return (f"# .code cannot be written out here ({str(error).splitlines()[0].strip()}): a Tensor argument\n"
                    "# has the default None, stored as an undefined Tensor (annotate it Optional[Tensor]).\n"
                    f"# Its graph instead:\n{obj.graph}")
    if obj is None:
        problem = "got None"
    elif isinstance(obj, str):
        problem = "got a string (pass the model itself, not its .code)"
    elif isinstance(obj, type):
        problem = f"got the class {obj.__name__} (create an instance first)"
    elif isinstance(obj, torch.nn.Module):
        problem = f"got a plain nn.Module ({type(obj).__name__}), which has no TorchScript code yet"
    elif isinstance(obj, torch.export.ExportedProgram):
        raise TypeError(f"{who} shows TorchScript code; an ExportedProgram's Python code is "
                        "print(program.graph_module.code), and H.draw_graph(program) draws its graph")
    elif callable(obj) and getattr(obj, "__name__", ""):
        problem = f"got the Python function {getattr(obj, '__name__', '')}, which has no TorchScript code yet"
    else:
        problem = f"got {type(obj).__name__}"
    raise TypeError(f"{who} {problem}: pass torch.jit.script(model) or torch.jit.trace(model, example_input)")


def _title_of(obj) -> str:
    if isinstance(obj, torch.jit.ScriptModule):
        # a trace reloaded from a file is a plain ScriptModule, like a scripted one: only a live trace is known as one
        how = "traced" if isinstance(obj, torch.jit.TracedModule) else "TorchScript"
        return f"{getattr(obj, 'original_name', type(obj).__name__)} · {how} · .code"
    return f"{getattr(obj, 'name', 'function')} · .code"


def _submodule_sections(module) -> list:
    """(heading, code) per distinct submodule code; modules sharing one code (every Conv2d) share a section."""
    by_code = {}
    for name, sub in module.named_modules():
        if not name:
            continue
        try:
            code = sub.code
        except AttributeError:  # containers without forward (ModuleList) have no code
            continue
        kind = getattr(sub, "original_name", type(sub).__name__)
        by_code.setdefault(code, (kind, []))[1].append(name)
    sections = []
    for code, (kind, names) in by_code.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        sections.append((f"# {shown} ({kind})", code))
    return sections


class CodeListing:
    """Highlighted code: ``.code`` (all sections as text), ``.sections`` [(heading, code)], ``.title``."""

    def __init__(self, title: str, sections: list):
        self.title = title
        self.sections = sections

    @property
    def code(self) -> str:
        return "\n".join((f"{heading}\n" if heading else "") + code for heading, code in self.sections)

    def _repr_html_(self) -> str:
        parts = [f"<div><div style='font-weight:bold;margin:4px 0'>{html.escape(self.title)}</div>"]
        for heading, code in self.sections:
            if heading:
                parts.append(f"<div style='{_HEADING}'>{html.escape(heading)}</div>")
            parts.append(f"<pre style='{_PRE}'>" + "\n".join(highlight_lines(code)) + "</pre>")
        return "".join(parts) + "</div>"

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        return {"text/html": self._repr_html_(), "text/plain": f"{self.title}\n{self.code}"}

    def __repr__(self):
        return f"{self.title}\n{self.code}"


def show_source(source: str, title: str = "source") -> CodeListing:
    """Python source held as text (a gallery entry's ``.broken`` or ``.fixed``), syntax-highlighted under ``title``."""
    if not isinstance(source, str) or not isinstance(title, str):
        raise TypeError(f"show_source takes the source as text and a title, e.g. "
                        f"H.show_source(H.gallery_entry('none_default').broken, 'broken'); got {type(source).__name__}")
    return CodeListing(title, [("", source.strip("\n"))])


def show_code(obj, *, submodules: bool = False) -> CodeListing:
    """The ``.code`` of a scripted or traced model (or function), syntax-highlighted.

    ``submodules=True`` adds the code of every submodule (those sharing the same code are listed
    once), which is where the code of a layer such as ``nn.Linear`` lives.
    """
    code = _code_of(obj, "show_code")
    if not isinstance(submodules, bool):
        raise TypeError(f"show_code(submodules=...) takes True or False, got {type(submodules).__name__}")
    sections = [("", code)]
    if submodules and isinstance(obj, torch.jit.ScriptModule):
        sections += _submodule_sections(obj)
    return CodeListing(_title_of(obj), sections)


class CodeComparison:
    """Two listings side by side; ``differing_lines`` lists (label, line number, text) of every line
    that is not in the other listing; ``unified`` is the plain-text diff; ``identical`` is True when
    the two codes are the same."""

    def __init__(self, left: str, right: str, labels):
        self.left, self.right, self.labels = left, right, tuple(labels)
        left_lines, right_lines = left.splitlines(), right.splitlines()
        matcher = difflib.SequenceMatcher(None, left_lines, right_lines, autojunk=False)
        self.rows = []  # (left number or None, right number or None, changed)
        self.differing_lines = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                self.rows += [(i, j, False) for i, j in zip(range(i1, i2), range(j1, j2))]
                continue
            lefts, rights = list(range(i1, i2)), list(range(j1, j2))
            for k in range(max(len(lefts), len(rights))):
                self.rows.append((lefts[k] if k < len(lefts) else None, rights[k] if k < len(rights) else None, True))
            self.differing_lines += [(self.labels[0], i + 1, left_lines[i]) for i in lefts]
            self.differing_lines += [(self.labels[1], j + 1, right_lines[j]) for j in rights]
        self.identical = not self.differing_lines
        self.unified = "\n".join(difflib.unified_diff(left_lines, right_lines, fromfile=self.labels[0],
                                                      tofile=self.labels[1], lineterm=""))

    @property
    def summary(self) -> str:
        """One sentence: how many lines of each side differ."""
        if self.identical:
            return f"{self.labels[0]} and {self.labels[1]}: identical code"
        counts = [len(self.lines_of(label)) for label in self.labels]
        return (f"lines that differ (coloured): {counts[0]} in {self.labels[0]}, "
                f"{counts[1]} in {self.labels[1]}")

    def lines_of(self, label) -> list:
        """The differing lines (text only) of the side named ``label``."""
        if label not in self.labels:
            raise ValueError(f"lines_of() takes one of the labels {self.labels}, got {label!r}")
        return [text for side, _number, text in self.differing_lines if side == label]

    def _cells(self, number, lines, changed, side):
        if number is None:
            return f"<td style='{_CELL}background:{_FILLER}'></td><td style='{_CELL}background:{_FILLER}'></td>"
        colour = _CHANGED[side] if changed else "#ffffff"
        return (f"<td style='{_CELL}background:{colour};color:#8c959f;text-align:right'>{number + 1}</td>"
                f"<td style='{_CELL}background:{colour}'>{lines[number]}</td>")

    def _repr_html_(self) -> str:
        left, right = highlight_lines(self.left), highlight_lines(self.right)
        head = "".join(f"<th colspan='2' style='{_CELL}background:#ffffff;font-weight:bold'>{html.escape(label)}</th>"
                       for label in self.labels)
        body = "".join(f"<tr>{self._cells(i, left, changed, 'left')}{self._cells(j, right, changed, 'right')}</tr>"
                       for i, j, changed in self.rows)
        return (f"<div style='overflow-x:auto'><table style='{_TABLE}'><thead><tr>{head}</tr></thead><tbody>{body}"
                f"</tbody></table><div style='color:#59636e;font-size:12px'>{html.escape(self.summary)}</div></div>")

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        return {"text/html": self._repr_html_(), "text/plain": repr(self)}

    def __repr__(self):
        if self.identical:
            return f"{self.labels[0]} and {self.labels[1]}: identical code\n{self.left}"
        return self.unified


def compare_code(left, right, labels=("trace", "script")) -> CodeComparison:
    """The code of two scripted/traced models side by side, with the lines that differ marked."""
    left_code, right_code = _code_of(left, "compare_code"), _code_of(right, "compare_code")
    if (not isinstance(labels, (tuple, list)) or len(labels) != 2
            or not all(isinstance(x, str) and x for x in labels) or labels[0] == labels[1]):
        raise TypeError(f"compare_code(labels=...) takes two different names, e.g. ('trace', 'script'), got {labels!r}")
    return CodeComparison(left_code, right_code, labels)
