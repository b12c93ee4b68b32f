"""Make `import helpers` work in .venv from any folder, by adding the repo root to its path.

A one-line .pth file in site-packages does what `pip install -e .` would, without a build step,
so it also works offline. Run by `make venv`; on Windows run `.venv\\Scripts\\python scripts\\link_helpers.py`.
"""
import site
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
target = Path(site.getsitepackages()[0]) / "torchscript_workbook.pth"
target.write_text(str(ROOT) + "\n")
print(f"linked {ROOT} into {target}")
