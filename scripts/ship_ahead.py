"""Build ahead what 10_shipping loads (run by `make aoti`): AOTInductor packages, .pte files, start-up figures.

Each build is cached (build/aoti/, build/executorch/, build/shipping_startup.json) and keyed on its
sources and torch's version, so a second run does nothing but check the keys.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import helpers as H  # noqa: E402
from helpers.routes.ship_builds import build_all  # noqa: E402

if __name__ == "__main__":
    build_all(startup="--no-startup" not in sys.argv, progress=True)
