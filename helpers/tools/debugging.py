"""Debugging TorchScript: fresh interpreters, graph nodes traced to source lines (introduced in 07_optimize_and_debug).

``H.run_fresh_python(code, env={"PYTORCH_JIT": "0"})`` runs ``code`` in a new interpreter, because
some switches are read once, when torch is imported, and a running kernel has imported it already.
``H.node_sources(scripted)`` lists each node of a graph with the source line it came from and the
exact piece of that line, read from ``node.sourceRange()``.
"""
import linecache
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

import torch

from ..course.failures import code_place
from ..course.warm_torch import run_python
from ..course.workdir import REPO_ROOT

__all__ = ["run_fresh_python", "FreshRun", "node_sources", "NodeSource", "NodeSources"]


@dataclass(frozen=True)
class FreshRun:
    """What a fresh interpreter printed: ``stdout``, ``stderr`` and its ``returncode``."""
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def lines(self) -> list:
        """The non-empty lines of stdout."""
        return [ln for ln in self.stdout.splitlines() if ln.strip()]

    @property
    def error(self) -> str:
        """The error the child died of, as one line ('' if it exited normally)."""
        if self.ok:
            return ""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        for i in range(len(lines) - 1, -1, -1):
            if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit)\b:?", lines[i]):
                text = lines[i]
                # "RuntimeError:" alone means the message starts on the next line (TorchScript does that)
                if text.endswith(":") and i + 1 < len(lines):
                    i += 1
                    text = f"{text} {lines[i]}"
                # A TorchScript compile error ends its sentence with ":" and quotes the code below: say which line
                if text.endswith(":"):
                    text = text[:-1]
                    where = _HEADER.search(lines[i + 1]) if i + 1 < len(lines) else None
                    if where:
                        text += f" (line {where['line']} of the code)"
                return text
        return lines[-1] if lines else f"exit code {self.returncode}"

    def __str__(self):
        text = self.stdout.rstrip()
        if not self.ok:
            text += f"\n✘ the fresh Python exited with code {self.returncode}: {self.error}"
        return text.lstrip("\n")


def run_fresh_python(code, env=None, stdin: str = "", timeout: float = 120) -> FreshRun:
    """Run ``code`` in a new Python process (this kernel's interpreter) with extra environment variables ``env``.

    The code is written to a file first, because TorchScript compiles from source files: a class
    defined in code passed with ``python -c`` cannot be scripted. The child inherits this process's
    environment plus ``env``, starts in the repository root so that ``import helpers`` works, and
    its output comes back as a :class:`FreshRun`. ``stdin`` is what the child reads as typed input,
    for example the commands for a ``breakpoint()`` (``"p x\\nc\\n"``: print x, continue); it is
    never this kernel's own input, so nothing waits forever.
    """
    if not isinstance(code, str) or not code.strip():
        raise TypeError("run_fresh_python needs the code to run as a string, e.g. run_fresh_python('print(1)')")
    env = {} if env is None else env
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise TypeError("run_fresh_python(env=...) takes a dict of strings, e.g. {'PYTORCH_JIT': '0'}")
    if not isinstance(stdin, str):
        raise TypeError("run_fresh_python(stdin=...) takes the typed input as one string, e.g. 'p x\\nc\\n'")
    child_env = {**os.environ, **env}
    # The child should import the same helpers as this kernel, wherever the kernel was started.
    child_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p)
    with tempfile.TemporaryDirectory(prefix="fresh-python-") as folder:
        script = Path(folder) / "fresh.py"
        script.write_text(textwrap.dedent(code), encoding="utf-8")
        try:
            # forked from the waiting torch process unless env changes a switch torch reads at import (PYTORCH_JIT):
            # then a cold interpreter, which is the point of such a run
            done = run_python([str(script)], env=child_env, cwd=REPO_ROOT, input=stdin, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the fresh Python did not finish within {timeout} s: "
                               "is the code waiting for input, or looping? pass timeout=... to wait longer") from None
    return FreshRun(done.returncode, done.stdout, done.stderr)


# ------------------------------------------------------------------ source ranges

@dataclass(frozen=True)
class NodeSource:
    """One graph node and where it came from: ``file``, ``line``, the whole ``code`` line and the ``marked`` part."""
    kind: str
    file: str
    line: int
    code: str
    marked: str


_HEADER = re.compile(r'File "(?P<file>[^"]*)", line (?P<line>\d+)')


_TRACED = re.compile(r"^(?P<file>.+)\((?P<line>\d+)\): \S+$")


def _parse_range(text: str):
    """(file, line, code, marked) from a sourceRange() text, or None when the node has no source."""
    lines = text.splitlines()
    header = next((_HEADER.search(ln) for ln in lines if _HEADER.search(ln)), None)
    if header is None:
        # A traced graph stores the Python call stack instead: "file(line): function", innermost first.
        traced = _TRACED.match(lines[0]) if lines else None
        if traced is None:
            return None
        code = linecache.getline(traced["file"], int(traced["line"])).strip()
        return traced["file"], int(traced["line"]), code, ""
    for above, below in zip(lines, lines[1:]):
        stripped = below.replace("<--- HERE", "").rstrip()
        if "~" in stripped and set(stripped.strip()) == {"~"}:
            columns = [i for i, ch in enumerate(stripped) if ch == "~"]
            end = columns[-1] + 1
            # torch's underline of an expression that ends in a bracket stops one short of it ("d["scale"")
            while end < len(above) and any(above[columns[0]:end].count(a) > above[columns[0]:end].count(b)
                                           and above[end] == b for a, b in ("()", "[]", "{}")):
                end += 1
            marked = above[columns[0]:end]
            return header["file"], int(header["line"]), above.strip(), marked.strip()
    return header["file"], int(header["line"]), "", ""


class NodeSources(list):
    """A list of :class:`NodeSource` that prints as a table: kind, file:line, the marked code, the whole line.

    Code from a notebook cell shows as ``line N of a cell`` (its file is a temporary one with a numbered name).
    """

    def __str__(self):
        if not self:
            return "(no node carries a source range)"
        places = [code_place(s.file, s.line) for s in self]
        width, place, mark = (max(len(t) for t in texts) for texts in ([s.kind for s in self], places,
                                                                       [s.marked for s in self]))
        return "\n".join(f"{s.kind.ljust(width)}  {at.ljust(place)}  {s.marked.ljust(mark)}  ← {s.code}"
                         for s, at in zip(self, places))

    def _repr_pretty_(self, printer, cycle):
        printer.text(str(self))

    def for_kind(self, kind: str) -> "NodeSources":
        """The entries whose node kind is ``kind`` (e.g. ``"aten::sum"``), as a table of their own."""
        return NodeSources(s for s in self if s.kind == kind)


def node_sources(obj, *, inlined: bool = False, nested: bool = True) -> NodeSources:
    """Each node of the graph of ``obj`` that remembers its source: kind, line, the line's code, the marked part.

    ``obj`` is a scripted or traced model or function, or a graph. Scripted nodes mark the exact
    piece of the line; traced nodes only know the line that called the operation (``marked`` is '').
    ``inlined=True`` reads the
    inlined graph (submodule calls replaced by their operations, with their own source lines);
    ``nested=False`` skips the nodes inside ``prim::If`` / ``prim::Loop`` blocks.
    """
    if isinstance(obj, torch._C.Graph):
        if inlined:
            raise TypeError("node_sources(graph, inlined=True) cannot inline a bare graph: pass the model itself")
        graph = obj
    elif isinstance(obj, (torch.jit.ScriptModule, torch.jit.ScriptFunction)):
        graph = obj.inlined_graph if inlined else obj.graph
    elif isinstance(obj, torch.nn.Module):
        raise TypeError("node_sources reads a TorchScript graph: script or trace the model first, "
                        "e.g. node_sources(torch.jit.script(model))")
    else:
        raise TypeError(f"node_sources takes a scripted or traced model or function, or its .graph, "
                        f"got {type(obj).__name__}")
    found = NodeSources()

    def walk(nodes):
        for node in nodes:
            parsed = _parse_range(node.sourceRange())
            if parsed is not None and node.kind() != "prim::Constant":
                found.append(NodeSource(node.kind(), *parsed))
            if nested:
                for block in node.blocks():
                    walk(block.nodes())

    walk(graph.nodes())
    return found
