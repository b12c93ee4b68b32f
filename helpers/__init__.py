"""The workbook's helper package: every notebook needs only `import helpers as H`.

The folders say what each part is for:
- ``course/``    the machinery every notebook shares (start, seeding, work folders, predictions, quiz);
- ``tools/``     the learner's tools (graph pictures, code view, parity, explorers, benchmark, ...);
- ``routes/``    the export routes (TorchScript archive, C++ runners, torch.export / ONNX bridges);
- ``exercises/`` the exercise checkers, one module per notebook;
- ``models.py`` and ``digits.py`` stay at the top: saved files name their classes by these module paths.

Every public name in a module's ``__all__`` is re-exported here, so ``H.expect_failure`` and
``H.parity`` work without knowing which file holds them; ``H.where(name)`` tells you the file.
"""
import difflib
import importlib
import pkgutil

__all__ = []
_origin = {}

_PARTS = ("course", "tools", "routes", "exercises")


def _modules():
    """Top-level modules first, then each part's modules, each in name order."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_") and not info.ispkg and info.name not in ("diagnose", "migrate"):
            yield info.name
    for part in _PARTS:
        package = importlib.import_module(f"{__name__}.{part}")
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                yield f"{part}.{info.name}"


for _dotted in _modules():
    _module = importlib.import_module(f"{__name__}.{_dotted}")
    for _name in getattr(_module, "__all__", ()):
        if _name in _origin:  # two modules exporting one name would shadow each other silently
            raise ImportError(f"helpers: {_name!r} is exported by both {_origin[_name]} and {_dotted}")
        # a package (tools.graph) re-exports its modules' names: point at the module that defines each
        _defined_in = getattr(getattr(_module, _name), "__module__", "") or ""
        _inner = _defined_in.removeprefix(f"{__name__}.")
        _origin[_name] = _inner if hasattr(_module, "__path__") and _inner.startswith(f"{_dotted}.") else _dotted
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)


def where(name):
    """Which helper file defines ``name`` (so a curious learner can open the source)."""
    if not isinstance(name, str):
        raise TypeError(f"H.where takes a helper's name as a string, e.g. H.where('parity'), not {type(name).__name__}")
    key = name.removeprefix("H.")
    if key in _origin:
        return f"helpers/{_origin[key].replace('.', '/')}.py"
    close = difflib.get_close_matches(key, list(_origin) + ["where"], n=3, cutoff=0.5)
    close += [n for n in _origin if key.lower() in n.lower() and n not in close][:3]
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else " dir(H) lists every helper."
    raise KeyError(f"H.{key} is not a helper.{hint}")
