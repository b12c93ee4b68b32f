"""Command line of the diagnosis (11_your_model): ``python -m helpers.diagnose my_model.py:make_model``.

``make_model`` is a function in the learner's file that returns a model, or a ``(model, example)``
pair. Without a pair, ``--example "randn(1,3,64,64)"`` gives the input (read with a whitelist,
never eval), or the file may define ``EXAMPLE``. The code lives in ``helpers/tools/diagnose.py``.

Exit status, for a CI gate: 0 when every route tried is a plain ✔; 2 when every route converts and agrees but some
with a caveat (⚠: it refuses sizes eager takes, agreed on near-zero or empty outputs, the model is in training
mode ...); 1 when a route fails or diverges; 3 for a mistake on the command line (no such file or function, an
example that does not parse, an unknown route, a file that fails on import); 4 when the model itself fails before
any route runs (``make_model()`` raises, or the eager model fails, hangs or crashes on the example), so that a gate
can tell a mistake in the call, and a model broken in eager PyTorch, from a model that does not convert.
"""
import importlib.util
import re
import sys
import warnings
from pathlib import Path

from .tools.command_line import BATCH_DIM_HELP, CommandLineParser, parse_batch_dim, usage_error


def _load(spec_text):
    if ":" not in spec_text:
        usage_error(f"diagnose: write FILE.py:FUNCTION, e.g. my_model.py:make_model (got {spec_text!r})")
    file_part, func_name = spec_text.rsplit(":", 1)
    path = Path(file_part)
    if not path.is_file():
        usage_error(f"diagnose: no file {file_part!r}")
    sys.path.insert(0, str(path.resolve().parent))  # so the file can import its neighbours
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        usage_error(f"diagnose: {path.name} is not a Python file: write FILE.py:FUNCTION")
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module  # TorchScript reads classes' source through their module
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # sys.exit or argparse at import: a mistake in the call, not a verdict
        usage_error(f"diagnose: {path.name} fails on import: {type(error).__name__}: {error}")
    factory = getattr(module, func_name, None)
    if not callable(factory):
        usage_error(f"diagnose: {path.name} has no function {func_name!r}")
    return module, factory


def main(argv=None):
    parser = CommandLineParser(prog="python -m helpers.diagnose",
                                     description="Does my model trace, script, export and run in ONNX, "
                                                 "and do the copies compute what eager computes?",
                                     epilog="Exit status: 0 every route ✔; 2 every route agrees, some with a caveat "
                                            "(⚠); 1 a route fails or diverges; 3 a mistake on the command line; 4 the "
                                            "model fails in eager PyTorch, before any route runs.")
    parser.add_argument("target", help="FILE.py:FUNCTION returning a model or a (model, example) pair")
    parser.add_argument("--example", help='the input, e.g. "randn(1,3,64,64)" or "(randn(2,4), arange(2))"')
    parser.add_argument("--routes", help="comma-separated, from trace,script,export,onnx,aoti (default: all but aoti)")
    parser.add_argument("--time-limit", type=float, help="seconds per route")
    parser.add_argument("--batch-dim", help=BATCH_DIM_HELP)
    args = parser.parse_args(argv)
    batch_dim = parse_batch_dim(args.batch_dim, "diagnose")

    import torch  # noqa: F401 - imported after argument errors, which should be instant
    from .course.deprecations import hide_deprecation_warnings
    from .tools.diagnose import diagnose
    from .tools.example_parser import ExampleSyntaxError, parse_example

    hide_deprecation_warnings()
    warnings.filterwarnings("ignore", category=UserWarning)
    module, factory = _load(args.target)
    func_name = args.target.rsplit(":", 1)[1]
    try:
        made = factory()
    except (Exception, SystemExit) as error:  # the learner's model code, not the command line
        _model_error(f"diagnose: {func_name}() fails: {type(error).__name__}: {error}")
    if made is None:
        usage_error(f"diagnose: {func_name}() returned None: end it with `return model` (or `return model, example`)")
    if isinstance(made, type):
        usage_error(f"diagnose: {func_name}() returned the class {made.__name__}: return an instance, {made.__name__}()")
    if isinstance(made, tuple) and len(made) == 2 and isinstance(made[1], torch.nn.Module) \
            and not isinstance(made[0], torch.nn.Module):
        usage_error(f"diagnose: {func_name}() returned (example, model): return them the other way round, "
                    "(model, example)")
    if isinstance(made, (tuple, list)) and not (isinstance(made, tuple) and len(made) == 2
                                                and isinstance(made[0], torch.nn.Module)):
        usage_error(f"diagnose: {func_name}() returned a {type(made).__name__} of {len(made)}: return the model, or "
                    "the tuple (model, example)")
    model, example = made if isinstance(made, tuple) else (made, None)
    if args.example:
        try:
            example = parse_example(args.example)
        except ExampleSyntaxError as error:
            usage_error(f"diagnose: --example: {error}")
    if example is None:
        example = getattr(module, "EXAMPLE", None)
    if example is None:
        usage_error('diagnose: give an input: --example "randn(1,3,64,64)", or return (model, example)')
    try:
        report = diagnose(model, example, routes=args.routes, time_limit=args.time_limit, batch_dim=batch_dim,
                          progress=sys.stderr.isatty())  # no bar in a pipe or a log: its redraws are noise there
    except (TypeError, ValueError, TimeoutError, RuntimeError) as error:
        # the helper's messages name it already ("diagnose expects ..."): one prefix is enough
        said = f"diagnose: {re.sub(r'^diagnose:? ', '', str(error))}"
        if "the eager model" in said and not isinstance(error, TypeError):  # fails, hangs or crashes in eager PyTorch
            _model_error(said)
        usage_error(said)
    print(report)
    results = report.results.values()
    if not all(r.status == "ok" for r in results):
        return 1
    return 0 if all(r.mark == "✔" for r in results) else 2  # converts and agrees, with a caveat: not a plain pass


MODEL_EXIT = 4  # the model fails in eager PyTorch before any route runs: neither a usage mistake nor a verdict


def _model_error(message: str):
    """Print ``message`` on stderr and exit with ``MODEL_EXIT``."""
    print(message, file=sys.stderr)
    sys.exit(MODEL_EXIT)


class _CallableModule(type(sys)):
    """Importing ``helpers.diagnose`` makes Python set ``helpers.diagnose`` to this module, hiding the function
    ``H.diagnose``; calling the module calls the function, so ``H.diagnose(model, x)`` works either way."""

    def __call__(self, *args, **kwargs):
        from .tools.diagnose import diagnose
        return diagnose(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

if __name__ == "__main__":
    sys.exit(main())
