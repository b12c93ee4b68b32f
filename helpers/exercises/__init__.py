"""Exercise checkers, one module per notebook (ex03_tracing holds 03_tracing's checkers)."""
import importlib as _importlib


def __getattr__(name):
    """``helpers.<part>.<module>`` without an import statement (the package imports modules when first used)."""
    try:
        return _importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
