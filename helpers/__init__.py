"""The workbook's helper package: every notebook needs only `import helpers as H`.

The folders say what each part is for:
- ``course/``    the machinery every notebook shares (start, seeding, work folders, predictions, quiz);
- ``tools/``     the learner's tools (graph pictures, code view, parity, explorers, benchmark, ...);
- ``routes/``    the export routes (TorchScript archive, C++ runners, torch.export / ONNX bridges);
- ``exercises/`` the exercise checkers, one module per notebook;
- ``models.py`` and ``digits.py`` stay at the top: saved files name their classes by these module paths.

Every public name in a module's ``__all__`` is re-exported here, so ``H.expect_failure`` and
``H.parity`` work without knowing which file holds them; ``H.where(name)`` tells you the file.
A module is imported the first time one of its names is used, so ``import helpers`` costs almost nothing.
"""
import ast
import difflib
import functools
import importlib
import re
from pathlib import Path

__all__ = []
_origin = {}

_PARTS = ("course", "tools", "routes", "exercises")
_ROOT = Path(__file__).resolve().parent
_COMMAND_LINES = ("diagnose", "migrate")  # `python -m helpers.<name>` entry points: no names of their own


def _module_files():
    """Top-level modules first, then each part's modules, each in name order, as (dotted name, path)."""
    for path in sorted(_ROOT.glob("*.py")):
        if not path.stem.startswith("_") and path.stem not in _COMMAND_LINES:
            yield path.stem, path
    for part in _PARTS:
        for path in sorted((_ROOT / part).glob("*.py")):
            if not path.stem.startswith("_"):
                yield f"{part}.{path.stem}", path
        for package in sorted(p.parent for p in (_ROOT / part).glob("*/__init__.py")):
            yield f"{part}.{package.name}", package / "__init__.py"  # a small package, e.g. tools/graph/


# The first top-level ``__all__ = ...``, and a literal list or tuple after it: read without parsing the whole module,
# which for the fifty-odd helper modules took 0.29 s of every notebook's start (a small package's submodules, such
# as tools/graph/'s, are still parsed to find where a name is defined).
_ALL_STARTS = re.compile(r"^__all__\s*=\s*", re.MULTILINE)
_LITERAL = re.compile(r"(\[[^\]]*\]|\([^)]*\))\s*$", re.MULTILINE)


def _declared_names(path):
    """A module's ``__all__``, read from its source: importing every module up front would cost
    every notebook the import of onnx, ipywidgets, torch.export and the rest before its first line."""
    text = path.read_text(encoding="utf-8")
    start = _ALL_STARTS.search(text)
    literal = _LITERAL.match(text, start.end()) if start else None
    if literal:
        try:
            names = ast.literal_eval(literal.group(1))
        except (ValueError, SyntaxError):
            names = None
        if isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names):
            return list(names)
    return _parsed_names(text)  # anything else (no __all__ there, or one built by code): the whole parse


def _parsed_names(text):
    """``__all__`` from the parsed module: for one the pattern above does not read."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return []


def _defining_module(package_init, name):
    """In a package that re-exports its modules' names, the module whose top level defines ``name``."""
    for path in sorted(package_init.parent.glob("*.py")):
        if not path.stem.startswith("_") and name in _top_level_names(path):
            return path.stem
    return None


@functools.cache
def _top_level_names(path):
    """The names a module's top level defines (functions, classes, assignments): each file parsed once."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names.update([node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else
                     [t.id for t in getattr(node, "targets", []) if isinstance(t, ast.Name)])
    return names


for _dotted, _path in _module_files():
    for _name in _declared_names(_path):
        if _name in _origin:  # two modules exporting one name would shadow each other silently
            raise ImportError(f"helpers: {_name!r} is exported by both {_origin[_name]} and {_dotted}")
        _inner = _defining_module(_path, _name) if _path.name == "__init__.py" else None
        _origin[_name] = f"{_dotted}.{_inner}" if _inner else _dotted  # where() names the file that defines it
        __all__.append(_name)


def __getattr__(name):
    """``H.parity`` imports ``helpers/tools/parity.py`` the first time it is used."""
    dotted = _origin.get(name)
    if dotted is None and ((_ROOT / f"{name}.py").is_file() or (_ROOT / name / "__init__.py").is_file()):
        return importlib.import_module(f"{__name__}.{name}")  # H.models, H.tools: the module itself
    if dotted is None:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}" + _suggestion(name))
    value = getattr(importlib.import_module(f"{__name__}.{dotted}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _suggestion(key):
    close = difflib.get_close_matches(key, list(_origin) + ["where"], n=3, cutoff=0.5)
    close += [n for n in _origin if key.lower() in n.lower() and n not in close][:3]
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else " dir(H) lists every helper."


def where(name):
    """Which helper file defines ``name`` (so a curious learner can open the source)."""
    if not isinstance(name, str):
        raise TypeError(f"H.where takes a helper's name as a string, e.g. H.where('parity'), not {type(name).__name__}")
    key = name.removeprefix("H.")
    if key in _origin:
        return f"helpers/{_origin[key].replace('.', '/')}.py"
    raise KeyError(f"H.{key} is not a helper.{_suggestion(key)}")
