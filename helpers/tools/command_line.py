"""The course's command lines (``python -m helpers.diagnose`` in 11, ``python -m helpers.migrate`` in 10): a
mistake on the command line exits with 3, apart from every verdict's own code."""
import argparse
import sys

__all__ = ["CommandLineParser", "usage_error", "USAGE_EXIT", "BATCH_DIM_HELP", "parse_batch_dim"]

USAGE_EXIT = 3  # argparse's own 2 is a verdict in both commands (a caveat; a conversion that fails)


class CommandLineParser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line exits with ``USAGE_EXIT``."""

    def error(self, message):
        self.print_usage(sys.stderr)
        usage_error(f"{self.prog}: error: {message}")


def usage_error(message: str):
    """Print ``message`` on stderr and exit with ``USAGE_EXIT``."""
    print(message, file=sys.stderr)
    sys.exit(USAGE_EXIT)


BATCH_DIM_HELP = ('the dimension that holds the batch (default 0): "1" for a sequence-first model, or one per input, '
                  '"none" for an input without one, e.g. "1,none" or "0,1"')


def parse_batch_dim(text, who: str):
    """``--batch-dim``'s text as the tools' ``batch_dim``: 0 when absent, one int, or a tuple with None entries.
    Text that is no such list exits with ``USAGE_EXIT`` and a line that names ``who``."""
    if text is None:
        return 0
    parts = [part.strip().lower() for part in text.split(",")]
    if not all(part == "none" or part.lstrip("-").isdigit() for part in parts):
        usage_error(f'{who}: --batch-dim takes whole numbers or "none", comma-separated, e.g. 1 or "1,none" '
                    f"(got {text!r})")
    values = [None if part == "none" else int(part) for part in parts]
    return values[0] if len(values) == 1 and values[0] is not None else tuple(values)
