"""Migrate a TorchScript .pt file to torch.export from the shell (the command-line face of H.migrate, 10_shipping).

    python -m helpers.migrate model.pt --example "randn(4, 3, 64, 64)"
    python -m helpers.migrate model.pt --example "randn(2, 8), zeros(2, dtype=int64)" --output model.pt2
    python -m helpers.migrate model.pt --example inputs.pt      # a file written by torch.save(tuple_of_inputs)
    python -m helpers.migrate detector.pt --example "[rand(3, 160, 160)]" --import torchvision   # its operators

The example is parsed, never evaluated: calls of randn, rand, zeros, ones, full, arange and randint with
number arguments and the dtype keyword, numbers, and tuples, lists and dicts of these are accepted. Exit code 0: converted and
matching; 1: converted but different (the .pt2 is then not written, unless --save-anyway), refusing input shapes the .pt takes, or matching where the notes say a
match proves little (outputs within atol of zero, training mode, lost state); 2: the conversion fails; 3: a
mistake on the command line.
"""
import importlib
import sys
from pathlib import Path

from helpers.tools.command_line import BATCH_DIM_HELP, CommandLineParser as _Parser, parse_batch_dim
from helpers.tools.example_parser import ExampleSyntaxError, parse_example

# The example is read by the same whitelist parser as the diagnosis's command line (tensors, numbers, lists,
# dicts), never evaluated.
ExampleError = ExampleSyntaxError


def _load_example(value: str):
    import torch
    path = Path(value)
    if path.suffix in (".pt", ".pth") and path.is_file():
        loaded = torch.load(path, weights_only=True)  # weights_only: a data file must not run code
        if isinstance(loaded, list):
            loaded = tuple(loaded)
        return loaded
    return parse_example(value)


def main(argv=None) -> int:
    parser = _Parser(
        prog="python -m helpers.migrate",
        description="Convert a TorchScript .pt file to a torch.export .pt2 and check it matches "
                    "(uses torch's private converter torch._export.converter.TS2EPConverter).")
    parser.add_argument("model", help="the TorchScript file (.pt); its Python class is not needed")
    parser.add_argument("--example", required=True,
                        help='an input, e.g. "randn(4, 3, 64, 64)", or a .pt file saved with torch.save(inputs)')
    parser.add_argument("--output", help="where to write the .pt2 (default: beside the model, same name)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--no-save", action="store_true", help="check only; write nothing")
    parser.add_argument("--save-anyway", action="store_true",
                        help="write the .pt2 even when it computes other numbers than the model (to inspect it)")
    parser.add_argument("--batch-dim", help=BATCH_DIM_HELP)
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first, for a file that calls its operators (e.g. --import torchvision); "
                             "may be given more than once")
    options = parser.parse_args(argv)
    batch_dim = parse_batch_dim(options.batch_dim, "migrate")
    for module in options.imports:  # registers the library's operators (torchvision::nms ...) before the load
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 - a missing or broken module is the user's to fix: one line
            print(f"error: --import {module}: {type(error).__name__}: {error}", file=sys.stderr)
            return 3

    try:
        example = _load_example(options.example)
    except ExampleError as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    model = Path(options.model)
    output = Path(options.output) if options.output else model.with_suffix(".pt2")
    if not options.no_save and (output.suffix != ".pt2" or output.is_dir()):  # said now, not after the conversion
        print(f"error: --output {output} is {'a folder' if output.is_dir() else 'not a .pt2 file'}: name the file "
              "to write, e.g. --output model.pt2", file=sys.stderr)
        return 3
    if not options.no_save and not output.parent.is_dir():
        print(f"error: --output {output}: the folder {output.parent} does not exist", file=sys.stderr)
        return 3
    if not options.no_save and output.exists() and not options.overwrite:
        print(f"error: {output} exists; pass --overwrite to replace it or --output to choose another name",
              file=sys.stderr)
        return 3

    from tqdm import tqdm
    from helpers.routes.migrate import CONVERTER_IS_PRIVATE, migrate

    steps = ["loading", "converting", "checking"] + ([] if options.no_save else ["saving"])
    # no bar where stderr is a file or a pipe: its redraws would fill the log with carriage returns
    with tqdm(total=len(steps), desc="migrate", bar_format="{desc}: {bar} {n}/{total} {postfix}", file=sys.stderr,
              disable=not sys.stderr.isatty()) as bar:
        def step(name):
            if bar.n or name != "loading":
                bar.update(1)
            bar.set_postfix_str(name)
        try:
            report = migrate(model, example, progress=step, batch_dim=batch_dim)
        except (ValueError, TypeError, FileNotFoundError) as error:
            bar.close()
            print(f"error: {error}", file=sys.stderr)
            return 3
        # a program that computes other numbers is no migration: a script that only looks for the file must not find one
        save = report.program is not None and not options.no_save and (report.status != "diverges" or options.save_anyway)
        if save:
            step("saving")
            report.save(output)
        bar.update(bar.total - bar.n)

    print(str(report))
    if save:
        print(f"  saved {output} (load it with torch.export.load)")
    elif report.status == "diverges" and not options.no_save:
        print(f"  not saved: the program computes other numbers than {model.name}; pass --save-anyway to write it "
              "for a closer look")
    print(f"  note: {CONVERTER_IS_PRIVATE}")
    if report.status == "ok" and not report.summary.startswith("✔"):
        return 1  # it matched, but the notes say what that proves little about (or the state it lost)
    return {"ok": 0, "restricted": 1, "diverges": 1, "fails": 2}[report.status]


class _CallableModule(type(sys)):
    """Importing ``helpers.migrate`` binds this module to the name ``helpers.migrate``, over the function
    ``H.migrate``; calling the module calls the function, so ``H.migrate(...)`` works either way."""

    def __call__(self, *args, **kwargs):
        from helpers.routes.migrate import migrate
        return migrate(*args, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
else:
    sys.modules[__name__].__class__ = _CallableModule
