"""The workbook's helper package: every notebook needs only `import helpers as H`.

Each module here is small and named by what it does; its docstring says which notebook
introduced it. Every public name listed in a module's ``__all__`` is re-exported here,
so ``H.expect_failure`` and ``H.parity`` work without knowing which file holds them.
"""
import importlib
import pkgutil

__all__ = []
_origin = {}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name.startswith("_"):
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in getattr(_module, "__all__", ()):
        if _name in _origin:  # two modules exporting one name would shadow each other silently
            raise ImportError(f"helpers: {_name!r} is exported by both {_origin[_name]} and {_info.name}")
        _origin[_name] = _info.name
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)


def where(name):
    """Which helper module defines ``name`` (so a curious learner can open the source)."""
    return f"helpers/{_origin[name]}.py"
