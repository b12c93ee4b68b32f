"""The course's command lines (``python -m helpers.diagnose`` in 11, ``python -m helpers.migrate`` in 10): a
mistake on the command line exits with 3, apart from every verdict's own code."""
import argparse
import sys

__all__ = ["CommandLineParser", "usage_error", "USAGE_EXIT"]

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
